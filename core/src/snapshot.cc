#include "strata/core/snapshot.h"

#include <boost/crc.hpp>

#include "strata/core/backend/encoding.h"
#include "strata/core/backend/snapshot_encoding.h"

namespace strata {

// Snapshot encoding. Persisted by every store: never change it incompatibly.
//
//   snapshot := format:u8 = 1  version:be64  fingerprint:be64  snapshot_version:be32
//               payload_length:be32  payload{payload_length}  crc:be32
//   crc      := CRC-32C (Castagnoli) of every byte before it
namespace {
using encoding::put_be;

// The big-endian number of `bytes` bytes at offset `at` of `in`. REQUIRES: they are in `in`.
std::uint64_t get_be(std::string_view in, std::size_t at, int bytes) { return encoding::get_be(in.data() + at, bytes); }

constexpr std::uint8_t kSnapshotFormat = 1;
constexpr std::size_t kHeader = 1 + 8 + 8 + 4 + 4;

std::uint32_t crc32c(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}
}  // namespace

std::string encode_snapshot(const SnapshotRecord& s) {
  std::string out;
  out.reserve(kHeader + s.payload.size() + 4);
  out += static_cast<char>(kSnapshotFormat);
  put_be(out, s.version.value(), 8);
  put_be(out, s.schema_fingerprint, 8);
  put_be(out, s.snapshot_version, 4);
  put_be(out, s.payload.size(), 4);
  out += s.payload;
  put_be(out, crc32c(out), 4);
  return out;
}

Result<SnapshotRecord> decode_snapshot(std::string_view in) {
  if (in.size() < kHeader + 4) return Status::corruption("snapshot is truncated");
  if (static_cast<std::uint8_t>(in[0]) != kSnapshotFormat)
    return Status::corruption("snapshot has unknown format " + std::to_string(static_cast<unsigned char>(in[0])));
  const std::uint64_t length = get_be(in, 21, 4);
  if (in.size() != kHeader + length + 4) return Status::corruption("snapshot length does not match its framing");
  const std::uint32_t stored = static_cast<std::uint32_t>(get_be(in, kHeader + length, 4));
  if (crc32c(in.substr(0, kHeader + length)) != stored) return Status::corruption("snapshot checksum mismatch");
  SnapshotRecord s;
  s.version = get_be(in, 1, 8);
  s.schema_fingerprint = get_be(in, 9, 8);
  s.snapshot_version = static_cast<std::uint32_t>(get_be(in, 17, 4));
  s.payload.assign(in.substr(kHeader, length));
  return s;
}

std::vector<bool> snapshots_to_drop(std::span<const StoredSnapshot> snapshots, std::size_t keep) {
  std::vector<bool> drop(snapshots.size(), false);
  std::size_t kept = 0;
  Version oldest_kept = 0;
  for (std::size_t i = snapshots.size(); i-- > 0;) {
    const StoredSnapshot& s = snapshots[i];
    if (!s.readable) {
      drop[i] = true;
    } else if (s.of_schema) {
      if (kept < keep) {
        ++kept;
        oldest_kept = s.version;
      } else {
        drop[i] = true;
      }
    }
  }
  if (keep > 0 && kept == keep)
    for (std::size_t i = 0; i < snapshots.size(); ++i)
      if (snapshots[i].readable && !snapshots[i].of_schema && snapshots[i].version < oldest_kept) drop[i] = true;
  return drop;
}

}  // namespace strata
