#include "rocks_projection_storage.h"

#include <fmt/format.h>
#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <utility>

#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/projections/backend/projection_commit.h"
#include "strata/projections/backend/projection_records.h"

namespace strata::detail {
namespace {

// Names that no commit can store (validate_batch refuses them): reads of them find nothing.
bool storable(std::string_view projection) {
  return !projection.empty() && projection.size() <= kMaxProjectionNameBytes;
}
bool storable(std::string_view projection, std::string_view model) {
  return storable(projection) && !model.empty() && model.size() <= kMaxReadModelNameBytes;
}

// A read at the latest state, or, for reads of the serving generation, at one snapshot: the state that
// names the generation and the rows read from it are from the same point in time.
class ReadView {
 public:
  ReadView(rocksdb::DB& db, bool consistent) {
    if (consistent) {
      snapshot_.emplace(&db);
      options.snapshot = snapshot_->snapshot();
    }
  }
  rocksdb::ReadOptions options;

 private:
  std::optional<rocksdb::ManagedSnapshot> snapshot_;
};

}  // namespace

RocksProjectionStorage::RocksProjectionStorage(rocksdb::DB& db, Families families, rocksdb::WriteOptions write_options,
                                               std::string path, WriteGate& gate)
    : db_(db), families_(families), write_options_(write_options), path_(std::move(path)), gate_(gate) {}

RocksProjectionStorage::~RocksProjectionStorage() = default;

Result<std::optional<ProjectionState>> RocksProjectionStorage::read_state(const rocksdb::ReadOptions& read,
                                                                          std::string_view projection) {
  if (!storable(projection)) return std::optional<ProjectionState>();
  std::string value;
  rocksdb::Status s = db_.Get(read, families_.state, slice(projection), &value);
  if (s.IsNotFound()) return std::optional<ProjectionState>();
  if (!s.ok()) return from_rocksdb(s, fmt::format("read the state of projection \"{}\"", projection));
  auto state = decode_projection_state(value);
  if (!state.ok())
    return state.status().with_context(
        fmt::format("event store \"{}\": state of projection \"{}\"", path_, projection));
  return std::optional<ProjectionState>(*state);
}

Result<std::optional<Generation>> RocksProjectionStorage::resolve(const rocksdb::ReadOptions& read,
                                                                  std::string_view projection, Generation generation) {
  if (generation != kServingGeneration) return std::optional<Generation>(generation);
  STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> state, read_state(read, projection));
  if (!state) return std::optional<Generation>();
  return std::optional<Generation>(state->generation);
}

Result<std::optional<ProjectionState>> RocksProjectionStorage::load_state(std::string_view projection) {
  return read_state(rocksdb::ReadOptions(), projection);
}

Status RocksProjectionStorage::commit(const ProjectionWriteBatch& batch) {
  STRATA_RETURN_IF_ERROR(validate_batch(batch));
  const std::string& name = batch.projection();
  std::lock_guard lock(commit_mu_);
  if (Status refused = gate_.write_refused(); !refused.ok())
    return refused.with_context(fmt::format("commit of projection \"{}\"", name));
  // The compare-and-set: no other commit of this storage runs until this one is written.
  if (const auto& change = batch.state_change(); change) {
    STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> actual, read_state(rocksdb::ReadOptions(), name));
    if (actual != change->expected) return projection_state_conflict(name, change->expected, actual);
  }
  if (batch.empty()) return {};

  // In the order the contract applies them: dropped generations, rows, parked events, state. Within a
  // WriteBatch a later write wins over an earlier range deletion, so a dropped generation can be
  // filled again by the same batch.
  const std::string prefix = projection_key_prefix(name);
  // Formats its message only on failure: it runs for every row.
  auto staged = [&](const rocksdb::Status& s) {
    return s.ok() ? Status() : from_rocksdb(s, fmt::format("stage projection \"{}\"", name));
  };
  rocksdb::WriteBatch wb;
  for (Generation g : batch.dropped_generations()) {
    const std::string generation = projection_generation_prefix(name, g);
    STRATA_RETURN_IF_ERROR(delete_prefix(wb, families_.rows, generation));
    STRATA_RETURN_IF_ERROR(delete_prefix(wb, families_.parked, generation));
  }
  std::string key;
  for (const auto& [row_key, value] : batch.rows()) {
    key.assign(prefix).append(row_key);
    STRATA_RETURN_IF_ERROR(
        staged(value ? wb.Put(families_.rows, slice(key), slice(*value)) : wb.Delete(families_.rows, slice(key))));
  }
  for (const auto& [at, parked] : batch.parked()) {
    key = projection_parked_key(name, at.first, at.second);
    STRATA_RETURN_IF_ERROR(staged(parked ? wb.Put(families_.parked, slice(key), slice(encode_parked_event(*parked)))
                                         : wb.Delete(families_.parked, slice(key))));
  }
  if (const auto& change = batch.state_change(); change)
    STRATA_RETURN_IF_ERROR(staged(wb.Put(families_.state, slice(name), slice(encode_projection_state(change->next)))));
  return write(wb, fmt::format("commit of projection \"{}\"", name));
}

