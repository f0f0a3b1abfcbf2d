// Applying a batch: run_once() moves the serving generation (and a shadow being rebuilt) towards the head
// of the log, one process() per generation. process() applies events from the log into the batch
// (apply_events), decides what happens to an event that failed (apply_failure_policy: retry, park or
// stop), then flushes and commits the batch with its checkpoint and publishes the counts (commit_batch,
// publish_batch). Every function here runs with apply_mu_ held.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "projector_core.h"

namespace strata::detail {

std::chrono::milliseconds ProjectorCore::backoff(std::uint32_t attempts) const {
  const ErrorPolicy& p = options_.errors;
  double ms = static_cast<double>(p.first_backoff.count()) *
              std::pow(std::max(1.0, p.backoff_multiplier), static_cast<double>(attempts > 0 ? attempts - 1 : 0));
  ms = std::min(ms, static_cast<double>(p.max_backoff.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

// A commit to the storage failed: a rival or a bug stops the projector, anything else is retried.
void ProjectorCore::commit_failed(Outcome& o, Status error) {
  o.error = std::move(error);
  o.fatal = is_fatal_commit_error(o.error);
  o.backoff.reset();
  if (!o.fatal) o.backoff = backoff(++infra_attempts_);
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
      Status swapped = swap_in_shadow();
      if (!swapped.ok()) {
        commit_failed(o, std::move(swapped));
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

// One batch of the serving generation, or of the shadow (`shadow`), up to position `limit`.
Outcome ProjectorCore::process(bool shadow, Position limit) {
  Outcome o;
  BatchRun run;
  run.shadow = shadow;
  run.generation = shadow ? stored_.shadow_generation : stored_.generation;
  run.done = run.last = shadow ? stored_.shadow_checkpoint : stored_.checkpoint;
  Status read = apply_events(run, limit);
  if (!read.ok()) {
    o.error = read.with_context(fmt::format("projector \"{}\": reading the log at {}", name_, (run.done + 1).value()));
    o.backoff = backoff(++infra_attempts_);
    return o;
  }
  // A failing event: retry it later, park it, or stop — after committing the events before it.
  if (run.failed_event) apply_failure_policy(run, o);
  if (run.last > run.done || !batch_.empty()) {
    if (!commit_batch(run, o)) return o;
  }
  if (o.backoff || o.fatal) {
    std::lock_guard lock(mu_);
    published_.state = o.fatal ? ProjectorState::kFailed : ProjectorState::kStalled;
    published_.error = o.error;
    publish(published_.head);
  }
  return o;
}

// Applies events after run.done into batch_, up to `limit`, options_.batch_size events or
// options_.batch_duration, until an event fails (run.failed_event). Returns the store's error when the
// log could not be read; the batch then counts for nothing.
Status ProjectorCore::apply_events(BatchRun& run, Position limit) {
  const std::size_t max_count =
      static_cast<std::size_t>(std::min<std::uint64_t>(options_.batch_size, limit - run.done));
  const Limits& limits = store_.limits();
  batch_.clear();
  ReadModelTx tx(storage_, batch_, run.generation);
  // A batch also ends when its time is up: the clock is read every kClockEvery events.
  constexpr std::uint64_t kClockEvery = 16;
  const auto deadline = Clock::now() + options_.batch_duration;
  bool time_up = false;
  auto visited = store_.visit_log(run.done + 1, max_count, LogFilter{}, [&](const EventView& e) -> Status {
    if ((run.applied + run.skipped) % kClockEvery == kClockEvery - 1 && options_.batch_duration.count() > 0 &&
        Clock::now() >= deadline) {
      time_up = true;
      return Status::cancelled("the batch's time is up");
    }
    if (!handler_->knows(e.type)) {  // skipped before the payload is parsed
      ++run.skipped;
      run.last = e.position;
      return {};
    }
    const std::size_t mark = batch_.mark();
    Status s = guarded_call([&] { return handler_->apply(e, tx, limits); }, "projection");
    if (!s.ok()) {
      batch_.rollback(mark);  // the failed event leaves no writes behind
      run.failure = std::move(s);
      auto copy = e.to_recorded();
      if (copy.ok()) {
        run.failed_event = std::move(*copy);
      } else {
        run.failed_event = RecordedEvent{std::string(e.stream_id), e.version,   e.position, e.id,
                                         std::string(e.type),      e.timestamp, {},         std::string(e.payload)};
      }
      return Status::cancelled("stopped at a failing event");
    }
    batch_.forget_undo();  // only the event being applied is ever rolled back
    ++run.applied;
    run.last = e.position;
    return {};
  });
  if (!visited.ok() && !run.failed_event && !time_up) return visited.status();
  if (visited.ok()) {
    // Removed events (tombstones) are passed over: the checkpoint moves past them, and they are counted.
    run.last = std::max(run.last, visited->next_position - 1);
    run.removed = visited->removed;
  }
  return {};
}

// The failed event is tried again after a backoff until it has had options_.errors.max_attempts; then
// it is parked in this batch's commit, or it stops the projector. A type the projection cannot read
// (kUnknownEventType: an old version without its upcaster) stays unreadable until other code is deployed,
// so it is parked or stops at once rather than after a series of futile waits.
void ProjectorCore::apply_failure_policy(BatchRun& run, Outcome& o) {
  const Position p = run.failed_event->position;
  const std::uint32_t attempts =
      failing_ && failing_->generation == run.generation && failing_->position == p ? failing_->attempts + 1 : 1;
  failing_ = Failing{run.generation, p, attempts};
  o.error = run.failure;
  const bool unreadable = run.failure.code() == StatusCode::kUnknownEventType;
  if (!unreadable && attempts < options_.errors.max_attempts) {
    o.backoff = backoff(attempts);
  } else if (options_.errors.when_exhausted == ErrorPolicy::Exhausted::kPark) {
    batch_.park(ParkedEvent{run.generation, std::move(*run.failed_event), run.failure, attempts, system_now()});
    run.last = p;
    run.parked_now = true;
    o.error = Status();
  } else {
    o.fatal = true;
    o.error = run.failure.with_context(
        unreadable ? fmt::format("projector \"{}\" stopped: the event at position {} has a type it cannot read", name_,
                                 p.value())
                   : fmt::format("projector \"{}\" stopped: the event at position {} failed {} times", name_, p.value(),
                                 attempts));
  }
}

// Flushes the handler (a sink acknowledges what it was given) and commits batch_ with the new checkpoint.
// Returns false when either failed: `o` then says why and when to try again.
bool ProjectorCore::commit_batch(BatchRun& run, Outcome& o) {
  if (run.applied > 0) {
    Status f = guarded_call([&] { return handler_->flush(); }, "flush");
    if (!f.ok()) {
      // Nothing of the batch counts as delivered: it is applied again after the wait.
      o.error = f;
      o.fatal = false;
      o.backoff = backoff(++infra_attempts_);
      return false;
    }
  }
  ProjectionState next = stored_;
  (run.shadow ? next.shadow_checkpoint : next.checkpoint) = run.last;
  Status c = commit_state(batch_, next);
  batch_.clear();
  if (!c.ok()) {
    commit_failed(
        o, c.with_context(fmt::format("projector \"{}\": committing up to position {}", name_, run.last.value())));
    return false;
  }
  infra_attempts_ = 0;
  if (run.parked_now || (failing_ && failing_->generation == run.generation && run.last >= failing_->position))
    failing_.reset();
  publish_batch(run, o);
  return true;
}

// A committed batch: its events count in the rate and the status.
void ProjectorCore::publish_batch(const BatchRun& run, const Outcome& o) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  (run.shadow ? shadow_rate_ : rate_).add(now, run.last - run.done);
  if (!run.shadow) {
    published_.applied += run.applied;
    published_.skipped += run.skipped;
    published_.removed += run.removed;
  }
  if (run.parked_now) ++published_.parked;
  if (!run.shadow && !o.backoff && !o.fatal) {
    const Position head = store_.head_position();
    published_.state = stored_.checkpoint >= head ? ProjectorState::kLive : ProjectorState::kCatchingUp;
    published_.error = Status();
    published_.head = head;
  }
  publish(published_.head);
}

}  // namespace strata::detail
