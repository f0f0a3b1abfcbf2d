// Limits: the sizes strata accepts at its edge. Violating one is kInvalidArgument with a message that
// names the limit and the offending size, never a crash and never a partial write. The defaults are
// safe for a service that accepts events from clients it does not control; raise them deliberately.
//
// Each option has a range, checked by validate_limits() when a store is opened through its factory
// (RocksEventStore::open, MemoryEventStore::create), on every append (check_append) and before a JSON
// parser allocates for max_json_depth, so that a limit no parser can honour (a depth of SIZE_MAX) is a
// typed error, never an abort:
//
//   strata::Limits limits;
//   limits.max_json_depth = 128;
//   STRATA_RETURN_IF_ERROR(strata::validate_limits(limits));   // OK: 128 is within 1..1024
//
// Thread safety: a plain value.
#pragma once

#include <cstddef>

#include "strata/core/status.h"

namespace strata {

class EventRegistry;

struct Limits {
  // The largest value validate_limits() accepts for each option; the smallest is 1 for each.
  static constexpr std::size_t kMaxPayloadBytesCeiling = std::size_t{1} << 30;  // 1 GiB
  static constexpr std::size_t kMaxJsonDepthCeiling = 1024;
  static constexpr std::size_t kMaxEventsPerAppendCeiling = 1'000'000;
  static constexpr std::size_t kMaxMetadataBytesCeiling = std::size_t{1} << 30;  // 1 GiB
  static constexpr std::size_t kMaxTypeBytesCeiling = 4096;

  // Largest accepted JSON payload of one event, in bytes. 1 to 1 GiB.
  std::size_t max_payload_bytes = std::size_t{1} << 20;
  // Deepest accepted nesting of JSON objects and arrays in a payload (the top-level object is depth 1).
  // 1 to 1024: the JSON parser allocates per level, and decoding recurses once per level.
  std::size_t max_json_depth = 64;
  // Most events accepted in one append. 1 to 1,000,000.
  std::size_t max_events_per_append = 10'000;
  // Largest accepted encoded metadata of one event (correlation and causation ids plus headers), bytes.
  // 1 to 1 GiB.
  std::size_t max_metadata_bytes = std::size_t{64} << 10;
  // Longest accepted event type name, in bytes. 1 to 4096 (typed events are held to 256 at compile time).
  std::size_t max_type_bytes = 256;
  // When set, every appended event is checked by schema->validate() (see event_registry.h): payloads of
  // known types must match their field tables and rules. Not owned; must outlive the store.
  const EventRegistry* schema = nullptr;
};

// OK when every option of `limits` is within its range (see Limits); otherwise kInvalidArgument naming
// the first option out of range, its value and the range: "invalid limits: max_json_depth is 0, expected
// 1 to 1024".
[[nodiscard]] Status validate_limits(const Limits& limits);

}  // namespace strata
