// SagaState (folding strata's saga records) and SagaCore (the decisions that produce them).
#include <fmt/format.h>

#include <algorithm>

#include "strata/messaging/process_manager.h"
#include "strata/messaging/saga_records.h"

namespace strata {

std::string_view saga_phase_name(SagaPhase phase) noexcept {
  switch (phase) {
    case SagaPhase::kNew:
      return "new";
    case SagaPhase::kRunning:
      return "running";
    case SagaPhase::kCompleted:
      return "completed";
    case SagaPhase::kCompensating:
      return "compensating";
    case SagaPhase::kCompensated:
      return "compensated";
    case SagaPhase::kNeedsAttention:
      return "needs attention";
  }
  return "unknown";
}

const SagaState::Deadline* SagaState::deadline(std::string_view id) const noexcept {
  auto it = std::find_if(deadlines.begin(), deadlines.end(), [&](const Deadline& d) { return d.id == id; });
  return it == deadlines.end() ? nullptr : &*it;
}

const SagaState::Command* SagaState::command(std::string_view step, bool compensation) const noexcept {
  auto it = std::find_if(commands.begin(), commands.end(),
                         [&](const Command& c) { return c.step == step && c.compensation == compensation; });
  return it == commands.end() ? nullptr : &*it;
}

namespace {

template <class R>
Status decode(std::string_view payload, R& out) {
  return decode_json(payload, out);
}

void drop_deadline(SagaState& s, std::string_view id) {
  std::erase_if(s.deadlines, [&](const SagaState::Deadline& d) { return d.id == id; });
}

}  // namespace

Status SagaState::fold(std::string_view type, std::string_view payload) {
  if (phase == SagaPhase::kNew) phase = SagaPhase::kRunning;
  if (type == saga::TriggerHandled::kType) {
    ++triggers_handled;
    return {};
  }
  if (type == saga::CommandIssued::kType) {
    saga::CommandIssued r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    std::erase_if(commands, [&](const Command& c) { return c.step == r.step && c.compensation == r.compensation; });
    commands.push_back(Command{r.step, r.type, r.compensation, r.attempt});
    current_step = r.step;
    if (r.compensation && phase == SagaPhase::kNeedsAttention) {
      phase = SagaPhase::kCompensating;
      ++attention_retries;
    }
    return {};
  }
  if (type == saga::CommandAnswered::kType) {
    saga::CommandAnswered r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    std::erase_if(commands, [&](const Command& c) { return c.step == r.step && c.compensation == r.compensation; });
    return {};
  }
  if (type == saga::MessageSent::kType) {
    saga::MessageSent r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    current_step = r.step;
    return {};
  }
  if (type == saga::DeadlineScheduled::kType) {
    saga::DeadlineScheduled r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    deadlines.push_back(Deadline{r.id, r.name, Timestamp(std::chrono::microseconds(r.due_us))});
    ++deadlines_scheduled;
    return {};
  }
  if (type == saga::DeadlineCancelled::kType) {
    saga::DeadlineCancelled r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    drop_deadline(*this, r.id);
    return {};
  }
  if (type == saga::DeadlineFired::kType) {
    saga::DeadlineFired r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    drop_deadline(*this, r.id);
    return {};
  }
  if (type == saga::StepCompleted::kType) {
    saga::StepCompleted r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    steps.push_back(Step{r.step, r.compensation_kind, r.compensation_type, r.compensation_payload, false});
    std::erase_if(commands, [&](const Command& c) { return c.step == r.step && !c.compensation; });
    return {};
  }
  if (type == saga::CompensationStarted::kType) {
    saga::CompensationStarted r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    phase = SagaPhase::kCompensating;
    compensation_reason = r.reason;
    return {};
  }
  if (type == saga::StepCompensated::kType) {
    saga::StepCompensated r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    for (auto& step : steps)
      if (step.name == r.step) step.compensated = true;
    std::erase_if(commands, [&](const Command& c) { return c.step == r.step && c.compensation; });
    if (phase == SagaPhase::kNeedsAttention) phase = SagaPhase::kCompensating;
    attention_step.clear();
    attention_reason.clear();
    return {};
  }
  if (type == saga::NeedsAttention::kType) {
    saga::NeedsAttention r;
    STRATA_RETURN_IF_ERROR(decode(payload, r));
    phase = SagaPhase::kNeedsAttention;
    attention_step = r.step;
    attention_reason = r.reason;
    std::erase_if(commands, [&](const Command& c) { return c.step == r.step && c.compensation; });
    return {};
  }
  if (type == saga::Completed::kType) {
    phase = SagaPhase::kCompleted;
    return {};
  }
  if (type == saga::Compensated::kType) {
    phase = SagaPhase::kCompensated;
    return {};
  }
  return Status::unknown_event_type(
      fmt::format("saga record of type \"{}\" is not known to this version of strata", type));
}

namespace detail {

Status in_saga_record(const Status& status, const EventView& e) {
  return status.with_context(
      fmt::format("saga stream \"{}\", version {}, record \"{}\"", e.stream_id, e.version.value(), e.type));
}

template <class R>
void SagaCore::add(const R& record) {
  std::string payload = to_json(record);
  // Folding a record strata just encoded cannot fail.
  (void)state_.fold(R::kType, payload);
  std::string key;
  if constexpr (std::is_same_v<R, saga::MessageSent>) key = record.key;
  pending_.push_back(SagaRecord{std::string(R::kType), std::move(payload), std::move(key)});
}

std::string SagaCore::key(std::string_view step, bool compensation) const {
  return compensation ? fmt::format("{}/{}/compensate", stream_, step) : fmt::format("{}/{}", stream_, step);
}

void SagaCore::user_event(std::string_view type, std::string payload) {
  if (state_.phase == SagaPhase::kNew) state_.phase = SagaPhase::kRunning;
  pending_.push_back(SagaRecord{std::string(type), std::move(payload), {}});
}

void SagaCore::trigger_handled(std::string_view type, std::string_view id) {
  add(saga::TriggerHandled{std::string(type), std::string(id)});
}

void SagaCore::send(std::string step, std::string_view type, std::string payload) {
  std::string k = key(step, false);
  add(saga::CommandIssued{std::move(step), std::move(k), std::string(type), std::move(payload), false, 1});
}

void SagaCore::publish(std::string step, std::string_view type, std::string payload) {
  std::string k = key(step, false);
  add(saga::MessageSent{std::move(step), std::move(k), std::string(type), std::move(payload), false});
}

std::string SagaCore::schedule(std::string name, Timestamp due) {
  std::string id = fmt::format("{}/deadline/{}/{}", stream_, name, state_.deadlines_scheduled + 1);
  add(saga::DeadlineScheduled{id, std::move(name), due.time_since_epoch().count()});
  return id;
}

void SagaCore::cancel(std::string_view name) {
  std::vector<std::string> ids;
  for (const auto& d : state_.deadlines)
    if (d.name == name) ids.push_back(d.id);
  for (auto& id : ids) add(saga::DeadlineCancelled{std::move(id)});
}

void SagaCore::step_completed(std::string step, std::string_view kind, std::string_view type, std::string payload) {
  add(saga::StepCompleted{std::move(step), std::string(kind), std::string(type), std::move(payload)});
}

void SagaCore::complete() {
  if (state_.ended() || state_.phase == SagaPhase::kCompensating || state_.phase == SagaPhase::kNeedsAttention) return;
  std::vector<std::string> ids;
  for (const auto& d : state_.deadlines) ids.push_back(d.id);
  for (auto& id : ids) add(saga::DeadlineCancelled{std::move(id)});
  add(saga::Completed{});
}

void SagaCore::compensate(std::string reason) {
  // Once: a second failure while compensating (a late decline, a second deadline) changes nothing.
  if (state_.ended() || state_.phase == SagaPhase::kCompensating || state_.phase == SagaPhase::kNeedsAttention) return;
  std::vector<std::string> ids;
  for (const auto& d : state_.deadlines) ids.push_back(d.id);
  for (auto& id : ids) add(saga::DeadlineCancelled{std::move(id)});
  add(saga::CompensationStarted{std::move(reason)});
  next_compensation();
}

// Undoes the newest completed step not undone yet: a message is sent and counts as undone at once (the
// relay delivers it); a command waits for its answer. When none is left, the saga is compensated.
void SagaCore::next_compensation() {
  while (state_.phase == SagaPhase::kCompensating) {
    auto it = std::find_if(state_.steps.rbegin(), state_.steps.rend(),
                           [](const SagaState::Step& s) { return !s.compensated; });
    if (it == state_.steps.rend()) {
      add(saga::Compensated{});
      return;
    }
    const SagaState::Step step = *it;
    if (step.compensation_kind == "command") {
      if (state_.command(step.name, true) != nullptr) return;  // issued, waiting for its answer
      add(saga::CommandIssued{step.name, key(step.name, true), step.compensation_type, step.compensation_payload, true,
                              1});
      return;
    }
    if (step.compensation_kind == "message")
      add(saga::MessageSent{step.name, key(step.name, true), step.compensation_type, step.compensation_payload, true});
    add(saga::StepCompensated{step.name, false});
  }
}

bool SagaCore::deadline_due(std::string_view id) {
  if (state_.deadline(id) == nullptr) return false;
  add(saga::DeadlineFired{std::string(id)});
  return true;
}

bool SagaCore::command_answered(std::string_view step, bool compensation, bool succeeded, std::string_view reason) {
  if (state_.command(step, compensation) == nullptr) return false;  // answered before
  add(saga::CommandAnswered{std::string(step), compensation, succeeded, std::string(reason)});
  if (!compensation) return true;
  if (succeeded) {
    add(saga::StepCompensated{std::string(step), false});
    next_compensation();
  } else {
    add(saga::NeedsAttention{std::string(step), std::string(reason)});
  }
  return true;
}

Status SagaCore::retry_attention() {
  if (state_.phase != SagaPhase::kNeedsAttention)
    return Status::invalid_argument(
        fmt::format("saga \"{}\" does not need attention (it is {})", stream_, saga_phase_name(state_.phase)));
  const std::string step = state_.attention_step;
  auto it = std::find_if(state_.steps.begin(), state_.steps.end(), [&](const auto& s) { return s.name == step; });
  if (it == state_.steps.end()) return Status::corruption(fmt::format("saga \"{}\": no step \"{}\"", stream_, step));
  const SagaState::Step s = *it;
  add(saga::CommandIssued{s.name, key(s.name, true), s.compensation_type, s.compensation_payload, true,
                          state_.attention_retries + 2});
  return {};
}

Status SagaCore::skip_attention() {
  if (state_.phase != SagaPhase::kNeedsAttention)
    return Status::invalid_argument(
        fmt::format("saga \"{}\" does not need attention (it is {})", stream_, saga_phase_name(state_.phase)));
  add(saga::StepCompensated{state_.attention_step, true});
  next_compensation();
  return {};
}

}  // namespace detail
}  // namespace strata
