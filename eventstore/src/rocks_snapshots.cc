// The snapshots of RocksEventStore (its SnapshotStore), in the snapshots family: a cache, so written
// without fsync (a later synced commit makes them durable too, and losing one only costs a replay). A
// failed write stops the store as a failed append does.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

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
  if (snapshot.version == 0)
    return Status::invalid_argument(fmt::format("snapshot of stream \"{}\": version 0 holds no events", stream.str()));
  const std::string bytes = encode_snapshot(snapshot);
  Status s = from_rocksdb(db_->Put(rocksdb::WriteOptions(), snapshots_,
                                   slice(fmtx::snapshot_key(stream.view(), snapshot.version)), slice(bytes)),
                          fmt::format("save snapshot of stream \"{}\" at version {}", stream.str(), snapshot.version));
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    fail_stop(s);
  }
  return s;
}

Result<std::optional<SnapshotRecord>> RocksEventStoreImpl::load_snapshot(const StreamId& stream, Version max_version) {
  const std::string lower = fmtx::snapshot_key(stream.view(), 0);
  rocksdb::Slice lower_bound = slice(lower);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, snapshots_));
  it->SeekForPrev(slice(fmtx::snapshot_key(stream.view(), max_version)));
  if (!it->Valid()) {
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), fmt::format("load snapshot of stream \"{}\"", stream.str())));
    return std::optional<SnapshotRecord>();
  }
  const std::string_view key = view_of(it->key());
  const Version version = fmtx::get_be(key.data() + key.size() - 8, 8);
  auto decoded = decode_snapshot(view_of(it->value()));
  if (!decoded.ok())
    return decoded.status().with_context(fmt::format("snapshot of stream \"{}\" at version {}", stream.str(), version));
  return std::optional<SnapshotRecord>(std::move(*decoded));
}

Result<std::vector<Version>> RocksEventStoreImpl::snapshot_versions(const StreamId& stream) {
  const std::string lower = fmtx::snapshot_key(stream.view(), 0), upper = fmtx::snapshot_key_end(stream.view());
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, snapshots_));
  std::vector<Version> versions;
  for (it->Seek(lower_bound); it->Valid(); it->Next()) {
    const std::string_view key = view_of(it->key());
    versions.push_back(fmtx::get_be(key.data() + key.size() - 8, 8));
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), fmt::format("list snapshots of stream \"{}\"", stream.str())));
  return versions;
}

Status RocksEventStoreImpl::retain_snapshots(const StreamId& stream, std::size_t keep) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Version> versions, snapshot_versions(stream));
  if (versions.size() <= keep) return {};
  rocksdb::WriteBatch batch;
  for (std::size_t i = 0; i + keep < versions.size(); ++i) {
    rocksdb::Status s = batch.Delete(snapshots_, slice(fmtx::snapshot_key(stream.view(), versions[i])));
    if (!s.ok()) return from_rocksdb(s, "stage snapshot deletion");
  }
  Status s = from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch),
                          fmt::format("delete old snapshots of stream \"{}\"", stream.str()));
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    fail_stop(s);
  }
  return s;
}

}  // namespace strata::detail
