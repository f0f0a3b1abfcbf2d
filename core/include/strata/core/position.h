// Where an event stands: its version in its stream, its position in the global log, and its commit time.
//
// A stream's first event has version 1; version 0 means "no events" (the stream does not exist). The
// global log's first event has position 1; position 0 means "before the first event". Commit
// timestamps are microseconds since the Unix epoch, assigned by the store's commit path and
// non-decreasing along the log.
//
// Version and Position are two distinct types over one std::uint64_t each, so that one is never passed
// where the other is meant: a Position given to a function that takes a Version, assigned to a Version,
// or compared with one, does not compile. Both are built implicitly from an integer, compare with
// integers, and read back as a number with value(). They cost nothing over the plain integer: each is
// trivially copyable, one word, and every operation is constexpr and inline.
//
//   strata::Version v = 3;                                   // the third event of a stream
//   strata::Position p = slice.next_position;                // where a log reader goes on
//   std::uint64_t behind = store.head_position() - p;        // a distance is a plain number
//   put_be(out, v.value(), 8);                               // the number, for bytes and messages
//   strata::Timestamp t = strata::to_timestamp(std::chrono::system_clock::now());
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

namespace strata {

namespace detail {

// What a Version or a Position is made from implicitly: any integer but bool.
template <class T>
concept SequenceInteger = std::integral<T> && !std::same_as<T, bool>;

// The shared implementation of Version and Position: a number along a sequence, which only the type
// `Derived` (`class Version : public SequenceNumber<Version>`) can be made of, compared with and moved
// along. Operators take and return `Derived`, so values of two different sequences never mix.
template <class Derived>
class SequenceNumber {
 public:
  // 0: "nothing yet".
  constexpr SequenceNumber() noexcept = default;
  // Implicit from any integer but bool, so literals and counts read as before: `strata::Version v = 3;`,
  // `store.read_log(1, 100)`. The integer is converted as to std::uint64_t.
  template <SequenceInteger Integer>
  constexpr SequenceNumber(Integer value) noexcept : value_(static_cast<std::uint64_t>(value)) {}

  // The number, for encodings, messages and arithmetic on plain integers.
  constexpr std::uint64_t value() const noexcept { return value_; }
  // The same, spelled as a cast; never implicit.
  constexpr explicit operator std::uint64_t() const noexcept { return value_; }

  friend constexpr bool operator==(Derived a, Derived b) noexcept { return a.value_ == b.value_; }
  friend constexpr std::strong_ordering operator<=>(Derived a, Derived b) noexcept { return a.value_ <=> b.value_; }

  // Moving along the sequence by `n` gives a value of the same sequence (modulo 2^64, as the number would).
  friend constexpr Derived operator+(Derived x, std::uint64_t n) noexcept { return Derived(x.value_ + n); }
  friend constexpr Derived operator+(std::uint64_t n, Derived x) noexcept { return Derived(n + x.value_); }
  friend constexpr Derived operator-(Derived x, std::uint64_t n) noexcept { return Derived(x.value_ - n); }
  // How far `b` is behind `a`: a plain number. REQUIRES: a >= b (else the distance wraps, as the number's).
  friend constexpr std::uint64_t operator-(Derived a, Derived b) noexcept { return a.value_ - b.value_; }

  constexpr Derived& operator+=(std::uint64_t n) noexcept {
    value_ += n;
    return self();
  }
  constexpr Derived& operator-=(std::uint64_t n) noexcept {
    value_ -= n;
    return self();
  }
  constexpr Derived& operator++() noexcept {
    ++value_;
    return self();
  }
  constexpr Derived& operator--() noexcept {
    --value_;
    return self();
  }
  constexpr Derived operator++(int) noexcept {
    Derived before = self();
    ++value_;
    return before;
  }
  constexpr Derived operator--(int) noexcept {
    Derived before = self();
    --value_;
    return before;
  }

 private:
  constexpr Derived& self() noexcept { return static_cast<Derived&>(*this); }

  std::uint64_t value_ = 0;
};

}  // namespace detail

// A stream version: 1 for the first event of a stream, 0 for "no events".
class Version : public detail::SequenceNumber<Version> {
 public:
  using SequenceNumber::SequenceNumber;
};

// A position in the global log: 1 for the first event ever committed, 0 for "before the first".
class Position : public detail::SequenceNumber<Position> {
 public:
  using SequenceNumber::SequenceNumber;
};

static_assert(sizeof(Version) == sizeof(std::uint64_t) && std::is_trivially_copyable_v<Version>);
static_assert(sizeof(Position) == sizeof(std::uint64_t) && std::is_trivially_copyable_v<Position>);
static_assert(!std::is_convertible_v<Position, Version> && !std::is_convertible_v<Version, Position>);
static_assert(!std::is_convertible_v<Version, std::uint64_t> && !std::is_convertible_v<Position, std::uint64_t>);

// The number in decimal, for messages and tests: "42".
inline std::string to_string(Version v) { return std::to_string(v.value()); }
inline std::string to_string(Position p) { return std::to_string(p.value()); }

// Commit timestamps: microseconds since the Unix epoch.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// Any system-clock time point as a Timestamp, rounded down to the microsecond: what
// Repository::load_as_of and EventStore::version_as_of take.
//   accounts.load_as_of(id, strata::to_timestamp(std::chrono::system_clock::now()));
template <class Duration>
constexpr Timestamp to_timestamp(std::chrono::sys_time<Duration> t) noexcept {
  return std::chrono::floor<std::chrono::microseconds>(t);
}

}  // namespace strata

// Hashed as their numbers, so an unordered container keyed by them behaves as one keyed by the integer.
template <>
struct std::hash<strata::Version> {
  std::size_t operator()(strata::Version v) const noexcept { return std::hash<std::uint64_t>{}(v.value()); }
};
template <>
struct std::hash<strata::Position> {
  std::size_t operator()(strata::Position p) const noexcept { return std::hash<std::uint64_t>{}(p.value()); }
};
