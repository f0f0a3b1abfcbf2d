// JetStreamTransport: the Transport between services, on NATS JetStream (nats.c), in the library
// strata::jetstream.
//
// Messages are stored in one JetStream stream that captures the subjects of `options.subjects`; the
// transport creates the stream when it does not exist (file storage, the replicas, duplicate window and
// limits of the options) and adds missing subjects to an existing one. Publishing is asynchronous
// (js_PublishMsgAsync) with the message id as Nats-Msg-Id, so the broker stores a message published
// twice within the duplicate window once and acks the repeat with duplicate = true. Consumers are
// durable pull consumers with explicit acks, the ack wait and max ack pending of their ConsumerConfig,
// and no limit on deliveries (the Inbox parks a message that keeps failing; the broker never drops
// one).
//
// The broker need not be up: connect() returns a transport that keeps reconnecting in the background
// (forever), a publish it cannot get acknowledged within publish_timeout fails with kUnavailable (the
// Relay sends it again), and consume()/fetch() fail with kUnavailable until the broker is back.
//
// What the broker guarantees is the broker's (nats-server 2.9, measured on Debian 12; see the README):
// a replicated stream (replicas = 3) keeps an acknowledged message when one node is lost, not when all
// are lost at once, because 2.9 syncs its files to disk only periodically; killing the stream's leader
// stops publishing for 4–9 s until a new one is elected (publishes time out meanwhile and are retried).
// strata never relies on Nats-Expected-Last-Subject-Sequence (2.9.10 loses concurrent updates of it on
// R3): ordering comes from the log.
//
//   strata::JetStreamOptions options;
//   options.servers = {"nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"};
//   options.stream = "DEALS";
//   options.subjects = {"contracts.>", "payments.>", "catalog.>"};
//   options.replicas = 3;
//   STRATA_ASSIGN_OR_RETURN(auto transport, strata::JetStreamTransport::connect(options));
//   strata::Relay relay(*store, store->projection_storage(), *transport, relay_options);
//
// Thread safety: as Transport. REQUIRES: destroy consumers and deliveries before the transport.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "strata/core/status.h"
#include "strata/messaging/transport.h"

namespace strata {

struct JetStreamOptions {
  // The servers to connect to (any one will do; the others are for failover).
  std::vector<std::string> servers;
  // The connection's name, as the server shows it.
  std::string connection_name = "strata";
  // The JetStream stream messages are stored in: 1..64 bytes of [A-Za-z0-9_-].
  std::string stream;
  // The subjects it captures (NATS subject filters). Publishing to a subject outside them fails.
  std::vector<std::string> subjects;
  // Copies of the stream in the cluster: 1, or 3 to survive the loss of a node.
  int replicas = 1;
  // Copies of each durable consumer's state (what it has delivered and had acknowledged); 0: as many
  // as the stream. 1 makes every acknowledgement cheaper (no replication round) at a price: when the
  // node holding it is lost, the consumer starts again from the stream's first message, and the inbox
  // absorbs what it had handled as duplicates.
  int consumer_replicas = 0;
  // Within this window a repeated message id is stored once.
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
  // Limits of the stream (0: none): the oldest messages go when one is exceeded.
  std::chrono::milliseconds max_age{0};
  std::int64_t max_bytes = 0;
  // Keep messages in memory instead of files (for benchmarks; a restart of the broker loses them).
  bool memory_storage = false;
  // A publish not acknowledged within this time fails with kUnavailable.
  std::chrono::milliseconds publish_timeout{5'000};
  // Most asynchronous publishes waiting for their ack.
  std::size_t max_pending = 4'096;
  // Connecting, and waiting between reconnection attempts.
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds reconnect_wait{250};
  // Replies to JetStream API requests (creating the stream, a consumer) are awaited this long.
  std::chrono::milliseconds request_timeout{5'000};
};

namespace detail {
struct JetStreamState;
}

class JetStreamTransport final : public Transport {
 public:
  // A transport over `options.servers`. It connects in the background when no server answers now.
  // kInvalidArgument for bad options (no servers, a bad stream name or subject filter, replicas other
  // than 1..5, consumer_replicas other than 0..replicas).
  [[nodiscard]] static Result<std::unique_ptr<JetStreamTransport>> connect(const JetStreamOptions& options);
  ~JetStreamTransport() override;

  void publish(OutgoingMessage message, PublishCallback done) override;
  [[nodiscard]] Result<std::unique_ptr<Consumer>> consume(const ConsumerConfig& config) override;
  TransportHealth health() const override;
  std::size_t max_payload_bytes() const noexcept override;

  // Creates or checks the stream now. OK once done; kUnavailable when the broker cannot be reached or
  // has no leader for it. Publishing and consuming do it by themselves; this is for start-up checks.
  [[nodiscard]] Status ensure_stream();
  // Deletes the stream and everything in it. For tests and benchmarks.
  [[nodiscard]] Status delete_stream();
  // The name of the server that leads the stream now (its server_name), for status pages and tests.
  // kUnavailable when there is none or the broker cannot be reached.
  [[nodiscard]] Result<std::string> stream_leader();

 private:
  explicit JetStreamTransport(std::shared_ptr<detail::JetStreamState> state);
  std::shared_ptr<detail::JetStreamState> state_;
};

}  // namespace strata
