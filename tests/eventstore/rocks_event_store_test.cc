#include "strata/eventstore/rocks_event_store.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "conformance/lifecycle_conformance.h"
#include "conformance/personal_data_conformance.h"
#include "conformance/retention_conformance.h"
#include "conformance/store_conformance.h"
#include "raw_store.h"
#include "rocks_test_support.h"
#include "strata/core/backend/encoding.h"
#include "strata/core/backend/snapshot_encoding.h"
#include "strata/core/repository.h"

namespace {

using namespace strata;
using strata::conformance::events;
using strata::conformance::render;
using strata::conformance::sid;
using strata::testing::open_store;
using strata::testing::RawFamilies;
using strata::testing::TempDir;
using strata::testing::test_options;
using strata::testing::with_raw_store;

struct RocksFixture {
  static constexpr bool kDurable = true;
  TempDir dir;
  // Each call opens the same directory: a reopen sees what the previous store committed.
  std::unique_ptr<EventStore> open() { return open_store(dir.path()); }
  std::unique_ptr<EventStore> open_retained(const Retention& retention, std::function<Timestamp()> clock) {
    auto options = test_options();
    options.retention = retention;
    options.clock = std::move(clock);
    return open_store(dir.path(), options);
  }
};

std::string whole_log(EventStore& store) { return render(store.read_log(1, 1'000'000).value().events); }

}  // namespace

STRATA_STORE_CONFORMANCE(store_conformance, "event store conformance", RocksFixture)
STRATA_STORE_CONFORMANCE(lifecycle_conformance, "stream lifecycle conformance", RocksFixture)
STRATA_STORE_CONFORMANCE(personal_data_conformance, "personal data conformance", RocksFixture)
STRATA_STORE_CONFORMANCE(retention_conformance, "retention conformance", RocksFixture)

TEST_CASE("a store closed and reopened in the middle of a scenario has every acknowledged append") {
  TempDir dir;
  const StreamId a = sid("account-1"), b = sid("account-2");
  auto first = events(2), second = events(1), third = events(20);
  std::string before;
  {
    auto store = open_store(dir.path());
    CHECK(store->append(a, ExpectedVersion::no_stream(), first).value() == AppendResult{2, 1, 2});
    CHECK(store->append(b, ExpectedVersion::no_stream(), second).value() == AppendResult{1, 3, 3});
  }
  {
    auto store = open_store(dir.path());
    CHECK(store->head_position() == 3);
    CHECK(store->stream_head(a).value() == 2);
    // Twenty events in one append are stored as a run of log positions, not as copies (FORMAT.md).
    CHECK(store->append(a, ExpectedVersion::exact(2), third).value() == AppendResult{22, 4, 23});
    CHECK(store->append(b, ExpectedVersion::exact(1), events(1)).value() == AppendResult{2, 24, 24});
    before = whole_log(*store);
  }
  auto store = open_store(dir.path());
  CHECK(whole_log(*store) == before);
  CHECK(store->head_position() == 24);
  auto stream = store->read_stream(a, ReadDirection::kForward, 1, 100).value();
  REQUIRE(stream.events.size() == 22);
  for (std::size_t i = 0; i < 22; ++i) CHECK(stream.events[i].version == i + 1);
  CHECK(stream.events[2].id == third[0].id);
  CHECK(stream.events[21].position == 23);
  // Retries are recognised across restarts, copies and runs alike, and write nothing.
  CHECK(store->append(a, ExpectedVersion::any(), first).value() == AppendResult{2, 1, 2});
  CHECK(store->append(a, ExpectedVersion::any(), third).value() == AppendResult{22, 4, 23});
  CHECK(store->append(b, ExpectedVersion::no_stream(), second).value() == AppendResult{1, 3, 3});
  CHECK(store->head_position() == 24);
  CHECK(store->list_streams("", 10).value().streams == std::vector<StreamInfo>{{"account-1", 22}, {"account-2", 2}});
}

