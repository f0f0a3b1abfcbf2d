// InProcessTransport: a Transport held in memory, with the delivery semantics of a JetStream stream and
// its durable pull consumers (see transport.h): one ordered log of messages, dedupe by message id
// within a duplicate window, durable consumers that track what they acknowledged, redelivery after a
// missed ack wait or a nak, per-subject order. For tests and single-process applications: messages
// live as long as the transport object (a relay republishes from its checkpoint after a restart, but
// what was published before the process ended is gone, so across processes use JetStreamTransport).
//
// For tests it can also play a broker in trouble: set_available(false) fails every publish and fetch
// with kUnavailable until set_available(true); fail_next_acks(n) stores the next n messages but reports
// their publish as failed (kUnavailable), as a lost ack does, so the publisher sends them again.
//
//   strata::InProcessTransport transport;
//   strata::Relay relay(store, store.projection_storage(), transport, relay_options);
//   strata::Inbox inbox(other_store, other_storage, transport, inbox_options);
//
// Thread safety: every method may be called from any thread. Publish callbacks run on the publishing
// thread, before publish() returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "strata/messaging/transport.h"

namespace strata {

namespace detail {
struct InProcessState;
}

class InProcessTransport final : public Transport {
 public:
  struct Options {
    // A message id seen again within this window is acked as a duplicate and not stored.
    std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
    std::size_t max_payload_bytes = std::size_t{1} << 20;
  };

  InProcessTransport();
  explicit InProcessTransport(Options options);
  ~InProcessTransport() override;

  void publish(OutgoingMessage message, PublishCallback done) override;
  [[nodiscard]] Result<std::unique_ptr<Consumer>> consume(const ConsumerConfig& config) override;
  TransportHealth health() const override;
  std::size_t max_payload_bytes() const noexcept override;

  // Fault injection (see above).
  void set_available(bool available);
  void fail_next_acks(std::size_t count);

  // Every message stored, in order. For tests.
  std::vector<IncomingMessage> stored() const;

 private:
  std::shared_ptr<detail::InProcessState> state_;
};

}  // namespace strata
