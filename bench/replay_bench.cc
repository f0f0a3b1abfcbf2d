// Replay, snapshots, time travel and upcasting on RocksEventStore, against raw RocksDB in the same run
// (DESIGN.md section 7).
//
//   raw/replay_1m/round:R           iterate the stream's rows in the `events` family with the store's own
//                                   RocksDB options and parse each payload with simdjson On Demand
//                                   (every field read), no framework
//   strata/replay_1m/round:R        Repository<Ledger>::load of the same 1M-event stream, no snapshots
//   strata/load_snapshot_1m         load of the 1M-event stream, snapshots every 1,000 events
//   strata/load_10                  load of a 10-event stream
//   raw/snapshot_get/round:R        a Get, by its key, of the snapshot that load_snapshot_1m loads from
//                                   (snapshot_load_vs_raw_get: the load's time over this one's)
//   strata/load_100/round:R         load of a 100-event stream without snapshots, against
//   raw/load_100/round:R            an iteration and parse of its 100 rows as raw/replay_1m does (load_100_vs_raw)
//   strata/load_at_{10,50,90}pct    load_at a version 500 events past a snapshot at 10/50/90 % of 1M
//   strata/replay_upcast_{v1,v2}    replay of 1M events stored as v1 (upcast at read) or as v2
//   replay_{1m,10m}_peak_rss_mb     peak RSS of a fresh process that opens the store (64 MiB block cache,
//                                   so the cache's own bound hides no growth) and replays 1M or 10M events;
//                                   replay_10m_rss_growth_mb is the part of it that came after the open
//
// Rates are per CPU second of the measuring thread (Google Benchmark's default), which the other jobs
// of a shared machine disturb less than wall time.
//
// The streams are written once, before the measurements (sync off, appends of 10 events, 100 for the
// 10M stream); the store the ratios read is then compacted, so that no compaction left over from the
// writes runs beside a round. The headline ratios are medians over interleaved rounds (bench_summary.h).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <simdjson.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_summary.h"
#include "format.h"
#include "raw_parse.h"
#include "rocks_options.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"

namespace {

using namespace strata;

// ---- The model -------------------------------------------------------------------------------------

struct Credited {
  static constexpr std::string_view kType = "ledger.credited.v1";
  std::int64_t amount = 0;
  std::string account;
  std::string memo;
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &Credited::amount), strata::field("account", &Credited::account),
                     strata::field("memo", &Credited::memo));
};

class Ledger : public Aggregate<Ledger, Events<Credited>> {
 private:
  friend Aggregate;
  void apply(const Credited& e) {
    balance_ += e.amount;
    ++entries_;
  }
  std::int64_t balance_ = 0;
  std::int64_t entries_ = 0;

 public:
  static constexpr auto kFields =
      strata::fields(strata::field("balance", &Ledger::balance_), strata::field("entries", &Ledger::entries_));
};

// The same deposit written as v1 (no currency) and as v2.
struct DepositedV1 {
  static constexpr std::string_view kType = "wallet.deposited.v1";
  std::int64_t amount = 0;
  std::string account;
  std::string memo;
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &DepositedV1::amount), strata::field("account", &DepositedV1::account),
                     strata::field("memo", &DepositedV1::memo));
};
struct Deposited {
  static constexpr std::string_view kType = "wallet.deposited.v2";
  std::int64_t amount = 0;
  std::string account;
  std::string memo;
  std::string currency;
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &Deposited::amount), strata::field("account", &Deposited::account),
                     strata::field("memo", &Deposited::memo), strata::field("currency", &Deposited::currency));
};
struct DepositedV1ToV2 {
  using From = DepositedV1;
  static Deposited upcast(const DepositedV1& e) { return {e.amount, e.account, e.memo, "EUR"}; }
};
class Wallet : public Aggregate<Wallet, Events<Deposited>, Upcasters<DepositedV1ToV2>> {
 public:
  std::int64_t total() const { return total_; }

 private:
  friend Aggregate;
  void apply(const Deposited& e) { total_ += e.amount + static_cast<std::int64_t>(e.currency.size()); }
  std::int64_t total_ = 0;
};

