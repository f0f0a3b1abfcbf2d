// The metrics of one RocksEventStore (RocksEventStore::Options::metrics), labelled store="<path>":
// counted on the commit path, and read from RocksDB (its properties and statistics) when the metrics
// text is made.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/statistics.h>

#include <array>
#include <memory>
#include <span>
#include <string>

#include "strata/core/event.h"
#include "strata/core/event_store.h"
#include "strata/core/metrics.h"

namespace strata::detail {

class RocksStoreMetrics {
 public:
  RocksStoreMetrics(std::shared_ptr<MetricsRegistry> registry, const std::string& path);
  ~RocksStoreMetrics();
  RocksStoreMetrics(const RocksStoreMetrics&) = delete;
  RocksStoreMetrics& operator=(const RocksStoreMetrics&) = delete;

  // Called by the commit step only (one thread at a time, so the updates need no read-modify-write):
  // an append of `events` was decided with `result`, `seconds` after its call.
  void append_done(const Result<AppendResult>& result, std::span<const EventData> events, double seconds) noexcept;
  // An append was refused before it reached the commit step (its arguments), from any thread.
  void append_refused(StatusCode code) noexcept {
    const auto c = static_cast<std::size_t>(code);
    if (c < errors_.size() && errors_[c] != nullptr) errors_[c]->add();
  }
  // A commit group of `appends` appends was written in `seconds` (fsync included when sync is on).
  void group_written(std::size_t appends, double seconds) noexcept {
    groups_.add_exclusive();
    grouped_appends_.add_exclusive(appends);
    write_seconds_.observe_exclusive(seconds);
  }

  // Starts reading `db` (and `statistics`, when not null) at each scrape; `head` gives the high-water
  // mark and `failed` whether the store is fail-stopped. Call once the database is open; the collector
  // is removed by the destructor.
  void collect_from(rocksdb::DB* db, std::shared_ptr<rocksdb::Statistics> statistics, std::function<double()> head,
                    std::function<bool()> failed);

 private:
  std::shared_ptr<MetricsRegistry> registry_;
  MetricLabels labels_;
  Counter& appends_;
  Counter& events_;
  Counter& bytes_;
  Histogram& commit_seconds_;
  Counter& groups_;
  Counter& grouped_appends_;
  Histogram& write_seconds_;
  std::array<Counter*, 12> errors_{};
  MetricsRegistry::CollectorId collector_ = 0;
};

}  // namespace strata::detail