TEST_CASE("a stream read from inside a large append starts at the version asked for, forward and backward") {
  TempDir dir;
  auto store = open_store(dir.path());
  const StreamId a = sid("ledger-1");
  REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(3)).ok());  // copies: versions 1-3
  REQUIRE(store->append(sid("other-1"), ExpectedVersion::any(), events(5)).ok());
  REQUIRE(store->append(a, ExpectedVersion::exact(3), events(40)).ok());  // a run: versions 4-43
  REQUIRE(store->append(a, ExpectedVersion::exact(43), events(2)).ok());  // copies: 44-45

  std::vector<Version> seen;
  REQUIRE(store
              ->visit_stream(a, 10, 12,
                             [&](const EventView& e) {
                               seen.push_back(e.version);
                               CHECK(e.stream_id == "ledger-1");
                               CHECK(e.position.value() == e.version.value() + 5);  // behind the five events of other-1
                               return Status();
                             })
              .ok());
  CHECK(seen == std::vector<Version>{10, 11, 12});

  auto fwd = store->read_stream(a, ReadDirection::kForward, 2, 5).value();
  REQUIRE(fwd.events.size() == 5);
  CHECK(fwd.events.front().version == 2);
  CHECK(fwd.events.back().version == 6);
  CHECK(fwd.next_version == 7);

  auto back = store->read_stream(a, ReadDirection::kBackward, 44, 3).value();
  REQUIRE(back.events.size() == 3);
  CHECK(back.events[0].version == 44);
  CHECK(back.events[2].version == 42);
  CHECK(back.next_version == 41);

  auto all = store->read_stream(a, ReadDirection::kForward, 0, 1000).value();
  REQUIRE(all.events.size() == 45);
  for (std::size_t i = 0; i < all.events.size(); ++i) {
    CHECK(all.events[i].version == i + 1);
    CHECK(all.events[i].stream_id == "ledger-1");
  }
  CHECK(all.end_of_stream);
}

TEST_CASE("a store of a newer format version is refused with kCorruption saying so, and left untouched") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE(store->append(sid("s-1"), ExpectedVersion::any(), events(1)).ok());
  }
  {
    // Stamp the store as written by a future strata.
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), families, &handles, &raw).ok());
    const char newer[4] = {0, 0, 0, 2};
    CHECK(raw->Put(rocksdb::WriteOptions(), "strata.format_version", rocksdb::Slice(newer, 4)).ok());
    for (auto* h : handles) CHECK(raw->DestroyColumnFamilyHandle(h).ok());
    CHECK(raw->Close().ok());
    delete raw;
  }
  auto reopened = RocksEventStore::open(test_options(), dir.path());
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.status().code() == StatusCode::kCorruption);
  CHECK(reopened.status().message() ==
        "open event store \"" + dir.path() +
            "\": the store has format version 2, newer than the 1 this build reads; open it with a newer strata");
}

TEST_CASE("a RocksDB database that is not a strata store is refused, and so is a missing store without create") {
  TempDir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, dir.path(), &raw).ok());
    CHECK(raw->Put(rocksdb::WriteOptions(), "some", "data").ok());
    CHECK(raw->Close().ok());
    delete raw;
  }
  auto foreign = RocksEventStore::open(test_options(), dir.path());
  CHECK(foreign.status().code() == StatusCode::kCorruption);
  CHECK(std::string(foreign.status().message()).find("not a strata store") != std::string::npos);

  auto options = test_options();
  options.create_if_missing = false;
  auto missing = RocksEventStore::open(options, dir.sub("nothing-here"));
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("a clean close writes the write buffers to table files, so that an open replays no log") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    REQUIRE(store->append(sid("account-1"), ExpectedVersion::no_stream(), events(10)).ok());
  }
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir.path(), families, &handles, &raw).ok());
  std::uint64_t in_memory = 0, in_files = 0;
  for (auto* h : handles) {
    std::uint64_t n = 0;
    CHECK(raw->GetIntProperty(h, "rocksdb.num-entries-active-mem-table", &n));
    in_memory += n;
    CHECK(raw->GetIntProperty(h, "rocksdb.estimate-num-keys", &n));
    in_files += n;
    CHECK(raw->DestroyColumnFamilyHandle(h).ok());
  }
  delete raw;
  CHECK(in_memory == 0);
  CHECK(in_files >= 10);
  CHECK(open_store(dir.path())->head_position() == 10);
}

