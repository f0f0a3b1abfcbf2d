#include "strata/projections/projector.h"

#include <doctest/doctest.h>

#include <future>
#include <random>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "ledger.h"
#include "strata/core/memory_event_store.h"
#include "strata/projections/event_sink.h"
#include "strata/projections/memory_projection_storage.h"
#include "strata/projections/testing/crashing_projection_storage.h"

namespace {

using namespace std::chrono_literals;
using namespace ledger;
using strata::MemoryEventStore;
using strata::MemoryProjectionStorage;
using strata::Projector;
using strata::ProjectorOptions;
using strata::ProjectorState;
using strata::StatusCode;

constexpr auto kWait = std::chrono::milliseconds(20'000);

ProjectorOptions fast_retries(std::uint32_t attempts) {
  ProjectorOptions o;
  o.errors.max_attempts = attempts;
  o.errors.first_backoff = 1ms;
  o.errors.max_backoff = 2ms;
  return o;
}

// Runs every handler that is ready on `io`, including those they post, without blocking.
void pump(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

// Runs one ready handler of `io`, if there is one.
void step_once(boost::asio::io_context& io) {
  io.restart();
  io.poll_one();
}

// Runs `io` on a thread while it lives, so that stop() and the destructors can complete.
class IoThread {
 public:
  explicit IoThread(boost::asio::io_context& io) : io_(io), guard_(io.get_executor()) {
    io_.restart();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~IoThread() {
    guard_.reset();
    thread_.join();
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Serves `inner`'s events with the payload of every event of one type replaced by bytes that are not
// JSON: a projection that parsed such a payload would fail on it.
class CorruptingStore final : public strata::EventStore {
 public:
  CorruptingStore(strata::EventStore& inner, std::string_view corrupt_type)
      : inner_(inner),
        type_(corrupt_type),
        relay_(inner.subscribe_commits([this](strata::Position p) { publish_commit(p); })) {}

  strata::Result<strata::AppendResult> append(const strata::StreamId& s, strata::ExpectedVersion v,
                                              std::span<const strata::EventData> e) override {
    return inner_.append(s, v, e);
  }
  strata::Result<strata::MultiAppendResult> append_multi(std::span<const strata::StreamAppend> a) override {
    return inner_.append_multi(a);
  }
  strata::Result<strata::LifecycleResult> delete_stream(const strata::StreamId& s, strata::ExpectedVersion v,
                                                        strata::DeleteMode m) override {
    return inner_.delete_stream(s, v, m);
  }
  strata::Result<strata::LifecycleResult> truncate_stream(const strata::StreamId& s, strata::ExpectedVersion v,
                                                          strata::Version before) override {
    return inner_.truncate_stream(s, v, before);
  }
  strata::Result<strata::StreamInfo> stream_info(const strata::StreamId& s) override { return inner_.stream_info(s); }
  strata::Result<strata::StreamSlice> read_stream(const strata::StreamId& s, strata::ReadDirection d,
                                                  strata::Version from, std::size_t n) override {
    return inner_.read_stream(s, d, from, n);
  }
  strata::Status visit_stream(const strata::StreamId& s, strata::Version from, strata::Version to,
                              strata::EventVisitor visitor) override {
    return inner_.visit_stream(s, from, to, visitor);
  }
  strata::Result<strata::LogSlice> read_log(strata::Position from, std::size_t n, const strata::LogFilter& f) override {
    return inner_.read_log(from, n, f);
  }
  strata::Result<strata::LogVisit> visit_log(strata::Position from, std::size_t n, const strata::LogFilter& f,
                                             strata::EventVisitor visitor) override {
    return inner_.visit_log(from, n, f, [&](const strata::EventView& e) -> strata::Status {
      if (e.type != type_) return visitor(e);
      strata::EventView damaged = e;
      damaged.payload = "this is not json {";
      return visitor(damaged);
    });
  }
  strata::Result<strata::Version> stream_head(const strata::StreamId& s) override { return inner_.stream_head(s); }
  strata::Result<std::optional<strata::EventLocation>> lookup_event(const strata::EventId& id) override {
    return inner_.lookup_event(id);
  }
  strata::Result<strata::StreamList> list_streams(std::string_view after, std::size_t n) override {
    return inner_.list_streams(after, n);
  }
  strata::Position head_position() const override { return inner_.head_position(); }
  const strata::Limits& limits() const noexcept override { return inner_.limits(); }

 private:
  strata::EventStore& inner_;
  std::string type_;
  strata::CommitSubscription relay_;
};

// The positions a walk of the whole log passes over as removed.
std::uint64_t removed_in_log(strata::EventStore& store) {
  std::uint64_t removed = 0;
  for (strata::Position p = 1;;) {
    auto slice = store.read_log(p, 50).value();
    removed += slice.removed;
    p = slice.next_position;
    if (slice.end_of_log) return removed;
  }
}

}  // namespace

TEST_CASE("a projector catches up from its checkpoint in batches, then follows appends made while it runs") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 1200);
  ProjectorOptions options;
  options.batch_size = 50;
  Projector projector(store, storage, Ledger{}, options);
  REQUIRE(projector.start().ok());
  std::thread writer([&] { append_history(store, 600, 5, 1); });
  REQUIRE(projector.wait_for(600, kWait).ok());
  writer.join();
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));

  auto status = projector.status();
  CHECK(status.state == ProjectorState::kLive);
  CHECK(status.position == store.head_position());
  CHECK(status.lag_events == 0);
  CHECK(status.lag_seconds == 0);
  CHECK(status.applied + status.skipped == store.head_position());
  CHECK(status.skipped > 0);

  append(store, "ledger-9", Opened{"late"});
  append(store, "ledger-9", Credited{5, false});
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(Ledger::kAccounts.get(projector.reader(), "ledger-9").value()->balance == 5);
  CHECK(render(projector.reader()) == fold(store));
}

TEST_CASE(
    "a projector behind deleted and truncated streams passes over their removed events, counts them, and reaches the "
    "head") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 300);
  // The stream of the newest event goes too, so the log ends with tombstones.
  const auto newest = store.read_log(store.head_position(), 1).value().events.at(0).stream_id;
  const auto streams = store.list_streams("", 10).value().streams;
  REQUIRE(streams.size() >= 3);
  auto sid = [](const std::string& s) { return strata::StreamId::parse(s).value(); };
  REQUIRE(store.delete_stream(sid(newest), strata::ExpectedVersion::any(), strata::DeleteMode::kHard).ok());
  for (const auto& info : streams) {
    if (info.stream_id == newest) continue;
    REQUIRE(store.truncate_stream(sid(info.stream_id), strata::ExpectedVersion::any(), 3).ok());
    break;
  }
  const std::uint64_t removed = removed_in_log(store);
  REQUIRE(removed > 0);

  ProjectorOptions options;
  options.batch_size = 7;
  Projector projector(store, storage, Ledger{}, options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));
  auto status = projector.status();
  CHECK(status.position == store.head_position());
  CHECK(status.lag_events == 0);
  CHECK(status.removed == removed);
  CHECK(status.applied + status.skipped + status.removed == store.head_position());
}

