// The child processes of the saga crash test (saga_crash_test.cc), two services on their own RocksDB
// stores that talk through JetStream, killed with SIGKILL at random moments and started again:
//
//   saga_crash_service contracts DIR URLS PREFIX TOTAL STATUS_FILE
//     appends ActivationRequested for deals 0..TOTAL-1 (stream contract-<deal>, event ids derived from
//     the deal, so appending again after a restart writes nothing) and runs the Activation saga for
//     each: reserve titles (a local command) -> publish ChargeRequested, payment deadline 3 s -> on
//     PaymentConfirmed show titles (a command) and complete; on PaymentDeclined or the deadline release
//     the titles (compensation); a confirmation after compensation began publishes RefundRequested.
//     A relay publishes the saga's messages on PREFIX.contracts.<saga stream>; an inbox takes
//     PREFIX.payments.> to the runner. STATUS_FILE: "<appended> <ended> <paid> <refunds requested>
//     <charges requested>".
//   saga_crash_service payments DIR PROVIDER_DIR URLS PREFIX STATUS_FILE
//     an inbox on PREFIX.contracts.> that calls the payment provider with the saga step's idempotency
//     key and records the outcome on the deal's Payment aggregate; a relay publishes PaymentConfirmed /
//     PaymentDeclined on PREFIX.payments.<payment stream>. STATUS_FILE: "<provider charges> <provider
//     refunds> <charged> <refused> <refunded>".
//
// The provider stands for a third party outside both services: its own store in PROVIDER_DIR, which
// outlives every payments process. Performing an operation appends one event to stream
// "charge-<key>" / "refund-<key>" with ExpectedVersion::no_stream(); a call repeated with the same key
// finds the stream and answers as the first did, with no second effect, as a real provider's
// idempotency keys do. It declines deals whose number % 7 == 0, and answers charges of deals % 11 == 0
// only 4 s after performing them (until then: kUnavailable "timeout"), after the saga's deadline.
//
// Status files are replaced atomically every 500 ms; both services run until killed. URLS: comma-
// separated NATS servers. The file stays whole: it is one test fixture, the two services' types and
// the provider are each small, and the test reads the records they write.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/jetstream_transport.h"
#include "strata/messaging/relay.h"
#include "strata/messaging/saga_runner.h"

