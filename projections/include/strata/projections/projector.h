// Projector: runs one projection (or sink) over an EventStore, on a Boost.Asio executor.
//
// It catches up from the projection's checkpoint by reading the log in batches, commits each batch's
// read-model writes together with the new checkpoint in one ProjectionStorage commit (so each event's
// effect is applied exactly once across crashes), then follows live appends, woken by the store's commit
// notifications — no polling loop, no busy wait. Events of types the projection does not handle are
// skipped before their payload is parsed.
//
//   strata::MemoryProjectionStorage storage;                     // or the RocksDB-backed one
//   strata::Projector projector(store, storage, Balances{});     // its own thread; or options.executor
//   STRATA_RETURN_IF_ERROR(projector.start());
//   STRATA_RETURN_IF_ERROR(projector.wait_for(store.head_position(), std::chrono::seconds(5)));
//   strata::ReadModelReader reader = projector.reader();
//   auto row = Balances::kAccounts.get(reader, "account-42");
//
// Errors: a failing event (handler error, exception, undecodable payload) is retried with exponential
// backoff on an Asio timer; after ErrorPolicy::max_attempts it is parked (kept with its error, listed,
// retried or skipped through parked(), retry_parked(), skip_parked()) and later events keep flowing — or,
// with Exhausted::kStop, the projector stops in state kFailed. An event whose type the projection cannot
// read (kUnknownEventType: an older version of a handled event, without its upcaster; projection.h) is
// parked, or stops the projector, at once. Failures of the store or the storage are retried with backoff
// until they clear (state kStalled); another projector moving the same checkpoint fails this one
// (kWrongExpectedVersion).
//
// Rebuild without downtime: rebuild() fills a shadow generation of the read models from position 1 while
// the serving one keeps answering queries and following live appends; when the shadow reaches the serving
// checkpoint, one commit makes it serve and drops the old generation. status().rebuild reports progress,
// events/s and an ETA.
//
// Thread safety: every method may be called from any thread, except that stop(), drain(), wait_for(),
// rebuild(), cancel_rebuild(), retry_parked() and skip_parked() must not be called from a handler
// (kInvalidArgument). REQUIRES: the store and the storage outlive the projector; a user-supplied executor
// is run by someone while the projector is started (stop() waits for it). The destructor stops.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "strata/core/event_store.h"
#include "strata/core/expected_version.h"
#include "strata/core/metrics.h"
#include "strata/core/status.h"
#include "strata/projections/projection.h"
#include "strata/projections/projection_storage.h"
#include "strata/projections/read_model.h"

