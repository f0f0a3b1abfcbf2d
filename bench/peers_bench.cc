// strata next to what a user would otherwise pick, in one run on one machine: PostgreSQL as an event
// store in the message-db style, and NATS JetStream as a log, doing the same workloads with the same
// ~200-byte payloads. Run by bench/peers.sh (bench/run.sh --peers), which starts the servers.
//
// PostgreSQL (STRATA_PG_URL): a `messages` table with a global bigserial position, unique
// (stream_name, position) and unique id, written through a `write_message` function that takes the
// stream's advisory lock and checks the expected version, as message-db does; durable (fsync,
// synchronous_commit on):
//   1 writer / 16 writers   one message per transaction, 1 and 16 connections
//   100 per transaction     one transaction calling write_message for 100 messages
//   read a stream           one 100k-message stream read in pages of 1,000 (message-db's default)
// JetStream (STRATA_NATS_R1 and STRATA_NATS_R3: a 1-node and a 3-node cluster), file storage:
//   sync publish            one message at a time, each with a message id, waiting for its ack
//   async publish           20,000 messages with ids, acks awaited at the end
//   read back               the stream read in order by an ordered consumer
// strata (RocksEventStore, durable) through its public API: the same appends, a 100k-event stream
// replayed, the log read back.
//
// Each workload runs in several rounds, the sides alternating; the figures are medians. The summary
// lines vs_pg_* and vs_js_* are strata's rate ÷ the peer's.
#include <libpq-fe.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_summary.h"
#include "pg_client.h"
#include "strata/eventstore/rocks_event_store.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 3;
constexpr int kOneWriter = 400;
constexpr int kWriters = 16;
constexpr int kPerWriter = 100;
constexpr int kBatches = 30;
constexpr int kStreamEvents = 100'000;
constexpr int kSyncPublishes = 400;
constexpr int kAsyncPublishes = 20'000;

const std::string kPayload =
    R"({"amount":1250,"currency":"EUR","account":"acct-000042","reference":"invoice 2026-11-0042",)"
    R"("note":"a payload of about two hundred bytes, as the other benchmarks use","channel":"web","ok":true})";

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "strata_peers_bench: %s\n", why.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class F>
double rate(double n, F&& f) {
  const auto start = Clock::now();
  f();
  return n / seconds_since(start);
}

StreamId sid(const std::string& s) { return StreamId::parse(s).value(); }
EventData event() { return EventData{EventId::generate(), "bench.deposited.v1", kPayload, {}}; }

std::atomic<std::uint64_t> g_sink{0};

// --- PostgreSQL, message-db style --------------------------------------------------------------------

using Pg = bench::PgClient;

const char* kSchema = R"(
DROP SCHEMA IF EXISTS peers CASCADE;
CREATE SCHEMA peers;
CREATE TABLE peers.messages (
  global_position bigserial PRIMARY KEY,
  position bigint NOT NULL,
  time timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  stream_name text NOT NULL,
  type text NOT NULL,
  data jsonb,
  metadata jsonb,
  id uuid NOT NULL UNIQUE);
CREATE UNIQUE INDEX messages_stream ON peers.messages (stream_name, position);
CREATE FUNCTION peers.write_message(_id uuid, _stream_name text, _type text, _data jsonb, _metadata jsonb,
                                    _expected_version bigint DEFAULT NULL) RETURNS bigint AS $$
DECLARE
  _version bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(_stream_name, 0));
  SELECT max(position) INTO _version FROM peers.messages WHERE stream_name = _stream_name;
  IF _version IS NULL THEN _version := -1; END IF;
  IF _expected_version IS NOT NULL AND _expected_version <> _version THEN
    RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)', _expected_version, _stream_name,
      _version;
  END IF;
  INSERT INTO peers.messages (id, stream_name, position, type, data, metadata)
    VALUES (_id, _stream_name, _version + 1, _type, _data, _metadata);
  RETURN _version + 1;
END;
$$ LANGUAGE plpgsql;
)";