// ---- The data --------------------------------------------------------------------------------------

constexpr std::uint64_t kBig = 1'000'000;  // events
constexpr std::uint64_t kHuge = 10'000'000;
constexpr std::uint64_t kSnapshotEvery = 1'000;

std::string memo(std::uint64_t n) {
  return fmt::format("monthly subscription renewal, premium plan, invoice 2024-{:07}, booked via web", n);
}

RocksEventStore::Options fast_options() {
  RocksEventStore::Options o;
  o.sync = false;
  return o;
}

template <class E>
void write_stream(EventStore& store, std::string_view stream, std::uint64_t count, std::size_t batch,
                  E (*make)(std::uint64_t)) {
  const StreamId id = StreamId::parse(stream).value();
  std::vector<EventData> events;
  for (std::uint64_t n = 1; n <= count;) {
    events.clear();
    for (std::size_t i = 0; i < batch && n <= count; ++i, ++n) events.push_back(to_event_data(make(n)));
    throw_if_error(store.append(id, ExpectedVersion::any(), events).status());
  }
}

Credited make_credited(std::uint64_t n) {
  return {static_cast<std::int64_t>(n % 977), fmt::format("account-{:06}", n % 1000), memo(n)};
}
DepositedV1 make_v1(std::uint64_t n) {
  return {static_cast<std::int64_t>(n % 977), fmt::format("account-{:06}", n % 1000), memo(n)};
}
Deposited make_v2(std::uint64_t n) {
  return {static_cast<std::int64_t>(n % 977), fmt::format("account-{:06}", n % 1000), memo(n), "EUR"};
}

// Snapshots of `stream` every kSnapshotEvery versions, written directly from a fold of the stream.
void write_snapshots(RocksEventStore& store, std::string_view stream) {
  const StreamId id = StreamId::parse(stream).value();
  Fold<Ledger> fold;
  throw_if_error(store.visit_stream(id, 1, kEndOfStream, [&](const EventView& e) -> Status {
    STRATA_RETURN_IF_ERROR(fold.apply(e));
    if (e.version.value() % kSnapshotEvery == 0)
      return store.save_snapshot(id, SnapshotRecord{e.version, schema_fingerprint<Ledger>(),
                                                    snapshot_version_of<Ledger>(), to_json(fold.state())});
    return {};
  }));
}

std::unique_ptr<strata::bench::TempDir> data;       // ledger-1m (with snapshots), ledger-10, wallet-v1, wallet-v2
std::unique_ptr<strata::bench::TempDir> huge_data;  // ledger-10m

