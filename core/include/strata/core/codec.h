// Declaring events and their JSON encoding: field tables, the Codec<T> customization point, and the
// typed encode/decode functions.
//
// An event is a plain struct with a persisted type name, a field table and a defaulted operator==:
//
//   struct Deposited {
//     static constexpr std::string_view kType = "bank.deposited.v1";   // persisted: never the C++ name
//     std::string account;
//     std::int64_t cents = 0;
//     static constexpr auto kFields = strata::fields(strata::field("account", &Deposited::account),
//                                                    strata::field("cents", &Deposited::cents));
//     bool operator==(const Deposited&) const = default;
//   };
//
// Field types with a built-in codec: bool, int32_t, int64_t, uint32_t, uint64_t, double, std::string,
// strata::Version and strata::Position (as unsigned numbers),
// std::optional<T> (may be absent or null), std::vector<T>, std::map<std::string, T>, and any struct with
// its own kFields. Other value types get a codec by specializing strata::Codec<T> with
//   static void write(json::Writer&, const T&);   static Status read(json::Value&, T&);
//
// Numbers follow strata's number model: integers that fit in 64 bits (int64 or uint64) and finite
// doubles. JSON cannot hold NaN or infinity, so check_fields() (called by Repository::save) refuses a
// non-finite double naming its field, and a store refuses a payload holding one on append; a number
// beyond the model in stored or decoded JSON is kInvalidArgument "number out of range: ...".
//
// Decoding is tolerant of additions: unknown fields are skipped; a missing field that is not an
// std::optional is kInvalidArgument naming it; a value of the wrong type names the field and both
// types. The templates here only walk the field table; the JSON work is compiled in core.
//
// Thread safety: all functions are reentrant.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/core/event.h"
#include "strata/core/json.h"
#include "strata/core/limits.h"
#include "strata/core/personal_data.h"
#include "strata/core/status.h"

namespace strata {

// The rule of a field without one.
struct NoRule {
  template <class T>
  constexpr bool operator()(const T&) const noexcept {
    return true;
  }
};

// The subject of a field that is not personal.
struct NoSubject {};

// One row of a field table: the persisted JSON key, the member it maps to, and optionally a rule the
// value must satisfy when an event is appended (checked by check_fields(), Repository::save and an
// EventRegistry; not on replay, where stored events are taken as they are), and optionally the subject
// whose personal data it is (personal_data.h).
template <class Class, class Member, class Rule = NoRule, class Subject = NoSubject>
struct FieldDef {
  using class_type = Class;
  using member_type = Member;
  std::string_view name;
  Member Class::*member;
  Rule rule{};
  std::string_view rule_text{};  // what the rule demands, e.g. "must be positive"
  Subject subject{};             // for a personal field: the member holding its subject's id

  static constexpr bool kPersonal = !std::is_same_v<Subject, NoSubject>;

  // This field with a rule: `strata::field("cents", &Deposited::cents).require(positive, "must be positive")`.
  template <class Predicate>
  constexpr FieldDef<Class, Member, Predicate, Subject> require(Predicate predicate,
                                                                std::string_view text) const noexcept {
    static_assert(std::is_invocable_r_v<bool, const Predicate&, const Member&>,
                  "strata: a field rule must be callable as bool(const Member&)");
    return {name, member, predicate, text, subject};
  }

  // This field as personal data of the subject whose id is in `subject_member` (a string field of the
  // same event): `strata::field("email", &Registered::email).personal(&Registered::customer)`. Stores
  // seal it with the subject's key; after EventStore::personal_data()->forget(subject) it reads as
  // redacted (its default value, when decoded).
  constexpr FieldDef<Class, Member, Rule, std::string Class::*> personal(
      std::string Class::*subject_member) const noexcept {
    return {name, member, rule, rule_text, subject_member};
  }
};

template <class Class, class Member>
constexpr FieldDef<Class, Member> field(std::string_view name, Member Class::*member) noexcept {
  return {name, member, {}, {}, {}};
}

template <class... Defs>
constexpr std::tuple<Defs...> fields(Defs... defs) noexcept {
  static_assert(sizeof...(Defs) <= 64, "strata: a field table has at most 64 fields");
  return {defs...};
}

// A type with a field table: `static constexpr auto kFields = strata::fields(...)`.
template <class T>
concept HasFieldTable = requires {
  std::tuple_size<std::remove_cvref_t<decltype(T::kFields)>>::value;
};

// An event type: a field table and a persisted type name `static constexpr std::string_view kType`.
template <class T>
concept EventType = HasFieldTable<T> && requires {
  { T::kType } -> std::convertible_to<std::string_view>;
};

namespace detail {
template <class>
inline constexpr bool kAlwaysFalse = false;

// Whether `c` may appear in an event type name: one of [A-Za-z0-9_.:-].
constexpr bool is_type_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}

// Whether `name` is 1..256 bytes of [A-Za-z0-9_.:-]: the rule validate_event() applies at run time.
constexpr bool is_valid_type_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 256) return false;
  for (char c : name)
    if (!is_type_name_char(c)) return false;
  return true;
}

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T, class Alloc>
struct IsVector<std::vector<T, Alloc>> : std::true_type {};
template <class T>
struct IsStringMap : std::false_type {};
template <class T, class Compare, class Alloc>
struct IsStringMap<std::map<std::string, T, Compare, Alloc>> : std::true_type {};

