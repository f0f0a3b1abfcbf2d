// A saga whose payment goes to a third party through a Gateway, against every misbehaviour of the
// FaultyProvider: each ends in the right state, with the money right.
//
// The deal saga reserves titles (a local command), charges through the provider (a local command whose
// handler calls the gateway with the step's idempotency key), and shows the titles once the payment is
// confirmed. The provider's answer — at once, or later through its callback (a webhook), possibly twice
// — reaches the saga as PaymentConfirmed / PaymentDeclined under one key per charge, so a repeated
// answer is handled once. A confirmation after compensation began is refunded.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "strata/core/aggregate.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"
#include "strata/messaging/gateway.h"
#include "strata/messaging/saga_runner.h"
#include "strata/messaging/testing/faulty_provider.h"
#include "strata/projections/memory_projection_storage.h"

using namespace strata;
using std::chrono::milliseconds;
using strata::testing::FaultyProvider;
using strata::testing::ProviderBehaviour;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

struct DealSigned {
  static constexpr std::string_view kType = "deals.signed.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &DealSigned::deal));
};
struct PaymentConfirmed {
  static constexpr std::string_view kType = "deals.payment_confirmed.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &PaymentConfirmed::deal));
};
struct PaymentDeclined {
  static constexpr std::string_view kType = "deals.payment_declined.v1";
  std::string deal;
  std::string reason;
  static constexpr auto kFields =
      fields(field("deal", &PaymentDeclined::deal), field("reason", &PaymentDeclined::reason));
};
struct Reserve {
  static constexpr std::string_view kType = "deals.reserve.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &Reserve::deal));
};
struct Release {
  static constexpr std::string_view kType = "deals.release.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &Release::deal));
};
struct Show {
  static constexpr std::string_view kType = "deals.show.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &Show::deal));
};
struct Charge {
  static constexpr std::string_view kType = "deals.charge.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &Charge::deal));
};
struct Refund {
  static constexpr std::string_view kType = "deals.refund.v1";
  std::string deal;
  std::string charge_key;
  static constexpr auto kFields = fields(field("deal", &Refund::deal), field("charge_key", &Refund::charge_key));
};

// The catalogue's aggregate: titles reserved, then visible, or released.
struct Reserved {
  static constexpr std::string_view kType = "titles.reserved.v1";
  static constexpr auto kFields = fields();
};
struct Released {
  static constexpr std::string_view kType = "titles.released.v1";
  static constexpr auto kFields = fields();
};
struct Shown {
  static constexpr std::string_view kType = "titles.shown.v1";
  static constexpr auto kFields = fields();
};
class Titles : public Aggregate<Titles, Events<Reserved, Released, Shown>> {
 public:
  void reserve() { record(Reserved{}); }
  void release() { record(Released{}); }
  Status show() {
    if (!reserved_) return Status::rejected("released titles cannot be shown");
    record(Shown{});
    return {};
  }
  bool visible() const { return visible_; }
  bool reserved() const { return reserved_; }

 private:
  friend Aggregate;
  void apply(const Reserved&) { reserved_ = true; }
  void apply(const Released&) {
    reserved_ = false;
    visible_ = false;
  }
  void apply(const Shown&) { visible_ = true; }
  bool reserved_ = false;
  bool visible_ = false;
};

struct Opened {
  static constexpr std::string_view kType = "deals.saga_opened.v1";
  std::string deal;
  static constexpr auto kFields = fields(field("deal", &Opened::deal));
};
struct Paid {
  static constexpr std::string_view kType = "deals.saga_paid.v1";
  static constexpr auto kFields = fields();
};

