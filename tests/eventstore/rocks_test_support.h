// Shared by the RocksEventStore tests: a temporary directory per test, store opening, and the event at
// a position of a whole-log read.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/eventstore/rocks_event_store.h"
#include "strata/eventstore/testing/file_system.h"

namespace strata::testing {

// A fresh directory under the system's temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "strata-eventstore-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return path_; }
  // A path inside the directory.
  std::string sub(std::string_view name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

// Options for tests: small caches, and no fsync unless a test is about durability (a killed process
// keeps what it wrote without fsync; only a power loss needs it).
inline RocksEventStore::Options test_options(bool sync = false) {
  RocksEventStore::Options o;
  o.sync = sync;
  o.block_cache_bytes = std::size_t{8} << 20;
  return o;
}

// Opens the store at `path` (on `file_system` when given), failing the test (by throwing StatusError)
// if it cannot.
inline std::unique_ptr<RocksEventStore> open_store(const std::string& path,
                                                   const RocksEventStore::Options& options = test_options(),
                                                   std::shared_ptr<rocksdb::FileSystem> file_system = nullptr) {
  if (file_system) return open_with_file_system(options, path, std::move(file_system)).value();
  return RocksEventStore::open(options, path).value();
}

// The event at position `p` of `log`, the events of a read of the whole log from position 1.
inline const RecordedEvent& event_at(const std::vector<RecordedEvent>& log, Position p) {
  return log.at(p.value() - 1);
}

}  // namespace strata::testing