Status RocksProjectionStorage::delete_prefix(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* family,
                                             std::string_view prefix) {
  const std::string end = prefix_successor(prefix);
  if (!end.empty()) return from_rocksdb(batch.DeleteRange(family, slice(prefix), slice(end)), "stage a range deletion");
  // Only a prefix of 0xff bytes has no successor (a 255-byte name of 0xff bytes): delete key by key.
  // The caller holds commit_mu_, so no commit adds keys meanwhile.
  std::unique_ptr<rocksdb::Iterator> it(db_.NewIterator(rocksdb::ReadOptions(), family));
  for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)); it->Next())
    STRATA_RETURN_IF_ERROR(from_rocksdb(batch.Delete(family, it->key()), "stage a deletion"));
  return from_rocksdb(it->status(), "list keys to delete");
}

Status RocksProjectionStorage::write(rocksdb::WriteBatch& batch, std::string_view what) {
  rocksdb::Status s = db_.Write(write_options_, &batch);
  if (s.ok()) return {};
  const Status error = from_rocksdb(s, fmt::format("event store \"{}\": write", path_));
  gate_.write_failed(error);
  return Status::io_error(
      fmt::format("{} failed, nothing of it was committed (the store now refuses writes until it is reopened): {}",
                  what, error.message()));
}

Result<std::optional<std::string>> RocksProjectionStorage::get(std::string_view projection, Generation generation,
                                                               std::string_view model, std::string_view key) {
  if (!storable(projection, model)) return std::optional<std::string>();
  ReadView view(db_, generation == kServingGeneration);
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, resolve(view.options, projection, generation));
  if (!g) return std::optional<std::string>();
  const std::string row_key = projection_row_key(projection, encode_row_key(*g, model, key));
  std::string value;
  rocksdb::Status s = db_.Get(view.options, families_.rows, slice(row_key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_rocksdb(s, fmt::format("read a row of projection \"{}\"", projection));
  return std::optional<std::string>(std::move(value));
}

Status RocksProjectionStorage::scan(std::string_view projection, Generation generation, std::string_view model,
                                    std::string_view prefix, const ScanOptions& options, RowVisitor visitor) {
  if (!storable(projection, model) || options.max_count == 0) return {};
  ReadView view(db_, generation == kServingGeneration);
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, resolve(view.options, projection, generation));
  if (!g) return {};
  const std::string low = projection_row_key(projection, encode_row_prefix(*g, model, prefix));
  const std::size_t header = low.size() - prefix.size();
  const std::string high = prefix_successor(low);
  const rocksdb::Slice high_slice = slice(high);
  if (!high.empty()) view.options.iterate_upper_bound = &high_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.NewIterator(view.options, families_.rows));
  it->Seek(slice(low));
  if (!options.start_after.empty()) {
    const std::string after = projection_row_key(projection, encode_row_key(*g, model, options.start_after));
    if (after >= low) {
      it->Seek(slice(after));
      if (it->Valid() && view_of(it->key()) == after) it->Next();
    }
  }
  std::size_t delivered = 0;
  for (; it->Valid() && delivered < options.max_count && it->key().starts_with(slice(low)); it->Next(), ++delivered)
    STRATA_RETURN_IF_ERROR(visitor(view_of(it->key()).substr(header), view_of(it->value())));
  return from_rocksdb(it->status(), fmt::format("scan read model \"{}\" of projection \"{}\"", model, projection));
}