const char* kWrite = "SELECT peers.write_message($1::uuid, $2, 'bench.deposited.v1', $3::jsonb, NULL)";

void pg_write(Pg& pg, const std::string& stream) {
  PQclear(pg.query(kWrite, {EventId::generate().to_string(), stream, kPayload}));
}

// 100 messages in one transaction, one statement: write_message called per row, in order.
void pg_write_100(Pg& pg, const std::string& stream) {
  std::string ids = "{";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) ids += ',';
    ids += EventId::generate().to_string();
  }
  ids += "}";
  PQclear(
      pg.query("SELECT peers.write_message(i, $2, 'bench.deposited.v1', $3::jsonb, NULL) FROM "
               "unnest($1::uuid[]) WITH ORDINALITY AS u(i, n) ORDER BY n",
               {ids, stream, kPayload}));
}

double pg_read_stream(Pg& pg, const std::string& stream) {
  const auto start = Clock::now();
  long from = 0, seen = 0;
  for (;;) {
    PGresult* r = pg.query(
        "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM peers.messages "
        "WHERE stream_name = $1 AND position >= $2 ORDER BY position LIMIT 1000",
        {stream, std::to_string(from)});
    const int n = PQntuples(r);
    for (int i = 0; i < n; ++i) g_sink += static_cast<std::uint64_t>(PQgetlength(r, i, 5));
    if (n > 0) from = std::strtol(PQgetvalue(r, n - 1, 3), nullptr, 10) + 1;
    PQclear(r);
    seen += n;
    if (n < 1000) break;
  }
  if (seen != kStreamEvents) die("pg read " + std::to_string(seen) + " messages");
  return seen / seconds_since(start);
}

// --- JetStream ---------------------------------------------------------------------------------------

