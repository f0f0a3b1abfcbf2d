// Repository<A>: loads an aggregate by replaying its stream (from the newest usable snapshot) and saves
// the events its commands recorded, with the loaded version as the expected version (optimistic
// concurrency). It also travels in time: the state as of any version or commit timestamp, in time
// proportional to the distance from the nearest snapshot below it.
//
//   strata::Repository<Account> accounts(store);
//   Account acct = accounts.create(id);                  // a new aggregate, version 0
//   STRATA_RETURN_IF_ERROR(acct.open("Alice"));
//   STRATA_RETURN_IF_ERROR(accounts.save(acct));         // expects no stream
//   STRATA_ASSIGN_OR_RETURN(Account again, accounts.load(id));
//   STRATA_ASSIGN_OR_RETURN(Account then, accounts.load_at(id, 42));
//
// Snapshots (snapshot.h, snapshot_policy.h) are used when A has a field table over its state and the
// store keeps snapshots; they are written by a background thread after a save crosses the policy's
// interval, never on the command path, and a snapshot that cannot be used is reported, ignored and
// replaced.
//
// Thread safety: a Repository may be shared between threads; each aggregate value belongs to one thread
// at a time. REQUIRES: the store (and any snapshot store) outlives the repository. Destroying the
// repository waits for its queued snapshot writes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_store.h"
#include "strata/core/expected_version.h"
#include "strata/core/repository_options.h"
#include "strata/core/snapshot.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

namespace detail {
// The background thread of one repository that runs its snapshot writes in order, off the command
// path (core/src/snapshot_writer.cc). The destructor finishes queued writes.
class SnapshotWriter {
 public:
  SnapshotWriter();
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void post(std::function<void()> task);
  // Returns once every task posted before the call has run.
  void drain();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Compiled helpers: messages and incident reporting stay out of the template.
Status version_beyond_head(const StreamId& id, Version wanted, Version head);
Status no_event_as_of(const StreamId& id, Timestamp at);
Status invalid_version_zero(const StreamId& id);
Status in_pending_event(const Status& status, const StreamId& id, std::size_t index);

// Checks `event`'s field rules and appends it to `batch` as EventData.
template <class E>
Status checked_event(const E& event, const EventId& id, const Metadata& metadata, PersonalData* personal,
                     std::vector<EventData>& batch) {
  Status rules = check_fields(event);
  if (!rules.ok()) return rules.with_context(std::string("event \"").append(E::kType).append("\""));
  if constexpr (has_personal_fields<E>()) {
    auto data = to_event_data(event, id, metadata, personal);
    if (!data.ok()) return data.status().with_context(std::string("event \"").append(E::kType).append("\""));
    batch.push_back(std::move(*data));
  } else {
    batch.push_back(to_event_data(event, id, metadata));
  }
  return {};
}
void report_snapshot_incident(const RepositoryOptions& options, SnapshotStats& stats, SnapshotProblem problem,
                              const StreamId& id, Version version, const Status& status);
}  // namespace detail

// A state folded from events one at a time through an aggregate's apply() overloads, without its
// command methods: for reading history, audits and tools.
//
//   strata::Fold<Account> fold;
//   STRATA_RETURN_IF_ERROR(store.visit_stream(id, 1, 10, [&](const strata::EventView& e) { return fold.apply(e); }));
//   fold.state().balance();
template <class A>
class Fold {
  static_assert(detail::IsAggregate<A>,
                "strata: Fold<A> needs A to derive from strata::Aggregate<A, strata::Events<...>>");

 public:
  explicit Fold(Limits limits = {}) : limits_(limits) {}
  // Decodes `e` and folds it in. kUnknownEventType for a type A does not list; kInvalidArgument when the
  // payload does not decode (the state is then unchanged only if the failure came before apply).
  [[nodiscard]] Status apply(const EventView& e) {
    return detail::AggregateAccess::apply_stored(state_, e, scratch_, limits_);
  }
  const A& state() const noexcept { return state_; }
  Version version() const noexcept { return state_.version(); }

 private:
  A state_;
  typename A::Dispatcher scratch_;
  Limits limits_;
};

template <class A>
class Repository {
  static_assert(detail::IsAggregate<A>,
                "strata: Repository<A> needs A to derive from strata::Aggregate<A, strata::Events<...>> and to be "
                "default-constructible");
  static_assert(detail::FieldTableVisible<A>,
                "strata: the aggregate's kFields (the field table of its state, used for snapshots) is private or "
                "protected, so strata cannot see it and would take no snapshots; declare it in a public section: "
                "`public: static constexpr auto kFields = strata::fields(...);`");