TEST_CASE("a new store creates the directories above it, and a path it cannot create is kIOError naming it") {
  TempDir dir;
  {
    auto nested = RocksEventStore::open(test_options(), dir.sub("a/b/store"));
    REQUIRE(nested.ok());
    CHECK((*nested)->append(sid("account-1"), ExpectedVersion::no_stream(), events(1)).ok());
  }
  CHECK(open_store(dir.sub("a/b/store"))->head_position() == 1);

  std::ofstream(dir.sub("file")) << "not a directory";
  auto blocked = RocksEventStore::open(test_options(), dir.sub("file/store"));
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.status().code() == StatusCode::kIOError);
  CHECK(std::string(blocked.status().message()).find("file/store") != std::string::npos);
}

TEST_CASE("a second open of a directory in use in the same process fails with kUnavailable naming the store") {
  TempDir dir;
  auto store = open_store(dir.path());
  auto second = RocksEventStore::open(test_options(), dir.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kUnavailable);
  CHECK(second.status().message() ==
        "event store \"" + dir.path() +
            "\" is in use: another process, or another open RocksEventStore in this process, holds its lock; close "
            "that one first (or read it through the application that holds it)");
  // The first store is unaffected.
  CHECK(store->append(sid("s-1"), ExpectedVersion::no_stream(), events(1)).ok());
  store.reset();
  CHECK(RocksEventStore::open(test_options(), dir.path()).ok());
}

