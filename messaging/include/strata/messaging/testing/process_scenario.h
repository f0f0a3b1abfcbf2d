// ProcessScenario<P>: given / when / then tests of a process manager, without a store or a runner.
//
//   auto s = strata::ProcessScenario<Activation>("c1")
//                .given(ActivationRequested{"c1", 500}, strata::CommandSucceeded{"reserve", ""});
//   s.when(PaymentConfirmed{"c1"});
//   CHECK(s.then_sends(ShowTitles{"c1"}));             // the commands it decided, in order
//   CHECK(s.then_publishes());                         // no message
//   CHECK(s.then_cancels({"payment"}));                // deadlines cancelled by name
//
// given() handles triggers in order as history (each as if delivered once); when() handles one more,
// and the then_*() checks look at what that one decided. strata's own triggers are given as themselves:
// CommandSucceeded / CommandFailed name the step whose command (or, when only its compensation waits,
// compensation) they answer; DeadlineReached may leave the id empty to mean the pending deadline of
// that name. at() sets the clock deadlines are scheduled from.
//
// Thread safety: a ProcessScenario belongs to one thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/core/testing/scenario.h"
#include "strata/messaging/process_manager.h"
#include "strata/messaging/saga_records.h"

namespace strata {

namespace detail {
// Compiled (process_scenario.cc): the rendered ("type json") payloads of the records of `kind` among
// `records` — commands, messages, the names of deadlines scheduled or cancelled.
enum class DecisionKind : std::uint8_t { kCommands, kMessages, kScheduled, kCancelled };
std::vector<std::string> decisions_of(const std::vector<SagaRecord>& records, DecisionKind kind,
                                      const SagaState& before);
ScenarioOutcome judge_decisions(const Status& status, std::string_view what, const std::vector<std::string>& expected,
                                const std::vector<std::string>& actual);
}  // namespace detail

template <class P>
class ProcessScenario {
 public:
  explicit ProcessScenario(std::string_view key = "1") {
    stream_ = std::string(P::kName) + "-" + std::string(key);
    detail::ProcessAccess::set_id(p_, StreamId::parse(stream_).value());
  }

  // Handles `triggers` in order as history.
  template <class... E>
  ProcessScenario& given(const E&... triggers) & {
    (remember(handle(triggers)), ...);
    return *this;
  }
  template <class... E>
  ProcessScenario&& given(const E&... triggers) && {
    return std::move(given(triggers...));
  }
  // The clock of the next handling.
  ProcessScenario& at(Timestamp now) & {
    now_ = now;
    return *this;
  }
  ProcessScenario&& at(Timestamp now) && { return std::move(at(now)); }

  // Handles `trigger`; the then_*() checks look at what it decided.
  template <class E>
  ProcessScenario& when(const E& trigger) & {
    before_ = p_.saga();
    decided_.clear();
    status_ = handle(trigger);
    if (!history_.ok()) status_ = history_;  // the checks report a history that failed
    return *this;
  }
  template <class E>
  ProcessScenario&& when(const E& trigger) && {
    return std::move(when(trigger));
  }

  // Passes when when() issued exactly these commands, in order.
  template <class... C>
  ScenarioOutcome then_sends(const C&... commands) const {
    return detail::judge_decisions(status_, "commands", {render(commands)...},
                                   detail::decisions_of(decided_, detail::DecisionKind::kCommands, before_));
  }
  // ...published exactly these messages, in order.
  template <class... M>
  ScenarioOutcome then_publishes(const M&... messages) const {
    return detail::judge_decisions(status_, "messages", {render(messages)...},
                                   detail::decisions_of(decided_, detail::DecisionKind::kMessages, before_));
  }
  // ...scheduled / cancelled deadlines of exactly these names, in order.
  ScenarioOutcome then_schedules(std::vector<std::string> names) const {
    return detail::judge_decisions(status_, "deadlines scheduled", names,
                                   detail::decisions_of(decided_, detail::DecisionKind::kScheduled, before_));
  }
  ScenarioOutcome then_cancels(std::vector<std::string> names) const {
    return detail::judge_decisions(status_, "deadlines cancelled", names,
                                   detail::decisions_of(decided_, detail::DecisionKind::kCancelled, before_));
  }
  // ...left the saga in `phase`.
  ScenarioOutcome then_phase(SagaPhase phase) const {
    if (!status_.ok()) return {false, "the handler failed: " + status_.to_string()};
    if (p_.phase() != phase)
      return {false, "expected the saga to be " + std::string(saga_phase_name(phase)) + ", but it is " +
                         std::string(saga_phase_name(p_.phase()))};
    return {true, "ok"};
  }

  // The process manager after given() and when(); the records when() decided; its handler's status.
  const P& state() const noexcept { return p_; }
  const std::vector<detail::SagaRecord>& decided() const noexcept { return decided_; }
  const Status& status() const noexcept { return status_; }

 private:
  template <class T>
  static std::string render(const T& value) {
    static_assert(EventType<T>, "strata: then_sends / then_publishes take command and message types");
    return std::string(T::kType) + " " + to_json(value);
  }

  void remember(const Status& s) {
    if (!s.ok() && history_.ok()) history_ = s.with_context("a trigger given as history");
  }

  template <class E>
  Status handle(const E& trigger) {
    auto& core = detail::ProcessAccess::core(p_);
    core.begin(stream_, now_);
    const std::string key = "scenario/" + std::to_string(++handled_);
    Result<bool> decided = decide(trigger, key);
    decided_ = p_.pending_records();
    detail::ProcessAccess::mark_saved(p_, Version(p_.version().value() + decided_.size()));
    return decided.status();
  }

  template <class E>
  Result<bool> decide(const E& trigger, const std::string& key) {
    detail::SagaSignal s;
    s.key = key;
    if constexpr (std::is_same_v<E, CommandSucceeded> || std::is_same_v<E, CommandFailed>) {
      s.kind = detail::SagaSignal::Kind::kCommandAnswered;
      s.step = trigger.step;
      s.command_type = trigger.type;
      s.compensation = p_.saga().command(trigger.step, false) == nullptr && p_.saga().command(trigger.step, true);
      s.succeeded = std::is_same_v<E, CommandSucceeded>;
      if constexpr (std::is_same_v<E, CommandFailed>) {
        s.code = trigger.code;
        s.reason = trigger.reason;
      }
      return detail::decide_signal(p_, s);
    } else if constexpr (std::is_same_v<E, DeadlineReached>) {
      s.kind = detail::SagaSignal::Kind::kDeadline;
      s.deadline_id = trigger.id;
      s.deadline_name = trigger.name;
      if (s.deadline_id.empty())
        for (const auto& d : p_.saga().deadlines)
          if (d.name == trigger.name) s.deadline_id = d.id;
      return detail::decide_signal(p_, s);
    } else {
      static_assert(detail::InTriggers<E, typename P::TriggerList>::value,
                    "strata: ProcessScenario was given a trigger that is not in the process manager's Triggers<...>");
      return detail::decide_trigger(p_, trigger, key);
    }
  }

  P p_;
  std::string stream_;
  Timestamp now_ = Timestamp(std::chrono::seconds(1'700'000'000));
  std::uint64_t handled_ = 0;
  SagaState before_;
  std::vector<detail::SagaRecord> decided_;
  Status status_;
  Status history_;
};

}  // namespace strata
