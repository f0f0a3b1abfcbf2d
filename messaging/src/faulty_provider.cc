#include "strata/messaging/testing/faulty_provider.h"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

namespace strata::testing {

std::string_view provider_behaviour_name(ProviderBehaviour behaviour) noexcept {
  switch (behaviour) {
    case ProviderBehaviour::kAccept:
      return "accept";
    case ProviderBehaviour::kDecline:
      return "decline";
    case ProviderBehaviour::kTimeout:
      return "timeout";
    case ProviderBehaviour::kTimeoutBeforeEffect:
      return "timeout before effect";
    case ProviderBehaviour::kDuplicateAnswer:
      return "duplicate answer";
    case ProviderBehaviour::kLateAnswer:
      return "late answer";
    case ProviderBehaviour::kCrashMidCall:
      return "crash mid call";
    case ProviderBehaviour::kPendingThenAnswer:
      return "pending then answer";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;

// What the provider knows of one idempotency key.
struct KeyState {
  std::size_t calls = 0;
  std::size_t effects = 0;
  // Set by script(), used up by the next call whose operation is not performed yet.
  std::optional<ProviderBehaviour> script;
  // A script was used up: from then on the key gets no misbehaviour from the queue or the dice.
  bool script_used = false;
};

// The first answer of a performed operation: what every later call with its key gets. Never kPending —
// an operation answered pending was still performed at once, as accepted.
using Recorded = GatewayResponse;

}  // namespace

struct FaultyProvider::State {
  explicit State(Options o) : options(std::move(o)), rng(options.seed) {}

  const Options options;

  mutable std::mutex mu;
  std::condition_variable changed;                                    // an answer was scheduled, or stopping was set
  std::condition_variable idle;                                       // an answer was delivered (or dropped)
  bool available = true;                                              // GUARDED_BY(mu)
  std::mt19937 rng;                                                   // GUARDED_BY(mu)
  std::deque<ProviderBehaviour> next_behaviours;                      // GUARDED_BY(mu)
  std::map<std::string, KeyState, std::less<>> keys;                  // GUARDED_BY(mu)
  std::map<std::pair<std::string, std::string>, Recorded> performed;  // GUARDED_BY(mu); (operation, key)
  std::vector<std::string> performed_keys;                            // GUARDED_BY(mu)
  std::uint64_t references = 0;                                       // GUARDED_BY(mu)
  GatewayCallback callback;                                           // GUARDED_BY(mu)
  // Answers not delivered yet, by due time and then by the order they were scheduled in.
  std::map<std::pair<Clock::time_point, std::uint64_t>, GatewayAnswer> due;  // GUARDED_BY(mu)
  std::uint64_t scheduled = 0;                                               // GUARDED_BY(mu)
  bool delivering = false;    // GUARDED_BY(mu); the delivery thread is inside the callback
  std::size_t delivered = 0;  // GUARDED_BY(mu)
  bool stopping = false;      // GUARDED_BY(mu)

  std::thread delivery;  // started last, by the FaultyProvider constructor

  // The behaviour of a call whose operation is not performed yet. REQUIRES: mu held.
  ProviderBehaviour decide(KeyState& key) {
    if (key.script) {
      ProviderBehaviour b = *key.script;
      key.script.reset();
      key.script_used = true;
      return b;
    }
    if (key.script_used) return ProviderBehaviour::kAccept;
    if (!next_behaviours.empty()) {
      ProviderBehaviour b = next_behaviours.front();
      next_behaviours.pop_front();
      return b;
    }
    return roll();
  }

  // One draw, mapped to [0, 1) by hand: std::uniform_real_distribution differs between standard
  // libraries, and a seed should give the same sequence wherever the test runs. REQUIRES: mu held.
  ProviderBehaviour roll() {
    const double u = static_cast<double>(rng()) / 4294967296.0;
    const std::pair<double, ProviderBehaviour> table[] = {
        {options.decline, ProviderBehaviour::kDecline},
        {options.timeout, ProviderBehaviour::kTimeout},
        {options.timeout_before_effect, ProviderBehaviour::kTimeoutBeforeEffect},
        {options.duplicate_answer, ProviderBehaviour::kDuplicateAnswer},
        {options.late_answer, ProviderBehaviour::kLateAnswer},
        {options.crash, ProviderBehaviour::kCrashMidCall},
        {options.pending, ProviderBehaviour::kPendingThenAnswer},
    };
    double bound = 0;
    for (const auto& [p, b] : table) {
      bound += p;
      if (u < bound) return b;
    }
    return ProviderBehaviour::kAccept;
  }

  // Performs the operation of `request` with `outcome` and records its answer. REQUIRES: mu held; not
  // performed yet.
  const Recorded& perform(const GatewayRequest& request, KeyState& key, GatewayOutcome outcome) {
    Recorded r;
    r.outcome = outcome;
    r.reference = fmt::format("ref-{}", ++references);
    if (outcome == GatewayOutcome::kDeclined) r.reason = options.declined_reason;
    ++key.effects;
    performed_keys.push_back(request.idempotency_key);
    return performed.emplace(std::pair(request.operation, request.idempotency_key), std::move(r)).first->second;
  }

  // Schedules the asynchronous answer of `recorded` after `delay`. REQUIRES: mu held.
  void schedule(const GatewayRequest& request, const Recorded& recorded, std::chrono::milliseconds delay) {
    GatewayAnswer answer{.operation = request.operation,
                         .idempotency_key = request.idempotency_key,
                         .outcome = recorded.outcome,
                         .reference = recorded.reference,
                         .reason = recorded.reason,
                         .correlation_id = request.correlation_id};
    due.emplace(std::pair(Clock::now() + delay, ++scheduled), std::move(answer));
    changed.notify_all();
  }

  // The delivery thread: waits for the earliest answer's due time, then hands it to the callback with
  // the lock released, so that the callback may call the provider.
  void deliver_answers() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (due.empty()) {
        changed.wait(lock);
        continue;
      }
      const Clock::time_point when = due.begin()->first.first;
      if (Clock::now() < when) {
        changed.wait_until(lock, when);
        continue;
      }
      auto node = due.extract(due.begin());
      GatewayCallback to_call = callback;
      delivering = true;
      lock.unlock();
      if (to_call) to_call(node.mapped());
      lock.lock();
      delivering = false;
      if (to_call) ++delivered;
      idle.notify_all();
    }
  }
};

