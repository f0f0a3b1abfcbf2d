// What the reads of RocksEventStore keep to be fast, and must never let go stale: the readers' cache of
// stream heads (head_cache.h) and the copy of each stream's newest snapshot (FORMAT.md). Every change
// is seen by the next read, from any thread; the copy follows saves, retention, deletes and verify.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "conformance/store_conformance.h"
#include "format.h"
#include "raw_store.h"
#include "rocks_test_support.h"
#include "strata/core/backend/snapshot_encoding.h"

namespace {

using namespace strata;
using strata::conformance::events;
using strata::conformance::sid;
using strata::testing::open_store;
using strata::testing::RawFamilies;
using strata::testing::TempDir;
using strata::testing::with_raw_store;

Version head_of(EventStore& store, const StreamId& s) { return store.stream_info(s).value().head; }

}  // namespace

TEST_CASE(
    "a read after an append, a multi-stream append, a delete or a truncation sees it, however often the stream "
    "was read before") {
  TempDir dir;
  auto store = open_store(dir.path());
  const StreamId a = sid("order-1"), b = sid("order-2");
  REQUIRE(store->append(a, ExpectedVersion::any(), events(3)).ok());
  REQUIRE(store->append(b, ExpectedVersion::any(), events(1)).ok());
  for (int i = 0; i < 3; ++i) CHECK(head_of(*store, a) == 3);  // read, and read again from the cache

  REQUIRE(store->append(a, ExpectedVersion::exact(3), events(2)).ok());
  CHECK(head_of(*store, a) == 5);
  CHECK(store->read_stream(a, ReadDirection::kBackward, kEndOfStream, 1).value().events.at(0).version == 5);

  const auto more = events(1), others = events(4);
  const std::vector<StreamAppend> parts{{a, ExpectedVersion::exact(5), more}, {b, ExpectedVersion::exact(1), others}};
  REQUIRE(store->append_multi(parts).ok());
  CHECK(head_of(*store, a) == 6);
  CHECK(head_of(*store, b) == 5);

  REQUIRE(store->truncate_stream(a, ExpectedVersion::any(), 4).ok());
  CHECK(store->stream_info(a).value().first_version == 4);
  CHECK(store->read_stream(a, ReadDirection::kForward, 1, 10).status().code() == StatusCode::kStreamTruncated);

  CHECK(head_of(*store, b) == 5);
  REQUIRE(store->delete_stream(b, ExpectedVersion::any(), DeleteMode::kSoft).ok());
  CHECK(store->stream_info(b).value().state == StreamState::kDeleted);
  CHECK(store->read_stream(b, ReadDirection::kForward, 1, 10).status().code() == StatusCode::kStreamDeleted);
  // Recreated: the versions go on.
  REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
  CHECK(store->stream_info(b).value().state == StreamState::kLive);
  CHECK(head_of(*store, b) == 6);

  REQUIRE(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kHard).ok());
  CHECK(store->stream_info(a).value().state == StreamState::kHardDeleted);
}

