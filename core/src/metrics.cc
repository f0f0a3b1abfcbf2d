#include "strata/core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace strata {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[at].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::observe_exclusive(double v) noexcept {
  const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[at].store(buckets_[at].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sum_.store(sum_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  // The buckets are the truth: count and sum are read apart from them, so a scrape racing an
  // observation could otherwise show a count different from the +Inf bucket.
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  std::vector<double> bounds;
  double b = start;
  for (std::size_t i = 0; i < count; ++i, b *= factor) bounds.push_back(b);
  return bounds;
}

std::vector<double> latency_buckets() { return exponential_buckets(50e-6, 2, 19); }

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) noexcept {
  return is_valid_metric_name(name) && name.find(':') == std::string_view::npos && !name.starts_with("__");
}

namespace {

enum class Kind { kCounter, kGauge, kHistogram };

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Sorted by name, so that equal label sets compare equal whatever order they were given in.
MetricLabels normalized(const MetricLabels& labels) {
  for (const auto& [name, value] : labels)
    if (!is_valid_label_name(name)) throw std::invalid_argument(fmt::format("invalid metric label name \"{}\"", name));
  MetricLabels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].first == sorted[i - 1].first)
      throw std::invalid_argument(fmt::format("metric label \"{}\" given twice", sorted[i].first));
  return sorted;
}

// Help text: backslash and newline escaped. Label values: also the double quote.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string label_text(const MetricLabels& labels, std::string_view extra_name = {}, std::string_view extra = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{}=\"{}\"", name, escape(value, true));
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += fmt::format("{}=\"{}\"", extra_name, extra);
  }
  return out + "}";
}

}  // namespace

struct MetricsRegistry::Family {
  Kind kind;
  std::string help;
  std::vector<double> bounds;  // histograms
  std::map<MetricLabels, std::unique_ptr<Counter>> counters;
  std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
  std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
};

struct MetricsRegistry::Impl {
  mutable std::mutex mu;
  std::map<std::string, Family, std::less<>> families;
  std::map<CollectorId, std::function<void(MetricsWriter&)>> collectors;
  CollectorId next_collector = 1;

  Family& family(std::string_view name, std::string_view help, Kind kind) {
    if (!is_valid_metric_name(name)) throw std::invalid_argument(fmt::format("invalid metric name \"{}\"", name));
    auto it = families.find(name);
    if (it == families.end())
      it = families.emplace(std::string(name), Family{kind, std::string(help), {}, {}, {}, {}}).first;
    if (it->second.kind != kind)
      throw std::logic_error(
          fmt::format("metric \"{}\" is a {}, not a {}", name, kind_name(it->second.kind), kind_name(kind)));
    return it->second;
  }
};

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  MetricLabels key = normalized(labels);
  std::lock_guard lock(impl_->mu);
  auto& slot = impl_->family(name, help, Kind::kCounter).counters[std::move(key)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  MetricLabels key = normalized(labels);
  std::lock_guard lock(impl_->mu);
  auto& slot = impl_->family(name, help, Kind::kGauge).gauges[std::move(key)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                                      const MetricLabels& labels) {
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
      throw std::invalid_argument(fmt::format("histogram \"{}\": bounds must be finite and increasing", name));
  MetricLabels key = normalized(labels);
  for (const auto& [label, value] : key)
    if (label == "le") throw std::invalid_argument(fmt::format("histogram \"{}\": \"le\" is its bucket label", name));
  std::lock_guard lock(impl_->mu);
  Family& family = impl_->family(name, help, Kind::kHistogram);
  if (family.histograms.empty() && family.bounds.empty()) family.bounds = bounds;
  auto& slot = family.histograms[std::move(key)];
  if (!slot) slot = std::make_unique<Histogram>(family.bounds);
  return *slot;
}

MetricsRegistry::CollectorId MetricsRegistry::add_collector(std::function<void(MetricsWriter&)> collect) {
  std::lock_guard lock(impl_->mu);
  const CollectorId id = impl_->next_collector++;
  impl_->collectors.emplace(id, std::move(collect));
  return id;
}

void MetricsRegistry::remove_collector(CollectorId id) {
  std::lock_guard lock(impl_->mu);
  impl_->collectors.erase(id);
}

namespace {

// Collected samples, grouped by name like the registry's own.
struct Collected {
  Kind kind;
  std::string help;
  std::vector<std::pair<MetricLabels, double>> samples;
};

class CollectingWriter final : public MetricsWriter {
 public:
  std::map<std::string, Collected, std::less<>> families;

  void counter(std::string_view name, std::string_view help, const MetricLabels& labels, double value) override {
    add(name, help, labels, value, Kind::kCounter);
  }
  void gauge(std::string_view name, std::string_view help, const MetricLabels& labels, double value) override {
    add(name, help, labels, value, Kind::kGauge);
  }

 private:
  void add(std::string_view name, std::string_view help, const MetricLabels& labels, double value, Kind kind) {
    if (!is_valid_metric_name(name)) return;  // a collector's mistake never breaks the exposition
    MetricLabels key;
    for (const auto& label : labels)
      if (is_valid_label_name(label.first)) key.push_back(label);
    std::sort(key.begin(), key.end());
    auto it = families.find(name);
    if (it == families.end()) it = families.emplace(std::string(name), Collected{kind, std::string(help), {}}).first;
    if (it->second.kind != kind) return;
    it->second.samples.emplace_back(std::move(key), value);
  }
};

void header(std::string& out, std::string_view name, std::string_view help, Kind kind) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(help, false), name, kind_name(kind));
}

}  // namespace

