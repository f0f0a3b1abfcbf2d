// Projection benchmarks (DESIGN.md section 7), on a RocksEventStore with its RocksDB projection storage
// (RocksEventStore::projection_storage()), durable as users get it by default (Options::sync on).
//
//   catchup_vs_raw   a Projector catching up over 1M ~200-byte events into a per-account read model (one
//                    row read and written per event, committed with the checkpoint in batches bounded by the
//                    default ProjectorOptions, each commit one fsynced WriteBatch), divided by a raw iteration
//                    of the store's `log` family with the store's RocksDB options that parses every payload
//                    with simdjson, as replay_bench.cc does for streams (target >= 0.6); median of five
//                    interleaved rounds. Also reported: the same with sync off, and with MemoryProjectionStorage over
//                    the same store, which separates what the projector costs from what the RocksDB storage costs
//   catchup_{1m,10m}_peak_rss_mb  peak RSS of a fresh process that opens a store of 1M or 10M events (64 MiB
//                    block cache) and catches a projector up over all of it; catchup_{1m,10m}_rss_growth_mb
//                    is the part that came after the open, catchup_{1m,10m}_rss_end_mb the RSS once caught
//                    up (target: none of them grows with history)
//   catchup_2p_vs_1p a Projector with ProjectorOptions::partitions = 2 against one with 1, catching up over the
//                    same 1M events into a per-stream read model (StreamBalances), same storage and
//                    options; median of the per-round ratios
//   live_lag_p50_ms  from an append's commit timestamp to the commit of the read model that includes it,
//   live_lag_p99_ms  one event per append at 10k events/s from four threads (group commit: one fsynced
//                    appender reaches only ~5k/s) (target p99 < 10 ms)
#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <simdjson.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_summary.h"
#include "format.h"
#include "raw_parse.h"
#include "rocks_options.h"
#include "strata/core/codec.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/memory_projection_storage.h"
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

// Balances per stream rather than per account: the partition key of parallel catch-up is the stream,
// and events of one stream write one row.
class StreamBalances : public strata::Projection<StreamBalances, strata::Events<Moved>> {
 public:
  static constexpr std::string_view kName = "bench.stream_balances";
  static constexpr strata::ReadModel<Balance> kStreams{"streams"};
  strata::Status handle(const Moved& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Balance> row, kStreams.get(tx, ctx.stream_id()));
    if (!row) row.emplace();
    row->cents += e.cents;
    row->moves += 1;
    return kStreams.put(tx, ctx.stream_id(), *row);
  }
};

constexpr int kAccounts = 1000;

strata::EventData moved(int i) {
  Moved m{"acct-" + std::to_string(i % kAccounts), i % 977,
          "monthly transfer between linked accounts, scheduled by the customer",
          "ref-" + std::to_string(1'000'000 + i) + "-0000-0000-0000-000000000000"};
  return strata::to_event_data(m);
}

// "history": 1M events; "history-10m": 10M events; "live-<n>": a store per live-lag run
std::unique_ptr<strata::bench::TempDir> data;

constexpr int kHistory = 1'000'000;
constexpr int kHugeHistory = 10'000'000;

// `count` events (~200-byte payloads), 100 per append over 100 streams, every tenth one unhandled; the
// store is closed afterwards, so every benchmark opens it as a restarted process would.
void write_history(const std::string& path, int count) {
  strata::RocksEventStore::Options options;
  options.sync = false;  // building the data set is not what is measured
  auto store = strata::RocksEventStore::open(options, path).value();
  constexpr int kPerAppend = 100;
  std::vector<strata::EventData> batch;
  for (int i = 0; i < count;) {
    batch.clear();
    const auto stream = strata::StreamId::parse("history-" + std::to_string(i / kPerAppend % 100)).value();
    for (int j = 0; j < kPerAppend; ++j, ++i) {
      if (i % 10 == 9) {
        batch.push_back(strata::to_event_data(Audited{"audit trail entry for the monthly statement run"}));
      } else {
        batch.push_back(moved(i));
      }
    }
    (void)store->append(stream, strata::ExpectedVersion::any(), batch).value();
  }
}

