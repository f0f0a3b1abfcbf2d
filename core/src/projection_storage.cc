#include "strata/core/projection_storage.h"

#include "strata/core/encoding.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

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

std::string describe(const std::optional<ProjectionState>& s) {
  if (!s) return "no state";
  std::string out = fmt::format("generation {} at checkpoint {}", s->generation, s->checkpoint);
  if (s->rebuilding())
    out += fmt::format(", rebuilding generation {} at {}", s->shadow_generation, s->shadow_checkpoint);
  return out;
}
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
  put_be(out, s.checkpoint, 8);
  put_be(out, s.shadow_generation, 8);
  put_be(out, s.shadow_checkpoint, 8);
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
  put_be(out, p.event.version, 8);
  put_be(out, p.event.position, 8);
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

Status projection_state_conflict(std::string_view projection, const std::optional<ProjectionState>& expected,
                                 const std::optional<ProjectionState>& actual) {
  return Status(StatusCode::kWrongExpectedVersion,
                fmt::format("projection \"{}\" changed underneath its writer: expected {}, found {} (is another "
                            "projector running under this name?)",
                            projection, describe(expected), describe(actual)));
}

Status validate_batch(const ProjectionWriteBatch& batch) {
  const std::string& name = batch.projection();
  if (name.empty() || name.size() > kMaxProjectionNameBytes)
    return Status::invalid_argument(
        fmt::format("projection name has {} bytes, expected 1 to {}", name.size(), kMaxProjectionNameBytes));
  for (const auto& [row_key, value] : batch.rows()) {
    auto d = decode_row_key(row_key);
    if (!d.ok() || d->generation == 0)
      return Status::invalid_argument(
          fmt::format("projection \"{}\": a row write names generation 0 or an empty read-model name", name));
  }
  for (const auto& [key, parked] : batch.parked()) {
    if (key.first == 0)
      return Status::invalid_argument(fmt::format("projection \"{}\": a parked event names generation 0", name));
    if (parked && parked->error.ok())
      return Status::invalid_argument(
          fmt::format("projection \"{}\": the parked event at position {} has no error", name, key.second));
  }
  for (Generation g : batch.dropped_generations())
    if (g == 0) return Status::invalid_argument(fmt::format("projection \"{}\": cannot drop generation 0", name));
  if (const auto& change = batch.state_change(); change && change->next.generation == 0)
    return Status::invalid_argument(fmt::format("projection \"{}\": a state cannot serve generation 0", name));
  return {};
}

ProjectionStorage::~ProjectionStorage() = default;

RowObject::~RowObject() = default;

ProjectionWriteBatch::ProjectionWriteBatch(std::string projection) : projection_(std::move(projection)) {}

// The scratch buffer row keys are encoded into, one per thread. An over-long model name is truncated by
// the encoding and so collides with another: it is encoded as empty instead, which validate_batch
// rejects.
const std::string& ProjectionWriteBatch::encoded_key(Generation generation, std::string_view model,
                                                     std::string_view key) const {
  thread_local std::string encoded;
  encode_row_key_into(encoded, generation, model.size() > kMaxReadModelNameBytes ? std::string_view() : model, key);
  return encoded;
}

void ProjectionWriteBatch::write(const std::string& encoded, std::optional<std::string> value) const {
  auto it = rows_.find(encoded);
  if (it == rows_.end()) {
    it = rows_.emplace(encoded, std::move(value)).first;
    undo_.emplace_back(RowUndo{it, false, std::nullopt});
  } else {
    undo_.emplace_back(RowUndo{it, true, std::move(it->second)});
    it->second = std::move(value);
  }
}

void ProjectionWriteBatch::set_object(const std::string& encoded, ObjectEntry entry) {
  auto [it, inserted] = objects_.try_emplace(encoded);
  dirty_objects_ = dirty_objects_ - (it->second.dirty ? 1 : 0) + (entry.dirty ? 1 : 0);
  ObjectEntry previous = std::exchange(it->second, std::move(entry));
  undo_.emplace_back(ObjectUndo{&*it, !inserted, false, std::move(previous)});
}

