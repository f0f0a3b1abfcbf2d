// Messaging across services, over the 3-node NATS JetStream cluster (R3) that bench/run.sh starts
// ($STRATA_NATS_URLS; skipped without it):
//
//   relay_vs_raw_publish   a Relay publishing 20,000 stored events (1,000 streams, ~200-byte payloads)
//                          from its checkpoint ÷ nats.c publishing the same messages (same bytes, same
//                          headers, message ids) asynchronously itself; medians of interleaved rounds
//   e2e_p50_ms, e2e_p99_ms from an append acknowledged in one service to its effect committed by an
//                          Inbox in another, at 5,000 events/s (8 writers) over R3 (both stores durable)
//   broker_e2e_p50_ms, broker_e2e_p99_ms  the floor under e2e on this machine: nats.c publishing
//                          5,000 messages/s to the same R3 cluster and a pull consumer acknowledging
//                          them, no store on either side (before and after the e2e run, pooled)
//   e2e_1k_p50_ms, e2e_1k_p99_ms, broker_e2e_1k_p99_ms  the same at 1,000 events/s
//   e2e_in_process_p99_ms  e2e at 5,000 events/s with the in-process transport in place of the broker
//   inbox_events_per_s     an Inbox working through a backlog of 20,000 messages into a durable store
//   inbox_in_process_events_per_s  the same over the in-process transport: the Inbox's own ceiling
//
// It is not a Google Benchmark binary: each figure is one timed run of a pipeline; arguments are ignored.
#include <fmt/format.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_summary.h"
#include "strata/core/aggregate.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/jetstream_transport.h"
#include "strata/messaging/relay.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kEvents = 20'000;
constexpr int kStreams = 1'000;
constexpr int kRounds = 3;

struct Deposited {
  static constexpr std::string_view kType = "bench.deposited.v1";
  std::int64_t cents = 0;
  std::string memo;
  static constexpr auto kFields = fields(field("cents", &Deposited::cents), field("memo", &Deposited::memo));
};
struct Credited {
  static constexpr std::string_view kType = "bench.credited.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("cents", &Credited::cents));
};
class Ledger : public Aggregate<Ledger, Events<Credited>> {
 public:
  void credit(std::int64_t cents) { record(Credited{cents}); }

 private:
  friend Aggregate;
  void apply(const Credited&) {}
};

std::vector<std::string> servers_from_environment() {
  std::vector<std::string> out;
  const char* urls = std::getenv("STRATA_NATS_URLS");
  if (urls == nullptr) return out;
  std::stringstream in(urls);
  for (std::string s; std::getline(in, s, ',');) out.push_back(s);
  return out;
}

JetStreamOptions js_options(const std::vector<std::string>& servers, const std::string& name) {
  JetStreamOptions o;
  o.servers = servers;
  o.stream = name;
  o.subjects = {name + ".>"};
  o.replicas = 3;
  o.max_pending = 8'192;
  return o;
}

RocksEventStore::Options store_options(bool sync) {
  RocksEventStore::Options o;
  o.sync = sync;
  o.block_cache_bytes = std::size_t{64} << 20;
  return o;
}

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

void fill(EventStore& store, int n) {
  const std::string memo(160, 'm');
  for (int i = 0; i < n; ++i)
    (void)store
        .append(sid("account-" + std::to_string(i % kStreams)), ExpectedVersion::any(),
                to_event_data(Deposited{i, memo}))
        .value();
}

