#include "strata/core/stream_id.h"

#include <doctest/doctest.h>

#include <string>
#include <unordered_set>

using strata::StatusCode;
using strata::StreamId;

namespace {
// "ok <id>" or the error's message.
std::string parse(std::string_view text) {
  auto r = StreamId::parse(text);
  if (r.ok()) return "ok " + r->str();
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}
}  // namespace

TEST_CASE("stream ids of letters, digits and _.:- are accepted") {
  CHECK(parse("account-42") == "ok account-42");
  CHECK(parse("a") == "ok a");
  CHECK(parse("Tenant_7.orders:2024-01") == "ok Tenant_7.orders:2024-01");
  CHECK(parse("-") == "ok -");
  CHECK(parse("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") ==
        "ok ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-");
}

TEST_CASE("every byte outside [A-Za-z0-9_.:-] is refused and is_valid agrees with parse") {
  const std::string allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
  int accepted = 0;
  for (int b = 0; b < 256; ++b) {
    const std::string text = std::string("x") + static_cast<char>(b);
    const bool ok = StreamId::parse(text).ok();
    CHECK(ok == StreamId::is_valid(text));
    CHECK(ok == (allowed.find(static_cast<char>(b)) != std::string::npos));
    accepted += ok;
  }
  CHECK(accepted == 66);
}

TEST_CASE("an empty stream id is kInvalidArgument") {
  CHECK(parse("") == "invalid stream id: empty");
  CHECK_FALSE(StreamId::is_valid(""));
}

TEST_CASE("a stream id of 128 bytes is accepted and one of 129 bytes is kInvalidArgument naming the length") {
  CHECK(StreamId::parse(std::string(128, 'a')).ok());
  CHECK(StreamId::is_valid(std::string(128, 'a')));
  CHECK(parse(std::string(129, 'a')) ==
        "invalid stream id \"" + std::string(32, 'a') + "...\": 129 bytes, at most 128 allowed");
  CHECK_FALSE(StreamId::is_valid(std::string(129, 'a')));
}

TEST_CASE("a bad byte is named with its offset, printable ones quoted and others in hex") {
  CHECK(parse("account 42") == "invalid stream id \"account 42\": byte ' ' at offset 7 is not one of [A-Za-z0-9_.:-]");
  CHECK(parse("a/b") == "invalid stream id \"a/b\": byte '/' at offset 1 is not one of [A-Za-z0-9_.:-]");
  CHECK(parse("a\"b") == "invalid stream id \"a?b\": byte '\"' at offset 1 is not one of [A-Za-z0-9_.:-]");
  CHECK(parse("tab\there") == "invalid stream id \"tab?here\": byte 0x09 at offset 3 is not one of [A-Za-z0-9_.:-]");
  CHECK(parse(std::string("nul\0x", 5)) ==
        "invalid stream id \"nul?x\": byte 0x00 at offset 3 is not one of [A-Za-z0-9_.:-]");
  CHECK(parse("caf\xc3\xa9") == "invalid stream id \"caf??\": byte 0xc3 at offset 3 is not one of [A-Za-z0-9_.:-]");
  CHECK(parse("del\x7f") == "invalid stream id \"del?\": byte 0x7f at offset 3 is not one of [A-Za-z0-9_.:-]");
}

TEST_CASE("the category is the part before the first dash, or the whole id") {
  CHECK(StreamId::parse("account-42").value().category() == "account");
  CHECK(StreamId::parse("order-2024-01-7").value().category() == "order");
  CHECK(StreamId::parse("singleton").value().category() == "singleton");
  CHECK(StreamId::parse("-x").value().category() == "");
  CHECK(StreamId::parse("tenant:1.cart-9").value().category() == "tenant:1.cart");
}

TEST_CASE("stream ids compare, order and hash by their text") {
  auto a = StreamId::parse("a-1").value();
  auto b = StreamId::parse("b-1").value();
  CHECK(a == StreamId::parse("a-1").value());
  CHECK(a != b);
  CHECK(a < b);
  CHECK(a.view() == "a-1");
  std::unordered_set<StreamId> set{a, b, StreamId::parse("a-1").value()};
  CHECK(set.size() == 2);
}