 public:
  explicit Repository(EventStore& store, RepositoryOptions options = {})
      : store_(store),
        options_(std::move(options)),
        snapshots_(!options_.snapshots.enabled ? nullptr
                   : options_.snapshot_store   ? options_.snapshot_store
                                               : store.snapshot_store()),
        stats_(std::make_unique<SnapshotStats>()) {
    if constexpr (Snapshottable<A>) {
      if (snapshots_ && options_.snapshots.every_events > 0) writer_ = std::make_unique<detail::SnapshotWriter>();
    }
    if (options_.metrics) start_metrics();
  }
  ~Repository() {
    if (collector_ != 0) options_.metrics->remove_collector(collector_);
    writer_.reset();  // finishes queued snapshot writes while the members they use are alive
  }
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  // A new, empty aggregate for stream `id` (version 0). Saving it expects the stream not to exist.
  A create(StreamId id) const {
    A a;
    detail::AggregateAccess::set_id(a, std::move(id));
    return a;
  }

  // The aggregate with every event of stream `id` folded in: the newest usable snapshot, then the events
  // after it.
  // Fails with kNotFound when the stream has no events; kUnknownEventType when a stored event's type is
  // not in A's Events<...> list (naming type, version and position); kInvalidArgument when a stored
  // payload does not decode; or the store's kIOError / kCorruption / kUnavailable.
  [[nodiscard]] Result<A> load(const StreamId& id) const { return load_until(id, kEndOfStream); }

  // The aggregate as it was at `version` (events 1..version folded in), from the nearest snapshot at or
  // below it. kInvalidArgument when `version` is 0 or beyond the stream's head; otherwise as load().
  [[nodiscard]] Result<A> load_at(const StreamId& id, Version version) const {
    if (version == 0) return detail::invalid_version_zero(id);
    auto a = load_until(id, version);
    if (a.ok() && a->version() < version) return detail::version_beyond_head(id, version, a->version());
    return a;
  }

  // The aggregate as it was at time `at` (any system-clock time point, e.g. system_clock::now(); it is
  // rounded down to the microsecond of commit timestamps): every event committed at or before it folded
  // in. kInvalidArgument when the stream's first event was committed after `at`; otherwise as load_at().
  template <class Duration>
  [[nodiscard]] Result<A> load_as_of(const StreamId& id, std::chrono::sys_time<Duration> at) const {
    const Timestamp when = to_timestamp(at);
    STRATA_ASSIGN_OR_RETURN(Version version, store_.version_as_of(id, when));
    if (version == 0) return detail::no_event_as_of(id, when);
    return load_at(id, version);
  }

  // The aggregate of stream `id` as load() returns it, or a new one (as create(id) makes) when the
  // stream has no events: what a command handler that may create its aggregate wants. Fails as load(),
  // never with kNotFound.
  [[nodiscard]] Result<A> load_or_create(const StreamId& id) const {
    Result<A> loaded = load(id);
    if (!loaded.ok() && loaded.status().code() == StatusCode::kNotFound) return create(id);
    return loaded;
  }

  // Appends the aggregate's pending events, each under the id it was recorded with and with `metadata`,
  // expecting the stream to be at aggregate.version(); on success the aggregate's version advances and
  // its pending events are cleared, and a snapshot is queued when the policy's interval was crossed.
  // With no pending events, nothing is written and the result's positions are 0.
  // Fails with kInvalidArgument when the aggregate has no stream id (make it with create()), an event
  // breaks a field rule (naming the event type and the field) or the store's limits; kWrongExpectedVersion when another
  // writer got there first (reload and retry the command); or the store's errors. On failure the aggregate is
  // unchanged, so the same save may be retried: the event ids make a retry after a lost acknowledgement idempotent.
  [[nodiscard]] Result<AppendResult> save(A& aggregate, const Metadata& metadata = {}) const {
    return save_pending(aggregate, metadata, {});
  }

  // As save(), but the pending events are stored under ids derived from `idempotency_key`
  // (EventId::derive(idempotency_key, i) for the i-th), not those they were recorded with. Saving the
  // same decision again under the same key — after a crash, a redelivered message, a replayed process
  // step — appends nothing and returns the original result; EventStore::lookup_event(
  // EventId::derive(idempotency_key)) tells whether a key's save was committed. REQUIRES: a non-empty key,
  // unique to the decision (e.g. "payments-inbox/<message id>").
  [[nodiscard]] Result<AppendResult> save_idempotent(A& aggregate, std::string_view idempotency_key,
                                                     const Metadata& metadata = {}) const {
    if (idempotency_key.empty()) return Status::invalid_argument("save_idempotent needs a non-empty idempotency key");
    return save_pending(aggregate, metadata, idempotency_key);
  }