void ProjectionWriteBatch::encode_object(ObjectMap::value_type& entry) const {
  std::optional<std::string> bytes;
  if (entry.second.row) entry.second.row->encode(bytes.emplace());
  write(entry.first, std::move(bytes));
  entry.second.dirty = false;
  --dirty_objects_;
  undo_.emplace_back(ObjectUndo{&entry, true, true, {}});
}

void ProjectionWriteBatch::encode_objects() const {
  if (dirty_objects_ == 0) return;
  for (auto& entry : objects_)
    if (entry.second.dirty) encode_object(entry);
}

void ProjectionWriteBatch::put(Generation generation, std::string_view model, std::string_view key,
                               std::string_view value) {
  const std::string& encoded = encoded_key(generation, model, key);
  if (objects_.contains(encoded)) set_object(encoded, ObjectEntry{});  // the bytes are the row now
  write(encoded, std::string(value));
}

void ProjectionWriteBatch::erase(Generation generation, std::string_view model, std::string_view key) {
  const std::string& encoded = encoded_key(generation, model, key);
  if (objects_.contains(encoded)) set_object(encoded, ObjectEntry{});
  write(encoded, std::nullopt);
}

void ProjectionWriteBatch::put_object(Generation generation, std::string_view model, std::string_view key,
                                      std::unique_ptr<RowObject> row) {
  set_object(encoded_key(generation, model, key), ObjectEntry{std::move(row), true, true});
}

void ProjectionWriteBatch::cache_object(Generation generation, std::string_view model, std::string_view key,
                                        std::unique_ptr<RowObject> row) {
  set_object(encoded_key(generation, model, key), ObjectEntry{std::move(row), true, false});
}

ProjectionWriteBatch::ObjectLookup ProjectionWriteBatch::find_object(Generation generation, std::string_view model,
                                                                     std::string_view key) const {
  auto it = objects_.find(std::string_view(encoded_key(generation, model, key)));
  if (it == objects_.end() || !it->second.known) return {};
  return ObjectLookup{true, it->second.row.get()};
}

void ProjectionWriteBatch::rollback(std::size_t mark) {
  // Newest first: an entry inserted after the mark is erased only after every later undo touching it ran,
  // so the iterators and nodes held by older entries stay valid.
  while (undo_.size() > mark) {
    if (auto* r = std::get_if<RowUndo>(&undo_.back())) {
      if (r->existed) {
        r->row->second = std::move(r->previous);
      } else {
        rows_.erase(r->row);
      }
    } else {
      auto& o = std::get<ObjectUndo>(undo_.back());
      ObjectEntry& current = o.object->second;
      if (o.cleaned_only) {
        current.dirty = true;
        ++dirty_objects_;
      } else {
        dirty_objects_ = dirty_objects_ - (current.dirty ? 1 : 0) + (o.previous.dirty ? 1 : 0);
        if (o.existed) {
          current = std::move(o.previous);
        } else {
          objects_.erase(objects_.find(o.object->first));
        }
      }
    }
    undo_.pop_back();
  }
}
void ProjectionWriteBatch::park(ParkedEvent parked) {
  auto key = std::make_pair(parked.generation, parked.event.position);
  parked_[key] = std::move(parked);
}

void ProjectionWriteBatch::unpark(Generation generation, Position position) {
  parked_[std::make_pair(generation, position)] = std::nullopt;
}

