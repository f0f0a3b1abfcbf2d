// What a store directory holds, judged from its file names and strata's marker file, before RocksDB
// opens it (RocksDB's open writes: a new MANIFEST, flushed write buffers, deleted "obsolete" files),
// and the marker file itself, STRATA_STORE, with its grammar.
//
// The marker is strata's record of the store, kept outside RocksDB so that it survives what RocksDB's
// own files may lose (the write-ahead log, CURRENT, the MANIFEST). It is a few lines of text, replaced
// atomically (written to STRATA_STORE.tmp, fsynced, renamed over, and the directory fsynced):
//
//   marker     := "strata event store\n"  "state " state "\n"  "wal " decimal "\n"  "high_water " decimal "\n"
//   state      := "creating" | "open" | "closed"
//                   creating  written before RocksDB creates the database: whatever else is in the
//                             directory was left by an interrupted creation and holds no event
//                   open      the store is open, or was not closed cleanly
//                   closed    the store was closed cleanly: its write buffers are in table files
//   wal        := the number of the write-ahead log RocksDB started when the store was last opened
//                 (numbers only grow: while the store runs, some log numbered `wal` or higher exists)
//   high_water := the store's committed high-water mark when it was last opened or closed cleanly:
//                 every position up to it was in table files then, and must be recovered
//
// Never rename the file or a state, never reorder the lines (see FORMAT.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/status.h"

namespace rocksdb {
class FileSystem;
}

namespace strata::detail {

inline constexpr std::string_view kMarkerFile = "STRATA_STORE";

struct StoreMarker {
  enum class State : std::uint8_t { kCreating, kOpen, kClosed };
  State state = State::kCreating;
  std::uint64_t wal = 0;
  std::uint64_t high_water = 0;
};

std::string encode_store_marker(const StoreMarker& marker);
bool decode_store_marker(std::string_view text, StoreMarker& marker);

// Replaces the marker of the store in `path` atomically and durably, through `file_system` (the one the
// store's RocksDB writes through, so that a test's faults and simulated power losses meet the marker
// too). kIOError when it cannot.
[[nodiscard]] Status write_store_marker(rocksdb::FileSystem& file_system, const std::string& path,
                                        const StoreMarker& marker);

struct StoreDirectory {
  bool exists = false;
  // Some file RocksDB or strata writes in a store directory is there (CURRENT, IDENTITY, LOCK, LOG*,
  // MANIFEST-*, OPTIONS-*, *.sst, *.log, *.blob, *.dbtmp, STRATA_STORE); false for a missing or empty
  // directory, or one holding only files of other programs.
  bool holds_store_files = false;
  bool has_current = false;
  bool has_lock = false;
  std::size_t table_files = 0;
  // The numbers of the write-ahead logs (NNNNNN.log), in increasing order.
  std::vector<std::uint64_t> wal_numbers;
  // The marker; nullopt when there is none (a new directory, or a store created before the marker).
  std::optional<StoreMarker> marker;
};

// Lists `path` and reads its marker. kIOError when the directory cannot be listed or the marker read;
// kCorruption when the marker is damaged.
[[nodiscard]] Result<StoreDirectory> inspect_store_directory(const std::string& path);

}  // namespace strata::detail
