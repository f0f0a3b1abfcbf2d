// Messages between services: what a Relay publishes from the log and an Inbox consumes, on any Transport.
//
// A message has an id (the broker's dedupe key: the event id for an event published as stored), a
// subject (where it goes; the relay derives it from a partition key, so that one stream's messages
// stay in order), a type and a payload (JSON), and headers. strata's own headers name where the message
// came from: the source service, stream, version, log position and commit time of the event, and the
// correlation and causation ids of the business transaction.
//
//   strata::OutgoingMessage m;
//   m.id = event.id.to_string();
//   m.subject = "contracts.events.contract-42";
//   m.type = "contracts.deal_activated.v1";
//   m.payload = R"({"contract":"contract-42"})";
//   m.headers.set(strata::headers::kCorrelationId, "deal-42");
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/core/event.h"
#include "strata/core/position.h"
#include "strata/core/status.h"

namespace strata {

// The names of strata's message headers. Persisted in brokers: never rename them.
namespace headers {
inline constexpr std::string_view kType = "Strata-Type";
inline constexpr std::string_view kSource = "Strata-Source";
inline constexpr std::string_view kStream = "Strata-Stream";
inline constexpr std::string_view kVersion = "Strata-Version";
inline constexpr std::string_view kPosition = "Strata-Position";
// Commit time of the event, microseconds since the Unix epoch.
inline constexpr std::string_view kTimestamp = "Strata-Timestamp";
inline constexpr std::string_view kCorrelationId = "Strata-Correlation-Id";
inline constexpr std::string_view kCausationId = "Strata-Causation-Id";
// User headers of the event's metadata travel with this prefix: "Strata-Header-" + key.
inline constexpr std::string_view kUserPrefix = "Strata-Header-";
}  // namespace headers

// Message headers: an ordered list of (name, value); names are unique, compared exactly.
class MessageHeaders {
 public:
  // Sets `name` to `value`, replacing an earlier value.
  void set(std::string_view name, std::string_view value);
  // The value of `name`, or nullptr.
  const std::string* find(std::string_view name) const noexcept;
  // The value of `name`, or "".
  std::string_view get(std::string_view name) const noexcept;
  const std::vector<std::pair<std::string, std::string>>& all() const noexcept { return entries_; }
  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }

  friend bool operator==(const MessageHeaders&, const MessageHeaders&) = default;

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// A message to publish.
struct OutgoingMessage {
  // The broker's dedupe key: publishing the same id twice within the broker's duplicate window stores
  // it once. Non-empty.
  std::string id;
  // Where it goes: dot-separated tokens of [A-Za-z0-9_:-] (NATS subject rules).
  std::string subject;
  // The message's type, e.g. "contracts.deal_activated.v1" (also carried as the Strata-Type header).
  std::string type;
  // The body: JSON for strata's messages, any bytes for a transport.
  std::string payload;
  MessageHeaders headers;

  friend bool operator==(const OutgoingMessage&, const OutgoingMessage&) = default;
};

// A message as a consumer receives it.
struct IncomingMessage {
  // The dedupe key it was published with (empty when it had none).
  std::string id;
  std::string subject;
  // From the Strata-Type header (empty when it had none).
  std::string type;
  std::string payload;
  MessageHeaders headers;
  // The broker's sequence number of the message in its log: increases in publish order; a redelivery
  // carries the same one.
  std::uint64_t sequence = 0;
  // How many times the message was delivered, this delivery included (1 the first time).
  std::uint64_t delivery_count = 0;
  // When the broker stored it.
  Timestamp published_at{};
};

// The broker's answer to a publish.
struct PublishAck {
  // Where the message is in the broker's log.
  std::uint64_t sequence = 0;
  // True when a message with the same id was already there (within the duplicate window): nothing was
  // stored again and `sequence` is the original's.
  bool duplicate = false;
};

// Checks a message before it is published: a non-empty id of at most 256 bytes, a valid subject (1..512
// bytes of dot-separated non-empty tokens of [A-Za-z0-9_:-]), and a payload of at most `max_payload_bytes`.
// OK or kInvalidArgument naming what is wrong.
Status validate_message(const OutgoingMessage& message, std::size_t max_payload_bytes);

// Whether `token` can be one token of a subject: 1..256 bytes of [A-Za-z0-9_:-]. Stream ids may hold '.',
// which splits tokens; subject_token() replaces it.
bool is_subject_token(std::string_view token) noexcept;
// `text` as one subject token: every byte outside [A-Za-z0-9_:-] becomes '_'; empty text becomes "_".
std::string subject_token(std::string_view text);

// The outgoing message for a stored event published as it is: id = event id, type and payload as
// stored, headers naming its source, stream, version, position, commit time, correlation and causation
// ids, and its user headers (prefixed). kCorruption when the event's metadata does not decode.
Result<OutgoingMessage> message_from_event(const EventView& event, std::string_view source, std::string subject);

// The metadata an effect of `message` should carry: its correlation id (the message's, or its id when
// it has none, so every effect of one business transaction shares one), and as causation id the
// message's id.
Metadata effect_metadata(const IncomingMessage& message);

}  // namespace strata
