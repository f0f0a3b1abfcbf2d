#include "strata/core/expected_version.h"

#include <doctest/doctest.h>

using strata::ExpectedVersion;

TEST_CASE("any matches every head, including no stream") {
  constexpr auto e = ExpectedVersion::any();
  CHECK(e.kind() == ExpectedVersion::Kind::kAny);
  CHECK(e.matches(0));
  CHECK(e.matches(1));
  CHECK(e.matches(1'000'000));
  CHECK(e.to_string() == "any");
}

TEST_CASE("no_stream matches only head 0") {
  constexpr auto e = ExpectedVersion::no_stream();
  CHECK(e.kind() == ExpectedVersion::Kind::kNoStream);
  CHECK(e.matches(0));
  CHECK_FALSE(e.matches(1));
  CHECK(e.to_string() == "no stream");
}

TEST_CASE("stream_exists matches every head but 0") {
  constexpr auto e = ExpectedVersion::stream_exists();
  CHECK(e.kind() == ExpectedVersion::Kind::kStreamExists);
  CHECK_FALSE(e.matches(0));
  CHECK(e.matches(1));
  CHECK(e.matches(42));
  CHECK(e.to_string() == "stream exists");
}

TEST_CASE("exact matches only its version and renders as the number") {
  constexpr auto e = ExpectedVersion::exact(3);
  CHECK(e.kind() == ExpectedVersion::Kind::kExact);
  CHECK(e.version() == 3);
  CHECK(e.matches(3));
  CHECK_FALSE(e.matches(2));
  CHECK_FALSE(e.matches(4));
  CHECK_FALSE(e.matches(0));
  CHECK(e.to_string() == "3");
  CHECK(ExpectedVersion::exact(18446744073709551615u).to_string() == "18446744073709551615");
}

TEST_CASE("exact(0) is no_stream") {
  static_assert(ExpectedVersion::exact(0) == ExpectedVersion::no_stream());
  CHECK(ExpectedVersion::exact(0).to_string() == "no stream");
  CHECK(ExpectedVersion::exact(0).matches(0));
  CHECK_FALSE(ExpectedVersion::exact(0).matches(1));
}

TEST_CASE("expected versions compare by kind and version") {
  CHECK(ExpectedVersion::exact(2) == ExpectedVersion::exact(2));
  CHECK(ExpectedVersion::exact(2) != ExpectedVersion::exact(3));
  CHECK(ExpectedVersion::any() != ExpectedVersion::stream_exists());
}
