// The Gateway contract as played by testing::FaultyProvider: each (operation, idempotency key) performed at
// most once whatever the provider's misbehaviour, repeated keys answered with the first answer, and
// asynchronous answers that come twice or late. No upper bounds on time: only "not before".
#include "strata/messaging/gateway.h"

#include <doctest/doctest.h>

#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "strata/messaging/testing/faulty_provider.h"

using namespace strata;
using std::chrono::milliseconds;
using strata::testing::FaultyProvider;
using strata::testing::ProviderBehaviour;
using Clock = std::chrono::steady_clock;

namespace {

GatewayRequest charge(std::string key, milliseconds timeout = milliseconds(10)) {
  return {.operation = "charge",
          .idempotency_key = std::move(key),
          .payload = R"({"cents":1500})",
          .timeout = timeout,
          .correlation_id = "contract-42"};
}

// "accepted ref-1", "declined ref-2 (card declined)", "pending ref-3", or the status code's name.
std::string render(const Result<GatewayResponse>& r) {
  if (!r.ok()) return std::string(status_code_name(r.status().code()));
  std::string out = std::string(gateway_outcome_name(r->outcome)) + " " + r->reference;
  if (!r->reason.empty()) out += " (" + r->reason + ")";
  return out;
}

// Collects the asynchronous answers and when each came.
struct Answers {
  std::mutex mu;
  std::vector<GatewayAnswer> answers;  // GUARDED_BY(mu)
  std::vector<Clock::time_point> at;   // GUARDED_BY(mu)

  GatewayCallback callback() {
    return [this](const GatewayAnswer& a) {
      std::lock_guard lock(mu);
      answers.push_back(a);
      at.push_back(Clock::now());
    };
  }
  // "charge contract-42/charge accepted ref-1 [contract-42]; ..."
  std::string render() {
    std::lock_guard lock(mu);
    std::string out;
    for (const GatewayAnswer& a : answers) {
      if (!out.empty()) out += "; ";
      out += a.operation + " " + a.idempotency_key + " " + std::string(gateway_outcome_name(a.outcome)) + " " +
             a.reference + " [" + a.correlation_id + "]";
    }
    return out;
  }
};

}  // namespace

TEST_CASE("gateway_outcome_name names every outcome") {
  CHECK(gateway_outcome_name(GatewayOutcome::kAccepted) == "accepted");
  CHECK(gateway_outcome_name(GatewayOutcome::kDeclined) == "declined");
  CHECK(gateway_outcome_name(GatewayOutcome::kPending) == "pending");
}

TEST_CASE("an accepting provider performs the operation once and answers a repeated key with the first answer") {
  FaultyProvider provider;
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(render(provider.call(charge("c2"))) == "accepted ref-2");
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(provider.calls("c1") == 2);
  CHECK(provider.effects("c1") == 1);
  CHECK(provider.total_effects() == 2);
  CHECK(provider.performed_keys() == std::vector<std::string>{"c1", "c2"});
  CHECK(provider.calls("never") == 0);
  CHECK(provider.effects("never") == 0);
}

TEST_CASE("a declined key stays declined when called again, with no second effect") {
  FaultyProvider provider;
  provider.script("c1", ProviderBehaviour::kDecline);
  CHECK(render(provider.call(charge("c1"))) == "declined ref-1 (card declined)");
  CHECK(render(provider.call(charge("c1"))) == "declined ref-1 (card declined)");
  CHECK(provider.calls("c1") == 2);
  CHECK(provider.effects("c1") == 1);
  CHECK(provider.total_effects() == 1);
}

TEST_CASE(
    "a timeout after the effect fails with kUnavailable, and a retry with the same key returns accepted "
    "without a second effect") {
  FaultyProvider provider;
  provider.script("c1", ProviderBehaviour::kTimeout);
  const auto start = Clock::now();
  Result<GatewayResponse> first = provider.call(charge("c1", milliseconds(30)));
  CHECK(Clock::now() - start >= milliseconds(30));
  CHECK(render(first) == "unavailable");
  CHECK(provider.effects("c1") == 1);
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(provider.calls("c1") == 2);
  CHECK(provider.effects("c1") == 1);
}

TEST_CASE("a timeout before the effect performs nothing, and the retry performs the operation once") {
  FaultyProvider provider;
  provider.script("c1", ProviderBehaviour::kTimeoutBeforeEffect);
  const auto start = Clock::now();
  CHECK(render(provider.call(charge("c1", milliseconds(30)))) == "unavailable");
  CHECK(Clock::now() - start >= milliseconds(30));
  CHECK(provider.effects("c1") == 0);
  CHECK(provider.total_effects() == 0);
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(provider.effects("c1") == 1);
}

