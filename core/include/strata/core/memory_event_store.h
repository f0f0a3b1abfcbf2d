// MemoryEventStore: an EventStore held in memory, for tests, samples and the given/when/then of users'
// own code. It implements the whole contract of event_store.h (optimistic concurrency, atomic appends,
// a gap-free global log, idempotent retries by event id) and passes the same conformance suite as the
// durable stores; it keeps nothing across process restarts.
//
//   strata::MemoryEventStore store;                                 // default limits
//   strata::Repository<Account> accounts(store);
//
//   STRATA_ASSIGN_OR_RETURN(auto checked, strata::MemoryEventStore::create(options));   // other limits
//
// It also keeps snapshots (SnapshotStore), so Repository snapshot policies work on it.
//
// Thread safety: every method may be called concurrently (one mutex for appends, shared for reads).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "strata/core/event_store.h"
#include "strata/core/retention.h"
#include "strata/core/snapshot.h"

namespace strata {

class MemoryEventStore final : public EventStore, public SnapshotStore {
 public:
  struct Options {
    Limits limits;
    // Returns "now" for commit timestamps; the store keeps them non-decreasing whatever it returns.
    // Empty: the system clock.
    std::function<Timestamp()> clock;
    // Retention policies by category (retention.h). Readers stop seeing what a policy removes at once;
    // the events stay in memory.
    Retention retention;
  };

  // A store with `options`, after checking options.limits with validate_limits(): kInvalidArgument
  // naming the option out of range and its range. Prefer it to the constructor when the limits are not
  // the defaults.
  [[nodiscard]] static Result<std::unique_ptr<MemoryEventStore>> create(Options options);

  // A store with default options, whose limits are valid.
  MemoryEventStore();
  // A store with `options`, unchecked: with limits that validate_limits() refuses, every append fails
  // with its kInvalidArgument (create() reports it before any append).
  explicit MemoryEventStore(Options options);
  ~MemoryEventStore() override;

  using EventStore::append;  // the one-event and braced-list forms
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
  Position head_position() const override;
  const Limits& limits() const noexcept override;
  SnapshotStore* snapshot_store() noexcept override { return this; }
  PersonalData* personal_data() noexcept override;

  // SnapshotStore: snapshots are kept encoded (with their checksum), as a durable store keeps them.
  [[nodiscard]] Status save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) override;
  [[nodiscard]] Result<std::optional<SnapshotRecord>> load_snapshot(const StreamId& stream, Version max_version,
                                                                    const SnapshotSchema& schema) override;
  [[nodiscard]] Status retain_snapshots(const StreamId& stream, const SnapshotSchema& schema,
                                        std::size_t keep) override;
  [[nodiscard]] Result<std::vector<Version>> snapshot_versions(const StreamId& stream) override;
  // Replaces the stored bytes of a snapshot, for tests of damaged snapshots. kNotFound if absent.
  [[nodiscard]] Status overwrite_snapshot_bytes(const StreamId& stream, Version version, const SnapshotSchema& schema,
                                                std::string bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
