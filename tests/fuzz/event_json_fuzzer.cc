// Typed event decoding: strata::decode_json of arbitrary bytes into a struct with every kind of field the
// built-in codecs know (integers of each width, double, bool, string, Version, Position, optional, vector,
// vector<bool>, map, nested field tables).
//
// Invariants: decoding fails only with kInvalidArgument; a decoded value encodes to JSON that decodes to
// an equal value, and that encodes to the same bytes again.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "strata/core/codec.h"

namespace {

struct Line {
  std::string sku;
  std::uint32_t quantity = 0;
  double price = 0;
  static constexpr auto kFields = strata::fields(
      strata::field("sku", &Line::sku), strata::field("qty", &Line::quantity), strata::field("price", &Line::price));
  bool operator==(const Line&) const = default;
};

struct Ordered {
  std::string id;
  std::int64_t cents = 0;
  std::int32_t priority = 0;
  std::uint64_t sequence = 0;
  double ratio = 0;
  bool paid = false;
  strata::Version version = 0;
  strata::Position position = 0;
  std::optional<std::string> note;
  std::vector<Line> lines;
  std::vector<bool> flags;
  std::map<std::string, std::int64_t> tags;
  std::optional<Line> gift;
  std::vector<std::vector<std::string>> groups;
  static constexpr auto kFields =
      strata::fields(strata::field("id", &Ordered::id), strata::field("cents", &Ordered::cents),
                     strata::field("priority", &Ordered::priority), strata::field("sequence", &Ordered::sequence),
                     strata::field("ratio", &Ordered::ratio), strata::field("paid", &Ordered::paid),
                     strata::field("version", &Ordered::version), strata::field("position", &Ordered::position),
                     strata::field("note", &Ordered::note), strata::field("lines", &Ordered::lines),
                     strata::field("flags", &Ordered::flags), strata::field("tags", &Ordered::tags),
                     strata::field("gift", &Ordered::gift), strata::field("groups", &Ordered::groups));
  bool operator==(const Ordered&) const = default;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::StatusCode;
  Ordered event;
  strata::Status s = strata::decode_json(strata::fuzz::bytes_of(data, size), event);
  strata::fuzz::check_code(s, {StatusCode::kInvalidArgument});
  if (!s.ok()) return 0;

  const std::string json = strata::to_json(event);
  Ordered back;
  strata::Status again = strata::decode_json(json, back);
  if (!again.ok()) std::fprintf(stderr, "%s\nre-decoding %s\n", again.to_string().c_str(), json.c_str());
  STRATA_FUZZ_CHECK(again.ok());
  STRATA_FUZZ_CHECK(back == event);
  STRATA_FUZZ_CHECK(strata::to_json(back) == json);
  return 0;
}
