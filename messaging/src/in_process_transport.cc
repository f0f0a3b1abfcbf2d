#include "strata/messaging/in_process_transport.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "subjects.h"

namespace strata {

using Clock = std::chrono::steady_clock;

namespace {

Timestamp system_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

struct StoredMessage {
  std::uint64_t sequence = 0;
  OutgoingMessage message;
  Timestamp published_at{};
};

// What one durable consumer has been given and has acknowledged.
struct ConsumerState {
  ConsumerConfig config;
  // The next sequence never delivered.
  std::uint64_t next = 1;
  // Delivered and not acknowledged: when each may be delivered again, and how often it was delivered.
  struct Pending {
    Clock::time_point redeliver_at;
    std::uint64_t deliveries = 0;
  };
  std::map<std::uint64_t, Pending> pending;
};

}  // namespace

struct detail::InProcessState {
  explicit InProcessState(InProcessTransport::Options o) : options(o) {}

  const InProcessTransport::Options options;
  mutable std::mutex mu;
  std::condition_variable arrived;                       // a message was stored, or a nak / ack wait changed
  std::vector<StoredMessage> log;                        // GUARDED_BY(mu); sequence i + 1 at index i
  std::unordered_map<std::string, std::uint64_t> by_id;  // GUARDED_BY(mu); message id -> sequence
  std::map<std::string, ConsumerState> consumers;        // GUARDED_BY(mu)
  bool available = true;                                 // GUARDED_BY(mu)
  std::size_t failing_acks = 0;                          // GUARDED_BY(mu)
  Status last_error;                                     // GUARDED_BY(mu)

  Status unavailable(std::string_view what) {
    last_error = Status::unavailable(fmt::format("in-process transport: {}: the broker is unavailable", what));
    return last_error;
  }

  // The id's earlier message when it is still within the duplicate window. REQUIRES: mu held.
  std::optional<std::uint64_t> duplicate_of(const std::string& id) const {
    auto it = by_id.find(id);
    if (it == by_id.end()) return std::nullopt;
    const StoredMessage& original = log[it->second - 1];
    const auto age = system_now() - original.published_at;
    if (age > options.duplicate_window) return std::nullopt;
    return it->second;
  }

  // Up to `max` deliveries for consumer `c` now: due redeliveries first, in sequence order, then messages
  // never delivered. REQUIRES: mu held.
  std::vector<std::uint64_t> take(ConsumerState& c, std::size_t max, Clock::time_point now) {
    std::vector<std::uint64_t> out;
    for (auto& [sequence, pending] : c.pending) {
      if (out.size() >= max) break;
      if (pending.redeliver_at > now) continue;
      out.push_back(sequence);
    }
    while (out.size() < max && c.next <= log.size() && c.pending.size() < c.config.max_ack_pending) {
      const std::uint64_t sequence = c.next++;
      if (!detail::subject_matches(c.config.filter, log[sequence - 1].message.subject)) continue;
      c.pending.emplace(sequence, ConsumerState::Pending{});
      out.push_back(sequence);
    }
    for (std::uint64_t sequence : out) {
      auto& pending = c.pending.at(sequence);
      pending.redeliver_at = now + c.config.ack_wait;
      ++pending.deliveries;
    }
    return out;
  }
};

namespace {

class InProcessDelivery final : public Delivery {
 public:
  InProcessDelivery(IncomingMessage message, std::shared_ptr<detail::InProcessState> state, std::string durable)
      : Delivery(std::move(message)), state_(std::move(state)), durable_(std::move(durable)) {}

  Status ack() override {
    std::lock_guard lock(state_->mu);
    if (!state_->available) return state_->unavailable("ack");
    consumer().pending.erase(message_.sequence);
    return {};
  }
  Status nak(std::chrono::milliseconds delay) override { return redeliver_after(delay, "nak"); }
  Status in_progress() override {
    ConsumerConfig config;
    {
      std::lock_guard lock(state_->mu);
      config = consumer().config;
    }
    return redeliver_after(config.ack_wait, "in progress");
  }

 private:
  ConsumerState& consumer() { return state_->consumers.at(durable_); }
  Status redeliver_after(std::chrono::milliseconds delay, std::string_view what) {
    {
      std::lock_guard lock(state_->mu);
      if (!state_->available) return state_->unavailable(what);
      auto& pending = consumer().pending;
      auto it = pending.find(message_.sequence);
      if (it != pending.end()) it->second.redeliver_at = Clock::now() + delay;
    }
    state_->arrived.notify_all();
    return {};
  }

  std::shared_ptr<detail::InProcessState> state_;
  std::string durable_;
};

class InProcessConsumer final : public Consumer {
 public:
  InProcessConsumer(std::shared_ptr<detail::InProcessState> state, std::string durable)
      : state_(std::move(state)), durable_(std::move(durable)) {}

