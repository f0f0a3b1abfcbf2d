// The inbox's engine: a thread that fetches from the durable consumer into per-subject lanes, and workers
// that handle the front of a lane at a time, holding a subject back while its front message waits for a
// retry.
#include "strata/messaging/inbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "inbox_records.h"
#include "strata/core/backend/rate_meter.h"
#include "strata/projections/projection_write_batch.h"
#include "subjects.h"

namespace strata {

namespace {

using Clock = std::chrono::steady_clock;
using detail::kHandledModel;
using detail::kInboxGeneration;

// Errors that retrying cannot fix: the message is parked at its first attempt.
bool permanent(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kUnknownEventType ||
         s.code() == StatusCode::kCorruption;
}

}  // namespace

// ---- the engine ------------------------------------------------------------------------------------

class Inbox::Engine {
 public:
  Engine(EventStore& store, ProjectionStorage& storage, Transport& transport, InboxOptions options)
      : store_(store), storage_(storage), transport_(transport), options_(std::move(options)) {
    if (options_.consumer.durable.empty()) options_.consumer.durable = options_.name;
    status_.name = options_.name;
  }
  ~Engine() { (void)stop(); }

  void on(std::string type, MessageHandler handler) { handlers_[std::move(type)] = std::move(handler); }
  Status start();
  Status stop();
  Status wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);
  InboxStatus status() const;
  const std::string& name() const noexcept { return options_.name; }
  Result<std::vector<ParkedEvent>> parked(std::uint64_t after, std::size_t max_count) const {
    return storage_.list_parked(options_.name, kInboxGeneration, after, max_count);
  }
  Status retry_parked(std::uint64_t sequence);
  Status skip_parked(std::uint64_t sequence);

 private:
  // Fetched messages of one subject, in order; the front one may be waiting for a retry. A lane is
  // worked by one worker at a time, so a subject's messages are handled one after another.
  struct Lane {
    std::deque<std::unique_ptr<Delivery>> queue;
    std::uint32_t attempts = 0;  // of the front message
    Clock::time_point retry_at{};
    Clock::time_point touched_at{};  // when the held messages' ack wait last started again
    bool busy = false;               // a worker has it
    bool scheduled = false;          // it is in ready_
  };
  // What handling one message came to.
  enum class Verdict : std::uint8_t { kDone, kRetry };

  Status validate() const;
  void run();
  void work();
  bool connect();
  void fetch_into_lanes(std::chrono::milliseconds wait);
  void schedule_due(Clock::time_point now);
  void schedule(const std::string& subject, Lane& lane, Clock::time_point now);
  void work_lane(const std::string& subject, std::unique_lock<std::mutex>& lock);
  void keep_held_alive();
  std::chrono::milliseconds next_wait(Clock::time_point now);
  Verdict handle(const IncomingMessage& m, std::uint32_t attempt, Status& error);
  Status commit_marker(InboxContext& ctx, const IncomingMessage& m, std::string_view outcome, const Status& reason);
  Status park(const IncomingMessage& m, const Status& error, std::uint32_t attempts);
  Result<bool> already_handled(const IncomingMessage& m);
  Status run_handler(const MessageHandler& handler, const IncomingMessage& m, InboxContext& ctx);
  std::chrono::milliseconds backoff(std::uint32_t attempts) const;
  void count(std::uint64_t InboxStatus::*counter);
  void stall(Status error);

  EventStore& store_;
  ProjectionStorage& storage_;
  Transport& transport_;
  InboxOptions options_;
  std::unordered_map<std::string, MessageHandler> handlers_;

  std::thread thread_;                  // fetches and schedules
  std::vector<std::thread> workers_;    // handle messages
  std::unique_ptr<Consumer> consumer_;  // the fetching thread's
  std::uint32_t connect_attempts_ = 0;  // the fetching thread's

