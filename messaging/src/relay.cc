// The relay's publishing loop: one thread that reads the log from the checkpoint into a window of
// entries in position order, publishes them (at most max_in_flight, at most one per subject), collects
// the transport's acks, and moves the checkpoint over the acknowledged prefix of the window.
#include <fmt/format.h>

#include <algorithm>

#include "relay_engine.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/projections/projection_write_batch.h"

namespace strata {

using detail::relay_now;

Status Relay::Engine::validate() const {
  if (options_.name.empty() || options_.name.size() > kMaxProjectionNameBytes)
    return Status::invalid_argument(
        fmt::format("relay name has {} bytes, expected 1 to {}", options_.name.size(), kMaxProjectionNameBytes));
  if (options_.source.empty())
    return Status::invalid_argument(fmt::format("relay \"{}\": the source (service name) is empty", options_.name));
  OutgoingMessage probe{"probe", options_.subject_prefix + ".x", "", "", {}};
  if (Status s = validate_message(probe, 1); !s.ok())
    return Status::invalid_argument(
        fmt::format("relay \"{}\": the subject prefix \"{}\" is not dot-separated "
                    "tokens of [A-Za-z0-9_:-]",
                    options_.name, options_.subject_prefix));
  if (options_.max_in_flight == 0 || options_.first_backoff.count() <= 0 ||
      options_.max_backoff < options_.first_backoff || options_.checkpoint_interval.count() < 0)
    return Status::invalid_argument(fmt::format(
        "relay \"{}\": max_in_flight must be at least 1, backoffs positive and ordered, the checkpoint interval "
        "not negative",
        options_.name));
  return {};
}

Status Relay::Engine::start() {
  STRATA_RETURN_IF_ERROR(validate());
  std::unique_lock lock(mu_);
  if (started_) return {};
  STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> loaded, storage_.load_state(options_.name));
  if (!loaded) {
    ProjectionState initial;
    initial.checkpoint = options_.start_from == kEndOfLog ? store_.head_position()
                                                          : (options_.start_from == 0 ? 0 : options_.start_from - 1);
    ProjectionWriteBatch batch(options_.name);
    batch.set_state(std::nullopt, initial);
    STRATA_RETURN_IF_ERROR(storage_.commit(batch));
    loaded = initial;
  }
  stored_ = loaded;
  checkpoint_ = loaded->checkpoint;
  cursor_ = checkpoint_ + 1;
  window_.clear();
  busy_subjects_.clear();
  blocked_.clear();
  ready_.clear();
  in_flight_ = 0;
  started_ = true;
  stopping_ = false;
  status_.state = RelayState::kCatchingUp;
  status_.last_error = Status();
  status_.published = status_.duplicates = status_.removed = 0;
  rate_.reset(Clock::now());
  const std::uint64_t session = ++session_;
  subscription_ = store_.subscribe_commits([signal = signal_](Position) { signal->raise(); });
  thread_ = std::thread([this, session] { run(session); });
  return {};
}

Status Relay::Engine::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return {};
    stopping_ = true;
    thread = std::move(thread_);
  }
  signal_->raise();
  thread.join();
  subscription_.reset();
  std::lock_guard lock(mu_);
  const Status error = status_.state == RelayState::kFailed ? status_.last_error : Status();
  started_ = false;
  if (status_.state != RelayState::kFailed) status_.state = RelayState::kStopped;
  cv_.notify_all();
  return error;
}

void Relay::Engine::run(std::uint64_t session) {
  std::unique_lock lock(mu_);
  std::optional<Clock::time_point> drain_until;
  while (true) {
    take_outcomes(signal_->take());
    advance();
    if (stopping_) {
      if (!drain_until) drain_until = Clock::now() + std::chrono::seconds(10);
      if (in_flight_ == 0 || Clock::now() >= *drain_until) break;
    } else if (status_.state != RelayState::kFailed) {
      const bool more = read_more(lock);
      send_ready(lock);
      // Events it read but does not publish (left out by the selection or the mapping) move the
      // checkpoint now: no acknowledgement will come for them to wake the loop.
      advance();
      if (Status c = commit_checkpoint(lock, false); !c.ok()) fail(c);
      if (more) continue;
    }
    // Sleep until an outcome, a commit, stop, a due retry or the next checkpoint commit.
    auto wake = Clock::now() + std::chrono::milliseconds(500);
    for (const Entry& e : window_)
      if (e.stage == Entry::Stage::kRetrying) wake = std::min(wake, e.retry_at);
    if (stored_ && checkpoint_ > stored_->checkpoint)
      wake = std::min(wake, last_commit_ + options_.checkpoint_interval);
    lock.unlock();
    std::vector<Completion> items = signal_->wait(wake);
    lock.lock();
    take_outcomes(std::move(items));
  }
  (void)session;
  take_outcomes(signal_->take());
  advance();
  if (status_.state != RelayState::kFailed)
    if (Status c = commit_checkpoint(lock, true); !c.ok()) fail(c);
}