TEST_CASE("bad input is a typed error that writes nothing, and the store works afterwards") {
  TempDir dir;
  auto options = test_options();
  options.limits.max_payload_bytes = 100;
  options.limits.max_events_per_append = 5;
  auto store = open_store(dir.path(), options);

  CHECK(StreamId::parse("").status().code() == StatusCode::kInvalidArgument);
  CHECK(StreamId::parse("has space").status().code() == StatusCode::kInvalidArgument);
  CHECK(StreamId::parse(std::string(129, 'a')).status().code() == StatusCode::kInvalidArgument);

  const StreamId a = sid("a-1");
  auto oversize =
      store->append(a, ExpectedVersion::any(),
                    std::vector<EventData>{conformance::event("t.v1", "{\"s\":\"" + std::string(100, 'x') + "\"}")});
  CHECK(oversize.status().code() == StatusCode::kInvalidArgument);
  auto too_many = store->append(a, ExpectedVersion::any(), events(6));
  CHECK(too_many.status().code() == StatusCode::kInvalidArgument);
  CHECK(too_many.status().message() == "append to stream \"a-1\": 6 events exceeds the limit of 5 per append");
  EventData bad_meta = conformance::event();
  bad_meta.metadata.headers = {{"k", "1"}, {"k", "2"}};
  CHECK(store->append(a, ExpectedVersion::any(), std::vector<EventData>{bad_meta}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(store->head_position() == 0);
  CHECK(store->stream_head(a).value() == 0);

  CHECK(store->append(a, ExpectedVersion::no_stream(), events(5)).value() == AppendResult{5, 1, 5});
  store.reset();
  store = open_store(dir.path(), options);
  CHECK(whole_log(*store) ==
        "a-1@1#1 test.happened.v1 {\"n\":0}\na-1@2#2 test.happened.v1 {\"n\":1}\na-1@3#3 test.happened.v1 {\"n\":2}\n"
        "a-1@4#4 test.happened.v1 {\"n\":3}\na-1@5#5 test.happened.v1 {\"n\":4}\n");
}

TEST_CASE("commit timestamps stay non-decreasing when the clock goes back, across a restart too") {
  TempDir dir;
  std::int64_t now = 2'000'000;
  auto options = test_options();
  options.clock = [&] { return Timestamp(std::chrono::microseconds(now)); };
  const StreamId s = sid("s-1");
  {
    auto store = open_store(dir.path(), options);
    REQUIRE(store->append(s, ExpectedVersion::any(), events(1)).ok());
  }
  now = 1'000;  // the wall clock jumped back while the store was closed
  auto store = open_store(dir.path(), options);
  REQUIRE(store->append(s, ExpectedVersion::any(), events(1)).ok());
  auto read = store->read_stream(s, ReadDirection::kForward, 1, 10).value();
  REQUIRE(read.events.size() == 2);
  CHECK(read.events[0].timestamp.time_since_epoch().count() == 2'000'000);
  CHECK(read.events[1].timestamp.time_since_epoch().count() == 2'000'000);
}

TEST_CASE("snapshots are kept per stream, found at or below a version, trimmed, and survive a reopen") {
  TempDir dir;
  const StreamId a = sid("account-7");
  {
    auto store = open_store(dir.path());
    SnapshotStore* snapshots = store->snapshot_store();
    REQUIRE(snapshots != nullptr);
    for (Version v : {10, 20, 30})
      REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{v, 42, 1, "{\"v\":" + to_string(v) + "}"}).ok());
    REQUIRE(snapshots->save_snapshot(sid("account-7x"), SnapshotRecord{5, 1, 1, "{}"}).ok());
    CHECK(snapshots->save_snapshot(a, SnapshotRecord{0, 1, 1, "{}"}).code() == StatusCode::kInvalidArgument);
  }
  auto store = open_store(dir.path());
  SnapshotStore* snapshots = store->snapshot_store();
  const SnapshotSchema schema{42, 1};
  CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{10, 20, 30});
  CHECK(snapshots->load_snapshot(a, 25, schema).value()->payload == "{\"v\":20}");
  CHECK(snapshots->load_snapshot(a, 1000, schema).value()->version == 30);
  CHECK(snapshots->load_snapshot(a, kEndOfStream, schema).value()->version == 30);
  CHECK_FALSE(snapshots->load_snapshot(a, 9, schema).value().has_value());
  CHECK_FALSE(snapshots->load_snapshot(a, 1000, SnapshotSchema{42, 2}).value().has_value());
  CHECK_FALSE(snapshots->load_snapshot(sid("account"), 100, schema).value().has_value());
  REQUIRE(snapshots->retain_snapshots(a, schema, 1).ok());
  CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{30});
  CHECK(snapshots->snapshot_versions(sid("account-7x")).value() == std::vector<Version>{5});
}

TEST_CASE("snapshot keys of the first layout (one per version, no schema) are passed over and deleted by retention") {
  TempDir dir;
  const StreamId a = sid("account-8");
  const SnapshotSchema schema{42, 1};
  { auto store = open_store(dir.path()); }
  // Write a snapshot as the first layout did: stream 0x00 version:be64.
  std::string old_key = "account-8";
  old_key += '\0';
  strata::encoding::put_be(old_key, 5, 8);
  with_raw_store(dir.path(), [&](rocksdb::DB& db, RawFamilies& f) {
    REQUIRE(
        db.Put(rocksdb::WriteOptions(), f["snapshots"], old_key, encode_snapshot(SnapshotRecord{5, 42, 1, "{}"})).ok());
  });
  {
    auto store = open_store(dir.path());
    SnapshotStore* snapshots = store->snapshot_store();
    CHECK_FALSE(snapshots->load_snapshot(a, kEndOfStream, schema).value().has_value());
    REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{9, 42, 1, "{}"}).ok());
    REQUIRE(snapshots->retain_snapshots(a, schema, 3).ok());
    CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{9});
  }
  with_raw_store(dir.path(), [&](rocksdb::DB& db, RawFamilies& f) {
    std::string value;
    CHECK(db.Get(rocksdb::ReadOptions(), f["snapshots"], old_key, &value).IsNotFound());
  });
}