  // Writes a snapshot of `aggregate` now, on the calling thread (snapshots "on demand"), then applies the
  // retention policy. kInvalidArgument when the aggregate has no saved events or unsaved ones, when its
  // state holds a non-finite double (check_fields() names the field), or when the policy is
  // SnapshotPolicy::never(); kNotFound when there is no snapshot store; or the snapshot
  // store's errors.
  [[nodiscard]] Status snapshot(const A& aggregate) const {
    static_assert(Snapshottable<A>,
                  "strata: snapshots need a field table over the aggregate's state: "
                  "static constexpr auto kFields = strata::fields(...) in the aggregate");
    if (!aggregate.pending_events().empty())
      return Status::invalid_argument("cannot snapshot an aggregate with unsaved events: save it first");
    if (!options_.snapshots.enabled)
      return Status::invalid_argument("snapshots are off for this repository (SnapshotPolicy::never())");
    return write_snapshot(aggregate);
  }

  // Waits until every snapshot queued so far has been written (or has failed and been reported).
  void flush_snapshots() const {
    if (writer_) writer_->drain();
  }

  const SnapshotStats& snapshot_stats() const noexcept { return *stats_; }
  EventStore& store() const noexcept { return store_; }

 private:
  // save() and save_idempotent(): the pending events under their own ids, or under ids derived from `key`.
  Result<AppendResult> save_pending(A& aggregate, const Metadata& metadata, std::optional<std::string_view> key) const {
    if (!aggregate.has_id())
      return Status::invalid_argument("aggregate has no stream id: make new aggregates with Repository::create(id)");
    const auto& pending = aggregate.pending_events();
    if (pending.empty()) return AppendResult{aggregate.version(), 0, 0};
    std::vector<EventData> batch;
    batch.reserve(pending.size());
    PersonalData* personal = store_.personal_data();
    for (std::size_t i = 0; i < pending.size(); ++i) {
      const EventId id = key ? EventId::derive(*key, i) : pending[i].id;
      Status rules = std::visit([&](const auto& e) { return detail::checked_event(e, id, metadata, personal, batch); },
                                pending[i].event);
      if (!rules.ok()) return detail::in_pending_event(rules, aggregate.id(), i);
    }
    const Version before = aggregate.version();
    auto result = store_.append(aggregate.id(), ExpectedVersion::exact(before), batch);
    if (!result.ok()) return result;
    detail::AggregateAccess::mark_saved(aggregate, result->stream_version);
    if constexpr (Snapshottable<A>) {
      const auto every = options_.snapshots.every_events;
      if (writer_ && every > 0 && result->stream_version.value() / every > before.value() / every) {
        writer_->post([this, state = aggregate] { (void)write_snapshot(state); });
      }
    }
    return result;
  }

  // Folds events 1..target (kEndOfStream = all) into a fresh aggregate, from the newest usable snapshot.
  Result<A> load_until(const StreamId& id, Version target) const {
    if (load_seconds_ == nullptr) return fold_until(id, target);
    const auto started = std::chrono::steady_clock::now();
    Result<A> a = fold_until(id, target);
    load_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return a;
  }

  void start_metrics() {
    const MetricLabels labels{{"aggregate", options_.metrics_name}};
    load_seconds_ = &options_.metrics->histogram("strata_repository_load_seconds",
                                                 "An aggregate's load (snapshot and replay), in seconds.",
                                                 latency_buckets(), labels);
    replayed_ = &options_.metrics->counter("strata_repository_replayed_events_total",
                                           "Events folded by loads (after the snapshot a load started from).", labels);
    collector_ = options_.metrics->add_collector([stats = stats_.get(), labels](MetricsWriter& w) {
      w.counter("strata_repository_snapshot_loads_total", "Loads that started from a snapshot.", labels,
                static_cast<double>(stats->loaded.load()));
      w.counter("strata_repository_snapshot_writes_total", "Snapshots written.", labels,
                static_cast<double>(stats->written.load()));
      w.counter("strata_repository_snapshot_write_failures_total", "Snapshots that failed to be written.", labels,
                static_cast<double>(stats->write_failures.load()));
      w.counter("strata_repository_snapshot_incidents_total",
                "Snapshots passed over on load: of another schema, damaged or undecodable.", labels,
                static_cast<double>(stats->ignored.load()));
    });
  }

