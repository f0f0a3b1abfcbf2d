// RocksEventStore::verify: nothing to report on a store that was used (appends of every size, snapshots,
// projections), also while appends go on and on a closed store, which it leaves untouched; and each kind
// of damage it claims to find, made on purpose in the families of a closed store, is reported by name.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "conformance/projection_storage_conformance.h"
#include "conformance/store_conformance.h"
#include "format.h"
#include "raw_store.h"
#include "rocks_test_support.h"
#include "strata/core/backend/snapshot_encoding.h"
#include "strata/projections/backend/projection_records.h"

namespace {

using namespace strata;
using strata::conformance::sid;
namespace fs = std::filesystem;
namespace fmtx = strata::detail::format;

EventData event(std::string_view type, int n) {
  return EventData{EventId::generate(), std::string(type), "{\"n\":" + std::to_string(n) + "}", {}};
}

// Streams a-0..a-4 of one-event appends (copies in `events`), "batch" of one 20-event append (a run), a
// snapshot, and a projection with rows and a parked event. The last event is in a-4.
void make_store(const std::string& path) {
  auto store = testing::open_store(path);
  REQUIRE(store
              ->append(sid("batch"), ExpectedVersion::no_stream(),
                       [] {
                         std::vector<EventData> events;
                         for (int i = 0; i < 20; ++i) events.push_back(event("test.batch.v1", i));
                         return events;
                       }())
              .ok());
  for (int round = 0; round < 4; ++round)
    for (int s = 0; s < 5; ++s)
      REQUIRE(store->append(sid("a-" + std::to_string(s)), ExpectedVersion::any(), {event("test.one.v1", round)}).ok());
  REQUIRE(store->save_snapshot(sid("a-1"), SnapshotRecord{3, 42, 1, "{\"n\":3}"}).ok());
  ProjectionWriteBatch batch("balances");
  batch.put(1, "accounts", "a-1", "{\"cents\":5}");
  batch.park(conformance::parked_event(1, 7));
  ProjectionState state;
  state.checkpoint = 40;
  batch.set_state(std::nullopt, state);
  REQUIRE(store->projection_storage().commit(batch).ok());
}

void check_counts(const RocksEventStore::VerifyReport& report) {
  CHECK(report.high_water == 40);
  CHECK(report.events == 40);
  CHECK(report.event_ids == 40);
  CHECK(report.streams == 6);
  CHECK(report.snapshots == 1);
  CHECK(report.projections == 1);
  CHECK(report.projection_rows == 1);
  CHECK(report.parked == 1);
}

std::string problems_of(const RocksEventStore::VerifyReport& report) {
  std::string all;
  for (const auto& p : report.problems) all += p + "\n";
  return all;
}

// Every file of a directory with its size and modification time.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> listing(const std::string& dir) {
  std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> files;
  for (const auto& entry : fs::directory_iterator(dir))
    files[entry.path().filename().string()] = {entry.file_size(), entry.last_write_time()};
  return files;
}

using Families = strata::testing::RawFamilies;
using strata::testing::with_raw_store;

std::string get(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, std::string_view key) {
  std::string value;
  REQUIRE(db.Get(rocksdb::ReadOptions(), family, rocksdb::Slice(key.data(), key.size()), &value).ok());
  return value;
}

void put(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view value) {
  REQUIRE(db.Put(rocksdb::WriteOptions(), family, rocksdb::Slice(key.data(), key.size()),
                 rocksdb::Slice(value.data(), value.size()))
              .ok());
}

void erase(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, std::string_view key) {
  REQUIRE(db.Delete(rocksdb::WriteOptions(), family, rocksdb::Slice(key.data(), key.size())).ok());
}

std::string log_key(std::uint64_t position) {
  const auto key = fmtx::position_key(Position(position));
  return std::string(key.data(), key.size());
}

std::string events_key(std::uint64_t number, std::uint64_t version) {
  const auto key = fmtx::events_key(number, Version(version));
  return std::string(key.data(), key.size());
}

// The log record at `position`, decoded (its views point into `value`).
EventView log_record(rocksdb::DB& db, Families& f, std::uint64_t position, std::string& value) {
  value = get(db, f["log"], log_key(position));
  EventView view;
  REQUIRE(fmtx::decode_log_record(value, view));
  return view;
}

std::string encode_log(const EventView& e, std::string_view stream, Version version, std::string_view payload) {
  std::string out;
  fmtx::encode_log_head(stream, version, out);
  fmtx::encode_body_head(e.id, e.timestamp, e.type, e.encoded_metadata, out);
  out += payload;
  return out;
}