Result<std::vector<ParkedEvent>> RocksProjectionStorage::list_parked(std::string_view projection, Generation generation,
                                                                     Position after, std::size_t max_count) {
  std::vector<ParkedEvent> out;
  if (!storable(projection) || max_count == 0) return out;
  ReadView view(db_, generation == kServingGeneration);
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, resolve(view.options, projection, generation));
  if (!g) return out;
  const std::string low = projection_generation_prefix(projection, *g);
  const std::string high = prefix_successor(low);
  const rocksdb::Slice high_slice = slice(high);
  if (!high.empty()) view.options.iterate_upper_bound = &high_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.NewIterator(view.options, families_.parked));
  const std::string first = projection_parked_key(projection, *g, after);
  it->Seek(slice(first));
  if (it->Valid() && view_of(it->key()) == first) it->Next();
  for (; it->Valid() && out.size() < max_count && it->key().starts_with(slice(low)); it->Next()) {
    auto parked = decode_parked_event(view_of(it->value()));
    if (!parked.ok())
      return parked.status().with_context(
          fmt::format("event store \"{}\": parked event of projection \"{}\"", path_, projection));
    out.push_back(std::move(*parked));
  }
  STRATA_RETURN_IF_ERROR(
      from_rocksdb(it->status(), fmt::format("list parked events of projection \"{}\"", projection)));
  return out;
}

Result<std::optional<ParkedEvent>> RocksProjectionStorage::get_parked(std::string_view projection,
                                                                      Generation generation, Position position) {
  if (!storable(projection)) return std::optional<ParkedEvent>();
  ReadView view(db_, generation == kServingGeneration);
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, resolve(view.options, projection, generation));
  if (!g) return std::optional<ParkedEvent>();
  std::string value;
  rocksdb::Status s =
      db_.Get(view.options, families_.parked, slice(projection_parked_key(projection, *g, position)), &value);
  if (s.IsNotFound()) return std::optional<ParkedEvent>();
  STRATA_RETURN_IF_ERROR(
      from_rocksdb(s, fmt::format("read parked event {} of projection \"{}\"", position.value(), projection)));
  auto parked = decode_parked_event(value);
  if (!parked.ok())
    return parked.status().with_context(
        fmt::format("event store \"{}\": parked event {} of projection \"{}\"", path_, position.value(), projection));
  return std::optional<ParkedEvent>(std::move(*parked));
}

Result<std::vector<std::string>> RocksProjectionStorage::list_projections() {
  std::vector<std::string> names;
  std::unique_ptr<rocksdb::Iterator> it(db_.NewIterator(rocksdb::ReadOptions(), families_.state));
  for (it->SeekToFirst(); it->Valid(); it->Next()) names.emplace_back(view_of(it->key()));
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), "list projections"));
  return names;
}

Status RocksProjectionStorage::drop_projection(std::string_view projection) {
  if (!storable(projection)) return {};
  std::lock_guard lock(commit_mu_);
  if (Status refused = gate_.write_refused(); !refused.ok())
    return refused.with_context(fmt::format("drop projection \"{}\"", projection));
  rocksdb::WriteBatch wb;
  const std::string prefix = projection_key_prefix(projection);
  STRATA_RETURN_IF_ERROR(from_rocksdb(wb.Delete(families_.state, slice(projection)), "stage a deletion"));
  STRATA_RETURN_IF_ERROR(delete_prefix(wb, families_.rows, prefix));
  STRATA_RETURN_IF_ERROR(delete_prefix(wb, families_.parked, prefix));
  return write(wb, fmt::format("drop of projection \"{}\"", projection));
}

}  // namespace strata::detail
