// ProjectorCore: the state and locking behind a Projector (projector.h), shared by the files that
// implement it: projector.cc (lifecycle and status), projector_apply.cc (applying and committing a
// batch), projector_parking.cc (parked events) and projector_rebuild.cc (shadow generations). Also the
// small values they pass around: RateMeter and Outcome.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "strata/projections/projector.h"

namespace strata::detail {

using Clock = std::chrono::steady_clock;

// Events per second over the last few seconds: per-batch counts in a sliding window.
class RateMeter {
 public:
  void reset(Clock::time_point now) {
    samples_.clear();
    since_ = now;
  }
  void add(Clock::time_point now, std::uint64_t n) {
    samples_.emplace_back(now, n);
    while (!samples_.empty() && now - samples_.front().first > kWindow) samples_.pop_front();
  }
  double rate(Clock::time_point now) const {
    std::uint64_t sum = 0;
    for (const auto& [t, n] : samples_)
      if (now - t <= kWindow) sum += n;
    const double span = std::chrono::duration<double>(std::min<Clock::duration>(kWindow, now - since_)).count();
    return static_cast<double>(sum) / std::max(span, 1e-3);
  }

 private:
  static constexpr Clock::duration kWindow = std::chrono::seconds(5);
  std::deque<std::pair<Clock::time_point, std::uint64_t>> samples_;
  Clock::time_point since_{};
};

inline Timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// What one step of the projector came to.
struct Outcome {
  // Work remains now (the log's head moved past the checkpoint, or a shadow is behind).
  bool more = false;
  // Retry after this wait; `error` says why.
  std::optional<std::chrono::milliseconds> backoff;
  // Stop in state kFailed with `error`.
  bool fatal = false;
  Status error;
};

// Whether a failed storage commit can clear up by itself (retry) or means a bug or a rival (stop).
inline bool is_fatal_commit_error(const Status& s) {
  return s.code() == StatusCode::kWrongExpectedVersion || s.code() == StatusCode::kInvalidArgument;
}

class ProjectorCore : public std::enable_shared_from_this<ProjectorCore> {
 public:
  ProjectorCore(EventStore& store, ProjectionStorage& storage, std::unique_ptr<ProjectionHandler> handler,
                ProjectorOptions options, boost::asio::any_io_executor executor)
      : store_(store),
        storage_(storage),
        handler_(std::move(handler)),
        options_(std::move(options)),
        name_(handler_->name()),
        strand_(boost::asio::make_strand(executor)),
        timer_(strand_),
        batch_(name_) {
    published_.name = name_;
  }

  const std::string& name() const noexcept { return name_; }
  ProjectionStorage& storage() const noexcept { return storage_; }

  // projector.cc
  Status start();
  Status stop();
  Status drain(std::chrono::milliseconds timeout);
  Status wait_for(Position position, std::chrono::milliseconds timeout);
  ProjectorStatus status() const;
  // projector_rebuild.cc
  Status rebuild();
  Status cancel_rebuild();
  // projector_parking.cc
  Result<std::vector<ParkedEvent>> parked(Position after, std::size_t max_count) const;
  Status retry_parked(Position position);
  Status skip_parked(Position position);

 private:
  struct Failing {
    Generation generation = 0;
    Position position = 0;
    std::uint32_t attempts = 0;
  };

  // What applying one batch came to, for the failure policy and the commit that follow it.
  struct BatchRun {
    bool shadow = false;
    Generation generation = 0;
    // The checkpoint the batch starts after, and the last position it covers (applied, skipped or parked).
    Position done = 0;
    Position last = 0;
    std::uint64_t applied = 0;
    std::uint64_t skipped = 0;
    // Positions passed over because their events were removed (deleted or truncated streams).
    std::uint64_t removed = 0;
    // The event that ended the batch by failing, and why.
    std::optional<RecordedEvent> failed_event;
    Status failure;
    // The failed event is parked by this batch's commit.
    bool parked_now = false;
    // The batch cannot commit and the projector stops (partitions that wrote the same row).
    Status fatal;
  };

