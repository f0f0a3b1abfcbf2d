// PersonalData's quick scan for tokens, against its definition: the payload contains the prefix.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <string_view>

#include "strata/core/personal_data.h"

namespace {

bool contains_prefix(std::string_view payload) {
  return payload.find(strata::kPersonalTokenPrefix) != std::string_view::npos;
}

TEST_CASE("may_hold_tokens finds the token prefix wherever it stands, and only there") {
  const std::string prefix(strata::kPersonalTokenPrefix);
  const std::string cases[] = {
      "",
      prefix,
      prefix.substr(0, prefix.size() - 1),
      "\"" + prefix + "abc\"",
      "{\"a\":1.5,\"b\":\"" + prefix + "x\"}",
      "a.b.c" + prefix,          // dots close before the prefix
      "......" + prefix,         // as many dots as stand before the prefix's own
      "strata.pii.2." + prefix,  // a near miss first
      "strata.pii.1",            // one byte short
      "{\"memo\":\"no dots here\"}",
      "{\"v\":[1.5,2.5,3.5,4.5],\"s\":\"strata.pi.1.strata.pii\"}",
  };
  for (const std::string& c : cases) {
    CAPTURE(c);
    CHECK(strata::PersonalData::may_hold_tokens(c) == contains_prefix(c));
  }

  // Random strings over the prefix's own bytes and a few others, which make partial matches common.
  std::mt19937 random(20261129);
  const std::string_view alphabet = "strapi.1\" ,:{}x";
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const std::size_t size = random() % 48;
    for (std::size_t i = 0; i < size; ++i) s += alphabet[random() % alphabet.size()];
    if (random() % 4 == 0) s.insert(random() % (s.size() + 1), prefix);
    CAPTURE(s);
    REQUIRE(strata::PersonalData::may_hold_tokens(s) == contains_prefix(s));
  }
}

}  // namespace