TEST_CASE("a projector behind what retention removed passes over it, counts it, and reaches the head") {
  MemoryEventStore::Options store_options;
  store_options.retention.set("ledger", {.max_count = 5});
  MemoryEventStore store(store_options);
  MemoryProjectionStorage storage;
  append_history(store, 300);
  const std::uint64_t removed = removed_in_log(store);
  REQUIRE(removed > 0);
  ProjectorOptions options;
  options.batch_size = 7;
  Projector projector(store, storage, Ledger{}, options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));
  auto status = projector.status();
  CHECK(status.position == store.head_position());
  CHECK(status.removed == removed);
  CHECK(status.applied + status.skipped + status.removed == store.head_position());
}

TEST_CASE("a stopped projector resumes from its checkpoint and applies no event twice") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 500);
  {
    Projector first(store, storage, Ledger{});
    REQUIRE(first.start().ok());
    REQUIRE(first.wait_for(250, kWait).ok());
  }
  append_history(store, 300, 5, 7);
  Projector second(store, storage, Ledger{});
  REQUIRE(second.start().ok());
  REQUIRE(second.wait_for(store.head_position(), kWait).ok());
  CHECK(render(second.reader()) == fold(store));
  CHECK(second.status().applied + second.status().skipped < store.head_position());
}

