// Opening a RocksEventStore over a RocksDB FileSystem of the caller's, for tests that inject faults
// (failed writes and syncs, full disks, power loss) below the store.
//
//   auto fs = std::make_shared<MyFaultyFileSystem>();      // a rocksdb::FileSystemWrapper
//   STRATA_ASSIGN_OR_RETURN(auto store, strata::testing::open_with_file_system(options, dir, fs));
//
// Not for production: the store's durability is then whatever `file_system` makes of it.
//
// Thread safety: as RocksEventStore::open. REQUIRES: `file_system` outlives the store.
#pragma once

#include <memory>
#include <string_view>

#include "strata/core/status.h"
#include "strata/eventstore/rocks_event_store.h"

namespace rocksdb {
class FileSystem;
}

namespace strata::testing {

// As RocksEventStore::open, with every file the store's RocksDB reads or writes going through
// `file_system`.
[[nodiscard]] Result<std::unique_ptr<RocksEventStore>> open_with_file_system(
    const RocksEventStore::Options& options, std::string_view path, std::shared_ptr<rocksdb::FileSystem> file_system);

}  // namespace strata::testing
