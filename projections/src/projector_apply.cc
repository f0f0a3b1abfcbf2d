// Applying a batch: run_once() moves the serving generation (and a shadow being rebuilt) towards the head
// of the log, one process() per generation. process() applies events from the log into the batch
// (apply_events), decides what happens to an event that failed (apply_failure_policy: retry, park or
// stop), then flushes and commits the batch with its checkpoint and publishes the counts (commit_batch,
// publish_batch). Every function here runs with apply_mu_ held.
#include <fmt/format.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <latch>

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
  Status read = partitions_.empty() ? apply_events(run, limit) : apply_partitioned(run, limit);
  if (!run.fatal.ok()) {
    // Nothing of the batch commits.
    batch_.clear();
    o.fatal = true;
    o.error = run.fatal.with_context(fmt::format("projector \"{}\" stopped", name_));
  } else if (!read.ok()) {
    o.error = read.with_context(fmt::format("projector \"{}\": reading the log at {}", name_, (run.done + 1).value()));
    o.backoff = backoff(++infra_attempts_);
    return o;
  } else {
    // A failing event: retry it later, park it, or stop — after committing the events before it.
    if (run.failed_event) apply_failure_policy(run, o);
    if (run.last > run.done || !batch_.empty()) {
      if (!commit_batch(run, o)) return o;
    }
  }
  if (o.backoff || o.fatal) {
    std::lock_guard lock(mu_);
    published_.state = o.fatal ? ProjectorState::kFailed : ProjectorState::kStalled;
    published_.error = o.error;
    publish(published_.head);
  }
  return o;
}

namespace {

// The event that failed, kept for the error policy (parking it).
RecordedEvent failed_copy(const EventView& e) {
  auto copy = e.to_recorded();
  if (copy.ok()) return std::move(*copy);
  return RecordedEvent{std::string(e.stream_id), e.version,   e.position, e.id,
                       std::string(e.type),      e.timestamp, {},         std::string(e.payload)};
}

}  // namespace

