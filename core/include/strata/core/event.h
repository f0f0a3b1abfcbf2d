// Events as they are appended (EventData), as they are stored (RecordedEvent), and as a store lends them
// to a visitor without copying (EventView).
//
// An event has a persisted type name that carries its schema version ("bank.deposited.v1", never the C++
// name), a JSON object payload, and metadata: correlation id, causation id and user headers. The store
// adds the stream version, the global position and the commit timestamp.
//
//   strata::EventData e{strata::EventId::generate(), "bank.deposited.v1", R"({"cents":500})"};
//   e.metadata.correlation_id = "req-7";
//   STRATA_RETURN_IF_ERROR(strata::validate_event(e, strata::Limits{}));
//
// Typed events (see codec.h) are turned into EventData by strata::to_event_data().
//
// Thread safety: plain values. An EventView refers to memory owned by the store; it is valid only
// during the visitor call that received it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/core/event_id.h"
#include "strata/core/limits.h"
#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

struct Metadata {
  // The id shared by every event caused, directly or not, by one request.
  std::string correlation_id;
  // The id of the event or command that caused this event.
  std::string causation_id;
  // User headers, in insertion order; keys are non-empty and unique.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of header `key`, or nullptr.
  const std::string* header(std::string_view key) const noexcept;
  bool empty() const noexcept { return correlation_id.empty() && causation_id.empty() && headers.empty(); }

  friend bool operator==(const Metadata&, const Metadata&) = default;
};

// An event to append.
struct EventData {
  EventId id;
  // Persisted type name, e.g. "bank.deposited.v1": 1 to Limits::max_type_bytes of [A-Za-z0-9_.:-].
  std::string type;
  // A JSON object.
  std::string payload;
  Metadata metadata;

  friend bool operator==(const EventData&, const EventData&) = default;
};

// An event read back from a store, owning its bytes.
struct RecordedEvent {
  std::string stream_id;
  Version version = 0;
  Position position = 0;
  EventId id;
  std::string type;
  Timestamp timestamp{};
  Metadata metadata;
  std::string payload;

  // The schema version carried by the type name's ".v<N>" suffix; 1 when there is none.
  std::uint32_t schema_version() const noexcept;

  friend bool operator==(const RecordedEvent&, const RecordedEvent&) = default;
};

// A stored event lent to a visitor. The views point into the store's buffers and are valid only during
// the call. Metadata stays encoded until metadata() is called, so replay that does not need it pays
// nothing for it.
struct EventView {
  std::string_view stream_id;
  Version version = 0;
  Position position = 0;
  EventId id;
  std::string_view type;
  Timestamp timestamp{};
  // Metadata in strata's compact encoding (backend/metadata_encoding.h).
  std::string_view encoded_metadata;
  std::string_view payload;

  // Decodes the metadata; kCorruption if the encoding is damaged.
  Result<Metadata> metadata() const;
  // A copy that owns its bytes; kCorruption if the metadata encoding is damaged.
  Result<RecordedEvent> to_recorded() const;
};

// The schema version carried by a type name's ".v<N>" suffix, 1 when there is none.
std::uint32_t schema_version_of(std::string_view type) noexcept;

// Checks an event before it is appended: a non-nil id; a type name of 1..max_type_bytes bytes of
// [A-Za-z0-9_.:-]; a payload that is one well-formed JSON object of at most max_payload_bytes, nested at
// most max_json_depth deep; metadata whose encoding fits max_metadata_bytes, with non-empty, unique
// header keys. Returns OK or kInvalidArgument naming the type, the limit and the offending size.
Status validate_event(const EventData& event, const Limits& limits);

}  // namespace strata
