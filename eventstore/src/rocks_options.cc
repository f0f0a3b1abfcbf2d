#include "rocks_options.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>

#include <algorithm>

#include "format.h"
#include "point_lookup_memtable.h"

namespace strata::detail {

rocksdb::DBOptions rocks_db_options(const RocksEventStore::Options& options, rocksdb::Env* env) {
  rocksdb::DBOptions db;
  if (env != nullptr) db.env = env;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = true;
  // A crash can leave a torn record at the end of the write-ahead log; that record was never
  // acknowledged (its Write had not returned), so dropping it is right. Anything else is corruption.
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Each of these would weaken what an acknowledgement means, or what recovery can tell apart:
  // recycled WAL files make a torn tail look like old records; unordered writes make a later batch
  // visible before an earlier one; a manual WAL flush acknowledges before the bytes reach the file.
  db.recycle_log_file_num = 0;
  db.unordered_write = false;
  db.manual_wal_flush = false;
  db.enable_pipelined_write = false;
  // The event-id family's memtable (point_lookup_memtable.h) takes inserts from one thread, and the
  // store's commit step is a single writer anyway.
  db.allow_concurrent_memtable_write = false;
  db.enable_write_thread_adaptive_yield = false;
  db.paranoid_checks = true;
  // The MANIFEST records each closed write-ahead log with its synced size, and the open refuses a
  // store whose older log is missing or shorter: replaying past a hole in an older log would recover
  // families to states that disagree (a family flushed past the hole keeps what the others lose).
  db.track_and_verify_wals_in_manifest = true;
  // The write-ahead log can be deleted only when every family with data in it has flushed; the
  // small families (streams, snapshots) fill slowly, so cap the log and let RocksDB flush them.
  // This also bounds the log replayed when opening after a crash.
  db.max_total_wal_size = std::uint64_t{512} << 20;
  // Smooths table-file writeback instead of leaving it all to the final fsync of each file.
  db.bytes_per_sync = std::uint64_t{1} << 20;
  db.max_background_jobs = 2;
  db.keep_log_file_num = 5;
  db.max_log_file_size = std::size_t{16} << 20;
  if (options.metrics != nullptr && options.rocksdb_statistics) {
    // Tickers only (block-cache hits, stall time): histograms and timers cost on every read and write.
    db.statistics = rocksdb::CreateDBStatistics();
    db.statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  }
  return db;
}

std::shared_ptr<rocksdb::Cache> rocks_block_cache(const RocksEventStore::Options& options) {
  return rocksdb::NewLRUCache(options.block_cache_bytes);
}

rocksdb::ColumnFamilyOptions rocks_family_options(std::string_view family, const RocksEventStore::Options& options,
                                                  const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_bytes;
  // One buffer being flushed, one being filled, one spare so that a burst does not stall appends.
  cf.max_write_buffer_number = 3;
  cf.level_compaction_dynamic_level_bytes = true;
  switch (options.compression) {
    case RocksEventStore::Compression::kNone:
      cf.compression = rocksdb::kNoCompression;
      break;
    case RocksEventStore::Compression::kLZ4:
      cf.compression = rocksdb::kLZ4Compression;
      break;
    case RocksEventStore::Compression::kZstd:
      cf.compression = rocksdb::kZSTD;
      break;
  }

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  // Index and filter blocks live in the block cache, partitioned, so that the memory of a store is
  // bounded by its cache however long its history: held by each open table file instead, they grow
  // with the data (about 12 MB of event-id filters per 10M events alone). The top-level index and the
  // blocks of the newest files stay pinned, so lookups rarely wait for them.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  // Bloom filters pay off where lookups are point Gets that often miss: stream names, the copies of
  // streams' newest snapshots (most streams have none), and above all event ids (every appended id is
  // looked up first, and is almost never there). The log and the events family are read by Seek over
  // dense keys, where a filter would only cost memory.
  const bool point_lookups = family == format::kStreamsFamily || family == format::kEventIdsFamily ||
                             family == format::kSubjectKeysFamily || family == format::kSnapshotsFamily;
  if (point_lookups) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  if (family == format::kProjectionRowsFamily) {
    cf.write_buffer_size = std::min<std::size_t>(options.write_buffer_bytes, std::size_t{4} << 20);
  }
  if (family == format::kEventIdsFamily) {
    // Random 16-byte keys: a skip list costs O(log n) cache misses per insert; this memtable inserts
    // in O(1) and sorts once at flush (see point_lookup_memtable.h for the figures). Random bytes do
    // not compress.
    cf.memtable_factory = std::make_shared<PointLookupMemTableFactory>();
    cf.compression = rocksdb::kNoCompression;
  }
  return cf;
}

}  // namespace strata::detail
