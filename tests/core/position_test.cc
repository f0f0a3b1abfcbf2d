#include "strata/core/position.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event_store.h"

using strata::Position;
using strata::Version;

namespace {

// What a caller may and may not do with the two types, checked where it is decided: at compile time.
template <class T, class U>
concept Comparable = requires(T t, U u) {
  t == u;
};
template <class T, class U>
concept Addable = requires(T t, U u) {
  t + u;
};
template <class T, class U>
concept Subtractable = requires(T t, U u) {
  t - u;
};

static_assert(std::is_trivially_copyable_v<Version> && std::is_trivially_copyable_v<Position>);
static_assert(sizeof(Version) == 8 && sizeof(Position) == 8 && alignof(Position) == alignof(std::uint64_t));
static_assert(std::is_convertible_v<int, Version> && std::is_convertible_v<std::uint64_t, Position>);
static_assert(!std::is_convertible_v<bool, Version> && !std::is_convertible_v<double, Position>);
static_assert(!std::is_constructible_v<Version, Position> && !std::is_constructible_v<Position, Version>);
static_assert(!std::is_convertible_v<Version, std::uint64_t> && std::is_constructible_v<std::uint64_t, Version>);
static_assert(Comparable<Version, Version> && Comparable<Version, int> && Comparable<unsigned, Position>);
static_assert(!Comparable<Version, Position> && !Comparable<Position, Version>);
static_assert(Addable<Version, int> && Addable<std::uint64_t, Position>);
static_assert(!Addable<Version, Version> && !Addable<Position, Version>);
static_assert(std::is_same_v<decltype(Version{5} - Version{2}), std::uint64_t>);
static_assert(std::is_same_v<decltype(Position{5} - 2), Position>);
static_assert(!Subtractable<Position, Version> && !Subtractable<Version, Position>);
static_assert(std::is_same_v<decltype(Version{1}.value()), std::uint64_t>);

static_assert(Version{} == 0 && Position{} == 0);
static_assert(Version{7}.value() == 7 && static_cast<std::uint64_t>(Position{9}) == 9);
static_assert(strata::kEndOfStream.value() == ~std::uint64_t{0} && strata::kEndOfLog.value() == ~std::uint64_t{0});

struct Checkpointed {
  Version version;
  Position position;
  std::optional<Position> parked;
  std::vector<Version> seen;
  static constexpr auto kFields = strata::fields(
      strata::field("version", &Checkpointed::version), strata::field("position", &Checkpointed::position),
      strata::field("parked", &Checkpointed::parked), strata::field("seen", &Checkpointed::seen));
  bool operator==(const Checkpointed&) const = default;
};

std::string decode_error(std::string_view text) {
  Checkpointed out;
  return strata::decode_json(text, out).to_string();
}

}  // namespace

TEST_CASE("versions and positions are made from integers and read back as the number") {
  Version v = 3;
  Position p = 42u;
  Position from_count = std::size_t{7};
  CHECK(v.value() == 3);
  CHECK(p.value() == 42);
  CHECK(from_count.value() == 7);
  CHECK(Version{}.value() == 0);
  v = 10;
  CHECK(v.value() == 10);
  CHECK(strata::kEndOfStream.value() == 18446744073709551615u);
}

TEST_CASE("values of one type compare with each other and with integers") {
  constexpr Version two = 2, three = 3;
  CHECK(two < three);
  CHECK(three > two);
  CHECK(two <= two);
  CHECK(two != three);
  CHECK((two <=> three) == std::strong_ordering::less);
  CHECK(three == 3);
  CHECK(3 == three);
  CHECK(three > 2);
  CHECK(2 < three);
  CHECK(Position{0} == 0);
  CHECK(Position{6} > 5u);
  CHECK(strata::kEndOfLog > Position{~std::uint64_t{0} - 1});
}

TEST_CASE("moving by a count gives the same type and the difference of two values is a count") {
  constexpr Position p = 10;
  CHECK(p + 5 == 15);
  CHECK(5u + p == 15);
  CHECK(p - 3 == 7);
  CHECK(Position{15} - p == 5u);
  CHECK((Version{45} - Version{4}) + 1 == 42u);  // the number of events of versions 4..45
  Version v = 1;
  CHECK(++v == 2);
  CHECK(v++ == 2);
  CHECK(v == 3);
  CHECK(--v == 2);
  CHECK(v-- == 2);
  CHECK(v == 1);
  v += 10;
  CHECK(v == 11);
  v -= 4;
  CHECK(v == 7);
}

TEST_CASE("arithmetic wraps modulo 2^64 as the number does, so kEndOfStream + 1 is 0") {
  CHECK(strata::kEndOfStream + 1 == 0);
  CHECK(Position{0} - 1 == strata::kEndOfLog);
  CHECK(Version{1} - Version{2} == ~std::uint64_t{0});
}

TEST_CASE("to_string renders the number and is found from the value's namespace") {
  CHECK(to_string(Version{0}) == "0");
  CHECK(to_string(Position{42}) == "42");
  CHECK(strata::to_string(strata::kEndOfLog) == "18446744073709551615");
}

TEST_CASE("versions and positions hash as their numbers and key unordered containers") {
  CHECK(std::hash<Version>{}(Version{17}) == std::hash<std::uint64_t>{}(17));
  CHECK(std::hash<Position>{}(Position{17}) == std::hash<std::uint64_t>{}(17));
  std::unordered_map<Position, Version> version_at;
  version_at[Position{7}] = 2;
  version_at[Position{9}] = 3;
  version_at[Position{7}] = 4;
  CHECK(version_at.size() == 2);
  CHECK(version_at.at(7) == 4);
}

TEST_CASE("a position is an atomic value") {
  std::atomic<Position> published{0};
  CHECK(published.is_lock_free());
  published.store(published.load() + 3);
  Position expected = 3;
  CHECK(published.compare_exchange_strong(expected, Position{4}));
  CHECK(published.load() == 4);
}

TEST_CASE("fields of type Version and Position encode as unsigned json numbers and round-trip") {
  Checkpointed c{12, 3456, Position{78}, {1, 2, 3}};
  CHECK(strata::to_json(c) == R"({"version":12,"position":3456,"parked":78,"seen":[1,2,3]})");
  Checkpointed back;
  strata::throw_if_error(strata::decode_json(strata::to_json(c), back));
  CHECK(back == c);

  Checkpointed ends{strata::kEndOfStream, strata::kEndOfLog, std::nullopt, {}};
  CHECK(strata::to_json(ends) ==
        R"({"version":18446744073709551615,"position":18446744073709551615,"parked":null,"seen":[]})");
  strata::throw_if_error(strata::decode_json(strata::to_json(ends), back));
  CHECK(back == ends);
}

TEST_CASE("a Version or Position field that is not an unsigned 64-bit integer is kInvalidArgument naming it") {
  CHECK(decode_error(R"({"version":-1,"position":1,"seen":[]})") ==
        "invalid argument: field \"version\": expected an unsigned 64-bit integer, got -1");
  CHECK(decode_error(R"({"version":1,"position":"7","seen":[]})") ==
        "invalid argument: field \"position\": expected an unsigned 64-bit integer, got a string");
  CHECK(decode_error(R"({"version":1,"position":1,"seen":[1.5]})") ==
        "invalid argument: field \"seen\": element 0: expected an unsigned 64-bit integer, got 1.5");
}
