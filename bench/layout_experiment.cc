// The measurement behind the layout decision recorded in eventstore/FORMAT.md: where should the event
// record live, in `events` (keyed by stream number and version), in `log` (keyed by global position),
// or in both? Aggregate replay reads one stream; projection catch-up reads the whole log; appends pay
// for whatever is written. This program writes the same events in each candidate layout with the
// store's RocksDB options, then replays streams and scans the log, parsing every payload with simdjson
// as a consumer would, and prints the rates and the CPU time spent per appended event.
//
//   strata_layout_experiment [directory] [events] [layout]
//
// The workload repeats five appends: 100 events to stream "target", 100 events each to two of 1,000
// other streams, 10 events to stream "tens", 1 event to stream "single". Streams built from small
// appends are thus interleaved with everything else in the log, as aggregates' streams are.
//
// Layouts (all but raw also write the event-id index, and check it with MultiGet, as the store must):
//   raw         the record in events only; no log, no id index: the floor of what any layout costs
//   events+idx  the record in events; log maps position -> (stream, version)
//   log+idx     the record in log; events maps (stream, version) -> position
//   log+runs    the record in log; events maps (stream, first version) -> (first position, count),
//               one entry per append, since an append's events have consecutive positions
//   hybrid      log+runs for appends of 16 events or more; smaller appends copy their records into
//               events (one entry per event), so a stream made of small appends is contiguous
//   both        the record in both families
//
// The event-id index uses strata's point-lookup memtable (eventstore/src/point_lookup_memtable.h);
// IDS_REP=skiplist measures RocksDB's default skip list instead.
#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "point_lookup_memtable.h"

namespace {

using Clock = std::chrono::steady_clock;

enum class Layout { kRaw, kEventsIdx, kLogIdx, kLogRuns, kHybrid, kBoth };
constexpr Layout kLayouts[] = {Layout::kRaw,     Layout::kEventsIdx, Layout::kLogIdx,
                               Layout::kLogRuns, Layout::kHybrid,    Layout::kBoth};
const char* name(Layout l) {
  switch (l) {
    case Layout::kRaw:
      return "raw";
    case Layout::kEventsIdx:
      return "events+idx";
    case Layout::kLogIdx:
      return "log+idx";
    case Layout::kLogRuns:
      return "log+runs";
    case Layout::kHybrid:
      return "hybrid";
    case Layout::kBoth:
      return "both";
  }
  return "?";
}
bool record_in_events(Layout l) { return l == Layout::kRaw || l == Layout::kEventsIdx || l == Layout::kBoth; }
constexpr std::size_t kHybridCopyBelow = 16;

constexpr std::uint64_t kTarget = 1, kSingle = 2, kTens = 3, kNoise = 10;

void put_be64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (i * 8)) & 0xff);
}
std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::string stream_key(std::uint64_t stream, std::uint64_t version) {
  std::string k;
  put_be64(k, stream);
  put_be64(k, version);
  return k;
}
std::string position_key(std::uint64_t p) {
  std::string k;
  put_be64(k, p);
  return k;
}

std::string payload(std::uint64_t n) {
  return fmt::format(
      R"({{"account":"account-{:06}","amount_cents":{},"currency":"EUR","reference":"invoice-2024-{:06}",)"
      R"("note":"monthly subscription renewal for the premium plan","booked_by":"clerk-{:03}"}})",
      n % 1000, 1000 + n % 99991, n, n % 17);
}

