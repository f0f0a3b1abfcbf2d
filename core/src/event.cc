#include "strata/core/event.h"

#include <fmt/format.h>

#include <array>
#include <unordered_set>

#include "strata/core/backend/append_checks.h"
#include "strata/core/backend/encoding.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/core/codec.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/event_store.h"
#include "strata/core/json.h"

namespace strata {

// Metadata encoding. Persisted inside every stored event: never change it incompatibly.
//
//   metadata    := <empty>                                   (no ids, no headers)
//                | format:u8 = 1  correlation causation count:varint (key value){count}
//   correlation := string        causation := string        key := string        value := string
//   string      := length:varint bytes{length}
//   varint      := unsigned LEB128, at most 10 bytes
namespace {
using encoding::get_varint;
using encoding::put_varint;
using encoding::varint_size;

constexpr std::uint8_t kMetadataFormat = 1;

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out += s;
}

bool get_string(std::string_view& in, std::string& out) {
  std::uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  out.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

// [A-Za-z0-9_.:-] as a table: the check runs on every appended event, and a table lookup per byte with
// one test at the end costs a fraction of the compare chain's branches.
constexpr std::array<bool, 256> kTypeChars = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = detail::is_type_name_char(static_cast<char>(c));
  return t;
}();

bool is_type_char(unsigned char c) noexcept { return kTypeChars[c]; }

bool all_type_chars(std::string_view s) noexcept {
  bool all = true;
  for (char c : s) all &= kTypeChars[static_cast<unsigned char>(c)];
  return all;
}
}  // namespace

const std::string* Metadata::header(std::string_view key) const noexcept {
  for (const auto& [k, v] : headers)
    if (k == key) return &v;
  return nullptr;
}

std::size_t encoded_metadata_size(const Metadata& m) noexcept {
  if (m.empty()) return 0;
  auto str = [](std::string_view s) { return varint_size(s.size()) + s.size(); };
  std::size_t n = 1 + str(m.correlation_id) + str(m.causation_id) + varint_size(m.headers.size());
  for (const auto& [k, v] : m.headers) n += str(k) + str(v);
  return n;
}

void encode_metadata(const Metadata& m, std::string& out) {
  if (m.empty()) return;
  out += static_cast<char>(kMetadataFormat);
  put_string(out, m.correlation_id);
  put_string(out, m.causation_id);
  put_varint(out, m.headers.size());
  for (const auto& [k, v] : m.headers) {
    put_string(out, k);
    put_string(out, v);
  }
}

Status decode_metadata(std::string_view in, Metadata& out) {
  out.correlation_id.clear();
  out.causation_id.clear();
  out.headers.clear();
  if (in.empty()) return {};
  auto bad = [] { return Status::corruption("event metadata is not in a known encoding"); };
  if (static_cast<std::uint8_t>(in.front()) != kMetadataFormat) return bad();
  in.remove_prefix(1);
  std::uint64_t count;
  if (!get_string(in, out.correlation_id) || !get_string(in, out.causation_id) || !get_varint(in, count) ||
      count > in.size())
    return bad();
  out.headers.resize(count);
  for (auto& [k, v] : out.headers)
    if (!get_string(in, k) || !get_string(in, v)) return bad();
  if (!in.empty()) return bad();
  return {};
}

Result<Metadata> EventView::metadata() const {
  Metadata m;
  STRATA_RETURN_IF_ERROR(decode_metadata(encoded_metadata, m));
  return m;
}

Result<RecordedEvent> EventView::to_recorded() const {
  RecordedEvent r;
  r.stream_id.assign(stream_id);
  r.version = version;
  r.position = position;
  r.id = id;
  r.type.assign(type);
  r.timestamp = timestamp;
  STRATA_RETURN_IF_ERROR(decode_metadata(encoded_metadata, r.metadata));
  r.payload.assign(payload);
  return r;
}

