// ExpectedVersion: what an append expects of a stream's head (optimistic concurrency). A store refuses
// the append with kWrongExpectedVersion when the expectation does not hold:
//
//   store.append(id, strata::ExpectedVersion::no_stream(), events);   // create
//   store.append(id, strata::ExpectedVersion::exact(3), events);      // stream must be at version 3
//   store.append(id, strata::ExpectedVersion::any(), events);         // no check
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string>

#include "strata/core/position.h"

namespace strata {

class ExpectedVersion {
 public:
  enum class Kind : std::uint8_t { kExact = 0, kAny = 1, kNoStream = 2, kStreamExists = 3 };

  // No check: the append goes to the stream's end, whatever it is.
  static constexpr ExpectedVersion any() noexcept { return ExpectedVersion(Kind::kAny, 0); }
  // The stream must not exist (its head version is 0).
  static constexpr ExpectedVersion no_stream() noexcept { return ExpectedVersion(Kind::kNoStream, 0); }
  // The stream must exist (head version >= 1).
  static constexpr ExpectedVersion stream_exists() noexcept { return ExpectedVersion(Kind::kStreamExists, 0); }
  // The stream's head must be exactly `version`; exact(0) is the same as no_stream().
  static constexpr ExpectedVersion exact(Version version) noexcept {
    return version == 0 ? no_stream() : ExpectedVersion(Kind::kExact, version);
  }

  constexpr Kind kind() const noexcept { return kind_; }
  // Meaningful for kExact only.
  constexpr Version version() const noexcept { return version_; }
  // Whether a stream whose head is `head` (0 = no stream) satisfies this expectation.
  constexpr bool matches(Version head) const noexcept {
    switch (kind_) {
      case Kind::kAny:
        return true;
      case Kind::kNoStream:
        return head == 0;
      case Kind::kStreamExists:
        return head != 0;
      case Kind::kExact:
        return head == version_;
    }
    return false;
  }
  // "any", "no stream", "stream exists" or the number.
  std::string to_string() const;

  friend constexpr bool operator==(ExpectedVersion, ExpectedVersion) noexcept = default;

 private:
  constexpr ExpectedVersion(Kind kind, Version version) noexcept : kind_(kind), version_(version) {}
  Kind kind_;
  Version version_;
};

}  // namespace strata
