// Many writers through the group commit at once, and a log reader following them: nothing lost,
// nothing duplicated, versions and positions contiguous, and the reader sees each position once, in
// order, never one that is not yet committed.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conformance/store_conformance.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;
using strata::conformance::sid;

constexpr int kThreads = 16;

struct Acked {
  std::string stream;
  AppendResult result;
  std::vector<EventId> ids;
};

// Follows the log with visit_log from position 1 until `stop` is set and it has reached the head,
// recording problems instead of asserting (doctest assertions are not for other threads).
class LogFollower {
 public:
  explicit LogFollower(EventStore& store) : store_(store), thread_([this] { run(); }) {}
  ~LogFollower() { finish(); }

  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<std::string>& problems() const { return problems_; }
  const std::vector<EventId>& ids() const { return ids_; }
  Position seen() const { return next_ - 1; }

 private:
  void run() {
    for (;;) {
      const bool last_round = stop_.load();
      for (;;) {
        auto next = store_.visit_log(next_, 256, LogFilter{}, [&](const EventView& e) {
          if (e.position != next_)
            problems_.push_back("expected position " + to_string(next_) + ", got " + to_string(e.position));
          if (e.position > store_.head_position())
            problems_.push_back("position " + to_string(e.position) + " read above the high-water mark");
          ids_.push_back(e.id);
          next_ = e.position + 1;
          return Status();
        });
        if (!next.ok()) {
          problems_.push_back(next.status().to_string());
          return;
        }
        if (next->next_position != next_) problems_.push_back("visit_log returned " + to_string(next->next_position));
        if (next->end_of_log) break;
      }
      if (last_round) return;
      std::this_thread::yield();
    }
  }

  EventStore& store_;
  std::atomic<bool> stop_{false};
  Position next_ = 1;
  std::vector<std::string> problems_;
  std::vector<EventId> ids_;
  std::thread thread_;
};

// Appends `appends_per_thread` appends of 1-3 events per thread, each to a stream chosen by `pick`,
// with the exact expected version read just before, retrying on kWrongExpectedVersion.
std::vector<Acked> append_concurrently(EventStore& store, int appends_per_thread,
                                       const std::function<std::string(std::mt19937&)>& pick,
                                       std::atomic<int>& conflicts, std::vector<std::string>& errors) {
  std::mutex mu;
  std::vector<Acked> acked;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < appends_per_thread; ++i) {
        const StreamId stream = sid(pick(rng));
        auto batch = conformance::events(1 + rng() % 3);
        for (;;) {
          auto head = store.stream_head(stream);
          if (!head.ok()) {
            std::lock_guard lock(mu);
            errors.push_back(head.status().to_string());
            return;
          }
          auto r = store.append(stream, ExpectedVersion::exact(*head), batch);
          if (r.ok()) {
            std::vector<EventId> ids;
            for (const auto& e : batch) ids.push_back(e.id);
            std::lock_guard lock(mu);
            acked.push_back(Acked{stream.str(), *r, std::move(ids)});
            break;
          }
          if (r.status().code() != StatusCode::kWrongExpectedVersion) {
            std::lock_guard lock(mu);
            errors.push_back(r.status().to_string());
            return;
          }
          ++conflicts;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return acked;
}

// Checks the store against what was acknowledged: every acknowledged event where it was acknowledged,
// nothing else, positions 1..N and each stream's versions 1..head contiguous.
void check_store(EventStore& store, const std::vector<Acked>& acked) {
  std::size_t total = 0;
  std::map<std::string, Version> heads;
  for (const auto& a : acked) {
    total += a.ids.size();
    heads[a.stream] = std::max(heads[a.stream], a.result.stream_version);
  }
  CHECK(store.head_position() == total);
  auto log = store.read_log(1, total + 10).value();
  REQUIRE(log.events.size() == total);
  std::set<EventId> ids;
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    CHECK(log.events[i].position == i + 1);
    ids.insert(log.events[i].id);
  }
  CHECK(ids.size() == total);
  for (const auto& a : acked) {
    REQUIRE(a.result.last_position - a.result.first_position + 1 == a.ids.size());
    for (std::size_t i = 0; i < a.ids.size(); ++i) {
      const RecordedEvent& e = testing::event_at(log.events, a.result.first_position + i);
      CHECK(e.id == a.ids[i]);
      CHECK(e.stream_id == a.stream);
      CHECK(e.version == a.result.stream_version - a.ids.size() + 1 + i);
    }
  }
  for (const auto& [stream, head] : heads) {
    auto read = store.read_stream(sid(stream), ReadDirection::kForward, 1, head.value() + 10).value();
    REQUIRE(read.events.size() == head);
    for (std::size_t i = 0; i < read.events.size(); ++i) CHECK(read.events[i].version == i + 1);
    CHECK(store.stream_head(sid(stream)).value() == head);
  }
}

}  // namespace