// Roughly what the store persists per event: id, timestamp, version or position, type, metadata,
// payload; the log's copy also names its stream.
constexpr std::string_view kStreamName = "account-000123";
std::string record(std::mt19937_64& rng, std::uint64_t n, std::uint64_t other, bool in_log) {
  std::string r;
  if (in_log) {
    r += static_cast<char>(kStreamName.size());
    r += kStreamName;
  }
  for (int i = 0; i < 2; ++i) {
    std::uint64_t x = rng();
    r.append(reinterpret_cast<const char*>(&x), 8);
  }
  put_be64(r, 1'700'000'000'000'000 + n);
  put_be64(r, other);
  std::string type = "bank.deposited.v1";
  r += static_cast<char>(type.size());
  r += type;
  r += static_cast<char>(0);  // empty metadata
  r += payload(n);
  return r;
}
constexpr std::size_t kPayloadOffset = 16 + 8 + 8 + 1 + 17 + 1;
constexpr std::size_t kLogPayloadOffset = 1 + kStreamName.size() + kPayloadOffset;

void check(const rocksdb::Status& s) {
  if (!s.ok()) {
    fmt::print(stderr, "rocksdb: {}\n", s.ToString());
    std::exit(1);
  }
}

struct Db {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* log = nullptr;
  rocksdb::ColumnFamilyHandle* ids = nullptr;
  ~Db() {
    for (auto* h : {events, log, ids}) (void)db->DestroyColumnFamilyHandle(h);
  }
};

// The store's options (see eventstore/src/rocks_options.cc), restated here so that the experiment
// stays a standalone program.
std::unique_ptr<Db> open(const std::string& path, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.bytes_per_sync = 1 << 20;
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 64 << 20;
  cf.compression = rocksdb::kLZ4Compression;
  cf.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  auto ids = cf;
  ids.compression = rocksdb::kNoCompression;
  const char* rep = std::getenv("IDS_REP");
  if (rep == nullptr || std::string_view(rep) != "skiplist") {
    o.allow_concurrent_memtable_write = false;
    ids.memtable_factory = std::make_shared<strata::detail::PointLookupMemTableFactory>();
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> d{
      {rocksdb::kDefaultColumnFamilyName, cf}, {"events", cf}, {"log", cf}, {"ids", ids}};
  auto db = std::make_unique<Db>();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  check(rocksdb::DB::Open(o, path, d, &handles, &raw));
  db->db.reset(raw);
  (void)db->db->DestroyColumnFamilyHandle(handles[0]);
  db->events = handles[1];
  db->log = handles[2];
  db->ids = handles[3];
  return db;
}

double process_cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void wait_for_compactions(Db& db) {
  for (;;) {
    std::uint64_t pending = 0, running = 0;
    for (auto* cf : {db.events, db.log, db.ids}) {
      std::uint64_t v = 0;
      db.db->GetIntProperty(cf, rocksdb::DB::Properties::kCompactionPending, &v);
      pending += v;
    }
    db.db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running);
    if (pending == 0 && running == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Appends `total` events (see the workload above); events per second.
double write(Db& db, Layout layout, std::uint64_t total) {
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> heads(kNoise + 1000, 0);
  std::uint64_t position = 0;
  rocksdb::WriteOptions wo;
  wo.sync = false;
  std::vector<std::string> ids;
  std::vector<rocksdb::Slice> id_slices;
  std::vector<rocksdb::PinnableSlice> values(100);
  std::vector<rocksdb::Status> statuses(100);
  const bool with_ids = layout != Layout::kRaw;
  auto t0 = Clock::now();
  for (std::uint64_t round = 0; position < total; ++round) {
    std::uint64_t stream = kNoise + rng() % 1000;
    std::size_t count = 100;
    switch (round % 5) {
      case 0:
        stream = kTarget;
        break;
      case 3:
        stream = kTens, count = 10;
        break;
      case 4:
        stream = kSingle, count = 1;
        break;
      default:
        break;
    }
    ids.clear();
    for (std::size_t i = 0; i < count; ++i) {
      std::uint64_t a = rng(), b = rng();
      std::string id(16, '\0');
      std::memcpy(id.data(), &a, 8);
      std::memcpy(id.data() + 8, &b, 8);
      ids.push_back(std::move(id));
    }
    if (with_ids) {
      id_slices.assign(ids.begin(), ids.end());
      db.db->MultiGet(rocksdb::ReadOptions(), db.ids, count, id_slices.data(), values.data(), statuses.data());
      for (std::size_t i = 0; i < count; ++i)
        if (!statuses[i].IsNotFound()) check(statuses[i]);
    }
    rocksdb::WriteBatch batch;
    const bool copy = layout == Layout::kHybrid && count < kHybridCopyBelow;
    for (std::size_t i = 0; i < count; ++i) {
      std::uint64_t version = ++heads[stream];
      std::uint64_t pos = ++position;
      std::string sk = stream_key(stream, version);
      std::string pk = position_key(pos);
      if (layout != Layout::kRaw && layout != Layout::kEventsIdx)
        batch.Put(db.log, pk, record(rng, pos, version, /*in_log=*/true));
      switch (layout) {
        case Layout::kRaw:
          batch.Put(db.events, sk, record(rng, pos, pos, false));
          break;
        case Layout::kEventsIdx:
          batch.Put(db.events, sk, record(rng, pos, pos, false));
          batch.Put(db.log, pk, sk);
          break;
        case Layout::kLogIdx:
          batch.Put(db.events, sk, pk);
          break;
        case Layout::kLogRuns:
        case Layout::kHybrid:
          if (copy) {
            std::string copied(1, 'E');
            copied += record(rng, pos, pos, false);
            batch.Put(db.events, sk, copied);
          } else if (i == 0) {
            std::string run(1, 'R');
            run += pk;
            run += static_cast<char>(count);
            batch.Put(db.events, sk, run);
          }
          break;
        case Layout::kBoth:
          batch.Put(db.events, sk, record(rng, pos, pos, false));
          break;
      }
      if (with_ids) batch.Put(db.ids, ids[i], pk);
    }
    check(db.db->Write(wo, &batch));
  }
  return static_cast<double>(position) / seconds_since(t0);
}

struct Parser {
  simdjson::ondemand::parser parser;
  std::string buffer;
  std::uint64_t fields = 0;
  void parse(std::string_view json) {
    buffer.assign(json);
    buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
    auto doc = parser.iterate(buffer.data(), json.size(), buffer.size());
    for (auto field : doc.get_object()) {
      (void)field.unescaped_key();
      ++fields;
    }
  }
};

// Looks positions up in the log with batched MultiGet, parsing each record.
struct LogLookup {
  Db& db;
  Parser& parser;
  std::uint64_t& count;
  std::vector<std::string> keys;
  void add(std::uint64_t position) {
    keys.push_back(position_key(position));
    if (keys.size() == 256) flush();
  }
  void flush() {
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db.db->MultiGet(rocksdb::ReadOptions(), db.log, slices.size(), slices.data(), values.data(), statuses.data(),
                    /*sorted_input=*/true);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      check(statuses[i]);
      parser.parse(values[i].ToStringView().substr(kLogPayloadOffset));
      ++count;
    }
    keys.clear();
  }
};

// Reads every event of `stream`, parsing each payload; events per second (best of three).
double replay(Db& db, Layout layout, std::uint64_t stream, std::uint64_t& count) {
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Parser p;
    rocksdb::ReadOptions ro;
    std::string lower = stream_key(stream, 0), upper = stream_key(stream + 1, 0);
    rocksdb::Slice ub(upper);
    ro.iterate_upper_bound = &ub;
    ro.readahead_size = 2 << 20;
    count = 0;
    auto t0 = Clock::now();
    std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, db.events));
    rocksdb::ReadOptions lo;
    lo.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> log(db.db->NewIterator(lo, db.log));
    LogLookup lookup{db, p, count, {}};
    for (it->Seek(lower); it->Valid(); it->Next()) {
      std::string_view v = it->value().ToStringView();
      if (record_in_events(layout)) {
        p.parse(v.substr(kPayloadOffset));
        ++count;
      } else if (layout == Layout::kLogIdx) {
        lookup.add(get_be64(v.data()));
      } else if (v[0] == 'E') {
        p.parse(v.substr(1 + kPayloadOffset));
        ++count;
      } else {
        // A run: seek the log once, then Next() through its consecutive positions.
        std::uint64_t pos = get_be64(v.data() + 1);
        auto n = static_cast<unsigned char>(v[9]);
        log->Seek(position_key(pos));
        for (unsigned i = 0; i < n && log->Valid(); ++i, log->Next()) {
          p.parse(log->value().ToStringView().substr(kLogPayloadOffset));
          ++count;
        }
      }
    }
    if (!lookup.keys.empty()) lookup.flush();
    check(it->status());
    check(log->status());
    best = std::max(best, static_cast<double>(count) / seconds_since(t0));
  }
  return best;
}

