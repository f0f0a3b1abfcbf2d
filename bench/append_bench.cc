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
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_summary.h"
#include "format.h"
#include "rocks_options.h"
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

void open_strata(bool sync) {
  setup = std::make_unique<Setup>();
  setup->store = RocksEventStore::open(store_options(sync), setup->dir.path()).value();
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

std::string config(std::string_view kind, std::size_t batch, bool sync, int writers, int round) {
  return fmt::format("{}/b{}/s{}/w{}/round:{}", kind, batch, sync ? 1 : 0, writers, round);
}

// The configurations the headline ratios compare run kRounds times, interleaved (raw then strata, one
// writer then sixteen), and the summary takes the median of the per-round ratios: the machines are
// shared, and a ratio of two runs taken a minute apart measured the neighbours as much as the store.
constexpr int kRounds = 3;
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
  return 0;
}