TEST_CASE("a poison event is parked after its retries while later events keep flowing, then retried or skipped") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  append_history(store, 50);
  const auto poison = append(store, "ledger-1", Credited{1000, true}).last_position;
  append_history(store, 50, 5, 2);
  Projector projector(store, storage, Ledger{&faults}, fast_retries(3));
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());

  CHECK(faults.poison_attempts.load() == 3);
  auto parked = projector.parked().value();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].event.position == poison);
  CHECK(parked[0].attempts == 3);
  CHECK(parked[0].generation == 1);
  CHECK(parked[0].event.type == Credited::kType);
  CHECK(parked[0].error.code() == StatusCode::kRejected);
  CHECK(parked[0].error.message().find("poison credit refused") != std::string_view::npos);
  CHECK(parked[0].error.message().find("position " + strata::to_string(poison)) != std::string_view::npos);
  CHECK(render(projector.reader()) == fold(store, 1, strata::kEndOfLog, {poison}));
  CHECK(projector.status().parked == 1);
  CHECK(projector.status().state == ProjectorState::kLive);

  // Retrying while the cause persists fails again and counts the attempt.
  CHECK(projector.retry_parked(poison).code() == StatusCode::kRejected);
  CHECK(projector.parked().value().at(0).attempts == 4);

  faults.poison_fails = false;
  REQUIRE(projector.retry_parked(poison).ok());
  CHECK(projector.parked().value().empty());
  CHECK(render(projector.reader()) == fold(store));
  CHECK(projector.retry_parked(poison).code() == StatusCode::kNotFound);

  faults.poison_fails = true;
  const auto second = append(store, "ledger-2", Credited{77, true}).last_position;
  append(store, "ledger-2", Credited{1, false});
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  REQUIRE(projector.parked().value().size() == 1);
  REQUIRE(projector.skip_parked(second).ok());
  CHECK(projector.parked().value().empty());
  CHECK(render(projector.reader()) == fold(store, 1, strata::kEndOfLog, {second}));
  CHECK(projector.skip_parked(second).code() == StatusCode::kNotFound);
}

TEST_CASE("rows a projector keeps decoded between batches follow what retrying a parked event wrote") {
  // The projector keeps the rows of its last batch decoded for the next one; a retried parked event
  // changes a row outside those batches, and the next batch must build on that change.
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  append(store, "ledger-1", Opened{"owner1"});
  const auto poison = append(store, "ledger-1", Credited{1000, true}).last_position;
  append(store, "ledger-1", Credited{1, false});
  Projector projector(store, storage, Ledger{&faults}, fast_retries(1));
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  REQUIRE(projector.parked().value().size() == 1);

  faults.poison_fails = false;
  REQUIRE(projector.retry_parked(poison).ok());
  append(store, "ledger-1", Credited{10, false});
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));
  CHECK(render(projector.reader()).find("balance=1011") != std::string::npos);
}