  Result<A> fold_until(const StreamId& id, Version target) const {
    A a;
    detail::AggregateAccess::set_id(a, id);
    Version from = 1;
    bool replace_snapshot = false;
    if constexpr (Snapshottable<A>) {
      if (snapshots_) from = restore_snapshot(a, id, target, replace_snapshot);
    }
    typename A::Dispatcher scratch;
    const Limits& limits = store_.limits();
    std::uint64_t replayed = 0;
    Status s = store_.visit_stream(id, from, target, [&](const EventView& e) {
      ++replayed;
      return detail::AggregateAccess::apply_stored(a, e, scratch, limits);
    });
    if (replayed_ != nullptr) replayed_->add(replayed);
    if (!s.ok()) return s;
    if constexpr (Snapshottable<A>) {
      // A damaged snapshot is replaced only where the policy writes snapshots by itself.
      if (replace_snapshot && writer_ && a.version() > 0 && options_.snapshots.every_events > 0)
        writer_->post([this, state = a] { (void)write_snapshot(state); });
    }
    return a;
  }

  // Restores `a` from the newest snapshot of A's schema at or below `target`; returns the first version
  // still to replay. A snapshot that cannot be used is reported and ignored, and `replace` is set.
  Version restore_snapshot(A& a, const StreamId& id, Version target, bool& replace) const {
    auto loaded = snapshots_->load_snapshot(id, target, snapshot_schema_of<A>());
    if (!loaded.ok()) {
      replace = true;
      detail::report_snapshot_incident(options_, *stats_, SnapshotProblem::kCorrupt, id, 0, loaded.status());
      return 1;
    }
    if (!loaded->has_value()) return 1;
    const SnapshotRecord& snap = **loaded;
    if (snap.schema() != snapshot_schema_of<A>()) {
      replace = true;
      detail::report_snapshot_incident(
          options_, *stats_, SnapshotProblem::kFingerprintMismatch, id, snap.version,
          Status::corruption("the snapshot store returned a snapshot of another state schema than asked for"));
      return 1;
    }
    // Personal fields of the state are sealed in the snapshot as in events: revealed first (redacted
    // once their subject was forgotten).
    std::string revealed;
    std::string_view payload = snap.payload;
    Status decoded;
    if constexpr (has_personal_fields<A>()) {
      PersonalData* personal = store_.personal_data();
      if (personal != nullptr) {
        auto r = personal->reveal(payload, revealed);
        if (r.ok()) {
          payload = *r;
        } else {
          decoded = r.status();
        }
      }
    }
    if (decoded.ok()) decoded = decode_json(payload, a, store_.limits());
    if (!decoded.ok()) {
      replace = true;
      a = A();
      detail::AggregateAccess::set_id(a, id);
      detail::report_snapshot_incident(options_, *stats_, SnapshotProblem::kUndecodable, id, snap.version, decoded);
      return 1;
    }
    detail::AggregateAccess::set_version(a, snap.version);
    stats_->loaded.fetch_add(1, std::memory_order_relaxed);
    return snap.version + 1;
  }

  Status write_snapshot(const A& state) const {
    if (!snapshots_) return Status::not_found("the event store keeps no snapshots and none was configured");
    if (!state.has_id() || state.version() == 0)
      return Status::invalid_argument("cannot snapshot an aggregate with no saved events");
    // A state holding a non-finite double would encode to a snapshot no load could decode.
    Status s = check_fields(state);
    SnapshotRecord record{state.version(), schema_fingerprint<A>(), snapshot_version_of<A>(), {}};
    if (s.ok()) {
      if constexpr (has_personal_fields<A>()) {
        // The state's personal fields are sealed as the events' are: a forgotten subject's snapshot
        // then reads as redacted too.
        PersonalData* personal = store_.personal_data();
        if (personal == nullptr) {
          s = detail::no_personal_data("snapshot state");
        } else {
          json::Writer w(record.payload);
          w.seal_personal_fields(personal, &s);
          Codec<A>::write(w, state);
        }
      } else {
        record.payload = to_json(state);
      }
    }
    if (s.ok()) s = snapshots_->save_snapshot(state.id(), record);
    if (s.ok() && options_.snapshots.keep_last > 0)
      s = snapshots_->retain_snapshots(state.id(), snapshot_schema_of<A>(), options_.snapshots.keep_last);
    if (!s.ok()) {
      detail::report_snapshot_incident(options_, *stats_, SnapshotProblem::kWriteFailed, state.id(), state.version(),
                                       s);
      return s;
    }
    stats_->written.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  EventStore& store_;
  RepositoryOptions options_;
  SnapshotStore* snapshots_;
  std::unique_ptr<SnapshotStats> stats_;
  // Set when options_.metrics is (start_metrics).
  Histogram* load_seconds_ = nullptr;
  Counter* replayed_ = nullptr;
  MetricsRegistry::CollectorId collector_ = 0;
  std::unique_ptr<detail::SnapshotWriter> writer_;  // last: destroyed first, finishing queued writes
};

}  // namespace strata
