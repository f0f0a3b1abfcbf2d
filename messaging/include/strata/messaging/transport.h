// Transport: how messages cross between services, behind one small interface that a Relay publishes to
// and an Inbox consumes from. Implementations: JetStreamTransport (NATS JetStream, between processes)
// and InProcessTransport (in memory, for tests and single-process applications). Both pass
// tests/messaging/transport_conformance.h and share these delivery semantics:
//
// - Publishing is asynchronous: publish() returns at once and calls `done` exactly once, with the
//   broker's ack (the message is stored; a duplicate id within the duplicate window is stored once and
//   acked with duplicate = true) or with the failure (kUnavailable: broker down, no leader, timeout —
//   the message may or may not be stored, so publish it again with the same id).
// - Messages are kept in the order they were stored. A durable consumer, named, remembers what it has
//   acknowledged across restarts of the consumer (and of the broker, for JetStream); it receives each
//   message at least once: a message not acked within the ack wait, or nak'ed, is delivered again.
// - Per subject, messages are delivered in order: a redelivery comes before any later message of the
//   same subject that was not delivered yet, and a consumer opened again first gets what it had been
//   given and never acknowledged (ConsumerConfig::redeliver_unacknowledged_on_open). A consumer that acks
//   out of order, or naks, can still break the order of its own subjects; the Inbox holds a subject back
//   while one of its messages waits for a retry instead.
//
//   strata::InProcessTransport transport;
//   transport.publish(message, [](strata::Result<strata::PublishAck> ack) { ... });
//   STRATA_ASSIGN_OR_RETURN(auto consumer, transport.consume({.durable = "payments", .filter = "contracts.>"}));
//   STRATA_ASSIGN_OR_RETURN(auto batch, consumer->fetch(100, std::chrono::milliseconds(500)));
//   for (auto& d : batch) { handle(d->message()); STRATA_RETURN_IF_ERROR(d->ack()); }
//
// Thread safety: every method of Transport and Consumer may be called from any thread; `done` runs on a
// transport thread and must be quick. A Delivery belongs to the thread that fetched it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/core/status.h"
#include "strata/messaging/message.h"

namespace strata {

using PublishCallback = std::function<void(Result<PublishAck>)>;

// A durable consumer's settings.
struct ConsumerConfig {
  // Its persisted name: what it has acknowledged is kept under it. 1..64 bytes of [A-Za-z0-9_-].
  std::string durable;
  // The subjects it receives: a NATS subject filter ("contracts.>", "payments.events.*"); empty: all.
  std::string filter;
  // How long a delivered message may go unacknowledged before it is delivered again.
  std::chrono::milliseconds ack_wait{30'000};
  // At most this many messages delivered and not yet acknowledged.
  std::size_t max_ack_pending = 1'000;
  // When the consumer is opened, the messages delivered before and never acknowledged (by a process
  // that died) are delivered again at once, in order, before any later message. Without it they would
  // come back only after their ack wait, behind later messages of their subjects: a consumer restarted
  // after a crash would see a subject out of order. REQUIRES: one process at a time consumes a durable
  // consumer (the JetStream transport recreates it at its ack floor).
  bool redeliver_unacknowledged_on_open = true;
};

// A message handed to a consumer, to be acknowledged once handled.
class Delivery {
 public:
  virtual ~Delivery();
  const IncomingMessage& message() const noexcept { return message_; }
  // Handled: the message is not delivered to this consumer again. Asynchronous for JetStream: an ack
  // that does not reach the broker (kUnavailable when it could not even be sent) means the message is
  // delivered again later, which a consumer must absorb (the Inbox does).
  [[nodiscard]] virtual Status ack() = 0;
  // Not handled: deliver it again after `delay`.
  [[nodiscard]] virtual Status nak(std::chrono::milliseconds delay) = 0;
  // Still working on it: the ack wait starts again.
  [[nodiscard]] virtual Status in_progress() = 0;

 protected:
  explicit Delivery(IncomingMessage message) : message_(std::move(message)) {}
  IncomingMessage message_;
};

class Consumer {
 public:
  virtual ~Consumer();
  // Up to `max_messages` messages, waiting at most `wait` when none is ready: an empty batch when none
  // came. kUnavailable when the broker cannot be reached (retry later).
  [[nodiscard]] virtual Result<std::vector<std::unique_ptr<Delivery>>> fetch(std::size_t max_messages,
                                                                             std::chrono::milliseconds wait) = 0;
};

// What a transport knows of its broker.
struct TransportHealth {
  // Connected, and the last publish or fetch did not fail for want of a broker or leader.
  bool available = false;
  // "connected", "reconnecting", "no leader", ... for status pages.
  std::string state;
  // The last failure seen (OK when none since the last success).
  Status last_error;
};

class Transport {
 public:
  virtual ~Transport();
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Publishes `message` (see above); `done` is called exactly once, possibly before publish returns.
  // A message that validate_message() refuses fails with kInvalidArgument and is never stored.
  virtual void publish(OutgoingMessage message, PublishCallback done) = 0;

  // The durable consumer `config.durable`, created when it does not exist yet (starting from the oldest
  // message the broker keeps) and resumed otherwise. kInvalidArgument for a bad name or filter;
  // kUnavailable when the broker cannot be reached.
  [[nodiscard]] virtual Result<std::unique_ptr<Consumer>> consume(const ConsumerConfig& config) = 0;

  virtual TransportHealth health() const = 0;

  // The largest payload the transport accepts.
  virtual std::size_t max_payload_bytes() const noexcept = 0;
};

}  // namespace strata
