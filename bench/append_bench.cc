// Append throughput of RocksEventStore against raw RocksDB in the same run (DESIGN.md section 7).
//
//   raw/b<N>/s<sync>/w<writers>     WriteBatches of N puts, one per event, of the same event bytes (id,
//                                   timestamp, type, ~200-byte JSON payload) keyed by stream and version,
//                                   with the store's own RocksDB options
//   strata/b<N>/s<sync>/w<writers>  RocksEventStore appends of N events
//
// for N = 1, 10, 100, fsync on and off, 1 and 16 writer threads. Each writer appends to its own 1,000
// streams, chosen at random. Every run starts from an empty database and makes a fixed number of
// appends. The figures are events per second; the summary lines at the end give the ratios
// (bench_summary.h), as medians over the rounds of the configurations they compare.
//
//   groups/s1/w<writers>            durable one-event appends into a store with metrics, once each after
//                                   the rounds: what group commit did (appends per group, the time of one
//                                   group's write with its fsync, and the whole cycle from one group's write
//                                   to the next's), which is what durable_16w_vs_1w comes to
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_summary.h"
#include "format.h"
#include "prometheus_text.h"
#include "rocks_options.h"
#include "strata/core/metrics.h"
#include "strata/eventstore/rocks_event_store.h"

namespace {

using namespace strata;

constexpr std::size_t kStreamsPerWriter = 1000;
constexpr int kMaxWriters = 16;
constexpr std::string_view kType = "bench.payment.booked.v1";

// A ~200-byte JSON event, different for each n.
std::string payload(std::size_t n) {
  return fmt::format(
      R"({{"account":"account-{:06}","amount_cents":{},"currency":"EUR","reference":"invoice-2024-{:06}",)"
      R"("note":"monthly subscription renewal, premium plan","booked_by":"clerk-{:03}","channel":"web"}})",
      n % 100000, 1000 + n % 99991, n, n % 17);
}

RocksEventStore::Options store_options(bool sync) {
  RocksEventStore::Options o;
  o.sync = sync;
  return o;
}

// The database of one configuration, shared by its writer threads. Thread 0 makes it before the
// measured loop and drops it after; Google Benchmark's barriers at the loop's start and end order this
// with the other threads.
struct Setup {
  strata::bench::TempDir dir{"strata-bench"};
  // raw
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  std::vector<Version> raw_heads = std::vector<Version>(kMaxWriters * kStreamsPerWriter, 0);
  // strata
  std::unique_ptr<RocksEventStore> store;
  std::vector<StreamId> streams;

  ~Setup() {
    if (db) {
      (void)db->DestroyColumnFamilyHandle(events);
      (void)db->Close();
    }
  }
};
std::unique_ptr<Setup> setup;

void open_raw(bool sync) {
  setup = std::make_unique<Setup>();
  const auto options = store_options(sync);
  rocksdb::DBOptions db_options = detail::rocks_db_options(options, nullptr);
  db_options.create_if_missing = true;
  auto cache = detail::rocks_block_cache(options);
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, detail::rocks_family_options("default", options, cache)},
      {"events", detail::rocks_family_options(detail::format::kEventsFamily, options, cache)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, setup->dir.path(), families, &handles, &raw);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  setup->db.reset(raw);
  (void)raw->DestroyColumnFamilyHandle(handles[0]);
  setup->events = handles[1];
}

void open_strata(bool sync, std::shared_ptr<MetricsRegistry> metrics = nullptr) {
  setup = std::make_unique<Setup>();
  auto options = store_options(sync);
  options.metrics = std::move(metrics);
  setup->store = RocksEventStore::open(options, setup->dir.path()).value();
  for (std::size_t i = 0; i < kMaxWriters * kStreamsPerWriter; ++i)
    setup->streams.push_back(StreamId::parse(fmt::format("bench-{}", i)).value());
}

void raw_appends(benchmark::State& state, std::size_t batch_size, bool sync) {
  if (state.thread_index() == 0) open_raw(sync);
  const auto writer = static_cast<std::size_t>(state.thread_index());
  std::mt19937 rng(static_cast<unsigned>(writer + 1));
  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < batch_size; ++i) payloads.push_back(payload(writer * 1000 + i));
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  rocksdb::WriteBatch batch;
  std::string value;
  std::int64_t events = 0;
  for (auto _ : state) {
    const std::size_t stream = writer * kStreamsPerWriter + rng() % kStreamsPerWriter;
    Version& head = setup->raw_heads[stream];
    batch.Clear();
    for (std::size_t i = 0; i < batch_size; ++i) {
      value.clear();
      value.append(EventId::generate().as_bytes());
      char ts[8];
      detail::format::put_be(ts, static_cast<std::uint64_t>(events), 8);
      value.append(ts, 8);
      value += static_cast<char>(kType.size());
      value += kType;
      value += payloads[i];
      const auto key = detail::format::events_key(stream + 1, ++head);
      (void)batch.Put(setup->events, rocksdb::Slice(key.data(), key.size()), value);
    }
    rocksdb::Status s = setup->db->Write(write_options, &batch);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    events += static_cast<std::int64_t>(batch_size);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) setup.reset();
}

