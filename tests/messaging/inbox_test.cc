#include "strata/messaging/inbox.h"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "strata/core/aggregate.h"
#include "strata/core/memory_event_store.h"
#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/relay.h"
#include "strata/projections/memory_projection_storage.h"
#include "transport_conformance.h"

using namespace strata;
using std::chrono::milliseconds;

namespace {

constexpr auto kWait = std::chrono::seconds(20);
constexpr auto kQuiet = milliseconds(150);

// The message another service sends.
struct PaymentRequested {
  static constexpr std::string_view kType = "orders.payment_requested.v1";
  std::string order;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("order", &PaymentRequested::order), field("cents", &PaymentRequested::cents));
};

// The receiving service's aggregate.
struct Charged {
  static constexpr std::string_view kType = "payments.charged.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("cents", &Charged::cents));
};
class Wallet : public Aggregate<Wallet, Events<Charged>> {
 public:
  Status charge(std::int64_t cents) {
    if (cents > 1'000) return Status::rejected("over the limit of 1000");
    record(Charged{cents});
    return {};
  }
  std::int64_t total() const { return total_; }

 private:
  friend Aggregate;
  void apply(const Charged& e) { total_ += e.cents; }
  std::int64_t total_ = 0;
};

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

struct Total {
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("cents", &Total::cents));
};
constexpr ReadModel<Total> kTotals{"totals"};

OutgoingMessage request(std::string id, std::string order, std::int64_t cents) {
  OutgoingMessage m =
      conformance::message(std::move(id), "orders.events." + order, to_json(PaymentRequested{order, cents}));
  m.type = std::string(PaymentRequested::kType);
  m.headers.set(headers::kType, m.type);
  m.headers.set(headers::kCorrelationId, "corr-" + order);
  return m;
}

InboxOptions inbox_options() {
  InboxOptions o;
  o.name = "payments-inbox";
  o.consumer.filter = "orders.events.>";
  o.consumer.ack_wait = milliseconds(500);
  o.first_backoff = milliseconds(5);
  o.max_backoff = milliseconds(20);
  o.fetch_wait = milliseconds(20);
  return o;
}

// A payments service: an inbox charging one wallet per order.
struct Payments {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Repository<Wallet> wallets{store};
  std::atomic<int> calls{0};

  void install(Inbox& inbox) {
    inbox.on<PaymentRequested>([this](const PaymentRequested& m, InboxContext& ctx) -> Status {
      ++calls;
      STRATA_ASSIGN_OR_RETURN(Wallet w, wallets.load_or_create(sid("wallet-" + m.order)));
      STRATA_RETURN_IF_ERROR(w.charge(m.cents));
      return ctx.save(wallets, w).status();
    });
  }
  std::int64_t total(std::string_view order) {
    auto w = wallets.load(sid("wallet-" + std::string(order)));
    return w.ok() ? w->total() : 0;
  }
};

}  // namespace