TEST_CASE("a store is not opened with limits or a write buffer out of their ranges, and nothing is created") {
  TempDir dir;
  auto options = test_options();
  options.limits.max_json_depth = SIZE_MAX;  // aborted the process on the first append once
  auto store = RocksEventStore::open(options, dir.sub("limits"));
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kInvalidArgument);
  CHECK(store.status().message().find("max_json_depth") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.sub("limits")));

  options = test_options();
  options.write_buffer_bytes = 64 << 10;  // RocksDB aborted the process on opening the event-id family
  auto small = RocksEventStore::open(options, dir.sub("buffer"));
  REQUIRE_FALSE(small.ok());
  CHECK(small.status().code() == StatusCode::kInvalidArgument);
  CHECK(small.status().message().find("write_buffer_bytes is 65536, expected at least 262144") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.sub("buffer")));
  options.write_buffer_bytes = 256 << 10;
  auto smallest = RocksEventStore::open(options, dir.sub("buffer"));
  REQUIRE(smallest.ok());
  CHECK((*smallest)->append(StreamId::parse("a-1").value(), ExpectedVersion::no_stream(), events(300)).ok());
}

namespace {

// Whether any file under `dir` holds `bytes`.
bool any_file_holds(const std::string& dir, std::string_view bytes) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(bytes) != std::string::npos) return true;
  }
  return false;
}

// The subject's key as stored, read from the closed store's subject_keys family.
std::string stored_key(const std::string& path, const std::string& subject) {
  std::string value;
  with_raw_store(
      path,
      [&](rocksdb::DB& db, RawFamilies& f) {
        REQUIRE(db.Get(rocksdb::ReadOptions(), f.at("subject_keys"), subject, &value).ok());
      },
      testing::RawOpen::kReadOnly);
  REQUIRE(value.size() == 33);
  return value.substr(1);
}

}  // namespace

TEST_CASE("personal data is never in the store's files in the clear, and a forgotten key leaves every file") {
  using strata::conformance::personal::Customer;
  testing::TempDir dir;
  const auto id = sid("customer-zed");
  {
    auto store = testing::open_store(dir.path(), testing::test_options(/*sync=*/true));
    strata::Repository<Customer> repo(*store);
    Customer c = repo.create(id);
    c.register_as("c-zed", "zed.plaintext@example.com", 52);
    c.move("77 Plaintext Avenue");
    REQUIRE(repo.save(c).ok());
  }
  CHECK_FALSE(any_file_holds(dir.path(), "zed.plaintext@example.com"));
  CHECK_FALSE(any_file_holds(dir.path(), "77 Plaintext Avenue"));
  const std::string key = stored_key(dir.path(), "c-zed");
  CHECK(any_file_holds(dir.path(), key));
  {
    auto store = testing::open_store(dir.path(), testing::test_options(/*sync=*/true));
    CHECK(store->personal_data()->forget("c-zed").value());
    CHECK(strata::Repository<Customer>(*store).load(id).value().email().empty());
  }
  CHECK_FALSE(any_file_holds(dir.path(), key));
  auto store = testing::open_store(dir.path());
  CHECK(strata::Repository<Customer>(*store).load(id).value().version() == 2);
  CHECK(store->read_log(0, 10).value().events.at(0).payload.find("strata.redacted") != std::string::npos);
}

