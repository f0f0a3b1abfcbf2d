// testing::FaultyProvider: a Gateway that plays a third-party provider (a payment provider) in tests, and
// misbehaves on demand the way real ones do. Like a real provider it performs each (operation,
// idempotency key) at most once: a call with a key whose operation was performed returns that
// operation's outcome at once (a declined key stays declined) and performs nothing. Each performed
// operation gets a reference "ref-<n>", n counting from 1 in the order they were performed.
//
// How a call that reaches the provider, for an operation not performed yet, behaves — the first of:
//   1. script(key, b): the next such call with that key behaves as b. Every later call with the key
//      answers as a plain provider does: the recorded outcome, or, if the operation was never performed,
//      it is performed now and accepted.
//   2. script_next(b): the oldest queued behaviour.
//   3. Options: one draw from a std::mt19937 seeded with Options::seed picks a behaviour by the
//      probabilities, kAccept for the rest. Deterministic for a given seed and order of calls.
// A call for an operation already performed uses up none of these.
//
//   strata::testing::FaultyProvider provider;
//   provider.on_answer([&](const strata::GatewayAnswer& a) { answers.push_back(a); });
//   provider.script("contract-42/charge", strata::testing::ProviderBehaviour::kTimeout);
//   CHECK(provider.call(charge).status().code() == strata::StatusCode::kUnavailable);  // the answer was lost
//   CHECK(provider.call(charge)->outcome == strata::GatewayOutcome::kAccepted);       // the retry finds out
//   CHECK(provider.effects("contract-42/charge") == 1);
//
// Asynchronous answers are delivered from one thread of the provider, started by the constructor, in
// the order they are due; the callback runs without the provider's lock held, so it may call the
// provider. The destructor stops that thread; answers not delivered by then are dropped.
//
// Thread safety: every method may be called from any thread at once. REQUIRES: no call() is in flight
// when the provider is destroyed, and neither the destructor nor wait_for_answers() is called from the
// callback.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/messaging/gateway.h"

namespace strata::testing {

// How the provider treats one call. For tests; persisted nowhere.
enum class ProviderBehaviour : std::uint8_t {
  // Performs the operation and answers accepted.
  kAccept,
  // Performs it as a decline (Options::declined_reason) and answers declined.
  kDecline,
  // Performs it, then the answer is lost: kUnavailable after request.timeout.
  kTimeout,
  // Does not perform it: kUnavailable after request.timeout.
  kTimeoutBeforeEffect,
  // Performs it, answers kPending, then delivers the accepted answer through the callback twice: after
  // Options::answer_delay, and again one answer_delay later (a webhook the provider thought was lost).
  kDuplicateAnswer,
  // Performs it, answers kPending, and delivers the accepted answer once after Options::late_delay —
  // meant to be longer than the caller waits.
  kLateAnswer,
  // Performs it, then the connection breaks: kUnavailable at once ("connection reset").
  kCrashMidCall,
  // Performs it, answers kPending, and delivers the accepted answer once after Options::answer_delay.
  kPendingThenAnswer,
};

// "accept", "decline", "timeout", "timeout before effect", "duplicate answer", "late answer",
// "crash mid call", "pending then answer".
std::string_view provider_behaviour_name(ProviderBehaviour behaviour) noexcept;

class FaultyProvider final : public Gateway {
 public:
  // Probabilities of each misbehaviour for a call not scripted otherwise. REQUIRES: each in [0, 1] and
  // their sum at most 1; the rest of the probability is kAccept. All zero (the default): always accept.
  struct Options {
    double decline = 0;                // kDecline
    double timeout = 0;                // kTimeout
    double timeout_before_effect = 0;  // kTimeoutBeforeEffect
    double duplicate_answer = 0;       // kDuplicateAnswer
    double late_answer = 0;            // kLateAnswer
    double crash = 0;                  // kCrashMidCall
    double pending = 0;                // kPendingThenAnswer
    // After a call, when the asynchronous answer of kDuplicateAnswer and kPendingThenAnswer is due.
    std::chrono::milliseconds answer_delay{20};
    // After a call, when the asynchronous answer of kLateAnswer is due.
    std::chrono::milliseconds late_delay{500};
    std::uint32_t seed = 1;
    // GatewayResponse::reason of a declined operation.
    std::string declined_reason = "card declined";
  };

  FaultyProvider();
  explicit FaultyProvider(Options options);
  ~FaultyProvider() override;

  // See the top of this file and Gateway::call. kInvalidArgument for an empty operation or key (not
  // counted as a call); kUnavailable as the behaviour or set_available(false) says. Timeouts block the
  // calling thread for request.timeout.
  [[nodiscard]] Result<GatewayResponse> call(const GatewayRequest& request) override;
  // Replaces the callback; without one, asynchronous answers are dropped (and not counted as delivered).
  void on_answer(GatewayCallback callback) override;

  // The next call with `key` that reaches the provider, if its operation was not performed yet, behaves
  // as `behaviour`; later calls with the key behave as a plain provider. Scripting a key again replaces
  // a script not used yet.
  void script(std::string key, ProviderBehaviour behaviour);
  // Queues `behaviour` for the next call that is not scripted by its key (first in, first out).
  void script_next(ProviderBehaviour behaviour);
  // false: the provider cannot be reached — every call fails with kUnavailable at once, performs nothing,
  // is not counted and uses up no script — until set_available(true).
  void set_available(bool available);

  // Calls with `key` that reached the provider (whatever their operation and outcome).
  std::size_t calls(std::string_view key) const;
  // How often an operation was performed with `key`: 0 or 1 (per operation; callers use one operation per
  // key). A declined operation counts as performed.
  std::size_t effects(std::string_view key) const;
  // Operations performed, over all keys.
  std::size_t total_effects() const;
  // The keys of the operations performed, in the order they were performed.
  std::vector<std::string> performed_keys() const;
  // Asynchronous answers handed to the callback so far (a duplicate counts twice).
  std::size_t answers_delivered() const;
  // Blocks until every asynchronous answer scheduled so far has been delivered (late ones included) and
  // the callback has returned.
  void wait_for_answers();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace strata::testing