  mutable std::mutex mu_;
  std::condition_variable cv_;          // stop, and wait_idle()'s progress
  std::condition_variable work_cv_;     // a lane is ready, or stop
  bool stopping_ = false;               // GUARDED_BY(mu_)
  std::map<std::string, Lane> lanes_;   // GUARDED_BY(mu_); by subject
  std::deque<std::string> ready_;       // GUARDED_BY(mu_); lanes to work, in turn
  InboxStatus status_;                  // GUARDED_BY(mu_)
  Clock::time_point last_message_at_;   // GUARDED_BY(mu_)
  Clock::time_point last_empty_fetch_;  // GUARDED_BY(mu_); when the last fetch that found nothing began
  std::size_t waiting_ = 0;             // GUARDED_BY(mu_)
  detail::RateMeter rate_;              // GUARDED_BY(mu_)
};

Status Inbox::Engine::validate() const {
  const std::string& n = options_.name;
  const bool name_ok = !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!name_ok)
    return Status::invalid_argument(fmt::format("inbox name \"{}\" is not 1 to 64 bytes of [A-Za-z0-9_-]", n));
  STRATA_RETURN_IF_ERROR(detail::validate_consumer_config(options_.consumer));
  if (options_.batch_size == 0 || options_.concurrency == 0 || options_.max_attempts == 0 ||
      options_.first_backoff.count() <= 0 || options_.max_backoff < options_.first_backoff ||
      options_.fetch_wait.count() < 0)
    return Status::invalid_argument(fmt::format(
        "inbox \"{}\": batch_size, concurrency and max_attempts must be at least 1, backoffs positive and ordered", n));
  return {};
}

Status Inbox::Engine::start() {
  STRATA_RETURN_IF_ERROR(validate());
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return {};
  stopping_ = false;
  status_ = InboxStatus{};
  status_.name = options_.name;
  status_.state = InboxState::kRunning;
  last_message_at_ = Clock::now();
  rate_.reset(Clock::now());
  thread_ = std::thread([this] { run(); });
  for (std::size_t i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { work(); });
  return {};
}

Status Inbox::Engine::stop() {
  std::thread thread;
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return {};
    stopping_ = true;
    thread = std::move(thread_);
    workers = std::move(workers_);
  }
  cv_.notify_all();
  work_cv_.notify_all();
  thread.join();
  for (auto& w : workers) w.join();  // each finishes the message it is handling
  // Messages fetched and not handled are left unacknowledged: the broker delivers them again.
  std::lock_guard lock(mu_);
  lanes_.clear();
  ready_.clear();
  consumer_.reset();
  status_.state = InboxState::kStopped;
  waiting_ = 0;
  cv_.notify_all();
  return {};
}

// The fetching thread: fetches into lanes, schedules the lanes that are due, keeps held messages alive.
void Inbox::Engine::run() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!consumer_ && !connect()) continue;
    const auto now = Clock::now();
    std::chrono::milliseconds wait;
    {
      std::lock_guard lock(mu_);
      schedule_due(now);
      wait = next_wait(now);
    }
    keep_held_alive();
    fetch_into_lanes(wait);
  }
}

// How long the next fetch may wait: until the next retry falls due, at most fetch_wait. REQUIRES: mu_.
std::chrono::milliseconds Inbox::Engine::next_wait(Clock::time_point now) {
  auto wait = options_.fetch_wait;
  for (const auto& [subject, lane] : lanes_) {
    if (lane.queue.empty() || lane.busy || lane.attempts == 0) continue;
    wait = std::min(
        wait, std::chrono::duration_cast<std::chrono::milliseconds>(std::max(lane.retry_at - now, Clock::duration{})));
  }
  return wait;
}

// Puts every idle lane whose front message is due in ready_. REQUIRES: mu_.
void Inbox::Engine::schedule_due(Clock::time_point now) {
  for (auto& [subject, lane] : lanes_) schedule(subject, lane, now);
}

void Inbox::Engine::schedule(const std::string& subject, Lane& lane, Clock::time_point now) {
  if (lane.busy || lane.scheduled || lane.queue.empty()) return;
  if (lane.attempts > 0 && lane.retry_at > now) return;
  lane.scheduled = true;
  ready_.push_back(subject);
  work_cv_.notify_one();
}

// A worker: takes ready lanes and handles their messages in order.
void Inbox::Engine::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    const std::string subject = std::move(ready_.front());
    ready_.pop_front();
    work_lane(subject, lock);
  }
}