void Relay::Engine::take_outcomes(std::vector<Completion> items) {
  for (Completion& c : items)
    if (c.session == session_) on_outcome(c);
}

void Relay::Engine::on_outcome(Completion& c) {
  Entry& e = *c.entry;
  --in_flight_;
  if (c.result.ok()) {
    e.stage = Entry::Stage::kAcked;
    ++status_.published;
    if (c.result->duplicate) ++status_.duplicates;
    rate_.add(Clock::now(), 1);
    if (status_.state == RelayState::kStalled) status_.state = RelayState::kCatchingUp;
    if (status_.state != RelayState::kFailed) status_.last_error = Status();
    // The subject is free: its next message goes.
    busy_subjects_.erase(e.message.subject);
    auto it = blocked_.find(e.message.subject);
    if (it != blocked_.end()) {
      Entry* next = it->second.front();
      it->second.pop_front();
      if (it->second.empty()) blocked_.erase(it);
      busy_subjects_.insert(next->message.subject);
      ready_.push_back(next);
    }
    return;
  }
  // Never skipped: the same message goes again after a backoff; its subject stays busy meanwhile.
  e.stage = Entry::Stage::kRetrying;
  e.retry_at = Clock::now() + backoff(e.attempts);
  if (status_.state == RelayState::kFailed) return;
  status_.last_error = c.result.status().with_context(
      fmt::format("relay \"{}\": publishing position {} (attempt {})", options_.name, e.position.value(), e.attempts));
  status_.state = RelayState::kStalled;
}

std::chrono::milliseconds Relay::Engine::backoff(std::uint32_t attempts) const {
  auto ms = options_.first_backoff;
  for (std::uint32_t i = 1; i < attempts && ms < options_.max_backoff; ++i) ms *= 2;
  return std::min(ms, options_.max_backoff);
}

void Relay::Engine::send_ready(std::unique_lock<std::mutex>& lock) {
  const auto now = Clock::now();
  for (Entry& e : window_)
    if (e.stage == Entry::Stage::kRetrying && e.retry_at <= now && in_flight_ < options_.max_in_flight) send(e, lock);
  while (!ready_.empty() && in_flight_ < options_.max_in_flight) {
    Entry* e = ready_.front();
    ready_.pop_front();
    send(*e, lock);
  }
}

// Hands `e` to the transport. The lock is released around publish(): a transport may call back at once.
void Relay::Engine::send(Entry& e, std::unique_lock<std::mutex>& lock) {
  e.stage = Entry::Stage::kInFlight;
  ++e.attempts;
  ++in_flight_;
  OutgoingMessage message = e.message;
  const std::uint64_t session = session_;
  lock.unlock();
  transport_.publish(std::move(message), [signal = signal_, session, entry = &e](Result<PublishAck> result) {
    signal->deliver(Completion{session, entry, std::move(result)});
  });
  lock.lock();
}

std::string Relay::Engine::subject_of(const EventView& e) const {
  const std::string key = options_.partition_key ? options_.partition_key(e) : std::string(e.stream_id);
  return options_.subject_prefix + "." + subject_token(key);
}

// Makes the message of `e` (or nothing, when it is not selected) and appends it to `out`; an event
// whose mapping fails goes to `parked` instead.
Status Relay::Engine::make_entry(const EventView& e, std::deque<Entry>& out, std::vector<ParkedEvent>& parked) {
  if (options_.predicate && !options_.predicate(e)) return {};
  if (!options_.mapping.empty() && !options_.mapping.maps(e.type)) return {};
  auto fail_with = [&](const Status& error) -> Status {
    STRATA_ASSIGN_OR_RETURN(RecordedEvent recorded, e.to_recorded());
    parked.push_back(ParkedEvent{1, std::move(recorded), error, 1, relay_now()});
    return {};
  };
  auto message = message_from_event(e, options_.source, subject_of(e));
  if (!message.ok()) return fail_with(message.status());
  if (!options_.mapping.empty()) {
    auto mapped = options_.mapping.map(e);
    if (!mapped.ok()) return fail_with(mapped.status().with_context(fmt::format("mapping {}", e.type)));
    if (!mapped->has_value()) return {};
    message->type = std::move((*mapped)->first);
    message->payload = std::move((*mapped)->second);
    message->headers.set(headers::kType, message->type);
  }
  if (Status valid = validate_message(*message, transport_.max_payload_bytes()); !valid.ok()) return fail_with(valid);
  out.push_back(Entry{e.position, e.timestamp, std::move(*message)});
  return {};
}

