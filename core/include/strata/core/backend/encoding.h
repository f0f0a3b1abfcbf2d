// The byte-level primitives of strata's persisted encodings: big-endian fixed-width integers and
// unsigned LEB128 varints. Every persisted grammar (metadata, snapshots, read-side state, the RocksDB
// store's keys and records) is written with these, so they must never change.
//
//   std::string out;
//   strata::encoding::put_be(out, version, 8);
//   strata::encoding::put_varint(out, payload.size());
//   std::string_view in = out;
//   std::uint64_t n;
//   bool ok = strata::encoding::get_varint(in, n);   // advances `in`
//
// Thread safety: pure functions.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace strata::encoding {

// Appends the low `bytes` bytes of `v`, most significant first.
inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
// Writes the low `bytes` bytes of `v`, most significant first, to out[0..bytes).
inline void put_be(char* out, std::uint64_t v, int bytes) noexcept {
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
// Reads `bytes` bytes at `in` as a big-endian number. REQUIRES: they are readable.
inline std::uint64_t get_be(const char* in, int bytes) noexcept {
  if (bytes == 8) {  // keys' and records' full words: one load (GCC does not fuse the byte loop into it)
    std::uint64_t word;
    std::memcpy(&word, in, 8);
    if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
    return word;
  }
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
// The number of bytes put_varint(v) appends.
inline std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
// Reads a varint off the front of `in`, advancing it; false when `in` does not start with one.
inline bool get_varint(std::string_view& in, std::uint64_t& v) noexcept {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= std::uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace strata::encoding
