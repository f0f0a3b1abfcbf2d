#include "strata/core/backend/append_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <unordered_set>
#include <vector>

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
    // Sorted indexes rather than a hash set (no allocation per id); the report names the first event
    // whose id an earlier one has, as a scan in order would.
    struct Keyed {
      std::uint64_t hi, lo;  // the id's bytes as two words: any total order finds equal ids
      std::uint32_t index;
    };
    thread_local std::vector<Keyed> order;
    order.resize(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      const std::string_view bytes = events[i].id.as_bytes();
      std::memcpy(&order[i].hi, bytes.data(), 8);
      std::memcpy(&order[i].lo, bytes.data() + 8, 8);
      order[i].index = static_cast<std::uint32_t>(i);
    }
    std::sort(order.begin(), order.end(), [](const Keyed& a, const Keyed& b) {
      return a.hi != b.hi ? a.hi < b.hi : a.lo != b.lo ? a.lo < b.lo : a.index < b.index;
    });
    std::size_t repeat = events.size();  // the first event whose id an earlier event has
    for (std::size_t k = 1; k < order.size(); ++k)
      if (order[k].hi == order[k - 1].hi && order[k].lo == order[k - 1].lo)
        repeat = std::min<std::size_t>(repeat, order[k].index);
    if (repeat < events.size())
      return Status::invalid_argument(fmt::format("append to stream \"{}\": event id {} appears twice (event {})",
                                                  stream.str(), events[repeat].id.to_string(), repeat));
  }
  return {};
}

Status reveal_personal(PersonalData* personal, EventView& view, std::string& scratch) {
  if (personal == nullptr || !PersonalData::may_hold_tokens(view.payload)) return {};
  auto revealed = personal->reveal(view.payload, scratch);
  if (!revealed.ok())
    return revealed.status().with_context(
        fmt::format("stream \"{}\" version {}", view.stream_id, view.version.value()));
  view.payload = *revealed;
  return {};
}

Status stream_not_found(const StreamId& stream) {
  return Status::not_found(fmt::format("stream \"{}\" not found", stream.str()));
}

Status check_append_multi(std::span<const StreamAppend> appends, const Limits& limits) {
  if (appends.empty()) return Status::invalid_argument("multi-stream append: no streams");
  std::size_t total = 0;
  std::unordered_set<std::string_view> streams;
  std::unordered_set<EventId> ids;
  for (std::size_t k = 0; k < appends.size(); ++k) {
    const StreamAppend& a = appends[k];
    STRATA_RETURN_IF_ERROR(check_append(a.stream, a.events, limits).with_context("multi-stream append"));
    if (!streams.insert(a.stream.view()).second)
      return Status::invalid_argument(
          fmt::format("multi-stream append: stream \"{}\" appears twice (part {})", a.stream.str(), k));
    total += a.events.size();
    for (const EventData& e : a.events)
      if (!ids.insert(e.id).second)
        return Status::invalid_argument(
            fmt::format("multi-stream append: event id {} appears twice (part {})", e.id.to_string(), k));
  }
  if (total > limits.max_events_per_append)
    return Status::invalid_argument(fmt::format("multi-stream append: {} events exceeds the limit of {} per append",
                                                total, limits.max_events_per_append));
  return {};
}

Status stream_deleted(const StreamId& stream, const StreamInfo& info) {
  if (info.state == StreamState::kHardDeleted)
    return Status(StatusCode::kStreamDeleted,
                  fmt::format("stream \"{}\" was hard-deleted at version {}; it cannot be read or appended to again",
                              stream.str(), info.head.value()));
  return Status(StatusCode::kStreamDeleted,
                fmt::format("stream \"{}\" was deleted at version {} (an append expecting no stream recreates it)",
                            stream.str(), info.head.value()));
}

Status stream_truncated(const StreamId& stream, Version from, Version first_version) {
  return Status(StatusCode::kStreamTruncated,
                fmt::format("stream \"{}\": versions below {} were removed (truncated); version {} was asked for",
                            stream.str(), first_version.value(), from.value()));
}

