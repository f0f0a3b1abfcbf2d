// The modes of the `streaming` program (main.cc parses the command line), each returning its exit
// status: 0 when every deal ended as it must, 1 when one did not, 2 for an error.
//
//   streaming in-process [--data DIR] [--trace CORRELATION_ID]    in_process.cc
//   streaming contracts|payments|catalog DIR URLS PREFIX [CHAOS]   over_jetstream.cc
//   streaming report DIR                                           report.cc
//   streaming trace DIR CORRELATION_ID                             report.cc
//   streaming audit DIR [--deals N --seed S]                       audit.cc
// CHAOS: --chaos DEALS [--seed S] [--rate DEALS_PER_SECOND]
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "streaming/chaos.h"

namespace streaming {

struct InProcessOptions {
  // RocksDB stores in DIR/<service> (a new directory) instead of memory: `streaming report DIR` and
  // `streaming trace DIR ID` read them afterwards.
  std::optional<std::filesystem::path> data;
  // The business transaction traced at the end.
  std::string trace = "deal-glass";
};

// The three services in this process, each with its own store, over one in-process broker; the four
// deals one after another, each followed by its timeline, the read models and its verdict.
int run_in_process(const InProcessOptions& options);

// One service in this process, on its durable store in DIR/<service>, over the NATS JetStream servers
// URLS (comma-separated), on subjects "PREFIX.>". It runs until SIGTERM or SIGINT. The contracts
// service also drives the four deals, one after another, each to its end. Files in DIR, for a script
// that runs the three: <service>.ready once it runs, <service>.head (its store's head position, every
// 200 ms), contracts.done once every deal has ended.
// With `chaos`, the chaos run instead: catalog adds the chaos catalogue, payments scripts its provider
// with the plan's behaviours, and contracts opens the plan's deals at `rate` a second and writes
// contracts.done once every saga has ended; payments writes DIR/payments.status, "pending <n>", every
// second.
struct ChaosRun {
  ChaosOptions plan;
  double rate = 50;
};
int run_service(std::string_view service, const std::filesystem::path& dir, const std::string& urls,
                const std::string& prefix, const std::optional<ChaosRun>& chaos);

// After the services stopped: every deal's timeline and verdict, and the read models, from the stores in
// DIR.
int run_report(const std::filesystem::path& dir);

// After the services stopped: the trace of one business transaction from the stores in DIR.
int run_trace(const std::filesystem::path& dir, std::string_view correlation_id);

// After the services stopped: the auditor's table from the stores in DIR (audit_stores), with the chaos
// plan's deals when given. 0 without violations, 1 with some (listed by contract), 2 for an error.
int run_audit(const std::filesystem::path& dir, const std::optional<ChaosOptions>& plan);

}  // namespace streaming
