#include "strata/projections/projector.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "strata/core/backend/metadata_encoding.h"

namespace strata {

namespace asio = boost::asio;

std::string_view projector_state_name(ProjectorState state) noexcept {
  switch (state) {
    case ProjectorState::kStopped:
      return "stopped";
    case ProjectorState::kCatchingUp:
      return "catching up";
    case ProjectorState::kLive:
      return "live";
    case ProjectorState::kStalled:
      return "stalled";
    case ProjectorState::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace detail {
namespace {

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

Timestamp system_now() {
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
bool is_fatal_commit_error(const Status& s) {
  return s.code() == StatusCode::kWrongExpectedVersion || s.code() == StatusCode::kInvalidArgument;
}

}  // namespace

class ProjectorCore : public std::enable_shared_from_this<ProjectorCore> {
 public:
  ProjectorCore(EventStore& store, ProjectionStorage& storage, std::unique_ptr<ProjectionHandler> handler,
                ProjectorOptions options, asio::any_io_executor executor)
      : store_(store),
        storage_(storage),
        handler_(std::move(handler)),
        options_(std::move(options)),
        name_(handler_->name()),
        strand_(asio::make_strand(executor)),
        timer_(strand_),
        batch_(name_) {
    published_.name = name_;
  }

  const std::string& name() const noexcept { return name_; }
  ProjectionStorage& storage() const noexcept { return storage_; }

  Status start();
  Status stop();
  Status drain(std::chrono::milliseconds timeout);
  Status wait_for(Position position, std::chrono::milliseconds timeout);
  ProjectorStatus status() const;
  Status rebuild();
  Status cancel_rebuild();
  Result<std::vector<ParkedEvent>> parked(Position after, std::size_t max_count) const;
  Status retry_parked(Position position);
  Status skip_parked(Position position);

 private:
  struct Failing {
    Generation generation = 0;
    Position position = 0;
    std::uint32_t attempts = 0;
  };

  Status on_handler_thread() const {
    if (strand_.running_in_this_thread())
      return Status::invalid_argument(fmt::format(
          "projector \"{}\": this call waits for the projector and cannot be made from its handlers", name_));
    return {};
  }
  std::chrono::milliseconds backoff(std::uint32_t attempts) const;

  // On the strand.
  void begin(std::uint64_t epoch);
  void wake();
  void post_step();
  void step();
  void halt(ProjectorState final_state, Status error);

  // REQUIRES: apply_mu_ held.
  Outcome run_once();
  Outcome process(bool shadow, Position limit);
  Status commit_state(ProjectionWriteBatch& batch, const ProjectionState& next);
  Status refresh_state_if_idle();
  void publish(Position head);

  EventStore& store_;
  ProjectionStorage& storage_;
  const std::unique_ptr<ProjectionHandler> handler_;
  const ProjectorOptions options_;
  const std::string name_;
  asio::strand<asio::any_io_executor> strand_;

  // Touched on the strand only.
  asio::steady_timer timer_;
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

std::chrono::milliseconds ProjectorCore::backoff(std::uint32_t attempts) const {
  const ErrorPolicy& p = options_.errors;
  double ms = static_cast<double>(p.first_backoff.count()) *
              std::pow(std::max(1.0, p.backoff_multiplier), static_cast<double>(attempts > 0 ? attempts - 1 : 0));
  ms = std::min(ms, static_cast<double>(p.max_backoff.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Status ProjectorCore::start() {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  if (name_.empty() || name_.size() > kMaxProjectionNameBytes)
    return Status::invalid_argument(
        fmt::format("projection name has {} bytes, expected 1 to {}", name_.size(), kMaxProjectionNameBytes));
  if (options_.batch_size == 0 || options_.errors.max_attempts == 0 || options_.batch_duration.count() < 0)
    return Status::invalid_argument(fmt::format(
        "projector \"{}\": batch_size and errors.max_attempts must be at least 1, batch_duration at least 0", name_));
  std::uint64_t epoch;
  {
    std::lock_guard apply(apply_mu_);
    {
      std::lock_guard lock(mu_);
      if (started_) return {};
    }
    STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> loaded, storage_.load_state(name_));
    if (!loaded) {
      // A new projection: record where it starts, so a restart before its first batch starts there too.
      ProjectionState initial;
      initial.checkpoint = options_.start_from == kEndOfLog ? store_.head_position()
                                                            : (options_.start_from == 0 ? 0 : options_.start_from - 1);
      ProjectionWriteBatch batch(name_);
      batch.set_state(std::nullopt, initial);
      STRATA_RETURN_IF_ERROR(storage_.commit(batch));
      loaded = initial;
    }
    stored_ = *loaded;
    has_state_ = true;
    failing_.reset();
    infra_attempts_ = 0;

    std::lock_guard lock(mu_);
    started_ = true;
    epoch = ++epoch_;
    drain_target_.reset();
    const auto now = Clock::now();
    rate_.reset(now);
    shadow_rate_.reset(now);
    published_.state = ProjectorState::kCatchingUp;
    published_.error = Status();
    published_.applied = published_.skipped = published_.parked = 0;
    published_.failing_position = 0;
    published_.attempts = 0;
    publish(store_.head_position());
    // The listener runs on the committing thread: it only posts, and only when no wake-up is pending.
    subscription_ = store_.subscribe_commits([this](Position) { wake(); });
  }
  asio::post(strand_, [self = shared_from_this(), epoch] { self->begin(epoch); });
  return {};
}

void ProjectorCore::begin(std::uint64_t epoch) {
  {
    std::lock_guard lock(mu_);
    if (!started_ || epoch != epoch_) return;
  }
  running_ = true;
  running_epoch_ = epoch;
  timer_armed_ = false;
  step();
}

// Called by the store on the committing thread after each commit.
void ProjectorCore::wake() {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(strand_, [self = shared_from_this()] {
    self->wake_pending_.store(false, std::memory_order_release);
    if (self->running_ && !self->step_posted_ && !self->timer_armed_) self->step();
  });
}

void ProjectorCore::post_step() {
  if (step_posted_ || timer_armed_ || !running_) return;
  step_posted_ = true;
  asio::post(strand_, [self = shared_from_this()] {
    self->step_posted_ = false;
    self->step();
  });
}

void ProjectorCore::step() {
  if (!running_ || timer_armed_) return;
  Outcome o;
  {
    std::lock_guard apply(apply_mu_);
    o = run_once();
  }
  if (o.fatal) {
    halt(ProjectorState::kFailed, o.error);
    return;
  }
  if (o.backoff) {
    timer_armed_ = true;
    timer_.expires_after(*o.backoff);
    timer_.async_wait([self = shared_from_this(), epoch = running_epoch_](const boost::system::error_code& ec) {
      if (epoch != self->running_epoch_) return;
      self->timer_armed_ = false;
      if (ec || !self->running_) return;
      self->step();
    });
    return;
  }
  bool drained = false;
  {
    std::lock_guard lock(mu_);
    drained = drain_target_ && published_.position >= *drain_target_;
  }
  if (drained) {
    halt(ProjectorState::kStopped, Status());
  } else if (o.more) {
    post_step();
  }
}

void ProjectorCore::halt(ProjectorState final_state, Status error) {
  if (running_) {
    running_ = false;
    timer_armed_ = false;
    ++running_epoch_;  // a timer completion already queued is ignored
    timer_.cancel();
  }
  std::lock_guard lock(mu_);
  if (!started_) return;
  subscription_.reset();
  started_ = false;
  drain_target_.reset();
  published_.state = final_state;
  published_.error = std::move(error);
  cv_.notify_all();
}

Status ProjectorCore::stop() {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  std::unique_lock lock(mu_);
  if (!started_) return {};
  const std::uint64_t epoch = epoch_;
  asio::post(strand_, [self = shared_from_this(), epoch] {
    bool current;
    {
      std::lock_guard l(self->mu_);
      current = self->started_ && self->epoch_ == epoch;
    }
    if (current) self->halt(ProjectorState::kStopped, Status());
  });
  cv_.wait(lock, [&] { return !started_ || epoch_ != epoch; });
  return {};
}

Status ProjectorCore::drain(std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  {
    std::lock_guard lock(mu_);
    if (!started_) return {};
  }
  const Position target = store_.head_position();
  std::unique_lock lock(mu_);
  if (!started_) return published_.state == ProjectorState::kFailed ? published_.error : Status();
  drain_target_ = target;
  const std::uint64_t epoch = epoch_;
  asio::post(strand_, [self = shared_from_this()] {
    if (self->running_ && !self->step_posted_ && !self->timer_armed_) self->step();
  });
  if (!cv_.wait_for(lock, timeout, [&] { return !started_ || epoch_ != epoch; }))
    return Status::unavailable(fmt::format("projector \"{}\" did not drain to position {} within {} ms (at {})", name_,
                                           target, timeout.count(), published_.position));
  return published_.state == ProjectorState::kFailed ? published_.error : Status();
}

Status ProjectorCore::wait_for(Position position, std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return published_.position >= position || !started_; });
  if (published_.position >= position) return {};
  if (published_.state == ProjectorState::kFailed) return published_.error;
  if (!started_)
    return Status::cancelled(
        fmt::format("projector \"{}\" is stopped at position {}, before {}", name_, published_.position, position));
  return Status::unavailable(fmt::format("projector \"{}\" did not reach position {} within {} ms (at {})", name_,
                                         position, timeout.count(), published_.position));
}

// Reads the stored state when no projector session owns it (the calls below may run before start()).
Status ProjectorCore::refresh_state_if_idle() {
  {
    std::lock_guard lock(mu_);
    if (started_ && has_state_) return {};
  }
  STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> loaded, storage_.load_state(name_));
  if (!loaded)
    return Status::not_found(fmt::format("projection \"{}\" has no stored state yet: start its projector", name_));
  stored_ = *loaded;
  has_state_ = true;
  return {};
}

Status ProjectorCore::commit_state(ProjectionWriteBatch& batch, const ProjectionState& next) {
  batch.set_state(has_state_ ? std::optional<ProjectionState>(stored_) : std::nullopt, next);
  STRATA_RETURN_IF_ERROR(storage_.commit(batch));
  stored_ = next;
  has_state_ = true;
  return {};
}

// REQUIRES: apply_mu_ and mu_ held.
void ProjectorCore::publish(Position head) {
  published_.generation = stored_.generation;
  published_.position = stored_.checkpoint;
  published_.head = head;
  shadow_generation_ = stored_.shadow_generation;
  shadow_position_ = stored_.shadow_checkpoint;
  if (failing_) {
    published_.failing_position = failing_->position;
    published_.attempts = failing_->attempts;
  } else {
    published_.failing_position = 0;
    published_.attempts = 0;
  }
  cv_.notify_all();
}

Outcome ProjectorCore::run_once() {
  Outcome o;
  const Position head = store_.head_position();
  if (stored_.checkpoint < head) {
    o = process(false, head);
    if (o.fatal || o.backoff) return o;
  }
  if (stored_.rebuilding()) {
    if (stored_.shadow_checkpoint < stored_.checkpoint) {
      o = process(true, stored_.checkpoint);
      if (o.fatal || o.backoff) return o;
    }
    if (stored_.shadow_checkpoint >= stored_.checkpoint) {
      // The shadow has caught up with the serving generation: one commit makes it serve.
      ProjectionWriteBatch swap(name_);
      swap.drop_generation(stored_.generation);
      ProjectionState next;
      next.generation = stored_.shadow_generation;
      next.checkpoint = stored_.shadow_checkpoint;
      Status c = commit_state(swap, next);
      if (!c.ok()) {
        o.error = c.with_context(fmt::format("projector \"{}\": swapping in the rebuilt generation", name_));
        if (is_fatal_commit_error(c)) {
          o.fatal = true;
        } else {
          o.backoff = backoff(++infra_attempts_);
        }
        return o;
      }
    }
  }
  const Position now_head = store_.head_position();
  o.more = stored_.checkpoint < now_head || (stored_.rebuilding() && stored_.shadow_checkpoint < stored_.checkpoint);
  std::lock_guard lock(mu_);
  published_.state = stored_.checkpoint >= now_head ? ProjectorState::kLive : ProjectorState::kCatchingUp;
  published_.error = Status();
  publish(now_head);
  return o;
}

Outcome ProjectorCore::process(bool shadow, Position limit) {
  Outcome o;
  const Generation generation = shadow ? stored_.shadow_generation : stored_.generation;
  const Position done = shadow ? stored_.shadow_checkpoint : stored_.checkpoint;
  const std::size_t max_count = static_cast<std::size_t>(std::min<std::uint64_t>(options_.batch_size, limit - done));
  const Limits& limits = store_.limits();

  batch_.clear();
  ReadModelTx tx(storage_, batch_, generation);
  Position last = done;
  std::uint64_t applied = 0, skipped = 0;
  std::optional<RecordedEvent> failed_event;
  Status failure;
  // A batch also ends when its time is up: the clock is read every kClockEvery events.
  constexpr std::uint64_t kClockEvery = 16;
  const auto deadline = Clock::now() + options_.batch_duration;
  bool time_up = false;
  auto visited = store_.visit_log(done + 1, max_count, LogFilter{}, [&](const EventView& e) -> Status {
    if ((applied + skipped) % kClockEvery == kClockEvery - 1 && options_.batch_duration.count() > 0 &&
        Clock::now() >= deadline) {
      time_up = true;
      return Status::cancelled("the batch's time is up");
    }
    if (!handler_->knows(e.type)) {  // skipped before the payload is parsed
      ++skipped;
      last = e.position;
      return {};
    }
    const std::size_t mark = batch_.mark();
    Status s = guarded_call([&] { return handler_->apply(e, tx, limits); }, "projection");
    if (!s.ok()) {
      batch_.rollback(mark);  // the failed event leaves no writes behind
      failure = std::move(s);
      auto copy = e.to_recorded();
      if (copy.ok()) {
        failed_event = std::move(*copy);
      } else {
        failed_event = RecordedEvent{std::string(e.stream_id), e.version,   e.position, e.id,
                                     std::string(e.type),      e.timestamp, {},         std::string(e.payload)};
      }
      return Status::cancelled("stopped at a failing event");
    }
    batch_.forget_undo();  // only the event being applied is ever rolled back
    ++applied;
    last = e.position;
    return {};
  });
  if (!visited.ok() && !failed_event && !time_up) {
    o.error = visited.status().with_context(fmt::format("projector \"{}\": reading the log at {}", name_, done + 1));
    o.backoff = backoff(++infra_attempts_);
    return o;
  }

  // A failing event: retry it later, park it, or stop — after committing the events before it.
  bool parked_now = false;
  if (failed_event) {
    const Position p = failed_event->position;
    const std::uint32_t attempts =
        failing_ && failing_->generation == generation && failing_->position == p ? failing_->attempts + 1 : 1;
    failing_ = Failing{generation, p, attempts};
    o.error = failure;
    if (attempts < options_.errors.max_attempts) {
      o.backoff = backoff(attempts);
    } else if (options_.errors.when_exhausted == ErrorPolicy::Exhausted::kPark) {
      batch_.park(ParkedEvent{generation, std::move(*failed_event), failure, attempts, system_now()});
      last = p;
      parked_now = true;
      o.error = Status();
    } else {
      o.fatal = true;
      o.error = failure.with_context(
          fmt::format("projector \"{}\" stopped: the event at position {} failed {} times", name_, p, attempts));
    }
  }

  if (last > done || !batch_.empty()) {
    if (applied > 0) {
      Status f = guarded_call([&] { return handler_->flush(); }, "flush");
      if (!f.ok()) {
        // Nothing of the batch counts as delivered: it is applied again after the wait.
        o.error = f;
        o.fatal = false;
        o.backoff = backoff(++infra_attempts_);
        return o;
      }
    }
    ProjectionState next = stored_;
    (shadow ? next.shadow_checkpoint : next.checkpoint) = last;
    Status c = commit_state(batch_, next);
    batch_.clear();
    if (!c.ok()) {
      o.error = c.with_context(fmt::format("projector \"{}\": committing up to position {}", name_, last));
      o.fatal = is_fatal_commit_error(c);
      o.backoff.reset();
      if (!o.fatal) o.backoff = backoff(++infra_attempts_);
      return o;
    }
    infra_attempts_ = 0;
    if (parked_now || (failing_ && failing_->generation == generation && last >= failing_->position)) failing_.reset();
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    (shadow ? shadow_rate_ : rate_).add(now, last - done);
    if (!shadow) {
      published_.applied += applied;
      published_.skipped += skipped;
    }
    if (parked_now) ++published_.parked;
    if (!shadow && !o.backoff && !o.fatal) {
      const Position head = store_.head_position();
      published_.state = stored_.checkpoint >= head ? ProjectorState::kLive : ProjectorState::kCatchingUp;
      published_.error = Status();
      published_.head = head;
    }
    publish(published_.head);
  }
  if (o.backoff || o.fatal) {
    std::lock_guard lock(mu_);
    published_.state = o.fatal ? ProjectorState::kFailed : ProjectorState::kStalled;
    published_.error = o.error;
    publish(published_.head);
  }
  return o;
}

ProjectorStatus ProjectorCore::status() const {
  ProjectorStatus s;
  const auto now = Clock::now();
  Generation shadow_generation;
  Position shadow_position;
  double shadow_rate;
  {
    std::lock_guard lock(mu_);
    s = published_;
    s.events_per_second = rate_.rate(now);
    shadow_generation = shadow_generation_;
    shadow_position = shadow_position_;
    shadow_rate = shadow_rate_.rate(now);
  }
  s.head = store_.head_position();
  s.lag_events = s.head > s.position ? s.head - s.position : 0;
  s.lag_seconds = 0;
  if (s.lag_events > 0) {
    Timestamp oldest{};
    auto r = store_.visit_log(s.position + 1, 1, LogFilter{}, [&](const EventView& e) -> Status {
      oldest = e.timestamp;
      return {};
    });
    if (r.ok() && oldest != Timestamp{})
      s.lag_seconds = std::max(0.0, std::chrono::duration<double>(system_now() - oldest).count());
  }
  if (shadow_generation != 0) {
    RebuildProgress p;
    p.generation = shadow_generation;
    p.position = shadow_position;
    p.target = s.position;
    p.events_per_second = shadow_rate;
    if (shadow_rate > 0) {
      const double left = static_cast<double>(p.target > p.position ? p.target - p.position : 0) / shadow_rate;
      p.eta = std::chrono::seconds(static_cast<std::int64_t>(std::ceil(left)));
    }
    s.rebuild = p;
  }
  return s;
}

Status ProjectorCore::rebuild() {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  if (!handler_->has_read_models())
    return Status::invalid_argument(
        fmt::format("projection \"{}\" feeds a sink and keeps no read models to rebuild", name_));
  {
    std::lock_guard apply(apply_mu_);
    STRATA_RETURN_IF_ERROR(refresh_state_if_idle());
    if (stored_.rebuilding())
      return Status::invalid_argument(fmt::format("projection \"{}\" is already rebuilding generation {} (at {})",
                                                  name_, stored_.shadow_generation, stored_.shadow_checkpoint));
    ProjectionState next = stored_;
    next.shadow_generation = stored_.generation + 1;
    next.shadow_checkpoint = 0;
    ProjectionWriteBatch batch(name_);
    batch.drop_generation(next.shadow_generation);  // leftovers of an abandoned rebuild, if any
    STRATA_RETURN_IF_ERROR(commit_state(batch, next));
    std::lock_guard lock(mu_);
    shadow_rate_.reset(Clock::now());
    publish(published_.head);
  }
  asio::post(strand_, [self = shared_from_this()] {
    if (self->running_ && !self->step_posted_ && !self->timer_armed_) self->step();
  });
  return {};
}

Status ProjectorCore::cancel_rebuild() {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  std::lock_guard apply(apply_mu_);
  STRATA_RETURN_IF_ERROR(refresh_state_if_idle());
  if (!stored_.rebuilding())
    return Status::not_found(fmt::format("projection \"{}\" has no rebuild in progress", name_));
  ProjectionState next = stored_;
  next.shadow_generation = 0;
  next.shadow_checkpoint = 0;
  ProjectionWriteBatch batch(name_);
  batch.drop_generation(stored_.shadow_generation);
  STRATA_RETURN_IF_ERROR(commit_state(batch, next));
  if (failing_ && failing_->generation != stored_.generation) failing_.reset();
  std::lock_guard lock(mu_);
  publish(published_.head);
  return {};
}

Result<std::vector<ParkedEvent>> ProjectorCore::parked(Position after, std::size_t max_count) const {
  Generation shadow;
  {
    std::lock_guard lock(mu_);
    shadow = shadow_generation_;
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<ParkedEvent> out,
                          storage_.list_parked(name_, kServingGeneration, after, max_count));
  if (shadow != 0) {
    STRATA_ASSIGN_OR_RETURN(std::vector<ParkedEvent> more, storage_.list_parked(name_, shadow, after, max_count));
    for (auto& p : more) out.push_back(std::move(p));
  }
  return out;
}

Status ProjectorCore::retry_parked(Position position) {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  std::lock_guard apply(apply_mu_);
  STRATA_RETURN_IF_ERROR(refresh_state_if_idle());
  std::vector<Generation> generations{stored_.generation};
  if (stored_.rebuilding()) generations.push_back(stored_.shadow_generation);
  bool found = false;
  Status result;
  for (Generation g : generations) {
    STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> parked, storage_.get_parked(name_, g, position));
    if (!parked) continue;
    found = true;
    const RecordedEvent& r = parked->event;
    std::string metadata;
    encode_metadata(r.metadata, metadata);
    const EventView view{r.stream_id, r.version, r.position, r.id, r.type, r.timestamp, metadata, r.payload};
    ProjectionWriteBatch batch(name_);
    ReadModelTx tx(storage_, batch, g);
    Status s;
    if (handler_->knows(r.type)) {
      s = guarded_call([&] { return handler_->apply(view, tx, store_.limits()); }, "projection");
      if (s.ok()) s = guarded_call([&] { return handler_->flush(); }, "flush");
    }
    if (s.ok()) {
      batch.unpark(g, position);
    } else {
      batch.rollback(0);
      ParkedEvent again = *parked;
      again.attempts += 1;
      again.error = s;
      again.parked_at = system_now();
      batch.park(std::move(again));
      if (result.ok()) result = s;
    }
    // The unchanged state as the expected one: a rival writer makes this fail rather than interleave.
    STRATA_RETURN_IF_ERROR(commit_state(batch, stored_));
  }
  if (!found)
    return Status::not_found(fmt::format("projection \"{}\" has no parked event at position {}", name_, position));
  return result;
}

Status ProjectorCore::skip_parked(Position position) {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  std::lock_guard apply(apply_mu_);
  STRATA_RETURN_IF_ERROR(refresh_state_if_idle());
  std::vector<Generation> generations{stored_.generation};
  if (stored_.rebuilding()) generations.push_back(stored_.shadow_generation);
  ProjectionWriteBatch batch(name_);
  bool found = false;
  for (Generation g : generations) {
    STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> parked, storage_.get_parked(name_, g, position));
    if (!parked) continue;
    found = true;
    batch.unpark(g, position);
  }
  if (!found)
    return Status::not_found(fmt::format("projection \"{}\" has no parked event at position {}", name_, position));
  return commit_state(batch, stored_);
}

}  // namespace detail

struct Projector::Runner {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
};

Projector::Projector(EventStore& store, ProjectionStorage& storage, std::unique_ptr<ProjectionHandler> handler,
                     ProjectorOptions options) {
  asio::any_io_executor executor;
  if (options.executor) {
    executor = *options.executor;
  } else {
    runner_ = std::make_unique<Runner>();
    runner_->thread = std::thread([runner = runner_.get()] { runner->io.run(); });
    executor = runner_->io.get_executor();
  }
  core_ = std::make_shared<detail::ProjectorCore>(store, storage, std::move(handler), std::move(options),
                                                  std::move(executor));
}

Projector::~Projector() {
  (void)core_->stop();
  if (runner_) {
    runner_->work.reset();
    runner_->thread.join();
  }
  core_.reset();  // before the runner's io_context, whose strand and timer it holds
}

Status Projector::start() { return core_->start(); }
Status Projector::stop() { return core_->stop(); }
Status Projector::drain(std::chrono::milliseconds timeout) { return core_->drain(timeout); }
Status Projector::wait_for(Position position, std::chrono::milliseconds timeout) {
  return core_->wait_for(position, timeout);
}
ProjectorStatus Projector::status() const { return core_->status(); }
Status Projector::rebuild() { return core_->rebuild(); }
Status Projector::cancel_rebuild() { return core_->cancel_rebuild(); }
Result<std::vector<ParkedEvent>> Projector::parked(Position after, std::size_t max_count) const {
  return core_->parked(after, max_count);
}
Status Projector::retry_parked(Position position) { return core_->retry_parked(position); }
Status Projector::skip_parked(Position position) { return core_->skip_parked(position); }
ReadModelReader Projector::reader() const { return ReadModelReader(core_->storage(), core_->name()); }
const std::string& Projector::name() const noexcept { return core_->name(); }

}  // namespace strata
