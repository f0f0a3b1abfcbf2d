// The snapshots of RocksEventStore (its SnapshotStore), in the snapshots family: a cache, so written
// without fsync (a later synced commit makes them durable too, and losing one only costs a replay). A
// failed write stops the store as a failed append does.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/core/backend/snapshot_encoding.h"

namespace strata::detail {

namespace fmtx = format;

Status RocksEventStoreImpl::save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) {
  if (read_only_) return refused_read_only(fmt::format("save snapshot of stream \"{}\"", stream.str()));
  if (snapshot.version == 0)
    return Status::invalid_argument(fmt::format("snapshot of stream \"{}\": version 0 holds no events", stream.str()));
  const std::string bytes = encode_snapshot(snapshot);
  const std::string key =
      fmtx::snapshot_key(stream.view(), snapshot.version, snapshot.schema_fingerprint, snapshot.snapshot_version);
  const std::string latest =
      fmtx::snapshot_latest_key(stream.view(), snapshot.schema_fingerprint, snapshot.snapshot_version);
  auto context = [&] {
    return fmt::format("save snapshot of stream \"{}\" at version {}", stream.str(), snapshot.version.value());
  };
  // The copy at `latest` moves only forward: saves of one stream are serialised from its read to the write.
  std::lock_guard snapshot_lock(snapshot_mu_);
  rocksdb::PinnableSlice current;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), snapshots_, slice(latest), &current);
  if (!found.ok() && !found.IsNotFound()) return from_rocksdb(found, context());
  bool newest = found.IsNotFound();
  if (found.ok()) {
    // A damaged copy is replaced.
    auto decoded = decode_snapshot(view_of(current));
    newest = !decoded.ok() || decoded->version <= snapshot.version;
  }
  rocksdb::WriteBatch batch;
  Status s = from_rocksdb(batch.Put(snapshots_, slice(key), slice(bytes)), context());
  if (s.ok() && newest) s = from_rocksdb(batch.Put(snapshots_, slice(latest), slice(bytes)), context());
  if (s.ok()) s = from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch), context());
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    fail_stop(s);
  }
  return s;
}

// Walks `stream`'s snapshot keys from the newest at or below `max_version` back to the oldest, calling
// fn(key, version, fingerprint, snapshot_version, iterator) for each key of the current layout until fn
// returns false.
template <class Fn>
Status RocksEventStoreImpl::walk_snapshots_back(const StreamId& stream, Version max_version, Fn&& fn) {
  const std::string lower = fmtx::snapshot_key_prefix(stream.view(), 0);
  const std::string upper =
      fmtx::snapshot_key_prefix(stream.view(), max_version == kEndOfStream ? max_version : max_version + 1);
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  if (max_version != kEndOfStream) options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, snapshots_));
  if (max_version == kEndOfStream) {
    it->SeekForPrev(slice(fmtx::snapshot_key(stream.view(), kEndOfStream, ~std::uint64_t{0}, ~std::uint32_t{0})));
  } else {
    it->SeekToLast();
  }
  for (; it->Valid(); it->Prev()) {
    Version version = 0;
    std::uint64_t fingerprint = 0;
    std::uint32_t snapshot_version = 0;
    if (!fmtx::decode_snapshot_key(view_of(it->key()), stream.view().size(), version, fingerprint, snapshot_version))
      continue;
    if (!fn(version, fingerprint, snapshot_version, *it)) break;
  }
  return from_rocksdb(it->status(), fmt::format("read the snapshots of stream \"{}\"", stream.str()));
}

