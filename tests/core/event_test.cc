#include "strata/core/event.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "strata/core/backend/append_checks.h"
#include "strata/core/backend/metadata_encoding.h"

using strata::EventData;
using strata::EventId;
using strata::Limits;
using strata::Metadata;
using strata::Status;
using strata::StatusCode;

namespace {

EventData event(std::string type = "bank.deposited.v1", std::string payload = R"({"cents":500})") {
  return EventData{EventId::generate(), std::move(type), std::move(payload), {}};
}

std::string validate(const EventData& e, const Limits& limits = {}) {
  return strata::validate_event(e, limits).to_string();
}

Metadata full_metadata() {
  Metadata m;
  m.correlation_id = "req-7";
  m.causation_id = "cmd-3";
  m.headers = {{"user", "alice"}, {"tenant", "t\xc3\xa9"}, {"empty", ""}, {std::string("bin\0ary", 7), "\xff\x00"}};
  return m;
}

std::string encoded(const Metadata& m) {
  std::string out;
  strata::encode_metadata(m, out);
  return out;
}

}  // namespace

TEST_CASE("a well-formed event passes validate_event") {
  CHECK(validate(event()) == "ok");
  EventData e = event("a", "{}");
  e.metadata = full_metadata();
  CHECK(validate(e) == "ok");
  CHECK(validate(event(std::string(256, 't'))) == "ok");
}

TEST_CASE("validate_event refuses bad type names naming the byte, the offset or the length") {
  CHECK(validate(event("")) == "invalid argument: invalid event: empty type name");
  CHECK(validate(event(std::string(257, 't'))) ==
        "invalid argument: invalid event type \"" + std::string(32, 't') + "...\": 257 bytes, at most 256 allowed");
  CHECK(validate(event("bank deposited")) ==
        "invalid argument: invalid event type \"bank deposited\": byte 0x20 at offset 4 is not one of [A-Za-z0-9_.:-]");
  CHECK(validate(event("bank/deposited")).find("byte 0x2f at offset 4") != std::string::npos);
  CHECK(validate(event("caf\xc3\xa9")).find("byte 0xc3 at offset 3") != std::string::npos);
  Limits limits;
  limits.max_type_bytes = 4;
  CHECK(validate(event("abcd"), limits) == "ok");
  CHECK(validate(event("abcde"), limits) ==
        "invalid argument: invalid event type \"abcde...\": 5 bytes, at most 4 allowed");
}

TEST_CASE("validate_event refuses a nil event id") {
  EventData e = event();
  e.id = EventId();
  CHECK(validate(e) == "invalid argument: invalid event \"bank.deposited.v1\": nil event id");
}

TEST_CASE("validate_event refuses payloads that are not one json object within the limits") {
  CHECK(validate(event("t.v1", "[]")) == "invalid argument: invalid event \"t.v1\": payload must be a json object");
  CHECK(validate(event("t.v1", "")) == "invalid argument: invalid event \"t.v1\": malformed json: empty document");
  CHECK(validate(event("t.v1", R"({"a":1} {})")).rfind("invalid argument: invalid event \"t.v1\": malformed json", 0) ==
        0);
  CHECK(validate(event("t.v1", "{\"a\":\"\xfe\"}")) ==
        "invalid argument: invalid event \"t.v1\": malformed json: invalid utf-8");
  Limits limits;
  limits.max_payload_bytes = 10;
  CHECK(validate(event("t.v1", R"({"a":"123456"})"), limits) ==
        "invalid argument: invalid event \"t.v1\": payload of 14 bytes exceeds the limit of 10 bytes");
  limits = Limits{};
  limits.max_json_depth = 2;
  CHECK(validate(event("t.v1", R"({"a":[]})"), limits) == "ok");
  CHECK(validate(event("t.v1", R"({"a":[[]]})"), limits) ==
        "invalid argument: invalid event \"t.v1\": malformed json: nested deeper than the limit of 2");
}

TEST_CASE("validate_event refuses empty or repeated header keys and oversize metadata") {
  EventData e = event();
  e.metadata.headers = {{"", "x"}};
  CHECK(validate(e) == "invalid argument: invalid metadata of event \"bank.deposited.v1\": empty header key");
  e.metadata.headers = {{"k", "1"}, {"j", "2"}, {"k", "3"}};
  CHECK(validate(e) == "invalid argument: invalid metadata of event \"bank.deposited.v1\": header \"k\" appears twice");
  Limits limits;
  limits.max_metadata_bytes = 16;
  e.metadata = Metadata{};
  e.metadata.correlation_id = std::string(13, 'c');  // 1 format + 1+13 + 1 + 1 = 17 bytes
  CHECK(validate(e, limits) ==
        "invalid argument: invalid metadata of event \"bank.deposited.v1\": 17 bytes exceeds the limit of 16 bytes");
  e.metadata.correlation_id.pop_back();
  CHECK(validate(e, limits) == "ok");
}

TEST_CASE("check_append names the first event whose id an earlier event of the append has") {
  const auto stream = strata::StreamId::parse("account-1").value();
  EventData a = event(), b = event(), c = event(), d = event();
  auto check = [&](std::vector<EventData> events) { return strata::check_append(stream, events, {}).to_string(); };
  CHECK(check({a, b, c, d}) == "ok");
  const std::string b_twice =
      "invalid argument: append to stream \"account-1\": event id " + b.id.to_string() + " appears twice (event ";
  CHECK(check({a, b, c, b, a}) == b_twice + "3)");
  CHECK(check({d, c, b, a, b, c}) == b_twice + "4)");
  CHECK(check({c, b, c, b}) ==
        "invalid argument: append to stream \"account-1\": event id " + c.id.to_string() + " appears twice (event 2)");
}

