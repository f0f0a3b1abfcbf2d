// The RocksDB options RocksEventStore opens its database with, derived from RocksEventStore::Options.
// The raw baselines in bench/ use the same functions, so that their ratios measure the store, not the
// tuning.
//
//   rocksdb::DBOptions db = strata::detail::rocks_db_options(options, /*env=*/nullptr);
//   auto log = strata::detail::rocks_family_options("log", options, strata::detail::rocks_block_cache(options));
//
// Thread safety: functions of their arguments only.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/options.h>

#include <memory>
#include <string_view>

#include "strata/eventstore/rocks_event_store.h"

namespace strata::detail {

// Database-wide options. `env` (may be null: the default Env) must outlive the database.
rocksdb::DBOptions rocks_db_options(const RocksEventStore::Options& options, rocksdb::Env* env);

// Options of the column family `family` (a name from format.h; any other name gets those of the log).
rocksdb::ColumnFamilyOptions rocks_family_options(std::string_view family, const RocksEventStore::Options& options,
                                                  const std::shared_ptr<rocksdb::Cache>& block_cache);

// The block cache of RocksEventStore::Options::block_cache_bytes.
std::shared_ptr<rocksdb::Cache> rocks_block_cache(const RocksEventStore::Options& options);

}  // namespace strata::detail
