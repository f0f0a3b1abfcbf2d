// ProcessScenario: given / when / then over a process manager, with no store and no runner.
#include "strata/messaging/testing/process_scenario.h"

#include <doctest/doctest.h>

#include <sstream>

using namespace strata;

namespace {

struct OrderPlaced {
  static constexpr std::string_view kType = "shop.order_placed.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &OrderPlaced::order));
};
struct PaymentFailed {
  static constexpr std::string_view kType = "payments.payment_failed.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &PaymentFailed::order));
};
struct Reserve {
  static constexpr std::string_view kType = "stock.reserve.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &Reserve::order));
};
struct Release {
  static constexpr std::string_view kType = "stock.release.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &Release::order));
};
struct Charge {
  static constexpr std::string_view kType = "payments.charge.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &Charge::order));
};
struct Placed {
  static constexpr std::string_view kType = "shop.saga_placed.v1";
  std::string order;
  static constexpr auto kFields = fields(field("order", &Placed::order));
};

class OrderSaga : public ProcessManager<OrderSaga, Events<Placed>,
                                        Triggers<OrderPlaced, PaymentFailed, CommandSucceeded, DeadlineReached>> {
 public:
  static constexpr std::string_view kName = "order";
  static std::string correlate(const OrderPlaced& e) { return e.order; }
  static std::string correlate(const PaymentFailed& e) { return e.order; }

  void handle(const OrderPlaced& e) {
    record(Placed{e.order});
    send("reserve", Reserve{e.order});
  }
  void handle(const CommandSucceeded& s) {
    if (s.step != "reserve") return;
    step_completed("reserve", Release{order_});
    publish("charge", Charge{order_});
    schedule("payment", std::chrono::seconds(30));
  }
  void handle(const PaymentFailed&) { compensate("payment failed"); }
  void handle(const DeadlineReached&) { compensate("payment timed out"); }

 private:
  friend ProcessManager;
  void apply(const Placed& e) { order_ = e.order; }
  std::string order_;
};

}  // namespace

TEST_CASE("process scenario: when a trigger, then these commands, messages and deadlines") {
  ProcessScenario<OrderSaga> s("o1");
  s.when(OrderPlaced{"o1"});
  CHECK(s.then_sends(Reserve{"o1"}));
  CHECK(s.then_publishes());
  CHECK(s.then_schedules({}));
  CHECK(s.then_phase(SagaPhase::kRunning));

  s.when(CommandSucceeded{"reserve", std::string(Reserve::kType)});
  CHECK(s.then_sends());
  CHECK(s.then_publishes(Charge{"o1"}));
  CHECK(s.then_schedules({"payment"}));
}

TEST_CASE("process scenario: given a history, a failure compensates newest first and cancels the deadline") {
  auto s = ProcessScenario<OrderSaga>("o2").given(OrderPlaced{"o2"}, CommandSucceeded{"reserve", ""});
  s.when(PaymentFailed{"o2"});
  CHECK(s.then_sends(Release{"o2"}));
  CHECK(s.then_cancels({"payment"}));
  CHECK(s.then_phase(SagaPhase::kCompensating));
  s.when(CommandSucceeded{"reserve", ""});  // the release is done
  CHECK(s.then_phase(SagaPhase::kCompensated));
  CHECK(s.state().saga().compensation_reason == "payment failed");
}

TEST_CASE("process scenario: a deadline given by name fires, and once fired it does nothing") {
  auto s = ProcessScenario<OrderSaga>("o3").given(OrderPlaced{"o3"}, CommandSucceeded{"reserve", ""});
  s.when(DeadlineReached{"", "payment"});
  CHECK(s.then_sends(Release{"o3"}));
  s.when(DeadlineReached{"", "payment"});  // fired already: nothing
  CHECK(s.decided().empty());
}

TEST_CASE("process scenario: a failed expectation says what was expected and what was decided") {
  ProcessScenario<OrderSaga> s("o4");
  s.when(OrderPlaced{"o4"});
  const ScenarioOutcome wrong = s.then_sends(Charge{"o4"});
  CHECK(!wrong);
  std::ostringstream text;
  text << wrong;
  CHECK(text.str().find("payments.charge.v1 {\"order\":\"o4\"}") != std::string::npos);
  CHECK(text.str().find("stock.reserve.v1 {\"order\":\"o4\"}") != std::string::npos);
  // A trigger that does not start an instance decides nothing.
  ProcessScenario<OrderSaga> empty("o5");
  empty.when(PaymentFailed{"o5"});
  CHECK(empty.decided().empty());
  CHECK(empty.then_phase(SagaPhase::kNew));
}