namespace strata {

// What happens to an event whose handler keeps failing. A failure with kUnknownEventType (the projection
// cannot read the event's type) is not retried: it is exhausted at its first attempt.
struct ErrorPolicy {
  enum class Exhausted : std::uint8_t {
    // Park the event (position, event, error, attempts) and go on with the next one.
    kPark,
    // Stop the projector in state kFailed; start() tries the event again.
    kStop,
  };
  // Attempts per event, the first included (1 = no retry). REQUIRES: >= 1.
  std::uint32_t max_attempts = 5;
  // The wait before the second attempt; each further wait is `backoff_multiplier` times longer, up to
  // `max_backoff`. The same schedule applies to failures of the store or the storage.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{30'000};
  double backoff_multiplier = 2.0;
  Exhausted when_exhausted = Exhausted::kPark;
};

struct ProjectorOptions {
  // Where the projector runs (it serializes its own work on a strand). Empty: on a thread of its own.
  std::optional<boost::asio::any_io_executor> executor;
  // A batch is what the projector applies and then commits with its checkpoint, in one write: up to
  // `batch_size` events, or what it applies in `batch_duration`, whichever ends first (live, it is
  // whatever has arrived, within the same bounds). Larger batches commit less often and write each row
  // they touch once: on the 1M-event catch-up of bench_projection over 1,000 rows, these defaults ran
  // at 0.56 of the raw log scan against 0.34 with 10,000-event batches. The duration bounds how long
  // the projector holds its executor before yielding, and how long stop() waits, whatever the handlers
  // cost. Memory grows with the distinct rows a batch touches, not with its events. After a crash, the
  // batch that was being applied is applied again from its start. REQUIRES: batch_size >= 1,
  // batch_duration >= 0 (0: no time bound).
  std::size_t batch_size = 100'000;
  std::chrono::milliseconds batch_duration{100};
  // Parallel catch-up. With `partitions` > 1 the projector applies each batch on that many threads (its
  // own and partitions - 1 of a pool it keeps): each event goes to the partition a hash of its partition
  // key picks, the stream id unless `partition_key` returns another (say, an account read from the
  // event), so the events of one key are applied in log order, by one handler, as with one partition.
  // The batch still commits with one checkpoint in one write: each event's effect is applied exactly
  // once across crashes. Each partition runs its own copy of the projection (ProjectionHandler::clone;
  // sinks run in one partition only), and the partitions' handlers run at the same time: events of
  // different keys must touch different rows. A row written by two partitions in one batch stops the
  // projector (kFailed, kInvalidArgument naming the row); a row one partition reads while another writes
  // it is not detected. A failing event is handled as with one partition: the events before it commit,
  // then the error policy applies. It pays where applying events costs more than reading them: on
  // bench_projection's catch-up, 2 partitions on 2 cores ran at 1.6-1.8 times one (docs/decisions.md).
  // REQUIRES: 1 <= partitions <= 64; partition_key returns a view valid during the call's event.
  std::size_t partitions = 1;
  std::function<std::string_view(const EventView& event)> partition_key;
  // Where a projection with no stored state starts: the first position it applies. kEndOfLog: only events
  // committed after start(). Ignored once the projection has a checkpoint.
  Position start_from = 1;
  ErrorPolicy errors;
  // Where the projector's metrics go, read from status() at each scrape and labelled
  // projection="<name>": strata_projector_position, _lag_events, _lag_seconds, _events_per_second,
  // _applied_total, _skipped_total, _parked_total, _state{state=...} and, while rebuilding,
  // _rebuild_position and _rebuild_target. Empty: none.
  std::shared_ptr<MetricsRegistry> metrics;
};

enum class ProjectorState : std::uint8_t {
  // Not started, or stopped by stop() or drain().
  kStopped,
  // Behind the head of the log, applying batches.
  kCatchingUp,
  // At the head of the log, waiting for commits.
  kLive,
  // Waiting to retry after a failure (the status' error says which).
  kStalled,
  // Stopped by an error (the status' error says which); start() resumes.
  kFailed,
};

// "stopped", "catching up", "live", "stalled", "failed".
std::string_view projector_state_name(ProjectorState state) noexcept;

struct RebuildProgress {
  // The shadow generation being filled.
  Generation generation = 0;
  // The last position applied to the shadow, and where it must get to (the serving checkpoint).
  Position position = 0;
  Position target = 0;
  // Shadow events per second over the last few seconds.
  double events_per_second = 0;
  // Time left at that rate; empty until a rate is known.
  std::optional<std::chrono::seconds> eta;
};

struct ProjectorStatus {
  std::string name;
  ProjectorState state = ProjectorState::kStopped;
  // kStalled: the failure being retried; kFailed: why the projector stopped; otherwise OK.
  Status error;
  // The serving generation and its checkpoint (the last position applied).
  Generation generation = 1;
  Position position = 0;
  // The store's head when the status was taken, and how far behind it the checkpoint is.
  Position head = 0;
  std::uint64_t lag_events = 0;
  // Age of the oldest event not applied yet (0 when caught up).
  double lag_seconds = 0;
  // Events (applied or skipped) per second over the last few seconds.
  double events_per_second = 0;
  // Since start(): events handled, skipped as unknown types, and parked.
  std::uint64_t applied = 0;
  std::uint64_t skipped = 0;
  std::uint64_t parked = 0;
  // Since start(): positions passed over because their events were removed (a hard delete, a
  // truncation) before the projection applied them. Its read models may hold less than a rebuild from
  // the events' original log would have; a rebuild gives what the log holds now.
  std::uint64_t removed = 0;
  // The position being retried while kStalled on an event, and how often it was tried.
  Position failing_position = 0;
  std::uint32_t attempts = 0;
  // Set while a rebuild is in progress.
  std::optional<RebuildProgress> rebuild;
};

namespace detail {
class ProjectorCore;
}

class Projector {
 public:
  // Runs `handler` (make_projection_handler(), make_sink_handler()).
  Projector(EventStore& store, ProjectionStorage& storage, std::unique_ptr<ProjectionHandler> handler,
            ProjectorOptions options = {});
  // Runs a typed projection under its kName.
  template <class P>
  requires detail::IsProjection<P> Projector(EventStore& store, ProjectionStorage& storage, P projection,
                                             ProjectorOptions options = {})
      : Projector(store, storage, make_projection_handler(std::move(projection)), std::move(options)) {}
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Loads the checkpoint (creating the projection's state at options.start_from when it has none) and
  // starts catching up. OK when already started; also resumes after kFailed or stop().
  // Fails with kInvalidArgument (bad name or options) or the storage's errors.
  [[nodiscard]] Status start();

  // Lets the batch in flight commit, cancels any backoff, and stops (state kStopped). Waits until done.
  // OK when not started.
  [[nodiscard]] Status stop();

  // Applies every event committed before the call, then stops. Returns OK, or the error that stopped
  // the projector first (kFailed), or kUnavailable when `timeout` passes first (the projector keeps
  // running then).
  [[nodiscard]] Status drain(std::chrono::milliseconds timeout = std::chrono::minutes(10));

  // Waits until the serving checkpoint reaches `position` (woken by the projector, not by polling).
  // OK once it has; kUnavailable when `timeout` passes first; kCancelled when the projector is or gets
  // stopped; the failure when it is or gets kFailed.
  [[nodiscard]] Status wait_for(Position position, std::chrono::milliseconds timeout);

  // The current status: state, position, lag, throughput, rebuild progress. Reads the store's head
  // (and one event, for the lag in seconds).
  ProjectorStatus status() const;

  // Starts rebuilding the read models into a shadow generation from position 1 (see above); runs when
  // the projector is started. kInvalidArgument when a rebuild is already in progress or the handler has
  // no read models (a sink); the storage's errors.
  [[nodiscard]] Status rebuild();
  // Abandons a rebuild in progress and drops its shadow generation. kNotFound when there is none.
  [[nodiscard]] Status cancel_rebuild();

  // Parked events of the serving generation (and of a shadow being rebuilt), after `after`, in position
  // order, at most `max_count` of each.
  [[nodiscard]] Result<std::vector<ParkedEvent>> parked(Position after = 0, std::size_t max_count = 1000) const;
  // Applies the parked event at `position` again (in every generation that parked it), with the same
  // atomic commit as a batch; on success it is no longer parked. Returns the handler's error when it
  // fails again (the parked record then counts the attempt). kNotFound when nothing is parked there.
  [[nodiscard]] Status retry_parked(Position position);
  // Forgets the parked event at `position` without applying it. kNotFound when nothing is parked there.
  [[nodiscard]] Status skip_parked(Position position);

  // A reader of this projection's serving read models.
  ReadModelReader reader() const;
  // The projection's persisted name.
  const std::string& name() const noexcept;

 private:
  struct Runner;
  std::unique_ptr<Runner> runner_;
  std::shared_ptr<detail::ProjectorCore> core_;
  std::shared_ptr<MetricsRegistry> metrics_;
  MetricsRegistry::CollectorId collector_ = 0;
};

}  // namespace strata