std::uint64_t stream_number(rocksdb::DB& db, Families& f, std::string_view stream) {
  fmtx::StreamRecord record;
  REQUIRE(fmtx::decode_stream_record(get(db, f["streams"], stream), record));
  return record.number;
}

struct DamageCase {
  std::string name;
  std::function<void(rocksdb::DB&, Families&)> damage;
  // Part of the problem verify must report.
  std::string expected;
};

// Positions: 1..20 are "batch" versions 1..20; then round r (0..3), stream a-s is position 21 + 5r + s,
// version r + 1. Stream numbers: batch 1, a-0 2, ... a-4 6.
std::vector<DamageCase> damage_cases() {
  return {
      {"a log record deleted", [](auto& db, auto& f) { erase(db, f["log"], log_key(22)); },
       "position 23 follows position 21: positions 22 to 22 are missing"},
      {"a log record garbled", [](auto& db, auto& f) { put(db, f["log"], log_key(23), "\x01garbage"); },
       "log: the record at position 23 is damaged"},
      {"a log record moved to another version",
       [](auto& db, auto& f) {
         std::string value;
         const EventView e = log_record(db, f, 26, value);  // a-0 version 2
         put(db, f["log"], log_key(26), encode_log(e, e.stream_id, Version(9), e.payload));
       },
       "position 26 is version 9 of stream \"a-0\", whose previous event is version 1"},
      {"a log record of another stream",
       [](auto& db, auto& f) {
         std::string value;
         const EventView e = log_record(db, f, 5, value);  // batch version 5
         put(db, f["log"], log_key(5), encode_log(e, "nobody", Version(1), e.payload));
       },
       "position 5 is an event of stream \"nobody\", which has no stream record"},
      {"a run pointing at another stream's events",
       [](auto& db, auto& f) {
         std::string run;
         fmtx::encode_run(Position(2), 20, run);
         put(db, f["events"], events_key(1, 1), run);
       },
       "events: stream \"batch\" version 20 points at position 21, which holds stream \"a-0\" version 1"},
      {"a run reaching beyond the log",
       [](auto& db, auto& f) {
         std::string run;
         fmtx::encode_run(Position(30), 20, run);
         put(db, f["events"], events_key(1, 1), run);
       },
       "are at positions 30 to 49, beyond the log's last 40"},
      {"an events entry deleted", [](auto& db, auto& f) { erase(db, f["events"], events_key(3, 2)); },
       "stream \"a-1\" has an entry at version 3 after version 1"},
      {"the last events entry of a stream deleted", [](auto& db, auto& f) { erase(db, f["events"], events_key(3, 4)); },
       "stream \"a-1\" ends at version 4 in the log but at version 3 in events"},
      {"a copy that differs from the log",
       [](auto& db, auto& f) {
         std::string value;
         const EventView e = log_record(db, f, 27, value);  // a-1 version 2
         std::string copy;
         fmtx::encode_copy_head(Position(27), copy);
         fmtx::encode_body_head(e.id, e.timestamp, e.type, e.encoded_metadata, copy);
         copy += "{\"n\":999}";
         put(db, f["events"], events_key(stream_number(db, f, "a-1"), 2), copy);
       },
       "the copy of stream \"a-1\" version 2 differs from the log record at position 27"},
      {"a stream record deleted", [](auto& db, auto& f) { erase(db, f["streams"], "a-2"); },
       "which has no stream record"},
      {"two streams with one number",
       [](auto& db, auto& f) {
         std::string record;
         fmtx::encode_stream_record(fmtx::StreamRecord{2, 0}, record);
         put(db, f["streams"], "a-3", record);
       },
       "have the same number 2"},
      {"a stream record without events",
       [](auto& db, auto& f) {
         std::string record;
         fmtx::encode_stream_record(fmtx::StreamRecord{77, 0}, record);
         put(db, f["streams"], "ghost", record);
       },
       "streams: stream \"ghost\" has no event"},
      {"an event id deleted",
       [](auto& db, auto& f) {
         std::string value;
         const EventView e = log_record(db, f, 3, value);
         erase(db, f["event_ids"], e.id.as_bytes());
       },
       "the id of the event at position 3 is missing"},
      {"an event id leading elsewhere",
       [](auto& db, auto& f) {
         std::string value;
         const EventView e = log_record(db, f, 3, value);
         std::string at;
         fmtx::encode_event_id_value(Position(4), at);
         put(db, f["event_ids"], e.id.as_bytes(), at);
       },
       "the id of the event at position 3 leads to position 4"},
      {"an event id too many",
       [](auto& db, auto& f) {
         std::string at;
         fmtx::encode_event_id_value(Position(2), at);
         put(db, f["event_ids"], EventId::generate().as_bytes(), at);
       },
       "event_ids: 41 entries for the log's 40 events"},
      {"a snapshot garbled",
       [](auto& db, auto& f) {
         const std::string key = fmtx::snapshot_key("a-1", Version(3), 42, 1);
         std::string bytes = get(db, f["snapshots"], key);
         bytes[bytes.size() / 2] ^= 0x10;
         put(db, f["snapshots"], key, bytes);
       },
       "snapshots: the snapshot of stream \"a-1\" at version 3 is damaged"},
      {"a snapshot under another key",
       [](auto& db, auto& f) {
         put(db, f["snapshots"], fmtx::snapshot_key("a-1", Version(2), 42, 1),
             encode_snapshot(SnapshotRecord{3, 42, 1, "{}"}));
       },
       "the snapshot of stream \"a-1\" at version 2 differs from its key"},
      {"a projection state garbled", [](auto& db, auto& f) { put(db, f["projection_state"], "balances", "\x07"); },
       "the state of projection \"balances\" is damaged"},
      {"rows of a generation that is not live",
       [](auto& db, auto& f) {
         put(db, f["projection_rows"], std::string(1, '\x08') + "balances" + encode_row_key(5, "accounts", "a-9"),
             "{}");
       },
       "projection_rows: 1 rows belong to no live generation"},
      {"a parked event garbled",
       [](auto& db, auto& f) {
         std::string key(1, '\x08');
         key += "balances";
         fmtx::put_be(key, 1, 8);
         fmtx::put_be(key, 7, 8);
         put(db, f["projection_parked"], key, "\x01\x02");
       },
       "a parked event of projection \"balances\" is damaged"},
  };
}