// nats.c by itself: the same messages the relay would publish, async, with ids; events per second.
double raw_publish(EventStore& store, const std::vector<std::string>& servers, const std::string& stream) {
  std::vector<OutgoingMessage> messages;
  (void)store
      .visit_log(
          1, kEvents, {},
          [&](const EventView& e) {
            messages.push_back(message_from_event(e, "bench", stream + ".bank." + std::string(e.stream_id)).value());
            return Status();
          })
      .value();
  {
    auto setup = JetStreamTransport::connect(js_options(servers, stream)).value();
    (void)setup->ensure_stream();
  }
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::vector<const char*> urls;
  for (const auto& s : servers) urls.push_back(s.c_str());
  natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  natsConnection* nc = nullptr;
  if (natsConnection_Connect(&nc, opts) != NATS_OK) throw std::runtime_error("raw: cannot connect");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 8'192;
  jsCtx* js = nullptr;
  natsConnection_JetStream(&js, nc, &jo);
  const auto started = Clock::now();
  for (const OutgoingMessage& m : messages) {
    natsMsg* msg = nullptr;
    natsMsg_Create(&msg, m.subject.c_str(), nullptr, m.payload.data(), static_cast<int>(m.payload.size()));
    natsMsgHeader_Set(msg, "Nats-Msg-Id", m.id.c_str());
    for (const auto& [k, v] : m.headers.all()) natsMsgHeader_Set(msg, k.c_str(), v.c_str());
    if (js_PublishMsgAsync(js, &msg, nullptr) != NATS_OK) natsMsg_Destroy(msg);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60'000;
  const natsStatus done = js_PublishAsyncComplete(js, &po);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  if (done != NATS_OK) throw std::runtime_error("raw: publishes not acknowledged");
  return kEvents / seconds;
}

void drop(const std::vector<std::string>& servers, const std::string& stream) {
  auto t = JetStreamTransport::connect(js_options(servers, stream)).value();
  (void)t->delete_stream();
}

// The broker by itself: nats.c publishing `rate` messages/s (the size of the relay's) to an R3 stream
// and a durable pull consumer of the same cluster acknowledging each; the latencies in ms from the
// publish call to the message in the consumer's hands. The floor under e2e_p99_ms on this machine.
std::vector<double> raw_e2e(const std::vector<std::string>& servers, const std::string& stream, int rate, int seconds) {
  {
    auto setup = JetStreamTransport::connect(js_options(servers, stream)).value();
    (void)setup->ensure_stream();
  }
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::vector<const char*> urls;
  for (const auto& s : servers) urls.push_back(s.c_str());
  natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  natsConnection* nc = nullptr;
  if (natsConnection_Connect(&nc, opts) != NATS_OK) throw std::runtime_error("raw e2e: cannot connect");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 8'192;
  jsCtx* js = nullptr;
  natsConnection_JetStream(&js, nc, &jo);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.MaxAckPending = 4'096;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const int total = rate * seconds;
  std::vector<double> latencies;
  if (js_PullSubscribe(&sub, js, (stream + ".>").c_str(), "raw-e2e", &jo, &so, &jerr) != NATS_OK)
    throw std::runtime_error("raw e2e: cannot subscribe");
  std::thread consumer([&] {
    while (static_cast<int>(latencies.size()) < total) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, sub, 1, 200, &jerr) != NATS_OK) continue;
      auto take = [&] {
        const auto now = Clock::now();
        for (int i = 0; i < list.Count; ++i) {
          std::int64_t sent = 0;
          std::memcpy(&sent, natsMsg_GetData(list.Msgs[i]), sizeof sent);
          latencies.push_back(std::chrono::duration<double, std::milli>(now.time_since_epoch()).count() -
                              static_cast<double>(sent) / 1'000);
          (void)natsMsg_Ack(list.Msgs[i], nullptr);
        }
        natsMsgList_Destroy(&list);
      };
      take();
      jsFetchRequest more;
      jsFetchRequest_Init(&more);
      more.Batch = 255;
      more.NoWait = true;
      more.Expires = 500'000'000;
      if (natsSubscription_FetchRequest(&list, sub, &more) == NATS_OK) take();
    }
  });
  const std::string body(560, 'b');  // about a relayed message: payload and headers
  const auto began = Clock::now();
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_until(began + std::chrono::microseconds(i * 1'000'000LL / rate));
    std::string data = body;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
    std::memcpy(data.data(), &now, sizeof now);
    natsMsg* msg = nullptr;
    natsMsg_Create(&msg, (stream + ".s." + std::to_string(i % kStreams)).c_str(), nullptr, data.data(),
                   static_cast<int>(data.size()));
    natsMsgHeader_Set(msg, "Nats-Msg-Id", std::to_string(i).c_str());
    if (js_PublishMsgAsync(js, &msg, nullptr) != NATS_OK) natsMsg_Destroy(msg);
  }
  consumer.join();
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  drop(servers, stream);
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

