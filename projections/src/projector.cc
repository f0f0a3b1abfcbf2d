// Projector: its facade, and the lifecycle of the ProjectorCore behind it: start, the steps on the
// strand (begin, wake, step, halt), stop, drain, wait_for and status, with the stored state and the
// published status every part of the projector shares. Applying a batch is in projector_apply.cc,
// parked events in projector_parking.cc, rebuilds in projector_rebuild.cc.
#include "strata/projections/projector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "projector_core.h"

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

Status ProjectorCore::on_handler_thread() const {
  if (strand_.running_in_this_thread())
    return Status::invalid_argument(
        fmt::format("projector \"{}\": this call waits for the projector and cannot be made from its handlers", name_));
  return {};
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
    STRATA_RETURN_IF_ERROR(start_partitions());
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
    published_.applied = published_.skipped = published_.parked = published_.removed = 0;
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
    // A projector that failed before the call reports why, as one that fails during it does.
    std::lock_guard lock(mu_);
    if (!started_) return published_.state == ProjectorState::kFailed ? published_.error : Status();
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
                                           target.value(), timeout.count(), published_.position.value()));
  return published_.state == ProjectorState::kFailed ? published_.error : Status();
}

Status ProjectorCore::wait_for(Position position, std::chrono::milliseconds timeout) {
  STRATA_RETURN_IF_ERROR(on_handler_thread());
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return published_.position >= position || !started_; });
  if (published_.position >= position) return {};
  if (published_.state == ProjectorState::kFailed) return published_.error;
  if (!started_)
    return Status::cancelled(fmt::format("projector \"{}\" is stopped at position {}, before {}", name_,
                                         published_.position.value(), position.value()));
  return Status::unavailable(fmt::format("projector \"{}\" did not reach position {} within {} ms (at {})", name_,
                                         position.value(), timeout.count(), published_.position.value()));
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
  metrics_ = options.metrics;
  core_ = std::make_shared<detail::ProjectorCore>(store, storage, std::move(handler), std::move(options),
                                                  std::move(executor));
  if (metrics_ != nullptr)
    collector_ = metrics_->add_collector([core = core_.get()](MetricsWriter& w) {
      const ProjectorStatus s = core->status();
      const MetricLabels labels{{"projection", s.name}};
      w.gauge("strata_projector_position", "The last log position the projection applied (its checkpoint).", labels,
              static_cast<double>(s.position.value()));
      w.gauge("strata_projector_lag_events", "Events committed to the store and not yet applied.", labels,
              static_cast<double>(s.lag_events));
      w.gauge("strata_projector_lag_seconds", "Age of the oldest event not yet applied, in seconds.", labels,
              s.lag_seconds);
      w.gauge("strata_projector_events_per_second", "Events applied or skipped per second, lately.", labels,
              s.events_per_second);
      w.counter("strata_projector_applied_total", "Events applied since the projector started.", labels,
                static_cast<double>(s.applied));
      w.counter("strata_projector_skipped_total", "Events of types the projection does not handle, since start.",
                labels, static_cast<double>(s.skipped));
      w.counter("strata_projector_parked_total", "Events parked since the projector started.", labels,
                static_cast<double>(s.parked));
      w.counter("strata_projector_removed_total",
                "Log positions passed over since start because their events were removed (deleted or truncated "
                "streams) before the projection applied them.",
                labels, static_cast<double>(s.removed));
      for (ProjectorState state : {ProjectorState::kStopped, ProjectorState::kCatchingUp, ProjectorState::kLive,
                                   ProjectorState::kStalled, ProjectorState::kFailed}) {
        MetricLabels with_state = labels;
        with_state.emplace_back("state", std::string(projector_state_name(state)));
        w.gauge("strata_projector_state", "1 for the projector's state, 0 for the others.", with_state,
                s.state == state ? 1 : 0);
      }
      if (s.rebuild) {
        w.gauge("strata_projector_rebuild_position", "The last position applied to the generation being rebuilt.",
                labels, static_cast<double>(s.rebuild->position.value()));
        w.gauge("strata_projector_rebuild_target", "The position the rebuild must reach to take over.", labels,
                static_cast<double>(s.rebuild->target.value()));
      }
    });
}

Projector::~Projector() {
  if (collector_ != 0) metrics_->remove_collector(collector_);
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
