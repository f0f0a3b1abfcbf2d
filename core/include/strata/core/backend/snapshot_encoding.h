// The persisted form of a snapshot, shared by every store that keeps snapshots: framing, the fields of
// SnapshotRecord and a CRC-32C over all of it. The grammar is written where it is encoded
// (core/src/snapshot.cc); never change it incompatibly. For backend implementers.
//
//   std::string bytes = strata::encode_snapshot(record);
//   STRATA_ASSIGN_OR_RETURN(strata::SnapshotRecord back, strata::decode_snapshot(bytes));
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "strata/core/snapshot.h"
#include "strata/core/status.h"

namespace strata {

std::string encode_snapshot(const SnapshotRecord& snapshot);
// kCorruption when `bytes` are damaged (checksum or framing).
Result<SnapshotRecord> decode_snapshot(std::string_view bytes);

}  // namespace strata