Result<std::optional<SnapshotRecord>> RocksEventStoreImpl::load_snapshot(const StreamId& stream, Version max_version,
                                                                         const SnapshotSchema& schema) {
  if (max_version == kEndOfStream) {
    // The newest: its copy, by one Get. A store whose snapshots predate the copies has none, and is
    // walked below.
    rocksdb::PinnableSlice value;
    const rocksdb::Status got =
        db_->Get(rocksdb::ReadOptions(), snapshots_,
                 slice(fmtx::snapshot_latest_key(stream.view(), schema.fingerprint, schema.snapshot_version)), &value);
    if (got.ok()) {
      auto decoded = decode_snapshot(view_of(value));
      if (decoded.ok() && decoded->schema() == schema) return std::optional<SnapshotRecord>(std::move(*decoded));
      const std::string context = fmt::format("newest snapshot of stream \"{}\"", stream.str());
      if (!decoded.ok()) return decoded.status().with_context(context);
      return Status::corruption(context + ": the snapshot does not match its key");
    }
    if (!got.IsNotFound()) return from_rocksdb(got, fmt::format("read the snapshots of stream \"{}\"", stream.str()));
    if (snapshot_copies_) return std::optional<SnapshotRecord>();
  }
  std::optional<Result<SnapshotRecord>> found;
  Version found_version = 0;
  STRATA_RETURN_IF_ERROR(walk_snapshots_back(
      stream, max_version,
      [&](Version version, std::uint64_t fingerprint, std::uint32_t snapshot_version, rocksdb::Iterator& it) {
        if (fingerprint != schema.fingerprint || snapshot_version != schema.snapshot_version) return true;
        found = decode_snapshot(view_of(it.value()));
        found_version = version;
        return false;
      }));
  if (!found) return std::optional<SnapshotRecord>();
  const std::string context =
      fmt::format("snapshot of stream \"{}\" at version {}", stream.str(), found_version.value());
  if (!found->ok()) return found->status().with_context(context);
  if ((*found)->version != found_version || (*found)->schema() != schema)
    return Status::corruption(context + ": the snapshot does not match its key");
  return std::optional<SnapshotRecord>(std::move(**found));
}

Status RocksEventStoreImpl::start_snapshot_copies() {
  const std::string context = fmt::format("open event store \"{}\": copy the newest snapshots", path_);
  std::string marker;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kSnapshotCopiesKey), &marker);
  if (found.ok()) {
    snapshot_copies_ = true;
    return {};
  }
  if (!found.IsNotFound()) return from_rocksdb(found, context);
  if (read_only_) return {};  // loads walk the snapshots instead
  // Keys are in stream order, and a stream's in version order, its copies last: per stream, the newest
  // snapshot of each schema is remembered and copied unless it has its copy already.
  struct Newest {
    SnapshotSchema schema;
    std::string value;
    bool copied = false;
  };
  std::string stream;
  std::vector<Newest> newest;
  rocksdb::WriteBatch batch;
  auto flush_stream = [&]() -> Status {
    for (const Newest& n : newest)
      if (!n.copied)
        STRATA_RETURN_IF_ERROR(from_rocksdb(
            batch.Put(snapshots_,
                      slice(fmtx::snapshot_latest_key(stream, n.schema.fingerprint, n.schema.snapshot_version)),
                      slice(n.value)),
            context));
    newest.clear();
    if (batch.GetDataSize() < (std::size_t{4} << 20)) return {};
    Status s = from_rocksdb(db_->Write(write_options_, &batch), context);
    batch.Clear();
    return s;
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = view_of(it->key());
    const std::size_t end = key.find('\0');
    if (end == std::string_view::npos) continue;  // damaged: verify names it
    if (key.substr(0, end) != stream) {
      STRATA_RETURN_IF_ERROR(flush_stream());
      stream.assign(key.substr(0, end));
    }
    Version version = 0;
    std::uint64_t fingerprint = 0;
    std::uint32_t snapshot_version = 0;
    const bool copy = fmtx::decode_snapshot_latest_key(key, end, fingerprint, snapshot_version);
    if (!copy && !fmtx::decode_snapshot_key(key, end, version, fingerprint, snapshot_version)) continue;
    const SnapshotSchema schema{fingerprint, snapshot_version};
    auto n = std::find_if(newest.begin(), newest.end(), [&](const Newest& x) { return x.schema == schema; });
    if (n == newest.end()) n = newest.insert(newest.end(), Newest{schema, {}, false});
    if (copy) {
      n->copied = true;
    } else {
      n->value.assign(view_of(it->value()));
    }
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
  STRATA_RETURN_IF_ERROR(flush_stream());
  STRATA_RETURN_IF_ERROR(from_rocksdb(batch.Put(default_, slice(fmtx::kSnapshotCopiesKey), {}), context));
  rocksdb::WriteOptions synced;
  synced.sync = true;
  STRATA_RETURN_IF_ERROR(from_rocksdb(db_->Write(synced, &batch), context));
  snapshot_copies_ = true;
  return {};
}