// Applies events after run.last into batch_, up to `limit`, options_.batch_size events or
// options_.batch_duration, until an event fails (run.failed_event). Returns the store's error when the
// log could not be read; the batch then counts for nothing. `fresh`: batch_ starts empty (otherwise it
// goes on from what apply_partitioned applied).
Status ProjectorCore::apply_events(BatchRun& run, Position limit, bool fresh) {
  const std::size_t max_count =
      static_cast<std::size_t>(std::min<std::uint64_t>(options_.batch_size, limit - run.last));
  const Limits& limits = store_.limits();
  if (fresh) batch_.clear();
  ReadModelTx tx(storage_, batch_, run.generation);
  // A batch also ends when its time is up: the clock is read every kClockEvery events.
  constexpr std::uint64_t kClockEvery = 16;
  const auto deadline = Clock::now() + options_.batch_duration;
  bool time_up = false;
  auto visited = store_.visit_log(run.last + 1, max_count, LogFilter{}, [&](const EventView& e) -> Status {
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
      run.failed_event = failed_copy(e);
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
    run.removed += visited->removed;
  }
  return {};
}

// Partitioned batches (ProjectorOptions::partitions). The batch is read from the log in chunks; each
// chunk's events are dealt to the partitions by a hash of their partition key and applied by them at the
// same time on the pool's threads, each into its own batch, while this thread reads the next chunk. At
// the end the partitions' batches are
// joined into batch_, which commits as with one partition. An event that fails ends the batch as the
// serial path would: the partitions' writes for the chunk are undone, and apply_events goes over the
// chunk again, in log order, up to the failing event, which then meets the error policy.
namespace {
constexpr std::size_t kChunkEvents = 4096;
}

Status ProjectorCore::start_partitions() {
  if (options_.partitions == 0 || options_.partitions > 64)
    return Status::invalid_argument(
        fmt::format("projector \"{}\": partitions is {}, expected 1 to 64", name_, options_.partitions));
  if (options_.partitions == 1 || !partitions_.empty()) return {};
  std::vector<Partition> partitions;
  for (std::size_t i = 0; i < options_.partitions; ++i) {
    Partition& p = partitions.emplace_back(name_);
    if (i == 0) {
      p.handler = handler_.get();
      continue;
    }
    p.own = handler_->clone();
    if (!p.own)
      return Status::invalid_argument(fmt::format(
          "projector \"{}\": its handler cannot run in partitions (sinks cannot; a typed projection must be "
          "copyable)",
          name_));
    p.handler = p.own.get();
  }
  partitions_ = std::move(partitions);
  pool_ = std::make_unique<boost::asio::thread_pool>(options_.partitions);
  return {};
}

Status ProjectorCore::apply_partitioned(BatchRun& run, Position limit) {
  batch_.clear();
  for (Partition& p : partitions_) p.batch.clear();
  const auto deadline = Clock::now() + options_.batch_duration;
  std::uint64_t left = std::min<std::uint64_t>(options_.batch_size, limit - run.last);
  Chunk* current = &chunks_[0];
  Chunk* next = &chunks_[1];
  Status read = read_chunk(*current, run, left);
  if (!read.ok()) return read;
  // A chunk of `left` events covers more positions than that when removed ones lie among them.
  left -= std::min(left, current->positions);
  while (current->positions > 0) {
    // While the partitions apply this chunk, the next one is read.
    std::latch applied(static_cast<std::ptrdiff_t>(partitions_.size()));
    apply_chunk(*current, run.generation, applied);
    const bool more = left > 0 && (options_.batch_duration.count() == 0 || Clock::now() < deadline);
    next->positions = 0;
    if (more) read = read_chunk(*next, run, left);
    applied.wait();
    Partition* failed = nullptr;
    for (Partition& p : partitions_)
      if (p.failed && (failed == nullptr || *p.failed < *failed->failed)) failed = &p;
    if (failed != nullptr) {
      // Undo the chunk everywhere, apply it again in log order up to the failing event, which then
      // meets the error policy as on the serial path (without being applied once more).
      const EventView& e = current->events[*failed->failed].view;
      for (Partition& p : partitions_) p.batch.rollback(0);
      if (Status joined = join_partitions(); !joined.ok()) {
        run.fatal = joined;
        return {};
      }
      run.last = current->before.last;
      run.skipped = current->before.skipped;
      run.removed = current->before.removed;
      if (e.position - 1 > run.last) {
        STRATA_RETURN_IF_ERROR(apply_events(run, e.position - 1, false));
        if (run.failed_event || run.last < e.position - 1) return {};  // failed earlier this time, or out of time
      }
      run.failure = std::move(failed->failure);
      run.failed_event = failed_copy(e);
      return {};
    }
    if (!read.ok()) return read;  // the batch counts for nothing
    for (Partition& p : partitions_) {
      p.batch.forget_undo();
      run.applied += p.applied;
    }
    left -= std::min(left, next->positions);
    std::swap(current, next);
  }
  if (Status joined = join_partitions(); !joined.ok()) run.fatal = joined;
  return {};
}

// Reads up to min(max_count, kChunkEvents) positions after run.last into `chunk`: the events the
// handler knows (the others are counted as skipped). Moves run.last past them, and records in `chunk`
// what `run` was before and how many positions it covers (0 at the end of the log). Returns the store's
// error when the log could not be read.
Status ProjectorCore::read_chunk(Chunk& chunk, BatchRun& run, std::uint64_t max_count) {
  chunk.arena.clear();
  chunk.events.clear();
  chunk.before = ChunkStart{run.last, run.skipped, run.removed};
  chunk.positions = 0;
  Position last = run.last;
  const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(max_count, kChunkEvents));
  auto visited = store_.visit_log(run.last + 1, count, LogFilter{}, [&](const EventView& e) -> Status {
    last = e.position;
    if (!handler_->knows(e.type)) {
      ++run.skipped;
      return {};
    }
    Buffered& b = chunk.events.emplace_back();
    b.view = e;
    b.stream = chunk.arena.size();
    chunk.arena += e.stream_id;
    b.type = chunk.arena.size();
    chunk.arena += e.type;
    b.metadata = chunk.arena.size();
    chunk.arena += e.encoded_metadata;
    b.payload = chunk.arena.size();
    chunk.arena += e.payload;
    return {};
  });
  if (!visited.ok()) return visited.status();
  run.last = std::max(last, visited->next_position - 1);
  run.removed += visited->removed;
  chunk.positions = run.last - chunk.before.last;
  // The arena no longer moves: point the views at it.
  const char* base = chunk.arena.data();
  for (Buffered& b : chunk.events) {
    EventView& v = b.view;
    v.stream_id = std::string_view(base + b.stream, v.stream_id.size());
    v.type = std::string_view(base + b.type, v.type.size());
    v.encoded_metadata = std::string_view(base + b.metadata, v.encoded_metadata.size());
    v.payload = std::string_view(base + b.payload, v.payload.size());
  }
  return {};
}

// Deals `chunk` to the partitions and starts applying it on pool_, each partition in log order into its
// own batch, stopping at its first failing event; `applied` is counted down as each partition ends.
void ProjectorCore::apply_chunk(const Chunk& chunk, Generation generation, std::latch& applied) {
  const std::size_t n = partitions_.size();
  for (Partition& p : partitions_) {
    p.events.clear();
    p.applied = 0;
    p.failed.reset();
  }
  for (std::uint32_t i = 0; i < chunk.events.size(); ++i) {
    const EventView& e = chunk.events[i].view;
    const std::string_view key = options_.partition_key ? options_.partition_key(e) : e.stream_id;
    partitions_[std::hash<std::string_view>{}(key) % n].events.push_back(i);
  }
  const Limits& limits = store_.limits();
  for (Partition& p : partitions_) {
    boost::asio::post(*pool_, [&chunk, &p, &applied, &limits, generation, this] {
      ReadModelTx tx(storage_, p.batch, generation);
      for (std::uint32_t i : p.events) {
        const EventView& e = chunk.events[i].view;
        if (Status s = guarded_call([&] { return p.handler->apply(e, tx, limits); }, "projection"); !s.ok()) {
          p.failed = i;
          p.failure = std::move(s);
          break;
        }
        ++p.applied;
      }
      applied.count_down();
    });
  }
}

// Joins the partitions' batches into batch_.
Status ProjectorCore::join_partitions() {
  for (Partition& p : partitions_) STRATA_RETURN_IF_ERROR(batch_.absorb(p.batch));
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
