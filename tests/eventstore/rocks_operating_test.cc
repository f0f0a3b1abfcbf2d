// Operating a RocksEventStore: reading a store another instance writes (open_read_only, refresh),
// backups taken while appends run and restored whole, info and compaction.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "conformance/projection_storage_conformance.h"
#include "conformance/store_conformance.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;
using strata::conformance::sid;
namespace fs = std::filesystem;

EventData event(int n) { return EventData{EventId::generate(), "test.op.v1", "{\"n\":" + std::to_string(n) + "}", {}}; }

void append_events(EventStore& store, int from, int count) {
  for (int n = from; n < from + count; ++n)
    REQUIRE(store.append(sid("op-" + std::to_string(n % 5)), ExpectedVersion::any(), {event(n)}).ok());
}

TEST_CASE("a read-only store reads beside the writer, catches up on refresh, and refuses every write") {
  testing::TempDir dir;
  auto writer = testing::open_store(dir.path());
  append_events(*writer, 0, 100);

  auto opened = RocksEventStore::open_read_only(testing::test_options(), dir.path());
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  RocksEventStore& reader = **opened;
  CHECK(reader.read_only());
  CHECK_FALSE(writer->read_only());
  CHECK(reader.head_position() == 100);
  CHECK(reader.read_log(1, 1000).value().events.size() == 100);

  append_events(*writer, 100, 50);
  CHECK(reader.head_position() == 100);  // what it saw when opened, until refreshed
  REQUIRE(reader.refresh().ok());
  CHECK(reader.head_position() == 150);
  const auto log = reader.read_log(1, 1000).value();
  REQUIRE(log.events.size() == 150);
  CHECK(log.events == writer->read_log(1, 1000).value().events);
  CHECK(reader.stream_head(sid("op-3")).value() == 30);
  CHECK(reader.read_stream(sid("op-3"), ReadDirection::kBackward, kEndOfStream, 1).value().events.at(0).payload ==
        "{\"n\":148}");
  auto report = reader.verify();
  REQUIRE_MESSAGE(report.ok(), report.status().to_string());
  CHECK_MESSAGE(report->ok(), (report->problems.empty() ? std::string() : report->problems.front()));
  CHECK(report->events == 150);

  // Every write is refused, and refused the same way each time.
  for (int i = 0; i < 2; ++i) {
    auto appended = reader.append(sid("op-1"), ExpectedVersion::any(), {event(1)});
    CHECK(appended.status().code() == StatusCode::kInvalidArgument);
    CHECK(appended.status().message().find("read-only") != std::string::npos);
  }
  CHECK(reader.save_snapshot(sid("op-1"), SnapshotRecord{1, 1, 1, "{}"}).code() == StatusCode::kInvalidArgument);
  ProjectionWriteBatch batch("p");
  batch.put(1, "m", "k", "{}");
  batch.set_state(std::nullopt, ProjectionState{});
  CHECK(reader.projection_storage().commit(batch).code() == StatusCode::kInvalidArgument);
  CHECK(reader.compact().code() == StatusCode::kInvalidArgument);
  CHECK(reader.backup(dir.sub("backups")).status().code() == StatusCode::kInvalidArgument);
  CHECK(reader.projection_storage().list_projections().value().empty());
  CHECK(writer->head_position() == 150);

  CHECK(RocksEventStore::open_read_only(testing::test_options(), dir.sub("missing")).status().code() ==
        StatusCode::kNotFound);
  CHECK_FALSE(fs::exists(dir.sub("missing")));
}

