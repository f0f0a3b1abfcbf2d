// The cost of metrics on the append path (metrics_overhead): two RocksEventStores opened side by side,
// one with RocksEventStore::Options::metrics and one without, take the same appends in interleaved
// rounds (which store goes first alternates). One event per append and no fsync, the case where the
// per-append work of metrics (two clock reads, a histogram observation, three counter adds) weighs
// most. A third store, also without metrics, measures the method's own noise (metrics_overhead_noise_pct:
// the same comparison between two stores that differ in nothing), and a fourth, with metrics and
// RocksDB's statistics (Options::rocksdb_statistics), what those add. Each round is timed in the appending thread's CPU
// time (a single writer commits its own appends, so that is where the cost is; preemption by other processes is left
// out), and the write buffers are large enough that neither store flushes during the run. The summary is the median
// over rounds of (CPU time with metrics / without - 1), in percent, and the append rate with metrics (wall clock). A
// scrape of the metrics text runs every round, as Prometheus would.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_summary.h"
#include "strata/eventstore/rocks_event_store.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 201;
constexpr int kAppendsPerRound = 1'000;
constexpr int kStreams = 1'000;

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

struct Timing {
  double cpu = 0;
  double wall = 0;
};

Timing run_round(RocksEventStore& store, int round) {
  std::vector<StreamId> streams;
  const std::string payload = R"({"amount":1250,"currency":"EUR","note":"metrics overhead benchmark payload"})";
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (int i = 0; i < kAppendsPerRound; ++i) {
    const auto id = StreamId::parse("acct-" + std::to_string((round * kAppendsPerRound + i) % kStreams)).value();
    EventData e{EventId::generate(), "bench.deposited.v1", payload, {}};
    if (!store.append(id, ExpectedVersion::any(), {e}).ok()) std::abort();
  }
  return {thread_cpu_seconds() - cpu_start, std::chrono::duration<double>(Clock::now() - start).count()};
}

}  // namespace

int main() {
  std::string dir = (std::filesystem::temp_directory_path() / "strata-bench-metrics-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return 1;
  auto metrics = std::make_shared<MetricsRegistry>();
  RocksEventStore::Options plain;
  plain.sync = false;
  plain.write_buffer_bytes = std::size_t{512} << 20;  // no flush during the run
  RocksEventStore::Options metered = plain;
  metered.metrics = metrics;
  RocksEventStore::Options counted = metered;
  counted.rocksdb_statistics = true;
  // Two stores without metrics: the second one measures the method's own noise (an A/A comparison).
  auto without = RocksEventStore::open(plain, dir + "/without").value();
  auto again = RocksEventStore::open(plain, dir + "/again").value();
  auto with = RocksEventStore::open(metered, dir + "/with").value();
  auto with_statistics = RocksEventStore::open(counted, dir + "/statistics").value();
  RocksEventStore* stores[] = {without.get(), with.get(), again.get(), with_statistics.get()};
  for (RocksEventStore* s : stores) run_round(*s, 0);  // warm up
  std::vector<double> overhead, noise, statistics, rate;
  std::size_t scraped = 0;
  for (int round = 1; round <= kRounds; ++round) {
    Timing t[4];
    for (int k = 0; k < 4; ++k) {  // the order rotates every round
      const int which = (k + round) % 4;
      t[which] = run_round(*stores[which], round);
    }
    scraped += metrics->prometheus_text().size();
    overhead.push_back((t[1].cpu / t[0].cpu - 1) * 100);
    noise.push_back((t[2].cpu / t[0].cpu - 1) * 100);
    statistics.push_back((t[3].cpu / t[0].cpu - 1) * 100);
    rate.push_back(kAppendsPerRound / t[1].wall);
    if (getenv("VERBOSE") != nullptr)
      std::printf("round %3d: CPU without %.4f s, with %.4f s, again without %.4f s, with statistics %.4f s\n", round,
                  t[0].cpu, t[1].cpu, t[2].cpu, t[3].cpu);
  }
  std::printf("(%zu bytes of metrics text scraped; VERBOSE=1 prints every round)\n", scraped);
  with.reset();
  without.reset();
  again.reset();
  with_statistics.reset();
  std::filesystem::remove_all(dir);
  strata::bench::print_summary("metrics_overhead_pct", strata::bench::median(overhead), "%");
  strata::bench::print_summary("metrics_overhead_noise_pct", strata::bench::median(noise), "%");
  strata::bench::print_summary("metrics_with_rocksdb_statistics_overhead_pct", strata::bench::median(statistics), "%");
  strata::bench::print_summary("metrics_append_events_per_s", strata::bench::median(rate), "events/s");
  return 0;
}
