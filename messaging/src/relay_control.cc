// What callers do to a relay: wait for it, republish, read its status and its parked events, and the
// Relay facade.
#include <fmt/format.h>

#include <algorithm>

#include "relay_engine.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/projections/projection_write_batch.h"

namespace strata {

using detail::relay_now;

Status Relay::Engine::wait_for(Position position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return checkpoint_ >= position || !started_ || stopping_; });
  if (checkpoint_ >= position) return {};
  if (status_.state == RelayState::kFailed) return status_.last_error;
  if (!started_ || stopping_)
    return Status::cancelled(fmt::format("relay \"{}\" is stopped at position {}, before {}", options_.name,
                                         checkpoint_.value(), position.value()));
  return Status::unavailable(fmt::format("relay \"{}\" did not reach position {} within {} ms (at {}{})", options_.name,
                                         position.value(), timeout.count(), checkpoint_.value(),
                                         status_.last_error.ok() ? "" : "; " + status_.last_error.to_string()));
}

Status Relay::Engine::republish_from(Position position) {
  {
    std::lock_guard lock(mu_);
    if (started_)
      return Status::invalid_argument(
          fmt::format("relay \"{}\" is running: stop it before republishing", options_.name));
  }
  STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> loaded, storage_.load_state(options_.name));
  ProjectionState next = loaded.value_or(ProjectionState{});
  next.checkpoint = position == 0 ? 0 : position - 1;
  ProjectionWriteBatch batch(options_.name);
  batch.set_state(loaded, next);
  return storage_.commit(batch);
}

RelayStatus Relay::Engine::status() const {
  RelayStatus s;
  Position oldest_position = 0;
  {
    std::lock_guard lock(mu_);
    s = status_;
    s.position = checkpoint_;
    s.in_flight = in_flight_;
    s.published_per_second = rate_.rate(Clock::now());
    if (!window_.empty()) oldest_position = window_.front().position;
  }
  s.broker = transport_.health();
  s.head = store_.head_position();
  s.lag_events = s.head > s.position ? s.head - s.position : 0;
  if (s.lag_events > 0) {
    Timestamp oldest{};
    auto r = store_.visit_log(oldest_position != 0 ? oldest_position : s.position + 1, 1, LogFilter{},
                              [&](const EventView& e) {
                                oldest = e.timestamp;
                                return Status();
                              });
    if (r.ok() && oldest != Timestamp{})
      s.lag_seconds = std::max(0.0, std::chrono::duration<double>(relay_now() - oldest).count());
  }
  return s;
}

Status Relay::Engine::retry_parked(Position position, std::chrono::milliseconds timeout) {
  STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> parked, storage_.get_parked(options_.name, 1, position));
  if (!parked)
    return Status::not_found(
        fmt::format("relay \"{}\" has no parked event at position {}", options_.name, position.value()));
  const RecordedEvent& r = parked->event;
  std::string metadata;
  encode_metadata(r.metadata, metadata);
  const EventView view{r.stream_id, r.version, r.position, r.id, r.type, r.timestamp, metadata, r.payload};
  std::deque<Entry> made;
  std::vector<ParkedEvent> failed;
  STRATA_RETURN_IF_ERROR(make_entry(view, made, failed));
  if (!failed.empty()) return failed.front().error;
  if (!made.empty()) {
    // Published directly, outside the window: the event is behind the checkpoint already.
    std::mutex m;
    std::condition_variable done_cv;
    std::optional<Result<PublishAck>> outcome;
    transport_.publish(made.front().message, [&](Result<PublishAck> result) {
      std::lock_guard l(m);
      outcome = std::move(result);
      done_cv.notify_all();
    });
    std::unique_lock l(m);
    if (!done_cv.wait_for(l, timeout, [&] { return outcome.has_value(); }))
      return Status::unavailable(fmt::format("relay \"{}\": the parked event at {} was not acknowledged within {} ms",
                                             options_.name, position.value(), timeout.count()));
    if (!outcome->ok()) return outcome->status();
  }
  return skip_parked(position);
}

Status Relay::Engine::skip_parked(Position position) {
  STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> parked, storage_.get_parked(options_.name, 1, position));
  if (!parked)
    return Status::not_found(
        fmt::format("relay \"{}\" has no parked event at position {}", options_.name, position.value()));
  ProjectionWriteBatch batch(options_.name);
  batch.unpark(1, position);
  return storage_.commit(batch);
}

Relay::Relay(EventStore& store, ProjectionStorage& storage, Transport& transport, RelayOptions options)
    : metrics_(options.metrics) {
  engine_ = std::make_unique<Engine>(store, storage, transport, std::move(options));
  if (metrics_ == nullptr) return;
  collector_ = metrics_->add_collector([engine = engine_.get()](MetricsWriter& w) {
    const RelayStatus s = engine->status();
    const MetricLabels labels{{"relay", s.name}};
    w.gauge("strata_relay_position", "The last log position published and acknowledged by the broker.", labels,
            static_cast<double>(s.position.value()));
    w.gauge("strata_relay_lag_events", "Events committed to the store and not yet acknowledged by the broker.", labels,
            static_cast<double>(s.lag_events));
    w.gauge("strata_relay_lag_seconds", "Age of the oldest event not yet published, in seconds.", labels,
            s.lag_seconds);
    w.gauge("strata_relay_published_per_second", "Messages acknowledged per second, lately.", labels,
            s.published_per_second);
    w.counter("strata_relay_published_total", "Messages acknowledged since the relay started.", labels,
              static_cast<double>(s.published));
    w.counter("strata_relay_duplicates_total", "Messages the broker acknowledged as duplicates, since start.", labels,
              static_cast<double>(s.duplicates));
    w.gauge("strata_relay_in_flight", "Messages published and waiting for their acknowledgement.", labels,
            static_cast<double>(s.in_flight));
    w.counter("strata_relay_parked_total", "Events that could not be made into a message, since start.", labels,
              static_cast<double>(s.parked));
  });
}

Relay::~Relay() {
  if (collector_ != 0) metrics_->remove_collector(collector_);
}
Status Relay::start() { return engine_->start(); }
Status Relay::stop() { return engine_->stop(); }
Status Relay::wait_for(Position position, std::chrono::milliseconds timeout) {
  return engine_->wait_for(position, timeout);
}
Status Relay::republish_from(Position position) { return engine_->republish_from(position); }
RelayStatus Relay::status() const { return engine_->status(); }
const std::string& Relay::name() const noexcept { return engine_->name(); }
Result<std::vector<ParkedEvent>> Relay::parked(Position after, std::size_t max_count) const {
  return engine_->parked(after, max_count);
}
Status Relay::retry_parked(Position position, std::chrono::milliseconds timeout) {
  return engine_->retry_parked(position, timeout);
}
Status Relay::skip_parked(Position position) { return engine_->skip_parked(position); }

}  // namespace strata
