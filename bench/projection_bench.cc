// Projection benchmarks (DESIGN.md section 7), on MemoryEventStore and MemoryProjectionStorage.
//
//   catchup_vs_raw   a Projector catching up over 1M ~200-byte events into a per-account read model (one
//                    row read and written per event, committed with the checkpoint every 1000 events),
//                    divided by a raw scan of the same log that parses each payload into the same struct
//                    (target >= 0.4)
//   live_lag_p50_ms  from an append's commit to the commit of the read model that includes it, with one
//   live_lag_p99_ms  event per append at 10k events/s (target p99 < 10 ms)
//
// The stores are the in-memory ones: the figures measure the projector, the typed dispatch and the read
// models, not RocksDB. Run with the RocksDB storage too once it exists.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_summary.h"
#include "strata/core/codec.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/memory_projection_storage.h"
#include "strata/projections/projector.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Moved {
  static constexpr std::string_view kType = "bench.moved.v1";
  std::string account;
  std::int64_t cents = 0;
  std::string memo;
  std::string reference;
  static constexpr auto kFields =
      strata::fields(strata::field("account", &Moved::account), strata::field("cents", &Moved::cents),
                     strata::field("memo", &Moved::memo), strata::field("reference", &Moved::reference));
};

// An event no benchmark projection handles (every tenth event).
struct Audited {
  static constexpr std::string_view kType = "bench.audited.v1";
  std::string memo;
  static constexpr auto kFields = strata::fields(strata::field("memo", &Audited::memo));
};

struct Balance {
  std::int64_t cents = 0;
  std::int64_t moves = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &Balance::cents), strata::field("moves", &Balance::moves));
};

class Balances : public strata::Projection<Balances, strata::Events<Moved>> {
 public:
  static constexpr std::string_view kName = "bench.balances";
  static constexpr strata::ReadModel<Balance> kAccounts{"accounts"};
  strata::Status handle(const Moved& e, const strata::EventContext&, strata::ReadModelTx& tx) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Balance> row, kAccounts.get(tx, e.account));
    if (!row) row.emplace();
    row->cents += e.cents;
    row->moves += 1;
    return kAccounts.put(tx, e.account, *row);
  }
};

constexpr int kAccounts = 1000;

strata::EventData moved(int i) {
  Moved m{"acct-" + std::to_string(i % kAccounts), i % 977,
          "monthly transfer between linked accounts, scheduled by the customer",
          "ref-" + std::to_string(1'000'000 + i) + "-0000-0000-0000-000000000000"};
  return strata::to_event_data(m);
}

// 1M events (~200-byte payloads), built once. Appended 10,000 per append: MemoryEventStore grows its log
// by exactly the appended count on each append, so small appends would make building it quadratic.
strata::MemoryEventStore& history() {
  static strata::MemoryEventStore* store = [] {
    auto* s = new strata::MemoryEventStore();
    constexpr int kTotal = 1'000'000;
    constexpr int kPerAppend = 10'000;
    std::vector<strata::EventData> batch;
    for (int i = 0; i < kTotal;) {
      batch.clear();
      const auto stream = strata::StreamId::parse("history-" + std::to_string(i / kPerAppend)).value();
      for (int j = 0; j < kPerAppend; ++j, ++i) {
        if (i % 10 == 9) {
          batch.push_back(strata::to_event_data(Audited{"audit trail entry for the monthly statement run"}));
        } else {
          batch.push_back(moved(i));
        }
      }
      (void)s->append(stream, strata::ExpectedVersion::any(), batch).value();
    }
    return s;
  }();
  return *store;
}

