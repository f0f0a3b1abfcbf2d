// ProcessManager<Derived, Events<S...>, Triggers<T...>>: the base of a saga's coordinator
// (orchestration), in the spirit of Aggregate.
//
// It reacts to the events and messages listed in Triggers<...>; each is routed to one instance by a
// correlation key the class takes from it (`static std::string correlate(const T&)`), and the instance
// lives in a stream of its own ("<kName>-<key>"), so it survives crashes, can be loaded as it was at any
// version, and its history is its audit trail. Handlers (`void handle(const T&)`, or returning Status to
// be retried) decide; strata carries the decisions out after they are committed:
//
//   class Activation : public strata::ProcessManager<Activation, strata::Events<Started>,
//                                                    strata::Triggers<ActivationRequested, PaymentConfirmed,
//                                                                     PaymentDeclined, strata::DeadlineReached>> {
//    public:
//     static constexpr std::string_view kName = "activation";
//     static std::string correlate(const ActivationRequested& e) { return e.contract; }
//     static std::string correlate(const PaymentConfirmed& e) { return e.contract; }
//     static std::string correlate(const PaymentDeclined& e) { return e.contract; }
//
//     void handle(const ActivationRequested& e) {
//       record(Started{e.contract, e.cents});
//       send("reserve", ReserveTitles{e.contract});          // a command to a local aggregate
//       step_completed("reserve", ReleaseTitles{e.contract}); // ...undone by this if a later step fails
//       publish("charge", ChargeRequested{e.contract, e.cents}); // a message to the payments service
//       schedule("payment", std::chrono::minutes(10));
//     }
//     void handle(const PaymentConfirmed&) { cancel_deadline("payment"); complete(); }
//     void handle(const PaymentDeclined& e) { compensate("declined: " + e.reason); }
//     void handle(const strata::DeadlineReached&) { compensate("no answer from payments"); }
//    private:
//     friend ProcessManager;
//     void apply(const Started& e) { ... }
//   };
//
// Every command and message carries an idempotency key derived from the instance and the step
// ("<stream>/<step>", "/compensate" appended for a compensation), so a step replayed after a crash is
// absorbed downstream. compensate() undoes the completed steps newest first, one at a time; a
// compensation command that keeps failing leaves the saga in kNeedsAttention (SagaRunner::retry / skip).
// The first type in Triggers<...> starts an instance (or those in `using StartedBy = Triggers<...>`);
// another one for an instance that does not exist is dropped. Triggers keep reaching an ended saga, so
// that it can answer a late reply (a refund for a payment confirmed after compensation began).
//
// SagaRunner (saga_runner.h) loads, routes, saves and carries out; ProcessScenario (testing/
// process_scenario.h) tests a process manager without a store.
//
// Thread safety: an instance is a value owned by one thread at a time.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"
#include "strata/messaging/saga_records.h"

namespace strata {

template <class... Ts>
struct Triggers {};

namespace detail {

struct ProcessAccess;

// `status` with the stream, version and type of the saga record it is about.
Status in_saga_record(const Status& status, const EventView& e);

// A record decided while handling one trigger, in order: (type, JSON payload).
struct SagaRecord {
  std::string type;
  std::string payload;
  std::string idempotency_key;  // of a message: carried as its "idempotency-key" header
};

// The decisions strata takes part in, and the saga state they change. Compiled (saga_core.cc).
class SagaCore {
 public:
  const SagaState& state() const noexcept { return state_; }
  const std::vector<SagaRecord>& pending() const noexcept { return pending_; }
  void clear_pending() noexcept { pending_.clear(); }
  Timestamp now() const noexcept { return now_; }
  const std::string& stream() const noexcept { return stream_; }
  void begin(std::string stream, Timestamp now) {
    stream_ = std::move(stream);
    now_ = now;
  }

  // A stored record of strata's own: folded. kUnknownEventType, kInvalidArgument as SagaState::fold.
  Status load(std::string_view type, std::string_view payload) { return state_.fold(type, payload); }
  // The process manager's own event, already applied by it.
  void user_event(std::string_view type, std::string payload);

