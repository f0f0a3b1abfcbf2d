#include "strata/messaging/relay.h"

#include <doctest/doctest.h>

#include <map>
#include <random>

#include "prometheus_text.h"
#include "strata/core/memory_event_store.h"
#include "strata/messaging/in_process_transport.h"
#include "strata/projections/memory_projection_storage.h"
#include "transport_conformance.h"

using namespace strata;
using std::chrono::milliseconds;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

struct Deposited {
  static constexpr std::string_view kType = "bank.deposited.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("cents", &Deposited::cents));
};
struct Opened {
  static constexpr std::string_view kType = "bank.opened.v1";
  std::string owner;
  static constexpr auto kFields = fields(field("owner", &Opened::owner));
};
// The public integration event another service sees.
struct MoneyIn {
  static constexpr std::string_view kType = "bank.money_in.v1";
  std::string account;
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("account", &MoneyIn::account), field("cents", &MoneyIn::cents));
};

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

void deposit(EventStore& store, std::string_view stream, std::int64_t cents, std::string correlation = {}) {
  Metadata m;
  m.correlation_id = std::move(correlation);
  REQUIRE(
      store.append(sid(stream), ExpectedVersion::any(), to_event_data(Deposited{cents}, EventId::generate(), m)).ok());
}

RelayOptions options_for(std::string name = "bank.relay") {
  RelayOptions o;
  o.name = std::move(name);
  o.source = "bank";
  o.subject_prefix = "bank.events";
  o.first_backoff = milliseconds(10);
  o.max_backoff = milliseconds(50);
  o.checkpoint_interval = milliseconds(0);
  return o;
}

// Everything the transport holds, as "subject id-type" lines in order.
std::vector<IncomingMessage> drain(InProcessTransport& t, const std::string& durable, std::size_t n) {
  auto c = t.consume({durable, ""}).value();
  std::vector<IncomingMessage> out;
  for (auto& d : conformance::fetch_n(*c, n, std::chrono::seconds(5))) {
    out.push_back(d->message());
    REQUIRE(d->ack().ok());
  }
  return out;
}

}  // namespace

TEST_CASE("the relay publishes every event of the log in order, as stored, with its headers and the event id") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  deposit(store, "account-1", 100, "deal-7");
  deposit(store, "account-2", 200);
  deposit(store, "account-1", 300);
  Relay relay(store, storage, transport, options_for());
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());

  auto got = drain(transport, "check", 3);
  REQUIRE(got.size() == 3);
  auto log = store.read_log(1, 10).value().events;
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(got[i].id == log[i].id.to_string());
    CHECK(got[i].subject == "bank.events." + log[i].stream_id);
    CHECK(got[i].type == "bank.deposited.v1");
    CHECK(got[i].payload == log[i].payload);
    CHECK(got[i].headers.get(headers::kSource) == "bank");
    CHECK(got[i].headers.get(headers::kStream) == log[i].stream_id);
    CHECK(got[i].headers.get(headers::kVersion) == to_string(log[i].version));
    CHECK(got[i].headers.get(headers::kPosition) == to_string(log[i].position));
  }
  CHECK(got[0].headers.get(headers::kCorrelationId) == "deal-7");
  CHECK(relay.status().state == RelayState::kLive);
  CHECK(relay.status().published == 3);

  // Live: new appends are published as they commit.
  deposit(store, "account-3", 400);
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  CHECK(transport.stored().size() == 4);
}

TEST_CASE("the relay passes over events removed before it published them, counts them, and reaches the head") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  deposit(store, "account-1", 100);
  deposit(store, "account-2", 200);
  deposit(store, "account-1", 300);
  deposit(store, "account-3", 400);
  auto sid = [](std::string_view s) { return strata::StreamId::parse(s).value(); };
  REQUIRE(store.delete_stream(sid("account-1"), strata::ExpectedVersion::any(), strata::DeleteMode::kHard).ok());
  REQUIRE(store.delete_stream(sid("account-3"), strata::ExpectedVersion::any(), strata::DeleteMode::kHard).ok());
  Relay relay(store, storage, transport, options_for());
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  auto got = drain(transport, "check", 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].headers.get(headers::kStream) == "account-2");
  CHECK(relay.status().published == 1);
  CHECK(relay.status().removed == 3);
}

