// Limits: the sizes strata accepts at its edge. Violating one is kInvalidArgument with a message that
// names the limit and the offending size, never a crash and never a partial write. The defaults are
// safe for a service that accepts events from clients it does not control; raise them deliberately.
//
// Thread safety: a plain value.
#pragma once

#include <cstddef>

namespace strata {

class EventRegistry;

struct Limits {
  // Largest accepted JSON payload of one event, in bytes.
  std::size_t max_payload_bytes = std::size_t{1} << 20;
  // Deepest accepted nesting of JSON objects and arrays in a payload (the top-level object is depth 1).
  std::size_t max_json_depth = 64;
  // Most events accepted in one append.
  std::size_t max_events_per_append = 10'000;
  // Largest accepted encoded metadata of one event (correlation and causation ids plus headers), bytes.
  std::size_t max_metadata_bytes = std::size_t{64} << 10;
  // Longest accepted event type name, in bytes.
  std::size_t max_type_bytes = 256;
  // When set, every appended event is checked by schema->validate() (see event_registry.h): payloads of
  // known types must match their field tables and rules. Not owned; must outlive the store.
  const EventRegistry* schema = nullptr;
};

}  // namespace strata
