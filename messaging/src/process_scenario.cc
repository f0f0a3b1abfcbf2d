// ProcessScenario's compiled part: what a handling decided, rendered for comparison.
#include "strata/messaging/testing/process_scenario.h"

#include <fmt/format.h>

namespace strata::detail {

namespace {

std::string render_list(const std::vector<std::string>& items) {
  if (items.empty()) return "  (none)\n";
  std::string out;
  for (const auto& item : items) out += "  " + item + "\n";
  return out;
}

}  // namespace

std::vector<std::string> decisions_of(const std::vector<SagaRecord>& records, DecisionKind kind,
                                      const SagaState& before) {
  std::vector<std::string> out;
  SagaState state = before;  // deadline names of cancellations come from the state they cancel in
  for (const auto& r : records) {
    if (kind == DecisionKind::kCommands && r.type == saga::CommandIssued::kType) {
      saga::CommandIssued c;
      if (decode_json(r.payload, c).ok()) out.push_back(c.type + " " + c.payload);
    } else if (kind == DecisionKind::kMessages && r.type == saga::MessageSent::kType) {
      saga::MessageSent m;
      if (decode_json(r.payload, m).ok()) out.push_back(m.type + " " + m.payload);
    } else if (kind == DecisionKind::kScheduled && r.type == saga::DeadlineScheduled::kType) {
      saga::DeadlineScheduled d;
      if (decode_json(r.payload, d).ok()) out.push_back(d.name);
    } else if (kind == DecisionKind::kCancelled && r.type == saga::DeadlineCancelled::kType) {
      saga::DeadlineCancelled d;
      if (decode_json(r.payload, d).ok()) {
        const SagaState::Deadline* found = state.deadline(d.id);
        out.push_back(found != nullptr ? found->name : d.id);
      }
    }
    if (r.type.starts_with(saga::kRecordPrefix)) (void)state.fold(r.type, r.payload);
  }
  return out;
}

ScenarioOutcome judge_decisions(const Status& status, std::string_view what, const std::vector<std::string>& expected,
                                const std::vector<std::string>& actual) {
  if (!status.ok())
    return {false, fmt::format("expected the handler to succeed with {}:\n{}but it failed: {}", what,
                               render_list(expected), status.to_string())};
  if (expected != actual)
    return {false, fmt::format("expected {}:\n{}decided:\n{}", what, render_list(expected), render_list(actual))};
  return {true, "ok"};
}

}  // namespace strata::detail
