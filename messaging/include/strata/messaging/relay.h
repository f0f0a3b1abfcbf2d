// Relay: publishes the events of a service's log to other services through a Transport — the log as
// outbox.
//
// An event is committed atomically with the state change it records, so a relay that publishes from
// the log, from a checkpoint, never publishes something that did not happen and never misses something
// that did: no dual write. The relay reads the global log from its own checkpoint (kept in a
// ProjectionStorage, like a projector's), selects events (by category and type, and a predicate),
// maps each to an outgoing message (by default the event as stored; a RelayMapping publishes public
// integration events with their own types instead), and publishes it with the event id as message id
// (the broker's dedupe key) on `subject_prefix.<partition key>` (the stream id by default, so one
// stream's messages stay in order).
//
// Publishing is asynchronous with at most `max_in_flight` messages waiting for their ack, and at most
// one per subject, so that a retried message can never be stored after a later one of its subject. The
// checkpoint advances only over a prefix of the log whose messages were all acknowledged. A broker that
// is down or has no leader is retried with backoff, forever: a message is never skipped. After a crash
// the relay publishes again from its checkpoint; the broker's dedupe (within its duplicate window) and
// the consumers' inboxes (beyond it) absorb what was published twice.
//
//   strata::RelayOptions options;
//   options.name = "contracts.relay";             // the checkpoint's name
//   options.source = "contracts";                 // the Strata-Source header
//   options.subject_prefix = "contracts.events";  // subjects contracts.events.<stream id>
//   options.selection.categories = {"contract"};
//   strata::Relay relay(*store, store->projection_storage(), transport, options);
//   STRATA_RETURN_IF_ERROR(relay.start());
//   ... relay.status().lag_events ...
//
// Thread safety: every method may be called from any thread. The relay runs on a thread of its own.
// REQUIRES: the store, the storage and the transport outlive the relay. The destructor stops it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_store.h"
#include "strata/core/metrics.h"
#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/messaging/message.h"
#include "strata/messaging/transport.h"
#include "strata/projections/projection_storage.h"

namespace strata {

// Maps domain events to the public integration events another service sees. Event types without a
// mapping are not published (they stay private to the service).
//
//   strata::RelayMapping mapping;
//   mapping.publish<ContractActivated>([](const ContractActivated& e, const strata::EventView& stored) {
//     return DealActivated{e.contract, e.amount_cents};          // a struct with kType and kFields
//   });
//   mapping.publish_as_stored("contracts.contract_signed.v1");   // this one as it is stored
//   options.mapping = std::move(mapping);
class RelayMapping {
 public:
  // The message for `stored`: std::nullopt when its type is not mapped. kInvalidArgument when its
  // payload does not decode into the mapped type.
  using Mapper = std::function<Result<std::optional<std::pair<std::string, std::string>>>(const EventView& stored)>;

  // Events of type E are published as the integration event `fn(event, stored)` returns (a type with
  // kType and a field table), or not at all when fn returns std::nullopt.
  template <class E, class Fn>
  void publish(Fn fn) {
    static_assert(EventType<E>, "strata: RelayMapping::publish<E> needs an event type E (kType and kFields)");
    mappers_[std::string(E::kType)] =
        [fn = std::move(fn)](const EventView& stored) -> Result<std::optional<std::pair<std::string, std::string>>> {
      E event;
      STRATA_RETURN_IF_ERROR(decode_json(stored.payload, event));
      auto mapped = fn(static_cast<const E&>(event), stored);
      return encode(std::move(mapped));
    };
  }
  // Events of `type` are published as they are stored.
  void publish_as_stored(std::string_view type);
  // Events of `type` are published as `mapper` says (for mappings whose message type is known only at
  // run time, such as the messages process managers decide: add_saga_messages() in saga_runner.h).
  void publish_with(std::string type, Mapper mapper) { mappers_[std::move(type)] = std::move(mapper); }

  bool empty() const noexcept { return mappers_.empty(); }
  // Whether events of `type` are published.
  bool maps(std::string_view type) const;
  // (type, payload) of the message for `stored`, or std::nullopt.
  Result<std::optional<std::pair<std::string, std::string>>> map(const EventView& stored) const;