TEST_CASE("sixteen threads appending to one stream lose and duplicate nothing, and a log reader sees it all in order") {
  testing::TempDir dir;
  auto store = testing::open_store(dir.path());
  std::atomic<int> conflicts{0};
  std::vector<std::string> errors;
  LogFollower follower(*store);
  auto acked = append_concurrently(
      *store, 40, [](std::mt19937&) { return std::string("hot-1"); }, conflicts, errors);
  follower.finish();
  CHECK(errors.empty());
  CHECK(follower.problems().empty());
  CHECK(acked.size() == kThreads * 40);
  check_store(*store, acked);
  CHECK(follower.seen() == store->head_position());
  CHECK(std::set<EventId>(follower.ids().begin(), follower.ids().end()).size() == follower.ids().size());
  MESSAGE("conflicts retried: ", conflicts.load());
}

TEST_CASE("sixteen threads appending to a thousand streams lose and duplicate nothing, and a log reader sees it all") {
  testing::TempDir dir;
  auto store = testing::open_store(dir.path());
  std::atomic<int> conflicts{0};
  std::vector<std::string> errors;
  LogFollower follower(*store);
  auto acked = append_concurrently(
      *store, 150, [](std::mt19937& rng) { return "stream-" + std::to_string(rng() % 1000); }, conflicts, errors);
  follower.finish();
  CHECK(errors.empty());
  CHECK(follower.problems().empty());
  check_store(*store, acked);
  CHECK(follower.seen() == store->head_position());

  // And all of it again after a reopen.
  store.reset();
  store = testing::open_store(dir.path());
  check_store(*store, acked);
}

