// EventRegistry: every persisted event type the code knows, with its schema version and role (current,
// upcast from, retired), and the schema check applied to raw events before they reach a store.
//
//   strata::EventRegistry registry;
//   registry.add_aggregate<Account>();            // its events, upcasters' sources and retired types
//   registry.add<MovieAdded>();                   // or one event type
//   for (const auto& t : registry.types()) std::printf("%s v%u\n", std::string(t.type).c_str(), t.schema_version);
//
//   strata::Limits limits;
//   limits.schema = &registry;                    // stores now check every appended event of a known
//                                                 // current type against its field table and rules
//
// validate() decodes the payload into the registered type: a missing required field, a value of the
// wrong type, or a broken field rule is kInvalidArgument naming the event type and the field.
//
// Thread safety: add*() before sharing; afterwards every const method may be called concurrently.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/limits.h"
#include "strata/core/status.h"

namespace strata {

class EventRegistry {
 public:
  using Validator = Status (*)(std::string_view payload, const Limits& limits);

  // Registers the current event type E with its schema check.
  template <EventType E>
  void add() {
    add_entry(EventTypeInfo{E::kType, schema_version_of(E::kType), EventTypeInfo::Role::kCurrent}, &validate_as<E>);
  }

  // Registers everything A's dispatcher recognises (A: an aggregate, or any type with a Dispatcher).
  template <class A>
  void add_aggregate() {
    add_dispatcher<typename A::Dispatcher>();
  }

  template <class Dispatcher>
  void add_dispatcher() {
    add_validators(static_cast<Dispatcher*>(nullptr));
    std::vector<EventTypeInfo> infos;
    Dispatcher::describe(infos);
    for (const auto& info : infos) add_entry(info, nullptr);
  }

  // When true, validate() refuses types the registry does not know (default: they pass unchecked).
  void set_reject_unknown_types(bool reject) noexcept { reject_unknown_ = reject; }

  // OK when `event`'s type is a registered current type and its payload matches the type's field table
  // and rules, or when the type is unknown and unknown types are allowed. kInvalidArgument naming the type
  // and the field otherwise; a type registered only as upcast or retired is refused: new events must be
  // written in the current version.
  [[nodiscard]] Status validate(const EventData& event, const Limits& limits) const;

  // Every registered type, sorted by name.
  std::vector<EventTypeInfo> types() const;
  // The entry for `type`, or nullptr.
  const EventTypeInfo* find(std::string_view type) const;

 private:
  struct Entry {
    EventTypeInfo info;
    Validator validator = nullptr;
  };

  template <class E>
  static Status validate_as(std::string_view payload, const Limits& limits) {
    E value;
    STRATA_RETURN_IF_ERROR(decode_json(payload, value, limits));
    return check_fields(value);
  }

  template <class... Es, class... Us>
  void add_validators(detail::EventDispatcher<Events<Es...>, Upcasters<Us...>>*) {
    (add<Es>(), ...);
  }

  void add_entry(const EventTypeInfo& info, Validator validator);

  std::map<std::string, Entry, std::less<>> entries_;
  bool reject_unknown_ = false;
};

}  // namespace strata