void ProjectionWriteBatch::drop_generation(Generation generation) {
  dropped_.push_back(generation);
  // Writes made earlier in this batch to the dropped generation go with it.
  const std::string prefix = encode_row_prefix(generation, {}, {}).substr(0, 8);
  for (auto it = rows_.lower_bound(prefix); it != rows_.end() && it->first.starts_with(prefix);) it = rows_.erase(it);
  std::erase_if(objects_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  dirty_objects_ = static_cast<std::size_t>(
      std::count_if(objects_.begin(), objects_.end(), [](const auto& entry) { return entry.second.dirty; }));
  undo_.clear();
  std::erase_if(parked_, [generation](const auto& entry) { return entry.first.first == generation; });
}

void ProjectionWriteBatch::set_state(std::optional<ProjectionState> expected, ProjectionState next) {
  state_ = StateChange{std::move(expected), next};
}

bool ProjectionWriteBatch::empty() const noexcept {
  return rows_.empty() && dirty_objects_ == 0 && parked_.empty() && dropped_.empty() && !state_.has_value();
}

void ProjectionWriteBatch::clear() {
  rows_.clear();
  objects_.clear();
  dirty_objects_ = 0;
  undo_.clear();
  parked_.clear();
  dropped_.clear();
  state_.reset();
}

Result<std::optional<std::string>> ProjectionWriteBatch::get(ProjectionStorage& storage, Generation generation,
                                                             std::string_view model, std::string_view key) const {
  const std::string& encoded = encoded_key(generation, model, key);
  if (auto it = objects_.find(encoded); it != objects_.end() && it->second.dirty) encode_object(*it);
  if (auto it = rows_.find(encoded); it != rows_.end()) return it->second;
  return storage.get(projection_, generation, model, key);
}

Status ProjectionWriteBatch::scan(ProjectionStorage& storage, Generation generation, std::string_view model,
                                  std::string_view prefix, const ScanOptions& options, RowVisitor visitor) const {
  encode_objects();
  // The committed rows are read a page at a time and merged with this batch's writes, both in key order.
  // Pages are copied out before the visitor runs, so the visitor may read the storage.
  constexpr std::size_t kPage = 256;
  const std::string low = encode_row_prefix(generation, model, prefix);
  const std::size_t header = low.size() - prefix.size();
  auto ov = rows_.lower_bound(low);
  if (!options.start_after.empty()) {
    const std::string after = encode_row_key(generation, model, options.start_after);
    if (after >= low) ov = rows_.upper_bound(after);
  }
  auto ov_key = [&] { return std::string_view(ov->first).substr(header); };
  auto ov_in_range = [&] { return ov != rows_.end() && ov->first.starts_with(low); };

  std::size_t delivered = 0;
  std::string cursor = options.start_after;
  bool base_done = false;
  std::vector<std::pair<std::string, std::string>> page;
  while (delivered < options.max_count) {
    page.clear();
    if (!base_done) {
      STRATA_RETURN_IF_ERROR(storage.scan(projection_, generation, model, prefix, ScanOptions{cursor, kPage},
                                          [&](std::string_view k, std::string_view v) -> Status {
                                            page.emplace_back(k, v);
                                            return {};
                                          }));
      base_done = page.size() < kPage;
      if (!page.empty()) cursor = page.back().first;
    }
    std::size_t i = 0;
    while (delivered < options.max_count) {
      const bool have_base = i < page.size();
      const bool have_ov = ov_in_range() && (base_done || ov_key() <= std::string_view(page.back().first));
      if (!have_base && !have_ov) break;
      std::string_view key;
      const std::string* value = nullptr;
      if (have_ov && (!have_base || ov_key() <= std::string_view(page[i].first))) {
        if (have_base && ov_key() == std::string_view(page[i].first)) ++i;
        key = ov_key();
        value = ov->second ? &*ov->second : nullptr;
        ++ov;
      } else {
        key = page[i].first;
        value = &page[i].second;
        ++i;
      }
      if (value == nullptr) continue;  // erased in this batch
      STRATA_RETURN_IF_ERROR(visitor(key, *value));
      ++delivered;
    }
    if (base_done) break;
  }
  return {};
}

}  // namespace strata
