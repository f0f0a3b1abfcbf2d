// Projection<Derived, Events<E...>, Upcasters<U...>>: the base of a projection, the read side of CQRS.
//
// A projection declares the events it handles and has one handle() overload for each. The Projector
// (projector.h) reads the log, decodes each event of a listed (or upcast) type once into a reused value,
// and calls handle(event, context, tx): `context` says where the event sits in the log, `tx` is the
// batch the handler writes its read models through. Events of other types are skipped before their
// payload is parsed. A handler returns Status (or void); an error, or an exception it throws, is handled
// by the projector's error policy (retried, then parked or stopping the projector).
//
// An evolved event needs its upcasters listed here too, as on its aggregate: a stored record whose type
// differs from a handled one only in its ".v<N>" schema-version suffix ("bank.deposited.v1" where the
// projection handles "bank.deposited.v2"), and that is neither upcast nor Retired<...>, is not skipped
// but fails with kUnknownEventType, which the projector parks (or stops on) at once: skipping it would
// leave the read models silently wrong.
//
//   class Balances : public strata::Projection<Balances, strata::Events<Opened, Deposited>> {
//    public:
//     static constexpr std::string_view kName = "bank.balances";     // persisted: the checkpoint's name
//     static constexpr strata::ReadModel<Balance> kAccounts{"accounts"};
//     strata::Status handle(const Deposited& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
//       STRATA_ASSIGN_OR_RETURN(std::optional<Balance> row, kAccounts.get(tx, ctx.stream_id()));
//       ...
//       return kAccounts.put(tx, ctx.stream_id(), *row);
//     }
//   };
//
// Handlers keep their state in read models only: a projection object holds configuration, never data,
// because only read models are committed with the checkpoint (and a rebuild runs the same object over
// the whole log again). Handlers do no I/O outside the tx and must not append to the event store they
// read (the store may hold a read lock while they run).
//
// Thread safety: the projector calls a projection's handlers from one thread at a time; with partitions
// (ProjectorOptions::partitions) each partition has its own copy of the projection.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "strata/core/event.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/function_ref.h"
#include "strata/core/limits.h"
#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/core/upcaster.h"
#include "strata/projections/read_model.h"

namespace strata {

// Where the event being handled sits in the log. Metadata stays encoded until metadata() is called.
// Valid only during the handler call that received it.
class EventContext {
 public:
  explicit EventContext(const EventView& event) noexcept : event_(&event) {}

  std::string_view stream_id() const noexcept { return event_->stream_id; }
  Version version() const noexcept { return event_->version; }
  Position position() const noexcept { return event_->position; }
  Timestamp timestamp() const noexcept { return event_->timestamp; }
  const EventId& event_id() const noexcept { return event_->id; }
  // The stored type name (an upcast event carries the type of the record it came from).
  std::string_view type() const noexcept { return event_->type; }

  // The event's metadata, decoded on the first call. kCorruption if its encoding is damaged.
  [[nodiscard]] Result<std::reference_wrapper<const Metadata>> metadata() const;

 private:
  const EventView* event_;
  mutable std::optional<Metadata> metadata_;
};

// A projection as the Projector runs it, without its types: made from a Projection by
// make_projection_handler(), or from an EventSink by make_sink_handler() (event_sink.h). Implement it
// directly only for projections that need no typed events.
class ProjectionHandler {
 public:
  virtual ~ProjectionHandler();

  // The projection's persisted name (1..kMaxProjectionNameBytes bytes): its state and read models are
  // stored under it.
  virtual std::string_view name() const noexcept = 0;
  // Whether records of `type` mean anything to this projection; the others are skipped unread. A typed
  // projection also answers true for another schema version of a type it handles (see above), so that
  // apply() can refuse it loudly.
  virtual bool knows(std::string_view type) const noexcept = 0;
  // Applies one record through `tx`. Errors (and exceptions) go to the projector's error policy; a
  // kUnknownEventType is not retried (see ErrorPolicy in projector.h).
  [[nodiscard]] virtual Status apply(const EventView& event, ReadModelTx& tx, const Limits& limits) = 0;
  // Called after a batch's events were applied, before its checkpoint commits. A sink returns OK once
  // everything delivered so far is durable on its side; on an error the projector applies the batch
  // again after a backoff. OK by default.
  [[nodiscard]] virtual Status flush() { return {}; }
  // Whether the handler keeps read models in the ProjectionStorage (false for sinks: nothing to rebuild).
  virtual bool has_read_models() const noexcept { return true; }
  // A handler of its own for another partition (ProjectorOptions::partitions), applying events at the
  // same time as this one; nullptr (the default) when the handler cannot run in partitions. A typed
  // projection is copied (it holds configuration only); sinks cannot.
  virtual std::unique_ptr<ProjectionHandler> clone() const { return nullptr; }

