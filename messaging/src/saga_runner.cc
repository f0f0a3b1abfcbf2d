// SagaEngine: the untyped part of SagaRunner. One thread follows the log from the runner's checkpoint
// (local triggers, the commands sagas issued, their deadlines and needs-attention records), carries out
// commands, and fires deadlines that fell due. Its checkpoint, timers and needs-attention list change
// together in one ProjectionWriteBatch, so a crash repeats at most the last batch, which the sagas'
// derived record ids absorb.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "strata/messaging/saga_runner.h"

namespace strata {

namespace {

constexpr Generation kRows = 1;
constexpr std::string_view kDeadlines = "deadlines";
constexpr std::string_view kAttention = "attention";

struct DeadlineRow {
  std::string saga;
  std::string name;
  std::int64_t due_us = 0;
  std::string correlation_id;
  static constexpr auto kFields =
      fields(field("saga", &DeadlineRow::saga), field("name", &DeadlineRow::name),
             field("due_us", &DeadlineRow::due_us), field("correlation_id", &DeadlineRow::correlation_id));
};

struct AttentionRow {
  std::string step;
  std::string reason;
  static constexpr auto kFields = fields(field("step", &AttentionRow::step), field("reason", &AttentionRow::reason));
};

bool retryable(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
    case StatusCode::kWrongExpectedVersion:
    case StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

using Clock = std::chrono::steady_clock;

}  // namespace

void add_saga_messages(RelayMapping& mapping) {
  mapping.publish_with(
      std::string(saga::MessageSent::kType),
      [](const EventView& stored) -> Result<std::optional<std::pair<std::string, std::string>>> {
        saga::MessageSent m;
        STRATA_RETURN_IF_ERROR(decode_json(stored.payload, m));
        return std::optional<std::pair<std::string, std::string>>(std::pair(std::move(m.type), std::move(m.payload)));
      });
}

std::string saga_idempotency_key(const IncomingMessage& message) {
  const std::string header = std::string(headers::kUserPrefix) + std::string(kSagaIdempotencyKeyHeader);
  const std::string_view key = message.headers.get(header);
  return key.empty() ? message.id : std::string(key);
}

namespace detail {

Metadata trigger_metadata(const RecordedEvent& e) {
  Metadata m;
  m.correlation_id = e.metadata.correlation_id;
  if (m.correlation_id.empty()) m.correlation_id = e.id.to_string();
  m.causation_id = e.id.to_string();
  return m;
}

Status decode_trigger(const Status& status, std::string_view type, std::string_view id) {
  return status.with_context(fmt::format("saga trigger \"{}\" ({})", type, id));
}

class SagaEngine::Impl {
 public:
  Impl(EventStore& store, ProjectionStorage& storage, SagaRunnerOptions options, SagaHooks hooks)
      : store_(store), storage_(storage), options_(std::move(options)), hooks_(std::move(hooks)) {
    filter_.event_types = hooks_.trigger_types;
    for (std::string_view t : {saga::CommandIssued::kType, saga::DeadlineScheduled::kType,
                               saga::DeadlineCancelled::kType, saga::DeadlineFired::kType, saga::NeedsAttention::kType,
                               saga::StepCompensated::kType, saga::Compensated::kType, saga::Completed::kType})
      filter_.event_types.emplace_back(t);
  }
  ~Impl() { (void)stop(); }

  void on_command(std::string type, CommandHandler handler) {
    std::lock_guard lock(mu_);
    handlers_[std::move(type)] = std::move(handler);
  }