TEST_CASE("a backup taken while appends run restores to a sound store holding every event acknowledged before it") {
  testing::TempDir dir;
  const std::string store_dir = dir.sub("store"), backups = dir.sub("backups");
  auto store = testing::open_store(store_dir, testing::test_options(/*sync=*/true));
  append_events(*store, 0, 200);

  std::mutex mu;
  std::vector<EventId> acknowledged;
  std::atomic<bool> stop = false;
  std::thread appender([&] {
    for (int n = 1000; !stop; ++n) {
      std::vector<EventData> events{event(n), event(n)};
      auto r = store->append(sid("busy-" + std::to_string(n % 11)), ExpectedVersion::any(), events);
      REQUIRE(r.ok());
      std::lock_guard lock(mu);
      for (const auto& e : events) acknowledged.push_back(e.id);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::vector<EventId> before;
  {
    std::lock_guard lock(mu);
    before = acknowledged;
  }
  auto first = store->backup(backups);
  REQUIRE_MESSAGE(first.ok(), first.status().to_string());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto second = store->backup(backups);
  REQUIRE(second.ok());
  stop = true;
  appender.join();

  CHECK(first->id == 1);
  CHECK(second->id == 2);
  CHECK(first->high_water.value() >= 200 + before.size());
  CHECK(second->high_water >= first->high_water);
  auto listed = RocksEventStore::list_backups(backups);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].high_water == first->high_water);
  CHECK((*listed)[0].files > 0);
  CHECK(RocksEventStore::verify_backup(backups, 1).ok());
  CHECK(RocksEventStore::verify_backup(backups, 2).ok());
  CHECK(RocksEventStore::verify_backup(backups, 9).code() == StatusCode::kNotFound);

  const std::string restored = dir.sub("restored");
  REQUIRE(RocksEventStore::restore(backups, 1, restored).ok());
  auto report = RocksEventStore::verify(testing::test_options(), restored);
  REQUIRE_MESSAGE(report.ok(), report.status().to_string());
  CHECK(report->ok());
  CHECK(report->high_water >= first->high_water);
  {
    auto copy = testing::open_store(restored);
    for (const EventId& id : before) REQUIRE(copy->lookup_event(id).value().has_value());
    // The copy is a store of its own: it takes appends without touching the original.
    append_events(*copy, 0, 1);
  }
  // The newest backup by default; never over a store.
  const std::string newest = dir.sub("newest");
  REQUIRE(RocksEventStore::restore(backups, 0, newest).ok());
  CHECK(testing::open_store(newest)->head_position() >= second->high_water);
  CHECK(RocksEventStore::restore(backups, 0, restored).code() == StatusCode::kInvalidArgument);
  CHECK(RocksEventStore::restore(backups, 7, dir.sub("seven")).code() == StatusCode::kNotFound);
  CHECK(RocksEventStore::list_backups(dir.sub("none")).status().code() == StatusCode::kNotFound);

  // A damaged backup file is found by verify_backup.
  // The largest file of the backups: a table file or a write-ahead log.
  fs::path largest;
  for (const auto& entry : fs::recursive_directory_iterator(backups))
    if (entry.is_regular_file() && (largest.empty() || entry.file_size() > fs::file_size(largest)))
      largest = entry.path();
  REQUIRE(!largest.empty());
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    const char c = static_cast<char>(f.get());
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  Status damaged;
  for (std::uint32_t id : {1u, 2u}) {
    Status s = RocksEventStore::verify_backup(backups, id);
    if (!s.ok()) damaged = s;
  }
  CHECK(damaged.code() == StatusCode::kCorruption);
}

TEST_CASE("info describes the store and compact leaves it whole") {
  testing::TempDir dir;
  auto store = testing::open_store(dir.path());
  append_events(*store, 0, 500);
  auto info = store->info();
  REQUIRE(info.ok());
  CHECK(info->format_version == RocksEventStore::kFormatVersion);
  CHECK(info->head == 500);
  CHECK(info->disk_bytes > 0);
  std::vector<std::string> names;
  for (const auto& f : info->families) names.push_back(f.name);
  for (const char* name : {"default", "streams", "events", "log", "event_ids", "snapshots"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());

  REQUIRE(store->compact().ok());
  info = store->info();
  REQUIRE(info.ok());
  CHECK(info->streams_estimate == 5);
  for (const auto& f : info->families)
    if (f.name == "log") {
      CHECK(f.table_bytes > 0);
      CHECK(f.keys_estimate == 500);
    }
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok());
  CHECK(report->events == 500);
}

}  // namespace