// Reads the next events of the log into the window when it has room. Returns whether more is there to
// read now. REQUIRES: lock held; released while reading.
bool Relay::Engine::read_more(std::unique_lock<std::mutex>& lock) {
  const std::size_t room_limit = options_.max_in_flight * 4 + 4'096;
  if (window_.size() >= room_limit) return false;
  const Position from = cursor_;
  if (from > store_.head_position()) {
    if (window_.empty() && status_.state == RelayState::kCatchingUp) status_.state = RelayState::kLive;
    return false;
  }
  std::deque<Entry> read;
  std::vector<ParkedEvent> parked;
  Status made;
  lock.unlock();
  auto visit = store_.visit_log(from, room_limit - window_.size(), options_.selection, [&](const EventView& e) {
    made = make_entry(e, read, parked);
    return made;
  });
  lock.lock();
  if (!visit.ok()) {
    status_.last_error =
        visit.status().with_context(fmt::format("relay \"{}\": reading the log at {}", options_.name, from.value()));
    return false;
  }
  if (!parked.empty()) {
    if (Status p = commit_parked(std::move(parked), lock); !p.ok()) {
      status_.last_error = p;
      return false;  // read again from `from` next time round
    }
  }
  cursor_ = visit->next_position;
  status_.removed += visit->removed;
  for (Entry& e : read) {
    window_.push_back(std::move(e));
    Entry& added = window_.back();
    if (busy_subjects_.insert(added.message.subject).second) {
      ready_.push_back(&added);
    } else {
      blocked_[added.message.subject].push_back(&added);
    }
  }
  if (status_.state == RelayState::kLive) status_.state = RelayState::kCatchingUp;
  return !visit->end_of_log && window_.size() < room_limit;
}

// Moves the checkpoint over the acknowledged front of the window.
void Relay::Engine::advance() {
  while (!window_.empty() && window_.front().stage == Entry::Stage::kAcked) window_.pop_front();
  const Position before = checkpoint_;
  checkpoint_ = window_.empty() ? cursor_ - 1 : window_.front().position - 1;
  if (checkpoint_ != before) cv_.notify_all();
  if (window_.empty() && cursor_ > store_.head_position() && status_.state == RelayState::kCatchingUp)
    status_.state = RelayState::kLive;
}

Status Relay::Engine::commit_checkpoint(std::unique_lock<std::mutex>& lock, bool force) {
  if (!stored_ || checkpoint_ <= stored_->checkpoint) return {};
  const auto now = Clock::now();
  if (!force && now - last_commit_ < options_.checkpoint_interval) return {};
  ProjectionState next = *stored_;
  next.checkpoint = checkpoint_;
  ProjectionWriteBatch batch(options_.name);
  batch.set_state(stored_, next);
  const std::optional<ProjectionState> expected = stored_;
  lock.unlock();
  Status s = storage_.commit(batch);
  lock.lock();
  last_commit_ = now;
  if (!s.ok()) {
    if (s.code() == StatusCode::kWrongExpectedVersion || s.code() == StatusCode::kInvalidArgument)
      return s.with_context(fmt::format("relay \"{}\": committing its checkpoint", options_.name));
    status_.last_error = s;  // the storage may recover: try again at the next interval
    return {};
  }
  if (stored_ == expected) stored_ = next;
  return {};
}

Status Relay::Engine::commit_parked(std::vector<ParkedEvent> parked, std::unique_lock<std::mutex>& lock) {
  ProjectionWriteBatch batch(options_.name);
  const std::size_t n = parked.size();
  for (ParkedEvent& p : parked) batch.park(std::move(p));
  lock.unlock();
  Status s = storage_.commit(batch);
  lock.lock();
  if (s.ok()) status_.parked += n;
  return s;
}

void Relay::Engine::fail(Status error) {
  status_.state = RelayState::kFailed;
  status_.last_error = std::move(error);
  stopping_ = true;
  cv_.notify_all();
  signal_->raise();
}

}  // namespace strata