 protected:
  ProjectionHandler() = default;
};

namespace detail {
// Runs `fn`, turning an exception it throws into kInternal with the exception's text and `what`. The one
// place where exceptions thrown by user code (handlers, upcasters, sinks) become statuses: they never
// escape into the executor.
Status guarded_call(FunctionRef<Status()> fn, std::string_view what) noexcept;

// Compiled: the context added to a handler's error.
Status in_handler(const Status& status, const EventView& event);

// A persisted type name without its ".v<N>" schema-version suffix, or the whole name when it has none
// (such a name is version 1, as schema_version_of_name reads it): "bank.deposited.v2" -> "bank.deposited".
// It reads the name from its end, over the suffix's few digits only: the projector asks it of every
// record the projection does not know.
constexpr std::string_view unversioned_type(std::string_view type) noexcept {
  std::size_t i = type.size();
  while (i > 0 && type[i - 1] >= '0' && type[i - 1] <= '9') --i;
  if (i == type.size() || i < 2 || type[i - 1] != 'v' || type[i - 2] != '.') return type;
  return type.substr(0, i - 2);
}

// The types of an Events<...> list, and their names without the version suffix.
template <class EventList>
struct HandledTypes;
template <class... Es>
struct HandledTypes<Events<Es...>> {
  static constexpr std::array<std::string_view, sizeof...(Es)> kTypes{Es::kType...};
  static constexpr std::array<std::string_view, sizeof...(Es)> kUnversioned{unversioned_type(Es::kType)...};
};

// The type among `handled` that `type` is another schema version of, or an empty view. It costs a look at
// the end of `type` and a length check per handled type, a few dozen instructions for a skipped record
// (no more than hashing its name for a cache lookup would), so no answers are cached.
template <std::size_t N>
constexpr std::string_view other_version_of(std::string_view type, const std::array<std::string_view, N>& handled,
                                            const std::array<std::string_view, N>& unversioned) noexcept {
  const std::string_view name = unversioned_type(type);
  for (std::size_t i = 0; i < N; ++i)
    if (unversioned[i] == name && handled[i] != type) return handled[i];
  return {};
}

// Compiled: the kUnknownEventType of a record of type `stored`, another version of `handled`, that the
// projection `projection` can neither upcast nor has retired.
Status missing_upcaster(std::string_view projection, std::string_view stored, std::string_view handled);

struct ProjectionBase {};
}  // namespace detail

template <class Derived, class EventList, class UpcasterList = Upcasters<>>
class Projection {
  static_assert(detail::kAlwaysFalse<EventList>,
                "strata: the second argument of Projection must be strata::Events<E1, E2, ...> (and the third, if "
                "any, strata::Upcasters<...>)");
};

template <class Derived, class... Es, class... Us>
class Projection<Derived, Events<Es...>, Upcasters<Us...>> : public detail::ProjectionBase {
  static_assert(sizeof...(Es) > 0, "strata: a projection must handle at least one event type");