TEST_CASE("the relay selects by category and type, and a mapping publishes integration events instead") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  REQUIRE(store.append(sid("account-1"), ExpectedVersion::any(), to_event_data(Opened{"Alice"})).ok());
  deposit(store, "account-1", 100);
  deposit(store, "ledger-1", 5);
  RelayOptions o = options_for();
  o.selection.categories = {"account"};
  o.mapping.publish<Deposited>([](const Deposited& e, const EventView& stored) {
    return MoneyIn{std::string(stored.stream_id), e.cents};
  });
  Relay relay(store, storage, transport, o);
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  auto got = transport.stored();
  REQUIRE(got.size() == 1);  // opened: not mapped; ledger: not selected
  CHECK(got[0].type == "bank.money_in.v1");
  CHECK(got[0].payload == R"({"account":"account-1","cents":100})");
  CHECK(got[0].headers.get(headers::kType) == "bank.money_in.v1");
  CHECK(relay.status().position == store.head_position());
}

TEST_CASE("events the relay does not publish move its checkpoint at once, with no acknowledgement to wait for") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  RelayOptions o = options_for();
  o.selection.event_types = {"bank.opened.v1"};
  Relay relay(store, storage, transport, o);
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  deposit(store, "account-1", 100);  // not selected
  // Well under the relay's idle wakeup (500 ms): the commit alone is enough.
  CHECK(relay.wait_for(store.head_position(), milliseconds(300)).ok());
  CHECK(relay.status().lag_events == 0);
  CHECK(transport.stored().empty());
}

TEST_CASE("the relay resumes from its checkpoint after a restart and publishes nothing twice") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  for (int i = 0; i < 50; ++i) deposit(store, "account-" + std::to_string(i % 7), i);
  {
    Relay relay(store, storage, transport, options_for());
    REQUIRE(relay.start().ok());
    REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
    REQUIRE(relay.stop().ok());
  }
  CHECK(storage.load_state("bank.relay").value()->checkpoint == 50);
  for (int i = 0; i < 20; ++i) deposit(store, "account-" + std::to_string(i % 7), i);
  Relay relay(store, storage, transport, options_for());
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  CHECK(relay.status().published == 20);
  CHECK(relay.status().duplicates == 0);
  CHECK(transport.stored().size() == 70);
}

TEST_CASE("a broker that is down when the relay starts is waited for, and nothing is lost or skipped") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  transport.set_available(false);
  for (int i = 0; i < 30; ++i) deposit(store, "account-" + std::to_string(i % 3), i);
  Relay relay(store, storage, transport, options_for());
  REQUIRE(relay.start().ok());
  CHECK(relay.wait_for(store.head_position(), milliseconds(300)).code() == StatusCode::kUnavailable);
  const RelayStatus down = relay.status();
  CHECK(down.state == RelayState::kStalled);
  CHECK(down.position == 0);
  CHECK_FALSE(down.broker.available);
  CHECK(down.last_error.code() == StatusCode::kUnavailable);
  CHECK(down.lag_events == 30);

  transport.set_available(true);
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  CHECK(relay.status().last_error.ok());
  auto got = drain(transport, "check", 30);
  REQUIRE(got.size() == 30);
  // Per stream, in stream order.
  std::map<std::string, std::uint64_t> last;
  for (const auto& m : got) {
    const std::string stream(m.headers.get(headers::kStream));
    const std::uint64_t version = std::stoull(std::string(m.headers.get(headers::kVersion)));
    CHECK(version == last[stream] + 1);
    last[stream] = version;
  }
}

TEST_CASE("a broker stopped mid-stream and lost acks: the relay retries, keeps each subject in order, loses nothing") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  RelayOptions o = options_for();
  o.max_in_flight = 8;
  Relay relay(store, storage, transport, o);
  REQUIRE(relay.start().ok());
  std::mt19937 rng(42);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 40; ++i) deposit(store, "account-" + std::to_string(rng() % 5), i);
    if (round % 3 == 1) {
      transport.set_available(false);
      std::this_thread::sleep_for(milliseconds(30));
      transport.set_available(true);
    }
    if (round % 3 == 2) transport.fail_next_acks(5);
  }
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  auto got = drain(transport, "check", 400);
  REQUIRE(got.size() == 400);  // the broker's dedupe absorbed what was sent again
  std::map<std::string, std::uint64_t> last;
  for (const auto& m : got) {
    const std::string stream(m.headers.get(headers::kStream));
    const std::uint64_t version = std::stoull(std::string(m.headers.get(headers::kVersion)));
    CHECK(version == last[stream] + 1);
    last[stream] = version;
  }
  CHECK(relay.status().duplicates >= 5);
}

