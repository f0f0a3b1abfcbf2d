// The event-id family's memtable (eventstore/src/point_lookup_memtable.h), through a real RocksDB: it must
// behave as any memtable does, for point lookups and for iteration, before and after a flush.
#include "point_lookup_memtable.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rocks_test_support.h"

namespace {

struct Db {
  explicit Db(const std::string& path, std::shared_ptr<strata::detail::PointLookupMemTableFactory> factory =
                                           std::make_shared<strata::detail::PointLookupMemTableFactory>()) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.allow_concurrent_memtable_write = false;
    o.memtable_factory = std::move(factory);
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, path, &raw).ok());
    db.reset(raw);
  }
  std::string get(const std::string& key, const rocksdb::Snapshot* at = nullptr) {
    rocksdb::ReadOptions ro;
    ro.snapshot = at;
    std::string value;
    rocksdb::Status s = db->Get(ro, key, &value);
    return s.IsNotFound() ? "<none>" : s.ok() ? value : s.ToString();
  }
  // "key=value," for every key, in the order a DB iterator yields them.
  std::string scan(bool backward = false) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::string out;
    if (backward) {
      for (it->SeekToLast(); it->Valid(); it->Prev()) out += it->key().ToString() + "=" + it->value().ToString() + ",";
    } else {
      for (it->SeekToFirst(); it->Valid(); it->Next()) out += it->key().ToString() + "=" + it->value().ToString() + ",";
    }
    REQUIRE(it->status().ok());
    return out;
  }
  std::unique_ptr<rocksdb::DB> db;
};

}  // namespace

TEST_CASE("the point-lookup memtable returns the newest value of a key, older ones at a snapshot, and hides deletes") {
  strata::testing::TempDir dir;
  Db t(dir.path());
  REQUIRE(t.db->Put(rocksdb::WriteOptions(), "k", "v1").ok());
  const rocksdb::Snapshot* first = t.db->GetSnapshot();
  REQUIRE(t.db->Put(rocksdb::WriteOptions(), "k", "v2").ok());
  REQUIRE(t.db->Put(rocksdb::WriteOptions(), "gone", "x").ok());
  REQUIRE(t.db->Delete(rocksdb::WriteOptions(), "gone").ok());
  CHECK(t.get("k") == "v2");
  CHECK(t.get("k", first) == "v1");
  CHECK(t.get("gone") == "<none>");
  CHECK(t.get("never") == "<none>");
  t.db->ReleaseSnapshot(first);
  REQUIRE(t.db->Flush(rocksdb::FlushOptions()).ok());
  CHECK(t.get("k") == "v2");
  CHECK(t.get("gone") == "<none>");
}

TEST_CASE("the point-lookup memtable iterates in key order both ways, and seeks, before and after a flush") {
  strata::testing::TempDir dir;
  Db t(dir.path());
  for (const char* k : {"d", "a", "c", "b", "ab", "e"})
    REQUIRE(t.db->Put(rocksdb::WriteOptions(), k, std::string(k) + "!").ok());
  REQUIRE(t.db->Put(rocksdb::WriteOptions(), "c", "c2").ok());
  const std::string sorted = "a=a!,ab=ab!,b=b!,c=c2,d=d!,e=e!,";
  CHECK(t.scan() == sorted);
  CHECK(t.scan(/*backward=*/true) == "e=e!,d=d!,c=c2,b=b!,ab=ab!,a=a!,");
  std::unique_ptr<rocksdb::Iterator> it(t.db->NewIterator(rocksdb::ReadOptions()));
  it->Seek("aa");
  REQUIRE(it->Valid());
  CHECK(it->key().ToString() == "ab");
  it->SeekForPrev("bz");
  REQUIRE(it->Valid());
  CHECK(it->key().ToString() == "b");
  it.reset();
  REQUIRE(t.db->Flush(rocksdb::FlushOptions()).ok());
  CHECK(t.scan() == sorted);
}

TEST_CASE("the point-lookup memtable finds every one of many random keys and none it was not given") {
  strata::testing::TempDir dir;
  Db t(dir.path());
  std::mt19937_64 rng(7);
  std::map<std::string, std::string> written;
  auto random_key = [&] {
    std::string k(16, '\0');
    for (char& c : k) c = static_cast<char>(rng());
    return k;
  };
  for (int batch = 0; batch < 100; ++batch) {  // past the table's first growth, in batches like the store's
    rocksdb::WriteBatch wb;
    for (int i = 0; i < 500; ++i) {
      std::string k = random_key(), v = std::to_string(batch * 500 + i);
      REQUIRE(wb.Put(k, v).ok());
      written[k] = v;
    }
    REQUIRE(t.db->Write(rocksdb::WriteOptions(), &wb).ok());
  }
  std::vector<std::string> keys;
  for (const auto& [k, v] : written) keys.push_back(k);
  for (int i = 0; i < 1000; ++i) keys.push_back(random_key());  // (almost surely) absent
  std::shuffle(keys.begin(), keys.end(), rng);
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  t.db->MultiGet(rocksdb::ReadOptions(), t.db->DefaultColumnFamily(), keys.size(), slices.data(), values.data(),
                 statuses.data());
  std::size_t found = 0, wrong = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto w = written.find(keys[i]);
    if (statuses[i].ok()) {
      ++found;
      if (w == written.end() || values[i].ToString() != w->second) ++wrong;
    } else if (!statuses[i].IsNotFound() || w != written.end()) {
      ++wrong;
    }
  }
  CHECK(found == written.size());
  CHECK(wrong == 0);
  // A full scan returns them all, in order.
  std::unique_ptr<rocksdb::Iterator> it(t.db->NewIterator(rocksdb::ReadOptions()));
  auto expected = written.begin();
  std::size_t scanned = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected, ++scanned) {
    REQUIRE(expected != written.end());
    CHECK(it->key().ToString() == expected->first);
  }
  CHECK(scanned == written.size());
}

// prefetch() reaches into the newest memtable the factory made: it must never touch one RocksDB has
// dropped (a flushed memtable, or every one after the database closed). The sanitizer runs of this test
// are what would see such a read.
TEST_CASE("prefetching keys follows the newest memtable and is harmless once memtables are gone") {
  strata::testing::TempDir dir;
  auto factory = std::make_shared<strata::detail::PointLookupMemTableFactory>();
  const std::vector<std::string> keys{"alpha", "beta", "gamma"};
  const std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  factory->prefetch(slices);  // no memtable yet
  {
    Db t(dir.path(), factory);
    for (const auto& k : keys) REQUIRE(t.db->Put(rocksdb::WriteOptions(), k, k + "!").ok());
    factory->prefetch(slices);
    REQUIRE(t.db->Flush(rocksdb::FlushOptions()).ok());  // the memtable it prefetched from is dropped
    factory->prefetch(slices);
    REQUIRE(t.db->Put(rocksdb::WriteOptions(), "delta", "d").ok());
    factory->prefetch(slices);
    CHECK(t.get("beta") == "beta!");
    CHECK(t.get("delta") == "d");
  }
  factory->prefetch(slices);  // the database is closed: no memtable left
  Db reopened(dir.path(), factory);
  factory->prefetch(slices);
  CHECK(reopened.get("alpha") == "alpha!");
  CHECK(reopened.get("delta") == "d");
}
