// The operator's side of a RocksEventStore: what RocksDB holds (info), compaction, and backups with
// RocksDB's BackupEngine (backup, list_backups, verify_backup, restore).
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/backup_engine.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "rocks_verify.h"
#include "store_directory.h"

namespace strata {

namespace fs = std::filesystem;

namespace detail {

namespace fmtx = format;

namespace {

std::uint64_t int_property(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, const std::string& name) {
  std::uint64_t value = 0;
  if (family != nullptr) (void)db.GetIntProperty(family, name, &value);
  return value;
}

// The backup's metadata: "high_water <decimal>".
std::string backup_metadata(Position high_water) { return fmt::format("high_water {}", high_water.value()); }

Position backup_high_water(std::string_view metadata) {
  constexpr std::string_view prefix = "high_water ";
  std::uint64_t value = 0;
  if (metadata.starts_with(prefix))
    std::from_chars(metadata.data() + prefix.size(), metadata.data() + metadata.size(), value);
  return value;
}

RocksEventStore::BackupInfo to_backup_info(const rocksdb::BackupInfo& b) {
  RocksEventStore::BackupInfo info;
  info.id = b.backup_id;
  info.created = Timestamp(std::chrono::seconds(b.timestamp));
  info.bytes = b.size;
  info.files = b.number_files;
  info.high_water = backup_high_water(b.app_metadata);
  return info;
}

template <typename Engine>
Result<std::unique_ptr<Engine>> open_backup_engine(std::string_view backup_dir, std::string_view context) {
  Engine* engine = nullptr;
  rocksdb::BackupEngineOptions options{std::string(backup_dir)};
  options.sync = true;
  options.share_table_files = true;
  // RocksDB's own diagnostics go nowhere (its default would be stdout).
  options.info_log = nullptr;
  STRATA_RETURN_IF_ERROR(from_rocksdb(Engine::Open(options, rocksdb::Env::Default(), &engine), context));
  return std::unique_ptr<Engine>(engine);
}

}  // namespace

Result<RocksEventStore::StoreInfo> RocksEventStoreImpl::info() {
  const std::string context = fmt::format("info of event store \"{}\"", path_);
  StoreInfo info;
  std::string value;
  STRATA_RETURN_IF_ERROR(
      from_rocksdb(db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kFormatVersionKey), &value), context));
  if (value.size() == 4) info.format_version = static_cast<std::uint32_t>(fmtx::get_be(value.data(), 4));
  info.head = head_position();
  info.streams_estimate = int_property(*db_, streams_, rocksdb::DB::Properties::kEstimateNumKeys);
  std::uint64_t stopped = 0, delayed = 0;
  (void)db_->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &delayed);
  (void)db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &stopped);
  info.write_stalled = stopped != 0 || delayed != 0;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    FamilyInfo f;
    f.name = h->GetName();
    f.keys_estimate = int_property(*db_, h, rocksdb::DB::Properties::kEstimateNumKeys);
    f.table_bytes = int_property(*db_, h, rocksdb::DB::Properties::kTotalSstFilesSize);
    f.memory_bytes = int_property(*db_, h, rocksdb::DB::Properties::kCurSizeAllMemTables);
    info.pending_compaction_bytes += int_property(*db_, h, rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
    rocksdb::ColumnFamilyMetaData meta;
    db_->GetColumnFamilyMetaData(h, &meta);
    for (const auto& level : meta.levels) f.files_per_level.push_back(level.files.size());
    while (!f.files_per_level.empty() && f.files_per_level.back() == 0 && f.files_per_level.size() > 1)
      f.files_per_level.pop_back();
    info.families.push_back(std::move(f));
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path_, ec))
    if (entry.is_regular_file(ec)) info.disk_bytes += entry.file_size(ec);
  return info;
}

Status RocksEventStoreImpl::compact() {
  if (read_only_) return refused_read_only("compact");
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  for (rocksdb::ColumnFamilyHandle* h : handles_)
    STRATA_RETURN_IF_ERROR(
        from_rocksdb(db_->CompactRange(options, h, nullptr, nullptr),
                     fmt::format("compact family \"{}\" of event store \"{}\"", h->GetName(), path_)));
  return {};
}

