// Opening a RocksEventStore and recovering its state: the database and its column families, the
// format version check, the commit step's counters recovered from the last log record and the last
// events key, the flush on a clean close, and the factory functions (RocksEventStore::open,
// testing::open_with_file_system).
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>

#include <stdlib.h>
#include <algorithm>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_info_log.h"
#include "rocks_options.h"
#include "rocks_projection_storage.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "rocks_verify.h"
#include "store_directory.h"
#include "strata/core/limits.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/eventstore/testing/file_system.h"

namespace strata {
namespace detail {

namespace fmtx = format;

RocksEventStoreImpl::~RocksEventStoreImpl() {
  metrics_.reset();
  projection_storage_.reset();
  if (read_only_) {
    // A secondary instance wrote nothing in the store's directory: nothing to flush or mark.
    if (db_ != nullptr) {
      for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
      (void)db_->Close();
      db_.reset();
    }
    std::error_code ec;
    if (!secondary_dir_.empty()) std::filesystem::remove_all(secondary_dir_, ec);
    return;
  }
  if (db_ == nullptr) return;
  // The write buffers go to table files now, so that the next open starts from them instead of
  // replaying the write-ahead log into memory. Skipped after a failed write (the store is fail-stopped),
  // and a failure here loses nothing: the log still holds every acknowledged write.
  bool healthy;
  {
    std::lock_guard lock(mu_);
    healthy = failed_.ok();
  }
  bool flushed = false;
  if (healthy) {
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    flushed = db_->Flush(flush, handles_).ok();
  }
  for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  // Close() reports trouble flushing nothing the store depends on: every acknowledged append is in
  // the write-ahead log already.
  const bool closed = db_->Close().ok();
  db_.reset();
  // Only a store whose write buffers all reached table files is marked closed cleanly; otherwise the
  // marker still says "open", and the next open requires the write-ahead log.
  if (flushed && closed)
    (void)write_store_marker(
        marker_file_system(), path_,
        StoreMarker{StoreMarker::State::kClosed, wal_at_open_, published_.load(std::memory_order_acquire).value()});
}

Status RocksEventStoreImpl::open() {
  // Before anything is read or written: an option out of its range is the caller's mistake.
  if (Status limits = validate_limits(options_.limits); !limits.ok())
    return limits.with_context(fmt::format("open event store \"{}\"", path_));
  if (Status retention = validate_retention(options_.retention); !retention.ok())
    return retention.with_context(fmt::format("open event store \"{}\"", path_));
  // RocksDB aborts the process when a new write buffer is already over its size: the event-id
  // family's starts with a 128 KiB table (point_lookup_memtable.cc).
  if (constexpr std::size_t kMin = std::size_t{256} << 10; options_.write_buffer_bytes < kMin)
    return Status::invalid_argument(
        fmt::format("open event store \"{}\": write_buffer_bytes is {}, expected at least {} (256 KiB)", path_,
                    options_.write_buffer_bytes, kMin));
  if (file_system_ != nullptr) env_ = rocksdb::NewCompositeEnv(file_system_);
  block_cache_ = rocks_block_cache(options_);
  write_options_.sync = options_.sync;
  STRATA_RETURN_IF_ERROR(open_database());
  STRATA_RETURN_IF_ERROR(recover());
  // From here until a clean close the marker says "open": a later open that finds no log numbered
  // wal_at_open_ or higher knows that the log was lost.
  STRATA_RETURN_IF_ERROR(write_store_marker(
      marker_file_system(), path_,
      StoreMarker{StoreMarker::State::kOpen, wal_at_open_, published_.load(std::memory_order_acquire).value()}));
  projection_storage_ = std::make_unique<RocksProjectionStorage>(
      *db_, RocksProjectionStorage::Families{projection_state_, projection_rows_, projection_parked_}, write_options_,
      path_, static_cast<WriteGate&>(*this));
  start_personal_data();
  // Best effort: without the copies, loads walk the snapshots as before.
  if (!start_snapshot_copies().ok()) snapshot_copies_ = false;
  STRATA_RETURN_IF_ERROR(start_retention());
  start_metrics();
  return {};
}

void RocksEventStoreImpl::start_metrics() {
  if (options_.metrics == nullptr) return;
  metrics_ = std::make_unique<RocksStoreMetrics>(options_.metrics, path_);
  metrics_->collect_from(
      db_.get(), db_->GetDBOptions().statistics,
      [this] { return static_cast<double>(published_.load(std::memory_order_acquire).value()); },
      [this] {
        std::lock_guard lock(mu_);
        return !read_only_ && !failed_.ok();
      });
}

namespace {

// Holds RocksDB's LOCK file of a store directory while the store is checked, so that no other process
// writes to it meanwhile. Only an existing LOCK file is taken: creating one would change a directory
// that may yet be refused.
class DirectoryLock {
 public:
  DirectoryLock(rocksdb::Env& env, const std::string& path) : env_(env) {
    const std::string lock_file = (std::filesystem::path(path) / "LOCK").string();
    std::error_code ec;
    if (std::filesystem::exists(lock_file, ec)) status_ = env_.LockFile(lock_file, &lock_);
  }
  ~DirectoryLock() {
    if (lock_ != nullptr) (void)env_.UnlockFile(lock_);
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

  const rocksdb::Status& status() const { return status_; }
  void release() {
    if (lock_ != nullptr) (void)env_.UnlockFile(lock_);
    lock_ = nullptr;
  }

 private:
  rocksdb::Env& env_;
  rocksdb::FileLock* lock_ = nullptr;
  rocksdb::Status status_;
};

// RocksDB's failure to read a store's own files (a MANIFEST cut short, a table file or log missing or
// damaged) is damage; other failures (permissions, I/O) keep their codes.
Status from_rocksdb_recovery(const rocksdb::Status& s, const std::string& path, std::string_view context) {
  if (s.IsCorruption() || (s.IsIOError() && s.IsPathNotFound())) return damaged_store(context, s.ToString());
  return from_rocksdb_open(s, path, context);
}

}  // namespace

// RocksDB's open of a database writes before it is done: a new MANIFEST, the recovered write buffers
// flushed to table files, and the deletion of every table file and log the recovered MANIFEST does not
// name. On a damaged store (a lost CURRENT, a MANIFEST cut short, a lost log) that deletes what is
// left, so an existing store is checked first, with nothing but reads: its directory, strata's marker
// file, and the database opened read-only (store_directory.h, rocks_verify.h). A new store is created
// only in a directory holding none of a store's files, and marked "creating" first.
Status RocksEventStoreImpl::open_database() {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  rocksdb::Env& env = env_ != nullptr ? *env_ : *rocksdb::Env::Default();
  DirectoryLock lock(env, path_);
  if (!lock.status().ok()) return from_rocksdb_open(lock.status(), path_, context);
  auto inspected = inspect_store_directory(path_);
  if (!inspected.ok())
    return Status(inspected.status().code(), fmt::format("{}: {}", context, inspected.status().message()));
  const StoreDirectory& dir = *inspected;

  std::vector<std::string> names;
  const bool creating = !dir.holds_store_files || (dir.marker && dir.marker->state == StoreMarker::State::kCreating);
  if (!dir.holds_store_files) {
    if (!options_.create_if_missing)
      return Status::not_found(fmt::format("{}: no store there, and create_if_missing is off", context));
    // RocksDB creates the store's own directory only, not its parents.
    std::error_code ec;
    std::filesystem::create_directories(path_, ec);
    if (ec) return Status::io_error(fmt::format("{}: cannot create the directory: {}", context, ec.message()));
    STRATA_RETURN_IF_ERROR(write_store_marker(marker_file_system(), path_, StoreMarker{}));
  }
  if (creating) {
    // What an interrupted creation left holds no event; RocksDB starts over where there is no CURRENT.
    if (!dir.has_current ||
        !rocksdb::DB::ListColumnFamilies(rocks_db_options(options_, env_.get()), path_, &names).ok())
      names = {rocksdb::kDefaultColumnFamilyName};
  } else {
    STRATA_RETURN_IF_ERROR(verify_existing(dir, names, context));
  }
  // Families missing from an existing store are created (create_missing_column_families): the
  // projection families came after format version 1, and a store without them has no projections.
  for (std::string_view family : {fmtx::kStreamsFamily, fmtx::kEventsFamily, fmtx::kLogFamily, fmtx::kEventIdsFamily,
                                  fmtx::kSnapshotsFamily, fmtx::kProjectionStateFamily, fmtx::kProjectionRowsFamily,
                                  fmtx::kProjectionParkedFamily, fmtx::kSubjectKeysFamily})
    if (std::find(names.begin(), names.end(), family) == names.end()) names.emplace_back(family);

  rocksdb::DBOptions db_options = rocks_db_options(options_, env_.get());
  db_options.create_if_missing = creating;
  db_options.info_log = open_store_info_log(path_);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) {
    descriptors.emplace_back(name, rocks_family_options(name, options_, block_cache_));
    // Retention deletes in the compactions of `log` and `events` (rocks_retention.h).
    if (!options_.retention.empty() && (name == fmtx::kLogFamily || name == fmtx::kEventsFamily))
      descriptors.back().options.compaction_filter_factory =
          retention_filter_factory(name == fmtx::kLogFamily, &options_.retention, &retained_, [this] { return now(); });
  }
  rocksdb::DB* db = nullptr;
  // RocksDB takes the lock itself (another process may take it in between; this open then fails as
  // in use).
  lock.release();
  STRATA_RETURN_IF_ERROR(
      from_rocksdb_recovery(rocksdb::DB::Open(db_options, path_, descriptors, &handles_, &db), path_, context));
  db_.reset(db);
  assign_families(names);
  std::unique_ptr<rocksdb::LogFile> wal;
  STRATA_RETURN_IF_ERROR(from_rocksdb(db_->GetCurrentWalFile(&wal), context));
  wal_at_open_ = wal->LogNumber();
  return check_format(creating);
}

void RocksEventStoreImpl::assign_families(const std::vector<std::string>& names) {
  const StoreFamilies f = store_families(*db_, names, handles_);
  default_ = f.default_family;
  streams_ = f.streams;
  events_ = f.events;
  log_ = f.log;
  event_ids_ = f.event_ids;
  id_memtables_ = std::dynamic_pointer_cast<PointLookupMemTableFactory>(db_->GetOptions(event_ids_).memtable_factory);
  snapshots_ = f.snapshots;
  projection_state_ = f.projection_state;
  projection_rows_ = f.projection_rows;
  projection_parked_ = f.projection_parked;
  subject_keys_ = f.subject_keys;
}

Status RocksEventStoreImpl::refused_read_only(std::string_view what) const {
  return Status::invalid_argument(
      fmt::format("{}: event store \"{}\" is open read-only (open_read_only); open it for writing", what, path_));
}

// A secondary instance reads the store's MANIFEST and write-ahead logs and keeps its own files (its
// info log) in a directory of its own; it never writes in the store's directory, so it needs neither
// the store's lock nor open()'s checks of a damaged store, and it works beside the process that writes.
Status RocksEventStoreImpl::open_secondary() {
  const std::string context = fmt::format("open event store \"{}\" read-only", path_);
  read_only_ = true;
  auto inspected = inspect_store_directory(path_);
  if (!inspected.ok())
    return Status(inspected.status().code(), fmt::format("{}: {}", context, inspected.status().message()));
  if (!inspected->holds_store_files || !inspected->has_current)
    return Status::not_found(fmt::format("{}: no store there", context));
  std::string pattern = (std::filesystem::temp_directory_path() / "strata-secondary-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    return Status::io_error(fmt::format("{}: cannot create a directory for the secondary instance", context));
  secondary_dir_ = pattern;
  block_cache_ = rocks_block_cache(options_);
  rocksdb::DBOptions db_options = rocks_db_options(options_, nullptr);
  db_options.create_if_missing = false;
  db_options.create_missing_column_families = false;
  db_options.max_open_files = -1;  // required of a secondary instance
  db_options.info_log = std::make_shared<DiscardingInfoLog>();
  std::vector<std::string> names;
  STRATA_RETURN_IF_ERROR(
      from_rocksdb_recovery(rocksdb::DB::ListColumnFamilies(db_options, path_, &names), path_, context));
  if (std::find(names.begin(), names.end(), fmtx::kLogFamily) == names.end())
    return Status::corruption(
        fmt::format("{}: not a strata store (no \"{}\" column family)", context, fmtx::kLogFamily));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocks_family_options(name, options_, block_cache_));
  rocksdb::DB* db = nullptr;
  STRATA_RETURN_IF_ERROR(from_rocksdb_recovery(
      rocksdb::DB::OpenAsSecondary(db_options, path_, secondary_dir_, descriptors, &handles_, &db), path_, context));
  db_.reset(db);
  assign_families(names);
  if (streams_ == nullptr || events_ == nullptr || event_ids_ == nullptr || snapshots_ == nullptr ||
      projection_state_ == nullptr || projection_rows_ == nullptr || projection_parked_ == nullptr)
    return Status::corruption(fmt::format("{}: the store lacks some of its column families", context));
  STRATA_RETURN_IF_ERROR(check_format(/*created=*/false));
  STRATA_RETURN_IF_ERROR(recover());
  {
    std::lock_guard lock(mu_);
    failed_ = refused_read_only("write");
  }
  // Reads of projections' states, rows and parked events work as on a writable store; the gate
  // (write_refused) refuses its writes.
  projection_storage_ = std::make_unique<RocksProjectionStorage>(
      *db_, RocksProjectionStorage::Families{projection_state_, projection_rows_, projection_parked_}, write_options_,
      path_, static_cast<WriteGate&>(*this));
  start_personal_data();
  STRATA_RETURN_IF_ERROR(start_retention());
  start_metrics();
  return {};
}

Status RocksEventStoreImpl::refresh() {
  if (!read_only_) return {};
  const std::string context = fmt::format("refresh event store \"{}\"", path_);
  std::lock_guard lock(refresh_mu_);
  STRATA_RETURN_IF_ERROR(from_rocksdb(db_->TryCatchUpWithPrimary(), context));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_));
  it->SeekToLast();
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
  Position last = 0;
  if (it->Valid() && !fmtx::decode_position_key(view_of(it->key()), last))
    return corrupt("the last log record is damaged");
  if (last > published_.load(std::memory_order_acquire)) published_.store(last, std::memory_order_release);
  return {};
}

