#include "rocks_metrics.h"

#include <string_view>

namespace strata::detail {

RocksStoreMetrics::RocksStoreMetrics(std::shared_ptr<MetricsRegistry> registry, const std::string& path)
    : registry_(std::move(registry)),
      labels_{{"store", path}},
      appends_(registry_->counter("strata_store_appends_total", "Appends acknowledged (idempotent retries included).",
                                  labels_)),
      events_(registry_->counter("strata_store_appended_events_total", "Events in acknowledged appends.", labels_)),
      bytes_(
          registry_->counter("strata_store_appended_bytes_total", "Payload bytes in acknowledged appends.", labels_)),
      commit_seconds_(registry_->histogram("strata_store_commit_seconds",
                                           "From an append's call to its acknowledgement, in seconds.",
                                           latency_buckets(), labels_)),
      groups_(registry_->counter("strata_store_commit_groups_total",
                                 "Commit groups written (group commit: appends that arrive together share one write).",
                                 labels_)),
      grouped_appends_(registry_->counter("strata_store_commit_group_appends_total",
                                          "Appends in the commit groups written; divided by the groups, the mean "
                                          "group size.",
                                          labels_)),
      write_seconds_(registry_->histogram("strata_store_write_seconds",
                                          "One commit group's RocksDB write, fsync included when sync is on, in "
                                          "seconds.",
                                          latency_buckets(), labels_)) {
  for (std::size_t code = 1; code < errors_.size(); ++code) {
    MetricLabels labels = labels_;
    labels.emplace_back("code", std::string(status_code_name(static_cast<StatusCode>(code))));
    errors_[code] =
        &registry_->counter("strata_store_append_errors_total",
                            "Appends refused or failed, by status code (wrong expected version, ...).", labels);
  }
}

RocksStoreMetrics::~RocksStoreMetrics() {
  if (collector_ != 0) registry_->remove_collector(collector_);
}

void RocksStoreMetrics::append_done(const Result<AppendResult>& result, std::span<const EventData> events,
                                    double seconds) noexcept {
  if (!result.ok()) {
    const auto code = static_cast<std::size_t>(result.status().code());
    if (code < errors_.size() && errors_[code] != nullptr) errors_[code]->add();
    return;
  }
  std::size_t bytes = 0;
  for (const EventData& e : events) bytes += e.payload.size();
  appends_.add_exclusive();
  events_.add_exclusive(events.size());
  bytes_.add_exclusive(bytes);
  commit_seconds_.observe_exclusive(seconds);
}

void RocksStoreMetrics::collect_from(rocksdb::DB* db, std::shared_ptr<rocksdb::Statistics> statistics,
                                     std::function<double()> head, std::function<bool()> failed) {
  collector_ = registry_->add_collector([db, statistics, head, failed, labels = labels_](MetricsWriter& w) {
    auto property = [db](const std::string& name) {
      std::uint64_t value = 0;
      (void)db->GetAggregatedIntProperty(name, &value);
      return static_cast<double>(value);
    };
    w.gauge("strata_store_head_position", "The store's committed high-water mark (the last log position).", labels,
            head());
    w.gauge("strata_store_failed", "1 when the store refuses writes after a failed one (fail-stop) until reopened.",
            labels, failed() ? 1 : 0);
    w.gauge("strata_store_pending_compaction_bytes", "Bytes RocksDB estimates its compactions must still rewrite.",
            labels, property(rocksdb::DB::Properties::kEstimatePendingCompactionBytes));
    std::uint64_t stopped = 0, delayed = 0;
    (void)db->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &stopped);
    (void)db->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &delayed);
    w.gauge("strata_store_write_stalled", "1 while RocksDB slows or stops writes to let compaction catch up.", labels,
            stopped != 0 || delayed != 0 ? 1 : 0);
    w.gauge("strata_store_table_bytes", "Bytes of the store's table files.", labels,
            property(rocksdb::DB::Properties::kTotalSstFilesSize));
    w.gauge("strata_store_memtable_bytes", "Bytes of the store's write buffers in memory.", labels,
            property(rocksdb::DB::Properties::kCurSizeAllMemTables));
    if (statistics != nullptr) {  // Options::rocksdb_statistics
      w.counter("strata_store_block_cache_hits_total", "Block reads the block cache answered.", labels,
                static_cast<double>(statistics->getTickerCount(rocksdb::BLOCK_CACHE_HIT)));
      w.counter("strata_store_block_cache_misses_total", "Block reads that went to a table file.", labels,
                static_cast<double>(statistics->getTickerCount(rocksdb::BLOCK_CACHE_MISS)));
      w.counter("strata_store_write_stall_seconds_total", "Time appends waited on RocksDB's write stalls, in seconds.",
                labels, static_cast<double>(statistics->getTickerCount(rocksdb::STALL_MICROS)) / 1e6);
    }
  });
}

}  // namespace strata::detail
