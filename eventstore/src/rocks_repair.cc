// RocksEventStore::repair_copy: the explicit, separate repair of a damaged store, on a copy.
#include <fmt/format.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <string>
#include <vector>

#include "format.h"
#include "rocks_info_log.h"
#include "rocks_options.h"
#include "rocks_status.h"
#include "store_directory.h"
#include "strata/eventstore/rocks_event_store.h"

namespace strata {

Status RocksEventStore::repair_copy(const Options& options, std::string_view damaged, std::string_view copy) {
  namespace fs = std::filesystem;
  const std::string from(damaged), to(copy);
  const std::string context = fmt::format("repair a copy of event store \"{}\" in \"{}\"", from, to);
  std::error_code ec;
  if (fs::exists(to, ec)) return Status::invalid_argument(fmt::format("{}: \"{}\" exists", context, to));
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) return Status::io_error(fmt::format("{}: cannot copy: {}", context, ec.message()));
  // The marker describes the store before the repair (its log, its high-water mark); the repaired copy
  // is judged by what it holds, as a store from before the marker.
  fs::remove(fs::path(to) / detail::kMarkerFile, ec);
  if (ec) return Status::io_error(fmt::format("{}: cannot remove the copy's marker: {}", context, ec.message()));

  rocksdb::DBOptions db_options = detail::rocks_db_options(options, nullptr);
  db_options.info_log = detail::open_store_info_log(to);
  auto cache = detail::rocks_block_cache(options);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (std::string_view family :
       {std::string_view(rocksdb::kDefaultColumnFamilyName), detail::format::kStreamsFamily,
        detail::format::kEventsFamily, detail::format::kLogFamily, detail::format::kEventIdsFamily,
        detail::format::kSnapshotsFamily, detail::format::kProjectionStateFamily, detail::format::kProjectionRowsFamily,
        detail::format::kProjectionParkedFamily, detail::format::kSubjectKeysFamily})
    families.emplace_back(std::string(family), detail::rocks_family_options(family, options, cache));
  const rocksdb::Status s = rocksdb::RepairDB(to, db_options, families, rocksdb::ColumnFamilyOptions());
  if (!s.ok()) return Status::corruption(fmt::format("{}: {}", context, s.ToString()));
  return {};
}

}  // namespace strata