  void trigger_handled(std::string_view type, std::string_view id);
  void send(std::string step, std::string_view type, std::string payload);
  void publish(std::string step, std::string_view type, std::string payload);
  std::string schedule(std::string name, Timestamp due);
  void cancel(std::string_view name);
  void step_completed(std::string step, std::string_view kind, std::string_view type, std::string payload);
  void complete();
  void compensate(std::string reason);

  // strata's reactions. A deadline that is still pending is marked fired (true); otherwise nothing.
  bool deadline_due(std::string_view id);
  // Records the answer to the command of `step` — for a compensation, goes on with the next one, or
  // to kNeedsAttention. False when no such command waits for an answer (it was answered before).
  bool command_answered(std::string_view step, bool compensation, bool succeeded, std::string_view reason);
  // An operator's decision on a saga in kNeedsAttention. kInvalidArgument in another phase.
  Status retry_attention();
  Status skip_attention();

 private:
  template <class R>
  void add(const R& record);
  void next_compensation();
  std::string key(std::string_view step, bool compensation) const;

  std::string stream_;
  Timestamp now_{};
  SagaState state_;
  std::vector<SagaRecord> pending_;
};

template <class E, class List>
struct InTriggers : std::false_type {};
template <class E, class... Ts>
struct InTriggers<E, Triggers<Ts...>> : std::bool_constant<kContains<E, Ts...>> {};

template <class List>
struct FirstTrigger;
template <class T, class... Ts>
struct FirstTrigger<Triggers<T, Ts...>> {
  using type = T;
};

}  // namespace detail

template <class Derived, class StateEvents, class TriggerList>
class ProcessManager {
  static_assert(detail::kAlwaysFalse<StateEvents>,
                "strata: ProcessManager<Derived, strata::Events<...>, strata::Triggers<...>>: the second argument "
                "lists the process manager's own events, the third the events and messages it reacts to");
};

template <class Derived, class... Ss, class... Ts>
class ProcessManager<Derived, Events<Ss...>, Triggers<Ts...>> {
  static_assert(sizeof...(Ts) > 0, "strata: a process manager reacts to at least one trigger type");

 public:
  using StateEventList = Events<Ss...>;
  using TriggerList = Triggers<Ts...>;
  using Dispatcher = detail::EventDispatcher<Events<Ss...>, Upcasters<>>;

  // Whether an event of type E may create an instance (see the header comment).
  template <class E>
  static constexpr bool starts() {
    if constexpr (requires { typename Derived::StartedBy; }) {
      return detail::InTriggers<E, typename Derived::StartedBy>::value;
    } else {
      return std::is_same_v<E, typename detail::FirstTrigger<Triggers<Ts...>>::type>;
    }
  }

  // The instance's stream; REQUIRES: has_id().
  const StreamId& id() const { return *id_; }
  bool has_id() const noexcept { return id_.has_value(); }
  // The version of the last stored record folded in (0: a new instance).
  Version version() const noexcept { return version_; }
  // What strata keeps of it: phase, completed steps, pending deadlines, commands waiting for answers.
  const SagaState& saga() const noexcept { return core_.state(); }
  SagaPhase phase() const noexcept { return core_.state().phase; }
  // The correlation id of the business transaction: that of its first record (empty for a new one).
  const std::string& correlation_id() const noexcept { return correlation_id_; }
  // Records decided since the last load or save (the process manager's events and strata's), in order.
  const std::vector<detail::SagaRecord>& pending_records() const noexcept { return core_.pending(); }

 protected:
  ProcessManager() = default;
  ~ProcessManager() { (check_apply<Ss>(), ...); }
  ProcessManager(const ProcessManager&) = default;
  ProcessManager(ProcessManager&&) noexcept = default;
  ProcessManager& operator=(const ProcessManager&) = default;
  ProcessManager& operator=(ProcessManager&&) noexcept = default;

  // Folds one of its own events into its state now and queues it for the save.
  template <class E>
  void record(E&& event) {
    using Ev = std::remove_cvref_t<E>;
    static_assert(detail::kContains<Ev, Ss...>,
                  "strata: record() was given an event type that is not in this process manager's Events<...>");
    check_apply<Ev>();
    derived().apply(static_cast<const Ev&>(event));
    core_.user_event(Ev::kType, to_json(event));
  }

