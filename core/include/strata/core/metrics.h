// Metrics: counters, gauges and histograms that strata's components update as they work, and an
// exposition of all of them in the Prometheus text format (version 0.0.4), for /metrics.
//
//   auto metrics = std::make_shared<strata::MetricsRegistry>();
//   options.metrics = metrics;                                   // RocksEventStore::Options, ...
//   strata::Counter& done = metrics->counter("shop_orders_total", "Orders placed.", {{"shop", "eu"}});
//   done.add();
//   std::string body = metrics->prometheus_text();              // # HELP ... # TYPE ... samples
//
// Updating a metric is a relaxed atomic add (a histogram: a bucket search and three adds); nothing is
// allocated or locked. Values that already live elsewhere (a projector's lag, RocksDB's properties) are
// read when the text is made, by collectors.
//
// Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*; label values
// and help texts are any UTF-8, escaped on output. strata's own metrics all start with "strata_".
//
// Thread safety: every method may be called from any thread. Metrics live as long as their registry.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata {

// name=value pairs, e.g. {{"store", "/data/bank"}}. Their order does not matter.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A count that only goes up.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  // The same where one thread at a time adds (threads that take turns under a lock, like a store's
  // commit step): a plain load and store, no read-modify-write. Readers still see whole values.
  void add_exclusive(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in buckets by upper bound (an observation v falls in the first bucket whose
// bound is >= v; beyond the last bound, in +Inf), with their count and sum.
class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing, finite.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double v) noexcept;
  // The same where one thread at a time observes (see Counter::add_exclusive).
  void observe_exclusive(double v) noexcept;

  struct Snapshot {
    std::vector<double> bounds;
    // Observations <= each bound, cumulative; then the total (the +Inf bucket).
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// `count` bounds: start, start * factor, start * factor^2, ...
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

// Latencies in seconds: 50 µs to about 13 s, doubling.
std::vector<double> latency_buckets();

// What a collector adds when the text is made.
class MetricsWriter {
 public:
  virtual ~MetricsWriter() = default;
  virtual void counter(std::string_view name, std::string_view help, const MetricLabels& labels, double value) = 0;
  virtual void gauge(std::string_view name, std::string_view help, const MetricLabels& labels, double value) = 0;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The metric `name` with `labels`, made on first use; later calls with the same name and labels return
  // the same one. REQUIRES: a valid name and label names (std::invalid_argument otherwise), and one type
  // per name (std::logic_error otherwise); a histogram's bounds are those of its first registration.
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                       const MetricLabels& labels = {});

  // Adds a collector, called (under the registry's lock: it must not call back into the registry)
  // each time the text is made; returns its id for remove_collector. A component that goes away
  // removes its collector first.
  using CollectorId = std::uint64_t;
  CollectorId add_collector(std::function<void(MetricsWriter&)> collect);
  void remove_collector(CollectorId id);

  // Every metric and collected sample in the Prometheus text format 0.0.4: per metric name one
  // "# HELP" and one "# TYPE" line, then its samples; names in byte order.
  std::string prometheus_text() const;

  // The Content-Type of prometheus_text().
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `name` is a valid metric name, and `name` a valid label name.
bool is_valid_metric_name(std::string_view name) noexcept;
bool is_valid_label_name(std::string_view name) noexcept;

}  // namespace strata