// Compiled helpers: errors are built out of line so the templates stay small.
Status missing_field(std::string_view name);
Status not_redacted_string();
Status no_personal_data(std::string_view type);
Status broken_rule(std::string_view field, std::string_view rule_text);
Status in_field(const Status& status, std::string_view name);
Status in_element(const Status& status, std::size_t index);
// kInvalidArgument: "non-finite number NaN: strata's numbers are ..." (json.cc, next to the writer).
Status non_finite_number(double value);
}  // namespace detail

// The customization point. The primary template is deliberately unusable.
template <class T>
struct Codec {
  static_assert(detail::kAlwaysFalse<T>,
                "strata: this field type has no Codec: give it a field table "
                "(static constexpr auto kFields = strata::fields(...)) or specialize strata::Codec<T>");
};

#define STRATA_SCALAR_CODEC_(T, writer_call)                             \
  template <>                                                            \
  struct Codec<T> {                                                      \
    static void write(json::Writer& w, const T& v) { w.writer_call(v); } \
    static Status read(json::Value& in, T& out) { return in.get(out); }  \
  }
STRATA_SCALAR_CODEC_(bool, boolean);
STRATA_SCALAR_CODEC_(std::int32_t, int64);
STRATA_SCALAR_CODEC_(std::int64_t, int64);
STRATA_SCALAR_CODEC_(std::uint32_t, uint64);
STRATA_SCALAR_CODEC_(std::uint64_t, uint64);
STRATA_SCALAR_CODEC_(double, float64);
STRATA_SCALAR_CODEC_(std::string, string);
#undef STRATA_SCALAR_CODEC_

// Stream versions and log positions, as unsigned JSON numbers: a field may hold where an event stands.
template <>
struct Codec<Version> {
  static void write(json::Writer& w, Version v) { w.uint64(v.value()); }
  static Status read(json::Value& in, Version& out) {
    std::uint64_t n = 0;
    Status s = in.get(n);
    if (s.ok()) out = n;
    return s;
  }
};
template <>
struct Codec<Position> {
  static void write(json::Writer& w, Position p) { w.uint64(p.value()); }
  static Status read(json::Value& in, Position& out) {
    std::uint64_t n = 0;
    Status s = in.get(n);
    if (s.ok()) out = n;
    return s;
  }
};

template <class T>
struct Codec<std::optional<T>> {
  static void write(json::Writer& w, const std::optional<T>& v) {
    if (v) {
      Codec<T>::write(w, *v);
    } else {
      w.null();
    }
  }
  static Status read(json::Value& in, std::optional<T>& out) {
    if (in.is_null()) {
      out.reset();
      return {};
    }
    if (!out) out.emplace();
    return Codec<T>::read(in, *out);
  }
};

template <class T>
struct Codec<std::vector<T>> {
  static void write(json::Writer& w, const std::vector<T>& v) {
    w.begin_array();
    for (const T& e : v) Codec<T>::write(w, e);
    w.end_array();
  }
  static Status read(json::Value& in, std::vector<T>& out) {
    std::size_t n = 0;
    Status s = in.for_each_element([&](json::Value& element) -> Status {
      if (n == out.size()) out.emplace_back();  // reuse existing elements' capacity
      Status r;
      if constexpr (std::is_same_v<T, bool>) {
        bool b = false;  // std::vector<bool> hands out proxies, not bool&
        r = Codec<bool>::read(element, b);
        out[n] = b;
      } else {
        r = Codec<T>::read(element, out[n]);
      }
      if (!r.ok()) return detail::in_element(r, n);
      ++n;
      return {};
    });
    out.resize(n);
    return s;
  }
};

template <class T>
struct Codec<std::map<std::string, T>> {
  static void write(json::Writer& w, const std::map<std::string, T>& v) {
    w.begin_object();
    for (const auto& [k, e] : v) {
      w.key(k);
      Codec<T>::write(w, e);
    }
    w.end_object();
  }
  static Status read(json::Value& in, std::map<std::string, T>& out) {
    out.clear();
    return in.for_each_field([&](std::string_view key, json::Value& value) -> Status {
      Status r = Codec<T>::read(value, out[std::string(key)]);
      return r.ok() ? r : detail::in_field(r, key);
    });
  }
};