  // Step `step`: `command` for a local aggregate, carried out by the SagaRunner's handler for its type
  // with the key "<stream>/<step>"; the outcome comes back as CommandSucceeded or CommandFailed.
  template <EventType C>
  void send(std::string step, const C& command) {
    core_.send(std::move(step), C::kType, to_json(command));
  }
  // Step `step`: `message` for another service, published by a Relay given add_saga_messages(), with
  // the key "<stream>/<step>" in its "idempotency-key" header (saga_idempotency_key() reads it).
  template <EventType M>
  void publish(std::string step, const M& message) {
    core_.publish(std::move(step), M::kType, to_json(message));
  }
  // A deadline `after` from now (or at `due`): DeadlineReached{id, name} reaches this instance then,
  // unless cancelled first. Returns its id.
  std::string schedule(std::string name, std::chrono::milliseconds after) {
    return core_.schedule(std::move(name), core_.now() + std::chrono::duration_cast<std::chrono::microseconds>(after));
  }
  std::string schedule_at(std::string name, Timestamp due) { return core_.schedule(std::move(name), due); }
  // Cancels every pending deadline named `name`.
  void cancel_deadline(std::string_view name) { core_.cancel(name); }
  // Step `step` is done and needs no undoing / is undone by `undo`, a command (the default) or, with
  // step_completed_publishing, a message to another service.
  void step_completed(std::string step) { core_.step_completed(std::move(step), "", "", ""); }
  template <EventType C>
  void step_completed(std::string step, const C& undo) {
    core_.step_completed(std::move(step), "command", C::kType, to_json(undo));
  }
  template <EventType M>
  void step_completed_publishing(std::string step, const M& undo) {
    core_.step_completed(std::move(step), "message", M::kType, to_json(undo));
  }
  // The saga succeeded; its pending deadlines are cancelled.
  void complete() { core_.complete(); }
  // The saga failed: its completed steps are undone, newest first; its pending deadlines are cancelled.
  void compensate(std::string reason) { core_.compensate(std::move(reason)); }
  // When the trigger being handled is handled (the runner's clock).
  Timestamp now() const noexcept { return core_.now(); }

 private:
  friend struct detail::ProcessAccess;

  template <class E>
  static constexpr void check_apply() {
    static_assert(
        requires(Derived & d, const E& e) { d.apply(e); },
        "strata: the process manager has no apply(const E&) for an event in its Events<...> list; add "
        "`void apply(const E&)` (it may be private, with `friend ProcessManager;`)");
  }
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }

  // Folds one stored record: strata's into SagaState, the process manager's own through apply().
  Status load_record(const EventView& e, Dispatcher& dispatcher, const Limits& limits) {
    if (version_ == 0) {
      STRATA_ASSIGN_OR_RETURN(Metadata m, e.metadata());
      correlation_id_ = std::move(m.correlation_id);
    }
    if (e.type.starts_with(saga::kRecordPrefix)) {
      Status s = core_.load(e.type, e.payload);
      if (!s.ok()) return detail::in_saga_record(s, e);
    } else {
      bool known = false;
      Status s = dispatcher.dispatch(
          e, limits, [this](const auto& event) { derived().apply(event); }, known);
      if (!s.ok()) return s;
      if (!known) return detail::unknown_event_type(e.stream_id, e.version, e.position, e.type);
    }
    version_ = e.version;
    return {};
  }
  // Runs the handler of `trigger`, if the process manager has one: its Status (OK for a void one).
  template <class E>
  Status run_handler(const E& trigger) {
    if constexpr (requires(Derived & d) { d.handle(trigger); }) {
      if constexpr (std::is_void_v<decltype(derived().handle(trigger))>) {
        derived().handle(trigger);
        return {};
      } else {
        return derived().handle(trigger);
      }
    } else {
      return {};
    }
  }
  template <class E>
  static constexpr bool has_handler() {
    return requires(Derived & d, const E& e) { d.handle(e); };
  }