void strata_appends(benchmark::State& state, std::size_t batch_size, bool sync) {
  if (state.thread_index() == 0) open_strata(sync);
  const auto writer = static_cast<std::size_t>(state.thread_index());
  std::mt19937 rng(static_cast<unsigned>(writer + 1));
  std::vector<EventData> batch;
  for (std::size_t i = 0; i < batch_size; ++i)
    batch.push_back(EventData{EventId(), std::string(kType), payload(writer * 1000 + i), {}});
  std::int64_t events = 0;
  for (auto _ : state) {
    for (EventData& e : batch) e.id = EventId::generate();
    const StreamId& stream = setup->streams[writer * kStreamsPerWriter + rng() % kStreamsPerWriter];
    auto r = setup->store->append(stream, ExpectedVersion::any(), batch);
    if (!r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
    events += static_cast<std::int64_t>(batch_size);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) setup.reset();
}

// The value of the one series named `name` in the store's metrics (whatever its labels); NaN without one.
double sample(const strata::testing::Exposition& metrics, std::string_view name) {
  for (const auto& [series, value] : metrics.samples)
    if (series.first == name) return value;
  return std::nan("");
}

// Durable one-event appends, as strata/b1/s1/w<writers>, into a store with metrics: group commit's
// appends per group, the mean time of a group's write (fsync included), and the mean cycle (the run's
// time over its groups: the write, then waking the group and gathering the next).
void durable_groups(benchmark::State& state) {
  std::shared_ptr<MetricsRegistry> metrics;
  if (state.thread_index() == 0) {
    metrics = std::make_shared<MetricsRegistry>();
    open_strata(true, metrics);
  }
  const auto writer = static_cast<std::size_t>(state.thread_index());
  std::mt19937 rng(static_cast<unsigned>(writer + 1));
  std::vector<EventData> batch{EventData{EventId(), std::string(kType), payload(writer * 1000), {}}};
  std::chrono::steady_clock::time_point started;
  for (auto _ : state) {
    if (started == std::chrono::steady_clock::time_point{}) started = std::chrono::steady_clock::now();
    batch[0].id = EventId::generate();
    const StreamId& stream = setup->streams[writer * kStreamsPerWriter + rng() % kStreamsPerWriter];
    if (auto r = setup->store->append(stream, ExpectedVersion::any(), batch); !r.ok()) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
  }
  if (state.thread_index() != 0) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto text = strata::testing::parse_prometheus(metrics->prometheus_text());
  const double groups = sample(text, "strata_store_commit_groups_total");
  state.counters["appends_per_group"] = sample(text, "strata_store_commit_group_appends_total") / groups;
  state.counters["write_us"] =
      sample(text, "strata_store_write_seconds_sum") / sample(text, "strata_store_write_seconds_count") * 1e6;
  state.counters["cycle_us"] = seconds / groups * 1e6;
  setup.reset();
}

std::string config(std::string_view kind, std::size_t batch, bool sync, int writers, int round) {
  return fmt::format("{}/b{}/s{}/w{}/round:{}", kind, batch, sync ? 1 : 0, writers, round);
}

// The configurations the headline ratios compare run kRounds times, interleaved (raw then strata, one
// writer then sixteen), and the summary takes the median of the per-round ratios: the machines are
// shared, and a ratio of two runs taken a minute apart measured the neighbours as much as the store.
// Five rounds: with three, one disturbed round in two decided the median.
constexpr int kRounds = 5;
bool headline(std::string_view kind, std::size_t batch, bool sync, int writers) {
  return (batch == 100 && !sync && writers == 1) || (kind == "strata" && batch == 1 && sync);
}

void register_one(std::string_view kind, std::size_t batch, bool sync, int writers, int round) {
  // A fixed amount of work per configuration, about a second on the reference machines: each run then
  // happens exactly once, on a database of its own.
  const std::size_t total_appends = sync ? (writers == 1 ? 2'000 : 16'000) : (batch == 1 ? 100'000 : 300'000 / batch);
  const auto per_writer = static_cast<benchmark::IterationCount>(total_appends / static_cast<std::size_t>(writers));
  auto fn = kind == "raw" ? raw_appends : strata_appends;
  benchmark::RegisterBenchmark(config(kind, batch, sync, writers, round).c_str(),
                               [fn, batch, sync](benchmark::State& s) { fn(s, batch, sync); })
      ->Threads(writers)
      ->Iterations(per_writer)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

void register_all() {
  for (int round = 1; round <= kRounds; ++round)
    for (bool sync : {false, true})
      for (std::size_t batch : {1, 10, 100})
        for (int writers : {1, kMaxWriters})
          for (std::string_view kind : {"raw", "strata"})
            if (round == 1 || headline(kind, batch, sync, writers)) register_one(kind, batch, sync, writers, round);
  for (int writers : {1, kMaxWriters})
    benchmark::RegisterBenchmark(fmt::format("groups/s1/w{}", writers).c_str(), durable_groups)
        ->Threads(writers)
        ->Iterations(writers == 1 ? 2'000 : 16'000 / kMaxWriters)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  strata::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  struct Config {
    std::string_view kind;
    std::size_t batch;
    bool sync;
    int writers;
  };
  auto rate = [&](Config c, int round) {
    return reporter.counter(config(c.kind, c.batch, c.sync, c.writers, round), "events/s");
  };
  // Medians over the rounds a configuration ran.
  auto events_per_s = [&](Config c) {
    std::vector<double> v;
    for (int round = 1; round <= kRounds; ++round) v.push_back(rate(c, round));
    return strata::bench::median(v);
  };
  auto ratio = [&](Config a, Config b) {
    std::vector<double> v;
    for (int round = 1; round <= kRounds; ++round) v.push_back(rate(a, round) / rate(b, round));
    return strata::bench::median(v);
  };
  const Config batch100{"strata", 100, false, 1}, raw_batch100{"raw", 100, false, 1};
  const Config durable1{"strata", 1, true, 1}, durable16{"strata", 1, true, kMaxWriters};
  using strata::bench::print_summary;
  print_summary("append_batch100_vs_raw", ratio(batch100, raw_batch100), "ratio");
  print_summary("durable_16w_vs_1w", ratio(durable16, durable1), "ratio");
  print_summary("append_batch10_vs_raw", ratio({"strata", 10, false, 1}, {"raw", 10, false, 1}), "ratio");
  print_summary("append_batch1_vs_raw", ratio({"strata", 1, false, 1}, {"raw", 1, false, 1}), "ratio");
  print_summary("append_batch100_16w_vs_raw", ratio({"strata", 100, false, 16}, {"raw", 100, false, 16}), "ratio");
  print_summary("durable_1w_vs_raw", ratio(durable1, {"raw", 1, true, 1}), "ratio");
  print_summary("durable_16w_vs_raw", ratio(durable16, {"raw", 1, true, 16}), "ratio");
  print_summary("append_batch100_events_per_s", events_per_s(batch100), "events/s");
  print_summary("append_batch10_events_per_s", events_per_s({"strata", 10, false, 1}), "events/s");
  print_summary("append_batch1_events_per_s", events_per_s({"strata", 1, false, 1}), "events/s");
  print_summary("append_batch100_16w_events_per_s", events_per_s({"strata", 100, false, 16}), "events/s");
  print_summary("durable_1w_events_per_s", events_per_s(durable1), "events/s");
  print_summary("durable_16w_events_per_s", events_per_s(durable16), "events/s");
  print_summary("durable_batch100_16w_events_per_s", events_per_s({"strata", 100, true, 16}), "events/s");
  print_summary("raw_batch100_events_per_s", events_per_s(raw_batch100), "events/s");
  // durable_16w_vs_1w comes to about appends_per_group x the one-writer cycle / the 16-writer cycle.
  print_summary("durable_16w_appends_per_group", reporter.counter("groups/s1/w16", "appends_per_group"), "appends");
  print_summary("durable_1w_write_us", reporter.counter("groups/s1/w1", "write_us"), "us");
  print_summary("durable_16w_write_us", reporter.counter("groups/s1/w16", "write_us"), "us");
  print_summary("durable_1w_cycle_us", reporter.counter("groups/s1/w1", "cycle_us"), "us");
  print_summary("durable_16w_cycle_us", reporter.counter("groups/s1/w16", "cycle_us"), "us");
  return 0;
}