TEST_CASE("a duplicate answer is delivered twice through the callback, with one effect") {
  Answers answers;
  FaultyProvider provider({.answer_delay = milliseconds(5)});
  provider.on_answer(answers.callback());
  provider.script("c1", ProviderBehaviour::kDuplicateAnswer);
  CHECK(render(provider.call(charge("c1"))) == "pending ref-1");
  provider.wait_for_answers();
  CHECK(answers.render() ==
        "charge c1 accepted ref-1 [contract-42]; "
        "charge c1 accepted ref-1 [contract-42]");
  CHECK(provider.answers_delivered() == 2);
  CHECK(provider.effects("c1") == 1);
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(provider.effects("c1") == 1);
}

TEST_CASE("a pending call delivers its answer once, after the answer delay") {
  Answers answers;
  FaultyProvider provider({.answer_delay = milliseconds(20)});
  provider.on_answer(answers.callback());
  provider.script_next(ProviderBehaviour::kPendingThenAnswer);
  const auto start = Clock::now();
  CHECK(render(provider.call(charge("c1"))) == "pending ref-1");
  provider.wait_for_answers();
  CHECK(answers.render() == "charge c1 accepted ref-1 [contract-42]");
  CHECK(answers.at.at(0) - start >= milliseconds(20));
  CHECK(provider.answers_delivered() == 1);
  CHECK(provider.effects("c1") == 1);
}

TEST_CASE("a late answer comes no earlier than the late delay, and a retry meanwhile is answered accepted at once") {
  Answers answers;
  FaultyProvider provider({.late_delay = milliseconds(150)});
  provider.on_answer(answers.callback());
  provider.script("c1", ProviderBehaviour::kLateAnswer);
  const auto start = Clock::now();
  CHECK(render(provider.call(charge("c1"))) == "pending ref-1");
  // The caller's deadline (shorter than the late delay) has passed: it asks again with the same key.
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  provider.wait_for_answers();
  CHECK(answers.render() == "charge c1 accepted ref-1 [contract-42]");
  CHECK(answers.at.at(0) - start >= milliseconds(150));
  CHECK(provider.effects("c1") == 1);
}