// The relay publishing the whole log from a fresh checkpoint; events per second.
double relay_publish(RocksEventStore& store, const std::vector<std::string>& servers, const std::string& stream) {
  auto transport = JetStreamTransport::connect(js_options(servers, stream)).value();
  (void)transport->ensure_stream();
  RelayOptions ro;
  ro.name = "bench.relay." + stream;
  ro.source = "bench";
  ro.subject_prefix = stream + ".bank";
  Relay relay(store, store.projection_storage(), *transport, ro);
  const auto started = Clock::now();
  (void)relay.start();
  if (!relay.wait_for(kEvents, std::chrono::minutes(2)).ok()) throw std::runtime_error("relay did not finish");
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  (void)relay.stop();
  return kEvents / seconds;
}

struct Receiver {
  std::unique_ptr<RocksEventStore> store;
  std::unique_ptr<Repository<Ledger>> ledgers;
  std::unique_ptr<Inbox> inbox;
};

Receiver receiver(const std::string& dir, Transport& transport, const std::string& stream,
                  std::function<void(const IncomingMessage&)> after_commit) {
  Receiver r;
  r.store = RocksEventStore::open(store_options(true), dir).value();
  r.ledgers = std::make_unique<Repository<Ledger>>(*r.store);
  InboxOptions o;
  o.name = "bench-inbox";
  o.consumer.filter = stream + ".bank.>";
  o.consumer.max_ack_pending = 4'096;
  o.concurrency = 32;  // its workers mostly wait for fsyncs, which more of them share
  r.inbox = std::make_unique<Inbox>(*r.store, r.store->projection_storage(), transport, o);
  auto* ledgers = r.ledgers.get();
  // Each deposit credits the ledger of its account: the aggregate is loaded and saved, as a service
  // would (a ledger holds at most a few dozen events here).
  r.inbox->on<Deposited>([ledgers, after_commit](const Deposited& d, InboxContext& ctx) -> Status {
    const std::string account(ctx.message().headers.get(headers::kStream));
    STRATA_ASSIGN_OR_RETURN(Ledger l, ledgers->load_or_create(sid("ledger-" + account)));
    l.credit(d.cents);
    STRATA_RETURN_IF_ERROR(ctx.save(*ledgers, l).status());
    if (after_commit) after_commit(ctx.message());
    return {};
  });
  return r;
}

// From an append acknowledged in one service to its effect committed by an Inbox in another, at `rate`
// events/s from 8 writers (the concurrent requests of a service, whose appends share fsyncs) for
// `seconds`, over R3 (over the in-process transport when `servers` is empty), both stores durable; the
// latencies in ms, sorted.
std::vector<double> e2e(const std::vector<std::string>& servers, const std::string& dir, const std::string& stream,
                        int rate, int seconds) {
  std::vector<double> latencies_ms;
  {
    std::unique_ptr<Transport> transport;
    if (servers.empty()) {
      transport = std::make_unique<InProcessTransport>();
    } else {
      auto js = JetStreamTransport::connect(js_options(servers, stream)).value();
      (void)js->ensure_stream();
      transport = std::move(js);
    }
    auto producer = RocksEventStore::open(store_options(true), dir + "/producer").value();
    std::mutex mu;
    std::map<std::string, Clock::time_point> acked;  // event id -> when its append returned
    std::vector<double> to_broker_ms, from_broker_ms;
    Receiver r = receiver(dir + "/consumer", *transport, stream, [&](const IncomingMessage& m) {
      const auto now = Clock::now();
      // Where the time goes: commit (the event's timestamp) -> stored by the broker -> effect.
      const auto wall =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      const double committed_us = std::strtod(std::string(m.headers.get(headers::kTimestamp)).c_str(), nullptr);
      const double stored_us = static_cast<double>(m.published_at.time_since_epoch().count());
      std::lock_guard lock(mu);
      to_broker_ms.push_back((stored_us - committed_us) / 1'000);
      from_broker_ms.push_back((static_cast<double>(wall) - stored_us) / 1'000);
      auto it = acked.find(m.id);
      if (it != acked.end())
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
    });
    RelayOptions ro;
    ro.name = "bench.relay." + stream;
    ro.source = "bench";
    ro.subject_prefix = stream + ".bank";
    Relay relay(*producer, producer->projection_storage(), *transport, ro);
    (void)relay.start();
    (void)r.inbox->start();
    // One event through first, so that the consumer exists and the connections are warm.
    (void)producer->append(sid("warm-up"), ExpectedVersion::any(), to_event_data(Deposited{-1, "warm-up"})).value();
    const auto warm_deadline = Clock::now() + std::chrono::seconds(30);
    while (r.store->head_position() < Position(1) && Clock::now() < warm_deadline)
      std::this_thread::sleep_for(milliseconds(2));
    constexpr int kWriters = 8;
    const std::string memo(160, 'm');
    const auto began = Clock::now();
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = w; i < rate * seconds; i += kWriters) {
          std::this_thread::sleep_until(began + std::chrono::microseconds(i * 1'000'000LL / rate));
          EventData e = to_event_data(Deposited{i, memo});
          const std::string id = e.id.to_string();
          (void)producer->append(sid("account-" + std::to_string(i % kStreams)), ExpectedVersion::any(), e).value();
          const auto now = Clock::now();
          std::lock_guard lock(mu);
          acked[id] = now;
        }
      });
    }
    for (auto& w : writers) w.join();
    (void)relay.wait_for(producer->head_position(), std::chrono::minutes(1));
    (void)r.inbox->wait_idle(milliseconds(300), std::chrono::minutes(1));
    (void)r.inbox->stop();
    (void)relay.stop();
    if (!servers.empty()) (void)static_cast<JetStreamTransport&>(*transport).delete_stream();
    std::sort(to_broker_ms.begin(), to_broker_ms.end());
    std::sort(from_broker_ms.begin(), from_broker_ms.end());
    if (!to_broker_ms.empty())
      std::printf(
          "e2e at %d/s, stages: commit -> stored by the broker p50 %.2f ms p99 %.2f ms; stored -> effect p50 %.2f ms "
          "p99 %.2f ms\n",
          rate, to_broker_ms[to_broker_ms.size() / 2], to_broker_ms[to_broker_ms.size() * 99 / 100],
          from_broker_ms[from_broker_ms.size() / 2], from_broker_ms[from_broker_ms.size() * 99 / 100]);
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  return latencies_ms;
}

