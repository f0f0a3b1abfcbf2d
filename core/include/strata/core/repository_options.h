// RepositoryOptions: how a Repository uses snapshots: whether and when it writes them, how many it
// keeps, and where it reports trouble.
//
//   strata::RepositoryOptions options;
//   options.snapshots = strata::SnapshotPolicy::every(1000);          // keep the last 3 by default
//   options.on_snapshot_incident = [](const strata::SnapshotIncident& i) { log(i.status.to_string()); };
//   strata::Repository<Account> accounts(store, options);
//
// Thread safety: plain values; SnapshotStats may be read from any thread while the repository works.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "strata/core/metrics.h"
#include "strata/core/position.h"
#include "strata/core/status.h"

namespace strata {

class SnapshotStore;

// When a repository reads and writes snapshots. Snapshots are a cache: every policy loads the same state.
struct SnapshotPolicy {
  // Write a snapshot whenever a save moves the aggregate across a multiple of this many events, and
  // replace one found damaged on load (0 = only on demand: Repository::snapshot() writes, nothing
  // else does).
  std::uint64_t every_events = 0;
  // Keep this many newest snapshots per stream and schema; older ones are deleted after each write
  // (0 = keep all).
  std::size_t keep_last = 3;
  // false: the repository neither reads nor writes snapshots; every load replays the whole stream.
  bool enabled = true;

  // Snapshots every `events` events, keeping the newest `keep_last`.
  static SnapshotPolicy every(std::uint64_t events, std::size_t keep_last = 3) { return {events, keep_last, true}; }
  // Snapshots are read on load but written only by Repository::snapshot() (the default).
  static SnapshotPolicy on_demand(std::size_t keep_last = 3) { return {0, keep_last, true}; }
  // No snapshots at all, whatever the store keeps.
  static SnapshotPolicy never() { return {0, 0, false}; }
};

// Why a snapshot was not used, or not written. Never renumber: tools print the numbers.
enum class SnapshotProblem : std::uint8_t {
  kWriteFailed = 0,          // the store refused the write; loading still works, from events
  kFingerprintMismatch = 1,  // a store returned a snapshot of another schema than asked for
  kCorrupt = 2,              // checksum or framing failed, or the store could not read it
  kUndecodable = 3,          // the payload did not decode into the state
};

struct SnapshotIncident {
  SnapshotProblem problem;
  std::string stream;
  Version version = 0;  // of the snapshot concerned, when known
  Status status;        // what happened, for the log
};

// Counters, readable while the repository works.
struct SnapshotStats {
  std::atomic<std::uint64_t> loaded{0};  // loads that started from a snapshot
  std::atomic<std::uint64_t> written{0};
  std::atomic<std::uint64_t> write_failures{0};
  std::atomic<std::uint64_t> ignored{0};  // mismatched, corrupt or undecodable snapshots passed over
};

struct RepositoryOptions {
  SnapshotPolicy snapshots;
  // Where snapshots live; nullptr = the event store's own snapshot_store() (none if it keeps none).
  SnapshotStore* snapshot_store = nullptr;
  // Called for each snapshot ignored on load or failed to write, on the thread that noticed it. It must
  // not throw.
  std::function<void(const SnapshotIncident&)> on_snapshot_incident;
  // Where the repository's metrics go, labelled aggregate="<metrics_name>": strata_repository_load_seconds
  // (each load, snapshot and replay included), strata_repository_replayed_events_total, and, read at each
  // scrape, strata_repository_snapshot_loads_total, _snapshot_writes_total, _snapshot_write_failures_total
  // and _snapshot_incidents_total. Empty: none are kept.
  std::shared_ptr<MetricsRegistry> metrics;
  std::string metrics_name = "aggregate";
};

}  // namespace strata