 public:
  using EventList = Events<Es...>;
  using UpcasterList = Upcasters<Us...>;
  // Decodes stored records (and upcasts older ones) into the events above.
  using Dispatcher = detail::EventDispatcher<EventList, UpcasterList>;
  static_assert(sizeof(Dispatcher) > 0);  // instantiates the dispatcher's checks of the lists
};

namespace detail {
template <class P>
concept IsProjection = std::derived_from<P, ProjectionBase> && requires {
  typename P::EventList;
  typename P::Dispatcher;
};

template <class P, class E>
constexpr bool check_handler() {
  constexpr bool kHasHandle = requires(P & p, const E& e, const EventContext& ctx, ReadModelTx& tx) {
    p.handle(e, ctx, tx);
  };
  static_assert(kHasHandle,
                "strata: the projection has no handle(const E&, const strata::EventContext&, strata::ReadModelTx&) "
                "for an event in its Events<...> list; add one (returning strata::Status or void)");
  if constexpr (kHasHandle) {
    using R = decltype(std::declval<P&>().handle(std::declval<const E&>(), std::declval<const EventContext&>(),
                                                 std::declval<ReadModelTx&>()));
    static_assert(std::is_void_v<R> || std::is_same_v<R, Status>,
                  "strata: a projection's handle() must return strata::Status or void");
  }
  return true;
}

template <class P>
class TypedProjectionHandler;

template <class P, class... Es>
struct HandlerChecks;
template <class P, class... Es>
struct HandlerChecks<P, Events<Es...>> {
  static constexpr bool kOk = (check_handler<P, Es>() && ...);
};

template <class P>
class TypedProjectionHandler final : public ProjectionHandler {
  static_assert(HandlerChecks<P, typename P::EventList>::kOk);

 public:
  TypedProjectionHandler(P projection, std::string name) : projection_(std::move(projection)), name_(std::move(name)) {}

  std::string_view name() const noexcept override { return name_; }
  // Listed, upcast or retired types; and other versions of handled types, which apply() refuses.
  bool knows(std::string_view type) const noexcept override {
    return P::Dispatcher::knows(type) || !other_version(type).empty();
  }

  Status apply(const EventView& event, ReadModelTx& tx, const Limits& limits) override {
    const EventContext context(event);
    Status handled;
    bool known = false;
    Status decoded = dispatcher_.dispatch(
        event, limits,
        [&](const auto& e) {
          if (!handled.ok()) return;  // a one-to-many upcaster: stop at the first failure
          handled = guarded_call([&]() -> Status { return call(e, context, tx); }, "projection handler");
        },
        known);
    if (!decoded.ok()) return decoded;
    if (!known) {
      // Nothing was decoded: either a type the projection ignores, or an old version it cannot read.
      const std::string_view current = other_version(event.type);
      return current.empty() ? Status() : in_handler(missing_upcaster(name_, event.type, current), event);
    }
    return handled.ok() ? handled : in_handler(handled, event);
  }

  std::unique_ptr<ProjectionHandler> clone() const override {
    if constexpr (std::is_copy_constructible_v<P>) {
      return std::make_unique<TypedProjectionHandler>(projection_, name_);
    } else {
      return nullptr;
    }
  }

  P& projection() noexcept { return projection_; }

 private:
  static constexpr std::string_view other_version(std::string_view type) noexcept {
    using Handled = HandledTypes<typename P::EventList>;
    return other_version_of(type, Handled::kTypes, Handled::kUnversioned);
  }

  template <class E>
  Status call(const E& e, const EventContext& context, ReadModelTx& tx) {
    if constexpr (std::is_void_v<decltype(projection_.handle(e, context, tx))>) {
      projection_.handle(e, context, tx);
      return {};
    } else {
      return projection_.handle(e, context, tx);
    }
  }

  P projection_;
  std::string name_;
  typename P::Dispatcher dispatcher_;
};

}  // namespace detail

// `projection` as the Projector runs it, under `name`, or its `static constexpr std::string_view kName`
// when `name` is empty. A projector refuses to start under an empty name (kInvalidArgument).
template <class P>
std::unique_ptr<ProjectionHandler> make_projection_handler(P projection, std::string name = {}) {
  static_assert(
      detail::IsProjection<P>,
      "strata: make_projection_handler needs a class derived from strata::Projection<P, strata::Events<...>>");
  if constexpr (requires { std::string_view(P::kName); }) {
    if (name.empty()) name = std::string(P::kName);
  }
  return std::make_unique<detail::TypedProjectionHandler<P>>(std::move(projection), std::move(name));
}

}  // namespace strata
