// Headline figures for bench/run.sh. A benchmark binary runs its benchmarks through a SummaryReporter
// (the console output is unchanged), then prints its headline figures as lines
//
//   summary: <name> <value> <unit>
//
// which run.sh collects from every bench_* binary into its final summary block.
//
//   strata::bench::SummaryReporter reporter;
//   benchmark::RunSpecifiedBenchmarks(&reporter);
//   strata::bench::print_summary("append_batch100_vs_raw", strata / raw, "ratio");
//
// Thread safety: the reporter is called by Google Benchmark from its main thread only.
#pragma once

#include <benchmark/benchmark.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace strata::bench {

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal, so that logs and run.sh's collection of summary lines stay plain.
  SummaryReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs)
      if (!run.error_occurred && run.run_type == Run::RT_Iteration)
        counters_[run.run_name.function_name] = run.counters;
  }

  // The value of counter `counter` (after Google Benchmark turned rates into per-second figures) of the
  // benchmark registered as `benchmark`; NaN when it did not run (filtered out, or failed).
  double counter(const std::string& benchmark, const std::string& counter) const {
    auto b = counters_.find(benchmark);
    if (b == counters_.end()) return std::nan("");
    auto c = b->second.find(counter);
    return c == b->second.end() ? std::nan("") : static_cast<double>(c->second);
  }

 private:
  std::map<std::string, benchmark::UserCounters> counters_;
};

// Prints one headline line; nothing when `value` is NaN (its benchmarks did not run).
inline void print_summary(std::string_view name, double value, std::string_view unit) {
  if (std::isnan(value)) return;
  const int precision = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  std::printf("summary: %.*s %.*f %.*s\n", static_cast<int>(name.size()), name.data(), precision, value,
              static_cast<int>(unit.size()), unit.data());
  std::fflush(stdout);
}

// The median of the values that are not NaN; NaN when there are none. Headline ratios are medians of
// per-round ratios: the machines are shared, and one round can measure the neighbours.
inline double median(std::vector<double> v) {
  std::erase_if(v, [](double x) { return std::isnan(x); });
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// A fresh directory under the system's temporary directory, removed with everything in it on
// destruction. Benchmarks remove only what they made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "strata-bench") {
    std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(std::string_view name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

// Runs this benchmark binary again as a fresh process with `args` (argv[1...]) and returns what it
// wrote to standard output; std::nullopt when it could not run or did not exit with 0. Peak memory is
// measured this way, in a process that did nothing else.
inline std::optional<std::string> run_self(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> owned{self};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return std::nullopt;
  }
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

// This process's resident set now, in MiB (NaN if /proc cannot tell).
inline double current_rss_mb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return std::nan("");
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return std::nan("");
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// This process's peak resident set so far, in MiB (NaN if /proc cannot tell). From VmHWM, the peak of
// the process's own memory: getrusage's ru_maxrss survives exec, so a process spawned by a large one
// would report its parent's peak.
inline double peak_rss_mb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return std::nan("");
  char line[256];
  double kib = std::nan("");
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmHWM: %lf kB", &kib) == 1) break;
  std::fclose(f);
  return kib / 1024.0;
}

// Memory measured in a fresh process (run_self): the child calls report_memory() once its work is done,
// the parent gets what it reported from measure_memory(). `reached` is what the child got to (a version,
// a position), which the parent checks, so that a child that did less is not measured as frugal.
struct Memory {
  double after_open_mb = std::nan("");  // peak RSS once the store was open
  double peak_mb = std::nan("");        // peak RSS at the end
  double end_mb = std::nan("");         // RSS at the end
};

inline void report_memory(double after_open_mb, unsigned long long reached) {
  std::printf("%f %f %f %llu\n", after_open_mb, peak_rss_mb(), current_rss_mb(), reached);
}

// All NaN when the child failed or did not reach `expected`.
inline Memory measure_memory(const std::vector<std::string>& args, unsigned long long expected) {
  auto out = run_self(args);
  Memory m;
  unsigned long long reached = 0;
  if (!out ||
      std::sscanf(out->c_str(), "%lf %lf %lf %llu", &m.after_open_mb, &m.peak_mb, &m.end_mb, &reached) != 4 ||
      reached != expected)
    return {};
  return m;
}

}  // namespace strata::bench