void BM_raw_log_scan_parse(benchmark::State& state) {
  strata::MemoryEventStore& store = history();
  const strata::Limits limits = store.limits();
  std::int64_t sum = 0;
  for (auto _ : state) {
    Moved m;
    strata::Position from = 1;
    while (from <= store.head_position()) {
      from = store
                 .visit_log(from, 1000, {},
                            [&](const strata::EventView& e) -> strata::Status {
                              if (e.type != Moved::kType) return {};
                              STRATA_RETURN_IF_ERROR(strata::decode_json(e.payload, m, limits));
                              sum += m.cents;
                              return {};
                            })
                 .value();
    }
  }
  benchmark::DoNotOptimize(sum);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(store.head_position()) *
                                                      static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_raw_log_scan_parse)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_projection_catchup(benchmark::State& state) {
  strata::MemoryEventStore& store = history();
  double seconds = 0;
  for (auto _ : state) {
    strata::MemoryProjectionStorage storage;
    strata::ProjectorOptions options;
    options.batch_size = 1000;
    strata::Projector projector(store, storage, Balances{}, options);
    const auto start = Clock::now();
    if (!projector.start().ok() || !projector.wait_for(store.head_position(), std::chrono::minutes(10)).ok()) {
      state.SkipWithError("the projector did not catch up");
      return;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    seconds += elapsed;
    state.SetIterationTime(elapsed);
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(store.head_position()) * static_cast<double>(state.iterations()) / seconds);
}
BENCHMARK(BM_projection_catchup)->Unit(benchmark::kMillisecond)->Iterations(3)->UseManualTime();

// Records when each commit made a checkpoint visible.
class TimedStorage final : public strata::ProjectionStorage {
 public:
  struct Commit {
    std::chrono::system_clock::time_point at;
    strata::Position checkpoint;
  };

  strata::Result<std::optional<strata::ProjectionState>> load_state(std::string_view p) override {
    return inner_.load_state(p);
  }
  strata::Status commit(const strata::ProjectionWriteBatch& batch) override {
    strata::Status s = inner_.commit(batch);
    if (s.ok() && batch.state_change()) {
      const auto now = std::chrono::system_clock::now();
      std::lock_guard lock(mu_);
      commits_.push_back({now, batch.state_change()->next.checkpoint});
    }
    return s;
  }
  strata::Result<std::optional<std::string>> get(std::string_view p, strata::Generation g, std::string_view m,
                                                 std::string_view k) override {
    return inner_.get(p, g, m, k);
  }
  strata::Status scan(std::string_view p, strata::Generation g, std::string_view m, std::string_view prefix,
                      const strata::ScanOptions& o, strata::RowVisitor v) override {
    return inner_.scan(p, g, m, prefix, o, v);
  }
  strata::Result<std::vector<strata::ParkedEvent>> list_parked(std::string_view p, strata::Generation g,
                                                               strata::Position after, std::size_t n) override {
    return inner_.list_parked(p, g, after, n);
  }
  strata::Result<std::optional<strata::ParkedEvent>> get_parked(std::string_view p, strata::Generation g,
                                                                strata::Position pos) override {
    return inner_.get_parked(p, g, pos);
  }
  strata::Result<std::vector<std::string>> list_projections() override { return inner_.list_projections(); }
  strata::Status drop_projection(std::string_view p) override { return inner_.drop_projection(p); }

  std::vector<Commit> commits() {
    std::lock_guard lock(mu_);
    return commits_;
  }

 private:
  strata::MemoryProjectionStorage inner_;
  std::mutex mu_;
  std::vector<Commit> commits_;
};

void BM_live_lag_10k_per_s(benchmark::State& state) {
  constexpr int kRate = 10'000;
  constexpr int kEvents = 30'000;  // three seconds
  for (auto _ : state) {
    strata::MemoryEventStore store;
    TimedStorage storage;
    strata::Projector projector(store, storage, Balances{});
    if (!projector.start().ok()) {
      state.SkipWithError("the projector did not start");
      return;
    }
    const auto stream = strata::StreamId::parse("acct-live").value();
    const auto begin = Clock::now();
    for (int i = 0; i < kEvents; ++i) {
      std::this_thread::sleep_until(begin + std::chrono::microseconds(1'000'000LL * i / kRate));
      std::vector<strata::EventData> one{moved(i)};
      (void)store.append(stream, strata::ExpectedVersion::any(), one).value();
    }
    if (!projector.wait_for(store.head_position(), std::chrono::seconds(30)).ok()) {
      state.SkipWithError("the projector did not keep up");
      return;
    }
    const auto commits = storage.commits();
    auto log = store.read_log(1, kEvents).value();
    std::vector<double> lags;
    lags.reserve(log.events.size());
    std::size_t c = 0;
    for (const auto& e : log.events) {
      while (c < commits.size() && commits[c].checkpoint < e.position) ++c;
      if (c == commits.size()) break;
      lags.push_back(std::chrono::duration<double, std::milli>(commits[c].at - e.timestamp).count());
    }
    std::sort(lags.begin(), lags.end());
    auto pct = [&](double q) { return lags.empty() ? 0.0 : lags[static_cast<std::size_t>(q * (lags.size() - 1))]; };
    state.counters["p50_ms"] = pct(0.50);
    state.counters["p99_ms"] = pct(0.99);
    state.counters["max_ms"] = lags.empty() ? 0.0 : lags.back();
    state.counters["commits"] = static_cast<double>(commits.size());
  }
}
BENCHMARK(BM_live_lag_10k_per_s)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  strata::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  using strata::bench::print_summary;
  const double raw = reporter.counter("BM_raw_log_scan_parse", "events/s");
  const double projected = reporter.counter("BM_projection_catchup", "events/s");
  print_summary("catchup_vs_raw", projected / raw, "ratio");
  print_summary("catchup_events_per_s", projected, "events/s");
  print_summary("raw_log_scan_parse_events_per_s", raw, "events/s");
  print_summary("live_lag_p50_ms", reporter.counter("BM_live_lag_10k_per_s", "p50_ms"), "ms");
  print_summary("live_lag_p99_ms", reporter.counter("BM_live_lag_10k_per_s", "p99_ms"), "ms");
  return 0;
}