  detail::SagaCore core_;
  std::optional<StreamId> id_;
  Version version_ = 0;
  std::string correlation_id_;
};

namespace detail {

// What SagaRunner and ProcessScenario do to a process manager.
struct ProcessAccess {
  template <class P>
  static SagaCore& core(P& p) noexcept {
    return p.core_;
  }
  template <class P>
  static void set_id(P& p, StreamId id) {
    p.id_ = std::move(id);
  }
  template <class P>
  static void mark_saved(P& p, Version version) {
    p.core_.clear_pending();
    p.version_ = version;
  }
  template <class P>
  static Status load(P& p, const EventView& e, typename P::Dispatcher& dispatcher, const Limits& limits) {
    return p.load_record(e, dispatcher, limits);
  }
  template <class P, class E>
  static Status handle(P& p, const E& trigger) {
    return p.run_handler(trigger);
  }
  template <class P, class E>
  static constexpr bool handles() {
    return P::template has_handler<E>();
  }
};

// A trigger of strata's own, for an instance known by its stream.
struct SagaSignal {
  enum class Kind : std::uint8_t { kCommandAnswered, kDeadline, kRetry, kSkip } kind = Kind::kCommandAnswered;
  std::string key;  // what makes it idempotent
  std::string step;
  std::string command_type;
  bool compensation = false;
  bool succeeded = false;
  std::string code;
  std::string reason;
  std::string deadline_id;
  std::string deadline_name;
};

// The decisions of `p` (loaded, begun) on `trigger`, a type in its Triggers<...>: false when there are
// none (no instance, and E does not start one). Shared by SagaRunner and ProcessScenario.
template <class P, class E>
Result<bool> decide_trigger(P& p, const E& trigger, std::string_view key) {
  if (p.version() == 0 && !P::template starts<E>()) return false;
  ProcessAccess::core(p).trigger_handled(E::kType, key);
  STRATA_RETURN_IF_ERROR(ProcessAccess::handle(p, trigger));
  return true;
}

// The decisions of `p` on one of strata's own triggers. kNotFound for an operator's decision on an
// instance that does not exist; kInvalidArgument for one on an instance that needs no attention.
template <class P>
Result<bool> decide_signal(P& p, const SagaSignal& s) {
  using Kind = SagaSignal::Kind;
  auto& core = ProcessAccess::core(p);
  if (p.version() == 0 && p.pending_records().empty()) {
    if (s.kind == Kind::kRetry || s.kind == Kind::kSkip)
      return Status::not_found("no saga in stream \"" + core.stream() + "\"");
    return false;
  }
  switch (s.kind) {
    case Kind::kDeadline: {
      if (!core.deadline_due(s.deadline_id)) return false;  // cancelled, fired before, or the saga ended
      core.trigger_handled(DeadlineReached::kType, s.key);
      STRATA_RETURN_IF_ERROR(ProcessAccess::handle(p, DeadlineReached{s.deadline_id, s.deadline_name}));
      return true;
    }
    case Kind::kCommandAnswered: {
      if (!core.command_answered(s.step, s.compensation, s.succeeded, s.reason)) return false;
      if (s.compensation) return true;  // strata's own business
      if (s.succeeded) {
        STRATA_RETURN_IF_ERROR(ProcessAccess::handle(p, CommandSucceeded{s.step, s.command_type}));
      } else if constexpr (ProcessAccess::handles<P, CommandFailed>()) {
        STRATA_RETURN_IF_ERROR(ProcessAccess::handle(p, CommandFailed{s.step, s.command_type, s.code, s.reason}));
      } else {
        core.compensate("step \"" + s.step + "\" failed: " + s.reason);
      }
      return true;
    }
    case Kind::kRetry:
    case Kind::kSkip: {
      STRATA_RETURN_IF_ERROR(s.kind == Kind::kRetry ? core.retry_attention() : core.skip_attention());
      core.trigger_handled(s.kind == Kind::kRetry ? "strata.saga.operator_retry" : "strata.saga.operator_skip", s.key);
      return true;
    }
  }
  return false;
}

}  // namespace detail

}  // namespace strata
