#include "strata/core/backend/append_checks.h"

#include <fmt/format.h>

#include <unordered_set>

#include "strata/core/event_registry.h"

namespace strata {

Status check_append(const StreamId& stream, std::span<const EventData> events, const Limits& limits) {
  // Stores validate their limits when they are opened; checked here too (a few comparisons) so that a
  // backend that does not, or a store constructed without a factory, refuses instead of crashing.
  if (Status s = validate_limits(limits); !s.ok())
    return s.with_context(fmt::format("append to stream \"{}\"", stream.str()));
  if (events.empty()) return Status::invalid_argument(fmt::format("append to stream \"{}\": no events", stream.str()));
  if (events.size() > limits.max_events_per_append)
    return Status::invalid_argument(fmt::format("append to stream \"{}\": {} events exceeds the limit of {} per append",
                                                stream.str(), events.size(), limits.max_events_per_append));
  for (std::size_t i = 0; i < events.size(); ++i) {
    Status s = validate_event(events[i], limits);
    if (s.ok() && limits.schema != nullptr) s = limits.schema->validate(events[i], limits);
    if (!s.ok()) return s.with_context(fmt::format("append to stream \"{}\", event {}", stream.str(), i));
  }
  if (events.size() > 1) {
    std::unordered_set<EventId> seen;
    seen.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i)
      if (!seen.insert(events[i].id).second)
        return Status::invalid_argument(fmt::format("append to stream \"{}\": event id {} appears twice (event {})",
                                                    stream.str(), events[i].id.to_string(), i));
  }
  return {};
}

Status stream_not_found(const StreamId& stream) {
  return Status::not_found(fmt::format("stream \"{}\" not found", stream.str()));
}

void IdempotencyCheck::found(std::size_t i, std::string_view stream, Version version, Position position) {
  if (found_ == 0) {
    first_found_index_ = i;
    first_version_ = version - i;
    first_position_ = position - i;
  }
  ++found_;
  if (!consistent_) return;
  if (stream != stream_.view()) {
    consistent_ = false;
    conflict_detail_ = fmt::format("event {} was committed to stream \"{}\"", i, stream);
  } else if (version != first_version_ + i || position != first_position_ + i) {
    consistent_ = false;
    conflict_detail_ = fmt::format("event {} was committed as version {} at position {}, out of order", i,
                                   version.value(), position.value());
  }
}

void IdempotencyCheck::missing(std::size_t) {}

std::optional<Result<AppendResult>> IdempotencyCheck::verdict() const {
  if (found_ == 0) return std::nullopt;
  if (found_ < count_)
    return Result<AppendResult>(Status::idempotency_conflict(fmt::format(
        "append to stream \"{}\": {} of its {} event ids were already committed (the first is event {}); a retry "
        "must resend exactly the original events",
        stream_.str(), found_, count_, first_found_index_)));
  if (!consistent_)
    return Result<AppendResult>(Status::idempotency_conflict(
        fmt::format("append to stream \"{}\": its event ids were already committed differently: {}", stream_.str(),
                    conflict_detail_)));
  return Result<AppendResult>(AppendResult{first_version_ + count_ - 1, first_position_, first_position_ + count_ - 1});
}

}  // namespace strata
