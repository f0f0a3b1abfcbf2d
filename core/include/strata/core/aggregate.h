// Aggregate<Derived, Events<E...>>: the base of an event-sourced aggregate.
//
// Commands validate and then record() events; apply() overloads fold events into state and are the only
// place state changes. Commands may fail (they return Status); folds may not (apply returns void, holds no
// business rule, does no I/O and reads no clock), so replaying history never fails on a rule.
//
//   class Account : public strata::Aggregate<Account, strata::Events<Opened, Deposited, Withdrawn>> {
//    public:
//     strata::Status withdraw(std::int64_t cents) {
//       if (cents > balance_) return strata::Status::rejected("insufficient funds");
//       record(Withdrawn{cents});
//       return {};
//     }
//    private:
//     friend Aggregate;
//     void apply(const Withdrawn& e) { balance_ -= e.cents; }
//     ...
//   };
//
// A missing apply() for a listed event, recording an event that is not listed, or listing two events
// with the same kType, fails to compile with a sentence saying so. Repository<A> loads and saves
// aggregates; Scenario<A> tests them without a store.
//
// Thread safety: an aggregate is a value owned by one thread at a time.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/event_id.h"
#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

namespace detail {
template <class E, class List>
struct InList : std::false_type {};
template <class E, class... Es>
struct InList<E, Events<Es...>> : std::bool_constant<kContains<E, Es...>> {};

struct AggregateAccess;

// What Aggregate::kFields is: the stand-in for an aggregate that declares no field table of its own.
struct NoFieldTable {};

// Whether T::kFields can be seen from outside T. An aggregate's own kFields hides the base's public
// stand-in; when its own is private or protected, this is false.
template <class T>
concept FieldTableVisible = requires {
  T::kFields;
};

// Compiled: the error for a stored event whose type the aggregate does not know.
Status unknown_event_type(std::string_view stream, Version version, Position position, std::string_view type);
}  // namespace detail

template <class Derived, class EventList, class UpcasterList = Upcasters<>>
class Aggregate {
  static_assert(detail::kAlwaysFalse<EventList>,
                "strata: the second argument of Aggregate must be strata::Events<E1, E2, ...> (and the third, if "
                "any, strata::Upcasters<...>)");
};

template <class Derived, class... Es, class... Us>
class Aggregate<Derived, Events<Es...>, Upcasters<Us...>> {
  static_assert(sizeof...(Es) > 0, "strata: an aggregate must handle at least one event type");

 public:
  using EventList = Events<Es...>;
  using UpcasterList = Upcasters<Us...>;
  // Decodes stored records (and upcasts older ones) into the events above.
  using Dispatcher = detail::EventDispatcher<EventList, UpcasterList>;
  static_assert(sizeof(Dispatcher) > 0);  // instantiates the dispatcher's checks of the lists
  using Event = std::variant<Es...>;
  // An event recorded by a command and not yet saved, with the id it will be stored under (assigned when
  // recorded, so that retrying a save is idempotent).
  struct PendingEvent {
    EventId id;
    Event event;
  };

  // The stream this aggregate lives in; REQUIRES: has_id().
  const StreamId& id() const { return *id_; }
  bool has_id() const noexcept { return id_.has_value(); }
  // The version of the last stored event folded into this state (0 for a new aggregate).
  Version version() const noexcept { return version_; }
  // Events recorded since the last load or save, in order.
  const std::vector<PendingEvent>& pending_events() const noexcept { return pending_; }

  // Stands in for the aggregate's own field table when it has none (no snapshots). An aggregate's
  // `static constexpr auto kFields = strata::fields(...)` hides it; declared private, it would also hide
  // it from strata and snapshots would silently never be taken, so that fails to compile instead.
  static constexpr detail::NoFieldTable kFields{};