TEST_CASE("a batch ends at its time bound, so slow handlers commit as they go and stop() does not wait long") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  faults.credit_delay_us = 2'000;
  append(store, "ledger-1", Opened{"owner1"});
  for (int i = 0; i < 300; ++i) append(store, "ledger-1", Credited{1, false});
  ProjectorOptions options;
  options.batch_size = 1'000'000;
  options.batch_duration = 20ms;
  Projector projector(store, storage, Ledger{&faults}, options);
  REQUIRE(projector.start().ok());
  // The first commit comes after a batch of about 20 ms (ten credits), long before the 600 ms of all.
  REQUIRE(projector.wait_for(1, kWait).ok());
  CHECK(projector.status().position < store.head_position());
  REQUIRE(projector.stop().ok());
  const auto stopped_at = projector.status().position;
  CHECK(stopped_at < store.head_position());

  faults.credit_delay_us = 0;
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));

  options.batch_duration = -1ms;
  Projector invalid(store, storage, Ledger{}, options);
  CHECK(invalid.start().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("with the stop policy a poison event fails the projector, and start() resumes at that event") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  append_history(store, 40);
  const auto poison = append(store, "ledger-3", Credited{9, true}).last_position;
  append_history(store, 40, 5, 3);
  ProjectorOptions options = fast_retries(2);
  options.errors.when_exhausted = strata::ErrorPolicy::Exhausted::kStop;
  Projector projector(store, storage, Ledger{&faults}, options);
  REQUIRE(projector.start().ok());

  strata::Status waited = projector.wait_for(store.head_position(), kWait);
  CHECK(waited.code() == StatusCode::kRejected);
  CHECK(waited.message().find("failed 2 times") != std::string_view::npos);
  auto status = projector.status();
  CHECK(status.state == ProjectorState::kFailed);
  CHECK(status.position == poison - 1);
  CHECK(status.error.code() == StatusCode::kRejected);
  CHECK(projector.parked().value().empty());

  faults.poison_fails = false;
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));
}

TEST_CASE("an exception thrown by a handler is contained, reported as kInternal with its text, and parked") {
  boost::asio::io_context io;
  IoThread runner(io);
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  faults.poison_throws = true;
  append_history(store, 20);
  const auto poison = append(store, "ledger-4", Credited{3, true}).last_position;
  append_history(store, 20, 5, 4);
  ProjectorOptions options = fast_retries(2);
  options.executor = io.get_executor();
  Projector projector(store, storage, Ledger{&faults}, options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());

  auto parked = projector.parked().value();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].event.position == poison);
  CHECK(parked[0].error.code() == StatusCode::kInternal);
  CHECK(parked[0].error.message().find("projection handler threw an exception: ledger handler exploded") !=
        std::string_view::npos);
  CHECK(faults.poison_attempts.load() == 2);

  // The io_context still runs, the projector still follows the log.
  std::promise<void> ran;
  boost::asio::post(io, [&] { ran.set_value(); });
  CHECK(ran.get_future().wait_for(kWait) == std::future_status::ready);
  append(store, "ledger-4", Credited{4, false});
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store, 1, strata::kEndOfLog, {poison}));
  REQUIRE(projector.stop().ok());
}

TEST_CASE("events of types a projection does not handle are skipped without parsing their payload") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 200);
  // Every Noted event reaches the projector with a payload that is not JSON.
  CorruptingStore corrupt_notes(store, Noted::kType);
  Projector projector(corrupt_notes, storage, Ledger{}, fast_retries(1));
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(projector.parked().value().empty());
  CHECK(projector.status().skipped > 0);
  CHECK(render(projector.reader()) == fold(store));

  // The same damage to a handled type is noticed: the payload is parsed.
  CorruptingStore corrupt_credits(store, Credited::kType);
  Projector parsing(corrupt_credits, storage, strata::make_projection_handler(Ledger{}, "test.ledger.credits"),
                    fast_retries(1));
  REQUIRE(parsing.start().ok());
  REQUIRE(parsing.wait_for(store.head_position(), kWait).ok());
  auto parked = parsing.parked(0, 1).value();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].error.code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a rebuild fills a shadow generation while the serving one answers, swaps, and equals a fresh build") {
  boost::asio::io_context io;
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 300);
  ProjectorOptions options;
  options.executor = io.get_executor();
  options.batch_size = 20;
  Projector projector(store, storage, Ledger{}, options);
  REQUIRE(projector.start().ok());
  pump(io);
  REQUIRE(projector.status().position == store.head_position());
  const std::string before = render(projector.reader());
  REQUIRE(before == fold(store));

  REQUIRE(projector.rebuild().ok());
  CHECK(projector.rebuild().code() == StatusCode::kInvalidArgument);
  for (int i = 0; i < 3; ++i) step_once(io);
  auto status = projector.status();
  REQUIRE(status.rebuild.has_value());
  CHECK(status.rebuild->generation == 2);
  CHECK(status.rebuild->position > 0);
  CHECK(status.rebuild->position < status.rebuild->target);
  CHECK(status.rebuild->events_per_second > 0);
  CHECK(status.rebuild->eta.has_value());
  CHECK(status.generation == 1);
  CHECK(render(projector.reader()) == before);  // queries keep being answered by generation 1

  // Live appends during the rebuild reach the serving generation.
  append_history(store, 60, 5, 3);
  for (int i = 0; i < 3; ++i) step_once(io);
  CHECK(projector.status().rebuild.has_value());
  CHECK(render(projector.reader()) == fold(store, 1, projector.status().position));

  pump(io);
  status = projector.status();
  CHECK(!status.rebuild.has_value());
  CHECK(status.generation == 2);
  CHECK(status.position == store.head_position());
  CHECK(render(projector.reader()) == fold(store));
  CHECK(render(strata::ReadModelReader(storage, "test.ledger", 1)) == "");  // the old generation is gone

  Projector fresh(store, storage, strata::make_projection_handler(Ledger{}, "test.ledger.fresh"), options);
  REQUIRE(fresh.start().ok());
  pump(io);
  CHECK(render(fresh.reader()) == render(projector.reader()));

  IoThread runner(io);
  REQUIRE(projector.stop().ok());
  REQUIRE(fresh.stop().ok());
}

