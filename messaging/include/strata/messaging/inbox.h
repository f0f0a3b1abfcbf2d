// Inbox: an idempotent consumer. It takes messages from a Transport's durable consumer and hands each to
// a handler that changes this service's own strata store; delivery is at least once, the effect happens
// exactly once.
//
// How: every message's effect carries a marker of the message, committed atomically with the effect.
// - Events: InboxContext::save() stores the aggregate's new events under ids derived from the message
//   (Repository::save_idempotent with the key "<inbox>/<message id>"), so the effect's first event id
//   is the marker: a redelivered message whose event is committed is recognised before its handler runs
//   (EventStore::lookup_event), and a handler that runs again anyway appends nothing.
// - Read-model rows: InboxContext::rows() writes into a ProjectionWriteBatch of the inbox's own
//   projection (named as the inbox) that also holds the message's "handled" row; both commit in one
//   ProjectionStorage write.
// - No effect (the handler did nothing, or refused the message with kRejected): the "handled" row alone,
//   with the outcome. A message rejected once stays rejected: a redelivery finds the row and is not
//   handed to the handler again, whatever the state is by then.
// The message is acknowledged only after that commit. An acknowledgement that gets lost means a
// redelivery, which the marker absorbs.
//
// Messages of one subject (one partition) are handled in order: while one of them waits to be retried,
// the later ones of its subject wait behind it; other subjects go on. A message that has no id, an
// unknown type (unless options say to ignore those), a payload that does not decode, or a handler that
// keeps failing is parked — kept in the ProjectionStorage under the inbox's name with its reason,
// headers and attempts, and acknowledged — and later messages keep flowing. parked(), retry_parked()
// and skip_parked() are those of the projector.
//
//   strata::InboxOptions options;
//   options.name = "payments-inbox";
//   options.consumer.filter = "contracts.events.>";
//   strata::Inbox inbox(*store, store->projection_storage(), transport, options);
//   inbox.on<PaymentRequested>([&](const PaymentRequested& m, strata::InboxContext& ctx) -> strata::Status {
//     STRATA_ASSIGN_OR_RETURN(Payment p, payments.load_or_create(stream_of(m)));
//     STRATA_RETURN_IF_ERROR(p.request(m.amount_cents));        // kRejected: recorded, never retried
//     return ctx.save(payments, p).status();
//   });
//   STRATA_RETURN_IF_ERROR(inbox.start());
//
// Thread safety: handlers run on the inbox's own threads: messages of one subject one after another,
// messages of different subjects concurrently (InboxOptions::concurrency). Every method may be called
// from any thread except from a handler. REQUIRES: the store, storage and transport outlive the
// inbox; register handlers before start(). The destructor stops.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event_store.h"
#include "strata/core/repository.h"
#include "strata/core/status.h"
#include "strata/messaging/message.h"
#include "strata/messaging/transport.h"
#include "strata/projections/projection_storage.h"
#include "strata/projections/read_model.h"

namespace strata {

struct InboxOptions {
  // The inbox's persisted name: its markers and parked messages are kept under it, and it is the
  // durable consumer's name unless consumer.durable says otherwise. 1..64 bytes of [A-Za-z0-9_-].
  std::string name;
  // The durable consumer: its filter says which subjects reach this inbox.
  ConsumerConfig consumer;
  // Subjects handled at once. A subject's messages are always handled one after another, in order;
  // messages of different subjects by up to this many threads, so handlers must be safe to call
  // concurrently for messages of different subjects. Concurrent handlers' appends share the store's
  // group commit: with a durable store, this is what makes an inbox fast (1 handles one message at a
  // time, each waiting for its own fsync).
  std::size_t concurrency = 16;
  // Messages fetched at a time, and how long a fetch waits for the first.
  std::size_t batch_size = 256;
  std::chrono::milliseconds fetch_wait{200};
  // Attempts per message, the first included; then it is parked.
  std::uint32_t max_attempts = 5;
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{30'000};
  // A message whose type has no handler: parked (false) or acknowledged and dropped (true, for inboxes
  // that take only some types of a subject).
  bool ignore_unknown_types = false;
};

class InboxContext;

namespace detail {
// The error a typed handler returns for a payload that does not decode: kInvalidArgument, so the
// message is parked.
Status undecodable_message(const Status& status, const IncomingMessage& message);
}  // namespace detail

// A handler of raw messages: OK once the effect is made through the context; kRejected refuses the
// message for good (recorded, acknowledged); kInvalidArgument, kUnknownEventType and kCorruption park it
// at once (retrying cannot fix the data); any other error (and an exception) is retried with backoff,
// then parks the message.
using MessageHandler = std::function<Status(const IncomingMessage&, InboxContext&)>;

// What a handler makes its effect through, for one message.
class InboxContext {
 public:
  const IncomingMessage& message() const noexcept { return message_; }
  // The metadata the effect should carry: the message's correlation id, and its id as causation id.
  const Metadata& metadata() const noexcept { return metadata_; }
  // "<inbox>/<message id>": what ids of the effect are derived from.
  const std::string& idempotency_key() const noexcept { return key_; }
  // 1 for the first attempt of this message in this process.
  std::uint32_t attempt() const noexcept { return attempt_; }