TEST_CASE("an event whose mapping fails is parked, later events keep flowing, and it can be retried or skipped") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  deposit(store, "account-1", 1);
  REQUIRE(store
              .append(sid("account-1"), ExpectedVersion::any(),
                      EventData{EventId::generate(), "bank.deposited.v1", R"({"cents":"lots"})", {}})
              .ok());
  deposit(store, "account-1", 3);
  RelayOptions o = options_for();
  o.mapping.publish<Deposited>([](const Deposited& e, const EventView&) { return MoneyIn{"a", e.cents}; });
  Relay relay(store, storage, transport, o);
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
  CHECK(transport.stored().size() == 2);
  CHECK(relay.status().parked == 1);
  auto parked = relay.parked().value();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].event.position == 2);
  CHECK(parked[0].error.code() == StatusCode::kInvalidArgument);
  CHECK(relay.retry_parked(2).code() == StatusCode::kInvalidArgument);  // still does not map
  REQUIRE(relay.skip_parked(2).ok());
  CHECK(relay.parked().value().empty());
  CHECK(relay.skip_parked(2).code() == StatusCode::kNotFound);
}

TEST_CASE("republish_from moves the checkpoint back, and the broker's dedupe absorbs the repeats") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  for (int i = 0; i < 10; ++i) deposit(store, "account-1", i);
  Relay relay(store, storage, transport, options_for());
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(10, kWait).ok());
  CHECK(relay.republish_from(1).code() == StatusCode::kInvalidArgument);  // running
  REQUIRE(relay.stop().ok());
  REQUIRE(relay.republish_from(4).ok());
  REQUIRE(relay.start().ok());
  REQUIRE(relay.wait_for(10, kWait).ok());
  CHECK(relay.status().duplicates == 7);
  CHECK(transport.stored().size() == 10);
}

TEST_CASE("two relays under one name: the second one fails instead of moving the same checkpoint") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  deposit(store, "account-1", 1);
  Relay first(store, storage, transport, options_for());
  Relay second(store, storage, transport, options_for());
  REQUIRE(first.start().ok());
  REQUIRE(first.wait_for(1, kWait).ok());
  REQUIRE(second.start().ok());
  deposit(store, "account-1", 2);
  deposit(store, "account-1", 3);
  // One of them commits first; the other finds the checkpoint moved underneath it and fails.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (first.status().state != RelayState::kFailed && second.status().state != RelayState::kFailed &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(10));
  const RelayStatus a = first.status(), b = second.status();
  CHECK((a.state == RelayState::kFailed || b.state == RelayState::kFailed));
  const Status error = a.state == RelayState::kFailed ? a.last_error : b.last_error;
  CHECK(error.code() == StatusCode::kWrongExpectedVersion);
}

TEST_CASE("bad relay options are refused with kInvalidArgument") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  RelayOptions o = options_for("");
  CHECK(Relay(store, storage, transport, o).start().code() == StatusCode::kInvalidArgument);
  o = options_for();
  o.subject_prefix = "bad prefix";
  CHECK(Relay(store, storage, transport, o).start().code() == StatusCode::kInvalidArgument);
  o = options_for();
  o.source.clear();
  CHECK(Relay(store, storage, transport, o).start().code() == StatusCode::kInvalidArgument);
  o = options_for();
  o.max_in_flight = 0;
  CHECK(Relay(store, storage, transport, o).start().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("the relay's metrics show its position, lag and what it published") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  InProcessTransport transport;
  deposit(store, "account-1", 100);
  deposit(store, "account-2", 200);
  auto metrics = std::make_shared<MetricsRegistry>();
  RelayOptions o = options_for();
  o.metrics = metrics;
  {
    Relay relay(store, storage, transport, o);
    auto before = testing::parse_prometheus(metrics->prometheus_text());
    REQUIRE_MESSAGE(before.error.empty(), before.error);
    CHECK(before.value("strata_relay_lag_events", {{"relay", "bank.relay"}}) == 2);
    REQUIRE(relay.start().ok());
    REQUIRE(relay.wait_for(store.head_position(), kWait).ok());
    auto after = testing::parse_prometheus(metrics->prometheus_text());
    REQUIRE_MESSAGE(after.error.empty(), after.error);
    CHECK(after.value("strata_relay_position", {{"relay", "bank.relay"}}) == 2);
    CHECK(after.value("strata_relay_lag_events", {{"relay", "bank.relay"}}) == 0);
    CHECK(after.value("strata_relay_published_total", {{"relay", "bank.relay"}}) == 2);
    CHECK(after.types.at("strata_relay_published_total") == "counter");
  }
  // A relay that is gone leaves nothing behind in the text.
  CHECK_FALSE(
      testing::parse_prometheus(metrics->prometheus_text()).value("strata_relay_position", {{"relay", "bank.relay"}}));
}
