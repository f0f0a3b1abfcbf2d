#include "strata/core/event_id.h"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid.hpp>

namespace strata {
namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

EventId EventId::generate() {
  // One generator per thread, a Mersenne Twister seeded once from the OS. boost::uuids::random_generator
  // would read the OS's random source for every id: measurably slow on the append path. Event ids need
  // uniqueness, not unpredictability.
  thread_local boost::uuids::random_generator_mt19937 generator;
  boost::uuids::uuid u = generator();
  std::array<std::uint8_t, 16> bytes{};
  std::copy(u.begin(), u.end(), bytes.begin());
  return EventId(bytes);
}

EventId EventId::derive(std::string_view key, std::uint64_t index) {
  // strata's own namespace for derived ids (a fixed random UUID): never change it, or every derived id
  // changes and redeliveries across the change are no longer recognised.
  static constexpr boost::uuids::uuid kNamespace{
      {0x6b, 0x1e, 0x7a, 0x4f, 0x2c, 0x93, 0x4d, 0x51, 0x8a, 0x0e, 0x3f, 0xd2, 0x57, 0xc4, 0x19, 0x88}};
  boost::uuids::name_generator_sha1 generator(kNamespace);
  std::string name(key);
  name += '#';
  name += std::to_string(index);
  boost::uuids::uuid u = generator(name.data(), name.size());
  std::array<std::uint8_t, 16> bytes{};
  std::copy(u.begin(), u.end(), bytes.begin());
  return EventId(bytes);
}

Result<EventId> EventId::parse(std::string_view text) {
  std::array<std::uint8_t, 16> bytes{};
  auto bad = [&] {
    return Status::invalid_argument("invalid event id \"" + std::string(text.substr(0, 64)) +
                                    "\": expected 8-4-4-4-12 hex digits");
  };
  if (text.size() != 36) return bad();
  std::size_t b = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad();
      ++i;
      continue;
    }
    int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    bytes[b++] = static_cast<std::uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return EventId(bytes);
}

Result<EventId> EventId::from_bytes(std::string_view raw) {
  if (raw.size() != 16)
    return Status::invalid_argument("invalid event id: " + std::to_string(raw.size()) + " bytes, expected 16");
  std::array<std::uint8_t, 16> bytes{};
  std::copy(raw.begin(), raw.end(), bytes.begin());
  return EventId(bytes);
}

bool EventId::is_nil() const noexcept {
  for (auto b : bytes_)
    if (b != 0) return false;
  return true;
}

std::string EventId::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[bytes_[i] >> 4];
    s += kHex[bytes_[i] & 0xf];
  }
  return s;
}

}  // namespace strata
