// PgEventStore against plain SQL on the same server, and against RocksEventStore, in one run.
//
// The raw baseline is what an application would write by hand on PostgreSQL: the same rows (the same
// ~200-byte payloads, ids, types, metadata) inserted by prepared statements into a table with the same
// columns and indexes, position from a bigserial, with no expected-version check, no gap-free log and no
// idempotency, and read back in libpq's default text format:
//   durable 1 writer      one-event transactions, one connection
//   durable 16 writers    one-event transactions, 16 connections (PostgreSQL's own group commit)
//   100-event appends     one transaction of 100 rows (one statement), one connection
//   replay                one 100k-event stream read back in version order, every column touched
//   log catch-up          the whole log read in position order, pages of 2,000
// strata does the same through its public API (append, visit_stream, visit_log). Rounds alternate
// which side goes first; the summary is the median of per-round ratios (pg_*_vs_raw_sql, target >= 0.7
// for appends from 16 writers and for replay) and the absolute rates of both backends.
//
// Needs a server: STRATA_PG_URL (bench/run.sh starts a throw-away cluster with scripts/postgres.sh);
// without one it says so and exits 0.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_summary.h"
#include "pg_client.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/pgstore/pg_event_store.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 5;
constexpr int kOneWriterAppends = 600;
constexpr int kOneWriterChunks = 12;
constexpr int kWriters = 16;
constexpr int kPerWriter = 150;
constexpr int kBatches = 40;
constexpr int kReplayEvents = 100'000;

const std::string kPayload =
    R"({"amount":1250,"currency":"EUR","account":"acct-000042","reference":"invoice 2026-11-0042",)"
    R"("note":"a payload of about two hundred bytes, as the other benchmarks use","channel":"web","ok":true})";

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "bench_pgstore: %s\n", why.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

StreamId sid(const std::string& s) { return StreamId::parse(s).value(); }

EventData event() { return EventData{EventId::generate(), "bench.deposited.v1", kPayload, {}}; }

using Raw = bench::PgClient;

const char* kRawInsert =
    "INSERT INTO raw_events (stream_id, category, version, event_id, type, recorded_at, metadata, payload) "
    "VALUES ($1, 'acct', $2, $3::uuid, 'bench.deposited.v1', $4, '\\x', $5)";

void raw_insert_one(Raw& raw, const std::string& stream, std::uint64_t version) {
  const std::string v = std::to_string(version), id = EventId::generate().to_string();
  const std::string ts = std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  PQclear(raw.prepared("raw_insert", kRawInsert, {stream, v, id, ts, kPayload}));
}

// 100 rows in one statement, one transaction: the same arrays strata sends.
void raw_insert_batch(Raw& raw, const std::string& stream, std::uint64_t first_version, int n) {
  std::string ids = "{", versions = "{", payloads = "{";
  for (int i = 0; i < n; ++i) {
    if (i > 0) ids += ',', versions += ',', payloads += ',';
    ids += EventId::generate().to_string();
    versions += std::to_string(first_version + static_cast<std::uint64_t>(i));
    payloads += '"';
    for (char ch : kPayload) {
      if (ch == '"' || ch == '\\') payloads += '\\';
      payloads += ch;
    }
    payloads += '"';
  }
  ids += '}', versions += '}', payloads += '}';
  const std::string ts = std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  PQclear(raw.prepared("raw_batch",
                       "INSERT INTO raw_events (stream_id, category, version, event_id, type, recorded_at, "
                       "metadata, payload) SELECT $1, 'acct', v, i, 'bench.deposited.v1', $4, '\\x', p FROM "
                       "unnest($2::bigint[], $3::uuid[], $5::text[]) AS u(v, i, p)",
                       {stream, versions, ids, ts, payloads}));
}

std::atomic<std::uint64_t> g_sink{0};

// Touches every column of every row, as a reader that uses them would.
void touch(PGresult* r) {
  std::uint64_t sum = 0;
  const int rows = PQntuples(r), cols = PQnfields(r);
  for (int i = 0; i < rows; ++i)
    for (int c = 0; c < cols; ++c) sum += static_cast<std::uint64_t>(PQgetlength(r, i, c)) + PQgetvalue(r, i, c)[0];
  g_sink += sum;
}

