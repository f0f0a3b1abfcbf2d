// FunctionRef<R(Args...)>: a non-owning reference to a callable, for callbacks that run during a call
// (visitors over a stream or the log). Unlike std::function it never allocates; the referenced callable
// must outlive the FunctionRef, which is why it is only taken as a function parameter.
//
//   store.visit_stream(id, 1, strata::kEndOfStream, [&](const strata::EventView& e) { ...; return strata::Status(); });
//
// Thread safety: as the referenced callable.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace strata {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
      FunctionRef(F&& f)
  noexcept  // NOLINT(google-explicit-constructor)
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return std::invoke(*static_cast<std::remove_reference_t<F>*>(object), std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace strata