void build_history() {
  data = std::make_unique<strata::bench::TempDir>("strata-projection-bench");
  write_history(data->sub("history"), kHistory);
}

// Iterates the `log` family with the store's RocksDB options, decodes each record, and parses every
// payload of the handled type with simdjson, reading every field. Returns the number of records.
std::uint64_t raw_log_scan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log, simdjson::ondemand::parser& parser,
                           std::string& padded, std::int64_t& checksum) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), log));
  std::uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    strata::EventView view;
    if (!strata::detail::format::decode_log_record(std::string_view(it->value().data(), it->value().size()), view))
      throw std::runtime_error("raw log scan: not a log record");
    if (view.type != Moved::kType) continue;
    checksum += strata::bench::parse_every_field(parser, padded, view.payload, "cents");
  }
  if (!it->status().ok()) throw std::runtime_error(it->status().ToString());
  return n;
}

void BM_raw_log_scan_parse(benchmark::State& state) {
  const strata::RocksEventStore::Options options;
  const std::string path = data->sub("history");
  rocksdb::DBOptions db_options = strata::detail::rocks_db_options(options, nullptr);
  auto cache = strata::detail::rocks_block_cache(options);
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(db_options, path, &names).ok()) throw std::runtime_error("no store");
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : names)
    families.emplace_back(name, strata::detail::rocks_family_options(name, options, cache));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, path, families, &handles, &raw);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* log = nullptr;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == strata::detail::format::kLogFamily) log = handles[i];
  simdjson::ondemand::parser parser;
  std::string padded;
  std::int64_t checksum = 0;
  std::uint64_t total = 0;
  for (auto _ : state) total += raw_log_scan(db.get(), log, parser, padded, checksum);
  benchmark::DoNotOptimize(checksum);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
}

