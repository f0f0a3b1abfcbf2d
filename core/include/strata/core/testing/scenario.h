// Scenario<A>: given / when / then tests of an aggregate, without a store.
//
//   auto outcome = strata::Scenario<Account>()
//                      .given(Opened{"Alice"}, Deposited{1000})
//                      .when([](Account& a) { return a.withdraw(300); })
//                      .then(Withdrawn{300});
//   CHECK(outcome);                        // prints what differed when it fails
//
// given() folds history into a fresh aggregate as if loaded; when() runs one command (a callable taking
// A& and returning Status, or void); then() passes when the command succeeded and recorded exactly the
// expected events, in order; then_rejected() when it failed with kRejected (optionally with a message
// containing a text) and recorded nothing; then_error() for another code.
//
// Thread safety: a Scenario belongs to one thread.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

// The verdict of a scenario: converts to bool and prints the difference.
struct ScenarioOutcome {
  bool passed = false;
  std::string description;  // "ok", or what was expected and what happened
  explicit operator bool() const noexcept { return passed; }
};
std::ostream& operator<<(std::ostream& os, const ScenarioOutcome& outcome);

namespace detail {
// Compiled: the verdict from rendered events ("type json" lines) and the command's status.
ScenarioOutcome judge_events(const Status& status, const std::vector<std::string>& expected,
                             const std::vector<std::string>& actual);
ScenarioOutcome judge_error(const Status& status, StatusCode expected_code, std::string_view message_part,
                            const std::vector<std::string>& actual);

template <class Variant>
std::string render_event(const Variant& event) {
  return std::visit(
      [](const auto& e) {
        std::string s(std::remove_cvref_t<decltype(e)>::kType);
        s += ' ';
        encode_json(e, s);
        return s;
      },
      event);
}
}  // namespace detail

template <class A>
class Scenario {
  static_assert(detail::IsAggregate<A>,
                "strata: Scenario<A> needs A to derive from strata::Aggregate<A, strata::Events<...>>");

 public:
  explicit Scenario(std::string_view stream = "scenario-1") {
    auto id = StreamId::parse(stream);
    detail::AggregateAccess::set_id(aggregate_, std::move(id).value());
  }

  // Folds `events` into the aggregate as stored history.
  template <class... E>
  Scenario& given(E&&... events) & {
    static_assert((detail::InList<std::remove_cvref_t<E>, typename A::EventList>::value && ...),
                  "strata: given() was passed an event type that is not in the aggregate's Events<...> list");
    (detail::AggregateAccess::apply_historic(aggregate_, typename A::Event(std::forward<E>(events))), ...);
    return *this;
  }
  template <class... E>
  Scenario&& given(E&&... events) && {
    return std::move(given(std::forward<E>(events)...));
  }

  // Runs the command.
  template <class F>
  Scenario& when(F&& command) & {
    if constexpr (std::is_void_v<std::invoke_result_t<F, A&>>) {
      std::forward<F>(command)(aggregate_);
      status_ = Status();
    } else {
      status_ = std::forward<F>(command)(aggregate_);
    }
    return *this;
  }
  template <class F>
  Scenario&& when(F&& command) && {
    return std::move(when(std::forward<F>(command)));
  }

  // Passes when the command succeeded and recorded exactly `expected`, in order.
  template <class... E>
  ScenarioOutcome then(const E&... expected) const {
    static_assert((detail::InList<E, typename A::EventList>::value && ...),
                  "strata: then() was passed an event type that is not in the aggregate's Events<...> list");
    std::vector<std::string> want;
    (want.push_back(detail::render_event(typename A::Event(expected))), ...);
    return detail::judge_events(status_, want, recorded());
  }
  // Passes when the command failed with kRejected, its message contains `message_part`, and nothing was
  // recorded.
  ScenarioOutcome then_rejected(std::string_view message_part = {}) const {
    return detail::judge_error(status_, StatusCode::kRejected, message_part, recorded());
  }
  ScenarioOutcome then_error(StatusCode code, std::string_view message_part = {}) const {
    return detail::judge_error(status_, code, message_part, recorded());
  }

  // The aggregate after given() and when().
  const A& state() const noexcept { return aggregate_; }
  const Status& status() const noexcept { return status_; }

 private:
  std::vector<std::string> recorded() const {
    std::vector<std::string> out;
    for (const auto& p : aggregate_.pending_events()) out.push_back(detail::render_event(p.event));
    return out;
  }

  A aggregate_;
  Status status_;
};

}  // namespace strata