void build_data() {
  auto started = std::chrono::steady_clock::now();
  data = std::make_unique<strata::bench::TempDir>("strata-replay");
  {
    auto store = RocksEventStore::open(fast_options(), data->path()).value();
    write_stream(*store, "ledger-1m", kBig, 10, make_credited);
    write_stream(*store, "ledger-10", 10, 10, make_credited);
    write_stream(*store, "ledger-100", 100, 10, make_credited);
    write_stream(*store, "wallet-v1", kBig, 10, make_v1);
    write_stream(*store, "wallet-v2", kBig, 10, make_v2);
    write_snapshots(*store, "ledger-1m");
    // Measured from a settled store: compactions still running from these writes would share the
    // machine's two cores with whichever rounds happen to overlap them.
    throw_if_error(store->compact());
  }
  huge_data = std::make_unique<strata::bench::TempDir>("strata-replay");
  {
    auto store = RocksEventStore::open(fast_options(), huge_data->path()).value();
    write_stream(*store, "ledger-10m", kHuge, 100, make_credited);
  }
  std::fprintf(stderr, "wrote 13M events in %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

// ---- Raw baseline ----------------------------------------------------------------------------------

// Iterates the stream's rows in `events` with the store's RocksDB options and parses every payload,
// reading every field. Returns the number of events.
std::uint64_t raw_replay(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events, std::uint64_t number,
                         simdjson::ondemand::parser& parser, std::string& padded, std::int64_t& checksum) {
  const auto begin = detail::format::events_key(number, 1);
  const auto end = detail::format::events_key(number + 1, 1);
  rocksdb::Slice upper(reinterpret_cast<const char*>(end.data()), end.size());
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
  std::uint64_t n = 0;
  for (it->Seek(rocksdb::Slice(reinterpret_cast<const char*>(begin.data()), begin.size())); it->Valid(); it->Next()) {
    detail::format::EventsEntry entry;
    EventView view;
    if (!detail::format::decode_events_entry(std::string_view(it->value().data(), it->value().size()), entry) ||
        !detail::format::decode_body(entry.body, view))
      throw std::runtime_error("raw replay: not a copy row");
    checksum += strata::bench::parse_every_field(parser, padded, view.payload, "amount");
    ++n;
  }
  if (!it->status().ok()) throw std::runtime_error(it->status().ToString());
  return n;
}

// The store opened read-only as plain RocksDB, with the store's own options.
struct RawStore {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  RawStore() {
    const auto options = fast_options();
    rocksdb::DBOptions db_options = detail::rocks_db_options(options, nullptr);
    auto cache = detail::rocks_block_cache(options);
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    throw_if_error(rocksdb::DB::ListColumnFamilies(db_options, data->path(), &names).ok()
                       ? Status()
                       : Status::io_error("list column families"));
    for (const auto& name : names) families.emplace_back(name, detail::rocks_family_options(name, options, cache));
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, data->path(), families, &handles, &raw);
    if (!s.ok()) throw std::runtime_error(s.ToString());
    db.reset(raw);
  }
  ~RawStore() {
    for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  }
  rocksdb::ColumnFamilyHandle* family(std::string_view name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return handles[i];
    throw std::runtime_error("no column family");
  }
  // The number of `stream` in the events family.
  std::uint64_t stream_number(std::string_view stream) const {
    std::string record;
    if (!db->Get(rocksdb::ReadOptions(), family(detail::format::kStreamsFamily),
                 rocksdb::Slice(stream.data(), stream.size()), &record)
             .ok())
      throw std::runtime_error("no stream");
    detail::format::StreamRecord decoded;
    if (!detail::format::decode_stream_record(record, decoded)) throw std::runtime_error("bad stream record");
    return decoded.number;
  }
};

void BM_RawReplay(benchmark::State& state) {
  RawStore raw;
  rocksdb::ColumnFamilyHandle* events = raw.family(detail::format::kEventsFamily);
  const std::uint64_t number = raw.stream_number("ledger-1m");
  simdjson::ondemand::parser parser;
  std::string padded;
  std::int64_t checksum = 0;
  raw_replay(raw.db.get(), events, number, parser, padded, checksum);  // warm the cache, as replays do
  std::uint64_t total = 0;
  for (auto _ : state) total += raw_replay(raw.db.get(), events, number, parser, padded, checksum);
  benchmark::DoNotOptimize(checksum);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

// A Get of the newest snapshot of ledger-1m by its key: the bytes a load from that snapshot must read.
void BM_RawSnapshotGet(benchmark::State& state) {
  RawStore raw;
  rocksdb::ColumnFamilyHandle* snapshots = raw.family(detail::format::kSnapshotsFamily);
  std::string key;
  {
    std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator(rocksdb::ReadOptions(), snapshots));
    const std::string prefix = std::string("ledger-1m") + '\0';
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) key = it->key().ToString();
    if (key.empty()) throw std::runtime_error("no snapshot");
  }
  rocksdb::PinnableSlice value;
  std::size_t bytes = 0;
  for (auto _ : state) {
    value.Reset();
    if (!raw.db->Get(rocksdb::ReadOptions(), snapshots, key, &value).ok()) throw std::runtime_error("no snapshot");
    bytes += value.size();
  }
  benchmark::DoNotOptimize(bytes);
  state.counters["us/load"] = benchmark::Counter(static_cast<double>(state.iterations()) / 1e6,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Iterates and parses the 100 events of ledger-100, as raw_replay does: what loading it must read.
void BM_RawLoad100(benchmark::State& state) {
  RawStore raw;
  rocksdb::ColumnFamilyHandle* events = raw.family(detail::format::kEventsFamily);
  const std::uint64_t number = raw.stream_number("ledger-100");
  simdjson::ondemand::parser parser;
  std::string padded;
  std::int64_t checksum = 0;
  for (auto _ : state)
    if (raw_replay(raw.db.get(), events, number, parser, padded, checksum) != 100) throw std::runtime_error("not 100");
  benchmark::DoNotOptimize(checksum);
  state.counters["us/load"] = benchmark::Counter(static_cast<double>(state.iterations()) / 1e6,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- strata ----------------------------------------------------------------------------------------

template <class A>
void replay(benchmark::State& state, std::string_view stream) {
  auto store = RocksEventStore::open(fast_options(), data->path()).value();
  RepositoryOptions options;
  options.snapshots = SnapshotPolicy::never();  // replay measured without snapshots
  Repository<A> repo(*store, options);
  const StreamId id = StreamId::parse(stream).value();
  std::uint64_t total = 0;                          // events replayed
  benchmark::DoNotOptimize(repo.load(id).value());  // warm the cache
  for (auto _ : state) {
    A a = repo.load(id).value();
    total += a.version().value();
    benchmark::DoNotOptimize(a);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

void BM_StrataReplay(benchmark::State& state) { replay<Ledger>(state, "ledger-1m"); }
void BM_ReplayUpcastV1(benchmark::State& state) { replay<Wallet>(state, "wallet-v1"); }
void BM_ReplayV2(benchmark::State& state) { replay<Wallet>(state, "wallet-v2"); }

// Loads through a repository that uses the store's snapshots; `at` = 0 loads the head.
void load_with_snapshots(benchmark::State& state, std::string_view stream, Version at) {
  auto store = RocksEventStore::open(fast_options(), data->path()).value();
  Repository<Ledger> repo(*store);
  const StreamId id = StreamId::parse(stream).value();
  auto load = [&] { return at == 0 ? repo.load(id).value() : repo.load_at(id, at).value(); };
  benchmark::DoNotOptimize(load());
  for (auto _ : state) benchmark::DoNotOptimize(load());
  if (repo.snapshot_stats().ignored.load() != 0) state.SkipWithError("a snapshot was ignored");
  state.counters["us/load"] = benchmark::Counter(static_cast<double>(state.iterations()) / 1e6,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- Peak RSS in a fresh process -------------------------------------------------------------------

// The child: opens the store with a 64 MiB block cache, loads the stream, and reports its memory
// (bench_summary.h) with the version loaded.
int rss_child(const char* dir, const char* stream) {
  auto options = fast_options();
  options.block_cache_bytes = std::size_t{64} << 20;
  auto store = RocksEventStore::open(options, dir).value();
  const double opened = strata::bench::peak_rss_mb();
  RepositoryOptions repo_options;
  repo_options.snapshots = SnapshotPolicy::never();
  Repository<Ledger> repo(*store, repo_options);
  Ledger a = repo.load(StreamId::parse(stream).value()).value();
  strata::bench::report_memory(opened, a.version().value());
  return 0;
}

// Interleaved rounds of the configurations the ratios compare (five: with three, one disturbed round in
// two decided the median).
constexpr int kRounds = 5;

void register_all() {
  for (int round = 1; round <= kRounds; ++round) {
    benchmark::RegisterBenchmark(fmt::format("raw/replay_1m/round:{}", round).c_str(), BM_RawReplay)
        ->Iterations(2)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(fmt::format("strata/replay_1m/round:{}", round).c_str(), BM_StrataReplay)
        ->Iterations(2)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(fmt::format("strata/load_snapshot_1m/round:{}", round).c_str(),
                                 [](benchmark::State& s) { load_with_snapshots(s, "ledger-1m", 0); })
        ->Iterations(2000)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("raw/snapshot_get/round:{}", round).c_str(), BM_RawSnapshotGet)
        ->Iterations(20000)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("strata/load_100/round:{}", round).c_str(),
                                 [](benchmark::State& s) { load_with_snapshots(s, "ledger-100", 0); })
        ->Iterations(2000)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("raw/load_100/round:{}", round).c_str(), BM_RawLoad100)
        ->Iterations(2000)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(fmt::format("strata/load_10/round:{}", round).c_str(),
                                 [](benchmark::State& s) { load_with_snapshots(s, "ledger-10", 0); })
        ->Iterations(2000)
        ->Unit(benchmark::kMicrosecond);
    for (int pct : {10, 50, 90}) {
      const Version at = kBig * static_cast<std::uint64_t>(pct) / 100 + 500;
      benchmark::RegisterBenchmark(fmt::format("strata/load_at_{}pct/round:{}", pct, round).c_str(),
                                   [at](benchmark::State& s) { load_with_snapshots(s, "ledger-1m", at); })
          ->Iterations(500)
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark(fmt::format("strata/replay_upcast_v1/round:{}", round).c_str(), BM_ReplayUpcastV1)
        ->Iterations(2)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(fmt::format("strata/replay_v2/round:{}", round).c_str(), BM_ReplayV2)
        ->Iterations(2)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--rss-child") == 0) return rss_child(argv[2], argv[3]);
  build_data();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  strata::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  auto per_round = [&](std::string_view name, std::string_view counter) {
    std::vector<double> v;
    for (int round = 1; round <= kRounds; ++round)
      v.push_back(reporter.counter(fmt::format("{}/round:{}", name, round), std::string(counter)));
    return v;
  };
  auto ratio = [&](std::string_view a, std::string_view b, std::string_view counter) {
    auto x = per_round(a, counter), y = per_round(b, counter);
    std::vector<double> r;
    for (std::size_t i = 0; i < x.size(); ++i) r.push_back(x[i] / y[i]);
    return strata::bench::median(r);
  };
  using strata::bench::print_summary;
  print_summary("replay_vs_raw", ratio("strata/replay_1m", "raw/replay_1m", "events/s"), "ratio");
  print_summary("replay_events_per_s", strata::bench::median(per_round("strata/replay_1m", "events/s")), "events/s");
  print_summary("raw_replay_events_per_s", strata::bench::median(per_round("raw/replay_1m", "events/s")), "events/s");
  print_summary("snapshot_load_1m_vs_10", ratio("strata/load_snapshot_1m", "strata/load_10", "us/load"), "ratio");
  print_summary("snapshot_load_1m_us", strata::bench::median(per_round("strata/load_snapshot_1m", "us/load")), "us");
  print_summary("snapshot_load_vs_raw_get", ratio("strata/load_snapshot_1m", "raw/snapshot_get", "us/load"), "ratio");
  print_summary("raw_snapshot_get_us", strata::bench::median(per_round("raw/snapshot_get", "us/load")), "us");
  print_summary("load_100_vs_raw", ratio("strata/load_100", "raw/load_100", "us/load"), "ratio");
  print_summary("load_100_us", strata::bench::median(per_round("strata/load_100", "us/load")), "us");
  for (int pct : {10, 50, 90})
    print_summary(fmt::format("load_at_{}pct", pct),
                  strata::bench::median(per_round(fmt::format("strata/load_at_{}pct", pct), "us/load")), "us");
  print_summary("replay_upcast_v1_vs_v2", ratio("strata/replay_upcast_v1", "strata/replay_v2", "events/s"), "ratio");

  const auto rss_1m = strata::bench::measure_memory({"--rss-child", data->path(), "ledger-1m"}, kBig);
  const auto rss_10m = strata::bench::measure_memory({"--rss-child", huge_data->path(), "ledger-10m"}, kHuge);
  print_summary("replay_1m_peak_rss_mb", rss_1m.peak_mb, "MiB");
  print_summary("replay_10m_peak_rss_mb", rss_10m.peak_mb, "MiB");
  // What the replay itself added to the process (the rest is the opened store: caches and write buffers).
  print_summary("replay_10m_rss_growth_mb", rss_10m.peak_mb - rss_10m.after_open_mb, "MiB");
  data.reset();
  huge_data.reset();
  return 0;
}
