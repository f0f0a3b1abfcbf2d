#include "strata/messaging/message.h"

#include <fmt/format.h>

#include <algorithm>

#include "strata/core/backend/metadata_encoding.h"
#include "subjects.h"

namespace strata {

void MessageHeaders::set(std::string_view name, std::string_view value) {
  for (auto& [n, v] : entries_) {
    if (n == name) {
      v.assign(value);
      return;
    }
  }
  entries_.emplace_back(std::string(name), std::string(value));
}

const std::string* MessageHeaders::find(std::string_view name) const noexcept {
  for (const auto& [n, v] : entries_)
    if (n == name) return &v;
  return nullptr;
}

std::string_view MessageHeaders::get(std::string_view name) const noexcept {
  const std::string* v = find(name);
  return v ? std::string_view(*v) : std::string_view();
}

namespace {
bool token_byte(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':';
}
constexpr std::size_t kMaxIdBytes = 256;
constexpr std::size_t kMaxSubjectBytes = 512;
constexpr std::size_t kMaxTokenBytes = 256;
}  // namespace

bool is_subject_token(std::string_view token) noexcept {
  return !token.empty() && token.size() <= kMaxTokenBytes && std::all_of(token.begin(), token.end(), token_byte);
}

std::string subject_token(std::string_view text) {
  if (text.empty()) return "_";
  std::string out(text.substr(0, kMaxTokenBytes));
  for (char& c : out)
    if (!token_byte(c)) c = '_';
  return out;
}

Status validate_message(const OutgoingMessage& message, std::size_t max_payload_bytes) {
  if (message.id.empty() || message.id.size() > kMaxIdBytes)
    return Status::invalid_argument(
        fmt::format("message id has {} bytes, expected 1 to {}", message.id.size(), kMaxIdBytes));
  const std::string_view subject = message.subject;
  if (subject.empty() || subject.size() > kMaxSubjectBytes)
    return Status::invalid_argument(fmt::format("message \"{}\": subject has {} bytes, expected 1 to {}", message.id,
                                                subject.size(), kMaxSubjectBytes));
  for (std::size_t start = 0; start <= subject.size();) {
    const std::size_t dot = std::min(subject.find('.', start), subject.size());
    if (!is_subject_token(subject.substr(start, dot - start)))
      return Status::invalid_argument(fmt::format(
          "message \"{}\": subject \"{}\" is not dot-separated tokens of [A-Za-z0-9_:-]", message.id, subject));
    start = dot + 1;
  }
  if (message.payload.size() > max_payload_bytes)
    return Status::invalid_argument(fmt::format("message \"{}\": payload has {} bytes, more than the {} allowed",
                                                message.id, message.payload.size(), max_payload_bytes));
  return {};
}

Result<OutgoingMessage> message_from_event(const EventView& event, std::string_view source, std::string subject) {
  OutgoingMessage m;
  m.id = event.id.to_string();
  m.subject = std::move(subject);
  m.type = std::string(event.type);
  m.payload = std::string(event.payload);
  STRATA_ASSIGN_OR_RETURN(Metadata metadata, event.metadata());
  m.headers.set(headers::kType, event.type);
  m.headers.set(headers::kSource, source);
  m.headers.set(headers::kStream, event.stream_id);
  m.headers.set(headers::kVersion, to_string(event.version));
  m.headers.set(headers::kPosition, to_string(event.position));
  m.headers.set(headers::kTimestamp, std::to_string(event.timestamp.time_since_epoch().count()));
  if (!metadata.correlation_id.empty()) m.headers.set(headers::kCorrelationId, metadata.correlation_id);
  if (!metadata.causation_id.empty()) m.headers.set(headers::kCausationId, metadata.causation_id);
  for (const auto& [key, value] : metadata.headers) m.headers.set(std::string(headers::kUserPrefix) + key, value);
  return m;
}

Metadata effect_metadata(const IncomingMessage& message) {
  Metadata m;
  const std::string_view correlation = message.headers.get(headers::kCorrelationId);
  m.correlation_id = correlation.empty() ? message.id : std::string(correlation);
  m.causation_id = message.id;
  return m;
}

namespace detail {

bool subject_matches(std::string_view filter, std::string_view subject) noexcept {
  if (filter.empty()) return true;
  std::size_t f = 0, s = 0;
  for (;;) {
    const std::size_t f_end = std::min(filter.find('.', f), filter.size());
    const std::string_view f_token = filter.substr(f, f_end - f);
    if (f_token == ">") return s < subject.size();  // one token or more remain
    if (s > subject.size()) return false;
    const std::size_t s_end = std::min(subject.find('.', s), subject.size());
    const std::string_view s_token = subject.substr(s, s_end - s);
    if (s_token.empty() || (f_token != "*" && f_token != s_token)) return false;
    const bool filter_done = f_end == filter.size(), subject_done = s_end == subject.size();
    if (filter_done || subject_done) return filter_done && subject_done;
    f = f_end + 1;
    s = s_end + 1;
  }
}

Status validate_filter(std::string_view filter) {
  if (filter.empty()) return {};
  for (std::size_t start = 0; start <= filter.size();) {
    const std::size_t dot = std::min(filter.find('.', start), filter.size());
    const std::string_view token = filter.substr(start, dot - start);
    const bool last = dot == filter.size();
    if (!(token == "*" || (token == ">" && last) || is_subject_token(token)))
      return Status::invalid_argument(fmt::format(
          "subject filter \"{}\" is not dot-separated tokens of [A-Za-z0-9_:-], `*`, or a final `>`", filter));
    start = dot + 1;
  }
  return {};
}

Status validate_consumer_config(const ConsumerConfig& config) {
  const std::string& d = config.durable;
  if (d.empty() || d.size() > 64 || !std::all_of(d.begin(), d.end(), [](char c) { return token_byte(c) && c != ':'; }))
    return Status::invalid_argument(fmt::format("consumer name \"{}\" is not 1 to 64 bytes of [A-Za-z0-9_-]", d));
  STRATA_RETURN_IF_ERROR(validate_filter(config.filter));
  if (config.ack_wait.count() <= 0 || config.max_ack_pending == 0)
    return Status::invalid_argument(
        fmt::format("consumer \"{}\": ack_wait must be positive and max_ack_pending at least 1", d));
  return {};
}

}  // namespace detail

Delivery::~Delivery() = default;
Consumer::~Consumer() = default;
Transport::~Transport() = default;

}  // namespace strata
