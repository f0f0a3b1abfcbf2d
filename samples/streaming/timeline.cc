#include "streaming/timeline.h"

#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "strata/core/codec.h"
#include "strata/messaging/saga_records.h"

namespace streaming {

namespace {

constexpr std::string_view kReply = "reply/";
constexpr std::string_view kDeadline = "deadline/";

// Every event of one store with the correlation id, in log order.
strata::Status gather(const ServiceLog& log, std::string_view correlation_id, std::vector<TimelineEvent>& out) {
  for (strata::Position from = 1;;) {
    STRATA_ASSIGN_OR_RETURN(strata::LogSlice slice, log.store.read_log(from, 1'000));
    for (strata::RecordedEvent& e : slice.events)
      if (e.metadata.correlation_id == correlation_id) out.push_back({std::string(log.service), std::move(e), {}});
    if (slice.end_of_log) return {};
    from = slice.next_position;
  }
}

// The index in `events` of the event `causation_id` names, if it is there.
class Causes {
 public:
  explicit Causes(const std::vector<TimelineEvent>& events) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      const strata::RecordedEvent& e = events[i].event;
      by_id_[e.id.to_string()] = i;
      strata::saga::DeadlineScheduled d;
      if (e.type == strata::saga::DeadlineScheduled::kType && strata::decode_json(e.payload, d).ok())
        by_deadline_[d.id] = i;
    }
  }

  std::optional<std::size_t> find(std::string_view causation_id) const {
    const auto& index = causation_id.starts_with(kDeadline) ? by_deadline_ : by_id_;
    if (causation_id.starts_with(kDeadline)) causation_id.remove_prefix(kDeadline.size());
    if (causation_id.starts_with(kReply)) causation_id.remove_prefix(kReply.size());
    auto it = index.find(std::string(causation_id));
    if (it == index.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::unordered_map<std::string, std::size_t> by_id_;
  std::unordered_map<std::string, std::size_t> by_deadline_;  // deadline id -> the record that scheduled it
};

// What a saga record says, in a few words.
std::string describe_saga_record(const strata::RecordedEvent& e) {
  namespace saga = strata::saga;
  auto as = [&](auto record) {
    (void)strata::decode_json(e.payload, record);
    return record;
  };
  auto compensating = [](bool compensation) { return compensation ? " (compensation)" : ""; };
  auto deadline_name = [](std::string_view id) {  // "<saga stream>/deadline/<name>/<n>"
    const auto at = id.find("/deadline/");
    return std::string(at == std::string_view::npos ? id : id.substr(at + 10));
  };
  if (e.type == saga::TriggerHandled::kType) return "<- " + as(saga::TriggerHandled{}).type;
  if (e.type == saga::MessageSent::kType) {
    const auto m = as(saga::MessageSent{});
    return fmt::format("{} -> {}{}", m.step, m.type, compensating(m.compensation));
  }
  if (e.type == saga::CommandIssued::kType) {
    const auto c = as(saga::CommandIssued{});
    return fmt::format("{} -> {}{}", c.step, c.type, compensating(c.compensation));
  }
  if (e.type == saga::CommandAnswered::kType) {
    const auto a = as(saga::CommandAnswered{});
    return fmt::format("{}{}: {}", a.step, compensating(a.compensation), a.succeeded ? "done" : "failed: " + a.reason);
  }
  if (e.type == saga::StepCompleted::kType) {
    const auto s = as(saga::StepCompleted{});
    return s.compensation_type.empty() ? s.step : fmt::format("{}, undone by {}", s.step, s.compensation_type);
  }
  if (e.type == saga::DeadlineScheduled::kType) return as(saga::DeadlineScheduled{}).name;
  if (e.type == saga::DeadlineCancelled::kType) return deadline_name(as(saga::DeadlineCancelled{}).id);
  if (e.type == saga::DeadlineFired::kType) return deadline_name(as(saga::DeadlineFired{}).id);
  if (e.type == saga::CompensationStarted::kType) return as(saga::CompensationStarted{}).reason;
  if (e.type == saga::StepCompensated::kType) return as(saga::StepCompensated{}).step;
  if (e.type == saga::NeedsAttention::kType) {
    const auto n = as(saga::NeedsAttention{});
    return n.step + ": " + n.reason;
  }
  return "";
}

// What an event says, in at most `width` characters.
std::string describe(const strata::RecordedEvent& e, std::size_t width) {
  std::string text = e.type.starts_with(strata::saga::kRecordPrefix) ? describe_saga_record(e) : e.payload;
  if (text == "{}") text.clear();
  if (text.size() > width) text = text.substr(0, width - 3) + "...";
  return text;
}

std::string cause_of(const TimelineEvent& e) { return e.cause ? fmt::format("#{}", *e.cause + 1) : ""; }

}  // namespace

strata::Result<std::vector<TimelineEvent>> business_transaction(std::span<const ServiceLog> logs,
                                                                std::string_view correlation_id) {
  std::vector<TimelineEvent> found;
  for (const ServiceLog& log : logs) STRATA_RETURN_IF_ERROR(gather(log, correlation_id, found));

  // Kahn's topological sort over "caused by", taking among the events whose cause is placed the one
  // committed first: stores on one host share a clock, so this is commit order wherever causality
  // does not decide.
  const Causes causes(found);
  std::vector<std::optional<std::size_t>> cause(found.size());
  std::vector<std::vector<std::size_t>> effects(found.size());
  // Ties (one append's events) go in gathering order: by service, then by log position.
  using Key = std::pair<strata::Timestamp, std::size_t>;
  std::priority_queue<Key, std::vector<Key>, std::greater<>> ready;
  auto make_ready = [&](std::size_t i) { ready.emplace(found[i].event.timestamp, i); };
  for (std::size_t i = 0; i < found.size(); ++i) {
    cause[i] = causes.find(found[i].event.metadata.causation_id);
    if (cause[i] == i) cause[i].reset();
    if (cause[i]) {
      effects[*cause[i]].push_back(i);
    } else {
      make_ready(i);
    }
  }
  std::vector<std::size_t> placed_at(found.size());
  std::vector<TimelineEvent> ordered;
  ordered.reserve(found.size());
  while (!ready.empty()) {
    const std::size_t i = ready.top().second;
    ready.pop();
    placed_at[i] = ordered.size();
    ordered.push_back(std::move(found[i]));
    if (cause[i]) ordered.back().cause = placed_at[*cause[i]];
    for (std::size_t effect : effects[i]) make_ready(effect);
  }
  return ordered;
}

std::string render_timeline(const std::vector<TimelineEvent>& events) {
  constexpr std::string_view kRow = "  {:>3}  {:>7}  {:<9}  {:<19} {:>3}  {:<35}  {:<13}  {:<5}  {}\n";
  std::string out = fmt::format(kRow, "#", "ms", "service", "stream", "v", "type", "correlation", "cause", "what");
  if (events.empty()) return out;
  const strata::Timestamp start = events.front().event.timestamp;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const strata::RecordedEvent& e = events[i].event;
    out += fmt::format(kRow, i + 1, fmt::format("{:.1f}", (e.timestamp - start).count() / 1000.0), events[i].service,
                       e.stream_id, e.version.value(), e.type, e.metadata.correlation_id, cause_of(events[i]),
                       describe(e, 72));
  }
  return out;
}

std::string render_trace(const std::vector<TimelineEvent>& events) {
  std::vector<std::vector<std::size_t>> effects(events.size());
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < events.size(); ++i) (events[i].cause ? effects[*events[i].cause] : roots).push_back(i);

  std::string out;
  // Depth first, each event's effects in timeline order, drawn as a tree.
  auto draw = [&](auto& self, std::size_t i, const std::string& indent, bool last, bool root) -> void {
    const strata::RecordedEvent& e = events[i].event;
    const std::string branch = root ? "" : (last ? "`- " : "|- ");
    out += fmt::format("{}{}{} {} v{} {}", indent, branch, events[i].service, e.stream_id, e.version.value(), e.type);
    const std::string what = describe(e, 72);
    out += what.empty() ? "\n" : "  " + what + "\n";
    const std::string inner = root ? indent : indent + (last ? "   " : "|  ");
    for (std::size_t k = 0; k < effects[i].size(); ++k)
      self(self, effects[i][k], inner, k + 1 == effects[i].size(), false);
  };
  for (std::size_t root : roots) draw(draw, root, "", true, true);
  return out;
}

}  // namespace streaming