std::uint32_t schema_version_of(std::string_view type) noexcept {
  auto dot = type.rfind(".v");
  if (dot == std::string_view::npos || dot + 2 >= type.size()) return 1;
  std::uint32_t v = 0;
  for (char c : type.substr(dot + 2)) {
    if (c < '0' || c > '9' || v > 100'000'000) return 1;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return v == 0 ? 1 : v;
}

std::uint32_t RecordedEvent::schema_version() const noexcept { return schema_version_of(type); }

Status validate_event(const EventData& e, const Limits& limits) {
  if (e.type.empty()) return Status::invalid_argument("invalid event: empty type name");
  if (e.type.size() > limits.max_type_bytes)
    return Status::invalid_argument(fmt::format("invalid event type \"{}...\": {} bytes, at most {} allowed",
                                                e.type.substr(0, 32), e.type.size(), limits.max_type_bytes));
  if (!all_type_chars(e.type))
    for (std::size_t i = 0; i < e.type.size(); ++i)
      if (!is_type_char(static_cast<unsigned char>(e.type[i])))
        return Status::invalid_argument(
            fmt::format("invalid event type \"{}\": byte 0x{:02x} at offset {} is not one of [A-Za-z0-9_.:-]",
                        e.type.substr(0, 64), static_cast<unsigned char>(e.type[i]), i));
  if (e.id.is_nil()) return Status::invalid_argument(fmt::format("invalid event \"{}\": nil event id", e.type));
  if (e.payload.size() > limits.max_payload_bytes)
    return Status::invalid_argument(
        fmt::format("invalid event \"{}\": payload of {} bytes exceeds the limit of {} bytes", e.type, e.payload.size(),
                    limits.max_payload_bytes));
  if (Status s = json::validate_object(e.payload, limits); !s.ok())
    return s.with_context(fmt::format("invalid event \"{}\"", e.type));
  const Metadata& m = e.metadata;
  if (!m.headers.empty()) {
    std::unordered_set<std::string_view> keys;
    for (const auto& [k, v] : m.headers) {
      if (k.empty())
        return Status::invalid_argument(fmt::format("invalid metadata of event \"{}\": empty header key", e.type));
      if (!keys.insert(k).second)
        return Status::invalid_argument(
            fmt::format("invalid metadata of event \"{}\": header \"{}\" appears twice", e.type, k));
    }
  }
  if (std::size_t n = encoded_metadata_size(m); n > limits.max_metadata_bytes)
    return Status::invalid_argument(
        fmt::format("invalid metadata of event \"{}\": {} bytes exceeds the limit of {} bytes", e.type, n,
                    limits.max_metadata_bytes));
  return {};
}

bool LogFilter::matches(std::string_view stream_id, std::string_view type) const noexcept {
  if (!event_types.empty()) {
    bool found = false;
    for (const auto& t : event_types)
      if (t == type) {
        found = true;
        break;
      }
    if (!found) return false;
  }
  if (!categories.empty()) {
    auto dash = stream_id.find('-');
    std::string_view category = dash == std::string_view::npos ? stream_id : stream_id.substr(0, dash);
    for (const auto& c : categories)
      if (c == category) return true;
    return false;
  }
  return true;
}

std::string_view stream_state_name(StreamState state) noexcept {
  switch (state) {
    case StreamState::kLive:
      return "live";
    case StreamState::kDeleted:
      return "deleted";
    case StreamState::kHardDeleted:
      return "hard deleted";
  }
  return "unknown";
}

Result<Version> EventStore::version_as_of(const StreamId& stream, Timestamp at) {
  STRATA_ASSIGN_OR_RETURN(StreamInfo info, stream_info(stream));
  if (info.state != StreamState::kLive) return stream_deleted(stream, info);
  // Invariant: every readable version < lo is at or before `at`; every version > hi is after it.
  Version lo = info.first_version, hi = info.head;
  while (lo <= hi) {
    Version mid = lo + (hi - lo) / 2;
    STRATA_ASSIGN_OR_RETURN(StreamSlice slice, read_stream(stream, ReadDirection::kForward, mid, 1));
    if (slice.events.empty()) return Status::internal("stream \"" + stream.str() + "\" shrank during a search");
    if (slice.events.front().timestamp <= at) {
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  // Below the first readable version: the events there are gone, so "none readable as of `at`".
  return hi < info.first_version ? Version{0} : hi;
}

namespace detail {
std::uint32_t schema_version_of_name(std::string_view type) noexcept { return schema_version_of(type); }
Status undecodable_record(const Status& status, const EventView& e) {
  return status.with_context(
      fmt::format("decoding \"{}\" at stream \"{}\" version {}", e.type, e.stream_id, e.version.value()));
}
Status broken_rule(std::string_view field, std::string_view rule_text) {
  return Status::invalid_argument(
      fmt::format("field \"{}\" {}", field, rule_text.empty() ? std::string_view("breaks its rule") : rule_text));
}
Status not_redacted_string() {
  return Status::invalid_argument("a string where a personal field's value was expected (not \"strata.redacted\")");
}
Status no_personal_data(std::string_view type) {
  return Status::invalid_argument(
      fmt::format("event \"{}\" has personal fields, and the store keeps no subject keys to seal them with", type));
}
Status missing_field(std::string_view name) {
  return Status::invalid_argument(fmt::format("missing field \"{}\"", name));
}
Status in_field(const Status& status, std::string_view name) {
  return status.with_context(fmt::format("field \"{}\"", name));
}
Status in_element(const Status& status, std::size_t index) {
  return status.with_context(fmt::format("element {}", index));
}
}  // namespace detail

}  // namespace strata
