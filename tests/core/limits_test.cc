#include "strata/core/limits.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/json.h"
#include "strata/core/memory_event_store.h"

using strata::Limits;
using strata::StatusCode;

namespace {

constexpr std::size_t kHuge = std::numeric_limits<std::size_t>::max();

std::string validate(const Limits& limits) { return strata::validate_limits(limits).to_string(); }

struct Note {
  static constexpr std::string_view kType = "test.noted.v1";
  std::string text;
  static constexpr auto kFields = strata::fields(strata::field("text", &Note::text));
};

strata::StreamId sid(std::string_view s) { return strata::StreamId::parse(s).value(); }

}  // namespace

TEST_CASE("the default limits and the edges of every range are valid") {
  CHECK(validate(Limits{}) == "ok");
  Limits low;
  low.max_payload_bytes = 1;
  low.max_json_depth = 1;
  low.max_events_per_append = 1;
  low.max_metadata_bytes = 1;
  low.max_type_bytes = 1;
  CHECK(validate(low) == "ok");
  Limits high;
  high.max_payload_bytes = std::size_t{1} << 30;
  high.max_json_depth = 1024;
  high.max_events_per_append = 1'000'000;
  high.max_metadata_bytes = std::size_t{1} << 30;
  high.max_type_bytes = 4096;
  CHECK(validate(high) == "ok");
}

TEST_CASE("validate_limits names each option out of range, its value and its range") {
  auto with = [](auto member, std::size_t value) {
    Limits limits;
    limits.*member = value;
    return validate(limits);
  };
  CHECK(with(&Limits::max_json_depth, kHuge) ==
        "invalid argument: invalid limits: max_json_depth is 18446744073709551615, expected 1 to 1024");
  CHECK(with(&Limits::max_json_depth, std::size_t{1} << 32) ==
        "invalid argument: invalid limits: max_json_depth is 4294967296, expected 1 to 1024");
  CHECK(with(&Limits::max_json_depth, 0) ==
        "invalid argument: invalid limits: max_json_depth is 0, expected 1 to 1024");
  CHECK(with(&Limits::max_payload_bytes, 0) ==
        "invalid argument: invalid limits: max_payload_bytes is 0, expected 1 to 1073741824");
  CHECK(with(&Limits::max_payload_bytes, (std::size_t{1} << 30) + 1) ==
        "invalid argument: invalid limits: max_payload_bytes is 1073741825, expected 1 to 1073741824");
  CHECK(with(&Limits::max_events_per_append, 0) ==
        "invalid argument: invalid limits: max_events_per_append is 0, expected 1 to 1000000");
  CHECK(with(&Limits::max_events_per_append, 1'000'001) ==
        "invalid argument: invalid limits: max_events_per_append is 1000001, expected 1 to 1000000");
  CHECK(with(&Limits::max_metadata_bytes, kHuge) ==
        "invalid argument: invalid limits: max_metadata_bytes is 18446744073709551615, expected 1 to 1073741824");
  CHECK(with(&Limits::max_type_bytes, 0) ==
        "invalid argument: invalid limits: max_type_bytes is 0, expected 1 to 4096");
  CHECK(with(&Limits::max_type_bytes, 4097) ==
        "invalid argument: invalid limits: max_type_bytes is 4097, expected 1 to 4096");
}

TEST_CASE("MemoryEventStore::create refuses invalid limits and makes a store with valid ones") {
  strata::MemoryEventStore::Options options;
  options.limits.max_json_depth = kHuge;
  auto refused = strata::MemoryEventStore::create(options);
  REQUIRE(!refused.ok());
  CHECK(refused.status().to_string() ==
        "invalid argument: create memory event store: invalid limits: max_json_depth is 18446744073709551615, "
        "expected 1 to 1024");
  options.limits.max_json_depth = 8;
  auto store = strata::MemoryEventStore::create(options);
  REQUIRE(store.ok());
  CHECK((*store)->limits().max_json_depth == 8);
  CHECK((*store)->append(sid("note-1"), strata::ExpectedVersion::no_stream(), strata::to_event_data(Note{"x"})).ok());
}

TEST_CASE("a store constructed with a json depth no parser can honour refuses appends instead of crashing") {
  for (std::size_t depth : {kHuge, std::size_t{1} << 32, std::size_t{0}}) {
    CAPTURE(depth);
    strata::MemoryEventStore::Options options;
    options.limits.max_json_depth = depth;
    strata::MemoryEventStore store(options);
    auto r = store.append(sid("note-1"), strata::ExpectedVersion::any(), strata::to_event_data(Note{"x"}));
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().to_string() ==
          "invalid argument: append to stream \"note-1\": invalid limits: max_json_depth is " + std::to_string(depth) +
              ", expected 1 to 1024");
    CHECK(store.head_position() == 0);
  }
}

TEST_CASE("json parsing refuses a depth limit out of range before allocating for it") {
  for (std::size_t depth : {kHuge, std::size_t{1} << 32, std::size_t{0}}) {
    CAPTURE(depth);
    Limits limits;
    limits.max_json_depth = depth;
    const std::string expected =
        "invalid argument: invalid limits: max_json_depth is " + std::to_string(depth) + ", expected 1 to 1024";
    CHECK(strata::json::validate_object("{}", limits).to_string() == expected);
    Note note;
    CHECK(strata::decode_json(R"({"text":"x"})", note, limits).to_string() == expected);
    CHECK(strata::validate_event(strata::to_event_data(Note{"x"}), limits).to_string() ==
          "invalid argument: invalid event \"test.noted.v1\": " + expected.substr(18));
  }
  // The thread's parsers still work afterwards.
  Note note;
  CHECK(strata::decode_json(R"({"text":"x"})", note).ok());
  CHECK(strata::json::validate_object("{}", Limits{}).ok());
}
