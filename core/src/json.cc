// The one translation unit that includes simdjson. Every simdjson error code is translated into a Status
// here, in translate(), and nowhere else. What strata's number model refuses, and why, is in
// json_numbers.cc (plain text scanning, no simdjson).
//
// Reading uses On Demand: each document is copied once into a thread-owned padded buffer (simdjson reads
// up to SIMDJSON_PADDING bytes past the end) and parsed lazily, so fields a codec does not ask for are
// skipped without being materialized. Validation on append uses the DOM parser, which checks the whole
// document, including UTF-8 and nesting depth.
#include "strata/core/json.h"
#include "strata/core/personal_data.h"

#include "json_numbers.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include <fmt/format.h>

namespace strata::json {
namespace {

namespace od = simdjson::ondemand;

std::string_view type_name(od::json_type t) noexcept {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "an unknown value";
}

Status translate(simdjson::error_code error) {
  switch (error) {
    case simdjson::SUCCESS:
      return {};
    case simdjson::DEPTH_ERROR:
      return Status::invalid_argument("malformed json: nested too deeply");
    case simdjson::CAPACITY:
      return Status::invalid_argument("malformed json: document too large");
    case simdjson::UTF8_ERROR:
      return Status::invalid_argument("malformed json: invalid utf-8");
    case simdjson::UNCLOSED_STRING:
      return Status::invalid_argument("malformed json: unclosed string");
    case simdjson::STRING_ERROR:
      return Status::invalid_argument("malformed json: invalid string escape");
    case simdjson::NUMBER_ERROR:
      return Status::invalid_argument("malformed json: invalid number");
    case simdjson::EMPTY:
      return Status::invalid_argument("malformed json: empty document");
    case simdjson::TAPE_ERROR:
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
    case simdjson::TRAILING_CONTENT:
      return Status::invalid_argument(fmt::format("malformed json: {}", simdjson::error_message(error)));
    case simdjson::MEMALLOC:
      return Status::internal("json parser: out of memory");
    default:
      return Status::invalid_argument(fmt::format("malformed json: {}", simdjson::error_message(error)));
  }
}

// What a json::Value points to: the On Demand value and how deep it sits (the root is depth 1). On Demand
// does not enforce a depth limit, and codecs recurse once per level of nesting they read, so the depth
// is counted here and checked whenever a container is entered.
// The slot points to the On Demand value where the iteration keeps it (a field's value inside its
// field, an element or the root in a local) rather than holding a copy: a copy of the value made
// right after On Demand assembled it with narrower stores is read back with one wider load, which
// stalls on the stores (store forwarding) and cost about as much as parsing the field.
struct Slot {
  od::value* value;
  std::size_t depth;
  std::size_t max_depth;
};

Slot& slot(void* p) noexcept { return *static_cast<Slot*>(p); }
od::value& impl(void* p) noexcept { return *slot(p).value; }

Status too_deep(std::size_t max_depth) {
  return Status::invalid_argument(fmt::format("malformed json: nested deeper than the limit of {}", max_depth));
}

// A scalar's text as written, up to the next structural character or space.
std::string_view token_text(od::value& v) {
  std::string_view text = v.raw_json_token();
  return text.substr(0, text.find_first_of(" \t\r\n,]}"));
}

// The error for a value that could not be read as `expected` (of JSON type `wanted`), which failed with
// `error`: another type names both types; a number that does not fit names the number; a malformed value
// (a bad escape in a string, a literal such as `nul`) says what is malformed. On Demand tells a value's
// type from its first byte only, so literals are checked here.
Status mismatch(od::value& v, od::json_type wanted, std::string_view expected, simdjson::error_code error) {
  od::json_type actual;
  if (auto err = v.type().get(actual)) return translate(err);
  if (actual == od::json_type::null || actual == od::json_type::boolean) {
    std::string_view literal = token_text(v);
    if (literal != "null" && literal != "true" && literal != "false")
      return Status::invalid_argument(fmt::format("malformed json: invalid literal {}", shown(literal)));
  }
  if (actual != wanted)
    return Status::invalid_argument(fmt::format("expected {}, got {}", expected, type_name(actual)));
  if (actual == od::json_type::number)
    return Status::invalid_argument(fmt::format("expected {}, got {}", expected, shown(token_text(v))));
  return translate(error);
}

// simdjson allocates its per-level state for max_json_depth levels up front: SIZE_MAX aborts the
// allocation and 2^32 exhausts memory. Stores refuse such limits when opened; this refuses them for
// callers that pass limits no store has checked (decode_json, validate_event), before allocating.
Status check_depth_limit(const Limits& limits) {
  if (limits.max_json_depth >= 1 && limits.max_json_depth <= Limits::kMaxJsonDepthCeiling) return {};
  Limits depth_only;
  depth_only.max_json_depth = limits.max_json_depth;
  return validate_limits(depth_only);
}

// simdjson's On Demand refuses a number whose exponent is written with more than 18 digits, such as
// 1e-0000000000000000000000001 (0.1) or 1e-99999999999999999999 (0), where its DOM parser, and so
// validate_object() on append, accepts it as the DOM reads it: leading zeros of the exponent dropped, an
// exponent still longer than 18 digits taken as +-999999999999999999. Reads `token` that way, so that
// every payload a store accepted reads back: the exponent rewritten, the number parsed by On Demand.
// False when `token` is not such a number (or is out of the range of a double, as for the DOM).
bool read_long_exponent(std::string_view token, double& out) {
  const std::size_t e = token.find_first_of("eE");
  if (e == std::string_view::npos) return false;
  std::string_view exponent = token.substr(e + 1);
  std::string_view sign;
  if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+')) {
    sign = exponent.substr(0, 1);
    exponent.remove_prefix(1);
  }
  if (exponent.size() <= 18 || exponent.find_first_not_of("0123456789") != std::string_view::npos) return false;
  exponent.remove_prefix(std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  if (exponent.size() > 18) exponent = "999999999999999999";
  simdjson::padded_string rewritten(fmt::format("{}e{}{}", token.substr(0, e), sign, exponent));
  od::parser parser;
  od::document doc;
  if (parser.iterate(rewritten).get(doc)) return false;
  double value = 0;
  if (doc.get_double().get(value)) return false;
  out = value;
  return true;
}

// The state of json::read on one thread. Reentrant use (a codec that calls read() from inside a
// callback) gets a fresh parser, so an outer document is never clobbered.
struct ReadState {
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;
  std::size_t depth_limit = 0;
  bool busy = false;
};

Status read_with(ReadState& st, std::string_view bytes, const Limits& limits, FunctionRef<Status(Value&)> fn) {
  if (bytes.size() > limits.max_payload_bytes)
    return Status::invalid_argument(
        fmt::format("json document of {} bytes exceeds the limit of {} bytes", bytes.size(), limits.max_payload_bytes));
  const std::size_t needed = bytes.size() + simdjson::SIMDJSON_PADDING;
  if (needed > st.capacity) {
    std::size_t cap = std::max<std::size_t>(needed, st.capacity * 2);
    st.buffer = std::make_unique_for_overwrite<char[]>(cap);
    st.capacity = cap;
  }
  if (st.depth_limit != limits.max_json_depth || st.parser.capacity() < bytes.size()) {
    STRATA_RETURN_IF_ERROR(check_depth_limit(limits));
    std::size_t cap = std::max<std::size_t>(bytes.size(), std::max<std::size_t>(st.parser.capacity(), 4096));
    // Room for two levels more than the limit: Value starts a container one level below the limit
    // before refusing it (for_each_field, for_each_element), and simdjson's development checks (on in
    // builds without optimisation) require every container it starts to sit below its own maximum.
    if (auto err = st.parser.allocate(cap, limits.max_json_depth + 2)) return translate(err);
    st.depth_limit = limits.max_json_depth;
  }
  // An empty view may have a null data(), which memcpy must not be given even for zero bytes.
  if (!bytes.empty()) std::memcpy(st.buffer.get(), bytes.data(), bytes.size());
  std::memset(st.buffer.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (auto err = st.parser.iterate(st.buffer.get(), bytes.size(), st.capacity).get(doc)) return translate(err);
  auto root_result = doc.get_value();
  if (auto err = root_result.error()) {
    if (err == simdjson::SCALAR_DOCUMENT_AS_VALUE)
      return Status::invalid_argument("expected a json object, got a scalar");
    return translate(err);
  }
  od::value&& root = std::move(root_result).value_unsafe();  // stays inside root_result (see Slot)
  Slot root_slot{&root, 1, limits.max_json_depth};
  Value v(&root_slot);
  return fn(v);
}

}  // namespace

// ---- Writer -----------------------------------------------------------------------------------------

void Writer::before_value() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}

void Writer::begin_object() {
  before_value();
  out_ += '{';
  need_comma_ = false;
}
void Writer::end_object() {
  out_ += '}';
  need_comma_ = true;
}
void Writer::begin_array() {
  before_value();
  out_ += '[';
  need_comma_ = false;
}
void Writer::end_array() {
  out_ += ']';
  need_comma_ = true;
}

namespace {
void append_escaped(std::string& out, std::string_view s) {
  out += '"';
  std::size_t run = 0;  // start of the current run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(buf, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
}  // namespace

void Writer::key(std::string_view name) {
  before_value();
  append_escaped(out_, name);
  out_ += ':';
  need_comma_ = false;
}
void Writer::string(std::string_view value) {
  before_value();
  append_escaped(out_, value);
}
void Writer::int64(std::int64_t value) {
  before_value();
  append_int(out_, value);
}
void Writer::uint64(std::uint64_t value) {
  before_value();
  append_int(out_, value);
}
void Writer::float64(double value) {
  before_value();
  // JSON has no spelling for these. The common non-standard ones are written, so the document is
  // refused by every JSON parser, validate_object() included (which names them), and can never be
  // stored and then fail to load; null would be stored and then not read back as a double.
  if (!std::isfinite(value)) {
    out_ += non_finite_spelling(value);
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, end);
  // Keep doubles recognisable as such when read back by other tools: 2 -> 2.0.
  if (std::string_view(buf, end - buf).find_first_of(".eE") == std::string_view::npos) out_ += ".0";
}
void Writer::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
}
void Writer::null() {
  before_value();
  out_ += "null";
}
void Writer::raw(std::string_view json) {
  before_value();
  out_ += json;
}

void Writer::personal_value(std::string_view subject, FunctionRef<void(Writer&)> write_plain) {
  if (personal_ == nullptr) {
    write_plain(*this);
    return;
  }
  std::string plain;
  Writer inner(plain);
  write_plain(inner);
  before_value();
  const std::size_t at = out_.size();
  Status sealed = personal_->seal(subject, plain, out_);
  if (!sealed.ok()) {
    out_.resize(at);
    out_ += "null";
    if (personal_error_ != nullptr && personal_error_->ok()) *personal_error_ = std::move(sealed);
  }
}

// ---- Value ------------------------------------------------------------------------------------------

Result<Type> Value::type() {
  od::json_type t;
  if (auto err = impl(impl_).type().get(t)) return translate(err);
  switch (t) {
    case od::json_type::array:
      return Type::kArray;
    case od::json_type::object:
      return Type::kObject;
    case od::json_type::number:
      return Type::kNumber;
    case od::json_type::string:
      return Type::kString;
    case od::json_type::boolean:
      return Type::kBoolean;
    case od::json_type::null:
      return Type::kNull;
  }
  return Status::internal("unknown json type");
}

bool Value::is_null() {
  // A malformed literal such as `nul` is not null; reading it as the wanted type then reports it.
  bool null = false;
  return impl(impl_).is_null().get(null) == simdjson::SUCCESS && null;
}

Status Value::get(bool& out) {
  if (auto err = impl(impl_).get_bool().get(out))
    return mismatch(impl(impl_), od::json_type::boolean, "a boolean", err);
  return {};
}

Status Value::get(std::int64_t& out) {
  if (auto err = impl(impl_).get_int64().get(out))
    return mismatch(impl(impl_), od::json_type::number, "a signed 64-bit integer", err);
  return {};
}

Status Value::get(std::int32_t& out) {
  std::int64_t v;
  auto err = impl(impl_).get_int64().get(v);
  if (!err && (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max()))
    err = simdjson::NUMBER_OUT_OF_RANGE;
  if (err) return mismatch(impl(impl_), od::json_type::number, "a signed 32-bit integer", err);
  out = static_cast<std::int32_t>(v);
  return {};
}

Status Value::get(std::uint64_t& out) {
  if (auto err = impl(impl_).get_uint64().get(out))
    return mismatch(impl(impl_), od::json_type::number, "an unsigned 64-bit integer", err);
  return {};
}

Status Value::get(std::uint32_t& out) {
  std::uint64_t v;
  auto err = impl(impl_).get_uint64().get(v);
  if (!err && v > std::numeric_limits<std::uint32_t>::max()) err = simdjson::NUMBER_OUT_OF_RANGE;
  if (err) return mismatch(impl(impl_), od::json_type::number, "an unsigned 32-bit integer", err);
  out = static_cast<std::uint32_t>(v);
  return {};
}

Status Value::get(double& out) {
  auto err = impl(impl_).get_double().get(out);
  if (!err) return {};
  od::json_type actual;
  if (impl(impl_).type().get(actual) == simdjson::SUCCESS && actual == od::json_type::number) {
    std::string_view token = token_text(impl(impl_));
    if (err == simdjson::NUMBER_ERROR && read_long_exponent(token, out)) return {};
    if (Status s = refused_number(token); !s.ok()) return s;
    return Status::invalid_argument(fmt::format("malformed json: invalid number {}", shown(token)));
  }
  return mismatch(impl(impl_), od::json_type::number, "a number", err);
}

Status Value::get(std::string& out) {
  std::string_view v;
  if (auto err = impl(impl_).get_string().get(v)) return mismatch(impl(impl_), od::json_type::string, "a string", err);
  out.assign(v.data(), v.size());
  return {};
}

Status Value::get_string_view(std::string_view& out) {
  if (auto err = impl(impl_).get_string().get(out))
    return mismatch(impl(impl_), od::json_type::string, "a string", err);
  return {};
}

Status Value::get_raw_json(std::string_view& out) {
  od::value& v = impl(impl_);
  od::json_type t;
  if (auto err = v.type().get(t)) return translate(err);
  if (t == od::json_type::object) {
    od::object o;
    if (auto err = v.get_object().get(o)) return translate(err);
    if (auto err = o.raw_json().get(out)) return translate(err);
    return {};
  }
  if (t == od::json_type::array) {
    od::array a;
    if (auto err = v.get_array().get(a)) return translate(err);
    if (auto err = a.raw_json().get(out)) return translate(err);
    return {};
  }
  out = v.raw_json_token();
  // raw_json_token keeps trailing white space; a scalar's text ends at its last non-space byte.
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n' || out.back() == '\r' || out.back() == '\t'))
    out.remove_suffix(1);
  return {};
}

Status Value::for_each_field(FunctionRef<Status(std::string_view, Value&)> fn) {
  const Slot& self = slot(impl_);
  od::object object;
  if (auto err = impl(impl_).get_object().get(object))
    return mismatch(impl(impl_), od::json_type::object, "an object", err);
  if (self.depth > self.max_depth) return too_deep(self.max_depth);
  for (auto field_result : object) {
    if (auto err = field_result.error()) return translate(err);
    od::field&& field = std::move(field_result).value_unsafe();  // stays inside field_result
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return translate(err);
    Slot child{&field.value(), self.depth + 1, self.max_depth};
    Value wrapped(&child);
    Status s = fn(key, wrapped);
    if (!s.ok()) return s;
  }
  return {};
}

Status Value::for_each_element(FunctionRef<Status(Value&)> fn) {
  const Slot& self = slot(impl_);
  od::array array;
  if (auto err = impl(impl_).get_array().get(array))
    return mismatch(impl(impl_), od::json_type::array, "an array", err);
  if (self.depth > self.max_depth) return too_deep(self.max_depth);
  for (auto element_result : array) {
    if (auto err = element_result.error()) return translate(err);
    od::value&& element = std::move(element_result).value_unsafe();  // stays inside element_result
    Slot child{&element, self.depth + 1, self.max_depth};
    Value wrapped(&child);
    Status s = fn(wrapped);
    if (!s.ok()) return s;
  }
  return {};
}

// ---- Entry points -----------------------------------------------------------------------------------

Status read(std::string_view bytes, const Limits& limits, FunctionRef<Status(Value& root)> fn) {
  thread_local ReadState state;
  if (state.busy) {
    ReadState nested;
    nested.busy = true;
    return read_with(nested, bytes, limits, fn);
  }
  // Cleared however fn leaves (a user codec may throw), so the thread's parser is reused afterwards.
  struct BusyGuard {
    bool& busy;
    ~BusyGuard() { busy = false; }
  };
  state.busy = true;
  BusyGuard guard{state.busy};
  return read_with(state, bytes, limits, fn);
}

Status validate_object(std::string_view bytes, const Limits& limits) {
  if (bytes.size() > limits.max_payload_bytes)
    return Status::invalid_argument(
        fmt::format("payload of {} bytes exceeds the limit of {} bytes", bytes.size(), limits.max_payload_bytes));
  thread_local simdjson::dom::parser parser;
  thread_local std::size_t depth_limit = 0;
  if (depth_limit != limits.max_json_depth || parser.capacity() < bytes.size()) {
    STRATA_RETURN_IF_ERROR(check_depth_limit(limits));
    std::size_t cap = std::max<std::size_t>(bytes.size(), std::max<std::size_t>(parser.capacity(), 4096));
    if (auto err = parser.allocate(cap, limits.max_json_depth)) return translate(err);
    depth_limit = limits.max_json_depth;
  }
  // A thread-owned padded copy: parse(..., realloc_if_needed=true) would allocate one per call.
  thread_local std::unique_ptr<char[]> buffer;
  thread_local std::size_t capacity = 0;
  const std::size_t needed = bytes.size() + simdjson::SIMDJSON_PADDING;
  if (needed > capacity) {
    capacity = std::max<std::size_t>(needed, capacity * 2);
    buffer = std::make_unique_for_overwrite<char[]>(capacity);
  }
  if (!bytes.empty()) std::memcpy(buffer.get(), bytes.data(), bytes.size());
  std::memset(buffer.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  if (auto err = parser.parse(buffer.get(), bytes.size(), false).get(root)) {
    if (err == simdjson::DEPTH_ERROR)
      return Status::invalid_argument(
          fmt::format("malformed json: nested deeper than the limit of {}", limits.max_json_depth));
    // simdjson refuses NaN, Infinity (as the writer spells them), integers beyond 64 bits and
    // overflowing doubles as malformed; say which number and why.
    if (err == simdjson::NUMBER_ERROR || err == simdjson::TAPE_ERROR || err == simdjson::N_ATOM_ERROR ||
        err == simdjson::T_ATOM_ERROR || err == simdjson::F_ATOM_ERROR) {
      if (Status s = refused_number_in(bytes); !s.ok()) return s;
    }
    return translate(err);
  }
  if (!root.is_object()) return Status::invalid_argument("payload must be a json object");
  return {};
}

}  // namespace strata::json
