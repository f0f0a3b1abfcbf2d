// EventDispatcher: turns a stored record into the current typed events it stands for, for aggregates
// (Aggregate, Fold, Repository) and for every reader of the log that decodes typed events.
//
// A record whose type is listed in Events<...> is decoded once into a reused value and handed over. A
// record of an older type is decoded into its own reused value and upcast along its chain (upcaster.h);
// a one-to-many upcaster hands over each event it emits. A retired type hands over nothing. Anything else
// is unknown, and the caller decides: aggregates fail with kUnknownEventType, log readers decide for themselves.
//
//   strata::detail::EventDispatcher<strata::Events<Opened, Deposited>, strata::Upcasters<DepositedV1ToV2>> d;
//   bool known = false;
//   STRATA_RETURN_IF_ERROR(d.dispatch(view, limits, [&](const auto& event) { state.apply(event); }, known));
//
// Thread safety: a dispatcher holds the reused values; one per thread.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/status.h"
#include "strata/core/upcaster.h"

namespace strata {

// The list of events an aggregate (or any typed reader of the log) handles.
template <class... Es>
struct Events {
  static constexpr std::size_t kSize = sizeof...(Es);
};

// What the registry says of one persisted event type.
struct EventTypeInfo {
  enum class Role : std::uint8_t { kCurrent = 0, kUpcast = 1, kRetired = 2 };
  std::string_view type;         // the persisted name
  std::uint32_t schema_version;  // from the name's ".v<N>" suffix
  Role role;
  friend bool operator==(const EventTypeInfo&, const EventTypeInfo&) = default;
};

namespace detail {
template <class>
inline constexpr bool kAlwaysFalseType = false;

template <class E, class... Es>
inline constexpr bool kContains = (std::is_same_v<E, Es> || ...);

template <class U>
concept IsRetired = requires {
  U::kRetiredType;
};

template <class U>
concept IsUpcaster = !IsRetired<U> && requires {
  typename U::From;
};

template <class U>
concept IsOneToOne = IsUpcaster<U> && requires(const typename U::From& e) {
  U::upcast(e);
} && !std::is_void_v<decltype(U::upcast(std::declval<const typename U::From&>()))>;

// The persisted name an entry of Upcasters<...> recognises.
template <class U>
constexpr std::string_view recognised_type() noexcept {
  if constexpr (IsRetired<U>) {
    return U::kRetiredType;
  } else {
    return U::From::kType;
  }
}

// The reused value an entry of Upcasters<...> decodes into (nothing for a retired type).
struct NoSource {};
template <class U>
struct SourceSlot {
  using type = NoSource;
};
template <IsUpcaster U>
struct SourceSlot<U> {
  using type = typename U::From;
};

// The first upcaster among Us whose source is E, or void.
template <class E, class... Us>
struct FindUpcaster {
  using type = void;
};
template <class E, class U, class... Us>
struct FindUpcaster<E, U, Us...> {
  static constexpr bool kMatch = [] {
    if constexpr (IsUpcaster<U>) {
      return std::is_same_v<typename U::From, E>;
    } else {
      return false;
    }
  }();
  using type = std::conditional_t<kMatch, U, typename FindUpcaster<E, Us...>::type>;
};

template <std::size_t N>
constexpr bool all_distinct(const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j)
      if (names[i] == names[j]) return false;
  return true;
}

// Compiled: the schema version of a type name (event.cc).
std::uint32_t schema_version_of_name(std::string_view type) noexcept;
Status undecodable_record(const Status& status, const EventView& e);

template <class EventList, class UpcasterList = Upcasters<>>
class EventDispatcher {
  static_assert(kAlwaysFalseType<EventList>,
                "strata: the event list must be strata::Events<E1, E2, ...> and the upcasters strata::Upcasters<...>");
};

template <class... Es, class... Us>
class EventDispatcher<Events<Es...>, Upcasters<Us...>> {
  static_assert((EventType<Es> && ...),
                "strata: every event in Events<...> needs `static constexpr std::string_view kType` and "
                "`static constexpr auto kFields = strata::fields(...)`");
  static_assert((std::is_default_constructible_v<Es> && ...),
                "strata: events must be default-constructible (replay decodes into a reused value)");
  static_assert(((IsRetired<Us> || IsUpcaster<Us>)&&...),
                "strata: each entry of Upcasters<...> must be an upcaster (with `using From = <older event>;` and "
                "a static upcast function) or strata::Retired<\"type\">");
  static_assert(((IsRetired<Us> || EventType<typename SourceSlot<Us>::type>)&&...),
                "strata: an upcaster's source (From) is not a declared event type: it needs "
                "`static constexpr std::string_view kType` and a field table");
  static_assert(((IsRetired<Us> || !kContains<typename SourceSlot<Us>::type, Es...>)&&...),
                "strata: an upcaster's source (From) is also in Events<...>: upcast from older types only");
  static_assert(all_distinct(std::array<std::string_view, sizeof...(Es) + sizeof...(Us)>{std::string_view(Es::kType)...,
                                                                                         recognised_type<Us>()...}),
                "strata: two events in this Events<...> list, or among the upcasters' sources and retired types, "
                "have the same kType; persisted names must be unique");