TEST_CASE("verify finds nothing wrong in a used store, open or closed, and leaves a closed one untouched") {
  testing::TempDir dir;
  make_store(dir.path());
  {
    auto store = testing::open_store(dir.path());
    auto report = store->verify();
    REQUIRE_MESSAGE(report.ok(), report.status().to_string());
    CHECK_MESSAGE(report->ok(), problems_of(*report));
    check_counts(*report);
  }
  const auto before = listing(dir.path());
  auto report = RocksEventStore::verify(testing::test_options(), dir.path());
  REQUIRE_MESSAGE(report.ok(), report.status().to_string());
  CHECK_MESSAGE(report->ok(), problems_of(*report));
  check_counts(*report);
  CHECK(listing(dir.path()) == before);

  // A store that is open elsewhere is not read behind its back; a missing one is not created.
  auto open = testing::open_store(dir.path());
  CHECK(RocksEventStore::verify(testing::test_options(), dir.path()).status().code() == StatusCode::kUnavailable);
  CHECK(RocksEventStore::verify(testing::test_options(), dir.sub("missing")).status().code() == StatusCode::kNotFound);
  CHECK_FALSE(fs::exists(dir.sub("missing")));
}

TEST_CASE(
    "verify finds nothing wrong after deletes, a recreation and truncations, and names a removal no record explains") {
  testing::TempDir dir;
  make_store(dir.path());
  {
    auto store = testing::open_store(dir.path());
    REQUIRE(store->delete_stream(sid("a-0"), ExpectedVersion::exact(4), DeleteMode::kHard).ok());
    REQUIRE(store->delete_stream(sid("a-1"), ExpectedVersion::any(), DeleteMode::kSoft).ok());
    REQUIRE(store->append(sid("a-1"), ExpectedVersion::no_stream(), {event("test.one.v1", 9), event("test.one.v1", 10)})
                .ok());
    REQUIRE(store->truncate_stream(sid("batch"), ExpectedVersion::any(), 5).ok());  // inside its run
    REQUIRE(store->truncate_stream(sid("a-2"), ExpectedVersion::any(), 3).ok());
    REQUIRE(store->truncate_stream(sid("a-3"), ExpectedVersion::any(), 100).ok());  // all of it
    // The stream with the highest number and the log's last event: no `events` entry of it is left.
    REQUIRE(store->delete_stream(sid("a-4"), ExpectedVersion::any(), DeleteMode::kHard).ok());
    auto report = store->verify();
    REQUIRE_MESSAGE(report.ok(), report.status().to_string());
    CHECK_MESSAGE(report->ok(), problems_of(*report));
    CHECK(report->events == 42);
    CHECK(report->removed == 4 + 4 + 2 + 4 + 4);
  }
  auto closed = RocksEventStore::verify(testing::test_options(), dir.path());
  REQUIRE_MESSAGE(closed.ok(), closed.status().to_string());
  CHECK_MESSAGE(closed->ok(), problems_of(*closed));
  {
    // Reopened, the store knows all of it.
    auto store = testing::open_store(dir.path());
    CHECK(store->stream_info(sid("a-3")).value().first_version == 5);
    CHECK(store->append(sid("a-3"), ExpectedVersion::exact(4), {event("test.one.v1", 1)}).value().stream_version == 5);
    CHECK(store->append(sid("new-1"), ExpectedVersion::no_stream(), {event("test.one.v1", 1)}).ok());
    CHECK(store->read_stream(sid("a-0"), ReadDirection::kForward, 0, 10).status().code() == StatusCode::kStreamDeleted);
    // The new stream took a number of its own, not that of the emptied a-4.
    CHECK(store->stream_info(sid("a-4")).value() == StreamInfo{"a-4", 4, StreamState::kHardDeleted, 5, 1});
    CHECK(store->stream_info(sid("new-1")).value().head == 1);
    auto report = store->verify();
    REQUIRE(report.ok());
    CHECK_MESSAGE(report->ok(), problems_of(*report));
  }
  // A stream record that forgot its removals: the tombstones are reported.
  with_raw_store(dir.path(), [](rocksdb::DB& db, Families& f) {
    fmtx::StreamRecord record;
    REQUIRE(fmtx::decode_stream_record(get(db, f["streams"], "a-2"), record));
    std::string plain;
    fmtx::encode_stream_record(fmtx::StreamRecord{record.number, 0}, plain);
    put(db, f["streams"], "a-2", plain);
  });
  auto damaged = RocksEventStore::verify(testing::test_options(), dir.path());
  REQUIRE(damaged.ok());
  CHECK_MESSAGE(problems_of(*damaged).find(
                    "a removed event of stream \"a-2\", whose record says nothing was removed") != std::string::npos,
                problems_of(*damaged));
}