class DealSaga
    : public ProcessManager<
          DealSaga, Events<Opened, Paid>,
          Triggers<DealSigned, PaymentConfirmed, PaymentDeclined, CommandSucceeded, CommandFailed, DeadlineReached>> {
 public:
  static constexpr std::string_view kName = "deal";
  static std::string correlate(const DealSigned& e) { return e.deal; }
  static std::string correlate(const PaymentConfirmed& e) { return e.deal; }
  static std::string correlate(const PaymentDeclined& e) { return e.deal; }
  static inline milliseconds payment_window{300};

  void handle(const DealSigned& e) {
    record(Opened{e.deal});
    send("reserve", Reserve{e.deal});
  }
  void handle(const CommandSucceeded& s) {
    if (s.step == "reserve") {
      step_completed("reserve", Release{deal_});
      send("charge", Charge{deal_});
      schedule("payment", payment_window);
    } else if (s.step == "show") {
      step_completed("show");
      complete();
    }
  }
  void handle(const CommandFailed& f) { compensate("step " + f.step + " failed: " + f.reason); }
  void handle(const PaymentConfirmed&) {
    if (paid_) return;  // charged once: a second confirmation changes nothing
    record(Paid{});
    if (phase() == SagaPhase::kRunning) {
      cancel_deadline("payment");
      step_completed("charge", Refund{deal_, charge_key()});
      send("show", Show{deal_});
    } else {
      send("late-refund", Refund{deal_, charge_key()});  // the money comes back; nothing is shown
    }
  }
  void handle(const PaymentDeclined& e) { compensate("declined: " + e.reason); }
  void handle(const DeadlineReached&) { compensate("no payment answer in time"); }

 private:
  friend ProcessManager;
  std::string charge_key() const { return "deal-" + deal_ + "/charge"; }
  void apply(const Opened& e) { deal_ = e.deal; }
  void apply(const Paid&) { paid_ = true; }
  std::string deal_;
  bool paid_ = false;
};

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

// The service: the deal saga, the catalogue, and a payments adapter on the provider.
struct DealService {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  Repository<Titles> titles{store};
  FaultyProvider provider;
  std::unique_ptr<SagaRunner<DealSaga>> runner;

  explicit DealService(FaultyProvider::Options provider_options = {}) : provider(provider_options) {
    SagaRunnerOptions o;
    o.first_backoff = milliseconds(5);
    o.max_backoff = milliseconds(20);
    o.command_attempts = 4;
    o.poll_interval = milliseconds(20);
    runner = std::make_unique<SagaRunner<DealSaga>>(store, storage, o);
    auto on_titles = [this](auto action) {
      return [this, action](const auto& c, const CommandContext& ctx) -> Status {
        STRATA_ASSIGN_OR_RETURN(Titles t, titles.load_or_create(sid("titles-" + c.deal)));
        STRATA_RETURN_IF_ERROR(action(t));
        return titles.save_idempotent(t, ctx.key, ctx.metadata).status();
      };
    };
    runner->on_command<Reserve>(on_titles([](Titles& t) -> Status {
      t.reserve();
      return {};
    }));
    runner->on_command<Release>(on_titles([](Titles& t) -> Status {
      t.release();
      return {};
    }));
    runner->on_command<Show>(on_titles([](Titles& t) { return t.show(); }));
    // Charging: the provider's answer, now or later, becomes a trigger of the saga, one per charge key.
    runner->on_command<Charge>([this](const Charge& c, const CommandContext& ctx) -> Status {
      GatewayRequest r{"charge", ctx.key, "{\"deal\":\"" + c.deal + "\"}", milliseconds(50),
                       ctx.metadata.correlation_id};
      STRATA_ASSIGN_OR_RETURN(GatewayResponse answer, provider.call(r));  // kUnavailable: tried again
      return answer_to_saga(c.deal, ctx.key, answer.outcome, answer.reason);
    });
    runner->on_command<Refund>([this](const Refund& c, const CommandContext& ctx) -> Status {
      GatewayRequest r{"refund", c.charge_key, "{}", milliseconds(50), ctx.metadata.correlation_id};
      return provider.call(r).status();
    });
    provider.on_answer([this](const GatewayAnswer& a) {
      if (a.operation != "charge") return;
      const std::string deal = a.idempotency_key.substr(5, a.idempotency_key.find('/') - 5);  // "deal-<d>/charge"
      (void)answer_to_saga(deal, a.idempotency_key, a.outcome, a.reason);
    });
  }