TEST_CASE("metadata round-trips through its encoding, and empty metadata is zero bytes") {
  const Metadata m = full_metadata();
  const std::string bytes = encoded(m);
  CHECK(bytes.size() == strata::encoded_metadata_size(m));
  Metadata back;
  back.correlation_id = "stale";
  back.headers = {{"stale", "x"}};
  REQUIRE(strata::decode_metadata(bytes, back).ok());
  CHECK(back == m);

  CHECK(encoded(Metadata{}).empty());
  CHECK(strata::encoded_metadata_size(Metadata{}) == 0);
  REQUIRE(strata::decode_metadata("", back).ok());
  CHECK(back == Metadata{});
  CHECK(back.empty());

  Metadata only_header;
  only_header.headers = {{"k", "v"}};
  CHECK(encoded(only_header) == std::string("\x01\x00\x00\x01\x01k\x01v", 8));
}

TEST_CASE("long metadata strings use multi-byte lengths") {
  Metadata m;
  m.causation_id = std::string(300, 'c');
  m.headers = {{std::string(20000, 'k'), std::string(128, 'v')}};
  const std::string bytes = encoded(m);
  CHECK(bytes.size() == strata::encoded_metadata_size(m));
  CHECK(bytes.substr(0, 4) == std::string("\x01\x00\xac\x02", 4));
  Metadata back;
  REQUIRE(strata::decode_metadata(bytes, back).ok());
  CHECK(back == m);
}

TEST_CASE("corrupted metadata bytes are kCorruption, never a crash") {
  const std::string good = encoded(full_metadata());
  auto code = [](std::string_view bytes) {
    Metadata m;
    return strata::decode_metadata(bytes, m).code();
  };
  CHECK(code(good) == StatusCode::kOk);
  CHECK(code(std::string("\x02", 1) + good.substr(1)) == StatusCode::kCorruption);  // unknown format
  CHECK(code(good + "x") == StatusCode::kCorruption);                               // trailing bytes
  for (std::size_t n = 1; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK(code(good.substr(0, n)) == StatusCode::kCorruption);  // every truncation
  }
  CHECK(code(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12)) == StatusCode::kCorruption);
  CHECK(code(std::string("\x01\x00\x00\xff\xff\xff\xff\x0f", 8)) == StatusCode::kCorruption);  // huge header count
  CHECK(code(std::string("\x01\x05\x61", 3)) == StatusCode::kCorruption);                      // length past the end
  Metadata m;
  CHECK(strata::decode_metadata("\x07", m).to_string() == "corruption: event metadata is not in a known encoding");
  // Flipping any single byte never crashes; it decodes or is kCorruption.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x80);
    StatusCode c = code(bad);
    CHECK((c == StatusCode::kOk || c == StatusCode::kCorruption));
  }
}

TEST_CASE("header() finds a header's value by key") {
  const Metadata m = full_metadata();
  REQUIRE(m.header("user") != nullptr);
  CHECK(*m.header("user") == "alice");
  CHECK(*m.header("empty") == "");
  CHECK(m.header("missing") == nullptr);
}

TEST_CASE("an event view decodes its metadata and copies itself into a recorded event") {
  const std::string meta = encoded(full_metadata());
  const EventId id = EventId::generate();
  strata::EventView view{
      "account-1",     3, 9, id, "bank.deposited.v2", strata::Timestamp(std::chrono::microseconds(42)), meta,
      R"({"cents":1})"};
  CHECK(view.metadata().value() == full_metadata());
  strata::RecordedEvent r = view.to_recorded().value();
  CHECK(r == strata::RecordedEvent{"account-1", 3, 9, id, "bank.deposited.v2",
                                   strata::Timestamp(std::chrono::microseconds(42)), full_metadata(),
                                   R"({"cents":1})"});
  CHECK(r.schema_version() == 2);
  view.encoded_metadata = "\x09garbage";
  CHECK(view.metadata().status().code() == StatusCode::kCorruption);
  CHECK(view.to_recorded().status().code() == StatusCode::kCorruption);
}

TEST_CASE("schema_version_of reads the .v<N> suffix and is 1 without one") {
  CHECK(strata::schema_version_of("bank.deposited.v1") == 1);
  CHECK(strata::schema_version_of("bank.deposited.v2") == 2);
  CHECK(strata::schema_version_of("bank.deposited.v12") == 12);
  CHECK(strata::schema_version_of("bank.deposited") == 1);
  CHECK(strata::schema_version_of("bank.deposited.v") == 1);
  CHECK(strata::schema_version_of("bank.deposited.v0") == 1);
  CHECK(strata::schema_version_of("bank.deposited.v2x") == 1);
  CHECK(strata::schema_version_of("bank.v3.deposited") == 1);
  CHECK(strata::schema_version_of("v7") == 1);
  CHECK(strata::schema_version_of("") == 1);
  CHECK(strata::schema_version_of("x.v999999999") == 999999999);
  CHECK(strata::schema_version_of("x.v99999999999") == 1);
}
