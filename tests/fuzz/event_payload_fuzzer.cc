// What an append checks before anything is written: check_append() of an event whose type name and JSON
// payload are the input (`type '\n' payload`; no newline: all payload), with a JSON depth limit of 8 so
// that the limit is within reach of short inputs.
//
// Invariants: check_append fails only with kInvalidArgument, and refuses the same event twice in one
// append. A payload it accepts can be read back whole by json::read under the same limits (every value
// through the typed getters), and writing what was read gives JSON that is accepted again and reads back
// to the same bytes: what a store accepts, replay can read.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "strata/core/backend/append_checks.h"
#include "strata/core/json.h"

namespace {

using strata::Status;
namespace json = strata::json;

// Reads `v` whole, writing it to `w`: numbers as the first of int64, uint64 and double that reads them.
Status copy(json::Value& v, json::Writer& w) {
  strata::Result<json::Type> type = v.type();
  if (!type.ok()) return type.status();
  switch (*type) {
    case json::Type::kObject:
      w.begin_object();
      STRATA_RETURN_IF_ERROR(v.for_each_field([&](std::string_view key, json::Value& field) {
        w.key(key);
        return copy(field, w);
      }));
      w.end_object();
      return {};
    case json::Type::kArray:
      w.begin_array();
      STRATA_RETURN_IF_ERROR(v.for_each_element([&](json::Value& element) { return copy(element, w); }));
      w.end_array();
      return {};
    case json::Type::kNumber: {
      std::string_view text;
      STRATA_RETURN_IF_ERROR(v.get_raw_json(text));
      const bool integral = text.find_first_of(".eE") == std::string_view::npos;
      if (integral) {
        std::int64_t i = 0;
        if (v.get(i).ok()) {
          w.int64(i);
          return {};
        }
        std::uint64_t u = 0;
        if (v.get(u).ok()) {
          w.uint64(u);
          return {};
        }
      }
      double d = 0;
      STRATA_RETURN_IF_ERROR(v.get(d));
      w.float64(d);
      return {};
    }
    case json::Type::kString: {
      std::string_view s;
      STRATA_RETURN_IF_ERROR(v.get_string_view(s));
      w.string(s);
      return {};
    }
    case json::Type::kBoolean: {
      bool b = false;
      STRATA_RETURN_IF_ERROR(v.get(b));
      w.boolean(b);
      return {};
    }
    case json::Type::kNull:
      if (!v.is_null()) return Status::invalid_argument("a null that is not null");
      w.null();
      return {};
  }
  return Status::internal("unknown json type");
}

Status read_back(std::string_view payload, const strata::Limits& limits, std::string& out) {
  out.clear();
  json::Writer w(out);
  return json::read(payload, limits, [&](json::Value& root) { return copy(root, w); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::StatusCode;
  const std::string_view input = strata::fuzz::bytes_of(data, size);
  const std::size_t newline = input.find('\n');
  strata::EventData event;
  event.id = strata::EventId::derive("fuzz", size);
  event.type = newline == std::string_view::npos ? "fuzz.event.v1" : std::string(input.substr(0, newline));
  event.payload = newline == std::string_view::npos ? std::string(input) : std::string(input.substr(newline + 1));
  event.metadata.correlation_id = "fuzz";
  strata::Limits limits;
  limits.max_json_depth = 8;
  static const strata::StreamId stream = *strata::StreamId::parse("fuzz-1");

  const std::vector<strata::EventData> one{event};
  const Status s = strata::check_append(stream, one, limits);
  strata::fuzz::check_code(s, {StatusCode::kInvalidArgument});
  STRATA_FUZZ_CHECK(s.ok() == strata::validate_event(event, limits).ok());
  if (!s.ok()) return 0;
  const std::vector<strata::EventData> twice{event, event};
  strata::fuzz::check_code(strata::check_append(stream, twice, limits), {StatusCode::kInvalidArgument});
  STRATA_FUZZ_CHECK(!strata::check_append(stream, twice, limits).ok());

  std::string copied;
  Status read = read_back(event.payload, limits, copied);
  if (!read.ok()) std::fprintf(stderr, "accepted payload does not read back: %s\n", read.to_string().c_str());
  STRATA_FUZZ_CHECK(read.ok());
  Status valid = json::validate_object(copied, limits);
  if (!valid.ok())
    std::fprintf(stderr, "rewritten payload %s refused: %s\n", copied.c_str(), valid.to_string().c_str());
  STRATA_FUZZ_CHECK(valid.ok());
  std::string again;
  STRATA_FUZZ_CHECK(read_back(copied, limits, again).ok());
  STRATA_FUZZ_CHECK(again == copied);
  return 0;
}