FaultyProvider::FaultyProvider() : FaultyProvider(Options{}) {}

FaultyProvider::FaultyProvider(Options options) : state_(std::make_unique<State>(std::move(options))) {
  state_->delivery = std::thread([s = state_.get()] { s->deliver_answers(); });
}

FaultyProvider::~FaultyProvider() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->changed.notify_all();
  state_->idle.notify_all();
  state_->delivery.join();
}

Result<GatewayResponse> FaultyProvider::call(const GatewayRequest& request) {
  if (request.operation.empty())
    return Status::invalid_argument(
        fmt::format("gateway call with idempotency key \"{}\": the operation is empty", request.idempotency_key));
  if (request.idempotency_key.empty())
    return Status::invalid_argument(
        fmt::format("gateway call \"{}\": the idempotency key is empty", request.operation));
  const std::string call_name = fmt::format("{} \"{}\"", request.operation, request.idempotency_key);

  State& s = *state_;
  ProviderBehaviour behaviour = ProviderBehaviour::kAccept;
  GatewayResponse response;
  {
    std::lock_guard lock(s.mu);
    if (!s.available) return Status::unavailable(call_name + ": the provider cannot be reached (simulated)");
    KeyState& key = s.keys[request.idempotency_key];
    ++key.calls;
    if (auto it = s.performed.find(std::pair(request.operation, request.idempotency_key)); it != s.performed.end())
      return it->second;  // what a real provider does with a repeated key: the first answer, nothing performed

    behaviour = s.decide(key);
    switch (behaviour) {
      case ProviderBehaviour::kTimeoutBeforeEffect:
        break;
      case ProviderBehaviour::kDecline:
        response = s.perform(request, key, GatewayOutcome::kDeclined);
        break;
      case ProviderBehaviour::kAccept:
      case ProviderBehaviour::kTimeout:
      case ProviderBehaviour::kCrashMidCall:
        response = s.perform(request, key, GatewayOutcome::kAccepted);
        break;
      case ProviderBehaviour::kDuplicateAnswer:
      case ProviderBehaviour::kLateAnswer:
      case ProviderBehaviour::kPendingThenAnswer: {
        const Recorded& recorded = s.perform(request, key, GatewayOutcome::kAccepted);
        if (behaviour == ProviderBehaviour::kLateAnswer) {
          s.schedule(request, recorded, s.options.late_delay);
        } else {
          s.schedule(request, recorded, s.options.answer_delay);
          if (behaviour == ProviderBehaviour::kDuplicateAnswer)
            s.schedule(request, recorded, 2 * s.options.answer_delay);
        }
        response = recorded;
        response.outcome = GatewayOutcome::kPending;
        break;
      }
    }
  }

  // The lock is released before waiting out a timeout, so that other calls (a concurrent retry with the
  // same key among them) are served meanwhile, as by a real provider.
  switch (behaviour) {
    case ProviderBehaviour::kTimeout:
      std::this_thread::sleep_for(request.timeout);
      return Status::unavailable(fmt::format("{}: no answer within {} ms (simulated: performed, the answer was lost)",
                                             call_name, request.timeout.count()));
    case ProviderBehaviour::kTimeoutBeforeEffect:
      std::this_thread::sleep_for(request.timeout);
      return Status::unavailable(
          fmt::format("{}: no answer within {} ms (simulated: not performed)", call_name, request.timeout.count()));
    case ProviderBehaviour::kCrashMidCall:
      return Status::unavailable(call_name + ": connection reset (simulated: performed, the answer was lost)");
    default:
      return response;
  }
}

