// Parked events: the events a projector set aside after their handler kept failing (or at once, when
// the projection cannot read their type), listed, applied again or skipped on request.
#include <fmt/format.h>

#include "projector_core.h"
#include "strata/core/backend/metadata_encoding.h"

namespace strata::detail {

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
    return Status::not_found(
        fmt::format("projection \"{}\" has no parked event at position {}", name_, position.value()));
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
    return Status::not_found(
        fmt::format("projection \"{}\" has no parked event at position {}", name_, position.value()));
  return commit_state(batch, stored_);
}

}  // namespace strata::detail