  // Saves `aggregate`'s pending events as the message's effect, under ids derived from the message,
  // with metadata(). One append per message: a second save(), or save() after rows(), is
  // kInvalidArgument (use a process manager for effects on several aggregates). The repository's errors
  // otherwise (kWrongExpectedVersion: the inbox retries the message).
  template <class A>
  [[nodiscard]] Result<AppendResult> save(const Repository<A>& repository, A& aggregate) {
    STRATA_RETURN_IF_ERROR(claim_effect(Effect::kEvents));
    return repository.save_idempotent(aggregate, key_, metadata_);
  }
  // The same for raw events appended to `stream`: their ids are replaced by derived ones.
  [[nodiscard]] Result<AppendResult> append(const StreamId& stream, ExpectedVersion expected,
                                            std::vector<EventData> events);
  // The inbox's read-model rows (those of the projection named as the inbox, generation 1: query them
  // with ReadModelReader(storage, options.name)), committed with the message's marker in one write when
  // the handler returns OK, dropped when it fails. kInvalidArgument after save().
  [[nodiscard]] Result<std::reference_wrapper<ReadModelTx>> rows();

  // For the inbox.
  enum class Effect : std::uint8_t { kNone, kEvents, kRows };
  InboxContext(EventStore& store, ProjectionStorage& storage, std::string_view inbox, const IncomingMessage& message,
               std::uint32_t attempt);
  Effect effect() const noexcept { return effect_; }
  ProjectionWriteBatch* row_batch() noexcept { return batch_.get(); }

 private:
  Status claim_effect(Effect effect);

  EventStore& store_;
  ProjectionStorage& storage_;
  std::string inbox_;
  const IncomingMessage& message_;
  Metadata metadata_;
  std::string key_;
  std::uint32_t attempt_;
  Effect effect_ = Effect::kNone;
  std::unique_ptr<ProjectionWriteBatch> batch_;
  std::unique_ptr<ReadModelTx> tx_;
};

enum class InboxState : std::uint8_t {
  kStopped,
  // Taking and handling messages.
  kRunning,
  // The broker or the store is failing; retrying with backoff.
  kStalled,
};

// "stopped", "running", "stalled".
std::string_view inbox_state_name(InboxState state) noexcept;

struct InboxStatus {
  std::string name;
  InboxState state = InboxState::kStopped;
  // Since start(): messages whose effect was committed, recognised as already handled, rejected by a
  // handler, parked, and ignored (unknown types, when so configured).
  std::uint64_t handled = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::uint64_t parked = 0;
  std::uint64_t ignored = 0;
  // Messages handled (in any way) per second over the last few seconds.
  double messages_per_second = 0;
  // Messages fetched and not yet handled: held behind a message of their subject that waits for a
  // retry, or next in line.
  std::size_t waiting = 0;
  TransportHealth broker;
  Status last_error;
};

class Inbox {
 public:
  Inbox(EventStore& store, ProjectionStorage& storage, Transport& transport, InboxOptions options);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Handles messages of type `type` (their Strata-Type header) with `handler`.
  Inbox& on_message(std::string type, MessageHandler handler);
  // Handles messages of type M::kType, their payload decoded into an M (a struct with a field table):
  // fn(const M&, InboxContext&) returns Status. A payload that does not decode parks the message.
  template <class M, class Fn>
  Inbox& on(Fn fn) {
    static_assert(EventType<M>, "strata: Inbox::on<M> needs a message type M with kType and a field table");
    return on_message(std::string(M::kType),
                      [fn = std::move(fn)](const IncomingMessage& m, InboxContext& ctx) -> Status {
                        M decoded;
                        Status s = decode_json(m.payload, decoded);
                        if (!s.ok()) return detail::undecodable_message(s, m);
                        return fn(static_cast<const M&>(decoded), ctx);
                      });
  }

  // Opens the durable consumer and starts handling messages. kInvalidArgument for bad options; OK when
  // already started. A broker that cannot be reached is retried in the background (state kStalled).
  [[nodiscard]] Status start();
  // Finishes the message being handled and stops. OK when not started.
  [[nodiscard]] Status stop();
  // Waits until no message has been seen for `quiet` (or `timeout` passes: kUnavailable). For tests
  // and tools.
  [[nodiscard]] Status wait_idle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);

  InboxStatus status() const;
  const std::string& name() const noexcept;

  // Parked messages with a sequence after `after`, in sequence order (ParkedEvent: event.stream_id is
  // the subject, event.position the broker's sequence, event.metadata.headers the message's headers).
  [[nodiscard]] Result<std::vector<ParkedEvent>> parked(std::uint64_t after = 0, std::size_t max_count = 1000) const;
  // Hands the parked message with broker sequence `sequence` to its handler again; on success (or a
  // rejection) it is no longer parked. The handler's error when it fails again; kNotFound when nothing
  // is parked there.
  [[nodiscard]] Status retry_parked(std::uint64_t sequence);
  // Forgets the parked message without handling it. kNotFound when nothing is parked there.
  [[nodiscard]] Status skip_parked(std::uint64_t sequence);

 private:
  class Engine;
  std::unique_ptr<Engine> engine_;
};

}  // namespace strata
