// The checks that an existing store passes before RocksDB may write to it: run on the database opened
// read-only (which writes nothing), they refuse a store that would recover to something other than
// what it held, since the read-write open would then rewrite the MANIFEST and delete the table files
// and logs that the recovered state no longer names.
#pragma once

#include <rocksdb/db.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store_directory.h"
#include "strata/core/status.h"
#include "strata/eventstore/rocks_event_store.h"

namespace strata::detail {

// kCorruption for a damaged store: `what` names the damage; the message says that nothing was changed
// and how to recover.
Status damaged_store(std::string_view context, std::string_view what);

// Checks the format version record's value (kCorruption when it is damaged or newer than this build).
Status check_format_version(std::string_view value, std::string_view context);

// Checks the database `db`, opened read-only with the families `names` (`handles` in the same order):
// it is a strata store of a version this build reads, its log reaches the marker's high-water mark,
// and its families agree about the last event of the log.
Status verify_recovered_database(rocksdb::DB& db, const std::vector<std::string>& names,
                                 const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                                 const std::optional<StoreMarker>& marker, std::string_view context);

// The column families of a store's database; a family the database lacks is nullptr.
struct StoreFamilies {
  rocksdb::DB& db;
  rocksdb::ColumnFamilyHandle* default_family = nullptr;
  rocksdb::ColumnFamilyHandle* streams = nullptr;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* log = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots = nullptr;
  rocksdb::ColumnFamilyHandle* projection_state = nullptr;
  rocksdb::ColumnFamilyHandle* projection_rows = nullptr;
  rocksdb::ColumnFamilyHandle* projection_parked = nullptr;
  rocksdb::ColumnFamilyHandle* subject_keys = nullptr;
};

// The families of `db` from its families `names` and `handles` (in the same order).
StoreFamilies store_families(rocksdb::DB& db, const std::vector<std::string>& names,
                             const std::vector<rocksdb::ColumnFamilyHandle*>& handles);

// Reads every family of the store on `snapshot` (nullptr: the database as it is) and adds what it counts
// and every invariant of FORMAT.md that does not hold to `report` (rocks_verify_store.cc). Fails only
// when the store cannot be read (kIOError); RocksDB's own corruption reports are problems.
Status verify_store(const StoreFamilies& families, const rocksdb::Snapshot* snapshot,
                    RocksEventStore::VerifyReport& report);

}  // namespace strata::detail
