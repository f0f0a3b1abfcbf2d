// Opening a RocksEventStore and recovering its state: the database and its column families, the
// format version check, the commit step's counters recovered from the last log record and the last
// events key, the flush on a clean close, and the factory functions (RocksEventStore::open,
// testing::open_with_file_system).
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_options.h"
#include "rocks_projection_storage.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/eventstore/testing/file_system.h"

namespace strata {
namespace detail {

namespace fmtx = format;

RocksEventStoreImpl::~RocksEventStoreImpl() {
  projection_storage_.reset();
  if (db_ == nullptr) return;
  // The write buffers go to table files now, so that the next open starts from them instead of
  // replaying the write-ahead log into memory. Skipped after a failed write (the store is fail-stopped),
  // and a failure here loses nothing: the log still holds every acknowledged write.
  bool healthy;
  {
    std::lock_guard lock(mu_);
    healthy = failed_.ok();
  }
  if (healthy) {
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    (void)db_->Flush(flush, handles_);
  }
  for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  // Close() reports trouble flushing nothing the store depends on: every acknowledged append is in
  // the write-ahead log already.
  (void)db_->Close();
  db_.reset();
}

Status RocksEventStoreImpl::open() {
  if (file_system_ != nullptr) env_ = rocksdb::NewCompositeEnv(file_system_);
  block_cache_ = rocks_block_cache(options_);
  write_options_.sync = options_.sync;
  STRATA_RETURN_IF_ERROR(open_database());
  STRATA_RETURN_IF_ERROR(recover());
  projection_storage_ = std::make_unique<RocksProjectionStorage>(
      *db_, RocksProjectionStorage::Families{projection_state_, projection_rows_, projection_parked_}, write_options_,
      path_, static_cast<WriteGate&>(*this));
  return {};
}

Status RocksEventStoreImpl::open_database() {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  rocksdb::DBOptions db_options = rocks_db_options(options_, env_.get());

  // An existing database must be opened with every family it has; a new one gets strata's.
  std::vector<std::string> names;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, path_, &names);
  const bool exists = listed.ok();
  if (!exists) {
    // No CURRENT file: nothing is there yet (RocksDB says so as an IOError or PathNotFound).
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(path_) / "CURRENT", ec)) return from_rocksdb(listed, context);
    if (!options_.create_if_missing)
      return Status::not_found(fmt::format("{}: no store there, and create_if_missing is off", context));
    // RocksDB creates the store's own directory only, not its parents.
    std::filesystem::create_directories(path_, ec);
    if (ec) return Status::io_error(fmt::format("{}: cannot create the directory: {}", context, ec.message()));
    names = {rocksdb::kDefaultColumnFamilyName};
  } else {
    const bool has_log = std::find(names.begin(), names.end(), fmtx::kLogFamily) != names.end();
    if (!has_log && names.size() > 1)
      return Status::corruption(
          fmt::format("{}: the directory holds a RocksDB database that is not a strata store "
                      "(no \"{}\" column family)",
                      context, fmtx::kLogFamily));
  }
  // Families missing from an existing store are created (create_missing_column_families): the
  // projection families came after format version 1, and a store without them has no projections.
  for (std::string_view family :
       {fmtx::kStreamsFamily, fmtx::kEventsFamily, fmtx::kLogFamily, fmtx::kEventIdsFamily, fmtx::kSnapshotsFamily,
        fmtx::kProjectionStateFamily, fmtx::kProjectionRowsFamily, fmtx::kProjectionParkedFamily})
    if (std::find(names.begin(), names.end(), family) == names.end()) names.emplace_back(family);

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocks_family_options(name, options_, block_cache_));
  rocksdb::DB* db = nullptr;
  STRATA_RETURN_IF_ERROR(
      from_rocksdb_open(rocksdb::DB::Open(db_options, path_, descriptors, &handles_, &db), path_, context));
  db_.reset(db);
  for (std::size_t i = 0; i < names.size(); ++i) {
    rocksdb::ColumnFamilyHandle* h = handles_[i];
    if (names[i] == rocksdb::kDefaultColumnFamilyName) default_ = h;
    if (names[i] == fmtx::kStreamsFamily) streams_ = h;
    if (names[i] == fmtx::kEventsFamily) events_ = h;
    if (names[i] == fmtx::kLogFamily) log_ = h;
    if (names[i] == fmtx::kEventIdsFamily) event_ids_ = h;
    if (names[i] == fmtx::kSnapshotsFamily) snapshots_ = h;
    if (names[i] == fmtx::kProjectionStateFamily) projection_state_ = h;
    if (names[i] == fmtx::kProjectionRowsFamily) projection_rows_ = h;
    if (names[i] == fmtx::kProjectionParkedFamily) projection_parked_ = h;
  }
  return check_format(!exists);
}