// Structs with a field table: a JSON object with one key per row.
template <HasFieldTable T>
struct Codec<T> {
  static constexpr std::size_t kCount = std::tuple_size_v<std::remove_cvref_t<decltype(T::kFields)>>;

  static void write(json::Writer& w, const T& v) {
    w.begin_object();
    std::apply([&](const auto&... def) { ((w.key(def.name), write_member(w, def, v)), ...); }, T::kFields);
    w.end_object();
  }

  static Status read(json::Value& in, T& out) {
    std::uint64_t seen = 0;
    Status s = in.for_each_field([&](std::string_view key, json::Value& value) -> Status {
      return read_field(key, value, out, seen, std::make_index_sequence<kCount>{});
    });
    if (!s.ok()) return s;
    return finish(out, seen, std::make_index_sequence<kCount>{});
  }

 private:
  // The parameters go unused for an empty field table (an event that carries no data).
  template <std::size_t... I>
  static Status read_field([[maybe_unused]] std::string_view key, [[maybe_unused]] json::Value& value,
                           [[maybe_unused]] T& out, [[maybe_unused]] std::uint64_t& seen, std::index_sequence<I...>) {
    Status result;
    (void)((key == std::get<I>(T::kFields).name
                ? (seen |= std::uint64_t{1} << I, result = read_member(std::get<I>(T::kFields), value, out), true)
                : false) ||
           ...);
    return result;
  }
  template <class Def>
  static void write_member(json::Writer& w, const Def& def, const T& v) {
    if constexpr (Def::kPersonal) {
      w.personal_value(v.*def.subject,
                       [&](json::Writer& inner) { Codec<typename Def::member_type>::write(inner, v.*def.member); });
    } else {
      Codec<typename Def::member_type>::write(w, v.*def.member);
    }
  }
  template <class Def>
  static Status read_member(const Def& def, json::Value& value, T& out) {
    using M = typename Def::member_type;
    if constexpr (Def::kPersonal) {
      // A forgotten subject's field reads as "strata.redacted": the member gets its default value.
      if constexpr (std::is_same_v<M, std::string> || std::is_same_v<M, std::optional<std::string>>) {
        Status r = Codec<M>::read(value, out.*def.member);
        if (!r.ok()) return detail::in_field(r, def.name);
        const auto& got = out.*def.member;
        if constexpr (std::is_same_v<M, std::string>) {
          if (got == kRedacted) out.*def.member = M{};
        } else {
          if (got.has_value() && *got == kRedacted) out.*def.member = M{};
        }
        return r;
      } else {
        auto type = value.type();
        if (type.ok() && *type == json::Type::kString) {
          std::string_view text;
          Status r = value.get_string_view(text);
          if (r.ok() && text == kRedacted) {
            out.*def.member = M{};
            return {};
          }
          return detail::in_field(r.ok() ? detail::not_redacted_string() : r, def.name);
        }
      }
    }
    Status r = Codec<M>::read(value, out.*def.member);
    if (!r.ok()) r = detail::in_field(r, def.name);
    return r;
  }
  // A missing optional field becomes nullopt (`out` may hold a previous value: decoding reuses storage);
  // a missing required field is an error naming the first one.
  template <std::size_t... I>
  static Status finish([[maybe_unused]] T& out, [[maybe_unused]] std::uint64_t seen, std::index_sequence<I...>) {
    Status result;
    (finish_one(std::get<I>(T::kFields), out, (seen >> I) & 1u, result), ...);
    return result;
  }
  template <class Def>
  static void finish_one(const Def& def, T& out, bool seen, Status& result) {
    if (seen) return;
    if constexpr (detail::IsOptional<typename Def::member_type>::value) {
      (out.*def.member).reset();
    } else if (result.ok()) {
      result = detail::missing_field(def.name);
    }
  }
};

// What an append checks in a typed value before encoding it: OK when every field rule holds and every
// double is finite (JSON has no NaN or infinity, so one could be stored but never loaded), recursively
// through nested field tables, optionals, vectors and maps; otherwise kInvalidArgument naming the first
// field at fault, and the element or key inside it: `field "cents" must be positive`,
// `field "prices": element 2: non-finite number NaN: ...`. Values of types with their own Codec are not
// looked into; a non-finite double they write is refused when the payload is validated on append.
template <class T>
Status check_fields(const T& value);

