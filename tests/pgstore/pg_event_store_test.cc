// PgEventStore against a real PostgreSQL server: the conformance suite, and what only a shared server
// brings — several stores (as several processes) appending at once, other processes' commits heard,
// schema versions checked on open.
#include "strata/pgstore/pg_event_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "conformance/lifecycle_conformance.h"
#include "conformance/personal_data_conformance.h"
#include "conformance/retention_conformance.h"
#include "conformance/store_conformance.h"
#include "pgstore/pg_test_support.h"

namespace {

using namespace strata;
using strata::conformance::events;
using strata::conformance::render;
using strata::conformance::sid;

struct PgFixture {
  static constexpr bool kDurable = true;
  pgtest::TestSchema schema;
  std::unique_ptr<EventStore> open() { return schema.open(); }
  std::unique_ptr<EventStore> open_retained(const Retention& retention, std::function<Timestamp()> clock) {
    auto o = schema.options();
    o.retention = retention;
    o.clock = std::move(clock);
    o.retention_interval = std::chrono::milliseconds(0);
    return pgtest::TestSchema::open(o);
  }
};

}  // namespace

STRATA_STORE_CONFORMANCE(store_conformance, "event store conformance", PgFixture)
STRATA_STORE_CONFORMANCE(lifecycle_conformance, "stream lifecycle conformance", PgFixture)
STRATA_STORE_CONFORMANCE(personal_data_conformance, "personal data conformance", PgFixture)
STRATA_STORE_CONFORMANCE(retention_conformance, "retention conformance", PgFixture)

