#include "strata/messaging/jetstream_transport.h"

#include <doctest/doctest.h>
#include <nats/nats.h>

#include <atomic>
#include <map>
#include <random>

#include "nats_cluster.h"
#include "strata/core/aggregate.h"
#include "strata/core/memory_event_store.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/relay.h"
#include "strata/projections/memory_projection_storage.h"
#include "transport_conformance.h"

using namespace strata;
using std::chrono::milliseconds;

namespace {

constexpr auto kWait = std::chrono::seconds(60);

std::string unique(std::string_view prefix) {
  static std::atomic<int> n{0};
  std::random_device rd;
  return std::string(prefix) + std::to_string(rd() % 1'000'000) + "x" + std::to_string(n++);
}

JetStreamOptions options_for(const testing::NatsCluster& cluster, const std::string& prefix) {
  JetStreamOptions o;
  o.servers = cluster.servers();
  o.stream = "S" + prefix;
  o.subjects = {prefix + ".>"};
  o.replicas = static_cast<int>(std::min<std::size_t>(3, cluster.nodes()));
  o.publish_timeout = milliseconds(2'000);
  o.reconnect_wait = milliseconds(100);
  return o;
}

// A transport on its own R3 stream, deleted at the end.
struct JetStreamFixture {
  testing::NatsCluster cluster = testing::NatsCluster::from_environment();
  std::string p = unique("tc");
  std::unique_ptr<JetStreamTransport> t = JetStreamTransport::connect(options_for(cluster, p)).value();
  ~JetStreamFixture() { (void)t->delete_stream(); }
  Transport& transport() { return *t; }
  std::string prefix() { return p; }
};

struct Deposited {
  static constexpr std::string_view kType = "bank.deposited.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("cents", &Deposited::cents));
};
struct Credited {
  static constexpr std::string_view kType = "ledger.credited.v1";
  std::int64_t cents = 0;
  std::string from;
  static constexpr auto kFields = fields(field("cents", &Credited::cents), field("from", &Credited::from));
};
class Ledger : public Aggregate<Ledger, Events<Credited>> {
 public:
  void credit(std::int64_t cents, std::string from) { record(Credited{cents, std::move(from)}); }

 private:
  friend Aggregate;
  void apply(const Credited&) {}
};

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

// The sending service: events in a store, published by a relay.
struct Sender {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  void deposit(int stream, std::int64_t cents) {
    REQUIRE(
        store.append(sid("account-" + std::to_string(stream)), ExpectedVersion::any(), to_event_data(Deposited{cents}))
            .ok());
  }
  RelayOptions relay_options(const std::string& prefix) const {
    RelayOptions o;
    o.name = "relay";
    o.source = "bank";
    o.subject_prefix = prefix + ".bank";
    o.first_backoff = milliseconds(50);
    o.max_backoff = milliseconds(500);
    o.checkpoint_interval = milliseconds(50);
    return o;
  }
};

// The receiving service: one ledger stream per account, credited once per deposit, in order.
struct Receiver {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Repository<Ledger> ledgers{store};
  std::unique_ptr<Inbox> inbox;

  void start(Transport& transport, const std::string& prefix) {
    InboxOptions o;
    o.name = "ledger-inbox";
    o.consumer.filter = prefix + ".bank.>";
    o.consumer.ack_wait = milliseconds(5'000);
    o.first_backoff = milliseconds(20);
    o.max_backoff = milliseconds(500);
    o.max_attempts = 1'000;
    inbox = std::make_unique<Inbox>(store, storage, transport, o);
    inbox->on<Deposited>([this](const Deposited& d, InboxContext& ctx) -> Status {
      const std::string account(ctx.message().headers.get(headers::kStream));
      STRATA_ASSIGN_OR_RETURN(Ledger l, ledgers.load_or_create(sid("ledger-" + account)));
      l.credit(d.cents, std::string(ctx.message().headers.get(headers::kVersion)));
      return ctx.save(ledgers, l).status();
    });
    REQUIRE(inbox->start().ok());
  }
  // Waits until `n` messages have had their effect, then for the inbox to go quiet. Quiet alone is not
  // enough: a delivery lost with a killed node comes again only after the consumer's ack wait.
  void wait_handled(std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (inbox->status().handled < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(20));
    REQUIRE(inbox->status().handled == n);
    REQUIRE(inbox->wait_idle(milliseconds(300), kWait).ok());
  }
  // Every account's credits are its deposits' versions 1..n, once each, in order.
  void check(int accounts, const Sender& sender) {
    for (int a = 0; a < accounts; ++a) {
      CAPTURE(a);
      const std::string account = "account-" + std::to_string(a);
      auto head = const_cast<MemoryEventStore&>(sender.store).stream_head(sid(account)).value();
      auto credits = store.read_stream(sid("ledger-" + account), ReadDirection::kForward, 1, 100'000);
      if (head == 0) continue;
      REQUIRE(credits.ok());
      REQUIRE(credits->events.size() == head);
      for (std::size_t i = 0; i < credits->events.size(); ++i) {
        Credited c;
        REQUIRE(decode_json(credits->events[i].payload, c).ok());
        CHECK(c.from == std::to_string(i + 1));
      }
    }
  }
};

}  // namespace

TEST_CASE_TEMPLATE_INVOKE(transport_conformance, JetStreamFixture);

TEST_CASE("over JetStream R3, a relay and an inbox carry every event once, in stream order") {
  JetStreamFixture f;
  Sender sender;
  Receiver receiver;
  for (int i = 0; i < 500; ++i) sender.deposit(i % 20, i);
  Relay relay(sender.store, sender.storage, f.transport(), sender.relay_options(f.p));
  REQUIRE(relay.start().ok());
  receiver.start(f.transport(), f.p);
  REQUIRE(relay.wait_for(sender.store.head_position(), kWait).ok());
  receiver.wait_handled(500);
  receiver.check(20, sender);
  CHECK(receiver.inbox->status().handled == 500);
  CHECK(relay.status().broker.available);
}

TEST_CASE(
    "a broker down when the relay starts, and stopped and restarted mid-stream: the relay waits, says so, loses "
    "nothing") {
  JetStreamFixture f;
  REQUIRE(f.t->ensure_stream().ok());
  Sender sender;
  Receiver receiver;
  receiver.start(f.transport(), f.p);
  for (std::size_t n = 1; n <= f.cluster.nodes(); ++n) f.cluster.stop(static_cast<int>(n));
  for (int i = 0; i < 100; ++i) sender.deposit(i % 5, i);
  Relay relay(sender.store, sender.storage, f.transport(), sender.relay_options(f.p));
  REQUIRE(relay.start().ok());
  std::this_thread::sleep_for(milliseconds(2'500));
  const RelayStatus down = relay.status();
  CHECK(down.state == RelayState::kStalled);
  CHECK_FALSE(down.broker.available);
  CHECK(down.last_error.code() == StatusCode::kUnavailable);
  CHECK(down.position < 100);
  f.cluster.heal();
  REQUIRE(relay.wait_for(sender.store.head_position(), kWait).ok());

  // Mid-stream: appends go on while the whole cluster is stopped and started again.
  std::thread appender([&] {
    for (int i = 0; i < 200; ++i) {
      sender.deposit(i % 5, i);
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  std::this_thread::sleep_for(milliseconds(200));
  for (std::size_t n = 1; n <= f.cluster.nodes(); ++n) f.cluster.stop(static_cast<int>(n));
  std::this_thread::sleep_for(milliseconds(1'000));
  f.cluster.heal();
  appender.join();
  REQUIRE(relay.wait_for(sender.store.head_position(), kWait).ok());
  receiver.wait_handled(300);
  receiver.check(5, sender);
  CHECK(relay.status().last_error.ok());
}

TEST_CASE("killing the stream leader of an R3 stream: publishing pauses for the election, then goes on, nothing lost") {
  JetStreamFixture f;
  REQUIRE(f.cluster.nodes() == 3);
  REQUIRE(f.t->ensure_stream().ok());
  Sender sender;
  Receiver receiver;
  receiver.start(f.transport(), f.p);
  Relay relay(sender.store, sender.storage, f.transport(), sender.relay_options(f.p));
  REQUIRE(relay.start().ok());
  std::thread appender([&] {
    for (int i = 0; i < 300; ++i) {
      sender.deposit(i % 10, i);
      std::this_thread::sleep_for(milliseconds(10));
    }
  });
  std::this_thread::sleep_for(milliseconds(500));
  const std::string leader = f.t->stream_leader().value();  // "strata-n<N>"
  const int node = std::stoi(leader.substr(leader.rfind('n') + 1));
  f.cluster.kill(node);
  appender.join();
  REQUIRE(relay.wait_for(sender.store.head_position(), kWait).ok());
  f.cluster.restart(node);
  receiver.wait_handled(300);
  receiver.check(10, sender);
  CHECK(f.t->stream_leader().value() != leader);
}

TEST_CASE(
    "a delivery lost on its way is noticed by the gap it leaves, and comes again before the later ones, while "
    "a delivery made before can still be acknowledged") {
  JetStreamFixture f;
  for (int i = 1; i <= 4; ++i)
    REQUIRE(
        conformance::publish_sync(f.transport(), conformance::message(f.p + "-" + std::to_string(i), f.p + ".s")).ok());
  ConsumerConfig config{f.p + "-gap", f.p + ".>"};
  config.ack_wait = std::chrono::seconds(30);  // far longer than the test: only the recreation brings it back
  auto consumer = f.t->consume(config).value();
  auto first = conformance::fetch_n(*consumer, 1);
  REQUIRE(first.size() == 1);
  CHECK(first[0]->message().id == f.p + "-1");
  // Held, not acknowledged, while the consumer is recreated below: acknowledging it afterwards must
  // not touch the subscription the recreation dropped.

  // Another puller of the same durable consumer takes the next delivery and drops it: to the consumer
  // under test, as if it had been lost on its way.
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, f.cluster.servers().front().c_str()) == NATS_OK);
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  const std::string stream = "S" + f.p;
  so.Stream = stream.c_str();
  so.Consumer = config.durable.c_str();
  natsSubscription* thief = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  REQUIRE(js_PullSubscribe(&thief, js, (f.p + ".>").c_str(), nullptr, nullptr, &so, &jerr) == NATS_OK);
  natsMsgList stolen{};
  REQUIRE(natsSubscription_Fetch(&stolen, thief, 1, 5'000, &jerr) == NATS_OK);
  REQUIRE(stolen.Count == 1);
  natsMsgList_Destroy(&stolen);  // never acknowledged
  natsSubscription_Destroy(thief);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  // What follows the lost delivery is not handed out ahead of it: 2 comes again, then 3 and 4 (and 1,
  // not acknowledged, comes again first).
  std::vector<std::string> ids;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ids.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer->fetch(10, milliseconds(200));
    if (!batch.ok()) continue;
    for (auto& d : *batch) {
      REQUIRE(d->ack().ok());
      if (d->message().id != f.p + "-1") ids.push_back(d->message().id);
    }
  }
  CHECK(ids == std::vector<std::string>{f.p + "-2", f.p + "-3", f.p + "-4"});
  CHECK(first[0]->ack().ok());  // of the consumer before its recreation: acknowledged into the void
}
