// PgEventStore: the EventStore on a PostgreSQL server, for services whose instances share one store
// (several processes, several machines) and that lean on PostgreSQL's own replication and failover.
//
// It implements the whole EventStore contract with the semantics and messages of MemoryEventStore and
// RocksEventStore — optimistic concurrency, atomic appends, idempotent retries by event id (durable:
// event ids are unique in the table), a gap-free global log, multi-stream appends, soft and hard deletes
// and truncation (removed events stay in the log as tombstones), stream lists, version_as_of, commit
// notifications — and keeps snapshots (SnapshotStore) and projections' read models and checkpoints
// (projection_storage()), committed with the checkpoint in one transaction.
//
// The global log never skips: positions are assigned under a row lock on the log's head, taken by each
// committing transaction and held until it commits, so positions become visible in order and a reader
// that has seen position p has seen every position below it. Appends of one process are committed in
// groups (one transaction, one lock, one fsync for every append queued meanwhile), so the lock costs
// one commit per group, not per append. pgstore/FORMAT.md describes the tables and the method.
//
//   strata::PgEventStore::Options options;
//   options.conninfo = "postgresql://app@db.internal/bank";
//   STRATA_ASSIGN_OR_RETURN(auto store, strata::PgEventStore::open(options));
//   strata::Repository<Account> accounts(*store);
//   strata::Projector projector(*store, store->projection_storage(), Balances{});
//
// Failures: a server that cannot be reached, or a connection lost, is kUnavailable. An append whose
// connection is lost after its COMMIT was sent has an unknown outcome, and says so: retry it with the same
// event ids, and idempotency settles it (the original result if it committed, a fresh commit if not).
// Errors the server reports are kIOError with their SQLSTATE.
//
// Thread safety: every method may be called concurrently from any thread, as EventStore says. Destroy
// the store only when no call is in progress.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "strata/core/event_store.h"
#include "strata/core/limits.h"
#include "strata/core/position.h"
#include "strata/core/retention.h"
#include "strata/core/snapshot.h"
#include "strata/core/status.h"
#include "strata/projections/projection_storage.h"

namespace strata {

class PgEventStore : public EventStore, public SnapshotStore {
 public:
  // The version of the tables this build writes (pgstore/FORMAT.md).
  static constexpr int kSchemaVersion = 2;

  struct Options {
    // A libpq connection string or URI ("postgresql://user@host:port/db", "host=... dbname=...").
    std::string conninfo;
    // The PostgreSQL schema (namespace) holding the store's tables; created when missing. Several stores
    // can share a database under different schemas.
    std::string schema = "strata";
    // Connections for reads and projection commits (appends use one connection of their own).
    std::size_t pool_size = 8;
    // The limits enforced on appends (event size, events per append, ...), see limits.h.
    Limits limits;
    // Most events committed in one group transaction.
    std::size_t max_group_events = 2000;
    // Other processes' commits are heard by LISTEN/NOTIFY; when a notification is lost (a dropped
    // connection), the log head is also polled this often.
    std::chrono::milliseconds poll_interval{250};
    // Returns "now" for commit timestamps; the store keeps them non-decreasing, across processes too.
    // Empty: the system clock. For tests.
    std::function<Timestamp()> clock;
    // Retention policies by category (core retention.h). Readers stop seeing what a policy removes at
    // once; a background sweep turns those events into tombstones every `retention_interval` (0: only
    // when enforce_retention() is called).
    Retention retention;
    std::chrono::milliseconds retention_interval{60'000};
  };

  // Connects, creates the schema's tables when missing, checks their version and migrates the tables of
  // an older version (pgstore/FORMAT.md, "Schema versions"). kUnavailable when the server cannot be
  // reached; kInvalidArgument for bad options; kCorruption when the schema was written by a newer strata
  // (its version is higher than kSchemaVersion) or is not strata's.
  [[nodiscard]] static Result<std::unique_ptr<PgEventStore>> open(Options options);

  ~PgEventStore() override;

  using EventStore::append;
  [[nodiscard]] Result<AppendResult> append(const StreamId& stream, ExpectedVersion expected,
                                            std::span<const EventData> events) override;
  [[nodiscard]] Result<MultiAppendResult> append_multi(std::span<const StreamAppend> appends) override;
  [[nodiscard]] Result<LifecycleResult> delete_stream(const StreamId& stream, ExpectedVersion expected,
                                                      DeleteMode mode) override;
  [[nodiscard]] Result<LifecycleResult> truncate_stream(const StreamId& stream, ExpectedVersion expected,
                                                        Version before) override;
  [[nodiscard]] Result<StreamInfo> stream_info(const StreamId& stream) override;
  [[nodiscard]] Result<StreamSlice> read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                std::size_t max_count) override;
  [[nodiscard]] Status visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) override;
  [[nodiscard]] Result<LogSlice> read_log(Position from, std::size_t max_count, const LogFilter& filter = {}) override;
  [[nodiscard]] Result<LogVisit> visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                           EventVisitor visitor) override;
  [[nodiscard]] Result<std::optional<EventLocation>> lookup_event(const EventId& id) override;
  [[nodiscard]] Result<Version> stream_head(const StreamId& stream) override;
  [[nodiscard]] Result<StreamList> list_streams(std::string_view after, std::size_t max_count) override;
  // The high-water mark as last heard: this process's own commits at once, other processes' by
  // notification or by the poll. refresh_head() reads it from the server.
  Position head_position() const override;
  [[nodiscard]] Result<Position> refresh_head();
  // Turns the events that the retention policies remove now into tombstones (what the background sweep
  // does), and returns how many; 0 without policies. kUnavailable when the server cannot be reached.
  [[nodiscard]] Result<std::uint64_t> enforce_retention();
  const Limits& limits() const noexcept override;
  [[nodiscard]] Result<Version> version_as_of(const StreamId& stream, Timestamp at) override;
  SnapshotStore* snapshot_store() noexcept override { return this; }
  PersonalData* personal_data() noexcept override;

  [[nodiscard]] Status save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) override;
  [[nodiscard]] Result<std::optional<SnapshotRecord>> load_snapshot(const StreamId& stream, Version max_version,
                                                                    const SnapshotSchema& schema) override;
  [[nodiscard]] Status retain_snapshots(const StreamId& stream, const SnapshotSchema& schema,
                                        std::size_t keep) override;
  [[nodiscard]] Result<std::vector<Version>> snapshot_versions(const StreamId& stream) override;

  // Projections' read models, checkpoints and parked events, in the same database: a projector's batch
  // of rows and its checkpoint commit in one transaction. Lives as long as the store.
  ProjectionStorage& projection_storage() noexcept;

  // Drops the schema and everything in it. For tests and tools; REQUIRES: no store is open on it.
  [[nodiscard]] static Status drop_schema(const std::string& conninfo, const std::string& schema);

  struct Impl;

 private:
  explicit PgEventStore(std::unique_ptr<Impl> impl);
  // Makes `p` the high-water mark and tells commit listeners, when it is higher than the last one.
  void advance_head(Position p) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
