// PgEventStore shared by processes: 16 writers in two processes on one stream and on 1,000 streams while
// a follower reads the log; and the server crashed (pg_ctl stop -m immediate) and restarted during
// appends.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/child_process.h"
#include "pgstore/pg_test_support.h"
#include "strata/pgstore/pg_event_store.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

StreamId sid(const std::string& s) { return StreamId::parse(s).value(); }

// Follows the log from position 1 until it has seen `total` events or `timeout` passes; checks that
// every position comes once and in order.
std::uint64_t follow(PgEventStore& store, std::uint64_t total, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Position from = 1;
  std::uint64_t seen = 0;
  while (seen < total && Clock::now() < deadline) {
    auto v = store.visit_log(from, 1000, LogFilter{}, [&](const EventView& e) {
      if (e.position != seen + 1)
        return Status::internal("position " + to_string(e.position) + " after " + std::to_string(seen));
      ++seen;
      return Status();
    });
    REQUIRE_MESSAGE(v.ok(), v.status().to_string());
    from = v->next_position;
    if (v->end_of_log) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return seen;
}

void two_processes(const std::string& mode) {
  pgtest::TestSchema schema;
  auto store = schema.open();                  // creates the schema before the children open it
  constexpr int kWritersEach = 8, kPer = 125;  // spread: 8 x 125 appends cover the 1,000 streams
  std::vector<std::unique_ptr<testing::ChildProcess>> children;
  for (int c = 0; c < 2; ++c)
    children.push_back(std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{STRATA_PG_WRITER_CHILD, schema.url(), schema.schema(), std::to_string(kWritersEach),
                                 std::to_string(kPer), mode, std::to_string(c)}));
  const std::uint64_t total = 2 * kWritersEach * kPer;
  const std::uint64_t followed = follow(*store, total, std::chrono::seconds(120));
  for (auto& child : children) {
    std::string out;
    child->read_to_end(out);
    const int status = child->wait();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out == "appended " + std::to_string(kWritersEach * kPer) + "\n");
  }
  CHECK(followed == total);
  // Versions contiguous per stream, positions contiguous, every event once.
  auto log = store->read_log(1, 1'000'000).value();
  REQUIRE(log.events.size() == total);
  std::set<EventId> ids;
  std::map<std::string, std::uint64_t> versions;
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    const auto& e = log.events[i];
    CHECK(e.position == i + 1);
    CHECK(e.version == ++versions[e.stream_id]);
    ids.insert(e.id);
  }
  CHECK(ids.size() == total);
  for (const auto& [stream, head] : versions) CHECK(store->stream_head(sid(stream)).value() == head);
  CHECK(versions.size() == (mode == "hot" ? 1u : 1000u));
}

}  // namespace

TEST_CASE("16 writers in two processes on one stream, with a follower: 0 lost, 0 duplicated, all in order") {
  two_processes("hot");
}

TEST_CASE("16 writers in two processes on 1,000 streams, with a follower: 0 lost, 0 duplicated, all in order") {
  two_processes("spread");
}

TEST_CASE("the server crashed and restarted during appends: every acknowledged append is there, none is torn") {
  // A cluster of its own: the crash must not disturb the other tests.
  const std::string dir = std::string(std::getenv("STRATA_PG_DIR")) + "-crash";
  const std::string script = STRATA_PG_SCRIPT;
  REQUIRE(std::system(
              (script + " destroy " + dir + " >/dev/null 2>&1; " + script + " start " + dir + " >/dev/null").c_str()) ==
          0);
  struct Cleanup {
    std::string cmd;
    ~Cleanup() { (void)std::system(cmd.c_str()); }
  } cleanup{script + " destroy " + dir + " >/dev/null 2>&1"};
  std::string url;
  {
    std::FILE* f = std::fopen((dir + "/url").c_str(), "r");
    REQUIRE(f != nullptr);
    char buf[512] = {};
    REQUIRE(std::fgets(buf, sizeof buf, f) != nullptr);
    std::fclose(f);
    url = buf;
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  }
  PgEventStore::Options o;
  o.conninfo = url + "?connect_timeout=3";
  o.schema = "crash";
  auto store = pgtest::TestSchema::open(o);

  // Each writer appends 3-event batches to a stream of its own and records every batch it tried, with
  // whether it was acknowledged; an unacknowledged one is retried with the same ids until it settles.
  constexpr int kWriters = 4;
  struct Attempt {
    std::vector<EventData> events;
    bool acknowledged = false;
  };
  std::mutex mu;
  std::vector<Attempt> attempts;
  std::atomic<bool> stop{false};
  std::atomic<int> unknown{0}, acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const StreamId stream = sid("crash-" + std::to_string(w));
      while (!stop.load()) {
        Attempt a;
        for (int k = 0; k < 3; ++k) a.events.push_back(EventData{EventId::generate(), "test.t.v1", R"({"k":1})", {}});
        // Until it settles: acknowledged, or the deadline (then it stays unacknowledged, maybe committed).
        const auto deadline = Clock::now() + std::chrono::seconds(60);
        for (;;) {
          auto r = store->append(stream, ExpectedVersion::any(), a.events);
          if (r.ok()) {
            a.acknowledged = true;
            ++acked;
            break;
          }
          if (r.status().code() != StatusCode::kUnavailable || Clock::now() > deadline) break;
          ++unknown;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        std::lock_guard lock(mu);
        attempts.push_back(std::move(a));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int before = acked.load();
  REQUIRE(std::system((script + " kill " + dir + " >/dev/null").c_str()) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  REQUIRE(std::system((script + " restart " + dir + " >/dev/null").c_str()) == 0);
  // Appends go on after the restart.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (acked.load() < before + 50 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  for (auto& t : writers) t.join();
  CHECK(before > 0);
  CHECK(acked.load() >= before + 50);
  CHECK(unknown.load() > 0);  // the crash was felt

  // Every acknowledged batch is there, whole; every batch is all there or not at all.
  std::size_t present = 0;
  for (const Attempt& a : attempts) {
    int found = 0;
    for (const EventData& e : a.events) {
      auto where = store->lookup_event(e.id);
      REQUIRE_MESSAGE(where.ok(), where.status().to_string());
      if (where->has_value()) ++found;
    }
    CHECK((found == 0 || found == 3));
    if (a.acknowledged) CHECK(found == 3);
    if (found == 3) ++present;
  }
  auto log = store->read_log(1, 1'000'000).value();
  CHECK(log.events.size() == present * 3);
  for (std::size_t i = 0; i < log.events.size(); ++i) CHECK(log.events[i].position == i + 1);
}