TEST_CASE("a rebuild can be cancelled, and a projector that is not started rebuilds once started") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 100);
  Projector projector(store, storage, Ledger{});
  CHECK(projector.rebuild().code() == StatusCode::kNotFound);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  REQUIRE(projector.stop().ok());

  REQUIRE(projector.rebuild().ok());
  REQUIRE(projector.cancel_rebuild().ok());
  CHECK(projector.cancel_rebuild().code() == StatusCode::kNotFound);
  REQUIRE(projector.rebuild().ok());
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  REQUIRE(projector.drain(kWait).ok());
  auto state = storage.load_state("test.ledger").value();
  REQUIRE(state.has_value());
  CHECK(!state->rebuilding());
  CHECK(state->generation == 2);
  CHECK(render(projector.reader()) == fold(store));
}

TEST_CASE("several projectors follow one store from different positions") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 400);
  Projector from_start(store, storage, strata::make_projection_handler(Ledger{}, "ledger.all"));
  ProjectorOptions from_201;
  from_201.start_from = 201;
  Projector from_middle(store, storage, strata::make_projection_handler(Ledger{}, "ledger.recent"), from_201);
  REQUIRE(from_start.start().ok());
  REQUIRE(from_middle.start().ok());
  ProjectorOptions at_end;
  at_end.start_from = strata::kEndOfLog;
  Projector only_new(store, storage, strata::make_projection_handler(Ledger{}, "ledger.new"), at_end);
  REQUIRE(only_new.start().ok());
  const strata::Position start_of_new = store.head_position() + 1;

  append_history(store, 100, 5, 4);
  for (Projector* p : {&from_start, &from_middle, &only_new}) REQUIRE(p->wait_for(store.head_position(), kWait).ok());
  CHECK(render(from_start.reader()) == fold(store));
  CHECK(render(from_middle.reader()) == fold(store, 201));
  CHECK(render(only_new.reader()) == fold(store, start_of_new));
  CHECK(render(from_middle.reader()) != render(from_start.reader()));
  CHECK(storage.list_projections().value() == std::vector<std::string>{"ledger.all", "ledger.new", "ledger.recent"});
}