TEST_CASE("an inbox applies each message once, with the message's correlation id, and acknowledges it") {
  InProcessTransport transport;
  Payments payments;
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  payments.install(inbox);
  REQUIRE(inbox.start().ok());
  for (int i = 0; i < 5; ++i)
    REQUIRE(conformance::publish_sync(transport, request("m" + std::to_string(i), "o1", 10)).ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  CHECK(payments.total("o1") == 50);
  CHECK(inbox.status().handled == 5);
  auto events = payments.store.read_stream(sid("wallet-o1"), ReadDirection::kForward, 1, 10).value().events;
  REQUIRE(events.size() == 5);
  CHECK(events[0].metadata.correlation_id == "corr-o1");
  CHECK(events[0].metadata.causation_id == "m0");
  CHECK(events[0].id == EventId::derive("payments-inbox/m0", 0));
}

TEST_CASE("redelivered messages and republished ones are absorbed: exactly one effect each") {
  InProcessTransport::Options no_dedupe;
  no_dedupe.duplicate_window = milliseconds(0);  // the broker stores repeats again: only the inbox can tell
  InProcessTransport transport(no_dedupe);
  Payments payments;
  {
    Inbox inbox(payments.store, payments.storage, transport, inbox_options());
    payments.install(inbox);
    REQUIRE(inbox.start().ok());
    for (int i = 0; i < 20; ++i)
      REQUIRE(
          conformance::publish_sync(transport, request("m" + std::to_string(i), "o" + std::to_string(i % 4), 1)).ok());
    REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  }
  // Everything sent again, as a relay republishing from an old checkpoint would.
  for (int i = 0; i < 20; ++i)
    REQUIRE(
        conformance::publish_sync(transport, request("m" + std::to_string(i), "o" + std::to_string(i % 4), 1)).ok());
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  payments.install(inbox);
  REQUIRE(inbox.start().ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  for (int o = 0; o < 4; ++o) CHECK(payments.total("o" + std::to_string(o)) == 5);
  CHECK(inbox.status().duplicates == 20);
  CHECK(payments.calls.load() == 20);  // the handler never ran for a duplicate
}

TEST_CASE("a message whose effect was committed but whose ack was lost is absorbed when it comes again") {
  InProcessTransport transport;
  Payments payments;
  // The effect of m1 committed by an earlier life of the inbox that died before acknowledging.
  Wallet w = payments.wallets.create(sid("wallet-o1"));
  REQUIRE(w.charge(7).ok());
  REQUIRE(payments.wallets.save_idempotent(w, "payments-inbox/m1").ok());
  REQUIRE(conformance::publish_sync(transport, request("m1", "o1", 7)).ok());
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  payments.install(inbox);
  REQUIRE(inbox.start().ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  CHECK(payments.total("o1") == 7);
  CHECK(payments.calls.load() == 0);
  CHECK(inbox.status().duplicates == 1);
}

TEST_CASE("a message rejected on its first delivery stays rejected on a redelivery, whatever the state is by then") {
  InProcessTransport::Options no_dedupe;
  no_dedupe.duplicate_window = milliseconds(0);
  InProcessTransport transport(no_dedupe);
  Payments payments;
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  int limit = 1'000;
  inbox.on<PaymentRequested>([&](const PaymentRequested& m, InboxContext& ctx) -> Status {
    if (m.cents > limit) return Status::rejected("over the limit");
    Wallet w = payments.wallets.load_or_create(sid("wallet-" + m.order)).value();
    STRATA_RETURN_IF_ERROR(w.charge(m.cents));
    return ctx.save(payments.wallets, w).status();
  });
  REQUIRE(inbox.start().ok());
  REQUIRE(conformance::publish_sync(transport, request("big", "o1", 5'000)).ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  CHECK(inbox.status().rejected == 1);
  limit = 1'000'000;  // the rule changed, but the decision on that message was taken
  REQUIRE(conformance::publish_sync(transport, request("big", "o1", 5'000)).ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  CHECK(payments.total("o1") == 0);
  CHECK(inbox.status().duplicates == 1);
  auto row = payments.storage.get("payments-inbox", 1, "strata.inbox.handled", "big").value();
  REQUIRE(row.has_value());
  CHECK(row->find("\"outcome\":\"rejected\"") != std::string::npos);
  CHECK(row->find("over the limit") != std::string::npos);
}

TEST_CASE("an inbox writing read-model rows commits them with its marker, once per message") {
  InProcessTransport::Options no_dedupe;
  no_dedupe.duplicate_window = milliseconds(0);
  InProcessTransport transport(no_dedupe);
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  auto handler = [](const PaymentRequested& m, InboxContext& ctx) -> Status {
    STRATA_ASSIGN_OR_RETURN(ReadModelTx & tx, ctx.rows());
    STRATA_ASSIGN_OR_RETURN(std::optional<Total> row, kTotals.get(tx, m.order));
    if (!row) row.emplace();
    row->cents += m.cents;
    return kTotals.put(tx, m.order, *row);
  };
  for (int life = 0; life < 2; ++life) {
    Inbox inbox(store, storage, transport, inbox_options());
    inbox.on<PaymentRequested>(handler);
    REQUIRE(inbox.start().ok());
    for (int i = 0; i < 6; ++i)
      REQUIRE(conformance::publish_sync(transport, request("m" + std::to_string(i), "o1", 10)).ok());
    REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  }
  CHECK(kTotals.get(ReadModelReader(storage, "payments-inbox", 1), "o1").value()->cents == 60);
}

TEST_CASE("messages without an id, of an unknown type, or that do not decode are parked, and later ones keep flowing") {
  InProcessTransport transport;
  Payments payments;
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  payments.install(inbox);
  REQUIRE(inbox.start().ok());
  OutgoingMessage unknown = request("u1", "o1", 1);
  unknown.type = "orders.cancelled.v1";
  OutgoingMessage garbled = request("g1", "o1", 1);
  garbled.payload = R"({"order":"o1","cents":"lots"})";
  REQUIRE(conformance::publish_sync(transport, unknown).ok());
  REQUIRE(conformance::publish_sync(transport, garbled).ok());
  REQUIRE(conformance::publish_sync(transport, request("ok1", "o1", 5)).ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  CHECK(payments.total("o1") == 5);
  auto parked = inbox.parked().value();
  REQUIRE(parked.size() == 2);
  CHECK(parked[0].error.code() == StatusCode::kUnknownEventType);
  CHECK(parked[0].event.type == "orders.cancelled.v1");
  CHECK(parked[0].event.stream_id == "orders.events.o1");
  CHECK(parked[0].event.metadata.correlation_id == "corr-o1");
  CHECK(parked[1].error.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(parked[1].error.message()).find("does not decode") != std::string::npos);
  CHECK(parked[1].attempts == 1);
  CHECK(inbox.status().parked == 2);
  REQUIRE(inbox.skip_parked(parked[0].event.position.value()).ok());
  CHECK(inbox.parked().value().size() == 1);
}

TEST_CASE("a handler that keeps failing is retried with backoff, holding its subject back, then parked") {
  InProcessTransport transport;
  Payments payments;
  InboxOptions o = inbox_options();
  o.max_attempts = 3;
  o.concurrency = 1;  // one order of handling across subjects, for the check below
  Inbox inbox(payments.store, payments.storage, transport, o);
  std::vector<std::string> order;
  bool broken = true;
  inbox.on<PaymentRequested>([&](const PaymentRequested& m, InboxContext& ctx) -> Status {
    order.push_back(ctx.message().id);
    if (broken && ctx.message().id == "bad") return Status::unavailable("the ledger is down");
    Wallet w = payments.wallets.load_or_create(sid("wallet-" + m.order)).value();
    STRATA_RETURN_IF_ERROR(w.charge(m.cents));
    return ctx.save(payments.wallets, w).status();
  });
  REQUIRE(conformance::publish_sync(transport, request("bad", "o1", 1)).ok());
  REQUIRE(conformance::publish_sync(transport, request("after", "o1", 2)).ok());
  REQUIRE(conformance::publish_sync(transport, request("other", "o2", 3)).ok());
  REQUIRE(inbox.start().ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  // o2 did not wait for o1's trouble; o1's later message waited until "bad" was parked.
  CHECK(std::find(order.begin(), order.end(), "other") < std::find(order.begin(), order.end(), "after"));
  CHECK(std::count(order.begin(), order.end(), "bad") == 3);
  CHECK(order.back() == "after");
  auto parked = inbox.parked().value();
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].attempts == 3);
  CHECK(parked[0].error.code() == StatusCode::kUnavailable);
  CHECK(payments.total("o1") == 2);

  broken = false;
  REQUIRE(inbox.retry_parked(parked[0].event.position.value()).ok());
  CHECK(inbox.parked().value().empty());
  CHECK(payments.total("o1") == 3);
  CHECK(inbox.retry_parked(parked[0].event.position.value()).code() == StatusCode::kNotFound);
}

TEST_CASE("an inbox started while the broker is down waits for it and then handles everything") {
  InProcessTransport transport;
  Payments payments;
  REQUIRE(conformance::publish_sync(transport, request("m1", "o1", 4)).ok());
  transport.set_available(false);
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  payments.install(inbox);
  REQUIRE(inbox.start().ok());
  std::this_thread::sleep_for(milliseconds(100));
  CHECK(inbox.status().state == InboxState::kStalled);
  CHECK(inbox.status().last_error.code() == StatusCode::kUnavailable);
  transport.set_available(true);
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  CHECK(payments.total("o1") == 4);
  CHECK(inbox.status().state == InboxState::kRunning);
}

TEST_CASE("relay to inbox: events of one service become effects in another, once each, in stream order") {
  InProcessTransport transport;
  MemoryEventStore orders;
  MemoryProjectionStorage orders_storage;
  for (int i = 0; i < 30; ++i) {
    const std::string order = "o" + std::to_string(i % 3);
    Metadata m;
    m.correlation_id = "deal-" + order;
    REQUIRE(orders
                .append(sid("order-" + order), ExpectedVersion::any(),
                        to_event_data(PaymentRequested{order, i}, EventId::generate(), m))
                .ok());
  }
  RelayOptions ro;
  ro.name = "orders.relay";
  ro.source = "orders";
  ro.subject_prefix = "orders.events";
  Relay relay(orders, orders_storage, transport, ro);
  Payments payments;
  std::mutex mu;
  std::map<std::string, std::vector<std::int64_t>> seen;
  Inbox inbox(payments.store, payments.storage, transport, inbox_options());
  inbox.on<PaymentRequested>([&](const PaymentRequested& m, InboxContext& ctx) -> Status {
    {
      std::lock_guard lock(mu);
      seen[m.order].push_back(m.cents);
    }
    CHECK(ctx.metadata().correlation_id == "deal-" + m.order);
    Wallet w = payments.wallets.load_or_create(sid("wallet-" + m.order)).value();
    STRATA_RETURN_IF_ERROR(w.charge(m.cents));
    return ctx.save(payments.wallets, w).status();
  });
  REQUIRE(relay.start().ok());
  REQUIRE(inbox.start().ok());
  REQUIRE(relay.wait_for(orders.head_position(), kWait).ok());
  REQUIRE(inbox.wait_idle(kQuiet, kWait).ok());
  for (int o = 0; o < 3; ++o) {
    std::vector<std::int64_t> expected;
    std::int64_t sum = 0;
    for (int i = o; i < 30; i += 3) {
      expected.push_back(i);
      sum += i;
    }
    CHECK(seen["o" + std::to_string(o)] == expected);
    CHECK(payments.total("o" + std::to_string(o)) == sum);
  }
}