// Reads the whole log in position order, parsing each payload; events per second (best of two).
double scan_log(Db& db, Layout layout, std::uint64_t& count) {
  double best = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Parser p;
    rocksdb::ReadOptions ro;
    ro.readahead_size = 2 << 20;
    ro.fill_cache = false;
    count = 0;
    auto t0 = Clock::now();
    std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, layout == Layout::kRaw ? db.events : db.log));
    std::vector<std::string> keys;
    auto lookup_events = [&] {
      std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
      std::vector<rocksdb::PinnableSlice> values(keys.size());
      std::vector<rocksdb::Status> statuses(keys.size());
      db.db->MultiGet(rocksdb::ReadOptions(), db.events, slices.size(), slices.data(), values.data(), statuses.data());
      for (std::size_t i = 0; i < keys.size(); ++i) {
        check(statuses[i]);
        p.parse(values[i].ToStringView().substr(kPayloadOffset));
      }
      keys.clear();
    };
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++count;
      if (layout == Layout::kRaw) {
        p.parse(it->value().ToStringView().substr(kPayloadOffset));  // not the log order: a floor only
      } else if (layout == Layout::kEventsIdx) {
        keys.emplace_back(it->value().ToStringView());
        if (keys.size() == 256) lookup_events();
      } else {
        p.parse(it->value().ToStringView().substr(kLogPayloadOffset));
      }
    }
    if (!keys.empty()) lookup_events();
    check(it->status());
    best = std::max(best, static_cast<double>(count) / seconds_since(t0));
  }
  return best;
}