TEST_CASE("verify of an open store while appends go on sees one consistent view") {
  testing::TempDir dir;
  auto store = testing::open_store(dir.path());
  std::atomic<bool> stop = false;
  std::thread writer([&] {
    for (int n = 0; !stop; ++n) {
      std::vector<EventData> events;
      for (int i = 0; i < 1 + n % 20; ++i) events.push_back(event("test.live.v1", n));
      REQUIRE(store->append(sid("live-" + std::to_string(n % 7)), ExpectedVersion::any(), events).ok());
    }
  });
  for (int i = 0; i < 5; ++i) {
    auto report = store->verify();
    REQUIRE_MESSAGE(report.ok(), report.status().to_string());
    CHECK_MESSAGE(report->ok(), problems_of(*report));
    CHECK(report->event_ids == report->events);
  }
  stop = true;
  writer.join();
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->high_water == store->head_position());
  CHECK(report->ok());
}

TEST_CASE("verify reports each kind of damage by name, open and closed") {
  for (const DamageCase& c : damage_cases()) {
    CAPTURE(c.name);
    testing::TempDir dir;
    make_store(dir.path());
    with_raw_store(dir.path(), c.damage);
    auto closed = RocksEventStore::verify(testing::test_options(), dir.path());
    REQUIRE_MESSAGE(closed.ok(), closed.status().to_string());
    CHECK_FALSE(closed->ok());
    CHECK(closed->problem_count == closed->problems.size());
    CHECK_MESSAGE(problems_of(*closed).find(c.expected) != std::string::npos, problems_of(*closed));

    auto store = testing::open_store(dir.path());
    auto open = store->verify();
    REQUIRE_MESSAGE(open.ok(), open.status().to_string());
    CHECK(problems_of(*open) == problems_of(*closed));
  }
}

TEST_CASE("verify lists the first problems and counts them all") {
  testing::TempDir dir;
  make_store(dir.path());
  with_raw_store(dir.path(), [](rocksdb::DB& db, Families& f) {
    for (int i = 0; i < 150; ++i) {
      std::string record;
      fmtx::encode_stream_record(fmtx::StreamRecord{100u + i, 0}, record);
      put(db, f["streams"], "ghost-" + std::to_string(i), record);
    }
  });
  auto report = RocksEventStore::verify(testing::test_options(), dir.path());
  REQUIRE(report.ok());
  CHECK(report->problem_count == 150);
  CHECK(report->problems.size() == RocksEventStore::VerifyReport::kMaxListed);
}

}  // namespace