TEST_CASE("drain applies every event committed before it and stops, and stop during a backoff does not wait for it") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  append_history(store, 3000);
  ProjectorOptions options;
  options.batch_size = 100;
  Projector projector(store, storage, Ledger{&faults}, options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.drain(kWait).ok());
  auto status = projector.status();
  CHECK(status.state == ProjectorState::kStopped);
  CHECK(status.position == 3000);
  CHECK(render(projector.reader()) == fold(store));

  const auto poison = append(store, "ledger-0", Credited{1, true}).last_position;
  boost::asio::io_context io;
  ProjectorOptions slow = options;
  slow.executor = io.get_executor();
  slow.errors.first_backoff = std::chrono::hours(1);
  Projector stuck(store, storage, Ledger{&faults}, slow);
  REQUIRE(stuck.start().ok());
  pump(io);  // the poison event fails and an hour's backoff starts
  CHECK(stuck.status().state == ProjectorState::kStalled);
  CHECK(stuck.status().failing_position == poison);
  CHECK(stuck.status().error.code() == StatusCode::kRejected);
  IoThread runner(io);
  REQUIRE(stuck.stop().ok());  // cancels the backoff instead of waiting for it
  CHECK(stuck.status().state == ProjectorState::kStopped);
  CHECK(stuck.wait_for(poison, 0ms).code() == StatusCode::kCancelled);
}

TEST_CASE("after crashes at random commits, a restarted projector has applied every event exactly once") {
  MemoryEventStore store;
  MemoryProjectionStorage memory;
  strata::testing::CrashingProjectionStorage storage(memory);
  std::mt19937 rng(20240611);
  append_history(store, 200);
  for (int cycle = 0; cycle < 20; ++cycle) {
    CAPTURE(cycle);
    {
      ProjectorOptions options = fast_retries(3);
      options.batch_size = 1 + rng() % 16;
      Projector projector(store, storage, Ledger{}, options);
      REQUIRE(projector.start().ok());
      storage.crash_at_commit(1 + rng() % 4);
      append_history(store, static_cast<int>(80 + rng() % 40), 5, cycle);
      REQUIRE(storage.wait_for_crash(kWait));
      CHECK(projector.status().position < store.head_position());
    }  // the projector dies with the storage refusing its commits
    storage.restart();
  }
  Projector survivor(store, storage, Ledger{});
  REQUIRE(survivor.start().ok());
  REQUIRE(survivor.wait_for(store.head_position(), kWait).ok());
  CHECK(render(survivor.reader()) == fold(store));
}

TEST_CASE("status reports lag in events and seconds, throughput and state") {
  boost::asio::io_context io;
  MemoryEventStore::Options store_options;
  const strata::Timestamp past = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now() - std::chrono::minutes(10));
  store_options.clock = [past] { return past; };
  MemoryEventStore store(store_options);
  MemoryProjectionStorage storage;
  append_history(store, 100);
  ProjectorOptions options;
  options.executor = io.get_executor();
  Projector projector(store, storage, Ledger{}, options);
  CHECK(projector.status().state == ProjectorState::kStopped);
  REQUIRE(projector.start().ok());

  auto status = projector.status();
  CHECK(status.name == "test.ledger");
  CHECK(status.state == ProjectorState::kCatchingUp);
  CHECK(status.lag_events == 100);
  CHECK(status.lag_seconds >= 9 * 60);

  pump(io);
  status = projector.status();
  CHECK(status.state == ProjectorState::kLive);
  CHECK(status.position == 100);
  CHECK(status.lag_events == 0);
  CHECK(status.lag_seconds == 0);
  CHECK(status.events_per_second > 0);
  CHECK(strata::projector_state_name(status.state) == "live");

  IoThread runner(io);
  REQUIRE(projector.stop().ok());
}

TEST_CASE("a second projector under the same name fails with kWrongExpectedVersion instead of applying twice") {
  boost::asio::io_context io;
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  append_history(store, 50);
  ProjectorOptions options;
  options.executor = io.get_executor();
  Projector first(store, storage, Ledger{}, options);
  Projector rival(store, storage, Ledger{}, options);
  REQUIRE(first.start().ok());
  REQUIRE(rival.start().ok());
  pump(io);
  auto a = first.status();
  auto b = rival.status();
  CHECK((a.state == ProjectorState::kFailed) != (b.state == ProjectorState::kFailed));
  const auto& failed = a.state == ProjectorState::kFailed ? a : b;
  CHECK(failed.error.code() == StatusCode::kWrongExpectedVersion);
  CHECK(render(first.reader()) == fold(store));
  IoThread runner(io);
  REQUIRE(first.stop().ok());
  REQUIRE(rival.stop().ok());
}