std::uint64_t disk_bytes(const std::string& path) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/strata-layout-experiment";
  std::uint64_t total = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
  std::string only = argc > 3 ? argv[3] : "";
  fmt::print("{} events, ~{}-byte JSON payloads; fg/cpu = foreground thread / whole process CPU per event\n", total,
             payload(123456).size());
  fmt::print("{:<11} {:>11} {:>6} {:>6} {:>11} {:>11} {:>11} {:>11} {:>8}\n", "layout", "append/s", "fg us", "cpu us",
             "replay100/s", "replay10/s", "replay1/s", "scan/s", "disk MiB");
  for (Layout layout : kLayouts) {
    if (!only.empty() && only != name(layout)) continue;
    std::string path = dir + "/" + name(layout);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    auto cache = rocksdb::NewLRUCache(std::size_t{1} << 30);
    double append_rate, fg_us, cpu_us;
    {
      auto db = open(path, cache);
      double cpu0 = process_cpu(), fg0 = thread_cpu();
      append_rate = write(*db, layout, total);
      fg_us = (thread_cpu() - fg0) * 1e6 / static_cast<double>(total);
      check(db->db->Flush(rocksdb::FlushOptions(), {db->events, db->log, db->ids}));
      wait_for_compactions(*db);
      cpu_us = (process_cpu() - cpu0) * 1e6 / static_cast<double>(total);
    }
    auto db = open(path, cache);  // reopened: reads come from table files, as after a restart
    std::uint64_t n100 = 0, n10 = 0, n1 = 0, nlog = 0;
    double r100 = replay(*db, layout, kTarget, n100);
    double r10 = replay(*db, layout, kTens, n10);
    double r1 = replay(*db, layout, kSingle, n1);
    double scan = scan_log(*db, layout, nlog);
    fmt::print("{:<11} {:>11.0f} {:>6.2f} {:>6.2f} {:>11.0f} {:>11.0f} {:>11.0f} {:>11.0f} {:>8.0f}\n", name(layout),
               append_rate, fg_us, cpu_us, r100, r10, r1, scan, static_cast<double>(disk_bytes(path)) / (1 << 20));
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
}