 private:
  template <class I>
  static Result<std::optional<std::pair<std::string, std::string>>> encode(I integration) {
    using T = std::remove_cvref_t<I>;
    if constexpr (requires { integration.has_value(); }) {
      if (!integration) return std::optional<std::pair<std::string, std::string>>();
      return encode(*integration);
    } else {
      static_assert(EventType<T>, "strata: a relay mapping returns an integration event type (kType and kFields)");
      return std::optional<std::pair<std::string, std::string>>(std::pair(std::string(T::kType), to_json(integration)));
    }
  }
  std::unordered_map<std::string, Mapper> mappers_;
};

struct RelayOptions {
  // The relay's persisted name, under which its checkpoint is kept (1..255 bytes).
  std::string name;
  // The service the events come from: the Strata-Source header of every message.
  std::string source;
  // Messages go to `subject_prefix` "." partition key (made a subject token by subject_token()).
  std::string subject_prefix;
  // Which events are published: those that pass `selection` (empty lists: all) and `predicate` (when set).
  LogFilter selection;
  std::function<bool(const EventView&)> predicate;
  // How events become messages: empty publishes every selected event as it is stored.
  RelayMapping mapping;
  // The partition key of an event: its stream id when empty. Messages of one key stay in order.
  std::function<std::string(const EventView&)> partition_key;
  // Where a relay with no checkpoint starts: the first position it publishes (kEndOfLog: only events
  // committed after start()).
  Position start_from = 1;
  // Most messages published and not yet acknowledged; at most one per subject. (How long a publish may
  // wait for its ack is the transport's setting.)
  std::size_t max_in_flight = 1'024;
  // Waits before sending a failed message again: first_backoff, doubling up to max_backoff.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{10'000};
  // The checkpoint is committed at most this often (and when the relay stops): after a crash, at most
  // this much is published again.
  std::chrono::milliseconds checkpoint_interval{200};
  // Where the relay's metrics go, read from status() at each scrape and labelled relay="<name>":
  // strata_relay_position, _lag_events, _lag_seconds, _published_per_second, _published_total,
  // _duplicates_total, _in_flight, _parked_total. Empty: none.
  std::shared_ptr<MetricsRegistry> metrics;
};

enum class RelayState : std::uint8_t {
  kStopped,
  // Publishing what the log holds beyond the checkpoint.
  kCatchingUp,
  // Everything committed is acknowledged; waiting for commits.
  kLive,
  // Publishes are failing (the broker is down or has no leader); retrying with backoff.
  kStalled,
  // Stopped by an error that retrying cannot clear (another relay moved the same checkpoint; the
  // storage refused the relay's name).
  kFailed,
};

// "stopped", "catching up", "live", "stalled", "failed".
std::string_view relay_state_name(RelayState state) noexcept;

struct RelayStatus {
  std::string name;
  RelayState state = RelayState::kStopped;
  // The last position every message up to which is acknowledged (and, within checkpoint_interval,
  // committed).
  Position position = 0;
  // The store's head, how far behind it the relay is, and the age of the oldest unpublished event.
  Position head = 0;
  std::uint64_t lag_events = 0;
  double lag_seconds = 0;
  // Messages acknowledged per second over the last few seconds, and since start().
  double published_per_second = 0;
  std::uint64_t published = 0;
  // Acknowledged as duplicates by the broker (published before, e.g. before a crash).
  std::uint64_t duplicates = 0;
  // Messages waiting for their ack now.
  std::size_t in_flight = 0;
  // Events that could not be made into a message (their mapping failed): parked in the storage under
  // the relay's name, listed by parked(); the relay went on without them.
  std::uint64_t parked = 0;
  // Log positions passed over since start because their events were removed (deleted or truncated
  // streams) before the relay published them: they were never published.
  std::uint64_t removed = 0;
  // What the transport says of the broker, and the last failure (OK once publishing succeeds again).
  TransportHealth broker;
  Status last_error;
};

class Relay {
 public:
  Relay(EventStore& store, ProjectionStorage& storage, Transport& transport, RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Loads the checkpoint (creating it at options.start_from when there is none) and starts publishing.
  // OK when already started. kInvalidArgument for bad options; the storage's errors.
  [[nodiscard]] Status start();
  // Stops publishing, waits (up to 10 s) for the messages in flight to be acknowledged or to fail,
  // commits the checkpoint and returns. OK when not started.
  [[nodiscard]] Status stop();
  // Waits until every message up to `position` is acknowledged. kUnavailable when `timeout` passes
  // first; kCancelled when the relay is or gets stopped; the error when it fails.
  [[nodiscard]] Status wait_for(Position position, std::chrono::milliseconds timeout);
  // Publishes again from `position` (1: the whole log): moves the checkpoint back to position - 1.
  // The relay must be stopped (kInvalidArgument otherwise); the storage's errors.
  [[nodiscard]] Status republish_from(Position position);

  RelayStatus status() const;
  const std::string& name() const noexcept;

  // Events whose mapping failed, after position `after`, in position order.
  [[nodiscard]] Result<std::vector<ParkedEvent>> parked(Position after = 0, std::size_t max_count = 1000) const;
  // Maps and publishes the parked event at `position` again; on success it is no longer parked.
  // kNotFound when nothing is parked there; the mapping's error when it fails again. The relay must be
  // started.
  [[nodiscard]] Status retry_parked(Position position, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Forgets the parked event at `position` without publishing it. kNotFound when nothing is parked there.
  [[nodiscard]] Status skip_parked(Position position);

 private:
  class Engine;
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<MetricsRegistry> metrics_;
  MetricsRegistry::CollectorId collector_ = 0;
};

}  // namespace strata