double raw_replay(Raw& raw, const std::string& stream) {
  const auto start = Clock::now();
  PGresult* r = raw.query(
      "SELECT position, stream_id, version, event_id, type, recorded_at, metadata, payload FROM raw_events "
      "WHERE stream_id = $1 ORDER BY version",
      {stream});
  if (PQntuples(r) != kReplayEvents) die("raw replay read " + std::to_string(PQntuples(r)) + " rows");
  touch(r);
  PQclear(r);
  return kReplayEvents / seconds_since(start);
}

double raw_log(Raw& raw, std::uint64_t total) {
  const auto start = Clock::now();
  std::uint64_t from = 0, seen = 0;
  for (;;) {
    PGresult* r = raw.query(
        "SELECT position, stream_id, version, event_id, type, recorded_at, metadata, payload FROM raw_events "
        "WHERE position > $1 ORDER BY position LIMIT 2000",
        {std::to_string(from)});
    const int rows = PQntuples(r);
    touch(r);
    if (rows > 0) from = std::strtoull(PQgetvalue(r, rows - 1, 0), nullptr, 10);
    PQclear(r);
    seen += static_cast<std::uint64_t>(rows);
    if (rows < 2000) break;
  }
  if (seen < total) die("raw log read fewer rows than expected");
  return static_cast<double>(seen) / seconds_since(start);
}

template <class F>
double timed_rate(double events, F&& f) {
  const auto start = Clock::now();
  f();
  return events / seconds_since(start);
}

struct Rates {
  std::vector<double> one, sixteen, batch, replay, log;
};

}  // namespace