double percentile_of(const std::vector<double>& sorted, double p) {
  return sorted.empty() ? std::nan("") : sorted[static_cast<std::size_t>(p * (sorted.size() - 1))];
}

}  // namespace

int main() {
  const auto servers = servers_from_environment();
  if (servers.empty()) {
    std::puts("bench_messaging: STRATA_NATS_URLS is not set (bench/run.sh starts a cluster): skipped");
    return 0;
  }
  strata::bench::TempDir dir;

  // inbox_in_process_events_per_s: the Inbox's own ceiling, its messages from the in-process transport.
  double in_process_rate = 0;
  {
    InProcessTransport t;
    auto src = RocksEventStore::open(store_options(false), dir.path() + "/in-process-source").value();
    fill(*src, kEvents);
    (void)src->visit_log(1, kEvents, {}, [&](const EventView& e) {
      t.publish(message_from_event(e, "bench", "BIP.bank." + std::string(e.stream_id)).value(), [](auto) {});
      return Status();
    });
    Receiver r = receiver(dir.path() + "/in-process-inbox", t, "BIP", nullptr);
    const auto started = Clock::now();
    (void)r.inbox->start();
    while (r.store->head_position() < static_cast<Position>(kEvents)) std::this_thread::sleep_for(milliseconds(5));
    in_process_rate = kEvents / std::chrono::duration<double>(Clock::now() - started).count();
    (void)r.inbox->stop();
    std::printf("inbox over the in-process transport: %.0f events/s into a durable store\n", in_process_rate);
  }

  // relay_vs_raw_publish
  auto source = RocksEventStore::open(store_options(false), dir.path() + "/source").value();
  fill(*source, kEvents);
  std::vector<double> ratios, relay_rates, raw_rates;
  for (int round = 0; round < kRounds; ++round) {
    const std::string raw_stream = fmt::format("BRAW{}", round), relay_stream = fmt::format("BREL{}", round);
    const double raw = raw_publish(*source, servers, raw_stream);
    const double relay = relay_publish(*source, servers, relay_stream);
    drop(servers, raw_stream);
    drop(servers, relay_stream);
    std::printf("round %d: relay %.0f events/s, raw nats.c %.0f events/s, ratio %.2f\n", round, relay, raw,
                relay / raw);
    std::fflush(stdout);
    ratios.push_back(relay / raw);
    relay_rates.push_back(relay);
    raw_rates.push_back(raw);
  }

  // inbox_events_per_s: a backlog, published by a relay, worked through from scratch.
  double inbox_rate = 0;
  {
    auto transport = JetStreamTransport::connect(js_options(servers, "BINB")).value();
    (void)transport->ensure_stream();
    RelayOptions ro;
    ro.name = "bench.relay.inbox";
    ro.source = "bench";
    ro.subject_prefix = "BINB.bank";
    Relay relay(*source, source->projection_storage(), *transport, ro);
    (void)relay.start();
    (void)relay.wait_for(kEvents, std::chrono::minutes(2));
    (void)relay.stop();
    Receiver r = receiver(dir.path() + "/inbox", *transport, "BINB", nullptr);
    const auto started = Clock::now();
    (void)r.inbox->start();
    while (r.store->head_position() < static_cast<Position>(kEvents)) std::this_thread::sleep_for(milliseconds(5));
    inbox_rate = kEvents / std::chrono::duration<double>(Clock::now() - started).count();
    (void)r.inbox->stop();
    (void)transport->delete_stream();
    std::printf("inbox: %.0f events/s into a durable store\n", inbox_rate);
  }

  // e2e at 5,000 and at 1,000 events/s, each next to the broker's own floor at that rate: nats.c
  // publishing to and consuming from the same cluster, no store on either side, measured before and
  // after strata's run and pooled.
  struct Latencies {
    std::vector<double> strata, broker;
  };
  std::map<int, Latencies> at;
  for (int rate : {5'000, 1'000}) {
    Latencies& l = at[rate];
    const std::string tag = std::to_string(rate / 1'000) + "K";
    l.broker = raw_e2e(servers, "BFLOORA" + tag, rate, 6);
    l.strata = e2e(servers, dir.path() + "/e2e" + tag, "BE2E" + tag, rate, 8);
    auto more = raw_e2e(servers, "BFLOORB" + tag, rate, 6);
    l.broker.insert(l.broker.end(), more.begin(), more.end());
    std::sort(l.broker.begin(), l.broker.end());
    std::printf(
        "at %d/s: e2e %zu events, p50 %.2f ms, p99 %.2f ms, max %.2f ms; the broker by itself p50 %.2f ms, "
        "p99 %.2f ms\n",
        rate, l.strata.size(), percentile_of(l.strata, 0.5), percentile_of(l.strata, 0.99),
        l.strata.empty() ? 0.0 : l.strata.back(), percentile_of(l.broker, 0.5), percentile_of(l.broker, 0.99));
  }

  // The same pipeline at 5,000 events/s with the in-process transport in place of the broker.
  const std::vector<double> in_process_e2e = e2e({}, dir.path() + "/e2e-in-process", "BE2EIP", 5'000, 8);
  std::printf("at 5000/s over the in-process transport: e2e p50 %.2f ms, p99 %.2f ms\n",
              percentile_of(in_process_e2e, 0.5), percentile_of(in_process_e2e, 0.99));

  using strata::bench::print_summary;
  print_summary("relay_vs_raw_publish", strata::bench::median(ratios), "ratio");
  print_summary("relay_events_per_s", strata::bench::median(relay_rates), "events/s");
  print_summary("raw_publish_events_per_s", strata::bench::median(raw_rates), "events/s");
  print_summary("e2e_p50_ms", percentile_of(at[5'000].strata, 0.5), "ms");
  print_summary("e2e_p99_ms", percentile_of(at[5'000].strata, 0.99), "ms");
  print_summary("broker_e2e_p50_ms", percentile_of(at[5'000].broker, 0.5), "ms");
  print_summary("broker_e2e_p99_ms", percentile_of(at[5'000].broker, 0.99), "ms");
  print_summary("e2e_1k_p50_ms", percentile_of(at[1'000].strata, 0.5), "ms");
  print_summary("e2e_1k_p99_ms", percentile_of(at[1'000].strata, 0.99), "ms");
  print_summary("broker_e2e_1k_p99_ms", percentile_of(at[1'000].broker, 0.99), "ms");
  print_summary("e2e_in_process_p99_ms", percentile_of(in_process_e2e, 0.99), "ms");
  print_summary("inbox_events_per_s", inbox_rate, "events/s");
  print_summary("inbox_in_process_events_per_s", in_process_rate, "events/s");
  return 0;
}
