// Parallel catch-up (ProjectorOptions::partitions): the events of each key applied in log order by one
// partition, the batch committed with one checkpoint, failures and conflicts handled as with one
// partition.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "conformance/projection_storage_conformance.h"
#include "ledger.h"
#include "strata/core/memory_event_store.h"
#include "strata/projections/event_sink.h"
#include "strata/projections/memory_projection_storage.h"
#include "strata/projections/projector.h"

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

ProjectorOptions partitioned(std::size_t partitions, std::size_t batch_size = 100'000) {
  ProjectorOptions o;
  o.partitions = partitions;
  o.batch_size = batch_size;
  o.errors.first_backoff = 1ms;
  o.errors.max_backoff = 2ms;
  return o;
}

struct Seen {
  strata::Position last_position = 0;
  std::int64_t events = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("last_position", &Seen::last_position), strata::field("events", &Seen::events));
};

// Per stream: the last position applied; an event that arrives out of log order fails.
class InOrder : public strata::Projection<InOrder, strata::Events<Opened, Credited, Debited>> {
 public:
  static constexpr std::string_view kName = "test.in_order";
  static constexpr strata::ReadModel<Seen> kStreams{"streams"};
  template <class E>
  strata::Status handle(const E&, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Seen> row, kStreams.get(tx, ctx.stream_id()));
    if (!row) row.emplace();
    if (ctx.position() <= row->last_position)
      return strata::Status::internal("event at " + strata::to_string(ctx.position()) + " after " +
                                      strata::to_string(row->last_position));
    row->last_position = ctx.position();
    ++row->events;
    return kStreams.put(tx, ctx.stream_id(), *row);
  }
};

// One row for every event, whatever its stream: partitions by stream would both write it.
class Total : public strata::Projection<Total, strata::Events<Credited>> {
 public:
  static constexpr std::string_view kName = "test.total";
  static constexpr strata::ReadModel<Seen> kTotals{"totals"};
  strata::Status handle(const Credited&, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Seen> row, kTotals.get(tx, "all"));
    if (!row) row.emplace();
    row->last_position = ctx.position();
    ++row->events;
    return kTotals.put(tx, "all", *row);
  }
};

// One row per stream category ("ledger-3" -> "ledger"), counting credits.
class PerCategory : public strata::Projection<PerCategory, strata::Events<Credited>> {
 public:
  static constexpr std::string_view kName = "test.per_category";
  static constexpr strata::ReadModel<Seen> kCategories{"categories"};
  strata::Status handle(const Credited&, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    const std::string category(category_of(ctx.stream_id()));
    STRATA_ASSIGN_OR_RETURN(std::optional<Seen> row, kCategories.get(tx, category));
    if (!row) row.emplace();
    if (ctx.position() <= row->last_position) return strata::Status::internal("out of order");
    row->last_position = ctx.position();
    ++row->events;
    return kCategories.put(tx, category, *row);
  }
  static std::string_view category_of(std::string_view stream) { return stream.substr(0, stream.find('-')); }
};

// How many events of each stream a fold of the log says InOrder applied.
std::map<std::string, std::int64_t> handled_per_stream(strata::EventStore& store) {
  std::map<std::string, std::int64_t> out;
  const auto log = store.read_log(1, 1'000'000).value();
  for (const auto& e : log.events)
    if (e.type != Noted::kType) ++out[e.stream_id];
  return out;
}

// Records the checkpoint of each commit to `s`.
class Checkpoints final : public strata::conformance::BorrowedStorage {
 public:
  using BorrowedStorage::BorrowedStorage;
  strata::Status commit(const strata::ProjectionWriteBatch& batch) override {
    strata::Status s = BorrowedStorage::commit(batch);
    if (s.ok() && batch.state_change()) {
      std::lock_guard lock(mu_);
      positions_.push_back(batch.state_change()->next.checkpoint);
    }
    return s;
  }
  std::vector<strata::Position> positions() {
    std::lock_guard lock(mu_);
    return positions_;
  }