void FaultyProvider::on_answer(GatewayCallback callback) {
  std::lock_guard lock(state_->mu);
  state_->callback = std::move(callback);
}

void FaultyProvider::script(std::string key, ProviderBehaviour behaviour) {
  std::lock_guard lock(state_->mu);
  state_->keys[std::move(key)].script = behaviour;
}

void FaultyProvider::script_next(ProviderBehaviour behaviour) {
  std::lock_guard lock(state_->mu);
  state_->next_behaviours.push_back(behaviour);
}

void FaultyProvider::set_available(bool available) {
  std::lock_guard lock(state_->mu);
  state_->available = available;
}

std::size_t FaultyProvider::calls(std::string_view key) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->keys.find(key);
  return it == state_->keys.end() ? 0 : it->second.calls;
}

std::size_t FaultyProvider::effects(std::string_view key) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->keys.find(key);
  return it == state_->keys.end() ? 0 : it->second.effects;
}

std::size_t FaultyProvider::total_effects() const {
  std::lock_guard lock(state_->mu);
  return state_->performed_keys.size();
}

std::vector<std::string> FaultyProvider::performed_keys() const {
  std::lock_guard lock(state_->mu);
  return state_->performed_keys;
}

std::size_t FaultyProvider::answers_delivered() const {
  std::lock_guard lock(state_->mu);
  return state_->delivered;
}

void FaultyProvider::wait_for_answers() {
  std::unique_lock lock(state_->mu);
  state_->idle.wait(lock, [&] { return (state_->due.empty() && !state_->delivering) || state_->stopping; });
}

}  // namespace strata::testing