int main() {
  const char* url_env = std::getenv("STRATA_PG_URL");
  if (url_env == nullptr || *url_env == '\0') {
    std::printf("bench_pgstore: STRATA_PG_URL is not set (bench/run.sh starts a PostgreSQL cluster): skipped\n");
    return 0;
  }
  const std::string url = url_env;
  const std::string schema = "bench_" + std::to_string(::getpid());
  Raw admin(url);
  admin.exec("DROP TABLE IF EXISTS raw_events");
  admin.exec(
      "CREATE TABLE raw_events (position bigserial PRIMARY KEY, stream_id text COLLATE \"C\" NOT NULL, category text "
      "COLLATE \"C\" NOT NULL, version bigint NOT NULL, event_id uuid NOT NULL UNIQUE, type text NOT NULL, "
      "recorded_at bigint NOT NULL, metadata bytea NOT NULL, payload text NOT NULL, UNIQUE (stream_id, version))");

  PgEventStore::Options options;
  options.conninfo = url;
  options.schema = schema;
  options.pool_size = 4;
  auto opened = PgEventStore::open(options);
  if (!opened.ok()) die(opened.status().to_string());
  PgEventStore& store = **opened;
  bench::TempDir dir("strata-bench-pg");
  auto rocks_opened = RocksEventStore::open(RocksEventStore::Options{}, dir.sub("rocks"));
  if (!rocks_opened.ok()) die(rocks_opened.status().to_string());
  RocksEventStore& rocks = **rocks_opened;

  // The 100k-event streams to replay, on each side.
  for (int i = 0; i < kReplayEvents / 1000; ++i) {
    std::vector<EventData> batch;
    for (int k = 0; k < 1000; ++k) batch.push_back(event());
    if (!store.append(sid("replay-1"), ExpectedVersion::any(), batch).ok()) die("fill");
    if (!rocks.append(sid("replay-1"), ExpectedVersion::any(), batch).ok()) die("fill rocks");
  }
  {
    Raw raw(url);
    for (int i = 0; i < kReplayEvents / 1000; ++i) {
      raw.exec("BEGIN");
      raw_insert_batch(raw, "replay-1", static_cast<std::uint64_t>(i) * 1000 + 1, 1000);
      raw.exec("COMMIT");
    }
  }

  Rates strata_r, raw_r, rocks_r;
  std::vector<double> ratio16, ratio1, ratio_batch, ratio_replay, ratio_log;
  std::uint64_t raw_version = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string tag = std::to_string(round);
    auto run_strata = [&] {
      strata_r.sixteen.push_back(timed_rate(kWriters * kPerWriter, [&] {
        std::vector<std::thread> threads;
        for (int w = 0; w < kWriters; ++w)
          threads.emplace_back([&, w] {
            for (int i = 0; i < kPerWriter; ++i)
              if (!store.append(sid("w-" + tag + "-" + std::to_string(w)), ExpectedVersion::any(), event()).ok())
                die("append 16w");
          });
        for (auto& t : threads) t.join();
      }));
      strata_r.batch.push_back(timed_rate(kBatches * 100, [&] {
        for (int b = 0; b < kBatches; ++b) {
          std::vector<EventData> batch;
          for (int k = 0; k < 100; ++k) batch.push_back(event());
          if (!store.append(sid("b-" + tag), ExpectedVersion::any(), batch).ok()) die("append batch");
        }
      }));
      strata_r.replay.push_back(timed_rate(kReplayEvents, [&] {
        std::uint64_t n = 0;
        if (!store
                 .visit_stream(sid("replay-1"), 1, kEndOfStream,
                               [&](const EventView& e) {
                                 n += e.payload.size();
                                 return Status();
                               })
                 .ok())
          die("replay");
        g_sink += n;
      }));
      const double total = static_cast<double>(store.head_position().value());
      strata_r.log.push_back(timed_rate(total, [&] {
        Position from = 1;
        for (;;) {
          auto v = store.visit_log(from, 2000, LogFilter{}, [&](const EventView& e) {
            g_sink += e.payload.size();
            return Status();
          });
          if (!v.ok()) die("log");
          from = v->next_position;
          if (v->end_of_log) break;
        }
      }));
    };
    auto run_raw = [&] {
      Raw raw(url);
      raw_r.sixteen.push_back(timed_rate(kWriters * kPerWriter, [&] {
        std::vector<std::thread> threads;
        for (int w = 0; w < kWriters; ++w)
          threads.emplace_back([&, w] {
            Raw mine(url);
            for (int i = 0; i < kPerWriter; ++i)
              raw_insert_one(mine, "w-" + tag + "-" + std::to_string(w), static_cast<std::uint64_t>(i) + 1);
          });
        for (auto& t : threads) t.join();
      }));
      raw_r.batch.push_back(timed_rate(kBatches * 100, [&] {
        for (int b = 0; b < kBatches; ++b) {
          raw.exec("BEGIN");
          raw_insert_batch(raw, "b-" + tag, raw_version + 1, 100);
          raw.exec("COMMIT");
          raw_version += 100;
        }
      }));
      raw_r.replay.push_back(raw_replay(raw, "replay-1"));
      PGresult* count = raw.query("SELECT count(*) FROM raw_events", {});
      const std::uint64_t total = std::strtoull(PQgetvalue(count, 0, 0), nullptr, 10);
      PQclear(count);
      raw_r.log.push_back(raw_log(raw, total));
    };
    // One writer: short chunks of each side in turn, so that both see the same moments of a noisy disk.
    {
      Raw raw(url);
      double strata_s = 0, raw_s = 0;
      for (int chunk = 0; chunk < kOneWriterChunks; ++chunk) {
        auto strata_chunk = [&] {
          const auto start = Clock::now();
          for (int i = 0; i < kOneWriterAppends / kOneWriterChunks; ++i)
            if (!store
                     .append(sid("one-" + tag + "-" + std::to_string(chunk) + "-" + std::to_string(i)),
                             ExpectedVersion::no_stream(), event())
                     .ok())
              die("append");
          strata_s += seconds_since(start);
        };
        auto raw_chunk = [&] {
          const auto start = Clock::now();
          for (int i = 0; i < kOneWriterAppends / kOneWriterChunks; ++i)
            raw_insert_one(raw, "one-" + tag + "-" + std::to_string(chunk) + "-" + std::to_string(i), 1);
          raw_s += seconds_since(start);
        };
        if ((round + chunk) % 2 == 0) {
          strata_chunk();
          raw_chunk();
        } else {
          raw_chunk();
          strata_chunk();
        }
      }
      strata_r.one.push_back(kOneWriterAppends / strata_s);
      raw_r.one.push_back(kOneWriterAppends / raw_s);
    }
    if (round % 2 == 0) {
      run_strata();
      run_raw();
    } else {
      run_raw();
      run_strata();
    }
    // RocksEventStore, the same workloads, for the absolute figures side by side.
    rocks_r.one.push_back(timed_rate(kOneWriterAppends, [&] {
      for (int i = 0; i < kOneWriterAppends; ++i)
        if (!rocks.append(sid("one-" + tag + "-" + std::to_string(i)), ExpectedVersion::no_stream(), event()).ok())
          die("rocks append");
    }));
    rocks_r.sixteen.push_back(timed_rate(kWriters * kPerWriter, [&] {
      std::vector<std::thread> threads;
      for (int w = 0; w < kWriters; ++w)
        threads.emplace_back([&, w] {
          for (int i = 0; i < kPerWriter; ++i)
            if (!rocks.append(sid("w-" + tag + "-" + std::to_string(w)), ExpectedVersion::any(), event()).ok())
              die("rocks append 16w");
        });
      for (auto& t : threads) t.join();
    }));
    rocks_r.batch.push_back(timed_rate(kBatches * 100, [&] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<EventData> batch;
        for (int k = 0; k < 100; ++k) batch.push_back(event());
        if (!rocks.append(sid("b-" + tag), ExpectedVersion::any(), batch).ok()) die("rocks batch");
      }
    }));
    rocks_r.replay.push_back(timed_rate(kReplayEvents, [&] {
      std::uint64_t n = 0;
      if (!rocks
               .visit_stream(sid("replay-1"), 1, kEndOfStream,
                             [&](const EventView& e) {
                               n += e.payload.size();
                               return Status();
                             })
               .ok())
        die("rocks replay");
      g_sink += n;
    }));
    const std::size_t i = strata_r.one.size() - 1;
    ratio1.push_back(strata_r.one[i] / raw_r.one[i]);
    ratio16.push_back(strata_r.sixteen[i] / raw_r.sixteen[i]);
    ratio_batch.push_back(strata_r.batch[i] / raw_r.batch[i]);
    ratio_replay.push_back(strata_r.replay[i] / raw_r.replay[i]);
    ratio_log.push_back(strata_r.log[i] / raw_r.log[i]);
    std::printf(
        "round %d (events/s)  1w: pg %.0f raw %.0f rocks %.0f | 16w: pg %.0f raw %.0f rocks %.0f | b100: pg %.0f raw "
        "%.0f rocks %.0f | replay: pg %.0f raw %.0f rocks %.0f | log: pg %.0f raw %.0f\n",
        round, strata_r.one[i], raw_r.one[i], rocks_r.one[i], strata_r.sixteen[i], raw_r.sixteen[i], rocks_r.sixteen[i],
        strata_r.batch[i], raw_r.batch[i], rocks_r.batch[i], strata_r.replay[i], raw_r.replay[i], rocks_r.replay[i],
        strata_r.log[i], raw_r.log[i]);
    std::fflush(stdout);
  }
  opened->reset();
  (void)PgEventStore::drop_schema(url, schema);
  admin.exec("DROP TABLE IF EXISTS raw_events");

  using bench::median;
  using bench::print_summary;
  print_summary("pg_append_16w_vs_raw_sql", median(ratio16), "ratio");
  print_summary("pg_replay_vs_raw_sql", median(ratio_replay), "ratio");
  print_summary("pg_append_1w_vs_raw_sql", median(ratio1), "ratio");
  print_summary("pg_batch100_vs_raw_sql", median(ratio_batch), "ratio");
  print_summary("pg_catchup_vs_raw_sql", median(ratio_log), "ratio");
  print_summary("pg_append_1w", median(strata_r.one), "events/s");
  print_summary("pg_append_16w", median(strata_r.sixteen), "events/s");
  print_summary("pg_append_batch100", median(strata_r.batch), "events/s");
  print_summary("pg_replay", median(strata_r.replay), "events/s");
  print_summary("pg_catchup", median(strata_r.log), "events/s");
  print_summary("raw_sql_append_1w", median(raw_r.one), "events/s");
  print_summary("raw_sql_append_16w", median(raw_r.sixteen), "events/s");
  print_summary("raw_sql_append_batch100", median(raw_r.batch), "events/s");
  print_summary("raw_sql_replay", median(raw_r.replay), "events/s");
  print_summary("rocks_append_1w", median(rocks_r.one), "events/s");
  print_summary("rocks_append_16w", median(rocks_r.sixteen), "events/s");
  print_summary("rocks_append_batch100", median(rocks_r.batch), "events/s");
  print_summary("rocks_replay", median(rocks_r.replay), "events/s");
  return g_sink.load() == 42 ? 1 : 0;
}
