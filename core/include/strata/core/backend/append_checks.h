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
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

// OK, or kInvalidArgument when `limits` fail validate_limits() (a store opened through its factory has
// passed that check already), when `events` is empty, holds more than limits.max_events_per_append events,
// holds an event that validate_event() rejects (the message names its index), or holds one event id twice.
Status check_append(const StreamId& stream, std::span<const EventData> events, const Limits& limits);

// kNotFound: stream "<id>" not found.
Status stream_not_found(const StreamId& stream);

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
