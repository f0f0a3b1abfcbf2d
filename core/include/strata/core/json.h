// JSON reading and writing, compiled once in core (simdjson On Demand underneath), so that the thin
// templates of codec.h never pull simdjson into a user's translation unit.
//
//   std::string out;
//   strata::json::Writer w(out);
//   w.begin_object(); w.key("cents"); w.int64(500); w.end_object();          // {"cents":500}
//
//   strata::Status s = strata::json::read(out, limits, [&](strata::json::Value& root) {
//     return root.for_each_field([&](std::string_view key, strata::json::Value& v) -> strata::Status {
//       if (key == "cents") return v.get(cents);
//       return {};                                                           // other fields are skipped
//     });
//   });
//
// Thread safety: a Writer belongs to one thread. json::read uses a parser owned by the calling thread;
// Values are valid only inside the callback that received them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "strata/core/function_ref.h"
#include "strata/core/limits.h"
#include "strata/core/status.h"

namespace strata {
class PersonalData;
}

namespace strata::json {

// Appends compact JSON to a string. The caller pairs begin/end and puts a key() before each value inside
// an object; the writer adds the commas and escapes strings (control characters as \u00XX, '"' and '\\';
// UTF-8 passes through unchanged).
class Writer {
 public:
  explicit Writer(std::string& out) noexcept : out_(out) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view name);
  void string(std::string_view value);
  void int64(std::int64_t value);
  void uint64(std::uint64_t value);
  // The shortest text that reads back as the same double (2 as 2.0). JSON has no spelling for NaN and
  // infinities: they are written as NaN, Infinity and -Infinity, which no JSON parser accepts, so that a
  // document holding one is refused when appended (validate_object() names the field) instead of
  // being stored and failing to load. check_fields() refuses them earlier, for typed values.
  void float64(double value);
  void boolean(bool value);
  void null();
  // Appends `json`, which must be one complete, valid JSON value, as the next value.
  void raw(std::string_view json);

  // Personal fields (personal_data.h): with `personal` set, personal_value() seals what `write_plain`
  // writes for `subject`; the first failure goes to `*error` (and null is written in its place).
  void seal_personal_fields(PersonalData* personal, Status* error) noexcept {
    personal_ = personal;
    personal_error_ = error;
  }
  // The next value, written by `write_plain` on a writer of its own, sealed for `subject` when personal
  // fields are sealed, otherwise as it is.
  void personal_value(std::string_view subject, FunctionRef<void(Writer&)> write_plain);

  std::string& output() noexcept { return out_; }

 private:
  void before_value();
  std::string& out_;
  bool need_comma_ = false;
  PersonalData* personal_ = nullptr;
  Status* personal_error_ = nullptr;
};

// The kind of a JSON value.
enum class Type : std::uint8_t { kObject, kArray, kNumber, kString, kBoolean, kNull };

// A JSON value inside a document being read. Each value may be read once, in document order (the On
// Demand model): read a field's value before moving to the next field. Reading a value with the wrong
// type is kInvalidArgument naming the expected and the actual type.
class Value {
 public:
  Result<Type> type();
  bool is_null();

  Status get(bool& out);
  Status get(std::int64_t& out);
  Status get(std::int32_t& out);
  Status get(std::uint64_t& out);
  Status get(std::uint32_t& out);
  Status get(double& out);
  // Unescaped into `out`, reusing its capacity.
  Status get(std::string& out);
  // Unescaped; the view is valid until the document is released.
  Status get_string_view(std::string_view& out);
  // The value's JSON text, unparsed.
  Status get_raw_json(std::string_view& out);

  // Calls `fn` for each field of an object, in document order. Fields `fn` does not read are skipped.
  Status for_each_field(FunctionRef<Status(std::string_view key, Value& value)> fn);
  // Calls `fn` for each element of an array.
  Status for_each_element(FunctionRef<Status(Value& element)> fn);

  // Internal: constructed by json::read only.
  explicit Value(void* impl) noexcept : impl_(impl) {}

 private:
  void* impl_;
};

// Parses `bytes` (at most limits.max_payload_bytes, nested at most limits.max_json_depth) and calls `fn`
// with the root value. Returns fn's status, or kInvalidArgument for malformed JSON, oversize input or
// too deep nesting in the parts read. Parsing is lazy: parts `fn` does not read, and bytes after the
// root value, are not fully checked; use validate_object() first for untrusted input (stores validate
// every payload on append). The bytes are copied once into a padded buffer owned by the calling thread.
Status read(std::string_view bytes, const Limits& limits, FunctionRef<Status(Value& root)> fn);

// Fully validates `bytes` as one JSON document whose root is an object, within `limits`. OK or
// kInvalidArgument saying what is wrong.
Status validate_object(std::string_view bytes, const Limits& limits);

}  // namespace strata::json