namespace detail {
// Whether check_value() has anything to look at in a T: doubles, field tables (rules), containers of them.
template <class T>
constexpr bool checks_values() {
  if constexpr (std::is_floating_point_v<T> || HasFieldTable<T>) {
    return true;
  } else if constexpr (IsOptional<T>::value || IsVector<T>::value) {
    return checks_values<typename T::value_type>();
  } else if constexpr (IsStringMap<T>::value) {
    return checks_values<typename T::mapped_type>();
  } else {
    return false;
  }
}

template <class T>
Status check_value(const T& value) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isfinite(value) ? Status() : non_finite_number(static_cast<double>(value));
  } else if constexpr (HasFieldTable<T>) {
    return check_fields(value);
  } else if constexpr (!checks_values<T>()) {
    return {};
  } else if constexpr (IsOptional<T>::value) {
    return value ? check_value(*value) : Status();
  } else if constexpr (IsVector<T>::value) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      Status s = check_value(value[i]);
      if (!s.ok()) return in_element(s, i);
    }
    return {};
  } else {
    for (const auto& [key, element] : value) {
      Status s = check_value(element);
      if (!s.ok()) return in_field(s, key);
    }
    return {};
  }
}
}  // namespace detail

template <class T, class Def>
Status check_field(const T& value, const Def& def) {
  const auto& member = value.*def.member;
  if (!def.rule(member)) return detail::broken_rule(def.name, def.rule_text);
  if constexpr (detail::checks_values<typename Def::member_type>()) {
    Status nested = detail::check_value(member);
    if (!nested.ok()) return detail::in_field(nested, def.name);
  }
  return {};
}

template <class T>
Status check_fields(const T& value) {
  if constexpr (HasFieldTable<T>) {
    Status result;
    std::apply([&](const auto&... def) { (void)((result = check_field(value, def), !result.ok()) || ...); },
               T::kFields);
    return result;
  } else {
    return detail::check_value(value);
  }
}

// Appends the JSON encoding of `value` to `out`.
template <class T>
void encode_json(const T& value, std::string& out) {
  json::Writer w(out);
  Codec<T>::write(w, value);
}

// The JSON encoding of `value`.
template <class T>
std::string to_json(const T& value) {
  std::string out;
  encode_json(value, out);
  return out;
}

// Decodes `json` into `out`, reusing `out`'s storage (strings and vectors keep their capacity).
// kInvalidArgument for malformed JSON, limits exceeded, a missing required field or a wrong type.
template <class T>
Status decode_json(std::string_view json, T& out, const Limits& limits = {}) {
  return json::read(json, limits, [&](json::Value& root) { return Codec<T>::read(root, out); });
}

// Whether event type E has personal fields (personal_data.h).
template <class E>
constexpr bool has_personal_fields() {
  return std::apply([](const auto&... def) { return (std::remove_cvref_t<decltype(def)>::kPersonal || ... || false); },
                    E::kFields);
}

// A typed event as EventData, ready to append. Encoding does not check the value: a store refuses the
// event on append if a field rule is broken (with an EventRegistry in its limits) or a double is not
// finite; call check_fields() first to learn it before appending, as Repository::save does. An event
// with personal fields needs the store's PersonalData: use the overload below (Repository::save does).
template <EventType E>
EventData to_event_data(const E& event, EventId id = EventId::generate(), Metadata metadata = {}) {
  static_assert(detail::is_valid_type_name(E::kType),
                "strata: an event's kType must be 1 to 256 characters of [A-Za-z0-9_.:-], e.g. \"bank.deposited.v1\"");
  static_assert(!has_personal_fields<E>(),
                "strata: an event with personal fields is encoded with the store's PersonalData: "
                "to_event_data(event, id, metadata, store.personal_data()), or Repository::save");
  EventData data{id, std::string(E::kType), {}, std::move(metadata)};
  encode_json(event, data.payload);
  return data;
}

// The same, sealing personal fields with `personal` (EventStore::personal_data()). kInvalidArgument when
// the event has personal fields and `personal` is null (the store keeps no subject keys), or a subject
// is empty or forgotten; the key store's errors.
template <EventType E>
Result<EventData> to_event_data(const E& event, EventId id, Metadata metadata, PersonalData* personal) {
  static_assert(detail::is_valid_type_name(E::kType),
                "strata: an event's kType must be 1 to 256 characters of [A-Za-z0-9_.:-], e.g. \"bank.deposited.v1\"");
  EventData data{id, std::string(E::kType), {}, std::move(metadata)};
  if constexpr (has_personal_fields<E>()) {
    if (personal == nullptr) return detail::no_personal_data(E::kType);
    Status sealed;
    json::Writer w(data.payload);
    w.seal_personal_fields(personal, &sealed);
    Codec<E>::write(w, event);
    if (!sealed.ok()) return sealed;
  } else {
    encode_json(event, data.payload);
  }
  return data;
}

}  // namespace strata
