// StreamId: the validated name of an event stream, such as "account-42".
//
// A stream id is validated once, at the edge, by StreamId::parse: 1 to 128 bytes of [A-Za-z0-9_.:-].
// Its category is the part before the first '-' ("account-42" -> "account"), or the whole id when it has
// no '-'. Code that holds a StreamId may rely on it being valid.
//
//   STRATA_ASSIGN_OR_RETURN(strata::StreamId id, strata::StreamId::parse("account-42"));
//   id.category();   // "account"
//
// Thread safety: a value.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "strata/core/status.h"

namespace strata {

class StreamId {
 public:
  static constexpr std::size_t kMaxBytes = 128;

  // The stream id `text`, or kInvalidArgument naming the first offending byte and its offset, or the
  // length, when `text` is empty, longer than kMaxBytes, or has a byte outside [A-Za-z0-9_.:-].
  static Result<StreamId> parse(std::string_view text);

  // Whether parse(text) would succeed.
  static bool is_valid(std::string_view text) noexcept;

  const std::string& str() const noexcept { return value_; }
  std::string_view view() const noexcept { return value_; }
  // The part before the first '-', or the whole id.
  std::string_view category() const noexcept;

  friend bool operator==(const StreamId&, const StreamId&) = default;
  friend std::strong_ordering operator<=>(const StreamId&, const StreamId&) = default;

 private:
  explicit StreamId(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

}  // namespace strata

template <>
struct std::hash<strata::StreamId> {
  std::size_t operator()(const strata::StreamId& id) const noexcept { return std::hash<std::string>{}(id.str()); }
};