  template <class U>
  static constexpr bool result_reaches_events() {
    if constexpr (IsOneToOne<U>) {
      using R = std::remove_cvref_t<decltype(U::upcast(std::declval<const typename U::From&>()))>;
      return kContains<R, Es...> || !std::is_void_v<typename FindUpcaster<R, Us...>::type>;
    } else {
      return true;  // a one-to-many upcaster's emitted types are checked where it is instantiated
    }
  }
  static_assert((result_reaches_events<Us>() && ...),
                "strata: an upcaster returns a type that is neither in Events<...> nor the source of another upcaster");

 public:
  // Whether a record of `type` stands for something here (listed, upcast or retired). Log readers use it
  // to skip records before parsing their payload.
  static constexpr bool knows(std::string_view type) noexcept {
    return ((type == Es::kType) || ...) || ((type == recognised_type<Us>()) || ...);
  }

  // Decodes `e` and calls fn(const E&) for each current event it stands for. Sets `known` to whether the
  // type is listed, upcast or retired; OK with known = false for an unknown type. kInvalidArgument (with
  // the type, stream and version) when the payload does not decode.
  template <class Fn>
  Status dispatch(const EventView& e, const Limits& limits, Fn&& fn, bool& known) {
    Status result;
    known = false;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((e.type == Es::kType
                  ? (known = true, result = decode_and_deliver(e, std::get<I>(current_), limits, fn), true)
                  : false) ||
             ...);
    }
    (std::index_sequence_for<Es...>{});
    if (known || sizeof...(Us) == 0) return result;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((e.type == recognised_type<Us>()
                  ? (known = true, result = upcast_entry<Us>(e, std::get<I>(sources_), limits, fn), true)
                  : false) ||
             ...);
    }
    (std::index_sequence_for<Us...>{});
    return result;
  }

  // Every type this dispatcher recognises, for registries and tools.
  static void describe(std::vector<EventTypeInfo>& out) {
    (out.push_back(EventTypeInfo{Es::kType, schema_version_of_name(Es::kType), EventTypeInfo::Role::kCurrent}), ...);
    (out.push_back(EventTypeInfo{recognised_type<Us>(), schema_version_of_name(recognised_type<Us>()),
                                 IsRetired<Us> ? EventTypeInfo::Role::kRetired : EventTypeInfo::Role::kUpcast}),
     ...);
  }

 private:
  template <class E, class Fn>
  static Status decode_and_deliver(const EventView& e, E& slot, const Limits& limits, Fn& fn) {
    Status s = decode_json(e.payload, slot, limits);
    if (!s.ok()) return undecodable_record(s, e);
    deliver(static_cast<const E&>(slot), fn);
    return {};
  }

  template <class U, class Slot, class Fn>
  static Status upcast_entry(const EventView& e, Slot& slot, const Limits& limits, Fn& fn) {
    if constexpr (IsRetired<U>) {
      return {};
    } else {
      return decode_and_deliver(e, slot, limits, fn);
    }
  }

  // Hands `e` to fn if it is current; otherwise upcasts it along its chain.
  template <class E, class Fn>
  static void deliver(const E& e, Fn& fn) {
    if constexpr (kContains<E, Es...>) {
      fn(e);
    } else {
      using U = typename FindUpcaster<E, Us...>::type;
      static_assert(!std::is_void_v<U>,
                    "strata: an upcaster produces an event type that is neither in Events<...> nor the source of "
                    "another upcaster");
      if constexpr (!std::is_void_v<U>) {
        if constexpr (IsOneToOne<U>) {
          deliver(U::upcast(e), fn);
        } else {
          auto emit = [&fn](const auto& next) { deliver(next, fn); };
          U::upcast(e, emit);
        }
      }
    }
  }

  std::tuple<Es...> current_;
  std::tuple<typename SourceSlot<Us>::type...> sources_;
};

}  // namespace detail

}  // namespace strata
