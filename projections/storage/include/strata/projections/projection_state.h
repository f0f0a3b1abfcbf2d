// What a ProjectionStorage keeps for each projection: its state (the serving generation of its read
// models and its checkpoint, and a rebuild's shadow generation), its parked events, and how its
// read-model rows are addressed and scanned.
//
//   strata::ProjectionState state;          // generation 1, checkpoint 0: nothing applied yet
//   state.checkpoint = 1234;                // every event up to position 1234 is applied
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "strata/core/event.h"
#include "strata/core/function_ref.h"
#include "strata/core/position.h"
#include "strata/core/status.h"

namespace strata {

// A generation of a projection's read models. Generations start at 1; reads with kServingGeneration
// resolve the projection's serving generation atomically with the read.
using Generation = std::uint64_t;
inline constexpr Generation kServingGeneration = 0;

// Longest projection name and read-model name, in bytes (both are 1..255 bytes, any bytes).
inline constexpr std::size_t kMaxProjectionNameBytes = 255;
inline constexpr std::size_t kMaxReadModelNameBytes = 255;

// What a projection has done so far, persisted with every batch it commits.
struct ProjectionState {
  // The generation whose read models serve queries.
  Generation generation = 1;
  // The position of the last event applied to `generation` (0: none yet).
  Position checkpoint = 0;
  // The generation being rebuilt in the shadow, or 0 when no rebuild is in progress.
  Generation shadow_generation = 0;
  // The position of the last event applied to the shadow generation.
  Position shadow_checkpoint = 0;

  bool rebuilding() const noexcept { return shadow_generation != 0; }
  friend bool operator==(const ProjectionState&, const ProjectionState&) = default;
};

// An event a projection gave up on after its error policy's retries: kept with the error of the last
// attempt until it is retried successfully or skipped.
struct ParkedEvent {
  // The generation whose handler failed (the serving one, or a shadow being rebuilt).
  Generation generation = 0;
  // The event as stored; event.position is the parked position.
  RecordedEvent event;
  // The error of the last attempt (never OK).
  Status error;
  // How many times the event was tried.
  std::uint32_t attempts = 0;
  // When it was parked (or last retried).
  Timestamp parked_at{};

  friend bool operator==(const ParkedEvent&, const ParkedEvent&) = default;
};

// Called for each row of a scan; a non-OK status stops the scan and is returned by it.
using RowVisitor = FunctionRef<Status(std::string_view key, std::string_view value)>;

struct ScanOptions {
  // Only rows whose key sorts strictly after this one (empty: from the first row of the prefix). Pass
  // the last key seen to page through a large read model.
  std::string start_after;
  // At most this many rows.
  std::size_t max_count = static_cast<std::size_t>(-1);
};

}  // namespace strata