Result<std::vector<Version>> RocksEventStoreImpl::snapshot_versions(const StreamId& stream) {
  std::vector<Version> versions;
  STRATA_RETURN_IF_ERROR(
      walk_snapshots_back(stream, kEndOfStream, [&](Version version, std::uint64_t, std::uint32_t, rocksdb::Iterator&) {
        versions.push_back(version);
        return true;
      }));
  std::reverse(versions.begin(), versions.end());
  return versions;
}

Status RocksEventStoreImpl::retain_snapshots(const StreamId& stream, const SnapshotSchema& schema, std::size_t keep) {
  if (read_only_) return refused_read_only(fmt::format("retain snapshots of stream \"{}\"", stream.str()));
  std::vector<std::string> keys;  // in key order: by version
  std::vector<StoredSnapshot> entries;
  std::vector<SnapshotSchema> schemas;                         // entries' schemas (readable ones)
  std::vector<std::pair<std::string, SnapshotSchema>> copies;  // the newest snapshots' copies
  std::lock_guard snapshot_lock(snapshot_mu_);
  const std::string lower = fmtx::snapshot_key_prefix(stream.view(), 0), upper = fmtx::snapshot_key_end(stream.view());
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, snapshots_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    StoredSnapshot e;
    std::uint64_t fingerprint = 0;
    std::uint32_t snapshot_version = 0;
    if (fmtx::decode_snapshot_latest_key(view_of(it->key()), stream.view().size(), fingerprint, snapshot_version)) {
      copies.emplace_back(view_of(it->key()), SnapshotSchema{fingerprint, snapshot_version});
      continue;
    }
    e.readable =
        fmtx::decode_snapshot_key(view_of(it->key()), stream.view().size(), e.version, fingerprint, snapshot_version);
    e.of_schema = e.readable && fingerprint == schema.fingerprint && snapshot_version == schema.snapshot_version;
    keys.emplace_back(view_of(it->key()));
    entries.push_back(e);
    schemas.push_back(SnapshotSchema{fingerprint, snapshot_version});
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), fmt::format("list snapshots of stream \"{}\"", stream.str())));
  const std::vector<bool> drop = snapshots_to_drop(entries, keep);
  rocksdb::WriteBatch batch;
  std::vector<SnapshotSchema> kept;  // the schemas a snapshot is kept of
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (drop[i]) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(batch.Delete(snapshots_, slice(keys[i])), "stage snapshot deletion"));
    } else if (entries[i].readable) {
      kept.push_back(schemas[i]);
    }
  }
  // The newest snapshot of a schema is dropped last, so a copy goes when no snapshot of its schema stays.
  for (const auto& [key, of] : copies)
    if (std::find(kept.begin(), kept.end(), of) == kept.end())
      STRATA_RETURN_IF_ERROR(from_rocksdb(batch.Delete(snapshots_, slice(key)), "stage snapshot deletion"));
  if (batch.Count() == 0) return {};
  Status s = from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch),
                          fmt::format("delete old snapshots of stream \"{}\"", stream.str()));
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    fail_stop(s);
  }
  return s;
}

}  // namespace strata::detail