// Starts `projector` and waits until it has caught up with `store`: the seconds that took, or nullopt.
std::optional<double> caught_up_in(strata::Projector& projector, strata::EventStore& store) {
  const auto start = Clock::now();
  if (!projector.start().ok() || !projector.wait_for(store.head_position(), std::chrono::minutes(10)).ok())
    return std::nullopt;
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `catch_up` (a projector catching up over the whole history, timed by caught_up_in) once per
// iteration, as the iteration's time; reports the events per second over all of them.
template <class CatchUp>
void time_catch_ups(benchmark::State& state, strata::EventStore& store, CatchUp catch_up) {
  double seconds = 0;
  for (auto _ : state) {
    const std::optional<double> elapsed = catch_up();
    if (!elapsed) {
      state.SkipWithError("the projector did not catch up");
      return;
    }
    seconds += *elapsed;
    state.SetIterationTime(*elapsed);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(store.head_position().value()) *
                                                  static_cast<double>(state.iterations()) / seconds);
}

// A projector catching up from position 1 under a fresh name each time, with default options: the read
// model and the checkpoint are committed once per batch (ProjectorOptions), fsynced when `sync`
// (the store's default) and not otherwise, into the store's projection storage or, with
// `memory_storage`, into a MemoryProjectionStorage.
void BM_projection_catchup(benchmark::State& state, bool sync, bool memory_storage = false) {
  static int run = 0;
  strata::RocksEventStore::Options store_options;
  store_options.sync = sync;
  auto store = strata::RocksEventStore::open(store_options, data->sub("history")).value();
  time_catch_ups(state, *store, [&] {
    strata::MemoryProjectionStorage memory;
    strata::ProjectionStorage& storage = memory_storage ? memory : store->projection_storage();
    strata::Projector projector(*store, storage,
                                strata::make_projection_handler(Balances{}, fmt::format("bench.balances.{}", ++run)));
    return caught_up_in(projector, *store);
  });
}

// Parallel catch-up: StreamBalances over the same history in `partitions` partitions (by stream), into
// the store's projection storage with the store's defaults.
void BM_projection_catchup_partitions(benchmark::State& state, std::size_t partitions) {
  static int run = 0;
  auto store = strata::RocksEventStore::open(strata::RocksEventStore::Options(), data->sub("history")).value();
  time_catch_ups(state, *store, [&] {
    strata::ProjectorOptions options;
    options.partitions = partitions;
    strata::Projector projector(
        *store, store->projection_storage(),
        strata::make_projection_handler(StreamBalances{}, fmt::format("bench.stream_balances.{}", ++run)), options);
    return caught_up_in(projector, *store);
  });
}

// Records when each commit made a checkpoint visible.
class TimedStorage final : public strata::ProjectionStorage {
 public:
  explicit TimedStorage(strata::ProjectionStorage& inner) : inner_(inner) {}

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
  strata::ProjectionStorage& inner_;
  std::mutex mu_;
  std::vector<Commit> commits_;
};

void BM_live_lag_10k_per_s(benchmark::State& state) {
  constexpr int kRate = 10'000;
  constexpr int kEvents = 30'000;  // three seconds
  constexpr int kAppenders = 4;
  static int run = 0;
  for (auto _ : state) {
    auto store =
        strata::RocksEventStore::open(strata::RocksEventStore::Options(), data->sub(fmt::format("live-{}", ++run)))
            .value();
    TimedStorage storage(store->projection_storage());
    strata::Projector projector(*store, storage, Balances{});
    if (!projector.start().ok()) {
      state.SkipWithError("the projector did not start");
      return;
    }
    // Appender t appends events t, t + 4, t + 8, ... each at its time on the 10k/s schedule.
    const auto begin = Clock::now();
    std::vector<std::thread> appenders;
    for (int t = 0; t < kAppenders; ++t) {
      appenders.emplace_back([&, t] {
        const auto stream = strata::StreamId::parse(fmt::format("acct-live-{}", t)).value();
        for (int i = t; i < kEvents; i += kAppenders) {
          std::this_thread::sleep_until(begin + std::chrono::microseconds(1'000'000LL * i / kRate));
          std::vector<strata::EventData> one{moved(i)};
          (void)store->append(stream, strata::ExpectedVersion::any(), one).value();
        }
      });
    }
    for (auto& a : appenders) a.join();
    if (!projector.wait_for(store->head_position(), std::chrono::seconds(30)).ok()) {
      state.SkipWithError("the projector did not keep up");
      return;
    }
    const auto commits = storage.commits();
    auto log = store->read_log(1, kEvents).value();
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

// ---- Peak RSS in a fresh process -------------------------------------------------------------------

// The child: opens the store with a 64 MiB block cache (so that the cache's own bound hides no growth),
// catches a projector up over the whole log into the store's projection storage, and reports its
// memory (bench_summary.h) with the position reached.
int rss_child(const char* dir) {
  strata::RocksEventStore::Options options;
  options.block_cache_bytes = std::size_t{64} << 20;
  auto store = strata::RocksEventStore::open(options, dir).value();
  const double opened = strata::bench::peak_rss_mb();
  strata::Projector projector(*store, store->projection_storage(), Balances{});
  const strata::Position head = store->head_position();
  if (!projector.start().ok() || !projector.wait_for(head, std::chrono::minutes(30)).ok()) return 1;
  strata::bench::report_memory(opened, head.value());
  return 0;
}

// Interleaved rounds (five: with three, one disturbed round in two decided the median).
constexpr int kRounds = 5;

void register_all() {
  for (int round = 1; round <= kRounds; ++round) {
    benchmark::RegisterBenchmark(fmt::format("raw/log_scan_parse/round:{}", round).c_str(), BM_raw_log_scan_parse)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(fmt::format("strata/catchup/round:{}", round).c_str(),
                                 [](benchmark::State& s) { BM_projection_catchup(s, true); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseManualTime();
    benchmark::RegisterBenchmark(fmt::format("strata/catchup_memory/round:{}", round).c_str(),
                                 [](benchmark::State& s) { BM_projection_catchup(s, false, true); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseManualTime();
    benchmark::RegisterBenchmark(fmt::format("strata/catchup_sync_off/round:{}", round).c_str(),
                                 [](benchmark::State& s) { BM_projection_catchup(s, false); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseManualTime();
    for (std::size_t partitions : {1, 2})
      benchmark::RegisterBenchmark(
          fmt::format("strata/catchup_{}p/round:{}", partitions, round).c_str(),
          [partitions](benchmark::State& s) { BM_projection_catchup_partitions(s, partitions); })
          ->Unit(benchmark::kMillisecond)
          ->Iterations(1)
          ->UseManualTime();
  }
  benchmark::RegisterBenchmark("strata/live_lag_10k_per_s", BM_live_lag_10k_per_s)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--rss-child") return rss_child(argv[2]);
  build_history();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  strata::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  auto per_round = [&](std::string_view name) {
    std::vector<double> v;
    for (int round = 1; round <= kRounds; ++round)
      v.push_back(reporter.counter(fmt::format("{}/round:{}", name, round), "events/s"));
    return v;
  };
  const auto raw = per_round("raw/log_scan_parse"), projected = per_round("strata/catchup"),
             projected_sync_off = per_round("strata/catchup_sync_off"),
             projected_memory = per_round("strata/catchup_memory");
  std::vector<double> ratios, ratios_sync_off, ratios_memory;
  for (int i = 0; i < kRounds; ++i) {
    ratios.push_back(projected[i] / raw[i]);
    ratios_sync_off.push_back(projected_sync_off[i] / raw[i]);
    ratios_memory.push_back(projected_memory[i] / raw[i]);
  }
  using strata::bench::print_summary;
  print_summary("catchup_vs_raw", strata::bench::median(ratios), "ratio");
  print_summary("catchup_sync_off_vs_raw", strata::bench::median(ratios_sync_off), "ratio");
  print_summary("catchup_memory_storage_vs_raw", strata::bench::median(ratios_memory), "ratio");
  const auto one = per_round("strata/catchup_1p"), two = per_round("strata/catchup_2p");
  std::vector<double> speedups;
  for (int i = 0; i < kRounds; ++i) speedups.push_back(two[i] / one[i]);
  print_summary("catchup_2p_vs_1p", strata::bench::median(speedups), "ratio");
  print_summary("catchup_1p_events_per_s", strata::bench::median(one), "events/s");
  print_summary("catchup_2p_events_per_s", strata::bench::median(two), "events/s");
  print_summary("catchup_events_per_s", strata::bench::median(projected), "events/s");
  print_summary("raw_log_scan_parse_events_per_s", strata::bench::median(raw), "events/s");
  print_summary("live_lag_p50_ms", reporter.counter("strata/live_lag_10k_per_s", "p50_ms"), "ms");
  print_summary("live_lag_p99_ms", reporter.counter("strata/live_lag_10k_per_s", "p99_ms"), "ms");

  // Memory: a catch-up over 10M events needs no more than one over 1M.
  write_history(data->sub("history-10m"), kHugeHistory);
  const auto rss_1m = strata::bench::measure_memory({"--rss-child", data->sub("history")}, kHistory);
  const auto rss_10m = strata::bench::measure_memory({"--rss-child", data->sub("history-10m")}, kHugeHistory);
  print_summary("catchup_1m_peak_rss_mb", rss_1m.peak_mb, "MiB");
  print_summary("catchup_10m_peak_rss_mb", rss_10m.peak_mb, "MiB");
  // What the catch-up itself added to the process (the rest is the opened store: caches and write buffers).
  print_summary("catchup_1m_rss_growth_mb", rss_1m.peak_mb - rss_1m.after_open_mb, "MiB");
  print_summary("catchup_10m_rss_growth_mb", rss_10m.peak_mb - rss_10m.after_open_mb, "MiB");
  // Under the peak of the open: what the process holds once caught up.
  print_summary("catchup_1m_rss_end_mb", rss_1m.end_mb, "MiB");
  print_summary("catchup_10m_rss_end_mb", rss_10m.end_mb, "MiB");
  data.reset();
  return 0;
}
