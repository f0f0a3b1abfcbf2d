#include "strata/projections/projection_write_batch.h"

#include <fmt/format.h>

#include <algorithm>

#include "strata/projections/backend/projection_records.h"
#include "strata/projections/projection_storage.h"

namespace strata {

RowObject::~RowObject() = default;

ProjectionWriteBatch::ProjectionWriteBatch(std::string projection) : projection_(std::move(projection)) {}

// The scratch buffer row keys are encoded into, one per thread. An over-long model name is truncated by
// the encoding and so collides with another: it is encoded as empty instead, which validate_batch
// rejects.
const std::string& ProjectionWriteBatch::encoded_key(Generation generation, std::string_view model,
                                                     std::string_view key) const {
  thread_local std::string encoded;
  encode_row_key(encoded, generation, model.size() > kMaxReadModelNameBytes ? std::string_view() : model, key);
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
  // A handler reads a row and then writes it: the write finds the entry the read just looked up without
  // hashing the key again.
  ObjectMap::value_type* object = last_object_.entry;
  bool inserted = false;
  if (object == nullptr || object->first != encoded) {
    auto [it, added] = objects_.try_emplace(encoded);
    object = &*it;
    inserted = added;
  }
  dirty_objects_ = dirty_objects_ - (object->second.dirty ? 1 : 0) + (entry.dirty ? 1 : 0);
  ObjectEntry previous = std::exchange(object->second, std::move(entry));
  undo_.emplace_back(ObjectUndo{object, !inserted, false, std::move(previous)});
  last_object_.entry = object;
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
  if (it == objects_.end()) return {};
  last_object_.entry = &*it;
  if (!it->second.known) return {};
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
          if (last_object_.entry == o.object) last_object_.entry = nullptr;
          objects_.erase(objects_.find(o.object->first));
        }
      }
    }
    undo_.pop_back();
  }
}
Status ProjectionWriteBatch::absorb(ProjectionWriteBatch& other) {
  encode_objects();
  other.encode_objects();
  undo_.clear();
  other.undo_.clear();
  for (const auto& [key, value] : other.rows_) {
    if (!rows_.contains(key)) continue;
    auto row = decode_row_key(key);
    return Status::invalid_argument(
        row.ok() ? fmt::format("projection \"{}\": row \"{}\" of read model \"{}\" was written by two partitions in "
                               "one batch; give events that write the same row the same partition key",
                               projection_, row->key, row->model)
                 : fmt::format("projection \"{}\": a row was written by two partitions in one batch", projection_));
  }
  objects_.clear();
  last_object_.entry = nullptr;
  dirty_objects_ = 0;
  rows_.merge(other.rows_);
  other.clear();
  return {};
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
  const std::string prefix = encode_generation_prefix(generation);
  for (auto it = rows_.lower_bound(prefix); it != rows_.end() && it->first.starts_with(prefix);) it = rows_.erase(it);
  std::erase_if(objects_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  last_object_.entry = nullptr;
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
  last_object_.entry = nullptr;
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