Result<RocksEventStore::BackupInfo> RocksEventStoreImpl::backup(std::string_view backup_dir) {
  const std::string context = fmt::format("back up event store \"{}\" to \"{}\"", path_, backup_dir);
  if (read_only_) return refused_read_only("back up");
  std::error_code ec;
  fs::create_directories(std::string(backup_dir), ec);
  if (ec) return Status::io_error(fmt::format("{}: cannot create the directory: {}", context, ec.message()));
  STRATA_ASSIGN_OR_RETURN(auto engine, open_backup_engine<rocksdb::BackupEngine>(backup_dir, context));
  // Everything acknowledged so far is in the write-ahead log or the table files, which the backup
  // copies as of one point, so it holds at least this much of the log.
  const Position high_water = head_position();
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = false;  // the logs are copied: appends do not wait for a flush
  rocksdb::BackupID id = 0;
  STRATA_RETURN_IF_ERROR(
      from_rocksdb(engine->CreateNewBackupWithMetadata(options, db_.get(), backup_metadata(high_water), &id), context));
  rocksdb::BackupInfo created;
  STRATA_RETURN_IF_ERROR(from_rocksdb(engine->GetBackupInfo(id, &created), context));
  return to_backup_info(created);
}

}  // namespace detail

Result<std::vector<RocksEventStore::BackupInfo>> RocksEventStore::list_backups(std::string_view backup_dir) {
  const std::string context = fmt::format("list the backups in \"{}\"", backup_dir);
  std::error_code ec;
  if (!fs::is_directory(std::string(backup_dir), ec))
    return Status::not_found(fmt::format("{}: no such directory", context));
  STRATA_ASSIGN_OR_RETURN(auto engine, detail::open_backup_engine<rocksdb::BackupEngineReadOnly>(backup_dir, context));
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  if (infos.empty()) return Status::not_found(fmt::format("{}: it holds no backup", context));
  std::vector<BackupInfo> backups;
  for (const auto& b : infos) backups.push_back(detail::to_backup_info(b));
  return backups;
}

Status RocksEventStore::verify_backup(std::string_view backup_dir, std::uint32_t id) {
  const std::string context = fmt::format("verify backup {} in \"{}\"", id, backup_dir);
  STRATA_ASSIGN_OR_RETURN(auto backups, list_backups(backup_dir));
  bool known = false;
  for (const auto& b : backups) known = known || b.id == id;
  if (!known) return Status::not_found(fmt::format("{}: no such backup", context));
  STRATA_ASSIGN_OR_RETURN(auto engine, detail::open_backup_engine<rocksdb::BackupEngineReadOnly>(backup_dir, context));
  rocksdb::Status s = engine->VerifyBackup(id, /*verify_with_checksum=*/true);
  // RocksDB reports a file of the wrong size or checksum, or a missing one, as Corruption or NotFound.
  if (s.IsNotFound() || s.IsCorruption() || s.IsInvalidArgument())
    return Status::corruption(fmt::format("{}: the backup is damaged: {}", context, s.ToString()));
  return detail::from_rocksdb(s, context);
}

Status RocksEventStore::restore(std::string_view backup_dir, std::uint32_t id, std::string_view path) {
  const std::string context = fmt::format("restore backup {} of \"{}\" into \"{}\"", id, backup_dir, path);
  std::error_code ec;
  if (fs::exists(std::string(path), ec) && !fs::is_empty(std::string(path), ec))
    return Status::invalid_argument(
        fmt::format("{}: the directory is not empty; a restore never overwrites a store (restore into a new "
                    "directory, check it, then swap the directories)",
                    context));
  STRATA_ASSIGN_OR_RETURN(auto backups, list_backups(backup_dir));
  if (id == 0) id = backups.back().id;
  bool known = false;
  for (const auto& b : backups) known = known || b.id == id;
  if (!known) return Status::not_found(fmt::format("{}: no such backup", context));
  STRATA_ASSIGN_OR_RETURN(auto engine, detail::open_backup_engine<rocksdb::BackupEngineReadOnly>(backup_dir, context));
  const std::string dir(path);
  rocksdb::IOStatus s = engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, dir, dir);
  if (s.IsCorruption() || s.IsNotFound())
    return Status::corruption(fmt::format("{}: the backup is damaged: {}", context, s.ToString()));
  return detail::from_rocksdb(s, context);
}

}  // namespace strata
