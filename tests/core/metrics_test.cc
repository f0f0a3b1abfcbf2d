// Metrics and their Prometheus text: what is registered is what is exposed, in a text a strict parser
// of the format accepts; and the parser refuses what the format does not allow.
#include "strata/core/metrics.h"

#include <doctest/doctest.h>

#include <stdexcept>
#include <thread>
#include <vector>

#include "prometheus_text.h"

namespace {

using strata::testing::parse_prometheus;

TEST_CASE("counters, gauges and histograms are exposed as registered, in text a strict parser accepts") {
  strata::MetricsRegistry registry;
  strata::Counter& appends = registry.counter("strata_test_appends_total", "Appends.", {{"store", "/a"}});
  appends.add(3);
  CHECK(&registry.counter("strata_test_appends_total", "Appends.", {{"store", "/a"}}) == &appends);
  registry.counter("strata_test_appends_total", "Appends.", {{"store", "/b"}}).add();
  registry.gauge("strata_test_lag_seconds", "Lag.\nIn seconds, with a \\ in it.").set(1.5);
  strata::Histogram& h = registry.histogram("strata_test_latency_seconds", "Latency.", {0.001, 0.01, 0.1},
                                            {{"op", "append"}, {"store", "/a"}});
  for (double v : {0.0005, 0.001, 0.002, 0.05, 3.0}) h.observe(v);
  registry.gauge("strata_test_odd_labels", "Labels to escape.", {{"path", "C:\\x \"q\"\nline"}}).set(-2);

  const std::string text = registry.prometheus_text();
  const auto e = parse_prometheus(text);
  REQUIRE_MESSAGE(e.error.empty(), e.error, "\n", text);
  CHECK(e.types.at("strata_test_appends_total") == "counter");
  CHECK(e.types.at("strata_test_latency_seconds") == "histogram");
  CHECK(e.value("strata_test_appends_total", {{"store", "/a"}}) == 3);
  CHECK(e.value("strata_test_appends_total", {{"store", "/b"}}) == 1);
  CHECK(e.value("strata_test_lag_seconds") == 1.5);
  CHECK(e.help.at("strata_test_lag_seconds") == "Lag.\nIn seconds, with a \\ in it.");
  CHECK(e.value("strata_test_odd_labels", {{"path", "C:\\x \"q\"\nline"}}) == -2);
  const std::vector<std::pair<std::string, std::string>> series{{"op", "append"}, {"store", "/a"}};
  auto bucket = [&](const char* le) {
    auto labels = series;
    labels.emplace_back("le", le);
    return e.value("strata_test_latency_seconds_bucket", labels);
  };
  CHECK(bucket("0.001") == 2);
  CHECK(bucket("0.01") == 3);
  CHECK(bucket("0.1") == 4);
  CHECK(bucket("+Inf") == 5);
  CHECK(e.value("strata_test_latency_seconds_count", series) == 5);
  CHECK(e.value("strata_test_latency_seconds_sum", series).value() == doctest::Approx(3.0535));
  // Families in name order, each once.
  CHECK(text.find("# TYPE strata_test_appends_total counter\nstrata_test_appends_total{store=\"/a\"} 3\n"
                  "strata_test_appends_total{store=\"/b\"} 1\n") != std::string::npos);
}

TEST_CASE("collectors add values read when the text is made, and are removed") {
  strata::MetricsRegistry registry;
  registry.gauge("strata_test_head", "Head.", {{"store", "/a"}}).set(7);
  double lag = 4;
  const auto id = registry.add_collector([&](strata::MetricsWriter& w) {
    w.gauge("strata_test_head", "Head.", {{"store", "/b"}}, 9);
    w.gauge("strata_test_projector_lag_events", "Lag.", {{"projection", "p"}}, lag);
    w.counter("strata_test_projector_applied_total", "Applied.", {{"projection", "p"}}, 12);
    w.gauge("bad name", "Ignored.", {}, 1);
  });
  auto e = parse_prometheus(registry.prometheus_text());
  REQUIRE_MESSAGE(e.error.empty(), e.error);
  CHECK(e.value("strata_test_head", {{"store", "/a"}}) == 7);
  CHECK(e.value("strata_test_head", {{"store", "/b"}}) == 9);
  CHECK(e.value("strata_test_projector_lag_events", {{"projection", "p"}}) == 4);
  lag = 1;
  CHECK(parse_prometheus(registry.prometheus_text()).value("strata_test_projector_lag_events", {{"projection", "p"}}) ==
        1);
  registry.remove_collector(id);
  e = parse_prometheus(registry.prometheus_text());
  CHECK(e.error.empty());
  CHECK_FALSE(e.value("strata_test_projector_lag_events", {{"projection", "p"}}).has_value());
}

TEST_CASE("bad names, repeated labels and a second type for a name are refused") {
  strata::MetricsRegistry registry;
  CHECK_THROWS_AS(registry.counter("9lives", "x"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("ok_total", "x", {{"bad-label", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("ok_total", "x", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h", "x", {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h", "x", {1, 2}, {{"le", "1"}}), std::invalid_argument);
  registry.counter("ok_total", "x");
  CHECK_THROWS_AS(registry.gauge("ok_total", "x"), std::logic_error);
  CHECK(parse_prometheus(registry.prometheus_text()).error.empty());
}

TEST_CASE("updates from many threads are all counted") {
  strata::MetricsRegistry registry;
  strata::Counter& c = registry.counter("strata_test_total", "x");
  strata::Histogram& h = registry.histogram("strata_test_seconds", "x", strata::latency_buckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        c.add();
        h.observe(0.001);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(c.value() == 80'000);
  CHECK(h.snapshot().count == 80'000);
  CHECK(parse_prometheus(registry.prometheus_text()).value("strata_test_seconds_count") == 80'000);
}

TEST_CASE("the parser refuses what the format does not allow") {
  for (const char* bad : {
           "a 1",                                        // no final newline
           "a{b=\"1\" 1\n",                              // labels not closed
           "a{b=1} 1\n",                                 // unquoted label value
           "a{b=\"\\x\"} 1\n",                           // a bad escape
           "a{b=\"1\",b=\"2\"} 1\n",                     // a label twice
           "a one\n",                                    // a bad value
           "a 1\na 2\n",                                 // a series twice
           "a 1\nb 1\na{x=\"1\"} 1\n",                   // a family's samples apart
           "a 1\n# TYPE a counter\n",                    // TYPE after samples
           "# TYPE a counter\n# TYPE a counter\na 1\n",  // two TYPE lines
           "# TYPE a widget\na 1\n",                     // an unknown type
           "# TYPE a counter\na -1\n",                   // a negative counter
           "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
           "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",     // no +Inf bucket
           "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  // +Inf differs from count
           "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",           // no _sum
           "# TYPE h histogram\nh 1\n",                                          // a bare histogram sample
           "9a 1\n",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_prometheus(bad).error.empty());
  }
  CHECK(
      parse_prometheus("# HELP a Some help.\n# TYPE a gauge\na{b=\"x\\\"y\\n\"} -Inf 1700000000000\n# just a comment\n")
          .error.empty());
}

}  // namespace