TEST_CASE("a crash mid-call performs the operation and fails with kUnavailable, and the retry returns accepted") {
  FaultyProvider provider;
  provider.script("c1", ProviderBehaviour::kCrashMidCall);
  Result<GatewayResponse> first = provider.call(charge("c1", milliseconds(60'000)));
  CHECK(render(first) == "unavailable");
  CHECK(first.status().message().find("connection reset") != std::string_view::npos);
  CHECK(provider.effects("c1") == 1);
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(provider.effects("c1") == 1);
}

TEST_CASE("script_next queues behaviours for the next calls in order, and a key's script comes first") {
  FaultyProvider provider;
  provider.script_next(ProviderBehaviour::kDecline);
  provider.script_next(ProviderBehaviour::kCrashMidCall);
  provider.script("c1", ProviderBehaviour::kTimeoutBeforeEffect);
  CHECK(render(provider.call(charge("c1", milliseconds(1)))) == "unavailable");  // the key's script
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");                // a scripted key: plain provider since
  CHECK(render(provider.call(charge("c2"))) == "declined ref-2 (card declined)");
  CHECK(render(provider.call(charge("c3"))) == "unavailable");  // crash mid-call
  CHECK(render(provider.call(charge("c4"))) == "accepted ref-4");
  CHECK(provider.performed_keys() == std::vector<std::string>{"c1", "c2", "c3", "c4"});
}

TEST_CASE("in probability mode the same seed gives the same sequence, and the default always accepts") {
  const FaultyProvider::Options options{.decline = 0.15,
                                        .timeout = 0.1,
                                        .timeout_before_effect = 0.1,
                                        .duplicate_answer = 0.1,
                                        .late_answer = 0.1,
                                        .crash = 0.1,
                                        .pending = 0.1,
                                        .answer_delay = milliseconds(1),
                                        .late_delay = milliseconds(1),
                                        .seed = 7};
  auto run = [](const FaultyProvider::Options& o) {
    FaultyProvider provider(o);
    std::string out;
    for (int i = 0; i < 40; ++i)
      out += render(provider.call(charge("c" + std::to_string(i % 30), milliseconds(1)))) + ";";
    return std::pair(out, provider.performed_keys());
  };
  const auto first = run(options);
  CHECK(run(options) == first);
  for (std::string_view kind : {"accepted", "declined", "pending", "unavailable"})
    CHECK_MESSAGE(first.first.find(kind) != std::string::npos, kind);

  FaultyProvider::Options other_seed = options;
  other_seed.seed = 8;
  CHECK(run(other_seed).first != first.first);

  const auto plain = run(FaultyProvider::Options{});
  CHECK(plain.first.find("accepted ref-30;") != std::string::npos);
  for (std::string_view kind : {"declined", "pending", "unavailable"})
    CHECK_MESSAGE(plain.first.find(kind) == std::string::npos, kind);
  CHECK(plain.second.size() == 30);
}

TEST_CASE("an unavailable provider fails every call at once and performs nothing until it is back") {
  FaultyProvider provider;
  provider.script("c1", ProviderBehaviour::kDecline);
  provider.set_available(false);
  CHECK(render(provider.call(charge("c1", milliseconds(60'000)))) == "unavailable");
  CHECK(render(provider.call(charge("c2"))) == "unavailable");
  CHECK(provider.calls("c1") == 0);
  CHECK(provider.total_effects() == 0);
  provider.set_available(true);
  CHECK(render(provider.call(charge("c1"))) == "declined ref-1 (card declined)");  // the script is still there
  CHECK(render(provider.call(charge("c2"))) == "accepted ref-2");
}

TEST_CASE("an empty idempotency key or operation is kInvalidArgument and performs nothing") {
  FaultyProvider provider;
  CHECK(render(provider.call(charge(""))) == "invalid argument");
  GatewayRequest no_operation = charge("c1");
  no_operation.operation.clear();
  CHECK(render(provider.call(no_operation)) == "invalid argument");
  CHECK(provider.calls("c1") == 0);
  CHECK(provider.total_effects() == 0);
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
}

TEST_CASE("the same key under two operations is two operations, each performed once") {
  FaultyProvider provider;
  GatewayRequest refund = charge("c1");
  refund.operation = "refund";
  CHECK(render(provider.call(charge("c1"))) == "accepted ref-1");
  CHECK(render(provider.call(refund)) == "accepted ref-2");
  CHECK(render(provider.call(refund)) == "accepted ref-2");
  CHECK(provider.effects("c1") == 2);
}

TEST_CASE("concurrent calls from 8 threads with overlapping keys perform each key exactly once") {
  constexpr int kThreads = 8;
  constexpr int kKeys = 32;
  FaultyProvider provider;
  provider.script("c3", ProviderBehaviour::kCrashMidCall);
  provider.script("c5", ProviderBehaviour::kDecline);
  provider.script("c7", ProviderBehaviour::kTimeoutBeforeEffect);
  provider.script("c9", ProviderBehaviour::kTimeout);

  std::mutex mu;
  std::map<std::string, std::set<std::string>> answers;  // GUARDED_BY(mu); key -> rendered synchronous answers
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kKeys; ++i) {
        const std::string key = "c" + std::to_string((i + 4 * t) % kKeys);
        std::string answer = render(provider.call(charge(key, milliseconds(1))));
        std::lock_guard lock(mu);
        answers[key].insert(std::move(answer));
      }
    });
  }
  for (auto& th : threads) th.join();

  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "c" + std::to_string(i);
    CAPTURE(key);
    CHECK(provider.calls(key) == kThreads);
    CHECK(provider.effects(key) == 1);
    // One reference per key, whichever thread got there first; only the scripted call failed.
    std::set<std::string> ok = answers[key];
    ok.erase("unavailable");
    CHECK(ok.size() == 1);
    CHECK(ok.begin()->starts_with(key == "c5" ? "declined ref-" : "accepted ref-"));
  }
  CHECK(provider.total_effects() == kKeys);
  const std::vector<std::string> keys = provider.performed_keys();
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == kKeys);
}

TEST_CASE("destroying the provider drops the answers not delivered yet") {
  Answers answers;
  {
    FaultyProvider provider({.late_delay = milliseconds(60'000)});
    provider.on_answer(answers.callback());
    provider.script_next(ProviderBehaviour::kLateAnswer);
    CHECK(render(provider.call(charge("c1"))) == "pending ref-1");
  }
  CHECK(answers.render().empty());
}

TEST_CASE("the answer callback may call the provider") {
  FaultyProvider provider({.answer_delay = milliseconds(1)});
  std::mutex mu;
  std::vector<std::string> confirmations;  // GUARDED_BY(mu)
  provider.on_answer([&](const GatewayAnswer& a) {
    std::string confirmation = render(provider.call(charge(a.idempotency_key)));
    std::lock_guard lock(mu);
    confirmations.push_back(std::move(confirmation));
  });
  provider.script_next(ProviderBehaviour::kPendingThenAnswer);
  CHECK(render(provider.call(charge("c1"))) == "pending ref-1");
  provider.wait_for_answers();
  std::lock_guard lock(mu);
  CHECK(confirmations == std::vector<std::string>{"accepted ref-1"});
}