namespace {

struct Unnamed : strata::Projection<Unnamed, strata::Events<Opened>> {
  void handle(const Opened&, const strata::EventContext&, strata::ReadModelTx&) {}
};

// Calls back into its own projector from a handler, which must be refused rather than deadlock.
struct SelfStopping : strata::Projection<SelfStopping, strata::Events<Opened>> {
  static constexpr std::string_view kName = "test.self-stopping";
  Projector** self = nullptr;
  std::vector<StatusCode>* seen = nullptr;
  void handle(const Opened&, const strata::EventContext&, strata::ReadModelTx&) {
    seen->push_back((*self)->stop().code());
    seen->push_back((*self)->retry_parked(1).code());
    seen->push_back((*self)->wait_for(1, 0ms).code());
  }
};

}  // namespace

TEST_CASE("a projector refuses an empty name, and calls from its handlers that would wait on it") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Projector defaulted(store, storage, strata::make_projection_handler(Ledger{}, ""));
  CHECK(defaulted.name() == "test.ledger");  // an empty name falls back to kName
  Projector nameless(store, storage, strata::make_projection_handler(Unnamed{}));
  CHECK(nameless.start().code() == StatusCode::kInvalidArgument);

  append(store, "ledger-1", Opened{"x"});
  Projector* self = nullptr;
  std::vector<StatusCode> seen;
  SelfStopping projection;
  projection.self = &self;
  projection.seen = &seen;
  Projector projector(store, storage, projection);
  self = &projector;
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(1, kWait).ok());
  CHECK(seen == std::vector<StatusCode>{StatusCode::kInvalidArgument, StatusCode::kInvalidArgument,
                                        StatusCode::kInvalidArgument});
}

namespace {

// Records what a projector hands it; fails one acknowledgement on request.
class RecordingSink final : public strata::EventSink {
 public:
  bool wants(std::string_view type) const noexcept override { return type != Noted::kType; }
  strata::Status deliver(const strata::EventView& e) override {
    std::lock_guard lock(mu_);
    deliveries_.push_back(e.position);
    pending_.push_back(e.position);
    return {};
  }
  strata::Status acknowledge() override {
    std::lock_guard lock(mu_);
    if (fail_acks_ > 0) {
      --fail_acks_;
      pending_.clear();
      return strata::Status::unavailable("sink is down");
    }
    acknowledged_.insert(pending_.begin(), pending_.end());
    pending_.clear();
    return {};
  }
  void fail_next_acks(int n) {
    std::lock_guard lock(mu_);
    fail_acks_ = n;
  }
  std::set<strata::Position> acknowledged() const {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }
  std::size_t deliveries() const {
    std::lock_guard lock(mu_);
    return deliveries_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<strata::Position> deliveries_;
  std::vector<strata::Position> pending_;
  std::set<strata::Position> acknowledged_;
  int fail_acks_ = 0;
};

}  // namespace

TEST_CASE("a sink gets every wanted event with its position at least once, and the checkpoint waits for its ack") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  RecordingSink sink;
  append_history(store, 300);
  sink.fail_next_acks(2);
  ProjectorOptions options = fast_retries(3);
  options.batch_size = 64;
  Projector relay(store, storage, strata::make_sink_handler(sink, "test.relay"), options);
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());

  std::set<strata::Position> wanted;
  const strata::LogSlice log = store.read_log(1, 1000).value();
  for (const auto& e : log.events)
    if (e.type != Noted::kType) wanted.insert(e.position);
  CHECK(sink.acknowledged() == wanted);
  CHECK(sink.deliveries() > wanted.size());  // the unacknowledged batches were delivered again
  CHECK(storage.load_state("test.relay").value()->checkpoint == store.head_position());
  CHECK(relay.rebuild().code() == StatusCode::kInvalidArgument);
}
