// The persisted form of a snapshot, shared by every store that keeps snapshots: framing, the fields of
// SnapshotRecord and a CRC-32C over all of it. The grammar is written where it is encoded
// (core/src/snapshot.cc); never change it incompatibly. For backend implementers.
//
//   std::string bytes = strata::encode_snapshot(record);
//   STRATA_ASSIGN_OR_RETURN(strata::SnapshotRecord back, strata::decode_snapshot(bytes));
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/snapshot.h"
#include "strata/core/status.h"

namespace strata {

std::string encode_snapshot(const SnapshotRecord& snapshot);
// kCorruption when `bytes` are damaged (checksum or framing).
Result<SnapshotRecord> decode_snapshot(std::string_view bytes);

// One stored snapshot of a stream, as retention sees it.
struct StoredSnapshot {
  Version version = 0;
  // Written as the schema being retained.
  bool of_schema = false;
  // false: a record no reader uses any more (an older layout), always deleted.
  bool readable = true;
};
// What SnapshotStore::retain_snapshots(stream, schema, keep) deletes, decided once for every store:
// given a stream's snapshots in ascending version order, true for each one to delete. The `keep` newest
// of the schema stay (keep = 0: none); once that many exist, snapshots of other schemas older than the
// oldest kept one go too, so that two builds writing side by side each keep their newest.
std::vector<bool> snapshots_to_drop(std::span<const StoredSnapshot> snapshots, std::size_t keep);

}  // namespace strata
