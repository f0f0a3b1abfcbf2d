// SagaRunner<P>: runs the process manager P in one service — routes triggers to instances, saves their
// decisions, and carries out what they decided: commands, deadlines and compensations.
//
//   strata::SagaRunner<Activation> runner(store, store.projection_storage());
//   runner.on_command<ReserveTitles>([&](const ReserveTitles& c, const strata::CommandContext& ctx) {
//     STRATA_ASSIGN_OR_RETURN(Catalog cat, catalogs.load(...));
//     STRATA_RETURN_IF_ERROR(cat.reserve(c.contract));
//     return catalogs.save_idempotent(cat, ctx.key, ctx.metadata).status();   // once per key
//   });
//   runner.attach<PaymentConfirmed, PaymentDeclined>(inbox);   // triggers from other services
//   strata::throw_if_error(runner.start());
//
// Where triggers come from:
//   - events of the local store whose types are in P's Triggers<...>: the runner follows the log from
//     its checkpoint (kept in `storage` like a projector's), at least once;
//   - messages from other services: attach() registers Inbox handlers, or call deliver() yourself;
//   - strata's own: DeadlineReached from the runner's timers (kept as rows in `storage`, scheduled with
//     the saga's own commit, fired at least once), CommandSucceeded / CommandFailed after a command.
// Each trigger is handled once per instance: the instance's records are appended under ids derived from
// the trigger ("event/<id>", the inbox's key, "deadline/<id>", "reply/<command id>"), so handling it
// again — after a crash, a redelivery, a timer fired twice — appends nothing.
//
// Commands are carried out by the handler registered for their type, with the idempotency key
// "<saga stream>/<step>" (a compensation's: "/compensate" appended) and metadata carrying the saga's
// correlation id. A handler saves its effect with that key (Repository::save_idempotent(a, ctx.key,
// ctx.metadata)): a command whose key already has its first event (EventId::derive(key, 0)) counts as
// carried out, and is not run again after a crash — where its own first run could make its rule fail. A handler's
// kUnavailable / kIOError / kWrongExpectedVersion / kInternal are retried with backoff (command_attempts times); any
// other error, or no handler, fails the command. Messages a process manager publishes are the Relay's job: give it
// add_saga_messages().
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event_store.h"
#include "strata/core/status.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/process_manager.h"
#include "strata/messaging/relay.h"
#include "strata/projections/projection_storage.h"