  Status start() {
    if (options_.name.empty() || options_.name.size() > 255)
      return Status::invalid_argument(fmt::format("saga runner name \"{}\" must be 1 to 255 bytes", options_.name));
    if (options_.batch_size == 0 || options_.command_attempts == 0 || options_.command_concurrency == 0 ||
        options_.first_backoff.count() <= 0 || options_.max_backoff < options_.first_backoff ||
        options_.poll_interval.count() <= 0)
      return Status::invalid_argument(
          fmt::format("saga runner \"{}\": batch_size, command_attempts and command_concurrency must be at least 1, "
                      "backoffs positive and ordered, "
                      "poll_interval positive",
                      options_.name));
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return {};
    STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> loaded, storage_.load_state(options_.name));
    if (!loaded) {
      ProjectionState initial;
      initial.generation = kRows;
      initial.checkpoint = options_.start_from == kEndOfLog ? store_.head_position()
                                                            : (options_.start_from == 0 ? 0 : options_.start_from - 1);
      ProjectionWriteBatch batch(options_.name);
      batch.set_state(std::nullopt, initial);
      STRATA_RETURN_IF_ERROR(storage_.commit(batch));
      loaded = initial;
    }
    state_ = loaded;
    cursor_ = loaded->checkpoint + 1;
    timers_.clear();
    STRATA_RETURN_IF_ERROR(storage_.scan(options_.name, kRows, kDeadlines, "", {},
                                         [&](std::string_view key, std::string_view value) -> Status {
                                           DeadlineRow row;
                                           STRATA_RETURN_IF_ERROR(decode_json(value, row));
                                           timers_[std::string(key)] = row;
                                           return {};
                                         }));
    stopping_ = false;
    stats_ = SagaRunnerStatus{};
    stats_.name = options_.name;
    stats_.running = true;
    subscription_ = store_.subscribe_commits([this](Position) {
      {
        std::lock_guard l(mu_);
        woken_ = true;
      }
      cv_.notify_all();
    });
    thread_ = std::thread([this] { run(); });
    return {};
  }

  Status stop() {
    std::thread thread;
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return {};
      stopping_ = true;
      thread = std::move(thread_);
    }
    cv_.notify_all();
    thread.join();
    subscription_ = CommitSubscription();
    std::lock_guard lock(mu_);
    stats_.running = false;
    return {};
  }

  Status wait_idle(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mu_);
    for (;;) {
      // What the runner itself appends (answers, compensations) counts: the head is read each time.
      const Position head = store_.head_position();
      if (!thread_.joinable())
        return Status::unavailable(fmt::format("saga runner \"{}\" is not running", options_.name));
      if (cursor_ > head && !busy_ && !due_locked(now())) return {};
      if (Clock::now() >= deadline)
        return Status::unavailable(fmt::format(
            "saga runner \"{}\" was not idle within {} ms (at position {}, head {}{})", options_.name, timeout.count(),
            (cursor_ - 1).value(), head.value(), stats_.last_error.ok() ? "" : "; " + stats_.last_error.to_string()));
      idle_cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
  }

  SagaRunnerStatus status() const {
    std::lock_guard lock(mu_);
    SagaRunnerStatus s = stats_;
    s.position = cursor_ - 1;
    s.pending_deadlines = timers_.size();
    return s;
  }

  Result<std::vector<std::string>> needs_attention() {
    std::vector<std::string> out;
    STRATA_RETURN_IF_ERROR(
        storage_.scan(options_.name, kRows, kAttention, "", {}, [&](std::string_view key, std::string_view) -> Status {
          out.emplace_back(key);
          return {};
        }));
    return out;
  }

  Status operator_decision(std::string_view saga, bool retry) {
    STRATA_ASSIGN_OR_RETURN(StreamId stream, StreamId::parse(saga));
    STRATA_ASSIGN_OR_RETURN(Version head, store_.stream_head(stream));
    SagaSignal s;
    s.kind = retry ? SagaSignal::Kind::kRetry : SagaSignal::Kind::kSkip;
    // One decision per state of the saga: the same call twice in a row decides once.
    s.key = fmt::format("operator/{}/{}", retry ? "retry" : "skip", head.value());
    Metadata m;
    m.causation_id = s.key;
    return hooks_.signal(stream, s, m);
  }

  Timestamp now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }

  void count_trigger() {
    std::lock_guard lock(mu_);
    ++stats_.triggers;
  }

