// Process managers run by a SagaRunner: routing, commands with idempotency keys, deadlines,
// compensation in reverse order, needs attention (retry / skip), late and duplicate answers, status and
// time travel, and the relay mapping of the messages sagas decide.
#include "strata/messaging/saga_runner.h"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "strata/core/aggregate.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"
#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/relay.h"
#include "strata/projections/memory_projection_storage.h"
#include "transport_conformance.h"

using namespace strata;
using std::chrono::milliseconds;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

// ---- the contracts service's events, commands and messages ----
struct ActivationRequested {  // a local event: starts the saga
  static constexpr std::string_view kType = "contracts.activation_requested.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &ActivationRequested::contract), field("cents", &ActivationRequested::cents));
};
struct PaymentConfirmed {  // from the payments service
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
struct ChargeRequested {  // to the payments service
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
// Commands for the local Titles aggregate.
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

// ---- the local aggregate the commands act on ----
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
  bool reserved() const { return reserved_; }
  bool visible() const { return visible_; }
  int releases() const { return releases_; }

 private:
  friend Aggregate;
  void apply(const Reserved&) { reserved_ = true; }
  void apply(const Released&) {
    reserved_ = false;
    visible_ = false;
    ++releases_;
  }
  void apply(const Shown&) { visible_ = true; }
  bool reserved_ = false;
  bool visible_ = false;
  int releases_ = 0;
};

// ---- the process manager ----
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