  Status answer_to_saga(const std::string& deal, const std::string& charge_key, GatewayOutcome outcome,
                        const std::string& reason) {
    const std::string key = "provider/" + charge_key;  // whichever way the answer comes, once
    if (outcome == GatewayOutcome::kAccepted) return runner->deliver(PaymentConfirmed{deal}, key);
    if (outcome == GatewayOutcome::kDeclined) return runner->deliver(PaymentDeclined{deal, reason}, key);
    return {};  // pending: the answer comes through the callback
  }

  void sign(const std::string& deal) {
    REQUIRE(store.append(sid("contract-" + deal), ExpectedVersion::any(), to_event_data(DealSigned{deal})).ok());
  }
  // Waits until the deal's saga has ended and the provider has nothing more to say.
  SagaStatus settle(const std::string& deal) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    for (;;) {
      REQUIRE(runner->wait_idle(kWait).ok());
      auto st = runner->status(deal);
      if (st.ok() && (st->phase == SagaPhase::kCompleted || st->phase == SagaPhase::kCompensated)) {
        provider.wait_for_answers();
        REQUIRE(runner->wait_idle(kWait).ok());
        return runner->status(deal).value();
      }
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  bool visible(const std::string& deal) { return titles.load_or_create(sid("titles-" + deal)).value().visible(); }
  // Money the provider keeps from the deal: charged and not declined, minus refunded.
  std::size_t charges(const std::string& deal) { return provider.effects("deal-" + deal + "/charge"); }
};

}  // namespace

TEST_CASE("saga and provider: accepted at once — completed, charged once, shown") {
  DealService s;
  REQUIRE(s.runner->start().ok());
  s.provider.script("deal-a/charge", ProviderBehaviour::kAccept);
  s.sign("a");
  const SagaStatus st = s.settle("a");
  CHECK(st.phase == SagaPhase::kCompleted);
  CHECK(s.visible("a"));
  CHECK(s.charges("a") == 1);
}

TEST_CASE("saga and provider: declined — compensated, nothing shown, no money kept") {
  DealService s;
  REQUIRE(s.runner->start().ok());
  s.provider.script("deal-b/charge", ProviderBehaviour::kDecline);
  s.sign("b");
  const SagaStatus st = s.settle("b");
  CHECK(st.phase == SagaPhase::kCompensated);
  CHECK(st.compensation_reason == "declined: card declined");
  CHECK(!s.visible("b"));
  CHECK(s.provider.effects("deal-b/charge") == 1);  // the decline itself: no money taken, no refund
}

TEST_CASE(
    "saga and provider: the answer lost (timeout after the effect, or a connection broken mid-call) — "
    "the retry with the same key finds the charge, completed, charged once") {
  for (ProviderBehaviour b :
       {ProviderBehaviour::kTimeout, ProviderBehaviour::kCrashMidCall, ProviderBehaviour::kTimeoutBeforeEffect}) {
    CAPTURE(testing::provider_behaviour_name(b));
    DealService s;
    REQUIRE(s.runner->start().ok());
    s.provider.script("deal-c/charge", b);
    s.sign("c");
    const SagaStatus st = s.settle("c");
    CHECK(st.phase == SagaPhase::kCompleted);
    CHECK(s.visible("c"));
    CHECK(s.provider.calls("deal-c/charge") == 2);
    CHECK(s.charges("c") == 1);
  }
}

