// The records strata keeps in a saga's stream next to the process manager's own events, and the
// triggers it delivers to process managers. A saga's stream therefore reads as its whole history: what
// reached it, what it decided, what it asked others to do, and how that ended.
//
// Records ("strata.saga.*" types, written by strata, folded into SagaState):
//   trigger_handled      an event or message was handled (its type and id): the audit trail, and what
//                        makes handling one trigger twice impossible
//   command_issued       a command for a local aggregate, carried out by the SagaRunner (at least once,
//                        with the idempotency key), its outcome delivered back as CommandSucceeded or
//                        CommandFailed
//   command_answered     that outcome
//   message_sent         a message for another service, published by a Relay from the log
//   deadline_scheduled / deadline_cancelled / deadline_fired
//   step_completed       a step is done, with the compensation that undoes it (if any)
//   compensation_started, step_compensated, needs_attention, completed, compensated
//
// Triggers strata delivers (list them in Triggers<...> to handle them; a process manager that does not
// gets the default: a failed command starts compensation):
//   DeadlineReached, CommandSucceeded, CommandFailed
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/position.h"
#include "strata/core/status.h"

namespace strata {

// A deadline a process manager scheduled has fallen due (delivered at least once; a deadline that was
// cancelled, or whose saga ended, is not delivered to the handler).
struct DeadlineReached {
  static constexpr std::string_view kType = "strata.saga.deadline_reached.v1";
  std::string id;
  std::string name;
  static constexpr auto kFields = fields(field("id", &DeadlineReached::id), field("name", &DeadlineReached::name));
};

// The command a process manager sent in step `step` was carried out.
struct CommandSucceeded {
  static constexpr std::string_view kType = "strata.saga.command_succeeded.v1";
  std::string step;
  std::string type;
  static constexpr auto kFields =
      fields(field("step", &CommandSucceeded::step), field("type", &CommandSucceeded::type));
};

// The command a process manager sent in step `step` failed for good: refused by a rule (code
// "rejected"), or still failing after the runner's attempts.
struct CommandFailed {
  static constexpr std::string_view kType = "strata.saga.command_failed.v1";
  std::string step;
  std::string type;
  std::string code;
  std::string reason;
  static constexpr auto kFields = fields(field("step", &CommandFailed::step), field("type", &CommandFailed::type),
                                         field("code", &CommandFailed::code), field("reason", &CommandFailed::reason));
};

namespace saga {

inline constexpr std::string_view kRecordPrefix = "strata.saga.";

struct TriggerHandled {
  static constexpr std::string_view kType = "strata.saga.trigger_handled.v1";
  std::string type;
  std::string id;
  static constexpr auto kFields = fields(field("type", &TriggerHandled::type), field("id", &TriggerHandled::id));
};

struct CommandIssued {
  static constexpr std::string_view kType = "strata.saga.command_issued.v1";
  std::string step;
  std::string key;  // the idempotency key the command handler is given
  std::string type;
  std::string payload;
  bool compensation = false;
  std::uint32_t attempt = 1;
  static constexpr auto kFields =
      fields(field("step", &CommandIssued::step), field("key", &CommandIssued::key),
             field("type", &CommandIssued::type), field("payload", &CommandIssued::payload),
             field("compensation", &CommandIssued::compensation), field("attempt", &CommandIssued::attempt));
};

// The answer to a command the saga issued (`compensation`: one of its compensations).
struct CommandAnswered {
  static constexpr std::string_view kType = "strata.saga.command_answered.v1";
  std::string step;
  bool compensation = false;
  bool succeeded = false;
  std::string reason;
  static constexpr auto kFields =
      fields(field("step", &CommandAnswered::step), field("compensation", &CommandAnswered::compensation),
             field("succeeded", &CommandAnswered::succeeded), field("reason", &CommandAnswered::reason));
};

struct MessageSent {
  static constexpr std::string_view kType = "strata.saga.message_sent.v1";
  std::string step;
  std::string key;  // the message's id: the broker's and the receiving inbox's dedupe key
  std::string type;
  std::string payload;
  bool compensation = false;
  static constexpr auto kFields =
      fields(field("step", &MessageSent::step), field("key", &MessageSent::key), field("type", &MessageSent::type),
             field("payload", &MessageSent::payload), field("compensation", &MessageSent::compensation));
};

struct DeadlineScheduled {
  static constexpr std::string_view kType = "strata.saga.deadline_scheduled.v1";
  std::string id;
  std::string name;
  std::int64_t due_us = 0;  // microseconds since the Unix epoch
  static constexpr auto kFields = fields(field("id", &DeadlineScheduled::id), field("name", &DeadlineScheduled::name),
                                         field("due_us", &DeadlineScheduled::due_us));
};

struct DeadlineCancelled {
  static constexpr std::string_view kType = "strata.saga.deadline_cancelled.v1";
  std::string id;
  static constexpr auto kFields = fields(field("id", &DeadlineCancelled::id));
};

struct DeadlineFired {
  static constexpr std::string_view kType = "strata.saga.deadline_fired.v1";
  std::string id;
  static constexpr auto kFields = fields(field("id", &DeadlineFired::id));
};

// How a completed step is undone: a command ("command") or a message ("message"), or nothing ("").
struct StepCompleted {
  static constexpr std::string_view kType = "strata.saga.step_completed.v1";
  std::string step;
  std::string compensation_kind;
  std::string compensation_type;
  std::string compensation_payload;
  static constexpr auto kFields =
      fields(field("step", &StepCompleted::step), field("compensation_kind", &StepCompleted::compensation_kind),
             field("compensation_type", &StepCompleted::compensation_type),
             field("compensation_payload", &StepCompleted::compensation_payload));
};

struct CompensationStarted {
  static constexpr std::string_view kType = "strata.saga.compensation_started.v1";
  std::string reason;
  static constexpr auto kFields = fields(field("reason", &CompensationStarted::reason));
};

struct StepCompensated {
  static constexpr std::string_view kType = "strata.saga.step_compensated.v1";
  std::string step;
  bool skipped = false;  // by an operator (SagaRunner::skip), not undone
  static constexpr auto kFields =
      fields(field("step", &StepCompensated::step), field("skipped", &StepCompensated::skipped));
};

struct NeedsAttention {
  static constexpr std::string_view kType = "strata.saga.needs_attention.v1";
  std::string step;
  std::string reason;
  static constexpr auto kFields =
      fields(field("step", &NeedsAttention::step), field("reason", &NeedsAttention::reason));
};

struct Completed {
  static constexpr std::string_view kType = "strata.saga.completed.v1";
  static constexpr auto kFields = fields();
};

struct Compensated {
  static constexpr std::string_view kType = "strata.saga.compensated.v1";
  static constexpr auto kFields = fields();
};

}  // namespace saga

// Where a saga is.
enum class SagaPhase : std::uint8_t {
  kNew,             // nothing stored yet
  kRunning,         // started, not ended
  kCompleted,       // completed by its process manager
  kCompensating,    // undoing its completed steps, newest first
  kCompensated,     // every completed step undone (or skipped by an operator)
  kNeedsAttention,  // a compensation kept failing: an operator retries or skips it
};

// "new", "running", "completed", "compensating", "compensated", "needs attention".
std::string_view saga_phase_name(SagaPhase phase) noexcept;

// The part of a saga's state strata keeps: folded from the "strata.saga.*" records of its stream.
struct SagaState {
  struct Step {
    std::string name;
    std::string compensation_kind;  // "command", "message" or ""
    std::string compensation_type;
    std::string compensation_payload;
    bool compensated = false;
  };
  struct Deadline {
    std::string id;
    std::string name;
    Timestamp due{};
  };
  struct Command {
    std::string step;
    std::string type;
    bool compensation = false;
    std::uint32_t attempt = 1;
  };

  SagaPhase phase = SagaPhase::kNew;
  std::vector<Step> steps;          // completed steps, in order
  std::vector<Deadline> deadlines;  // pending
  std::vector<Command> commands;    // issued and not yet answered
  std::string current_step;         // of the newest command or message
  std::string compensation_reason;
  std::string attention_step;  // kNeedsAttention: the compensation that kept failing
  std::string attention_reason;
  std::uint32_t attention_retries = 0;  // operator retries of the compensation that needs attention
  std::uint64_t deadlines_scheduled = 0;
  std::uint64_t triggers_handled = 0;

  bool ended() const noexcept { return phase == SagaPhase::kCompleted || phase == SagaPhase::kCompensated; }
  const Deadline* deadline(std::string_view id) const noexcept;
  const Command* command(std::string_view step, bool compensation) const noexcept;

  // Folds one "strata.saga.*" record. kUnknownEventType for a type strata does not know (a newer
  // version wrote it); kInvalidArgument when the payload does not decode.
  Status fold(std::string_view type, std::string_view payload);
};

}  // namespace strata
