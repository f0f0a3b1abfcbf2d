// EventId: the 16-byte UUID that identifies one event for ever. Stores use it to make appends
// idempotent: resending an append whose event ids were already committed returns the original result
// and writes nothing.
//
//   strata::EventId id = strata::EventId::generate();          // random, UUID version 4
//   std::string text = id.to_string();                          // "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
//   auto back = strata::EventId::parse(text);
//
// Thread safety: a value; generate() may be called from any thread.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "strata/core/status.h"

namespace strata {

class EventId {
 public:
  // The nil UUID (all zero bytes). A nil id is never generated; stores reject it on append.
  constexpr EventId() noexcept : bytes_{} {}
  explicit constexpr EventId(const std::array<std::uint8_t, 16>& bytes) noexcept : bytes_(bytes) {}

  // A fresh random version-4 UUID (Boost.UUID, seeded once per thread from the OS).
  static EventId generate();
  // The id that idempotency key `key` gives its `index`-th event: a name-based (version-5, SHA-1) UUID,
  // the same in every process and every run. Inboxes and process managers derive the ids of what a
  // message or a step appends from its key, so that a redelivered message or a replayed step appends
  // the same ids and the store's idempotency absorbs it.
  static EventId derive(std::string_view key, std::uint64_t index = 0);
  // Parses the canonical 36-character form, upper or lower case hex; kInvalidArgument otherwise.
  static Result<EventId> parse(std::string_view text);
  // The id whose 16 bytes are `raw`; kInvalidArgument unless raw.size() == 16.
  static Result<EventId> from_bytes(std::string_view raw);

  bool is_nil() const noexcept;
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
  std::string_view as_bytes() const noexcept { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }
  // Lower-case canonical form: 8-4-4-4-12 hex digits.
  std::string to_string() const;

  friend constexpr bool operator==(const EventId&, const EventId&) noexcept = default;
  friend constexpr std::strong_ordering operator<=>(const EventId&, const EventId&) noexcept = default;

 private:
  std::array<std::uint8_t, 16> bytes_;
};

}  // namespace strata

template <>
struct std::hash<strata::EventId> {
  std::size_t operator()(const strata::EventId& id) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, id.bytes().data(), 8);
    std::memcpy(&b, id.bytes().data() + 8, 8);
    return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ull));
  }
};
