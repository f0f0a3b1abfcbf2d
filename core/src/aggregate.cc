#include "strata/core/aggregate.h"

#include <fmt/format.h>

#include <ostream>

#include "strata/core/repository.h"
#include "strata/core/testing/scenario.h"

namespace strata {
namespace detail {

Status unknown_event_type(std::string_view stream, Version version, Position position, std::string_view type) {
  return Status::unknown_event_type(
      fmt::format("stream \"{}\" version {} (position {}) has event type \"{}\", which this aggregate does not handle",
                  stream, version.value(), position.value(), type));
}

Status version_beyond_head(const StreamId& id, Version wanted, Version head) {
  return Status::invalid_argument(fmt::format("stream \"{}\" has {} events: version {} is beyond its head", id.str(),
                                              head.value(), wanted.value()));
}

Status no_event_as_of(const StreamId& id, Timestamp at) {
  return Status::invalid_argument(fmt::format("stream \"{}\" has no event committed at or before {} us since the epoch",
                                              id.str(), at.time_since_epoch().count()));
}

Status in_pending_event(const Status& status, const StreamId& id, std::size_t index) {
  return status.with_context(fmt::format("save of stream \"{}\", pending event {}", id.str(), index));
}

Status invalid_version_zero(const StreamId& id) {
  return Status::invalid_argument(
      fmt::format("stream \"{}\": version 0 is before the first event; versions start at 1", id.str()));
}

void report_snapshot_incident(const RepositoryOptions& options, SnapshotStats& stats, SnapshotProblem problem,
                              const StreamId& id, Version version, const Status& status) {
  if (problem == SnapshotProblem::kWriteFailed) {
    stats.write_failures.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats.ignored.fetch_add(1, std::memory_order_relaxed);
  }
  if (options.on_snapshot_incident) options.on_snapshot_incident(SnapshotIncident{problem, id.str(), version, status});
}

namespace {
std::string render_list(const std::vector<std::string>& events) {
  if (events.empty()) return "  (no events)\n";
  std::string s;
  for (const auto& e : events) s += "  " + e + "\n";
  return s;
}
}  // namespace

ScenarioOutcome judge_events(const Status& status, const std::vector<std::string>& expected,
                             const std::vector<std::string>& actual) {
  if (!status.ok())
    return {false, fmt::format("expected the command to succeed with:\n{}but it failed: {}\nrecorded:\n{}",
                               render_list(expected), status.to_string(), render_list(actual))};
  if (expected != actual)
    return {false, fmt::format("expected events:\n{}recorded events:\n{}", render_list(expected), render_list(actual))};
  return {true, "ok"};
}

ScenarioOutcome judge_error(const Status& status, StatusCode expected_code, std::string_view message_part,
                            const std::vector<std::string>& actual) {
  if (status.ok())
    return {false, fmt::format("expected the command to fail with {}, but it succeeded and recorded:\n{}",
                               status_code_name(expected_code), render_list(actual))};
  if (status.code() != expected_code)
    return {false, fmt::format("expected the command to fail with {}, but it failed with {}",
                               status_code_name(expected_code), status.to_string())};
  if (!message_part.empty() && status.message().find(message_part) == std::string_view::npos)
    return {false, fmt::format("expected the failure message to contain \"{}\", but it was \"{}\"", message_part,
                               status.message())};
  if (!actual.empty())
    return {false, fmt::format("the command failed as expected but still recorded:\n{}", render_list(actual))};
  return {true, "ok"};
}

}  // namespace detail

std::ostream& operator<<(std::ostream& os, const ScenarioOutcome& outcome) { return os << outcome.description; }

}  // namespace strata