 protected:
  Aggregate() = default;
  ~Aggregate() {
    // Instantiated once Derived is complete: every listed event needs an apply overload.
    (check_apply<Es>(), ...);
    static_assert(detail::FieldTableVisible<Derived>,
                  "strata: the aggregate's kFields (the field table of its state, used for snapshots) is private "
                  "or protected, so strata cannot see it and would take no snapshots; declare it in a public "
                  "section: `public: static constexpr auto kFields = strata::fields(...);`");
  }
  Aggregate(const Aggregate&) = default;
  Aggregate(Aggregate&&) noexcept = default;
  Aggregate& operator=(const Aggregate&) = default;
  Aggregate& operator=(Aggregate&&) noexcept = default;

  // Folds `event` into the state now and queues it for the next save.
  template <class E>
  void record(E&& event) {
    using Ev = std::remove_cvref_t<E>;
    static_assert(detail::kContains<Ev, Es...>,
                  "strata: record() was given an event type that is not in this aggregate's Events<...> list");
    check_apply<Ev>();
    derived().apply(static_cast<const Ev&>(event));
    pending_.push_back(PendingEvent{EventId::generate(), Event(std::in_place_type<Ev>, std::forward<E>(event))});
  }

 private:
  friend struct detail::AggregateAccess;

  template <class E>
  static constexpr void check_apply() {
    static_assert(
        requires(Derived & d, const E& e) { d.apply(e); },
        "strata: the aggregate has no apply(const E&) for an event in its Events<...> list; add "
        "`void apply(const E&)` (it may be private, with `friend Aggregate;`)");
    if constexpr (requires(Derived & d, const E& e) { d.apply(e); }) {
      static_assert(std::is_void_v<decltype(std::declval<Derived&>().apply(std::declval<const E&>()))>,
                    "strata: apply() must return void: folds cannot fail; validate in the command instead");
    }
  }

  Derived& derived() noexcept { return static_cast<Derived&>(*this); }

  // Decodes a stored record (upcasting an older type) and folds the resulting events in.
  // kUnknownEventType when its type is neither listed, upcast nor retired; kInvalidArgument (with
  // context) when its payload does not decode.
  Status apply_stored(const EventView& e, Dispatcher& dispatcher, const Limits& limits) {
    bool known = false;
    Status s = dispatcher.dispatch(
        e, limits, [this](const auto& event) { derived().apply(event); }, known);
    if (!s.ok()) return s;
    if (!known) return detail::unknown_event_type(e.stream_id, e.version, e.position, e.type);
    version_ = e.version;
    return {};
  }

  // Folds an already-typed stored event (Scenario's given()).
  void apply_historic(const Event& event) {
    std::visit([this](const auto& e) { derived().apply(e); }, event);
    ++version_;
  }

  void mark_saved(Version new_version) {
    pending_.clear();
    version_ = new_version;
  }

  std::optional<StreamId> id_;
  Version version_ = 0;
  std::vector<PendingEvent> pending_;
};

namespace detail {
// The repository's, the scenario's and the fold's way into an aggregate's private machinery.
struct AggregateAccess {
  template <class A>
  static void set_id(A& a, StreamId id) {
    a.id_ = std::move(id);
  }
  template <class A>
  static Status apply_stored(A& a, const EventView& e, typename A::Dispatcher& dispatcher, const Limits& limits) {
    return a.apply_stored(e, dispatcher, limits);
  }
  template <class A>
  static void apply_historic(A& a, const typename A::Event& e) {
    a.apply_historic(e);
  }
  template <class A>
  static void mark_saved(A& a, Version v) {
    a.mark_saved(v);
  }
  template <class A>
  static void set_version(A& a, Version v) {
    a.version_ = v;
  }
};

template <class T>
concept IsAggregate = requires {
  typename T::EventList;
  typename T::Dispatcher;
  typename T::Event;
  typename T::PendingEvent;
}
&&std::is_default_constructible_v<T>;

}  // namespace detail

}  // namespace strata
