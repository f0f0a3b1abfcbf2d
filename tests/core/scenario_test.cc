#include "strata/core/testing/scenario.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "counter.h"

using counter::Added;
using counter::Closed;
using counter::Counter;
using counter::Opened;
using strata::Scenario;
using strata::ScenarioOutcome;
using strata::StatusCode;

namespace {
std::string printed(const ScenarioOutcome& outcome) {
  std::ostringstream os;
  os << outcome;
  return os.str();
}
}  // namespace

TEST_CASE("given, when, then passes when the command records exactly the expected events") {
  auto outcome = Scenario<Counter>()
                     .given(Opened{"visits"}, Added{2, std::nullopt})
                     .when([](Counter& c) { return c.add(3, "busy"); })
                     .then(Added{3, "busy"});
  CHECK(outcome);
  CHECK(outcome.passed);
  CHECK(outcome.description == "ok");
  CHECK(printed(outcome) == "ok");
}

TEST_CASE("given folds history as stored events and when sees the resulting state") {
  Scenario<Counter> s("counter-7");
  s.given(Opened{"visits"}, Added{2, std::nullopt}, Added{5, "x"});
  CHECK(s.state().version() == 3);
  CHECK(s.state().total() == 7);
  CHECK(s.state().pending_events().empty());
  CHECK(s.state().id().str() == "counter-7");
  s.when([](Counter& c) { return c.close(); });
  CHECK(s.status().ok());
  CHECK(s.then(Closed{}));
  CHECK(s.state().is_closed());
}

TEST_CASE("a command returning void counts as success") {
  auto outcome =
      Scenario<Counter>().given(Opened{"x"}).when([](Counter& c) { (void)c.add(1); }).then(Added{1, std::nullopt});
  CHECK(outcome);
}

TEST_CASE("then fails and says what differed when other events were recorded") {
  auto outcome = Scenario<Counter>()
                     .given(Opened{"x"})
                     .when([](Counter& c) { return c.add(3); })
                     .then(Added{4, std::nullopt}, Closed{});
  CHECK_FALSE(outcome);
  CHECK(outcome.description ==
        "expected events:\n"
        "  test.counter.added.v1 {\"amount\":4,\"note\":null}\n"
        "  test.counter.closed.v1 {}\n"
        "recorded events:\n"
        "  test.counter.added.v1 {\"amount\":3,\"note\":null}\n");
  CHECK(printed(outcome) == outcome.description);
}

TEST_CASE("then with no events passes only when nothing was recorded") {
  CHECK(Scenario<Counter>().given(Opened{"x"}).when([](Counter&) {}).then());
  auto outcome = Scenario<Counter>().given(Opened{"x"}).when([](Counter& c) { return c.close(); }).then();
  CHECK(outcome.description == "expected events:\n  (no events)\nrecorded events:\n  test.counter.closed.v1 {}\n");
}

TEST_CASE("then fails when the command failed, and shows the failure") {
  auto outcome = Scenario<Counter>().when([](Counter& c) { return c.add(1); }).then(Added{1, std::nullopt});
  CHECK_FALSE(outcome);
  CHECK(outcome.description ==
        "expected the command to succeed with:\n"
        "  test.counter.added.v1 {\"amount\":1,\"note\":null}\n"
        "but it failed: rejected: counter is not open\n"
        "recorded:\n"
        "  (no events)\n");
}

TEST_CASE("then_rejected passes on kRejected with the message part and nothing recorded") {
  auto s = Scenario<Counter>().given(Opened{"visits"}, Closed{}).when([](Counter& c) { return c.add(1); });
  CHECK(s.then_rejected());
  CHECK(s.then_rejected("not open"));
  auto wrong_part = s.then_rejected("insufficient funds");
  CHECK_FALSE(wrong_part);
  CHECK(wrong_part.description ==
        "expected the failure message to contain \"insufficient funds\", but it was \"counter is not open\"");
}

TEST_CASE("then_rejected fails when the command succeeded, listing what it recorded") {
  auto outcome = Scenario<Counter>().given(Opened{"x"}).when([](Counter& c) { return c.add(2); }).then_rejected();
  CHECK_FALSE(outcome);
  CHECK(outcome.description ==
        "expected the command to fail with rejected, but it succeeded and recorded:\n"
        "  test.counter.added.v1 {\"amount\":2,\"note\":null}\n");
}

TEST_CASE("then_error passes on its code and fails on another, naming both") {
  auto s = Scenario<Counter>().given(Opened{"x"}).when([](Counter& c) { return c.add(-1); });
  CHECK(s.then_error(StatusCode::kInvalidArgument));
  CHECK(s.then_error(StatusCode::kInvalidArgument, "positive"));
  auto outcome = s.then_rejected();
  CHECK_FALSE(outcome);
  CHECK(outcome.description ==
        "expected the command to fail with rejected, but it failed with invalid argument: amount must be positive");
  CHECK_FALSE(s.then(Added{-1, std::nullopt}));
}

TEST_CASE("an expected failure that still recorded events fails") {
  auto outcome = Scenario<Counter>()
                     .given(Opened{"x"})
                     .when([](Counter& c) -> strata::Status {
                       (void)c.add(1);
                       return strata::Status::rejected("changed my mind");
                     })
                     .then_rejected("mind");
  CHECK_FALSE(outcome);
  CHECK(outcome.description ==
        "the command failed as expected but still recorded:\n"
        "  test.counter.added.v1 {\"amount\":1,\"note\":null}\n");
}

TEST_CASE("a scenario on an invalid stream id throws StatusError") {
  CHECK_THROWS_AS(Scenario<Counter>("not a stream id"), strata::StatusError);
}