 private:
  void run() {
    std::uint32_t failures = 0;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        busy_ = true;
      }
      bool more = false;
      Status s = follow(more);
      if (s.ok()) s = fire_due();
      std::unique_lock lock(mu_);
      busy_ = false;
      if (!s.ok()) {
        stats_.last_error = s;
        ++failures;
      } else {
        failures = 0;
      }
      idle_cv_.notify_all();
      if (stopping_) return;
      if (more && s.ok()) continue;
      auto wait = s.ok() ? options_.poll_interval : backoff(failures);
      if (!timers_.empty()) {
        Timestamp earliest = Timestamp::max();
        for (const auto& [id, row] : timers_)
          earliest = std::min(earliest, Timestamp(std::chrono::microseconds(row.due_us)));
        const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(earliest - now());
        wait = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(1), wait);
      }
      cv_.wait_for(lock, wait, [&] { return stopping_ || woken_; });
      woken_ = false;
    }
  }

  std::chrono::milliseconds backoff(std::uint32_t failures) const {
    auto ms = options_.first_backoff;
    for (std::uint32_t i = 1; i < failures && ms < options_.max_backoff; ++i) ms *= 2;
    return std::min(ms, options_.max_backoff);
  }

  bool due_locked(Timestamp at) const {
    return std::any_of(timers_.begin(), timers_.end(),
                       [&](const auto& t) { return Timestamp(std::chrono::microseconds(t.second.due_us)) <= at; });
  }

  // One batch of the log: handled, and committed with the checkpoint. `more`: the batch was full.
  Status follow(bool& more) {
    std::vector<RecordedEvent> events;
    Position from;
    {
      std::lock_guard lock(mu_);
      from = cursor_;
    }
    STRATA_ASSIGN_OR_RETURN(LogVisit visit,
                            store_.visit_log(from, options_.batch_size, filter_, [&](const EventView& e) -> Status {
                              STRATA_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
                              events.push_back(std::move(r));
                              return {};
                            }));
    more = !visit.end_of_log;
    ProjectionWriteBatch batch(options_.name);
    std::map<std::string, std::optional<DeadlineRow>> timer_changes;
    // The events of one stream in order, different streams at once (commands of different sagas share
    // the store's group commit). A lane stops at its first failure worth retrying; the checkpoint stops
    // before the earliest such failure, and what lanes did beyond it is done again later, which the
    // sagas' derived ids and the commands' keys absorb.
    std::map<std::string_view, std::vector<const RecordedEvent*>> by_stream;
    for (const RecordedEvent& e : events) by_stream[e.stream_id].push_back(&e);
    std::vector<const std::vector<const RecordedEvent*>*> lanes;
    for (const auto& [stream, lane] : by_stream) lanes.push_back(&lane);
    std::mutex batch_mu;
    Position first_failure = kEndOfLog;
    Status failed;
    auto work_lane = [&](const std::vector<const RecordedEvent*>& lane) {
      for (const RecordedEvent* e : lane) {
        std::map<std::string, std::optional<DeadlineRow>> timers;
        RowChanges rows;
        Status s = handle(*e, rows, timers);
        std::lock_guard lock(batch_mu);
        // Stopping (kCancelled) leaves the event to the next start, like a failure worth retrying.
        if (!s.ok() && (retryable(s) || s.code() == StatusCode::kCancelled)) {
          if (e->position < first_failure) {
            first_failure = e->position;
            failed = s;
          }
          return;
        }
        for (auto& [model, key, value] : rows) {
          if (value)
            batch.put(kRows, model, key, *value);
          else
            batch.erase(kRows, model, key);
        }
        for (auto& [id, row] : timers) timer_changes[id] = std::move(row);
        if (!s.ok()) {
          ParkedEvent parked;
          parked.generation = kRows;
          parked.event = *e;
          parked.error = s;
          parked.attempts = 1;
          parked.parked_at = now();
          batch.park(std::move(parked));
        }
      }
    };
    const std::size_t workers = std::min(options_.command_concurrency, lanes.size());
    if (workers <= 1) {
      for (const auto* lane : lanes) work_lane(*lane);
    } else {
      std::atomic<std::size_t> next{0};
      std::vector<std::thread> pool;
      for (std::size_t i = 0; i < workers; ++i)
        pool.emplace_back([&] {
          for (std::size_t l; (l = next++) < lanes.size();) work_lane(*lanes[l]);
        });
      for (auto& t : pool) t.join();
    }
    Position done =
        first_failure == kEndOfLog ? (events.empty() ? from - 1 : events.back().position) : first_failure - 1;
    if (failed.ok()) done = std::max(done, visit.next_position - 1);
    if (done < from) return failed;
    ProjectionState next = *state_;
    next.checkpoint = done;
    batch.set_state(state_, next);
    STRATA_RETURN_IF_ERROR(storage_.commit(batch));
    std::lock_guard lock(mu_);
    state_ = next;
    cursor_ = done + 1;
    for (auto& [id, row] : timer_changes) {
      if (row)
        timers_[id] = *row;
      else
        timers_.erase(id);
    }
    return failed;
  }

  // Row writes of one event: (model, key, value or nothing to erase).
  using RowChanges = std::vector<std::tuple<std::string_view, std::string, std::optional<std::string>>>;

  Status handle(const RecordedEvent& e, RowChanges& batch, std::map<std::string, std::optional<DeadlineRow>>& timers) {
    if (e.type == saga::CommandIssued::kType) {
      saga::CommandIssued c;
      STRATA_RETURN_IF_ERROR(decode_json(e.payload, c));
      return carry_out(e, c);
    }
    if (e.type == saga::DeadlineScheduled::kType) {
      saga::DeadlineScheduled d;
      STRATA_RETURN_IF_ERROR(decode_json(e.payload, d));
      DeadlineRow row{e.stream_id, d.name, d.due_us, e.metadata.correlation_id};
      batch.emplace_back(kDeadlines, d.id, to_json(row));
      timers[d.id] = row;
      return {};
    }
    if (e.type == saga::DeadlineCancelled::kType || e.type == saga::DeadlineFired::kType) {
      saga::DeadlineCancelled d;  // both carry just the id
      STRATA_RETURN_IF_ERROR(decode_json(e.payload, d));
      batch.emplace_back(kDeadlines, d.id, std::nullopt);
      timers[d.id] = std::nullopt;
      return {};
    }
    if (e.type == saga::NeedsAttention::kType) {
      saga::NeedsAttention n;
      STRATA_RETURN_IF_ERROR(decode_json(e.payload, n));
      batch.emplace_back(kAttention, e.stream_id, to_json(AttentionRow{n.step, n.reason}));
      return {};
    }
    if (e.type == saga::StepCompensated::kType || e.type == saga::Compensated::kType ||
        e.type == saga::Completed::kType) {
      batch.emplace_back(kAttention, e.stream_id, std::nullopt);
      return {};
    }
    return hooks_.local_event(e);
  }

  // Carries out one command (retrying what may pass later) and delivers its answer to the saga.
  Status carry_out(const RecordedEvent& e, const saga::CommandIssued& c) {
    CommandContext ctx;
    ctx.key = c.key;
    ctx.saga = e.stream_id;
    ctx.step = c.step;
    ctx.compensation = c.compensation;
    ctx.metadata = trigger_metadata(e);
    CommandHandler handler;
    {
      std::lock_guard lock(mu_);
      if (auto it = handlers_.find(c.type); it != handlers_.end()) handler = it->second;
    }
    Status outcome;
    // Carried out before (the process died before the answer was saved): a handler that saved with the
    // key left its first event under EventId::derive(key, 0). Running it again could meet a rule that
    // its own first run made false ("already reserved") and fail a command that succeeded.
    STRATA_ASSIGN_OR_RETURN(std::optional<EventLocation> done, store_.lookup_event(EventId::derive(c.key, 0)));
    if (done) {
      // answered below as succeeded
    } else if (!handler) {
      outcome = Status::not_found(
          fmt::format("saga runner \"{}\" has no handler for commands of type \"{}\"", options_.name, c.type));
    } else {
      for (std::uint32_t attempt = 1;; ++attempt) {
        ctx.attempt = attempt;
        try {
          outcome = handler(c.payload, ctx);
        } catch (const std::exception& ex) {
          outcome = Status::internal(fmt::format("the handler of command \"{}\" threw: {}", c.type, ex.what()));
        }
        if (outcome.ok() || !retryable(outcome) || attempt >= options_.command_attempts) break;
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, backoff(attempt), [&] { return stopping_; }))
          return Status::cancelled("saga runner stopping");  // carried out again after the restart
      }
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.commands;
    }
    SagaSignal s;
    s.kind = SagaSignal::Kind::kCommandAnswered;
    s.key = "reply/" + e.id.to_string();
    s.step = c.step;
    s.command_type = c.type;
    s.compensation = c.compensation;
    s.succeeded = outcome.ok();
    if (!outcome.ok()) {
      s.code = std::string(status_code_name(outcome.code()));
      s.reason = outcome.message();
    }
    return hooks_.signal(StreamId::parse(e.stream_id).value(), s, ctx.metadata);
  }

  // Delivers every deadline that fell due; those delivered leave the timers.
  Status fire_due() {
    std::vector<std::pair<std::string, DeadlineRow>> due;
    const Timestamp at = now();
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, row] : timers_)
        if (Timestamp(std::chrono::microseconds(row.due_us)) <= at) due.emplace_back(id, row);
    }
    if (due.empty()) return {};
    ProjectionWriteBatch batch(options_.name);
    std::vector<std::string> fired;
    Status failed;
    for (const auto& [id, row] : due) {
      SagaSignal s;
      s.kind = SagaSignal::Kind::kDeadline;
      s.key = "deadline/" + id;
      s.deadline_id = id;
      s.deadline_name = row.name;
      Metadata m;
      m.correlation_id = row.correlation_id;
      m.causation_id = s.key;
      auto stream = StreamId::parse(row.saga);
      Status r = stream.ok() ? hooks_.signal(*stream, s, m) : stream.status();
      if (!r.ok() && retryable(r)) {
        failed = r;
        continue;
      }
      batch.erase(kRows, kDeadlines, id);
      fired.push_back(id);
    }
    if (!fired.empty()) {
      STRATA_RETURN_IF_ERROR(storage_.commit(batch));
      std::lock_guard lock(mu_);
      for (const auto& id : fired) timers_.erase(id);
      stats_.deadlines_fired += fired.size();
    }
    return failed;
  }

  EventStore& store_;
  ProjectionStorage& storage_;
  const SagaRunnerOptions options_;
  const SagaHooks hooks_;
  LogFilter filter_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::thread thread_;
  bool stopping_ = false;                                     // GUARDED_BY(mu_)
  bool woken_ = false;                                        // GUARDED_BY(mu_)
  bool busy_ = false;                                         // GUARDED_BY(mu_)
  std::unordered_map<std::string, CommandHandler> handlers_;  // GUARDED_BY(mu_)
  std::optional<ProjectionState> state_;                      // the runner thread's, and start()'s
  Position cursor_ = 1;                                       // GUARDED_BY(mu_)
  std::map<std::string, DeadlineRow> timers_;                 // GUARDED_BY(mu_)
  SagaRunnerStatus stats_;                                    // GUARDED_BY(mu_)
  CommitSubscription subscription_;
};

SagaEngine::SagaEngine(EventStore& store, ProjectionStorage& storage, SagaRunnerOptions options, SagaHooks hooks)
    : impl_(std::make_unique<Impl>(store, storage, std::move(options), std::move(hooks))) {}
SagaEngine::~SagaEngine() = default;
void SagaEngine::on_command(std::string type, CommandHandler handler) {
  impl_->on_command(std::move(type), std::move(handler));
}
Status SagaEngine::start() { return impl_->start(); }
Status SagaEngine::stop() { return impl_->stop(); }
Status SagaEngine::wait_idle(std::chrono::milliseconds timeout) { return impl_->wait_idle(timeout); }
SagaRunnerStatus SagaEngine::status() const { return impl_->status(); }
Result<std::vector<std::string>> SagaEngine::needs_attention() { return impl_->needs_attention(); }
Status SagaEngine::operator_decision(std::string_view saga, bool retry) {
  return impl_->operator_decision(saga, retry);
}
Timestamp SagaEngine::now() const { return impl_->now(); }
void SagaEngine::count_trigger() { impl_->count_trigger(); }

}  // namespace detail
}  // namespace strata