TEST_CASE("saga and provider: confirmed twice through the callback — charged once, completed once") {
  DealService s;
  REQUIRE(s.runner->start().ok());
  s.provider.script("deal-d/charge", ProviderBehaviour::kDuplicateAnswer);
  s.sign("d");
  const SagaStatus st = s.settle("d");
  CHECK(st.phase == SagaPhase::kCompleted);
  CHECK(s.provider.answers_delivered() == 2);
  CHECK(s.charges("d") == 1);
  CHECK(s.visible("d"));
  int shows = 0;
  for (const auto& entry : st.history)
    if (entry.type == saga::CommandIssued::kType) ++shows;
  CHECK(shows == 3);  // reserve, charge, show: once each
}

TEST_CASE("saga and provider: pending, then confirmed through the callback in time — completed") {
  DealService s;
  REQUIRE(s.runner->start().ok());
  s.provider.script("deal-e/charge", ProviderBehaviour::kPendingThenAnswer);
  s.sign("e");
  const SagaStatus st = s.settle("e");
  CHECK(st.phase == SagaPhase::kCompleted);
  CHECK(s.charges("e") == 1);
}

TEST_CASE(
    "saga and provider: confirmed after the deadline — compensated, the late payment refunded, the titles "
    "never shown") {
  FaultyProvider::Options o;
  o.late_delay = milliseconds(800);  // the saga waits 300 ms
  DealService s(o);
  REQUIRE(s.runner->start().ok());
  s.provider.script("deal-f/charge", ProviderBehaviour::kLateAnswer);
  s.sign("f");
  const SagaStatus st = s.settle("f");
  CHECK(st.phase == SagaPhase::kCompensated);
  CHECK(st.compensation_reason == "no payment answer in time");
  CHECK(!s.visible("f"));
  // settle() waited for the late answer: it was refunded, once.
  CHECK(s.provider.answers_delivered() == 1);
  CHECK(s.provider.effects("deal-f/charge") == 2);  // the charge, and its refund
  const auto history = s.runner->status("f").value().history;
  CHECK(std::count_if(history.begin(), history.end(), [](const auto& e) {
          return e.type == saga::CommandAnswered::kType;
        }) == 4);  // reserve, charge, release, late refund
}

TEST_CASE(
    "saga and provider: a provider that cannot be reached — the charge fails after its attempts, and the "
    "saga is compensated without money taken") {
  DealService s;
  s.provider.set_available(false);
  REQUIRE(s.runner->start().ok());
  s.sign("g");
  const SagaStatus st = s.settle("g");
  CHECK(st.phase == SagaPhase::kCompensated);
  CHECK(st.compensation_reason.find("step charge failed") != std::string::npos);
  CHECK(s.provider.total_effects() == 0);
  CHECK(!s.visible("g"));
}

TEST_CASE("saga and provider: 60 deals against a provider misbehaving at random — each ends, and none pays twice") {
  FaultyProvider::Options o;
  o.decline = 0.15;
  o.timeout = 0.1;
  o.timeout_before_effect = 0.1;
  o.duplicate_answer = 0.15;
  o.crash = 0.1;
  o.pending = 0.1;
  o.seed = 20261128;
  DealService s(o);
  REQUIRE(s.runner->start().ok());
  for (int i = 0; i < 60; ++i) s.sign("r" + std::to_string(i));
  int completed = 0, compensated = 0;
  for (int i = 0; i < 60; ++i) {
    const std::string deal = "r" + std::to_string(i);
    CAPTURE(deal);
    const SagaStatus st = s.settle(deal);
    REQUIRE((st.phase == SagaPhase::kCompleted || st.phase == SagaPhase::kCompensated));
    CHECK(s.charges(deal) <= 2);  // a charge, and at most its refund
    if (st.phase == SagaPhase::kCompleted) {
      ++completed;
      CHECK(s.visible(deal));
      CHECK(s.charges(deal) == 1);
    } else {
      ++compensated;
      CHECK(!s.visible(deal));
    }
  }
  MESSAGE(completed << " completed, " << compensated << " compensated");
  CHECK(completed > 0);
  CHECK(compensated > 0);
}