  static inline milliseconds payment_window{2'000};

  void handle(const ActivationRequested& e) {
    record(ActivationStarted{e.contract, e.cents});
    send("reserve", ReserveTitles{contract_});
  }
  void handle(const CommandSucceeded& s) {
    if (s.step == "reserve") {
      step_completed("reserve", ReleaseTitles{contract_});
      publish("charge", ChargeRequested{contract_, cents_});
      schedule("payment", payment_window);
    } else if (s.step == "show") {
      step_completed("show");
      complete();
    }
  }
  void handle(const PaymentConfirmed&) {
    if (paid_) return;  // a second confirmation: charged once, nothing more to do
    record(PaymentTaken{});
    if (phase() == SagaPhase::kRunning) {
      cancel_deadline("payment");
      step_completed_publishing("charge", RefundRequested{contract_});
      send("show", ShowTitles{contract_});
    } else {
      // Confirmed after compensation began: the money goes back, the titles stay hidden.
      publish("late-refund", RefundRequested{contract_});
    }
  }
  void handle(const PaymentDeclined& e) { compensate("payment declined: " + e.reason); }
  void handle(const DeadlineReached& d) { compensate("no answer from payments in time (" + d.name + ")"); }

  const std::string& contract() const { return contract_; }
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

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

// One service: its store, the saga runner, and the command handlers on the Titles aggregate.
struct Service {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Repository<Titles> titles{store};
  std::unique_ptr<SagaRunner<Activation>> runner;
  std::atomic<int> release_failures{0};  // the next N releases fail (kUnavailable)
  std::mutex mu;
  std::map<std::string, int> command_calls;  // key -> calls

  explicit Service(SagaRunnerOptions options = fast_options()) {
    runner = std::make_unique<SagaRunner<Activation>>(store, storage, options);
    auto on = [this](auto action) {
      return [this, action](const auto& c, const CommandContext& ctx) -> Status {
        {
          std::lock_guard lock(mu);
          ++command_calls[ctx.key];
        }
        STRATA_ASSIGN_OR_RETURN(Titles t, titles.load_or_create(sid("titles-" + c.contract)));
        STRATA_RETURN_IF_ERROR(action(t));
        return titles.save_idempotent(t, ctx.key, ctx.metadata).status();
      };
    };
    runner->on_command<ReserveTitles>(on([](Titles& t) { return t.reserve(); }));
    runner->on_command<ShowTitles>(on([](Titles& t) { return t.show(); }));
    runner->on_command<ReleaseTitles>(on([this](Titles& t) -> Status {
      if (release_failures > 0) {
        --release_failures;
        return Status::unavailable("the catalogue database is down");
      }
      return t.release();
    }));
  }
  static SagaRunnerOptions fast_options() {
    SagaRunnerOptions o;
    o.first_backoff = milliseconds(2);
    o.max_backoff = milliseconds(10);
    o.command_attempts = 3;
    o.poll_interval = milliseconds(20);
    return o;
  }
  void request(const std::string& contract, std::int64_t cents = 5'000'000'000) {
    Metadata m;
    m.correlation_id = "deal-" + contract;
    REQUIRE(store
                .append(sid("contract-" + contract), ExpectedVersion::any(),
                        to_event_data(ActivationRequested{contract, cents}, EventId::generate(), m))
                .ok());
  }
  void idle() { REQUIRE(runner->wait_idle(kWait).ok()); }
  Titles title(const std::string& contract) { return titles.load_or_create(sid("titles-" + contract)).value(); }
  SagaStatus status(const std::string& contract) { return runner->status(contract).value(); }
  int calls(const std::string& key) {
    std::lock_guard lock(mu);
    return command_calls[key];
  }
  // The records of type `type` in the saga's stream.
  std::vector<RecordedEvent> records(const std::string& contract, std::string_view type) {
    std::vector<RecordedEvent> out;
    auto slice = store.read_stream(sid("activation-" + contract), ReadDirection::kForward, 1, 10'000).value();
    for (auto& e : slice.events)
      if (e.type == type) out.push_back(e);
    return out;
  }
};

}  // namespace

TEST_CASE("sagas: the happy path — reserve, charge, show — and every record carries the deal's correlation id") {
  Service s;
  REQUIRE(s.runner->start().ok());
  s.request("c1");
  s.idle();
  // Reserved, and a charge request published for the payments service, with a deadline.
  CHECK(s.title("c1").reserved());
  auto sent = s.records("c1", saga::MessageSent::kType);
  REQUIRE(sent.size() == 1);
  saga::MessageSent charge;
  REQUIRE(decode_json(sent[0].payload, charge).ok());
  CHECK(charge.type == ChargeRequested::kType);
  CHECK(charge.key == "activation-c1/charge");
  CHECK(s.status("c1").deadlines.size() == 1);

  REQUIRE(s.runner->deliver(PaymentConfirmed{"c1"}, "payments/msg-1").ok());
  s.idle();
  CHECK(s.title("c1").visible());
  const SagaStatus st = s.status("c1");
  CHECK(st.phase == SagaPhase::kCompleted);
  CHECK(st.deadlines.empty());
  CHECK(st.completed_steps == std::vector<std::string>{"reserve", "charge", "show"});
  CHECK(s.calls("activation-c1/reserve") == 1);
  CHECK(s.calls("activation-c1/show") == 1);
  for (const auto& entry : st.history) CHECK_MESSAGE(entry.correlation_id == "deal-c1", entry.type);
  // The title's own events carry it too, caused by the command records.
  auto title_events = s.store.read_stream(sid("titles-c1"), ReadDirection::kForward, 1, 10).value();
  for (const auto& e : title_events.events) CHECK(e.metadata.correlation_id == "deal-c1");
  CHECK(s.runner->runner_status().last_error.ok());
}

TEST_CASE(
    "sagas: a trigger delivered twice under one key is handled once, and a second answer under its own key "
    "changes nothing") {
  Service s;
  REQUIRE(s.runner->start().ok());
  s.request("c2");
  s.idle();
  REQUIRE(s.runner->deliver(PaymentConfirmed{"c2"}, "payments/msg-7").ok());
  const Version after_first = s.runner->load("c2").value().version();
  REQUIRE(s.runner->deliver(PaymentConfirmed{"c2"}, "payments/msg-7").ok());  // redelivered
  CHECK(s.runner->load("c2").value().version() == after_first);
  REQUIRE(s.runner->deliver(PaymentConfirmed{"c2"}, "payments/msg-8").ok());  // the provider answered twice
  s.idle();
  CHECK(s.calls("activation-c2/show") == 1);
  CHECK(s.records("c2", saga::MessageSent::kType).size() == 1);  // no refund, no second charge
  CHECK(s.status("c2").phase == SagaPhase::kCompleted);
}

TEST_CASE("sagas: a decline compensates the completed steps, newest first, and nothing stays reserved") {
  Service s;
  REQUIRE(s.runner->start().ok());
  s.request("c3");
  s.idle();
  REQUIRE(s.runner->deliver(PaymentDeclined{"c3", "card declined"}, "payments/msg-9").ok());
  s.idle();
  const SagaStatus st = s.status("c3");
  CHECK(st.phase == SagaPhase::kCompensated);
  CHECK(st.compensation_reason == "payment declined: card declined");
  CHECK(st.deadlines.empty());
  const Titles t = s.title("c3");
  CHECK(!t.reserved());
  CHECK(!t.visible());
  CHECK(t.releases() == 1);
  CHECK(s.calls("activation-c3/reserve/compensate") == 1);
  // A decline arriving again changes nothing.
  REQUIRE(s.runner->deliver(PaymentDeclined{"c3", "card declined"}, "payments/msg-10").ok());
  s.idle();
  CHECK(s.title("c3").releases() == 1);
}

TEST_CASE(
    "sagas: no answer before the deadline compensates, and a confirmation after that is answered with a refund, "
    "and the titles never show") {
  Activation::payment_window = milliseconds(150);
  Service s;
  REQUIRE(s.runner->start().ok());
  s.request("c4");
  s.idle();
  REQUIRE(s.status("c4").deadlines.size() == 1);
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (s.status("c4").phase != SagaPhase::kCompensated && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(10));
  CHECK(s.status("c4").phase == SagaPhase::kCompensated);
  CHECK(s.status("c4").compensation_reason == "no answer from payments in time (payment)");
  CHECK(s.runner->runner_status().deadlines_fired == 1);

  REQUIRE(s.runner->deliver(PaymentConfirmed{"c4"}, "payments/late").ok());
  s.idle();
  auto sent = s.records("c4", saga::MessageSent::kType);
  REQUIRE(sent.size() == 2);
  saga::MessageSent refund;
  REQUIRE(decode_json(sent[1].payload, refund).ok());
  CHECK(refund.type == RefundRequested::kType);
  CHECK(refund.step == "late-refund");
  CHECK(!s.title("c4").visible());
  CHECK(s.calls("activation-c4/show") == 0);
  Activation::payment_window = milliseconds(2'000);
}

TEST_CASE("sagas: a deadline cancelled when its step completed does nothing when its time comes") {
  Activation::payment_window = milliseconds(100);
  Service s;
  REQUIRE(s.runner->start().ok());
  s.request("c5");
  s.idle();
  REQUIRE(s.runner->deliver(PaymentConfirmed{"c5"}, "payments/c5").ok());
  s.idle();
  std::this_thread::sleep_for(milliseconds(250));
  s.idle();
  CHECK(s.status("c5").phase == SagaPhase::kCompleted);
  CHECK(s.records("c5", saga::DeadlineFired::kType).empty());
  CHECK(s.runner->runner_status().pending_deadlines == 0);
  Activation::payment_window = milliseconds(2'000);
}

TEST_CASE("sagas: a compensation that keeps failing needs attention, and an operator retries it or skips it") {
  Service s;
  REQUIRE(s.runner->start().ok());
  SUBCASE("retry") {
    s.request("c6");
    s.idle();
    s.release_failures = 100;
    REQUIRE(s.runner->deliver(PaymentDeclined{"c6", "no funds"}, "payments/c6").ok());
    s.idle();
    SagaStatus st = s.status("c6");
    CHECK(st.phase == SagaPhase::kNeedsAttention);
    CHECK(st.attention_step == "reserve");
    CHECK(st.attention_reason.find("catalogue database is down") != std::string::npos);
    CHECK(s.runner->needs_attention().value() == std::vector<std::string>{"activation-c6"});
    CHECK(s.runner->retry("c5-does-not-exist").code() != StatusCode::kOk);
    s.release_failures = 0;
    REQUIRE(s.runner->retry("c6").ok());
    s.idle();
    st = s.status("c6");
    CHECK(st.phase == SagaPhase::kCompensated);
    CHECK(s.title("c6").releases() == 1);
    CHECK(s.runner->needs_attention().value().empty());
    CHECK(s.runner->retry("c6").code() == StatusCode::kInvalidArgument);  // nothing to retry now
  }
  SUBCASE("skip") {
    s.request("c7");
    s.idle();
    s.release_failures = 100;
    REQUIRE(s.runner->deliver(PaymentDeclined{"c7", "no funds"}, "payments/c7").ok());
    s.idle();
    REQUIRE(s.status("c7").phase == SagaPhase::kNeedsAttention);
    REQUIRE(s.runner->skip("c7").ok());
    s.idle();
    CHECK(s.status("c7").phase == SagaPhase::kCompensated);
    CHECK(s.title("c7").reserved());  // skipped, not undone: the operator's call
    auto compensated = s.records("c7", saga::StepCompensated::kType);
    REQUIRE(compensated.size() == 1);
    CHECK(compensated[0].payload.find("\"skipped\":true") != std::string::npos);
  }
}

TEST_CASE("sagas: a failed command starts compensation by default, and a rejected one is not retried") {
  Service s;
  REQUIRE(s.runner->start().ok());
  // Reserved by someone else already: the saga's reserve is rejected.
  Titles t = s.title("c8");
  REQUIRE(t.reserve().ok());
  REQUIRE(s.titles.save(t).ok());
  s.request("c8");
  s.idle();
  const SagaStatus st = s.status("c8");
  CHECK(st.phase == SagaPhase::kCompensated);  // nothing completed, so nothing to undo
  CHECK(st.compensation_reason.find("already reserved") != std::string::npos);
  CHECK(s.calls("activation-c8/reserve") == 1);
}

TEST_CASE("sagas: an instance loads as it was at any version, and its history lists every record in order") {
  Service s;
  REQUIRE(s.runner->start().ok());
  s.request("c9");
  s.idle();
  REQUIRE(s.runner->deliver(PaymentConfirmed{"c9"}, "payments/c9").ok());
  s.idle();
  const SagaStatus st = s.status("c9");
  REQUIRE(st.history.size() >= 6);
  CHECK(st.history.front().type == saga::TriggerHandled::kType);
  for (std::size_t i = 0; i < st.history.size(); ++i) CHECK(st.history[i].version == Version(i + 1));
  const Activation early = s.runner->load_at("c9", 2).value();
  CHECK(early.contract() == "c9");
  CHECK(!early.paid());
  CHECK(early.phase() == SagaPhase::kRunning);
  CHECK(s.runner->load("c9").value().paid());
  CHECK(s.runner->load("nobody").status().code() == StatusCode::kNotFound);
  CHECK(s.runner->status("bad key!").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("sagas: a trigger for an instance that does not exist starts it only if its type starts sagas") {
  Service s;
  REQUIRE(s.runner->start().ok());
  REQUIRE(s.runner->deliver(PaymentConfirmed{"ghost"}, "payments/ghost").ok());
  CHECK(s.runner->load("ghost").status().code() == StatusCode::kNotFound);
  CHECK(s.runner->deliver(PaymentConfirmed{"ghost"}, "").code() == StatusCode::kInvalidArgument);
}

TEST_CASE("sagas: a runner stopped and started again goes on from its checkpoint, its deadlines still pending") {
  Activation::payment_window = milliseconds(300);
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  {
    SagaRunner<Activation> runner(store, storage, Service::fast_options());
    runner.on_command<ReserveTitles>([](const ReserveTitles&, const CommandContext&) { return Status(); });
    runner.on_command<ReleaseTitles>([](const ReleaseTitles&, const CommandContext&) { return Status(); });
    REQUIRE(runner.start().ok());
    REQUIRE(store.append(sid("contract-r1"), ExpectedVersion::any(), to_event_data(ActivationRequested{"r1", 1})).ok());
    REQUIRE(runner.wait_idle(kWait).ok());
    REQUIRE(runner.status("r1").value().deadlines.size() == 1);
    REQUIRE(runner.stop().ok());
  }
  SagaRunner<Activation> again(store, storage, Service::fast_options());
  again.on_command<ReleaseTitles>([](const ReleaseTitles&, const CommandContext&) { return Status(); });
  REQUIRE(again.start().ok());
  CHECK(again.runner_status().pending_deadlines == 1);
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (again.status("r1").value().phase != SagaPhase::kCompensated && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(10));
  CHECK(again.status("r1").value().phase == SagaPhase::kCompensated);
  Activation::payment_window = milliseconds(2'000);
}

TEST_CASE("sagas: a relay with add_saga_messages publishes what sagas decided as their own type, once per step") {
  Service s;
  REQUIRE(s.runner->start().ok());
  InProcessTransport transport;
  RelayOptions ro;
  ro.name = "contracts.relay";
  ro.source = "contracts";
  ro.subject_prefix = "contracts";
  ro.selection.event_types = {std::string(saga::MessageSent::kType)};
  add_saga_messages(ro.mapping);
  Relay relay(s.store, s.storage, transport, ro);
  REQUIRE(relay.start().ok());
  s.request("c10");
  s.idle();
  REQUIRE(relay.wait_for(s.store.head_position(), kWait).ok());
  auto consumer = transport.consume({"payments", "contracts.>"}).value();
  auto got = conformance::fetch_n(*consumer, 1, milliseconds(2'000));
  REQUIRE(got.size() == 1);
  CHECK(got[0]->message().type == ChargeRequested::kType);
  ChargeRequested c;
  REQUIRE(decode_json(got[0]->message().payload, c).ok());
  CHECK(c.contract == "c10");
  CHECK(c.cents == 5'000'000'000);
  CHECK(got[0]->message().headers.get(headers::kCorrelationId) == "deal-c10");
  CHECK(saga_idempotency_key(got[0]->message()) == "activation-c10/charge");
  REQUIRE(relay.stop().ok());
}

TEST_CASE("sagas: a command whose effect was saved before a crash, under its key, counts as carried out") {
  Service s;
  s.request("c11");
  // The process died after the reserve command's effect was committed and before its answer was: the
  // effect is there under the step's key. Run again, the rule ("already reserved") would refuse it.
  Titles t = s.title("c11");
  REQUIRE(t.reserve().ok());
  REQUIRE(s.titles.save_idempotent(t, "activation-c11/reserve").ok());
  REQUIRE(s.runner->start().ok());
  s.idle();
  CHECK(s.calls("activation-c11/reserve") == 0);
  CHECK(s.status("c11").phase == SagaPhase::kRunning);
  CHECK(s.records("c11", saga::MessageSent::kType).size() == 1);  // the charge went out
}