std::string MetricsRegistry::prometheus_text() const {
  std::lock_guard lock(impl_->mu);
  CollectingWriter collected;
  for (const auto& [id, collect] : impl_->collectors) collect(collected);
  std::string out;
  auto own = impl_->families.begin();
  auto other = collected.families.begin();
  // Both maps in name order, merged; a name both have is written once, with the registry's type.
  while (own != impl_->families.end() || other != collected.families.end()) {
    const bool take_own =
        other == collected.families.end() || (own != impl_->families.end() && own->first <= other->first);
    const std::string_view name = take_own ? std::string_view(own->first) : std::string_view(other->first);
    const Collected* extra = nullptr;
    if (other != collected.families.end() && other->first == name) extra = &other->second;
    if (take_own) {
      const Family& f = own->second;
      header(out, name, f.help, f.kind);
      for (const auto& [labels, c] : f.counters) out += fmt::format("{}{} {}\n", name, label_text(labels), c->value());
      for (const auto& [labels, g] : f.gauges)
        out += fmt::format("{}{} {}\n", name, label_text(labels), format_value(g->value()));
      for (const auto& [labels, h] : f.histograms) {
        const Histogram::Snapshot s = h->snapshot();
        for (std::size_t i = 0; i < s.bounds.size(); ++i)
          out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, "le", format_value(s.bounds[i])),
                             s.cumulative[i]);
        out += fmt::format("{}_bucket{} {}\n", name, label_text(labels, "le", "+Inf"), s.count);
        out += fmt::format("{}_sum{} {}\n", name, label_text(labels), format_value(s.sum));
        out += fmt::format("{}_count{} {}\n", name, label_text(labels), s.count);
      }
      if (extra != nullptr && extra->kind == f.kind && f.kind != Kind::kHistogram)
        for (const auto& [labels, value] : extra->samples)
          out += fmt::format("{}{} {}\n", name, label_text(labels), format_value(value));
      ++own;
      if (extra != nullptr) ++other;
    } else {
      header(out, name, other->second.help, other->second.kind);
      for (const auto& [labels, value] : other->second.samples)
        out += fmt::format("{}{} {}\n", name, label_text(labels), format_value(value));
      ++other;
    }
  }
  return out;
}

}  // namespace strata