Status RocksEventStoreImpl::check_format(bool created) {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kFormatVersionKey), &value);
  if (s.IsNotFound()) {
    // A store is created empty and stamped before anything else is written, so an existing database
    // without a stamp is either a creation interrupted by a crash (empty: safe to finish) or not ours.
    if (!created) {
      std::unique_ptr<rocksdb::Iterator> data(db_->NewIterator(rocksdb::ReadOptions(), default_));
      data->SeekToFirst();
      if (data->Valid())
        return Status::corruption(
            fmt::format("{}: the directory holds a RocksDB database that is not a strata store", context));
      std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), log_));
      log->SeekToFirst();
      if (log->Valid())
        return Status::corruption(fmt::format("{}: the database has events but no format version", context));
    }
    char stamp[4];
    fmtx::put_be(stamp, kFormatVersion, 4);
    rocksdb::WriteOptions durable;
    durable.sync = true;
    return from_rocksdb(db_->Put(durable, default_, slice(fmtx::kFormatVersionKey), rocksdb::Slice(stamp, 4)), context);
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  if (value.size() != 4) return Status::corruption(fmt::format("{}: the format version is damaged", context));
  const auto version = static_cast<std::uint32_t>(fmtx::get_be(value.data(), 4));
  if (version > kFormatVersion)
    return Status::corruption(fmt::format(
        "{}: the store has format version {}, newer than the {} this build reads; open it with a newer strata", context,
        version, kFormatVersion));
  if (version == 0) return Status::corruption(fmt::format("{}: the format version is damaged (0)", context));
  return {};
}

// Everything the commit step needs comes from the families: the high-water mark and the last commit
// timestamp from the last log record, the next stream number from the last key of `events` (numbers
// are assigned in order, and every stream has an event). A stream's head is found when first needed,
// as its last entry in `events` (find_head).
Status RocksEventStoreImpl::recover() {
  const std::string context = fmt::format("recover event store \"{}\"", path_);
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_));
    it->SeekToLast();
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
    if (it->Valid()) {
      Position last = 0;
      EventView view;
      if (!fmtx::decode_position_key(view_of(it->key()), last) || !fmtx::decode_log_record(view_of(it->value()), view))
        return corrupt("the last log record is damaged");
      published_.store(last, std::memory_order_release);
      next_position_ = last + 1;
      last_timestamp_ = view.timestamp;
    }
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_));
    it->SeekToLast();
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
    if (it->Valid()) {
      std::uint64_t number = 0;
      Version version = 0;
      if (!fmtx::decode_events_key(view_of(it->key()), number, version))
        return corrupt("the last key of the events family is damaged");
      next_stream_number_ = number + 1;
    }
  }
  return {};
}

}  // namespace detail

Result<std::unique_ptr<RocksEventStore>> RocksEventStore::open(const Options& options, std::string_view path) {
  auto store = std::make_unique<detail::RocksEventStoreImpl>(options, std::string(path), nullptr);
  STRATA_RETURN_IF_ERROR(store->open());
  return std::unique_ptr<RocksEventStore>(std::move(store));
}

Result<std::unique_ptr<RocksEventStore>> testing::open_with_file_system(
    const RocksEventStore::Options& options, std::string_view path, std::shared_ptr<rocksdb::FileSystem> file_system) {
  auto store = std::make_unique<detail::RocksEventStoreImpl>(options, std::string(path), std::move(file_system));
  STRATA_RETURN_IF_ERROR(store->open());
  return std::unique_ptr<RocksEventStore>(std::move(store));
}

}  // namespace strata