// The checks of an existing store before RocksDB may write to it; `names` gets its column families.
Status RocksEventStoreImpl::verify_existing(const StoreDirectory& dir, std::vector<std::string>& names,
                                            std::string_view context,
                                            const std::function<Status(const StoreFamilies&)>& then) {
  if (!dir.has_current)
    return damaged_store(
        context, "its CURRENT file, which names the MANIFEST (RocksDB's list of the store's files), is missing");
  if (dir.marker && dir.marker->state == StoreMarker::State::kOpen &&
      (dir.wal_numbers.empty() || dir.wal_numbers.back() < dir.marker->wal))
    return damaged_store(context, fmt::format("it was not closed cleanly, and its write-ahead log is missing (no log "
                                              "numbered {} or higher): the events not yet in table files are lost",
                                              dir.marker->wal));
  rocksdb::DBOptions db_options = rocks_db_options(options_, env_.get());
  db_options.info_log = std::make_shared<DiscardingInfoLog>();
  db_options.create_if_missing = false;
  db_options.create_missing_column_families = false;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, path_, &names);
  if (!listed.ok()) return from_rocksdb_recovery(listed, path_, context);
  const bool has_log = std::find(names.begin(), names.end(), fmtx::kLogFamily) != names.end();
  if (!has_log && dir.marker)
    return damaged_store(context, fmt::format("its MANIFEST names no \"{}\" column family", fmtx::kLogFamily));
  if (!has_log && names.size() > 1)
    return Status::corruption(
        fmt::format("{}: the directory holds a RocksDB database that is not a strata store "
                    "(no \"{}\" column family)",
                    context, fmtx::kLogFamily));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocks_family_options(name, options_, block_cache_));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &handles, &raw);
  if (!s.ok()) return from_rocksdb_recovery(s, path_, context);
  std::unique_ptr<rocksdb::DB> db(raw);
  Status verified = verify_recovered_database(*db, names, handles, dir.marker, context);
  if (verified.ok() && then) verified = then(store_families(*db, names, handles));
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  (void)db->Close();
  return verified;
}