 private:
  std::mutex mu_;
  std::vector<strata::Position> positions_;  // GUARDED_BY(mu_)
};

std::map<std::string, std::int64_t> applied_per_stream(const strata::ReadModelSource& source) {
  std::map<std::string, std::int64_t> out;
  const auto rows = InOrder::kStreams.list(source).value();
  for (const auto& [key, row] : rows) out[key] = row.events;
  return out;
}

}  // namespace

TEST_CASE("a projector in partitions applies each stream in order, exactly once, and equals one partition") {
  MemoryEventStore store;
  append_history(store, 3000, 40);
  MemoryProjectionStorage one_storage, many_storage, order_storage;
  Projector one(store, one_storage, Ledger{});
  Projector many(store, many_storage, Ledger{}, partitioned(3, 700));
  Projector order(store, order_storage, InOrder{}, partitioned(4, 500));
  REQUIRE(one.start().ok());
  REQUIRE(many.start().ok());
  REQUIRE(order.start().ok());
  REQUIRE(one.wait_for(store.head_position(), kWait).ok());
  REQUIRE(many.wait_for(store.head_position(), kWait).ok());
  REQUIRE(order.wait_for(store.head_position(), kWait).ok());
  CHECK(render(many.reader()) == render(one.reader()));
  CHECK(render(many.reader()) == fold(store));
  CHECK(many.status().applied == one.status().applied);
  CHECK(many.status().skipped == one.status().skipped);
  CHECK(order.parked().value().empty());
  CHECK(order.status().state == ProjectorState::kLive);
  CHECK(applied_per_stream(order.reader()) == handled_per_stream(store));

  // Live appends, then a restart in another number of partitions: nothing applied twice.
  append_history(store, 500, 40, 3);
  REQUIRE(many.wait_for(store.head_position(), kWait).ok());
  REQUIRE(many.stop().ok());
  append_history(store, 700, 40, 5);
  Projector again(store, many_storage, Ledger{}, partitioned(2, 300));
  REQUIRE(again.start().ok());
  REQUIRE(again.wait_for(store.head_position(), kWait).ok());
  CHECK(render(again.reader()) == fold(store));
  REQUIRE(order.wait_for(store.head_position(), kWait).ok());
  CHECK(applied_per_stream(order.reader()) == handled_per_stream(store));
}

TEST_CASE("in partitions a batch ends at batch_size events when removed events lie among them") {
  MemoryEventStore store;
  append_history(store, 2000, 4);
  // A hard delete leaves every fourth position of the log removed.
  const std::uint64_t deleted = store.stream_head(sid("ledger-1")).value().value();
  REQUIRE(store.delete_stream(sid("ledger-1"), strata::ExpectedVersion::any(), strata::DeleteMode::kHard).ok());
  MemoryProjectionStorage memory;
  Checkpoints storage(memory);
  ProjectorOptions options = partitioned(2, 50);
  options.batch_duration = std::chrono::milliseconds(0);  // no time bound: only batch_size ends a batch
  Projector projector(store, storage, Ledger{}, options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(render(projector.reader()) == fold(store));
  CHECK(projector.status().removed == deleted);
  // 50 events and the removed positions among them (about 17) per batch, not the rest of the log.
  strata::Position before = 0;
  const auto positions = storage.positions();
  REQUIRE(positions.size() >= 20);
  for (strata::Position p : positions) {
    CHECK(p - before <= 100);
    before = p;
  }
  CHECK(before == store.head_position());
}

TEST_CASE("in partitions a failing event is retried and parked, the events before it commit first") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  append_history(store, 400, 20);
  const auto poison = append(store, "ledger-7", Credited{1000, true}).last_position;
  append_history(store, 400, 20, 2);
  Projector projector(store, storage, Ledger{&faults}, [] {
    ProjectorOptions o = partitioned(2);
    o.errors.max_attempts = 3;
    return o;
  }());
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(faults.poison_attempts.load() == 3);
  auto parked = projector.parked().value();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].event.position == poison);
  CHECK(render(projector.reader()) == fold(store, 1, strata::kEndOfLog, {poison}));
  CHECK(projector.status().parked == 1);

  faults.poison_fails = false;
  REQUIRE(projector.retry_parked(poison).ok());
  CHECK(render(projector.reader()) == fold(store));
}

