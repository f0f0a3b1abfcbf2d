// Rebuilds without downtime: rebuild() starts filling a shadow generation of the read models from
// position 1, cancel_rebuild() abandons it, and swap_in_shadow() makes a shadow that caught up with the
// serving checkpoint serve (run_once() in projector_apply.cc applies the shadow's batches and calls it).
#include <fmt/format.h>

#include <boost/asio/post.hpp>

#include "projector_core.h"

namespace strata::detail {

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
                                                  name_, stored_.shadow_generation, stored_.shadow_checkpoint.value()));
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
  boost::asio::post(strand_, [self = shared_from_this()] {
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

// The shadow has caught up with the serving generation: one commit makes it serve and drops the old one,
// so queries see either generation whole, never a mix. Returns the storage's error, with context.
Status ProjectorCore::swap_in_shadow() {
  ProjectionWriteBatch swap(name_);
  swap.drop_generation(stored_.generation);
  ProjectionState next;
  next.generation = stored_.shadow_generation;
  next.checkpoint = stored_.shadow_checkpoint;
  Status c = commit_state(swap, next);
  if (!c.ok()) return c.with_context(fmt::format("projector \"{}\": swapping in the rebuilt generation", name_));
  return {};
}

}  // namespace strata::detail