TEST_CASE("two stores on one schema, as two processes: appends interleave without gaps and each hears the other") {
  pgtest::TestSchema schema;
  auto one = schema.open();
  auto two = schema.open();
  std::atomic<std::uint64_t> heard{0};
  auto sub = two->subscribe_commits([&](Position p) { heard = p.value(); });
  REQUIRE(one->append(sid("a-1"), ExpectedVersion::no_stream(), events(3)).ok());
  REQUIRE(two->append(sid("a-1"), ExpectedVersion::exact(3), events(2)).ok());
  auto stale = one->append(sid("a-1"), ExpectedVersion::exact(3), events(1));
  CHECK(stale.status().code() == StatusCode::kWrongExpectedVersion);
  REQUIRE(one->append(sid("b-1"), ExpectedVersion::any(), events(1)).ok());
  // `two` hears `one`'s commit by notification (or by the poll).
  for (int i = 0; i < 200 && heard.load() < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(heard.load() == 6);
  CHECK(two->head_position() == 6);
  auto log = two->read_log(1, 100).value();
  REQUIRE(log.events.size() == 6);
  for (std::size_t i = 0; i < log.events.size(); ++i) CHECK(log.events[i].position == i + 1);
}

TEST_CASE(
    "16 writers on 4 stores, one stream and many: nothing lost or duplicated, versions and positions contiguous") {
  pgtest::TestSchema schema;
  std::vector<std::unique_ptr<PgEventStore>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(schema.open());
  constexpr int kWriters = 16, kPer = 40;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      EventStore& store = *stores[static_cast<std::size_t>(w % 4)];
      for (int i = 0; i < kPer; ++i) {
        if (!store.append(sid("hot-1"), ExpectedVersion::any(), events(1)).ok()) ++errors;
        if (!store.append(sid("cold-" + std::to_string(w * kPer + i)), ExpectedVersion::no_stream(), events(2)).ok())
          ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors.load() == 0);
  auto& store = *stores[0];
  CHECK(store.stream_head(sid("hot-1")).value() == kWriters * kPer);
  auto log = store.read_log(1, 1'000'000).value();
  REQUIRE(log.events.size() == kWriters * kPer * 3);
  std::set<EventId> ids;
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    CHECK(log.events[i].position == i + 1);
    ids.insert(log.events[i].id);
  }
  CHECK(ids.size() == log.events.size());
  auto hot = store.read_stream(sid("hot-1"), ReadDirection::kForward, 1, 100'000).value();
  for (std::size_t i = 0; i < hot.events.size(); ++i) CHECK(hot.events[i].version == i + 1);
}

TEST_CASE("a schema written by a newer strata, or holding other tables, is refused on open and left alone") {
  pgtest::TestSchema schema;
  { auto store = schema.open(); }
  {
    auto c = pgtest::exec(schema.url(), "UPDATE \"" + schema.schema() + "\".strata_meta SET value = '99'");
    REQUIRE(c.empty());
  }
  auto newer = PgEventStore::open(schema.options());
  CHECK(newer.status().code() == StatusCode::kCorruption);
  CHECK(newer.status().message().find("newer strata") != std::string::npos);

  pgtest::TestSchema other;
  REQUIRE(pgtest::exec(other.url(), "CREATE SCHEMA \"" + other.schema() + "\"; CREATE TABLE \"" + other.schema() +
                                        "\".orders (id int)")
              .empty());
  auto foreign = PgEventStore::open(other.options());
  CHECK(foreign.status().code() == StatusCode::kCorruption);
}

TEST_CASE("a server that cannot be reached is kUnavailable, and bad options are kInvalidArgument") {
  PgEventStore::Options o;
  o.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2";
  CHECK(PgEventStore::open(o).status().code() == StatusCode::kUnavailable);
  o.conninfo.clear();
  CHECK(PgEventStore::open(o).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("snapshots and a long stream read in pages") {
  pgtest::TestSchema schema;
  auto store = schema.open();
  for (int i = 0; i < 5; ++i) REQUIRE(store->append(sid("long-1"), ExpectedVersion::any(), events(1000)).ok());
  std::uint64_t expect = 1;
  REQUIRE(store
              ->visit_stream(sid("long-1"), 1, kEndOfStream,
                             [&](const EventView& e) {
                               CHECK(e.version == expect);
                               ++expect;
                               return Status();
                             })
              .ok());
  CHECK(expect == 5001);
  std::uint64_t seen = 0;
  auto visit = store->visit_log(1, 4500, LogFilter{}, [&](const EventView&) {
    ++seen;
    return Status();
  });
  REQUIRE(visit.ok());
  CHECK(seen == 4500);
  CHECK(visit->next_position == 4501);
  CHECK_FALSE(visit->end_of_log);
  CHECK(store->version_as_of(sid("long-1"), Timestamp::max()).value() == 5000);
  CHECK(store->version_as_of(sid("long-1"), Timestamp{}).value() == 0);
  CHECK(store->version_as_of(sid("none-1"), Timestamp::max()).status().code() == StatusCode::kNotFound);
}

TEST_CASE("a store whose notification connection the server dropped still hears other processes' commits") {
  pgtest::TestSchema schema;
  PgEventStore::Options options = schema.options();
  options.poll_interval = std::chrono::milliseconds(100);
  auto follower = pgtest::TestSchema::open(options);
  auto writer = schema.open();
  REQUIRE(writer->append(sid("a-1"), ExpectedVersion::any(), events(1)).ok());
  for (int i = 0; i < 200 && follower->head_position() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(follower->head_position() == 1);
  // Every notification connection on this schema's channel ends (both stores'); commits go on meanwhile.
  for (int round = 0; round < 3; ++round) {
    const std::string ended =
        pgtest::query_one(schema.url(),
                          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = "
                          "'strata listener strata." +
                              schema.schema() + "'");
    if (round == 0) CHECK(ended == "2");
    REQUIRE(writer->append(sid("a-1"), ExpectedVersion::any(), events(2)).ok());
  }
  for (int i = 0; i < 500 && follower->head_position() < 7; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(follower->head_position() == 7);
}

TEST_CASE("a store of schema version 1 is migrated on open: its events and streams read as before, and live") {
  pgtest::TestSchema schema;
  const auto first = events(3);
  {
    auto store = schema.open();
    REQUIRE(store->append(sid("a-1"), ExpectedVersion::no_stream(), first).ok());
    REQUIRE(store->append(sid("b-1"), ExpectedVersion::no_stream(), events(2)).ok());
  }
  // The tables as version 1 made them.
  const std::string s = "\"" + schema.schema() + "\"";
  REQUIRE(pgtest::exec(schema.url(), "DROP INDEX " + s + ".events_removed; ALTER TABLE " + s +
                                         ".events DROP COLUMN removed; ALTER TABLE " + s +
                                         ".streams DROP COLUMN state, DROP COLUMN first_version, DROP COLUMN origin; "
                                         "DROP TABLE " +
                                         s + ".subject_keys; UPDATE " + s +
                                         ".strata_meta SET value = '1' WHERE key = 'schema_version'")
              .empty());
  auto store = schema.open();
  CHECK(pgtest::query_one(schema.url(), "SELECT value FROM " + s + ".strata_meta WHERE key = 'schema_version'") ==
        std::to_string(PgEventStore::kSchemaVersion));
  CHECK(store->stream_info(sid("a-1")).value() == StreamInfo{"a-1", 3, StreamState::kLive, 1, 1});
  CHECK(store->read_stream(sid("a-1"), ReadDirection::kForward, 0, 10).value().events.size() == 3);
  CHECK(store->append(sid("a-1"), ExpectedVersion::no_stream(), first).value() == AppendResult{3, 1, 3});
  CHECK(store->delete_stream(sid("a-1"), ExpectedVersion::exact(3), DeleteMode::kHard).value() ==
        LifecycleResult{3, 3});
  auto log = store->read_log(1, 10).value();
  CHECK(log.events.size() == 2);
  CHECK(log.removed == 3);
  CHECK(log.end_of_log);
  std::string token;
  CHECK(store->personal_data()->seal("c-1", "\"x\"", token).ok());
  // A second open finds it migrated.
  CHECK(schema.open()->stream_info(sid("a-1")).value().state == StreamState::kHardDeleted);
}

TEST_CASE("a stream another process deleted or truncated is seen by this one's appends and reads at once") {
  pgtest::TestSchema schema;
  auto one = schema.open();
  auto two = schema.open();
  REQUIRE(one->append(sid("a-1"), ExpectedVersion::no_stream(), events(2)).ok());
  REQUIRE(one->append(sid("b-1"), ExpectedVersion::no_stream(), events(2)).ok());
  REQUIRE(one->append(sid("c-1"), ExpectedVersion::no_stream(), events(2)).ok());
  // `one` knows the heads; the deletes come from `two`.
  REQUIRE(two->delete_stream(sid("a-1"), ExpectedVersion::exact(2), DeleteMode::kSoft).ok());
  REQUIRE(two->delete_stream(sid("b-1"), ExpectedVersion::exact(2), DeleteMode::kHard).ok());
  REQUIRE(two->truncate_stream(sid("c-1"), ExpectedVersion::exact(2), 2).ok());
  CHECK(one->append(sid("a-1"), ExpectedVersion::exact(2), events(1)).status().code() == StatusCode::kStreamDeleted);
  CHECK(one->append(sid("a-1"), ExpectedVersion::any(), events(1)).status().code() == StatusCode::kStreamDeleted);
  CHECK(one->append(sid("b-1"), ExpectedVersion::any(), events(1)).status().code() == StatusCode::kStreamDeleted);
  const auto ea = events(1), ec = events(1);
  const StreamAppend parts[] = {StreamAppend{sid("c-1"), ExpectedVersion::exact(2), ec},
                                StreamAppend{sid("a-1"), ExpectedVersion::any(), ea}};
  CHECK(one->append_multi(parts).status().code() == StatusCode::kStreamDeleted);
  CHECK(one->head_position() == 6);
  // The truncated stream takes appends as before; the soft-deleted one is recreated by no_stream.
  CHECK(one->append(sid("c-1"), ExpectedVersion::exact(2), events(1)).value() == AppendResult{3, 7, 7});
  CHECK(one->append(sid("a-1"), ExpectedVersion::no_stream(), events(1)).value() == AppendResult{3, 8, 8});
  CHECK(one->read_stream(sid("c-1"), ReadDirection::kForward, 0, 10).value().events.size() == 2);
  CHECK(two->stream_info(sid("a-1")).value() == StreamInfo{"a-1", 3, StreamState::kLive, 3, 3});
}

TEST_CASE("a log read passes over a long run of tombstones in one call, counting them") {
  pgtest::TestSchema schema;
  auto store = schema.open();
  for (int i = 0; i < 5; ++i) REQUIRE(store->append(sid("gone-1"), ExpectedVersion::any(), events(1000)).ok());
  REQUIRE(store->append(sid("kept-1"), ExpectedVersion::any(), events(3)).ok());
  CHECK(store->delete_stream(sid("gone-1"), ExpectedVersion::any(), DeleteMode::kHard).value() ==
        LifecycleResult{5000, 5000});
  auto page = store->read_log(1, 2).value();
  REQUIRE(page.events.size() == 2);
  CHECK(page.events[0].position == 5001);
  CHECK(page.removed == 5000);
  CHECK(page.next_position == 5003);
  CHECK_FALSE(page.end_of_log);
  LogFilter kept;
  kept.categories = {"kept"};
  auto filtered = store->read_log(1, 10, kept).value();
  CHECK(filtered.events.size() == 3);
  CHECK(filtered.removed == 5000);
  CHECK(filtered.end_of_log);
  CHECK(filtered.next_position == 5004);
  // version_as_of answers as the other stores do: never with a removed version.
  CHECK(store->version_as_of(sid("gone-1"), Timestamp::max()).status().code() == StatusCode::kStreamDeleted);
  REQUIRE(store->truncate_stream(sid("kept-1"), ExpectedVersion::exact(3), 3).ok());
  CHECK(store->version_as_of(sid("kept-1"), Timestamp::max()).value() == 3);
  CHECK(store->version_as_of(sid("kept-1"), Timestamp{}).value() == 0);
  // The snapshots of a hard-deleted stream go with it.
  REQUIRE(store->append(sid("snap-1"), ExpectedVersion::any(), events(2)).ok());
  SnapshotRecord snapshot;
  snapshot.version = 2;
  snapshot.payload = "{}";
  REQUIRE(store->save_snapshot(sid("snap-1"), snapshot).ok());
  REQUIRE(store->delete_stream(sid("snap-1"), ExpectedVersion::any(), DeleteMode::kHard).ok());
  CHECK(store->snapshot_versions(sid("snap-1")).value().empty());
}

TEST_CASE("a store of schema version 2 made before subject keys gets its subject_keys table on open") {
  pgtest::TestSchema schema;
  (void)schema.open();
  const std::string s = "\"" + schema.schema() + "\"";
  REQUIRE(pgtest::exec(schema.url(), "DROP TABLE " + s + ".subject_keys").empty());
  auto store = schema.open();
  std::string token, scratch;
  REQUIRE(store->personal_data()->seal("c-1", "\"x\"", token).ok());
  CHECK(store->personal_data()->reveal(token, scratch).value() == "\"x\"");
  CHECK(pgtest::query_one(schema.url(), "SELECT count(*) FROM " + s + ".subject_keys") == "1");
}

TEST_CASE("two stores, as two processes, seal for the same new subjects at once: one key each, and one forget wins") {
  pgtest::TestSchema schema;
  auto one = schema.open();
  auto two = schema.open();
  constexpr int kSubjects = 40;
  const auto subject = [](int k) { return "c-" + std::to_string(k); };
  std::vector<std::string> tokens[2];
  std::atomic<int> errors{0}, had{0};
  auto run = [&](auto&& each) {
    std::thread a([&] { each(*one, 0); });
    std::thread b([&] { each(*two, 1); });
    a.join();
    b.join();
  };
  run([&](PgEventStore& store, int who) {
    for (int k = 0; k < kSubjects; ++k) {
      std::string token;
      if (!store.personal_data()->seal(subject(k), "\"v" + std::to_string(who) + "\"", token).ok()) ++errors;
      tokens[who].push_back(std::move(token));
    }
  });
  REQUIRE(errors.load() == 0);
  // Each store opens the other's tokens: both sealed with the one key the subject has.
  std::string scratch;
  for (int k = 0; k < kSubjects; ++k) {
    CHECK(one->personal_data()->reveal(tokens[1][k], scratch).value() == "\"v1\"");
    CHECK(two->personal_data()->reveal(tokens[0][k], scratch).value() == "\"v0\"");
  }
  run([&](PgEventStore& store, int) {
    for (int k = 0; k < kSubjects; ++k) {
      auto forgot = store.personal_data()->forget(subject(k));
      if (!forgot.ok()) ++errors;
      if (forgot.ok() && *forgot) ++had;
    }
  });
  CHECK(errors.load() == 0);
  CHECK(had.load() == kSubjects);
  // A store opened now (an empty key cache) reads them redacted, and cannot seal for them again.
  auto three = schema.open();
  std::string token;
  for (int k = 0; k < kSubjects; ++k) {
    CHECK(three->personal_data()->reveal(tokens[0][k], scratch).value() == "\"strata.redacted\"");
    CHECK(three->personal_data()->seal(subject(k), "1", token).code() == StatusCode::kInvalidArgument);
  }
  CHECK(three->personal_data()->forget(subject(0)).value() == false);
  CHECK(three->personal_data()->forget("never-sealed").value() == false);
  CHECK(three->personal_data()->seal("never-sealed", "1", token).code() == StatusCode::kInvalidArgument);
  const std::string s = "\"" + schema.schema() + "\"";
  CHECK(pgtest::query_one(schema.url(), "SELECT count(*) FROM " + s + ".subject_keys WHERE key IS NOT NULL") == "0");
}

TEST_CASE("the retention sweep turns what the policies remove into tombstones, by itself and on demand") {
  using namespace std::chrono_literals;
  pgtest::TestSchema schema;
  strata::conformance::TestClock clock;
  auto o = schema.options();
  o.retention.set("telemetry", {.max_count = 2});
  o.retention.set("session", {.max_age = 10s});
  o.clock = clock.fn();
  o.retention_interval = 0ms;
  auto store = pgtest::TestSchema::open(o);
  for (int i = 0; i < 5; ++i) REQUIRE(store->append(sid("telemetry-1"), ExpectedVersion::any(), events(1)).ok());
  REQUIRE(store->append(sid("session-1"), ExpectedVersion::no_stream(), events(3)).ok());
  REQUIRE(store->append(sid("account-1"), ExpectedVersion::no_stream(), events(2)).ok());
  clock.advance(11s);
  const std::string removed_rows = "SELECT count(*) FROM " + schema.schema() + ".events WHERE removed";
  CHECK(pgtest::query_one(schema.url(), removed_rows) == "0");
  const auto before = store->read_log(1, 100).value();
  CHECK(store->enforce_retention().value() == 6);
  CHECK(store->enforce_retention().value() == 0);
  CHECK(pgtest::query_one(schema.url(), removed_rows) == "6");
  CHECK(pgtest::query_one(schema.url(), "SELECT count(*) FROM " + schema.schema() +
                                            ".events WHERE removed AND payload <> ''") == "0");
  // Readers saw the same before and after.
  const auto after = store->read_log(1, 100).value();
  CHECK(render(after.events) == render(before.events));
  CHECK(after.removed == before.removed);
  CHECK(after.removed == 6);
  CHECK(store->stream_info(sid("session-1")).value().first_version == 4);
  CHECK(store->append(sid("session-1"), ExpectedVersion::exact(3), events(1)).value().stream_version == 4);
  store.reset();

  // With an interval, the store's own thread sweeps.
  o.retention_interval = 20ms;
  store = pgtest::TestSchema::open(o);
  for (int i = 0; i < 3; ++i) REQUIRE(store->append(sid("telemetry-1"), ExpectedVersion::any(), events(1)).ok());
  bool swept = false;
  for (int i = 0; i < 250 && !swept; ++i) {
    swept = pgtest::query_one(schema.url(), removed_rows) == "9";
    if (!swept) std::this_thread::sleep_for(20ms);
  }
  CHECK(swept);
}
