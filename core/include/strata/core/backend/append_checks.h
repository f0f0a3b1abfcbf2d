// Checks every EventStore backend applies to an append, written once so that all backends accept and
// refuse exactly the same appends with the same messages. For backend implementers; users do not need it.
//
//   STRATA_RETURN_IF_ERROR(strata::check_append(stream, events, limits));      // before taking locks
//   strata::IdempotencyCheck idem(stream, events.size());
//   for (i...) lookup(events[i].id) ? idem.found(i, stream, version, position) : idem.missing(i);
//   if (auto verdict = idem.verdict()) return *std::move(verdict);            // retry or conflict
//
// Thread safety: check_append is reentrant; an IdempotencyCheck belongs to one append.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "strata/core/event.h"
#include "strata/core/event_store.h"
#include "strata/core/limits.h"
#include "strata/core/personal_data.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

// OK, or kInvalidArgument when `limits` fail validate_limits() (a store opened through its factory has
// passed that check already), when `events` is empty, holds more than limits.max_events_per_append events,
// holds an event that validate_event() rejects (the message names its index), or holds one event id twice.
Status check_append(const StreamId& stream, std::span<const EventData> events, const Limits& limits);

// Reveals the personal fields of `view` (personal_data.h) in place when it may hold any: its payload
// then points into `scratch`. OK and nothing done when `personal` is null.
Status reveal_personal(PersonalData* personal, EventView& view, std::string& scratch);

// kNotFound: stream "<id>" not found.
Status stream_not_found(const StreamId& stream);

// What check_append() checks, for each part of a multi-stream append, and: at least one part, each
// stream once, no event id twice across the parts, at most limits.max_events_per_append events in all.
Status check_append_multi(std::span<const StreamAppend> appends, const Limits& limits);

// kStreamDeleted: stream "<id>" was deleted at version <head> (hard: "... and cannot be appended to").
Status stream_deleted(const StreamId& stream, const StreamInfo& info);
// kStreamTruncated: stream "<id>": versions below <first> were removed; version <from> was asked for.
Status stream_truncated(const StreamId& stream, Version from, Version first_version);

// Where a forward read or visit of a stream that is `info`, asked to start at `from`, starts: the
// refusal for a deleted stream (kStreamDeleted) or a version a truncation removed (kStreamTruncated),
// otherwise max(from, first_version) (0 and versions below info.origin read from first_version).
Result<Version> readable_from(const StreamId& stream, const StreamInfo& info, Version from);

// The refusal, if any, of an append expecting `expected` of a stream that is `info` (nullptr: none):
// kStreamDeleted for a hard-deleted stream, and for a soft-deleted one unless `expected` is
// no_stream() (which recreates it); kWrongExpectedVersion when the head does not satisfy `expected`.
// `recreate` is set when the append recreates a soft-deleted stream.
std::optional<VersionConflict> append_conflict(const StreamId& stream, ExpectedVersion expected, const StreamInfo* info,
                                               bool& recreate, Status& refused);

// A stream as a delete or truncate finds it, and what it must do.
struct LifecycleChange {
  // The refusal (kNotFound, kStreamDeleted, kWrongExpectedVersion), or OK.
  Status refused;
  // Nothing to do: a retry, or a truncation at or below the first version.
  bool unchanged = false;
  // The stream after the change.
  StreamInfo after;
  // Versions [remove_from, remove_to) lose their events (remove_from == remove_to: none).
  Version remove_from = 0;
  Version remove_to = 0;
};
// Decides delete_stream(stream, expected, mode) on a stream that is `info` (nullptr: never existed).
LifecycleChange decide_delete(const StreamId& stream, const StreamInfo* info, ExpectedVersion expected,
                              DeleteMode mode);
// Decides truncate_stream(stream, expected, before) likewise.
LifecycleChange decide_truncate(const StreamId& stream, const StreamInfo* info, ExpectedVersion expected,
                                Version before);

// Combines the idempotency verdicts of the parts of a multi-stream append: nullopt when no part's ids
// were committed (go on), the original result when every part's were (as that part), otherwise
// kIdempotencyConflict (or the first part's error).
std::optional<Result<MultiAppendResult>> multi_idempotency_verdict(
    std::span<const std::optional<Result<AppendResult>>> parts);

// Decides what an append whose event ids may have been committed before must do.
class IdempotencyCheck {
 public:
  IdempotencyCheck(const StreamId& stream, std::size_t count) : stream_(stream), count_(count) {}

  // Event i of the append was committed before as `version` of `stream` at `position`.
  void found(std::size_t i, std::string_view stream, Version version, Position position);
  // Event i's id has not been committed.
  void missing(std::size_t i);

  // nullopt when no id was committed before (go on with the append); the original AppendResult when all
  // were, by one contiguous run of this stream in this order; otherwise kIdempotencyConflict.
  std::optional<Result<AppendResult>> verdict() const;

 private:
  const StreamId& stream_;
  std::size_t count_;
  std::size_t found_ = 0;
  bool consistent_ = true;
  Version first_version_ = 0;
  Position first_position_ = 0;
  std::size_t first_found_index_ = 0;
  std::string conflict_detail_;
};

}  // namespace strata
