// A closed RocksEventStore's database opened as plain RocksDB, for tests that read or change its
// families directly (damage, stores as an older build left them).
//
//   with_raw_store(dir.path(), [](rocksdb::DB& db, RawFamilies& f) { db.Delete(..., f["snapshots"], key); });
#pragma once

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace strata::testing {

// The database's column families by name.
using RawFamilies = std::map<std::string, rocksdb::ColumnFamilyHandle*>;

enum class RawOpen { kWrite, kReadOnly };

// Opens the closed store at `path` directly, lets `fn` read or change it, and (opened for writing)
// flushes it; then closes it. Read-only, nothing in the directory changes.
inline void with_raw_store(const std::string& path, const std::function<void(rocksdb::DB&, RawFamilies&)>& fn,
                           RawOpen mode = RawOpen::kWrite) {
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (mode == RawOpen::kReadOnly)
    REQUIRE(rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw).ok());
  else
    REQUIRE(rocksdb::DB::Open(options, path, descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  RawFamilies families;
  for (std::size_t i = 0; i < names.size(); ++i) families[names[i]] = handles[i];
  fn(*db, families);
  if (mode == RawOpen::kWrite) REQUIRE(db->Flush(rocksdb::FlushOptions(), handles).ok());
  for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  REQUIRE(db->Close().ok());
}

}  // namespace strata::testing