TEST_CASE("retention deletes removed events' bytes in compactions, keeps each head, and verify and open accept it") {
  using namespace std::chrono_literals;
  TempDir dir;
  strata::conformance::TestClock clock;
  auto options = test_options();
  options.retention.set("telemetry", {.max_count = 2});
  options.retention.set("session", {.max_age = 10s});
  options.clock = clock.fn();
  const auto t = sid("telemetry-1"), s = sid("session-1"), a = sid("account-1");
  auto marked = [](std::string marker) {
    return std::vector<EventData>{EventData{EventId::generate(), "m.v1", R"({"m":")" + marker + R"("})", {}}};
  };
  {
    auto store = open_store(dir.path(), options);
    for (int i = 0; i < 5; ++i)
      REQUIRE(store->append(t, ExpectedVersion::any(), marked("tele-" + std::to_string(i))).ok());
    for (int i = 0; i < 3; ++i)
      REQUIRE(store->append(s, ExpectedVersion::any(), marked("sess-" + std::to_string(i))).ok());
    REQUIRE(store->append(a, ExpectedVersion::any(), marked("acct-0")).ok());
    clock.advance(11s);  // every session event expires
    REQUIRE(store->compact().ok());
    auto report = store->verify().value();
    CHECK(report.problems.empty());
    CHECK(report.removed == 6);
  }
  for (const char* gone : {"tele-0", "tele-1", "tele-2", "sess-0", "sess-1", "sess-2"})
    CHECK_MESSAGE(!any_file_holds(dir.path(), gone), gone);
  CHECK(any_file_holds(dir.path(), "tele-3"));
  CHECK(any_file_holds(dir.path(), "acct-0"));
  // Open and verify of the closed store accept the removals, and each stream keeps its head.
  auto closed = RocksEventStore::verify(options, dir.path());
  REQUIRE(closed.ok());
  CHECK(closed->problems.empty());
  auto store = open_store(dir.path(), options);
  CHECK(store->stream_info(s).value().head == 3);
  CHECK(store->stream_info(s).value().first_version == 4);
  CHECK(store->stream_info(t).value().first_version == 4);
  CHECK(store->append(s, ExpectedVersion::exact(3), marked("sess-3")).value() == AppendResult{4, 10, 10});
  CHECK(render(store->read_stream(t, ReadDirection::kForward, 0, 10).value().events).find("tele-3") !=
        std::string::npos);
  auto log = store->read_log(1, 100).value();
  CHECK(log.removed == 6);
  CHECK(log.events.size() == 4);
  // Without the policies the removed versions read as truncated, not as damage.
  store.reset();
  auto without = test_options();
  without.clock = clock.fn();
  store = open_store(dir.path(), without);
  CHECK(store->read_stream(t, ReadDirection::kForward, 1, 10).status().code() == StatusCode::kStreamTruncated);
  CHECK(store->read_log(1, 100).value().removed == 6);
  CHECK(store->verify().value().problems.empty());
}

TEST_CASE("a store whose last log record is a retention tombstone opens, also for a stream truncated before") {
  using namespace std::chrono_literals;
  TempDir dir;
  strata::conformance::TestClock clock;
  auto options = test_options();
  options.retention.set("session", {.max_age = 10s});
  options.clock = clock.fn();
  const auto s1 = sid("session-1"), s2 = sid("session-2");
  {
    auto store = open_store(dir.path(), options);
    REQUIRE(store->append(s1, ExpectedVersion::no_stream(), events(2)).ok());
    REQUIRE(store->truncate_stream(s1, ExpectedVersion::exact(2), 2).ok());  // its record's head is 2
    REQUIRE(store->append(s1, ExpectedVersion::exact(2), events(1)).ok());
    REQUIRE(store->append(s2, ExpectedVersion::no_stream(), events(1)).ok());
    REQUIRE(store->append(s1, ExpectedVersion::exact(3), events(1)).ok());  // the log's last record
    clock.advance(11s);
    REQUIRE(store->compact().ok());
    CHECK(store->read_log(1, 10).value().removed == 5);
  }
  auto closed = RocksEventStore::verify(options, dir.path());
  REQUIRE(closed.ok());
  CHECK(closed->problems.empty());
  auto store = open_store(dir.path(), options);
  CHECK(store->stream_info(s1).value().head == 4);
  CHECK(store->append(s1, ExpectedVersion::exact(4), events(1)).value() == AppendResult{5, 6, 6});
  CHECK(store->verify().value().problems.empty());
}