TEST_CASE(
    "readers on other threads never see a stream's head go back, nor miss an append acknowledged before their "
    "read began") {
  TempDir dir;
  auto store = open_store(dir.path());
  constexpr int kStreams = 4, kAppends = 400;
  std::vector<StreamId> streams;
  for (int s = 0; s < kStreams; ++s) streams.push_back(sid("cart-" + std::to_string(s)));
  // acked[s]: the highest head of stream s an append returned.
  std::vector<std::atomic<std::uint64_t>> acked(kStreams);
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0}, backwards{0}, reads{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::vector<std::uint64_t> seen(kStreams, 0);
      while (!stop.load()) {
        for (int s = 0; s < kStreams; ++s) {
          const std::uint64_t before = acked[s].load();
          auto info = store->stream_info(streams[s]);
          if (!info.ok()) {
            if (before > 0) stale.fetch_add(1);
            continue;
          }
          const std::uint64_t head = info->head.value();
          if (head < before) stale.fetch_add(1);
          if (head < seen[s]) backwards.fetch_add(1);
          seen[s] = head;
          reads.fetch_add(1);
        }
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kAppends; ++i) {
        const int s = (i + w) % kStreams;
        auto r = store->append(streams[s], ExpectedVersion::any(), events(1 + i % 3));
        if (!r.ok()) continue;
        std::uint64_t head = r->stream_version.value(), known = acked[s].load();
        while (known < head && !acked[s].compare_exchange_weak(known, head)) {
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(stale.load() == 0);
  CHECK(backwards.load() == 0);
  CHECK(reads.load() > 0);
  for (int s = 0; s < kStreams; ++s) CHECK(head_of(*store, streams[s]) == acked[s].load());
}

TEST_CASE(
    "the newest snapshot is found by its copy, which moves only forward and goes with retention and hard "
    "deletes") {
  TempDir dir;
  const StreamId a = sid("account-1");
  const SnapshotSchema schema{42, 1}, other{43, 1};
  {
    auto store = open_store(dir.path());
    SnapshotStore* snapshots = store->snapshot_store();
    REQUIRE(store->append(a, ExpectedVersion::any(), events(40)).ok());
    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{20, 42, 1, "{\"v\":20}"}).ok());
    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{30, 42, 1, "{\"v\":30}"}).ok());
    // An older one saved later (a snapshot of an aggregate loaded at a past version) leaves the copy.
    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{10, 42, 1, "{\"v\":10}"}).ok());
    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{25, 43, 1, "{\"w\":25}"}).ok());
    CHECK(snapshots->load_snapshot(a, kEndOfStream, schema).value()->payload == "{\"v\":30}");
    CHECK(snapshots->load_snapshot(a, kEndOfStream, other).value()->payload == "{\"w\":25}");
    CHECK(snapshots->load_snapshot(a, 29, schema).value()->payload == "{\"v\":20}");
    CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{10, 20, 25, 30});
    // Saving the same version again replaces the copy too.
    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{30, 42, 1, "{\"v\":31}"}).ok());
    CHECK(snapshots->load_snapshot(a, kEndOfStream, schema).value()->payload == "{\"v\":31}");

    auto report = store->verify().value();
    CHECK(report.problems.empty());
    CHECK(report.snapshots == 4);  // the copies are not counted as snapshots

    // Keeping one of `schema` drops the older snapshots of both schemas; `other` has none left, and
    // neither has its copy.
    REQUIRE(snapshots->retain_snapshots(a, schema, 1).ok());
    CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{30});
    CHECK(snapshots->load_snapshot(a, kEndOfStream, schema).value()->version == 30);
    CHECK_FALSE(snapshots->load_snapshot(a, kEndOfStream, other).value().has_value());
    REQUIRE(snapshots->retain_snapshots(a, schema, 0).ok());
    CHECK_FALSE(snapshots->load_snapshot(a, kEndOfStream, schema).value().has_value());

    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{40, 42, 1, "{\"v\":40}"}).ok());
    REQUIRE(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kHard).ok());
    CHECK_FALSE(snapshots->load_snapshot(a, kEndOfStream, schema).value().has_value());
  }
}