TEST_CASE("in partitions, with the stop policy a failing event fails the projector after the events before it") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Faults faults;
  append_history(store, 300, 20);
  const auto poison = append(store, "ledger-4", Credited{5, true}).last_position;
  append_history(store, 300, 20, 1);
  ProjectorOptions options = partitioned(2);
  options.errors.max_attempts = 1;
  options.errors.when_exhausted = strata::ErrorPolicy::Exhausted::kStop;
  Projector projector(store, storage, Ledger{&faults}, options);
  REQUIRE(projector.start().ok());
  CHECK(projector.wait_for(store.head_position(), kWait).code() == StatusCode::kRejected);
  CHECK(projector.status().state == ProjectorState::kFailed);
  CHECK(projector.status().position == poison - 1);
  CHECK(render(projector.reader()) == fold(store, 1, poison - 1));
}

TEST_CASE("two partitions writing the same row stop the projector with kInvalidArgument naming the row") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  for (int i = 0; i < 64; ++i) append(store, "ledger-" + std::to_string(i), Credited{1, false});
  Projector projector(store, storage, Total{}, partitioned(2));
  REQUIRE(projector.start().ok());
  const strata::Status waited = projector.wait_for(store.head_position(), kWait);
  CHECK(waited.code() == StatusCode::kInvalidArgument);
  CHECK(projector.status().state == ProjectorState::kFailed);
  CHECK(projector.status().error.message().find("row \"all\" of read model \"totals\" was written by two partitions") !=
        std::string_view::npos);
  CHECK(projector.status().position == 0);  // nothing of the batch was committed
  CHECK(storage.load_state(Total::kName).value()->checkpoint == 0);
}

TEST_CASE("partition_key keeps the events of one key in one partition, in log order") {
  MemoryEventStore store;
  for (int i = 0; i < 2000; ++i)
    append(store,
           std::string(i % 3 == 0   ? "alpha-"
                       : i % 3 == 1 ? "beta-"
                                    : "gamma-") +
               std::to_string(i % 17),
           Credited{1, false});
  MemoryProjectionStorage storage;
  ProjectorOptions options = partitioned(3, 400);
  options.partition_key = [](const strata::EventView& e) { return PerCategory::category_of(e.stream_id); };
  Projector projector(store, storage, PerCategory{}, options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store.head_position(), kWait).ok());
  CHECK(projector.status().state == ProjectorState::kLive);
  CHECK(projector.parked().value().empty());
  const auto rows = PerCategory::kCategories.list(projector.reader()).value();
  REQUIRE(rows.size() == 3);
  for (const auto& [category, row] : rows)
    CHECK(row.events == (category == "alpha" ? 667 : category == "beta" ? 667 : 666));
}

TEST_CASE("partitions out of range, and sinks in partitions, are refused with kInvalidArgument") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  for (std::size_t bad : {std::size_t{0}, std::size_t{65}}) {
    Projector projector(store, storage, Ledger{}, partitioned(bad));
    const strata::Status started = projector.start();
    CHECK(started.code() == StatusCode::kInvalidArgument);
    CHECK(started.message().find("partitions") != std::string_view::npos);
  }
  struct Discard final : strata::EventSink {
    bool wants(std::string_view) const noexcept override { return true; }
    strata::Status deliver(const strata::EventView&) override { return {}; }
  } sink;
  Projector relay(store, storage, strata::make_sink_handler(sink, "test.discard"), partitioned(2));
  const strata::Status started = relay.start();
  CHECK(started.code() == StatusCode::kInvalidArgument);
  CHECK(started.message().find("cannot run in partitions") != std::string_view::npos);
}
