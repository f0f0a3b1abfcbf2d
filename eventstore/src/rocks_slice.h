// Conversions between strata's byte views and RocksDB's Slice, shared by every source of the RocksDB
// store.
//
//   db->Get(options, family, slice(key), &value);
//   std::string_view bytes = view_of(it->value());
//
// Thread safety: functions of their arguments only.
#pragma once

#include <rocksdb/slice.h>

#include <array>
#include <cstddef>
#include <string_view>

namespace strata::detail {

inline rocksdb::Slice slice(std::string_view s) noexcept { return {s.data(), s.size()}; }
template <std::size_t N>
rocksdb::Slice slice(const std::array<char, N>& a) noexcept {
  return {a.data(), N};
}
inline std::string_view view_of(const rocksdb::Slice& s) noexcept { return {s.data(), s.size()}; }

}  // namespace strata::detail