// Handles the front messages of lane `subject` while they are due. REQUIRES: lock holds mu_; released
// while a message is handled.
void Inbox::Engine::work_lane(const std::string& subject, std::unique_lock<std::mutex>& lock) {
  auto it = lanes_.find(subject);
  if (it == lanes_.end()) return;
  Lane& lane = it->second;
  lane.scheduled = false;
  lane.busy = true;
  while (!stopping_ && !lane.queue.empty() && (lane.attempts == 0 || lane.retry_at <= Clock::now())) {
    Delivery* d = lane.queue.front().get();
    const std::uint32_t attempt = lane.attempts + 1;
    lock.unlock();
    Status error;
    const Verdict v = handle(d->message(), attempt, error);
    if (v == Verdict::kDone) (void)d->ack();  // a lost ack only means a redelivery, which is absorbed
    lock.lock();
    if (v == Verdict::kRetry) {
      lane.attempts = attempt;
      lane.retry_at = Clock::now() + backoff(attempt);
      status_.state = InboxState::kStalled;
      status_.last_error = std::move(error);
      break;
    }
    lane.queue.pop_front();
    lane.attempts = 0;
    --waiting_;
    last_message_at_ = Clock::now();
    rate_.add(last_message_at_, 1);
    cv_.notify_all();
  }
  lane.busy = false;
  if (lane.queue.empty()) {
    lanes_.erase(it);
  } else {
    schedule(subject, lane, Clock::now());
  }
}

bool Inbox::Engine::connect() {
  auto consumer = transport_.consume(options_.consumer);
  if (consumer.ok()) {
    consumer_ = std::move(*consumer);
    connect_attempts_ = 0;
    std::lock_guard lock(mu_);
    status_.state = InboxState::kRunning;
    return true;
  }
  stall(consumer.status().with_context(fmt::format("inbox \"{}\": opening its consumer", options_.name)));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, backoff(++connect_attempts_), [&] { return stopping_; });
  return false;
}

void Inbox::Engine::fetch_into_lanes(std::chrono::milliseconds wait) {
  const auto began = Clock::now();
  auto fetched = consumer_->fetch(options_.batch_size, wait);
  if (!fetched.ok()) {
    stall(fetched.status().with_context(fmt::format("inbox \"{}\": fetching", options_.name)));
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff(++connect_attempts_), [&] { return stopping_; });
    return;
  }
  connect_attempts_ = 0;
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  for (auto& d : *fetched) {
    const std::string subject = d->message().subject;
    Lane& lane = lanes_[subject];
    // A message redelivered while it waits in its lane: keep the newest delivery of it, unless a worker
    // is handling it right now.
    auto same = std::find_if(lane.queue.begin(), lane.queue.end(),
                             [&](const auto& q) { return q->message().sequence == d->message().sequence; });
    if (same != lane.queue.end()) {
      if (!(lane.busy && same == lane.queue.begin())) *same = std::move(d);
      continue;
    }
    if (lane.queue.empty()) lane.touched_at = now;
    lane.queue.push_back(std::move(d));
    ++waiting_;
    schedule(subject, lane, now);
  }
  if (fetched->empty() && waiting_ == 0) {
    last_empty_fetch_ = began;
    cv_.notify_all();
  }
  if (!fetched->empty()) {
    last_message_at_ = now;
    if (status_.state == InboxState::kStalled && status_.last_error.code() == StatusCode::kUnavailable)
      status_.state = InboxState::kRunning;
  }
}

// Held messages would be delivered again once their ack wait ran out: tell the broker they are in
// progress, every third of it.
void Inbox::Engine::keep_held_alive() {
  const auto now = Clock::now();
  const auto every = options_.consumer.ack_wait / 3;
  std::lock_guard lock(mu_);
  for (auto& [subject, lane] : lanes_) {
    if (lane.queue.empty() || now - lane.touched_at < every) continue;
    // The front of a lane a worker has is the worker's to touch.
    for (auto d = lane.queue.begin() + (lane.busy ? 1 : 0); d < lane.queue.end(); ++d) (void)(*d)->in_progress();
    lane.touched_at = now;
  }
}