  Result<std::vector<std::unique_ptr<Delivery>>> fetch(std::size_t max_messages,
                                                       std::chrono::milliseconds wait) override {
    std::vector<std::unique_ptr<Delivery>> out;
    const auto deadline = Clock::now() + wait;
    std::unique_lock lock(state_->mu);
    for (;;) {
      if (!state_->available) return state_->unavailable("fetch");
      ConsumerState& c = state_->consumers.at(durable_);
      const auto now = Clock::now();
      std::vector<std::uint64_t> taken = state_->take(c, max_messages, now);
      if (!taken.empty()) {
        for (std::uint64_t sequence : taken) out.push_back(delivery(c, sequence));
        return out;
      }
      if (now >= deadline) return out;
      // Wake for a new message, or when the earliest pending redelivery falls due.
      auto wake = deadline;
      for (const auto& [sequence, pending] : c.pending) wake = std::min(wake, pending.redeliver_at);
      state_->arrived.wait_until(lock, wake);
    }
  }

 private:
  std::unique_ptr<Delivery> delivery(const ConsumerState& c, std::uint64_t sequence) {
    const StoredMessage& stored = state_->log[sequence - 1];
    IncomingMessage m;
    m.id = stored.message.id;
    m.subject = stored.message.subject;
    m.type = stored.message.type;
    m.payload = stored.message.payload;
    m.headers = stored.message.headers;
    m.sequence = sequence;
    m.delivery_count = c.pending.at(sequence).deliveries;
    m.published_at = stored.published_at;
    return std::make_unique<InProcessDelivery>(std::move(m), state_, durable_);
  }

  std::shared_ptr<detail::InProcessState> state_;
  std::string durable_;
};

}  // namespace

InProcessTransport::InProcessTransport() : InProcessTransport(Options{}) {}
InProcessTransport::InProcessTransport(Options options) : state_(std::make_shared<detail::InProcessState>(options)) {}
InProcessTransport::~InProcessTransport() = default;

void InProcessTransport::publish(OutgoingMessage message, PublishCallback done) {
  if (Status valid = validate_message(message, state_->options.max_payload_bytes); !valid.ok()) {
    done(valid);
    return;
  }
  Result<PublishAck> result = Status::internal("unset");
  {
    std::lock_guard lock(state_->mu);
    if (!state_->available) {
      result = state_->unavailable(fmt::format("publish of message \"{}\"", message.id));
    } else {
      if (auto original = state_->duplicate_of(message.id); original) {
        result = PublishAck{*original, true};
      } else {
        const std::uint64_t sequence = state_->log.size() + 1;
        state_->by_id[message.id] = sequence;
        state_->log.push_back(StoredMessage{sequence, std::move(message), system_now()});
        result = PublishAck{sequence, false};
      }
      if (state_->failing_acks > 0) {
        --state_->failing_acks;
        result = Status::unavailable("in-process transport: the publish ack was lost (simulated)");
      } else {
        state_->last_error = Status();
      }
    }
  }
  state_->arrived.notify_all();
  done(std::move(result));
}

Result<std::unique_ptr<Consumer>> InProcessTransport::consume(const ConsumerConfig& config) {
  STRATA_RETURN_IF_ERROR(detail::validate_consumer_config(config));
  std::lock_guard lock(state_->mu);
  if (!state_->available) return state_->unavailable(fmt::format("consumer \"{}\"", config.durable));
  auto [it, created] = state_->consumers.try_emplace(config.durable);
  if (created) {
    it->second.config = config;
  } else {
    if (it->second.config.filter != config.filter)
      return Status::invalid_argument(
          fmt::format("consumer \"{}\" exists with filter \"{}\", not \"{}\": use another durable name", config.durable,
                      it->second.config.filter, config.filter));
    it->second.config.ack_wait = config.ack_wait;
    it->second.config.max_ack_pending = config.max_ack_pending;
    if (config.redeliver_unacknowledged_on_open)
      for (auto& [sequence, pending] : it->second.pending) pending.redeliver_at = Clock::now();
  }
  return std::unique_ptr<Consumer>(std::make_unique<InProcessConsumer>(state_, config.durable));
}

TransportHealth InProcessTransport::health() const {
  std::lock_guard lock(state_->mu);
  return TransportHealth{state_->available, state_->available ? "connected" : "unavailable", state_->last_error};
}

std::size_t InProcessTransport::max_payload_bytes() const noexcept { return state_->options.max_payload_bytes; }

void InProcessTransport::set_available(bool available) {
  {
    std::lock_guard lock(state_->mu);
    state_->available = available;
    if (available) state_->last_error = Status();
  }
  state_->arrived.notify_all();
}

void InProcessTransport::fail_next_acks(std::size_t count) {
  std::lock_guard lock(state_->mu);
  state_->failing_acks = count;
}

std::vector<IncomingMessage> InProcessTransport::stored() const {
  std::lock_guard lock(state_->mu);
  std::vector<IncomingMessage> out;
  for (const StoredMessage& s : state_->log) {
    IncomingMessage m;
    m.id = s.message.id;
    m.subject = s.message.subject;
    m.type = s.message.type;
    m.payload = s.message.payload;
    m.headers = s.message.headers;
    m.sequence = s.sequence;
    m.published_at = s.published_at;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace strata