Result<Version> readable_from(const StreamId& stream, const StreamInfo& info, Version from) {
  if (info.state != StreamState::kLive) return stream_deleted(stream, info);
  if (from < info.origin) return info.first_version;
  if (from < info.first_version) return stream_truncated(stream, from, info.first_version);
  return from;
}

std::optional<VersionConflict> append_conflict(const StreamId& stream, ExpectedVersion expected, const StreamInfo* info,
                                               bool& recreate, Status& refused) {
  recreate = false;
  refused = Status();
  const Version head = info == nullptr ? Version{0} : info->head;
  if (info != nullptr && info->state == StreamState::kHardDeleted) {
    refused = stream_deleted(stream, *info);
    return std::nullopt;
  }
  if (info != nullptr && info->state == StreamState::kDeleted) {
    if (expected.kind() != ExpectedVersion::Kind::kNoStream) {
      refused = stream_deleted(stream, *info);
      return std::nullopt;
    }
    recreate = true;
    return std::nullopt;
  }
  if (!expected.matches(head)) return VersionConflict{stream.str(), expected, head};
  return std::nullopt;
}

namespace {

// The refusal of a delete or truncate whose stream is `info`, before what it asks is looked at.
Status lifecycle_precheck(const StreamId& stream, const StreamInfo* info, ExpectedVersion expected,
                          std::string_view what) {
  if (info == nullptr || info->head == 0)
    return Status::not_found(fmt::format("{} stream \"{}\": the stream has no events", what, stream.str()));
  if (!expected.matches(info->head))
    return Status::wrong_expected_version(VersionConflict{stream.str(), expected, info->head});
  return {};
}

}  // namespace

LifecycleChange decide_delete(const StreamId& stream, const StreamInfo* info, ExpectedVersion expected,
                              DeleteMode mode) {
  LifecycleChange c;
  c.refused = lifecycle_precheck(stream, info, expected, "delete");
  if (!c.refused.ok()) return c;
  c.after = *info;
  if (info->state == StreamState::kHardDeleted || (info->state == StreamState::kDeleted && mode == DeleteMode::kSoft)) {
    c.unchanged = true;
    return c;
  }
  if (mode == DeleteMode::kSoft) {
    c.after.state = StreamState::kDeleted;
    c.after.first_version = info->head + 1;
    return c;
  }
  // Hard: every event still there goes (after a soft delete, the hidden ones too).
  c.after.state = StreamState::kHardDeleted;
  c.after.first_version = info->head + 1;
  c.remove_from = 1;
  c.remove_to = info->head + 1;
  return c;
}

LifecycleChange decide_truncate(const StreamId& stream, const StreamInfo* info, ExpectedVersion expected,
                                Version before) {
  LifecycleChange c;
  c.refused = lifecycle_precheck(stream, info, expected, "truncate");
  if (!c.refused.ok()) return c;
  if (info->state != StreamState::kLive) {
    c.refused = stream_deleted(stream, *info);
    return c;
  }
  c.after = *info;
  const Version to = std::min(before, info->head + 1);
  if (to <= info->first_version) {
    c.unchanged = true;
    return c;
  }
  c.after.first_version = to;
  c.remove_from = 1;
  c.remove_to = to;
  return c;
}

std::optional<Result<MultiAppendResult>> multi_idempotency_verdict(
    std::span<const std::optional<Result<AppendResult>>> parts) {
  std::size_t committed = 0;
  for (const auto& p : parts) {
    if (!p.has_value()) continue;
    if (!p->ok()) return Result<MultiAppendResult>(p->status());
    ++committed;
  }
  if (committed == 0) return std::nullopt;
  if (committed < parts.size())
    return Result<MultiAppendResult>(Status::idempotency_conflict(
        fmt::format("multi-stream append: the event ids of {} of its {} streams were already committed; a retry must "
                    "resend exactly the original append",
                    committed, parts.size())));
  MultiAppendResult r;
  for (const auto& p : parts) r.streams.push_back(**p);
  r.first_position = r.streams.front().first_position;
  r.last_position = r.streams.front().last_position;
  for (const AppendResult& a : r.streams) {
    r.first_position = std::min(r.first_position, a.first_position);
    r.last_position = std::max(r.last_position, a.last_position);
  }
  return Result<MultiAppendResult>(std::move(r));
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