Result<bool> Inbox::Engine::already_handled(const IncomingMessage& m) {
  const std::string key = detail::message_key(options_.name, m.id);
  STRATA_ASSIGN_OR_RETURN(std::optional<EventLocation> effect, store_.lookup_event(EventId::derive(key, 0)));
  if (effect) return true;
  STRATA_ASSIGN_OR_RETURN(std::optional<std::string> row,
                          storage_.get(options_.name, kInboxGeneration, kHandledModel, m.id));
  return row.has_value();
}

Status Inbox::Engine::run_handler(const MessageHandler& handler, const IncomingMessage& m, InboxContext& ctx) {
  try {
    return handler(m, ctx);
  } catch (const std::exception& e) {
    return Status::internal(
        fmt::format("inbox \"{}\": the handler of \"{}\" threw: {}", options_.name, m.type, e.what()));
  } catch (...) {
    return Status::internal(fmt::format("inbox \"{}\": the handler of \"{}\" threw", options_.name, m.type));
  }
}

// Handles one message: kDone once its outcome is committed (or it was handled before, or is parked),
// kRetry with `error` when it should be tried again later.
Inbox::Engine::Verdict Inbox::Engine::handle(const IncomingMessage& m, std::uint32_t attempt, Status& error) {
  auto parked = [&](const Status& why) {
    error = park(m, why, attempt);
    if (!error.ok()) return Verdict::kRetry;
    count(&InboxStatus::parked);
    return Verdict::kDone;
  };
  if (m.id.empty())
    return parked(Status::invalid_argument(fmt::format("message of sequence {} has no id", m.sequence)));
  auto handler = handlers_.find(m.type);
  if (handler == handlers_.end()) {
    if (options_.ignore_unknown_types) {
      count(&InboxStatus::ignored);
      return Verdict::kDone;
    }
    return parked(Status::unknown_event_type(
        fmt::format("inbox \"{}\" has no handler for messages of type \"{}\"", options_.name, m.type)));
  }
  auto handled = already_handled(m);
  if (!handled.ok()) {
    error = handled.status();
    return Verdict::kRetry;
  }
  if (*handled) {
    count(&InboxStatus::duplicates);
    return Verdict::kDone;
  }
  InboxContext ctx(store_, storage_, options_.name, m, attempt);
  const Status s = run_handler(handler->second, m, ctx);
  if (s.ok() || s.code() == StatusCode::kRejected) {
    const bool rejected = !s.ok();
    const std::string_view outcome = rejected                                        ? "rejected"
                                     : ctx.effect() == InboxContext::Effect::kEvents ? ""
                                                                                     : "handled";
    if (!outcome.empty()) error = commit_marker(ctx, m, outcome, s);
    if (!error.ok()) return Verdict::kRetry;
    count(rejected ? &InboxStatus::rejected : &InboxStatus::handled);
    return Verdict::kDone;
  }
  const Status failure = s.with_context(
      fmt::format("inbox \"{}\": message \"{}\" (sequence {}, attempt {})", options_.name, m.id, m.sequence, attempt));
  if (permanent(s) || attempt >= options_.max_attempts) return parked(failure);
  error = failure;
  return Verdict::kRetry;
}

// Commits the message's marker (and, for a handler that wrote rows and succeeded, its rows with it).
Status Inbox::Engine::commit_marker(InboxContext& ctx, const IncomingMessage& m, std::string_view outcome,
                                    const Status& reason) {
  ProjectionWriteBatch fresh(options_.name);
  ProjectionWriteBatch* batch = &fresh;
  if (reason.ok() && ctx.row_batch() != nullptr) batch = ctx.row_batch();  // a rejection's rows are dropped
  batch->put(kInboxGeneration, kHandledModel, m.id, detail::handled_marker(outcome, m, reason));
  return storage_.commit(*batch);
}

Status Inbox::Engine::park(const IncomingMessage& m, const Status& error, std::uint32_t attempts) {
  ProjectionWriteBatch batch(options_.name);
  batch.park(detail::parked_message(m, error, attempts));
  return storage_.commit(batch);
}

std::chrono::milliseconds Inbox::Engine::backoff(std::uint32_t attempts) const {
  auto ms = options_.first_backoff;
  for (std::uint32_t i = 1; i < attempts && ms < options_.max_backoff; ++i) ms *= 2;
  return std::min(ms, options_.max_backoff);
}

