#include "inbox_records.h"

#include "strata/core/json.h"

namespace strata::detail {

namespace {
Timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}
}  // namespace

std::string message_key(std::string_view inbox, std::string_view message_id) {
  std::string key(inbox);
  key += '/';
  key += message_id;
  return key;
}

std::string handled_marker(std::string_view outcome, const IncomingMessage& m, const Status& reason) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.key("outcome");
  w.string(outcome);
  w.key("type");
  w.string(m.type);
  w.key("sequence");
  w.uint64(m.sequence);
  if (!reason.ok()) {
    w.key("reason");
    w.string(reason.to_string());
  }
  w.end_object();
  return out;
}

ParkedEvent parked_message(const IncomingMessage& m, const Status& error, std::uint32_t attempts) {
  ParkedEvent p;
  p.generation = kInboxGeneration;
  p.event.stream_id = m.subject;
  p.event.version = 0;
  p.event.position = m.sequence;
  auto id = EventId::parse(m.id);
  p.event.id = id.ok() ? *id : EventId::derive("strata.inbox.message-id", 0);
  p.event.type = m.type;
  p.event.timestamp = m.published_at;
  p.event.metadata.correlation_id = std::string(m.headers.get(headers::kCorrelationId));
  p.event.metadata.causation_id = std::string(m.headers.get(headers::kCausationId));
  p.event.metadata.headers.emplace_back("Strata-Message-Id", m.id);
  for (const auto& [k, v] : m.headers.all())
    if (k != "Strata-Message-Id") p.event.metadata.headers.emplace_back(k, v);
  p.event.payload = m.payload;
  p.error = error;
  p.attempts = attempts;
  p.parked_at = system_now();
  return p;
}

IncomingMessage message_of(const ParkedEvent& p) {
  IncomingMessage m;
  m.subject = p.event.stream_id;
  m.sequence = p.event.position.value();
  m.type = p.event.type;
  m.published_at = p.event.timestamp;
  m.payload = p.event.payload;
  for (const auto& [k, v] : p.event.metadata.headers) {
    if (k == "Strata-Message-Id") {
      m.id = v;
    } else {
      m.headers.set(k, v);
    }
  }
  return m;
}

}  // namespace strata::detail