  // One partition of a batch applied on several threads (ProjectorOptions::partitions).
  struct Partition {
    explicit Partition(const std::string& name) : batch(name) {}
    ProjectionHandler* handler = nullptr;  // handler_ for the first partition, `own` for the others
    std::unique_ptr<ProjectionHandler> own;
    ProjectionWriteBatch batch;
    std::vector<std::uint32_t> events;  // indexes into views_ of the chunk being applied, in log order
    std::uint64_t applied = 0;
    std::optional<std::uint32_t> failed;  // the index of the event that failed, if one did, and why
    Status failure;
  };
  // An event of a chunk, its bytes at these offsets in the chunk's arena.
  struct Buffered {
    EventView view;  // the views are set once the chunk is read (the arena no longer moves)
    std::size_t stream = 0, type = 0, metadata = 0, payload = 0;
  };
  // Where a batch stood before a chunk was read.
  struct ChunkStart {
    Position last = 0;
    std::uint64_t skipped = 0;
    std::uint64_t removed = 0;
  };
  // Events read from the log for the partitions to apply.
  struct Chunk {
    std::string arena;
    std::vector<Buffered> events;  // those the handler knows, in log order
    ChunkStart before;
    std::uint64_t positions = 0;  // how many positions the chunk covers
  };

  // kInvalidArgument when called from one of the projector's own handlers (it would wait for itself).
  Status on_handler_thread() const;

  // On the strand (projector.cc).
  void begin(std::uint64_t epoch);
  void wake();
  void post_step();
  void step();
  void halt(ProjectorState final_state, Status error);

  // REQUIRES: apply_mu_ held.
  // projector_apply.cc
  Outcome run_once();
  Outcome process(bool shadow, Position limit);
  Status apply_events(BatchRun& run, Position limit, bool fresh = true);
  Status apply_partitioned(BatchRun& run, Position limit);
  Status read_chunk(Chunk& chunk, BatchRun& run, std::uint64_t max_count);
  void apply_chunk(const Chunk& chunk, Generation generation, std::latch& applied);
  Status join_partitions();
  // Sets up partitions_ and pool_ when options_.partitions > 1; kInvalidArgument when the handler
  // cannot be cloned or the count is out of range.
  Status start_partitions();
  void apply_failure_policy(BatchRun& run, Outcome& o);
  bool commit_batch(BatchRun& run, Outcome& o);
  void publish_batch(const BatchRun& run, const Outcome& o);
  void commit_failed(Outcome& o, Status error);
  std::chrono::milliseconds backoff(std::uint32_t attempts) const;
  // projector_rebuild.cc
  Status swap_in_shadow();
  // projector.cc
  Status commit_state(ProjectionWriteBatch& batch, const ProjectionState& next);
  Status refresh_state_if_idle();
  // REQUIRES: apply_mu_ and mu_ held.
  void publish(Position head);

  EventStore& store_;
  ProjectionStorage& storage_;
  const std::unique_ptr<ProjectionHandler> handler_;
  const ProjectorOptions options_;
  const std::string name_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;

  // Touched on the strand only.
  boost::asio::steady_timer timer_;
  bool running_ = false;
  bool step_posted_ = false;
  bool timer_armed_ = false;
  std::uint64_t running_epoch_ = 0;
  std::atomic<bool> wake_pending_{false};

  // Held while events are applied and committed (on the strand) and by the calls that change the stored
  // state from other threads (rebuild, retry, skip). Lock order: apply_mu_ before mu_.
  std::mutex apply_mu_;
  ProjectionState stored_;            // GUARDED_BY(apply_mu_); the state as last committed or loaded
  bool has_state_ = false;            // GUARDED_BY(apply_mu_)
  ProjectionWriteBatch batch_;        // GUARDED_BY(apply_mu_); reused for every batch
  std::optional<Failing> failing_;    // GUARDED_BY(apply_mu_); the event being retried
  std::uint32_t infra_attempts_ = 0;  // GUARDED_BY(apply_mu_); consecutive store or storage failures
  // Partitioned batches (empty with one partition), the chunks they apply, and the partitions' threads
  // (the pool goes first when the projector is destroyed).
  std::vector<Partition> partitions_;  // GUARDED_BY(apply_mu_)
  Chunk chunks_[2];                    // GUARDED_BY(apply_mu_); one applied while the other is read
  std::unique_ptr<boost::asio::thread_pool> pool_;

  // Guards what other threads read, and the start/stop handshake.
  mutable std::mutex mu_;
  std::condition_variable cv_;            // notified when published_ or started_ change
  bool started_ = false;                  // GUARDED_BY(mu_)
  std::uint64_t epoch_ = 0;               // GUARDED_BY(mu_); one per start()
  std::optional<Position> drain_target_;  // GUARDED_BY(mu_)
  CommitSubscription subscription_;       // GUARDED_BY(mu_)
  ProjectorStatus published_;             // GUARDED_BY(mu_); without head and lag, filled in by status()
  Generation shadow_generation_ = 0;      // GUARDED_BY(mu_)
  Position shadow_position_ = 0;          // GUARDED_BY(mu_)
  RateMeter rate_;                        // GUARDED_BY(mu_)
  RateMeter shadow_rate_;                 // GUARDED_BY(mu_)
};

}  // namespace strata::detail