Result<RocksEventStore::VerifyReport> RocksEventStoreImpl::verify_closed() {
  const std::string context = fmt::format("verify event store \"{}\"", path_);
  block_cache_ = rocks_block_cache(options_);
  DirectoryLock lock(*rocksdb::Env::Default(), path_);
  if (!lock.status().ok()) return from_rocksdb_open(lock.status(), path_, context);
  auto inspected = inspect_store_directory(path_);
  if (!inspected.ok())
    return Status(inspected.status().code(), fmt::format("{}: {}", context, inspected.status().message()));
  const StoreDirectory& dir = *inspected;
  if (!dir.holds_store_files) return Status::not_found(fmt::format("{}: no store there", context));
  if (dir.marker && dir.marker->state == StoreMarker::State::kCreating)
    return Status::not_found(
        fmt::format("{}: the store's creation was interrupted; it never held an event (open creates it)", context));
  VerifyReport report;
  std::vector<std::string> names;
  STRATA_RETURN_IF_ERROR(verify_existing(dir, names, context, [&](const StoreFamilies& families) {
    return verify_store(families, nullptr, report).with_context(context);
  }));
  return report;
}

Status RocksEventStoreImpl::check_format(bool created) {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kFormatVersionKey), &value);
  if (s.IsNotFound()) {
    // A store is created empty and stamped before anything else is written; an existing store without
    // a stamp was refused before RocksDB opened it (verify_existing).
    if (!created) return Status::corruption(fmt::format("{}: the database has no format version", context));
    std::unique_ptr<rocksdb::Iterator> data(db_->NewIterator(rocksdb::ReadOptions(), default_));
    data->SeekToFirst();
    if (data->Valid())
      return Status::corruption(
          fmt::format("{}: the directory holds a RocksDB database that is not a strata store", context));
    std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), log_));
    log->SeekToFirst();
    if (log->Valid())
      return Status::corruption(fmt::format("{}: the database has events but no format version", context));
    char stamp[4];
    fmtx::put_be(stamp, kFormatVersion, 4);
    rocksdb::WriteOptions durable;
    durable.sync = true;
    return from_rocksdb(db_->Put(durable, default_, slice(fmtx::kFormatVersionKey), rocksdb::Slice(stamp, 4)), context);
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  return check_format_version(value, context);
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
      if (!fmtx::decode_position_key(view_of(it->key()), last) ||
          !fmtx::decode_log_identity(view_of(it->value()), view))
        return corrupt("the last log record is damaged");
      published_.store(last, std::memory_order_release);
      next_position_ = last + 1;
      // The last commit time is the newest event's still there (tombstones keep none).
      for (; it->Valid(); it->Prev()) {
        if (fmtx::is_log_tombstone(view_of(it->value()))) continue;
        if (!fmtx::decode_log_record(view_of(it->value()), view)) return corrupt("a log record is damaged");
        last_timestamp_ = view.timestamp;
        break;
      }
      STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
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
  {
    // Removals may have deleted every entry of the streams with the highest numbers.
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kStreamNumberFloorKey), &value);
    if (!s.IsNotFound()) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
      if (value.size() != 8) return corrupt("the stream number floor record is damaged");
      next_stream_number_ = std::max<std::uint64_t>(next_stream_number_, encoding::get_be(value.data(), 8));
    }
  }
  return {};
}

}  // namespace detail

Result<RocksEventStore::VerifyReport> RocksEventStore::verify(const Options& options, std::string_view path) {
  Options read_only = options;
  read_only.create_if_missing = false;
  return detail::RocksEventStoreImpl(std::move(read_only), std::string(path), nullptr).verify_closed();
}

Result<std::unique_ptr<RocksEventStore>> RocksEventStore::open_read_only(const Options& options,
                                                                         std::string_view path) {
  auto store = std::make_unique<detail::RocksEventStoreImpl>(options, std::string(path), nullptr);
  STRATA_RETURN_IF_ERROR(store->open_secondary());
  return std::unique_ptr<RocksEventStore>(std::move(store));
}

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
