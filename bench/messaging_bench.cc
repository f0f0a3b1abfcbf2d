// Messaging across services, over the 3-node NATS JetStream cluster (R3) that bench/run.sh starts
// ($STRATA_NATS_URLS; skipped without it):
//
//   relay_vs_raw_publish   a Relay publishing 20,000 stored events (1,000 streams, ~200-byte payloads)
//                          from its checkpoint ÷ nats.c publishing the same messages (same bytes, same
//                          headers, message ids) asynchronously itself; medians of interleaved rounds
//   e2e_p50_ms, e2e_p99_ms from an append acknowledged in one service to its effect committed by an
//                          Inbox in another, at 5,000 events/s over R3 (both stores durable)
//   inbox_events_per_s     an Inbox working through a backlog of 20,000 messages into a durable store
//
// It is not a Google Benchmark binary: each figure is one timed run of a pipeline; arguments are ignored.
#include <fmt/format.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

void drop(const std::vector<std::string>& servers, const std::string& stream) {
  auto t = JetStreamTransport::connect(js_options(servers, stream)).value();
  (void)t->delete_stream();
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
  r.inbox = std::make_unique<Inbox>(*r.store, r.store->projection_storage(), transport, o);
  auto* ledgers = r.ledgers.get();
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

}  // namespace

int main() {
  const auto servers = servers_from_environment();
  if (servers.empty()) {
    std::puts("bench_messaging: STRATA_NATS_URLS is not set (bench/run.sh starts a cluster): skipped");
    return 0;
  }
  strata::bench::TempDir dir;

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

  // e2e latency at 5,000 events/s: append acknowledged -> effect committed in the other service.
  std::vector<double> latencies_ms;
  {
    auto transport = JetStreamTransport::connect(js_options(servers, "BE2E")).value();
    (void)transport->ensure_stream();
    auto producer = RocksEventStore::open(store_options(true), dir.path() + "/producer").value();
    std::mutex mu;
    std::map<std::string, Clock::time_point> acked;  // event id -> when its append returned
    Receiver r = receiver(dir.path() + "/consumer", *transport, "BE2E", [&](const IncomingMessage& m) {
      const auto now = Clock::now();
      std::lock_guard lock(mu);
      auto it = acked.find(m.id);
      if (it != acked.end())
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
    });
    RelayOptions ro;
    ro.name = "bench.relay.e2e";
    ro.source = "bench";
    ro.subject_prefix = "BE2E.bank";
    Relay relay(*producer, producer->projection_storage(), *transport, ro);
    (void)relay.start();
    (void)r.inbox->start();
    constexpr int kRate = 5'000, kSeconds = 8;
    const std::string memo(160, 'm');
    const auto began = Clock::now();
    for (int i = 0; i < kRate * kSeconds; ++i) {
      std::this_thread::sleep_until(began + std::chrono::microseconds(i * 1'000'000LL / kRate));
      EventData e = to_event_data(Deposited{i, memo});
      const std::string id = e.id.to_string();
      (void)producer->append(sid("account-" + std::to_string(i % kStreams)), ExpectedVersion::any(), e).value();
      std::lock_guard lock(mu);
      acked[id] = Clock::now();
    }
    (void)relay.wait_for(producer->head_position(), std::chrono::minutes(1));
    (void)r.inbox->wait_idle(milliseconds(300), std::chrono::minutes(1));
    (void)r.inbox->stop();
    (void)relay.stop();
    (void)transport->delete_stream();
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto percentile = [&](double p) {
    return latencies_ms.empty() ? std::nan("") : latencies_ms[static_cast<std::size_t>(p * (latencies_ms.size() - 1))];
  };
  std::printf("e2e: %zu events, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", latencies_ms.size(), percentile(0.5),
              percentile(0.99), latencies_ms.empty() ? 0.0 : latencies_ms.back());

  using strata::bench::print_summary;
  print_summary("relay_vs_raw_publish", strata::bench::median(ratios), "ratio");
  print_summary("relay_events_per_s", strata::bench::median(relay_rates), "events/s");
  print_summary("raw_publish_events_per_s", strata::bench::median(raw_rates), "events/s");
  print_summary("e2e_p50_ms", percentile(0.5), "ms");
  print_summary("e2e_p99_ms", percentile(0.99), "ms");
  print_summary("inbox_events_per_s", inbox_rate, "events/s");
  return 0;
}