class Js {
 public:
  Js(const std::string& urls, const std::string& stream, int replicas) : stream_(stream) {
    natsOptions_Create(&opts_);
    std::stringstream ss(urls);
    for (std::string u; std::getline(ss, u, ',');) servers_.push_back(u);
    std::vector<const char*> raw;
    for (const auto& s : servers_) raw.push_back(s.c_str());
    natsOptions_SetServers(opts_, raw.data(), static_cast<int>(raw.size()));
    if (natsConnection_Connect(&nc_, opts_) != NATS_OK) die("nats: cannot connect to " + urls);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4'096;
    if (natsConnection_JetStream(&js_, nc_, &jo) != NATS_OK) die("nats: no JetStream context");
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream_.c_str();
    subject_ = stream_ + ".>";
    const char* subjects[] = {subject_.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    (void)js_DeleteStream(js_, stream_.c_str(), nullptr, &jerr);
    jsStreamInfo* si = nullptr;
    if (js_AddStream(&si, js_, &cfg, nullptr, &jerr) != NATS_OK) die("nats: cannot add stream " + stream_);
    jsStreamInfo_Destroy(si);
  }
  ~Js() {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    (void)js_DeleteStream(js_, stream_.c_str(), nullptr, &jerr);
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
    natsOptions_Destroy(opts_);
  }
  Js(const Js&) = delete;
  Js& operator=(const Js&) = delete;

  natsMsg* message(int i) {
    natsMsg* m = nullptr;
    const std::string subject = stream_ + ".acct-" + std::to_string(i % 1000);
    natsMsg_Create(&m, subject.c_str(), nullptr, kPayload.data(), static_cast<int>(kPayload.size()));
    natsMsgHeader_Set(m, "Nats-Msg-Id", EventId::generate().to_string().c_str());
    return m;
  }
  double sync_publish(int n) {
    return rate(n, [&] {
      for (int i = 0; i < n; ++i) {
        natsMsg* m = message(i);
        jsPubAck* ack = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        if (js_PublishMsg(&ack, js_, m, nullptr, &jerr) != NATS_OK) die("nats: sync publish failed");
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(m);
      }
    });
  }
  double async_publish(int n) {
    return rate(n, [&] {
      for (int i = 0; i < n; ++i) {
        natsMsg* m = message(i);
        if (js_PublishMsgAsync(js_, &m, nullptr) != NATS_OK) {
          natsMsg_Destroy(m);
          die("nats: async publish failed");
        }
      }
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 120'000;
      if (js_PublishAsyncComplete(js_, &po) != NATS_OK) die("nats: async publishes not acknowledged");
    });
  }
  // Everything in the stream, in order, through an ordered consumer.
  double read_back(std::uint64_t expected) {
    return rate(static_cast<double>(expected), [&] {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Ordered = true;
      so.Stream = stream_.c_str();
      natsSubscription* sub = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      if (js_SubscribeSync(&sub, js_, subject_.c_str(), nullptr, &so, &jerr) != NATS_OK) die("nats: cannot subscribe");
      for (std::uint64_t i = 0; i < expected; ++i) {
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, sub, 10'000) != NATS_OK) die("nats: read back stalled");
        g_sink += static_cast<std::uint64_t>(natsMsg_GetDataLength(m));
        natsMsg_Destroy(m);
      }
      natsSubscription_Destroy(sub);
    });
  }

 private:
  std::string stream_, subject_;
  std::vector<std::string> servers_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

// --- strata --------------------------------------------------------------------------------------------

double strata_one(RocksEventStore& store, const std::string& tag) {
  return rate(kOneWriter, [&] {
    for (int i = 0; i < kOneWriter; ++i)
      if (!store.append(sid("one-" + tag + "-" + std::to_string(i)), ExpectedVersion::any(), event()).ok())
        die("strata append");
  });
}

double strata_sixteen(RocksEventStore& store, const std::string& tag, int per_writer) {
  return rate(kWriters * per_writer, [&] {
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w)
      threads.emplace_back([&, w] {
        for (int i = 0; i < per_writer; ++i)
          if (!store.append(sid("w-" + tag + "-" + std::to_string(w)), ExpectedVersion::any(), event()).ok())
            die("strata append 16w");
      });
    for (auto& t : threads) t.join();
  });
}

double strata_batch(RocksEventStore& store, const std::string& tag) {
  return rate(kBatches * 100, [&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<EventData> batch;
      for (int k = 0; k < 100; ++k) batch.push_back(event());
      if (!store.append(sid("b-" + tag), ExpectedVersion::any(), batch).ok()) die("strata batch");
    }
  });
}

double strata_read_stream(RocksEventStore& store) {
  return rate(kStreamEvents, [&] {
    Version from = 1;
    for (;;) {
      auto slice = store.read_stream(sid("read-1"), ReadDirection::kForward, from, 1000);
      if (!slice.ok()) die("strata read");
      for (const auto& e : slice->events) g_sink += e.payload.size();
      from = slice->next_version;
      if (slice->end_of_stream) break;
    }
  });
}

double strata_read_log(RocksEventStore& store, std::uint64_t& events) {
  const auto start = Clock::now();
  events = 0;
  Position from = 1;
  for (;;) {
    auto v = store.visit_log(from, 10'000, LogFilter{}, [&](const EventView& e) {
      g_sink += e.payload.size();
      ++events;
      return Status();
    });
    if (!v.ok()) die("strata log");
    from = v->next_position;
    if (v->end_of_log) break;
  }
  return static_cast<double>(events) / seconds_since(start);
}

struct Figures {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  double median() const { return bench::median(v); }
};

}  // namespace