void Inbox::Engine::count(std::uint64_t InboxStatus::*counter) {
  std::lock_guard lock(mu_);
  ++(status_.*counter);
}

void Inbox::Engine::stall(Status error) {
  std::lock_guard lock(mu_);
  status_.state = InboxState::kStalled;
  status_.last_error = std::move(error);
}

// Idle: nothing waits, nothing came for `quiet`, and a fetch begun after this call found nothing (so a
// message published before the call has been seen).
Status Inbox::Engine::wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  const auto called = Clock::now();
  const auto deadline = called + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    const auto now = Clock::now();
    if (waiting_ == 0 && now - last_message_at_ >= quiet && last_empty_fetch_ >= called) return {};
    if (now >= deadline)
      return Status::unavailable(fmt::format("inbox \"{}\" was not idle within {} ms ({} messages waiting{})",
                                             options_.name, timeout.count(), waiting_,
                                             status_.last_error.ok() ? "" : "; " + status_.last_error.to_string()));
    cv_.wait_until(lock, std::min(deadline, std::max(now + std::chrono::milliseconds(5), last_message_at_ + quiet)));
  }
}

InboxStatus Inbox::Engine::status() const {
  InboxStatus s;
  {
    std::lock_guard lock(mu_);
    s = status_;
    s.waiting = waiting_;
    s.messages_per_second = rate_.rate(Clock::now());
  }
  s.broker = transport_.health();
  return s;
}

Status Inbox::Engine::retry_parked(std::uint64_t sequence) {
  STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> p, storage_.get_parked(options_.name, kInboxGeneration, sequence));
  if (!p)
    return Status::not_found(fmt::format("inbox \"{}\" has no parked message of sequence {}", options_.name, sequence));
  const IncomingMessage m = detail::message_of(*p);
  Status error;
  // Counted as a further attempt; parked again (with the new error) when it fails again.
  if (handle(m, p->attempts + 1, error) == Verdict::kRetry) {
    if (!error.ok()) (void)park(m, error, p->attempts + 1);
    return error.ok() ? Status::unavailable("retry did not complete") : error;
  }
  // Handled, a duplicate, rejected — or parked again: then the new record replaced the old one.
  STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> again,
                          storage_.get_parked(options_.name, kInboxGeneration, sequence));
  if (again && again->attempts > p->attempts) return again->error;
  return skip_parked(sequence);
}

Status Inbox::Engine::skip_parked(std::uint64_t sequence) {
  STRATA_ASSIGN_OR_RETURN(std::optional<ParkedEvent> p, storage_.get_parked(options_.name, kInboxGeneration, sequence));
  if (!p)
    return Status::not_found(fmt::format("inbox \"{}\" has no parked message of sequence {}", options_.name, sequence));
  ProjectionWriteBatch batch(options_.name);
  batch.unpark(kInboxGeneration, sequence);
  return storage_.commit(batch);
}

// ---- Inbox -----------------------------------------------------------------------------------------

Inbox::Inbox(EventStore& store, ProjectionStorage& storage, Transport& transport, InboxOptions options)
    : engine_(std::make_unique<Engine>(store, storage, transport, std::move(options))) {}
Inbox::~Inbox() = default;
Inbox& Inbox::on_message(std::string type, MessageHandler handler) {
  engine_->on(std::move(type), std::move(handler));
  return *this;
}
Status Inbox::start() { return engine_->start(); }
Status Inbox::stop() { return engine_->stop(); }
Status Inbox::wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  return engine_->wait_idle(quiet, timeout);
}
InboxStatus Inbox::status() const { return engine_->status(); }
const std::string& Inbox::name() const noexcept { return engine_->name(); }
Result<std::vector<ParkedEvent>> Inbox::parked(std::uint64_t after, std::size_t max_count) const {
  return engine_->parked(after, max_count);
}
Status Inbox::retry_parked(std::uint64_t sequence) { return engine_->retry_parked(sequence); }
Status Inbox::skip_parked(std::uint64_t sequence) { return engine_->skip_parked(sequence); }

}  // namespace strata