namespace {

using namespace strata;
using std::chrono::milliseconds;

constexpr milliseconds kPaymentWindow{3'000};
constexpr milliseconds kLateAnswer{4'000};

// ---- messages between the services ----
struct ActivationRequested {  // local to contracts: starts the saga
  static constexpr std::string_view kType = "contracts.activation_requested.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &ActivationRequested::contract), field("cents", &ActivationRequested::cents));
};
struct ChargeRequested {
  static constexpr std::string_view kType = "contracts.charge_requested.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &ChargeRequested::contract), field("cents", &ChargeRequested::cents));
};
struct RefundRequested {
  static constexpr std::string_view kType = "contracts.refund_requested.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &RefundRequested::contract));
};
struct PaymentConfirmed {
  static constexpr std::string_view kType = "payments.payment_confirmed.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &PaymentConfirmed::contract));
};
struct PaymentDeclined {
  static constexpr std::string_view kType = "payments.payment_declined.v1";
  std::string contract;
  std::string reason;
  static constexpr auto kFields =
      fields(field("contract", &PaymentDeclined::contract), field("reason", &PaymentDeclined::reason));
};

// ---- contracts: the Titles aggregate and the commands on it ----
struct ReserveTitles {
  static constexpr std::string_view kType = "catalog.reserve_titles.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &ReserveTitles::contract));
};
struct ReleaseTitles {
  static constexpr std::string_view kType = "catalog.release_titles.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &ReleaseTitles::contract));
};
struct ShowTitles {
  static constexpr std::string_view kType = "catalog.show_titles.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &ShowTitles::contract));
};
struct Reserved {
  static constexpr std::string_view kType = "catalog.reserved.v1";
  static constexpr auto kFields = fields();
};
struct Released {
  static constexpr std::string_view kType = "catalog.released.v1";
  static constexpr auto kFields = fields();
};
struct Shown {
  static constexpr std::string_view kType = "catalog.shown.v1";
  static constexpr auto kFields = fields();
};
class Titles : public Aggregate<Titles, Events<Reserved, Released, Shown>> {
 public:
  Status reserve() {
    if (reserved_) return Status::rejected("already reserved");
    record(Reserved{});
    return {};
  }
  Status release() {
    if (!reserved_) return Status::rejected("not reserved");
    record(Released{});
    return {};
  }
  Status show() {
    if (!reserved_) return Status::rejected("not reserved");
    record(Shown{});
    return {};
  }

 private:
  friend Aggregate;
  void apply(const Reserved&) { reserved_ = true; }
  void apply(const Released&) { reserved_ = false; }
  void apply(const Shown&) {}
  bool reserved_ = false;
};

// ---- contracts: the saga ----
struct ActivationStarted {
  static constexpr std::string_view kType = "contracts.activation_started.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &ActivationStarted::contract), field("cents", &ActivationStarted::cents));
};
struct PaymentTaken {
  static constexpr std::string_view kType = "contracts.payment_taken.v1";
  static constexpr auto kFields = fields();
};

class Activation
    : public ProcessManager<
          Activation, Events<ActivationStarted, PaymentTaken>,
          Triggers<ActivationRequested, PaymentConfirmed, PaymentDeclined, DeadlineReached, CommandSucceeded>> {
 public:
  static constexpr std::string_view kName = "activation";
  static std::string correlate(const ActivationRequested& e) { return e.contract; }
  static std::string correlate(const PaymentConfirmed& e) { return e.contract; }
  static std::string correlate(const PaymentDeclined& e) { return e.contract; }

  void handle(const ActivationRequested& e) {
    record(ActivationStarted{e.contract, e.cents});
    send("reserve", ReserveTitles{contract_});
  }
  void handle(const CommandSucceeded& s) {
    if (s.step == "reserve") {
      step_completed("reserve", ReleaseTitles{contract_});
      publish("charge", ChargeRequested{contract_, cents_});
      schedule("payment", kPaymentWindow);
    } else if (s.step == "show") {
      step_completed("show");
      complete();
    }
  }
  void handle(const PaymentConfirmed&) {
    if (paid_) return;  // answered twice: charged once, nothing more to do
    record(PaymentTaken{});
    if (phase() == SagaPhase::kRunning) {
      cancel_deadline("payment");
      step_completed_publishing("charge", RefundRequested{contract_});
      send("show", ShowTitles{contract_});
    } else {
      publish("late-refund", RefundRequested{contract_});  // confirmed after compensation began
    }
  }
  void handle(const PaymentDeclined& e) { compensate("payment declined: " + e.reason); }
  void handle(const DeadlineReached&) { compensate("no answer from payments in time"); }

  bool paid() const { return paid_; }

 private:
  friend ProcessManager;
  void apply(const ActivationStarted& e) {
    contract_ = e.contract;
    cents_ = e.cents;
  }
  void apply(const PaymentTaken&) { paid_ = true; }
  std::string contract_;
  std::int64_t cents_ = 0;
  bool paid_ = false;
};

// ---- payments: the Payment aggregate ----
struct PaymentCharged {
  static constexpr std::string_view kType = "payments.charged.v1";
  std::string contract;
  std::string key;
  static constexpr auto kFields =
      fields(field("contract", &PaymentCharged::contract), field("key", &PaymentCharged::key));
};
struct PaymentRefused {
  static constexpr std::string_view kType = "payments.refused.v1";
  std::string contract;
  std::string key;
  std::string reason;
  static constexpr auto kFields = fields(field("contract", &PaymentRefused::contract),
                                         field("key", &PaymentRefused::key), field("reason", &PaymentRefused::reason));
};
struct PaymentRefunded {
  static constexpr std::string_view kType = "payments.refunded.v1";
  std::string contract;
  std::string key;
  static constexpr auto kFields =
      fields(field("contract", &PaymentRefunded::contract), field("key", &PaymentRefunded::key));
};
class Payment : public Aggregate<Payment, Events<PaymentCharged, PaymentRefused, PaymentRefunded>> {
 public:
  void charged(const std::string& contract, const std::string& key) { record(PaymentCharged{contract, key}); }
  void refused(const std::string& contract, const std::string& key, const std::string& reason) {
    record(PaymentRefused{contract, key, reason});
  }
  void refunded(const std::string& contract, const std::string& key) { record(PaymentRefunded{contract, key}); }

 private:
  friend Aggregate;
  void apply(const PaymentCharged&) {}
  void apply(const PaymentRefused&) {}
  void apply(const PaymentRefunded&) {}
};

// ---- the payment provider ----
// One operation the provider performed: the only event of its stream. saga_crash_test.cc reads it.
struct ProviderOperation {
  static constexpr std::string_view kType = "provider.operation.v1";
  std::string kind;  // "charge" or "refund"
  std::string key;
  std::string contract;
  std::string outcome;  // "charged", "declined" or "refunded"
  std::int64_t performed_us = 0;
  static constexpr auto kFields =
      fields(field("kind", &ProviderOperation::kind), field("key", &ProviderOperation::key),
             field("contract", &ProviderOperation::contract), field("outcome", &ProviderOperation::outcome),
             field("performed_us", &ProviderOperation::performed_us));
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Provider {
 public:
  explicit Provider(EventStore& store) : store_(store) {}

  // Charges deal `contract` once per `key`: the outcome of the first call with this key.
  Result<ProviderOperation> charge(const std::string& key, const std::string& contract) {
    const std::int64_t deal = std::stoll(contract);
    STRATA_ASSIGN_OR_RETURN(ProviderOperation op,
                            perform("charge", key, contract, deal % 7 == 0 ? "declined" : "charged"));
    if (deal % 11 == 0 && now_us() < op.performed_us + std::chrono::microseconds(kLateAnswer).count())
      return Status::unavailable("payment provider: timeout (key \"" + key + "\" is answered late)");
    return op;
  }
  Result<ProviderOperation> refund(const std::string& key, const std::string& contract) {
    return perform("refund", key, contract, "refunded");
  }

 private:
  Result<ProviderOperation> perform(const std::string& kind, const std::string& key, const std::string& contract,
                                    const std::string& outcome) {
    STRATA_ASSIGN_OR_RETURN(StreamId stream, StreamId::parse(kind + "-" + subject_token(key)));
    ProviderOperation op{kind, key, contract, outcome, now_us()};
    auto done = store_.append(stream, ExpectedVersion::no_stream(), to_event_data(op));
    if (done.ok()) return op;
    if (done.status().code() != StatusCode::kWrongExpectedVersion) return done.status();
    // Performed before: the original answer, no second effect.
    STRATA_ASSIGN_OR_RETURN(StreamSlice first, store_.read_stream(stream, ReadDirection::kForward, 1, 1));
    ProviderOperation original;
    STRATA_RETURN_IF_ERROR(decode_json(first.events.at(0).payload, original));
    return original;
  }

  EventStore& store_;
};

// ---- plumbing ----
void write_status(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
  }
  std::filesystem::rename(tmp, path);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

[[noreturn]] void die(const Status& s, const char* what) {
  std::fprintf(stderr, "saga_crash_service: %s: %s\n", what, s.to_string().c_str());
  std::exit(2);
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) die(r.status(), what);
  return std::move(r).value();
}

JetStreamOptions transport_options(const std::string& urls, const std::string& prefix) {
  JetStreamOptions o;
  o.servers = split(urls);
  o.stream = "S" + prefix;
  o.subjects = {prefix + ".>"};
  o.replicas = 3;
  o.publish_timeout = milliseconds(2'000);
  o.reconnect_wait = milliseconds(100);
  return o;
}

RocksEventStore::Options store_options() {
  RocksEventStore::Options o;
  o.sync = false;  // a killed process keeps what it wrote; only a power loss needs fsync
  o.block_cache_bytes = std::size_t{16} << 20;
  o.write_buffer_bytes = std::size_t{8} << 20;
  return o;
}

RelayOptions relay_options(const std::string& name, const std::string& subject_prefix) {
  RelayOptions o;
  o.name = name;
  o.source = name;
  o.subject_prefix = subject_prefix;
  o.first_backoff = milliseconds(50);
  o.max_backoff = milliseconds(1'000);
  o.checkpoint_interval = milliseconds(100);
  return o;
}

InboxOptions inbox_options(const std::string& name, const std::string& filter) {
  InboxOptions o;
  o.name = name;
  o.consumer.filter = filter;
  o.consumer.ack_wait = milliseconds(2'000);
  o.max_attempts = 1'000'000;  // a late answer is retried until it comes; nothing is parked
  o.first_backoff = milliseconds(20);
  o.max_backoff = milliseconds(500);
  return o;
}

StreamId stream_id(const std::string& text) { return must(StreamId::parse(text), "stream id"); }

int contracts(const std::string& dir, const std::string& urls, const std::string& prefix, std::int64_t total,
              const std::string& status_file) {
  auto store = must(RocksEventStore::open(store_options(), dir), "open store");
  auto transport = must(JetStreamTransport::connect(transport_options(urls, prefix)), "connect");
  Repository<Titles> titles(*store);

  SagaRunnerOptions so;
  so.first_backoff = milliseconds(20);
  so.max_backoff = milliseconds(500);
  so.poll_interval = milliseconds(50);
  SagaRunner<Activation> runner(*store, store->projection_storage(), so);
  auto on = [&](auto action) {
    return [&, action](const auto& command, const CommandContext& ctx) -> Status {
      // A command carried out just before a crash is carried out again after it (its answer was not
      // saved): its effect is there, and the rule it would break now ("already reserved") must not
      // fail it.
      STRATA_ASSIGN_OR_RETURN(std::optional<EventLocation> done, store->lookup_event(EventId::derive(ctx.key, 0)));
      if (done) return {};
      STRATA_ASSIGN_OR_RETURN(Titles t, titles.load_or_create(stream_id("titles-" + command.contract)));
      STRATA_RETURN_IF_ERROR(action(t));
      return titles.save_idempotent(t, ctx.key, ctx.metadata).status();
    };
  };
  runner.on_command<ReserveTitles>(on([](Titles& t) { return t.reserve(); }));
  runner.on_command<ShowTitles>(on([](Titles& t) { return t.show(); }));
  runner.on_command<ReleaseTitles>(on([](Titles& t) { return t.release(); }));

  Inbox inbox(*store, store->projection_storage(), *transport,
              inbox_options("contracts-inbox", prefix + ".payments.>"));
  runner.attach<PaymentConfirmed, PaymentDeclined>(inbox);

  RelayOptions ro = relay_options("contracts.relay", prefix + ".contracts");
  ro.selection.event_types = {std::string(saga::MessageSent::kType)};
  add_saga_messages(ro.mapping);
  Relay relay(*store, store->projection_storage(), *transport, std::move(ro));

  if (auto s = runner.start(); !s.ok()) die(s, "start saga runner");
  if (auto s = relay.start(); !s.ok()) die(s, "start relay");
  if (auto s = inbox.start(); !s.ok()) die(s, "start inbox");

  // Progress, every 500 ms: the sagas that ended, were paid, asked for a refund, asked for a charge. A
  // saga that completed, or ended after it was paid, changes no more and is not loaded again.
  std::atomic<std::int64_t> appended{0};
  std::thread reporter([&] {
    std::vector<char> ended(static_cast<std::size_t>(total)), paid(static_cast<std::size_t>(total)),
        refund(static_cast<std::size_t>(total)), charge(static_cast<std::size_t>(total)),
        settled(static_cast<std::size_t>(total));
    for (;;) {
      for (std::int64_t d = 0; d < total; ++d) {
        const auto i = static_cast<std::size_t>(d);
        if (settled[i]) continue;
        auto p = runner.load(std::to_string(d));
        if (!p.ok()) continue;
        const SagaPhase phase = p->phase();
        ended[i] = phase == SagaPhase::kCompleted || phase == SagaPhase::kCompensated;
        paid[i] = p->paid();
        refund[i] = p->paid() && phase != SagaPhase::kRunning && phase != SagaPhase::kCompleted;
        // The charge is published with the reserve step's completion.
        const auto& steps = p->saga().steps;
        charge[i] = std::any_of(steps.begin(), steps.end(), [](const auto& s) { return s.name == "reserve"; });
        settled[i] = phase == SagaPhase::kCompleted || (ended[i] && paid[i]);
      }
      auto count = [](const std::vector<char>& v) { return std::to_string(std::count(v.begin(), v.end(), 1)); };
      write_status(status_file, std::to_string(appended.load()) + " " + count(ended) + " " + count(paid) + " " +
                                    count(refund) + " " + count(charge));
      std::this_thread::sleep_for(milliseconds(500));
    }
  });

  // Deals are requested at 25 a second, so that they go on while the processes are killed. After a
  // restart the ones appended before are found by their derived ids and skipped at once (appending
  // them again would write nothing either: the store returns the original result).
  constexpr double kPerSecond = 25;
  auto due = std::chrono::steady_clock::now();
  for (std::int64_t d = 0; d < total; ++d) {
    const EventId id = EventId::derive("deal-" + std::to_string(d), 0);
    if (must(store->lookup_event(id), "lookup")) {
      appended = d + 1;
      continue;
    }
    due +=
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(1 / kPerSecond));
    std::this_thread::sleep_until(due);
    Metadata m;
    m.correlation_id = "deal-" + std::to_string(d);
    const ActivationRequested request{std::to_string(d), 1'000 + d};
    (void)must(store->append(stream_id("contract-" + std::to_string(d)), ExpectedVersion::any(),
                             to_event_data(request, id, m)),
               "append");
    appended = d + 1;
  }
  reporter.join();  // runs until the process is killed
  return 0;
}

int payments(const std::string& dir, const std::string& provider_dir, const std::string& urls,
             const std::string& prefix, const std::string& status_file) {
  auto store = must(RocksEventStore::open(store_options(), dir), "open store");
  auto provider_store = must(RocksEventStore::open(store_options(), provider_dir), "open provider store");
  auto transport = must(JetStreamTransport::connect(transport_options(urls, prefix)), "connect");
  Provider provider(*provider_store);
  Repository<Payment> payments(*store);
  auto payment_of = [](const std::string& contract) { return stream_id("payment-" + contract); };

  Inbox inbox(*store, store->projection_storage(), *transport,
              inbox_options("payments-inbox", prefix + ".contracts.>"));
  inbox.on<ChargeRequested>([&](const ChargeRequested& m, InboxContext& ctx) -> Status {
    const std::string key = saga_idempotency_key(ctx.message());
    STRATA_ASSIGN_OR_RETURN(ProviderOperation op, provider.charge(key, m.contract));
    STRATA_ASSIGN_OR_RETURN(Payment p, payments.load_or_create(payment_of(m.contract)));
    if (op.outcome == "charged") {
      p.charged(m.contract, key);
    } else {
      p.refused(m.contract, key, "card declined");
    }
    return ctx.save(payments, p).status();
  });
  inbox.on<RefundRequested>([&](const RefundRequested& m, InboxContext& ctx) -> Status {
    const std::string key = saga_idempotency_key(ctx.message());
    STRATA_ASSIGN_OR_RETURN(ProviderOperation op, provider.refund(key, m.contract));
    STRATA_ASSIGN_OR_RETURN(Payment p, payments.load_or_create(payment_of(m.contract)));
    p.refunded(m.contract, op.key);
    return ctx.save(payments, p).status();
  });

  RelayOptions ro = relay_options("payments.relay", prefix + ".payments");
  ro.selection.event_types = {std::string(PaymentCharged::kType), std::string(PaymentRefused::kType)};
  ro.mapping.publish<PaymentCharged>(
      [](const PaymentCharged& e, const EventView&) { return PaymentConfirmed{e.contract}; });
  ro.mapping.publish<PaymentRefused>([](const PaymentRefused& e, const EventView&) {
    return PaymentDeclined{e.contract, e.reason};
  });
  Relay relay(*store, store->projection_storage(), *transport, std::move(ro));

  if (auto s = relay.start(); !s.ok()) die(s, "start relay");
  if (auto s = inbox.start(); !s.ok()) die(s, "start inbox");

  // Progress, every 500 ms: the provider's operations, and the outcomes recorded on payments.
  LogFilter outcomes;
  outcomes.event_types = {std::string(PaymentCharged::kType), std::string(PaymentRefused::kType),
                          std::string(PaymentRefunded::kType)};
  for (;;) {
    std::uint64_t charges = 0, refunds = 0;
    std::string after;
    do {
      StreamList page = must(provider_store->list_streams(after, 1'000), "list provider streams");
      for (const auto& s : page.streams) {
        if (s.stream_id.starts_with("charge-")) ++charges;
        if (s.stream_id.starts_with("refund-")) ++refunds;
      }
      after = page.next_after;
    } while (!after.empty());
    std::uint64_t charged = 0, refused = 0, refunded = 0;
    for (Position from = 1;;) {
      LogVisit v = must(store->visit_log(from, 10'000, outcomes,
                                         [&](const EventView& e) -> Status {
                                           if (e.type == PaymentCharged::kType) ++charged;
                                           if (e.type == PaymentRefused::kType) ++refused;
                                           if (e.type == PaymentRefunded::kType) ++refunded;
                                           return {};
                                         }),
                        "read payments");
      from = v.next_position;
      if (v.end_of_log) break;
    }
    write_status(status_file, std::to_string(charges) + " " + std::to_string(refunds) + " " + std::to_string(charged) +
                                  " " + std::to_string(refused) + " " + std::to_string(refunded));
    std::this_thread::sleep_for(milliseconds(500));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 6 && args[0] == "contracts")
    return contracts(args[1], args[2], args[3], std::stoll(args[4]), args[5]);
  if (args.size() == 6 && args[0] == "payments") return payments(args[1], args[2], args[3], args[4], args[5]);
  std::fprintf(stderr,
               "usage: saga_crash_service contracts DIR URLS PREFIX TOTAL STATUS | payments DIR PROVIDER_DIR URLS "
               "PREFIX STATUS\n");
  return 2;
}