int main() {
  const char* pg_url = std::getenv("STRATA_PG_URL");
  const char* r1 = std::getenv("STRATA_NATS_R1");
  const char* r3 = std::getenv("STRATA_NATS_R3");
  if (pg_url == nullptr || r1 == nullptr || r3 == nullptr)
    die("STRATA_PG_URL, STRATA_NATS_R1 and STRATA_NATS_R3 must be set: run bench/peers.sh");

  bench::TempDir dir("strata-peers");
  auto opened = RocksEventStore::open(RocksEventStore::Options{}, dir.sub("store"));
  if (!opened.ok()) die(opened.status().to_string());
  RocksEventStore& store = **opened;

  Pg admin(pg_url);
  admin.exec(kSchema);
  // The streams to read: 100k events on each side.
  for (int i = 0; i < kStreamEvents / 1000; ++i) {
    std::vector<EventData> batch;
    for (int k = 0; k < 1000; ++k) batch.push_back(event());
    if (!store.append(sid("read-1"), ExpectedVersion::any(), batch).ok()) die("fill");
  }
  admin.exec("BEGIN");
  for (int i = 0; i < kStreamEvents / 100; ++i) pg_write_100(admin, "read-1");
  admin.exec("COMMIT");
  // Statistics, as autovacuum would have them on a table in use: without them the planner reads a
  // stream's page (and write_message's max(position)) by scanning and sorting.
  admin.exec("ANALYZE peers.messages");

  Figures s1, s16, sb, sread, slog, p1, p16, pb, pread;
  for (int round = 0; round < kRounds; ++round) {
    const std::string tag = std::to_string(round);
    auto strata_side = [&] {
      s1.add(strata_one(store, tag));
      s16.add(strata_sixteen(store, tag, kPerWriter));
      sb.add(strata_batch(store, tag));
      sread.add(strata_read_stream(store));
    };
    auto pg_side = [&] {
      Pg pg(pg_url);
      p1.add(rate(kOneWriter, [&] {
        for (int i = 0; i < kOneWriter; ++i) pg_write(pg, "one-" + tag + "-" + std::to_string(i));
      }));
      p16.add(rate(kWriters * kPerWriter, [&] {
        std::vector<std::thread> threads;
        for (int w = 0; w < kWriters; ++w)
          threads.emplace_back([&, w] {
            Pg mine(pg_url);
            for (int i = 0; i < kPerWriter; ++i) pg_write(mine, "w-" + tag + "-" + std::to_string(w));
          });
        for (auto& t : threads) t.join();
      }));
      pb.add(rate(kBatches * 100, [&] {
        for (int b = 0; b < kBatches; ++b) pg_write_100(pg, "b-" + tag);
      }));
      pread.add(pg_read_stream(pg, "read-1"));
    };
    if (round % 2 == 0) {
      strata_side();
      pg_side();
    } else {
      pg_side();
      strata_side();
    }
    std::printf(
        "round %d (events/s): 1w strata %.0f pg %.0f | 16w strata %.0f pg %.0f | b100 strata %.0f pg %.0f | "
        "read stream strata %.0f pg %.0f\n",
        round, s1.v.back(), p1.v.back(), s16.v.back(), p16.v.back(), sb.v.back(), pb.v.back(), sread.v.back(),
        pread.v.back());
    std::fflush(stdout);
  }
  admin.exec("DROP SCHEMA IF EXISTS peers CASCADE");

  // JetStream: each cluster in turn, strata's nearest workload beside it in the same round.
  Figures js_sync[2], js_async[2], js_read[2], s_sync[2], s_async[2];
  for (int round = 0; round < kRounds; ++round) {
    for (int c = 0; c < 2; ++c) {
      const std::string tag = "js" + std::to_string(round) + std::to_string(c);
      Js js(c == 0 ? r1 : r3, "PEERS" + std::to_string(c), c == 0 ? 1 : 3);
      js_sync[c].add(js.sync_publish(kSyncPublishes));
      s_sync[c].add(strata_one(store, tag));
      js_async[c].add(js.async_publish(kAsyncPublishes));
      // Async publishing keeps up to thousands of messages in flight; strata's nearest is many writers.
      s_async[c].add(strata_sixteen(store, tag, kAsyncPublishes / kWriters / 10));
      js_read[c].add(js.read_back(kSyncPublishes + kAsyncPublishes));
      std::printf("round %d R%d (messages/s): sync %.0f (strata 1w %.0f) | async %.0f (strata 16w %.0f) | read %.0f\n",
                  round, c == 0 ? 1 : 3, js_sync[c].v.back(), s_sync[c].v.back(), js_async[c].v.back(),
                  s_async[c].v.back(), js_read[c].v.back());
      std::fflush(stdout);
    }
  }
  std::uint64_t log_events = 0;
  for (int i = 0; i < kRounds; ++i) slog.add(strata_read_log(store, log_events));

  std::printf("\n%-34s %14s %14s %14s %14s %14s\n", "events (messages) per second", "strata", "PostgreSQL",
              "JetStream R1", "JetStream R3", "strata ÷ pg");
  auto row = [](const char* what, double s, double p, double j1, double j3) {
    auto cell = [](double x) { return std::isnan(x) ? std::string("-") : std::to_string(static_cast<long>(x)); };
    std::printf("%-34s %14s %14s %14s %14s %14s\n", what, cell(s).c_str(), cell(p).c_str(), cell(j1).c_str(),
                cell(j3).c_str(), std::isnan(p) ? "-" : std::to_string(s / p).substr(0, 4).c_str());
  };
  const double nan = std::nan("");
  row("durable, 1 writer / sync publish", s1.median(), p1.median(), js_sync[0].median(), js_sync[1].median());
  row("durable, 16 writers / async", s16.median(), p16.median(), js_async[0].median(), js_async[1].median());
  row("100 per append (transaction)", sb.median(), pb.median(), nan, nan);
  row("read one 100k stream / read back", sread.median(), pread.median(), js_read[0].median(), js_read[1].median());
  row("read the whole log (strata)", slog.median(), nan, nan, nan);
  std::printf("\n");

  using bench::print_summary;
  print_summary("vs_pg_durable_1w", bench::median({s1.v[0] / p1.v[0], s1.v[1] / p1.v[1], s1.v[2] / p1.v[2]}), "ratio");
  print_summary("vs_pg_durable_16w", bench::median({s16.v[0] / p16.v[0], s16.v[1] / p16.v[1], s16.v[2] / p16.v[2]}),
                "ratio");
  print_summary("vs_pg_batch100", bench::median({sb.v[0] / pb.v[0], sb.v[1] / pb.v[1], sb.v[2] / pb.v[2]}), "ratio");
  print_summary("vs_pg_read_stream",
                bench::median({sread.v[0] / pread.v[0], sread.v[1] / pread.v[1], sread.v[2] / pread.v[2]}), "ratio");
  for (int c = 0; c < 2; ++c) {
    const std::string r = c == 0 ? "r1" : "r3";
    std::vector<double> sync, async;
    for (int i = 0; i < kRounds; ++i) {
      sync.push_back(s_sync[c].v[i] / js_sync[c].v[i]);
      async.push_back(s_async[c].v[i] / js_async[c].v[i]);
    }
    print_summary("vs_js_" + r + "_sync", bench::median(sync), "ratio");
    print_summary("vs_js_" + r + "_async", bench::median(async), "ratio");
  }
  print_summary("peers_strata_durable_1w", s1.median(), "events/s");
  print_summary("peers_strata_durable_16w", s16.median(), "events/s");
  print_summary("peers_strata_batch100", sb.median(), "events/s");
  print_summary("peers_strata_read_stream", sread.median(), "events/s");
  print_summary("peers_pg_durable_1w", p1.median(), "events/s");
  print_summary("peers_pg_durable_16w", p16.median(), "events/s");
  print_summary("peers_pg_batch100", pb.median(), "events/s");
  print_summary("peers_pg_read_stream", pread.median(), "events/s");
  print_summary("peers_js_r1_sync", js_sync[0].median(), "msgs/s");
  print_summary("peers_js_r3_sync", js_sync[1].median(), "msgs/s");
  print_summary("peers_js_r1_async", js_async[0].median(), "msgs/s");
  print_summary("peers_js_r3_async", js_async[1].median(), "msgs/s");
  print_summary("peers_js_r3_read", js_read[1].median(), "msgs/s");
  return g_sink.load() == 42 ? 1 : 0;
}