namespace strata {

struct SagaRunnerOptions {
  // The runner's persisted name: its checkpoint, timers and needs-attention list are kept under it in
  // the projection storage (1..255 bytes). Empty: "<P::kName>.sagas".
  std::string name;
  // Where a runner with no checkpoint starts following the log.
  Position start_from = 1;
  // Events read from the log at a time.
  std::size_t batch_size = 256;
  // A command handler's retryable failure is tried this many times in all, waiting first_backoff,
  // doubling up to max_backoff, before the command fails.
  std::uint32_t command_attempts = 5;
  // Events of this many sagas (streams) handled at once: their commands and answers share the store's
  // group commit. A saga's own events are always handled one after another. Command handlers must be
  // safe to call concurrently for different sagas.
  std::size_t command_concurrency = 16;
  std::chrono::milliseconds first_backoff{20};
  std::chrono::milliseconds max_backoff{1'000};
  // Longest wait between looks at the log and the timers when no commit wakes the runner.
  std::chrono::milliseconds poll_interval{100};
  // The clock deadlines are scheduled and fired by (tests move time forward with their own).
  std::function<Timestamp()> clock;
};

// What a command handler is given.
struct CommandContext {
  std::string key;   // the idempotency key: save with it (Repository::save_idempotent), pass it on
  std::string saga;  // the saga's stream
  std::string step;
  bool compensation = false;
  std::uint32_t attempt = 1;
  Metadata metadata;  // correlation id of the business transaction, causation id of the command
};

using CommandHandler = std::function<Status(std::string_view payload, const CommandContext&)>;

// One instance, as SagaRunner::status() reports it.
struct SagaStatus {
  std::string id;  // the stream
  SagaPhase phase = SagaPhase::kNew;
  std::string current_step;
  std::vector<std::string> completed_steps;
  std::vector<SagaState::Deadline> deadlines;  // pending
  std::vector<std::string> waiting_for;        // steps whose commands have no answer yet
  std::string compensation_reason;
  std::string attention_step;
  std::string attention_reason;
  struct Entry {
    Version version = 0;
    std::string type;
    Timestamp timestamp{};
    std::string correlation_id;
    std::string causation_id;
  };
  std::vector<Entry> history;  // every record of its stream, in order
};

struct SagaRunnerStatus {
  std::string name;
  bool running = false;
  Position position = 0;  // the log is handled up to here
  std::size_t pending_deadlines = 0;
  std::uint64_t triggers = 0;  // handled since start()
  std::uint64_t commands = 0;  // carried out since start()
  std::uint64_t deadlines_fired = 0;
  Status last_error;
};

// The Relay mapping that publishes the messages process managers decided ("strata.saga.message_sent"
// records) as what they are: their own type and payload. Each carries its step's idempotency key
// ("<saga stream>/<step>") in a header: saga_idempotency_key() reads it on the receiving side, to pass
// to a third party. Add other mappings to the same RelayMapping as usual.
void add_saga_messages(RelayMapping& mapping);

// The metadata header of a saga's message record that holds its idempotency key.
inline constexpr std::string_view kSagaIdempotencyKeyHeader = "idempotency-key";

// The idempotency key of a message a saga decided (its header); the message id for any other message.
std::string saga_idempotency_key(const IncomingMessage& message);

namespace detail {

// What the runner's engine needs from the typed front.
struct SagaHooks {
  std::vector<std::string> trigger_types;  // followed in the local log
  // A local event whose type is a trigger.
  std::function<Status(const RecordedEvent& e)> local_event;
  // One of strata's triggers for the instance in `stream`.
  std::function<Status(const StreamId& stream, const SagaSignal& signal, const Metadata& metadata)> signal;
  // The status of the instance in `stream`.
  std::function<Result<SagaStatus>(const StreamId& stream)> status;
};

// The untyped part of SagaRunner (saga_runner.cc): follows the log, carries out commands, keeps timers.
class SagaEngine {
 public:
  SagaEngine(EventStore& store, ProjectionStorage& storage, SagaRunnerOptions options, SagaHooks hooks);
  ~SagaEngine();
  void on_command(std::string type, CommandHandler handler);
  Status start();
  Status stop();
  Status wait_idle(std::chrono::milliseconds timeout);
  SagaRunnerStatus status() const;
  Result<std::vector<std::string>> needs_attention();
  Status operator_decision(std::string_view saga, bool retry);
  Timestamp now() const;
  void count_trigger();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The metadata of what a stored event causes: its correlation id (its own id when it has none), and its
// id as the causation id.
Metadata trigger_metadata(const RecordedEvent& e);
Status decode_trigger(const Status& status, std::string_view type, std::string_view id);

}  // namespace detail

template <class P>
class SagaRunner {
 public:
  SagaRunner(EventStore& store, ProjectionStorage& storage, SagaRunnerOptions options = {})
      : store_(store), engine_(store, storage, with_defaults(std::move(options)), hooks()) {}
  ~SagaRunner() { (void)engine_.stop(); }
  SagaRunner(const SagaRunner&) = delete;
  SagaRunner& operator=(const SagaRunner&) = delete;

  // The handler of commands of type C (see the header comment). Register before start().
  template <class C, class Fn>
  SagaRunner& on_command(Fn fn) {
    static_assert(EventType<C>, "strata: on_command<C> needs a command type C with kType and a field table");
    engine_.on_command(std::string(C::kType),
                       [fn = std::move(fn), this](std::string_view payload, const CommandContext& ctx) -> Status {
                         C command;
                         Status s = decode_json(payload, command, store_.limits());
                         if (!s.ok()) return s.with_context(fmt_command(C::kType, ctx.key));
                         return fn(static_cast<const C&>(command), ctx);
                       });
    return *this;
  }

  // Handlers on `inbox` that deliver messages of types E... (triggers of P) to their instances, with
  // the inbox's idempotency key. Register before the inbox starts.
  template <class... E>
  SagaRunner& attach(Inbox& inbox) {
    static_assert(sizeof...(E) > 0, "strata: attach<E...> names the message types to deliver");
    (attach_one<E>(inbox), ...);
    return *this;
  }

  // Handles `trigger` (a type in P's Triggers<...>) in its instance, once per `key`: the same key again
  // appends nothing. kInvalidArgument for an empty key or an invalid correlation key; the store's
  // errors otherwise (kWrongExpectedVersion only after several concurrent updates in a row).
  template <class E>
  Status deliver(const E& trigger, std::string_view key, const Metadata& metadata = {}) {
    static_assert(detail::InTriggers<E, typename P::TriggerList>::value,
                  "strata: deliver<E>: E is not in the process manager's Triggers<...>");
    if (key.empty()) return Status::invalid_argument("SagaRunner::deliver needs a non-empty idempotency key");
    STRATA_ASSIGN_OR_RETURN(StreamId stream, stream_of(P::correlate(trigger)));
    return handle(stream, key, metadata, [&](P& p) { return detail::decide_trigger(p, trigger, key); });
  }

