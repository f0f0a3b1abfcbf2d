// Snapshots in their persisted encoding (core/src/snapshot.cc): decode_snapshot of arbitrary bytes, and of
// the same bytes with their last four replaced by the right CRC-32C, so that the framing behind the
// checksum is reached too.
//
// Invariants: decoding fails only with kCorruption; a decoded snapshot encodes to exactly the input (the
// encoding is fixed width: one spelling per record).
#include <boost/crc.hpp>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/core/backend/encoding.h"
#include "strata/core/backend/snapshot_encoding.h"

namespace {

void check(std::string_view bytes) {
  strata::Result<strata::SnapshotRecord> snapshot = strata::decode_snapshot(bytes);
  strata::fuzz::check_code(snapshot.status(), {strata::StatusCode::kCorruption});
  if (!snapshot.ok()) return;
  STRATA_FUZZ_CHECK(strata::encode_snapshot(*snapshot) == bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = strata::fuzz::bytes_of(data, size);
  check(bytes);
  if (bytes.size() < 4) return 0;
  std::string sealed(bytes.substr(0, bytes.size() - 4));
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(sealed.data(), sealed.size());
  strata::encoding::put_be(sealed, crc.checksum(), 4);
  check(sealed);
  return 0;
}