// Holds the commit step inside the clock hook (called by the head while it prepares its group) while
// four more appends queue behind it, so that they form the next group together. The checks do not
// depend on the order in which the four queue, nor on their sharing a group (an append that queued
// late lands in a later group, with the same outcome); the hold only makes sharing the usual case.
TEST_CASE("appends in one commit group see each other: same stream, and the same event ids") {
  testing::TempDir dir;
  auto options = testing::test_options();
  std::atomic<bool> hold{false};
  std::atomic<int> held{0};
  options.clock = [&] {
    if (hold.exchange(false)) {
      ++held;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return Timestamp(std::chrono::microseconds(1'000'000));
  };
  auto store = testing::open_store(dir.path(), options);
  const StreamId s = sid("group-1");
  auto retried = conformance::events(2);

  hold = true;
  std::thread first([&] { CHECK(store->append(sid("other-1"), ExpectedVersion::any(), conformance::events(1)).ok()); });
  while (held == 0) std::this_thread::yield();
  std::vector<Result<AppendResult>> results(4, Status::internal("not run"));
  std::vector<std::thread> queued;
  for (int i = 0; i < 4; ++i)
    queued.emplace_back([&, i] {
      // Two sends of one append (a retry racing the original), and two single-event appends.
      results[i] = i % 2 == 0 ? store->append(s, ExpectedVersion::any(), retried)
                              : store->append(s, ExpectedVersion::any(), conformance::events(1));
    });
  first.join();
  for (auto& th : queued) th.join();

  for (const auto& r : results) REQUIRE(r.ok());
  CHECK(*results[0] == *results[2]);  // committed once, both told where
  CHECK(results[0]->last_position - results[0]->first_position == 1);
  // Versions 1..4 of the stream and positions 2..5 of the log, each used once.
  std::set<Version> versions{results[0]->stream_version - 1, results[0]->stream_version, results[1]->stream_version,
                             results[3]->stream_version};
  CHECK(versions == std::set<Version>{1, 2, 3, 4});
  std::set<Position> positions{results[0]->first_position, results[0]->last_position, results[1]->first_position,
                               results[3]->first_position};
  CHECK(positions == std::set<Position>{2, 3, 4, 5});
  CHECK(store->head_position() == 5);
  CHECK(store->stream_head(s).value() == 4);
  auto stream = store->read_stream(s, ReadDirection::kForward, 1, 10).value();
  REQUIRE(stream.events.size() == 4);
  CHECK(std::count_if(stream.events.begin(), stream.events.end(),
                      [&](const RecordedEvent& e) { return e.id == retried[0].id; }) == 1);
}

TEST_CASE("retries of the same append racing each other commit it once and all get its result") {
  testing::TempDir dir;
  auto store = testing::open_store(dir.path());
  const StreamId s = sid("order-1");
  for (int round = 0; round < 20; ++round) {
    auto batch = conformance::events(1 + round % 20);  // copies and runs
    std::vector<Result<AppendResult>> results(kThreads, Status::internal("not run"));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] { results[t] = store->append(s, ExpectedVersion::any(), batch); });
    for (auto& th : threads) th.join();
    REQUIRE(results[0].ok());
    for (const auto& r : results) CHECK(r.ok() ? *r == *results[0] : false);
  }
  std::size_t expected = 0;
  for (int round = 0; round < 20; ++round) expected += 1 + round % 20;
  CHECK(store->head_position() == expected);
  CHECK(store->stream_head(s).value() == expected);
}

TEST_CASE("retention's compaction filters run beside writers and readers: heads kept, reads whole, verify clean") {
  testing::TempDir dir;
  auto options = testing::test_options();
  options.retention.set("telemetry", {.max_count = 20});
  options.write_buffer_bytes = std::size_t{256} << 10;  // flushes and compactions while the writers run
  auto store = testing::open_store(dir.path(), options);
  constexpr int kWriters = 4, kStreams = 8, kAppends = 1500;
  std::atomic<bool> stop{false};
  std::atomic<int> problems{0};
  std::thread reader([&] {
    while (!stop.load()) {
      for (int s = 0; s < kStreams; ++s) {
        auto read = store->read_stream(sid("telemetry-" + std::to_string(s)), ReadDirection::kForward, 0, 100);
        if (!read.ok() && read.status().code() != StatusCode::kNotFound) ++problems;
        if (read.ok() && read->events.size() > 20) ++problems;
        for (std::size_t i = 1; read.ok() && i < read->events.size(); ++i)
          if (read->events[i].version != read->events[i - 1].version + 1) ++problems;
      }
      if (!store->read_log(1, 500).ok()) ++problems;
    }
  });
  std::vector<std::thread> writers;
  const std::string padding(300, 'x');
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < kAppends; ++i) {
        const StreamId id = sid("telemetry-" + std::to_string((w + i) % kStreams));
        EventData e{EventId::generate(), "t.v1", R"({"pad":")" + padding + R"("})", {}};
        if (!store->append(id, ExpectedVersion::any(), e).ok()) ++problems;
      }
    });
  for (auto& t : writers) t.join();
  REQUIRE(store->compact().ok());
  stop = true;
  reader.join();
  CHECK(problems.load() == 0);
  std::uint64_t heads = 0;
  for (int s = 0; s < kStreams; ++s) {
    const StreamId id = sid("telemetry-" + std::to_string(s));
    const StreamInfo info = store->stream_info(id).value();
    heads += info.head.value();
    CHECK(info.first_version == info.head - 19);
    CHECK(store->read_stream(id, ReadDirection::kForward, 0, 100).value().events.size() == 20);
  }
  CHECK(heads == kWriters * kAppends);
  auto report = store->verify().value();
  CHECK(report.problems.empty());
  CHECK(report.removed == kWriters * kAppends - kStreams * 20);
}