  Status start() { return engine_.start(); }
  Status stop() { return engine_.stop(); }
  // Returns once the runner has handled the whole log as it stood at the call and no deadline is due;
  // kUnavailable after `timeout`.
  Status wait_idle(std::chrono::milliseconds timeout) { return engine_.wait_idle(timeout); }

  // The instance for correlation key `key`: kNotFound when it has no records.
  Result<P> load(std::string_view key) const { return load_until(key, kEndOfStream); }
  // As it was after its record `version`.
  Result<P> load_at(std::string_view key, Version version) const { return load_until(key, version); }
  Result<SagaStatus> status(std::string_view key) const {
    STRATA_ASSIGN_OR_RETURN(StreamId stream, stream_of(key));
    return status_of(stream);
  }
  SagaRunnerStatus runner_status() const { return engine_.status(); }
  // The streams of the instances that need attention (a compensation kept failing).
  Result<std::vector<std::string>> needs_attention() { return engine_.needs_attention(); }
  // An operator's decision for the instance in kNeedsAttention: carry its failing compensation out
  // again, or skip it (recorded as skipped) and go on with the next. kInvalidArgument in another phase.
  Status retry(std::string_view key) { return decide(key, true); }
  Status skip(std::string_view key) { return decide(key, false); }

  // The stream of the instance for correlation key `key`: "<P::kName>-<key>".
  static Result<StreamId> stream_of(std::string_view key) {
    Result<StreamId> id = StreamId::parse(std::string(P::kName) + "-" + std::string(key));
    if (!id.ok()) return id.status().with_context(fmt_key(P::kName, key));
    return id;
  }

 private:
  static SagaRunnerOptions with_defaults(SagaRunnerOptions o) {
    if (o.name.empty()) o.name = std::string(P::kName) + ".sagas";
    return o;
  }

  template <class E>
  void attach_one(Inbox& inbox) {
    static_assert(detail::InTriggers<E, typename P::TriggerList>::value,
                  "strata: attach<E>: E is not in the process manager's Triggers<...>");
    inbox.on<E>(
        [this](const E& e, InboxContext& ctx) -> Status { return deliver(e, ctx.idempotency_key(), ctx.metadata()); });
  }

  detail::SagaHooks hooks() {
    detail::SagaHooks h;
    collect_types(h.trigger_types, static_cast<typename P::TriggerList*>(nullptr));
    h.local_event = [this](const RecordedEvent& e) { return local_event(e); };
    h.signal = [this](const StreamId& stream, const detail::SagaSignal& s, const Metadata& m) {
      return signal(stream, s, m);
    };
    h.status = [this](const StreamId& stream) { return status_of(stream); };
    return h;
  }

  template <class... Ts>
  static void collect_types(std::vector<std::string>& out, Triggers<Ts...>*) {
    (add_type<Ts>(out), ...);
  }
  template <class T>
  static void add_type(std::vector<std::string>& out) {
    // strata's own triggers come from the runner, not the log.
    if constexpr (!std::is_same_v<T, DeadlineReached> && !std::is_same_v<T, CommandSucceeded> &&
                  !std::is_same_v<T, CommandFailed>)
      out.emplace_back(T::kType);
  }

  Status local_event(const RecordedEvent& e) {
    Status result = Status::internal("no trigger type matched");
    const std::string key = "event/" + e.id.to_string();
    const Metadata metadata = detail::trigger_metadata(e);
    dispatch_local(e, key, metadata, result, static_cast<typename P::TriggerList*>(nullptr));
    return result;
  }
  template <class... Ts>
  void dispatch_local(const RecordedEvent& e, const std::string& key, const Metadata& m, Status& result,
                      Triggers<Ts...>*) {
    (void)((e.type == Ts::kType ? (result = decode_and_deliver<Ts>(e, key, m), true) : false) || ...);
  }
  template <class T>
  Status decode_and_deliver(const RecordedEvent& e, const std::string& key, const Metadata& m) {
    if constexpr (std::is_same_v<T, DeadlineReached> || std::is_same_v<T, CommandSucceeded> ||
                  std::is_same_v<T, CommandFailed>) {
      return {};
    } else {
      T trigger;
      Status s = decode_json(e.payload, trigger, store_.limits());
      if (!s.ok()) return detail::decode_trigger(s, e.type, key);
      return deliver(trigger, key, m);
    }
  }