TEST_CASE(
    "the snapshots of a store from before the copies get theirs at the first open, and verify names a damaged "
    "copy") {
  TempDir dir;
  const StreamId a = sid("account-2"), b = sid("account-3");
  const SnapshotSchema schema{42, 1};
  {
    auto store = open_store(dir.path());
    REQUIRE(store->snapshot_store()->save_snapshot(a, SnapshotRecord{5, 42, 1, "{\"v\":5}"}).ok());
    REQUIRE(store->snapshot_store()->save_snapshot(a, SnapshotRecord{9, 42, 1, "{\"v\":9}"}).ok());
    REQUIRE(store->snapshot_store()->save_snapshot(a, SnapshotRecord{7, 43, 1, "{\"w\":7}"}).ok());
    REQUIRE(store->snapshot_store()->save_snapshot(b, SnapshotRecord{3, 42, 1, "{\"v\":3}"}).ok());
  }
  // As an older build left it: no copies, no marker.
  const std::string copy = detail::format::snapshot_latest_key(a.view(), 42, 1);
  with_raw_store(dir.path(), [&](rocksdb::DB& db, RawFamilies& f) {
    rocksdb::ColumnFamilyHandle* family = f["snapshots"];
    rocksdb::ColumnFamilyHandle* default_family = db.DefaultColumnFamily();
    std::string value;
    REQUIRE(db.Get(rocksdb::ReadOptions(), family, copy, &value).ok());
    for (const auto& [stream, fingerprint] : {std::pair{a, 42}, std::pair{a, 43}, std::pair{b, 42}})
      REQUIRE(
          db.Delete(rocksdb::WriteOptions(), family, detail::format::snapshot_latest_key(stream.view(), fingerprint, 1))
              .ok());
    REQUIRE(db.Delete(rocksdb::WriteOptions(), default_family, detail::format::kSnapshotCopiesKey).ok());
  });
  {
    // Opened read-only, it walks the snapshots.
    auto reader = RocksEventStore::open_read_only(strata::testing::test_options(), dir.path());
    REQUIRE(reader.ok());
    CHECK((*reader)->snapshot_store()->load_snapshot(a, kEndOfStream, schema).value()->payload == "{\"v\":9}");
  }
  {
    auto store = open_store(dir.path());
    CHECK(store->snapshot_store()->load_snapshot(a, kEndOfStream, schema).value()->payload == "{\"v\":9}");
    CHECK(store->snapshot_store()->load_snapshot(a, kEndOfStream, SnapshotSchema{43, 1}).value()->version == 7);
    CHECK(store->snapshot_store()->load_snapshot(b, kEndOfStream, schema).value()->version == 3);
    CHECK(store->verify().value().problems.empty());
  }
  with_raw_store(dir.path(), [&](rocksdb::DB& db, RawFamilies& f) {
    rocksdb::ColumnFamilyHandle* family = f["snapshots"];
    rocksdb::ColumnFamilyHandle* default_family = db.DefaultColumnFamily();
    std::string value;
    CHECK(db.Get(rocksdb::ReadOptions(), default_family, detail::format::kSnapshotCopiesKey, &value).ok());
    REQUIRE(db.Get(rocksdb::ReadOptions(), family, copy, &value).ok());
    CHECK(decode_snapshot(value).value().version == 9);
  });
  {
    auto store = open_store(dir.path());
    REQUIRE(store->snapshot_store()->save_snapshot(a, SnapshotRecord{12, 42, 1, "{\"v\":12}"}).ok());
  }
  with_raw_store(dir.path(), [&](rocksdb::DB& db, RawFamilies& f) {
    rocksdb::ColumnFamilyHandle* family = f["snapshots"];
    std::string value;
    REQUIRE(db.Get(rocksdb::ReadOptions(), family, copy, &value).ok());
    CHECK(decode_snapshot(value).value().version == 12);
    REQUIRE(db.Put(rocksdb::WriteOptions(), family, copy, "garbled").ok());
  });
  auto store = open_store(dir.path());
  // A damaged copy is reported as the damaged snapshot it stands for (the repository replays instead),
  // and replaced by the next save.
  CHECK(store->snapshot_store()->load_snapshot(a, kEndOfStream, schema).status().code() == StatusCode::kCorruption);
  CHECK(store->snapshot_store()->load_snapshot(a, 11, schema).value()->version == 9);
  auto report = store->verify().value();
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems[0].find("the copy of the newest snapshot of stream \"account-2\" is damaged") !=
        std::string::npos);
  REQUIRE(store->snapshot_store()->save_snapshot(a, SnapshotRecord{12, 42, 1, "{\"v\":12}"}).ok());
  CHECK(store->snapshot_store()->load_snapshot(a, kEndOfStream, schema).value()->version == 12);
}
