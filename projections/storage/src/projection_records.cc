// The persisted records of projection storage; the grammar is in backend/projection_records.h.
#include "strata/projections/backend/projection_records.h"

#include <fmt/format.h>

#include "strata/core/backend/encoding.h"
#include "strata/core/backend/metadata_encoding.h"

namespace strata {

// The persisted encodings; the grammar is in projection_storage.h. Never change them incompatibly.
namespace {
constexpr std::uint8_t kStateFormat = 1;
constexpr std::uint8_t kParkedFormat = 1;
constexpr std::size_t kStateBytes = 1 + 4 * 8;

using encoding::put_be;
void put_str(std::string& out, std::string_view s) {
  put_be(out, s.size(), 4);
  out += s;
}

// Reads big-endian numbers and length-prefixed strings off the front of a buffer; `ok` turns false on
// the first read past its end and stays false.
struct Reader {
  std::string_view in;
  bool ok = true;

  std::uint64_t be(int bytes) {
    if (!ok || in.size() < static_cast<std::size_t>(bytes)) {
      ok = false;
      return 0;
    }
    const std::uint64_t v = encoding::get_be(in.data(), bytes);
    in.remove_prefix(bytes);
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string_view s = in.substr(0, n);
    in.remove_prefix(n);
    return s;
  }
  std::string_view str() { return bytes(be(4)); }
};

Timestamp from_micros(std::uint64_t us) { return Timestamp(std::chrono::microseconds(static_cast<std::int64_t>(us))); }
std::uint64_t to_micros(Timestamp t) { return static_cast<std::uint64_t>(t.time_since_epoch().count()); }

}  // namespace

namespace {
// Writes the encoded row key into `out` (resized to fit) with one allocation at most: keys are built for
// every read and write a handler makes.
void encode_row_key_into(std::string& out, Generation generation, std::string_view model, std::string_view key) {
  model = model.substr(0, 255);
  out.resize(9 + model.size() + key.size());
  char* p = out.data();
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((generation >> (8 * (7 - i))) & 0xff);
  p[8] = static_cast<char>(static_cast<std::uint8_t>(model.size()));
  // Byte loops, not memcpy: GCC inlines a memcpy of unknown size as `rep movs`, which costs more than
  // these few bytes (keys are encoded for every read and write a handler makes).
  p += 9;
  for (char c : model) *p++ = c;
  for (char c : key) *p++ = c;
}
}  // namespace

void encode_row_key(std::string& out, Generation generation, std::string_view model, std::string_view key) {
  encode_row_key_into(out, generation, model, key);
}

std::string encode_generation_prefix(Generation generation) {
  std::string out;
  put_be(out, generation, 8);
  return out;
}

std::string encode_row_key(Generation generation, std::string_view model, std::string_view key) {
  std::string out;
  encode_row_key_into(out, generation, model, key);
  return out;
}

std::string encode_row_prefix(Generation generation, std::string_view model, std::string_view prefix) {
  return encode_row_key(generation, model, prefix);
}

Result<DecodedRowKey> decode_row_key(std::string_view row_key) {
  Reader r{row_key};
  DecodedRowKey d;
  d.generation = r.be(8);
  const std::size_t model_length = r.be(1);
  d.model = r.bytes(model_length);
  if (!r.ok || model_length == 0) return Status::corruption("read-model row key is truncated");
  d.key = r.in;
  return d;
}

std::string encode_projection_state(const ProjectionState& s) {
  std::string out;
  out.reserve(kStateBytes);
  out += static_cast<char>(kStateFormat);
  put_be(out, s.generation, 8);
  put_be(out, s.checkpoint.value(), 8);
  put_be(out, s.shadow_generation, 8);
  put_be(out, s.shadow_checkpoint.value(), 8);
  return out;
}

Result<ProjectionState> decode_projection_state(std::string_view bytes) {
  if (bytes.size() != kStateBytes)
    return Status::corruption(fmt::format("projection state has {} bytes, expected {}", bytes.size(), kStateBytes));
  Reader r{bytes};
  if (r.be(1) != kStateFormat) return Status::corruption("projection state has an unknown format");
  ProjectionState s;
  s.generation = r.be(8);
  s.checkpoint = r.be(8);
  s.shadow_generation = r.be(8);
  s.shadow_checkpoint = r.be(8);
  if (s.generation == 0) return Status::corruption("projection state names generation 0");
  return s;
}

std::string encode_parked_event(const ParkedEvent& p) {
  std::string out;
  out.reserve(64 + p.event.stream_id.size() + p.event.type.size() + p.event.payload.size() + p.error.message().size());
  out += static_cast<char>(kParkedFormat);
  put_be(out, p.generation, 8);
  put_be(out, p.attempts, 4);
  put_be(out, to_micros(p.parked_at), 8);
  put_be(out, static_cast<std::uint8_t>(p.error.code()), 1);
  put_str(out, p.error.message());
  put_str(out, p.event.stream_id);
  put_be(out, p.event.version.value(), 8);
  put_be(out, p.event.position.value(), 8);
  out += p.event.id.as_bytes();
  put_str(out, p.event.type);
  put_be(out, to_micros(p.event.timestamp), 8);
  std::string metadata;
  encode_metadata(p.event.metadata, metadata);
  put_str(out, metadata);
  put_str(out, p.event.payload);
  return out;
}

Result<ParkedEvent> decode_parked_event(std::string_view bytes) {
  Reader r{bytes};
  if (r.be(1) != kParkedFormat) return Status::corruption("parked event has an unknown format");
  ParkedEvent p;
  p.generation = r.be(8);
  p.attempts = static_cast<std::uint32_t>(r.be(4));
  p.parked_at = from_micros(r.be(8));
  const auto code = static_cast<StatusCode>(r.be(1));
  const std::string_view message = r.str();
  p.event.stream_id = r.str();
  p.event.version = r.be(8);
  p.event.position = r.be(8);
  const std::string_view id = r.bytes(16);
  p.event.type = r.str();
  p.event.timestamp = from_micros(r.be(8));
  const std::string_view metadata = r.str();
  p.event.payload = r.str();
  if (!r.ok || !r.in.empty()) return Status::corruption("parked event is truncated or has trailing bytes");
  if (code == StatusCode::kOk || static_cast<std::uint8_t>(code) > static_cast<std::uint8_t>(StatusCode::kInternal))
    return Status::corruption(fmt::format("parked event has error code {}", static_cast<int>(code)));
  p.error = Status(code, std::string(message));
  STRATA_ASSIGN_OR_RETURN(p.event.id, EventId::from_bytes(id));
  Status m = decode_metadata(metadata, p.event.metadata);
  if (!m.ok()) return m.with_context("parked event");
  return p;
}

std::string projection_key_prefix(std::string_view projection) {
  std::string out;
  out.reserve(1 + projection.size() + 16);
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(projection.size())));
  out.append(projection);
  return out;
}

std::string projection_generation_prefix(std::string_view projection, Generation generation) {
  std::string out = projection_key_prefix(projection);
  put_be(out, generation, 8);
  return out;
}

std::string projection_row_key(std::string_view projection, std::string_view row_key) {
  std::string out = projection_key_prefix(projection);
  out.append(row_key);
  return out;
}

std::string projection_parked_key(std::string_view projection, Generation generation, Position position) {
  std::string out = projection_key_prefix(projection);
  put_be(out, generation, 8);
  put_be(out, position.value(), 8);
  return out;
}

std::string prefix_successor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty() && static_cast<std::uint8_t>(out.back()) == 0xff) out.pop_back();
  if (!out.empty()) out.back() = static_cast<char>(static_cast<std::uint8_t>(out.back()) + 1);
  return out;
}

}  // namespace strata