  Status signal(const StreamId& stream, const detail::SagaSignal& s, const Metadata& metadata) {
    return handle(stream, s.key, metadata, [&](P& p) { return detail::decide_signal(p, s); });
  }

  Status decide(std::string_view key, bool retry) {
    STRATA_ASSIGN_OR_RETURN(StreamId stream, stream_of(key));
    return engine_.operator_decision(stream.view(), retry);
  }

  // Loads the instance in `stream`, lets `decide` add records (false: nothing to do), saves them under
  // ids derived from `key`; again from the load when another writer got there first.
  template <class Decide>
  Status handle(const StreamId& stream, std::string_view trigger_key, const Metadata& metadata, Decide&& decide) {
    // Per process manager: another one reacting to the same event keeps its own record of it.
    const std::string key = std::string(P::kName) + ":" + std::string(trigger_key);
    Status last;
    for (int attempt = 0; attempt < 20; ++attempt) {
      STRATA_ASSIGN_OR_RETURN(std::optional<EventLocation> done, store_.lookup_event(EventId::derive(key, 0)));
      if (done) return {};  // handled before
      STRATA_ASSIGN_OR_RETURN(P p, load_stream(stream, kEndOfStream, true));
      detail::ProcessAccess::core(p).begin(stream.str(), engine_.now());
      STRATA_ASSIGN_OR_RETURN(bool changed, decide(p));
      const auto& records = p.pending_records();
      if (!changed || records.empty()) return {};
      // The saga is one business transaction: its records keep the correlation id it started with.
      Metadata m = metadata;
      if (!p.correlation_id().empty()) m.correlation_id = p.correlation_id();
      if (m.correlation_id.empty()) m.correlation_id = stream.str();
      std::vector<EventData> batch;
      batch.reserve(records.size());
      for (std::size_t i = 0; i < records.size(); ++i) {
        batch.push_back(EventData{EventId::derive(key, i), records[i].type, records[i].payload, m});
        if (!records[i].idempotency_key.empty())
          batch.back().metadata.headers.emplace_back(std::string(kSagaIdempotencyKeyHeader),
                                                     records[i].idempotency_key);
      }
      auto saved = store_.append(stream, ExpectedVersion::exact(p.version()), batch);
      if (saved.ok()) {
        engine_.count_trigger();
        return {};
      }
      last = saved.status();
      if (last.code() != StatusCode::kWrongExpectedVersion) return last;
    }
    return last;
  }

  Result<P> load_until(std::string_view key, Version target) const {
    STRATA_ASSIGN_OR_RETURN(StreamId stream, stream_of(key));
    return load_stream(stream, target, false);
  }
  Result<P> load_stream(const StreamId& stream, Version target, bool may_be_new) const {
    P p;
    detail::ProcessAccess::set_id(p, stream);
    typename P::Dispatcher dispatcher;
    Status s = store_.visit_stream(stream, 1, target, [&](const EventView& e) -> Status {
      return detail::ProcessAccess::load(p, e, dispatcher, store_.limits());
    });
    if (s.code() == StatusCode::kNotFound) {
      if (may_be_new) return p;
      return s;
    }
    STRATA_RETURN_IF_ERROR(s);
    return p;
  }

  Result<SagaStatus> status_of(const StreamId& stream) const {
    STRATA_ASSIGN_OR_RETURN(P p, load_stream(stream, kEndOfStream, false));
    SagaStatus out;
    const SagaState& st = p.saga();
    out.id = stream.str();
    out.phase = st.phase;
    out.current_step = st.current_step;
    for (const auto& step : st.steps) out.completed_steps.push_back(step.name);
    out.deadlines = st.deadlines;
    for (const auto& c : st.commands) out.waiting_for.push_back(c.step);
    out.compensation_reason = st.compensation_reason;
    out.attention_step = st.attention_step;
    out.attention_reason = st.attention_reason;
    STRATA_RETURN_IF_ERROR(store_.visit_stream(stream, 1, kEndOfStream, [&](const EventView& e) -> Status {
      STRATA_ASSIGN_OR_RETURN(Metadata m, e.metadata());
      out.history.push_back(
          SagaStatus::Entry{e.version, std::string(e.type), e.timestamp, m.correlation_id, m.causation_id});
      return {};
    }));
    return out;
  }

  static std::string fmt_command(std::string_view type, std::string_view key) {
    return "command \"" + std::string(type) + "\" (key \"" + std::string(key) + "\")";
  }
  static std::string fmt_key(std::string_view name, std::string_view key) {
    return "the stream of saga \"" + std::string(name) + "\" for correlation key \"" + std::string(key) + "\"";
  }

  EventStore& store_;
  detail::SagaEngine engine_;
};

}  // namespace strata
