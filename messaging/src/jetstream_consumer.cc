// JetStream consumers and their deliveries: opening a durable pull consumer (creating, binding,
// updating or recreating it at its ack floor), fetching without holding messages back, and noticing a
// delivery lost on its way.
#include <fmt/format.h>
#include <nats/nats.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "jetstream_state.h"

namespace strata::detail {

namespace {

// The message, the consumer sequence JetStream delivered it with and how many messages were pending for
// the consumer after it (both 0 when it has no JetStream metadata).
IncomingMessage incoming(natsMsg* msg, std::uint64_t& consumer_sequence, std::uint64_t& pending) {
  IncomingMessage m;
  consumer_sequence = 0;
  pending = 0;
  m.subject = natsMsg_GetSubject(msg);
  m.payload.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &value) != NATS_OK || value == nullptr) continue;
      if (std::string_view(keys[i]) == "Nats-Msg-Id") {
        m.id = value;
      } else {
        m.headers.set(keys[i], value);
      }
    }
    free(static_cast<void*>(keys));
  }
  m.type = std::string(m.headers.get(headers::kType));
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    m.sequence = meta->Sequence.Stream;
    m.delivery_count = meta->NumDelivered;
    m.published_at = Timestamp(std::chrono::microseconds(meta->Timestamp / 1000));
    consumer_sequence = meta->Sequence.Consumer;
    pending = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
  }
  return m;
}

// A subscription shared by the consumer and every delivery it made: nats.c's messages point at their
// subscription without holding it, and acknowledging one after natsSubscription_Destroy reads freed
// memory. A consumer recreated at its ack floor drops its subscription while the inbox still handles
// deliveries of the old one; the last of them destroys it.
using Subscription = std::shared_ptr<natsSubscription>;

Subscription own(natsSubscription* sub) { return Subscription(sub, natsSubscription_Destroy); }

class JetStreamDelivery final : public Delivery {
 public:
  JetStreamDelivery(natsMsg* msg, Subscription sub, std::shared_ptr<JetStreamState> state)
      : JetStreamDelivery(msg, std::move(sub), std::move(state), Parsed(msg)) {}
  std::uint64_t consumer_sequence() const noexcept { return consumer_sequence_; }
  std::uint64_t pending() const noexcept { return pending_; }
  ~JetStreamDelivery() override { natsMsg_Destroy(msg_); }

  Status ack() override { return check(natsMsg_Ack(msg_, nullptr), "ack"); }
  Status nak(std::chrono::milliseconds delay) override {
    return check(natsMsg_NakWithDelay(msg_, static_cast<std::int64_t>(delay.count()), nullptr), "nak");
  }
  Status in_progress() override { return check(natsMsg_InProgress(msg_, nullptr), "in progress"); }

 private:
  Status check(natsStatus s, std::string_view what) {
    if (s == NATS_OK) return {};
    return translate(s, static_cast<jsErrCode>(0),
                     fmt::format("{} of message \"{}\" (sequence {})", what, message_.id, message_.sequence));
  }
  struct Parsed {
    explicit Parsed(natsMsg* msg) : message(incoming(msg, consumer_sequence, pending)) {}
    std::uint64_t consumer_sequence = 0;
    std::uint64_t pending = 0;
    IncomingMessage message;
  };
  JetStreamDelivery(natsMsg* msg, Subscription sub, std::shared_ptr<JetStreamState> state, Parsed parsed)
      : Delivery(std::move(parsed.message)),
        consumer_sequence_(parsed.consumer_sequence),
        pending_(parsed.pending),
        sub_(std::move(sub)),
        msg_(msg),
        state_(std::move(state)) {}

  std::uint64_t consumer_sequence_;
  std::uint64_t pending_;
  Subscription sub_;  // outlives msg_, which points at it
  natsMsg* msg_;
  std::shared_ptr<JetStreamState> state_;  // keeps the connection alive while the message is
};

// Opens (creating, binding, updating or recreating) the durable pull consumer `config` describes.
// `at_ack_floor`: recreate it at its ack floor whenever it has unacknowledged messages.
Result<natsSubscription*> open_subscription(JetStreamState& state, const ConsumerConfig& config, bool at_ack_floor) {
  STRATA_RETURN_IF_ERROR(state.ensure_stream());
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = state.options.request_timeout.count();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = state.options.stream.c_str();
  so.Config.Durable = config.durable.c_str();
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.AckWait = nanos(config.ack_wait);
  so.Config.MaxDeliver = -1;
  so.Config.MaxAckPending = static_cast<std::int64_t>(config.max_ack_pending);
  if (state.options.consumer_replicas > 0)
    so.Config.Replicas = static_cast<std::int64_t>(state.options.consumer_replicas);
  // The deliver policy is left unset (the server's default: all) so that a consumer that exists binds
  // whatever its start: nats.c refuses to bind when a requested policy differs from the consumer's.
  const std::string filter = config.filter.empty() ? ">" : config.filter;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsConsumerInfo* info = nullptr;
  natsStatus s = js_GetConsumerInfo(&info, state.js, state.options.stream.c_str(), config.durable.c_str(), &jo, &jerr);
  if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
    Status error = translate(s, jerr, fmt::format("consumer \"{}\"", config.durable));
    state.note(error);
    return error;
  }
  if (s == NATS_OK) {
    const bool pending = info->NumAckPending > 0;
    const std::uint64_t floor = info->AckFloor.Stream;
    const bool changed = info->Config->AckWait != so.Config.AckWait ||
                         info->Config->MaxAckPending != so.Config.MaxAckPending ||
                         (so.Config.Replicas > 0 && info->Config->Replicas != so.Config.Replicas);
    if (at_ack_floor && pending) {
      // Messages given to a process that died come back only after their ack wait, behind later ones:
      // recreating the consumer at its ack floor delivers them again first, in order (and what was
      // acknowledged beyond the floor again too, which consumers absorb as duplicates).
      jsConsumerInfo_Destroy(info);
      s = js_DeleteConsumer(state.js, state.options.stream.c_str(), config.durable.c_str(), &jo, &jerr);
      if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr)
        return translate(s, jerr, fmt::format("consumer \"{}\": recreating it at its ack floor", config.durable));
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = floor + 1;
    } else if (changed) {
      // Settings that may change under a durable name: the consumer is updated, keeping its position.
      jsConsumerConfig updated = *info->Config;
      updated.AckWait = so.Config.AckWait;
      updated.MaxAckPending = so.Config.MaxAckPending;
      if (so.Config.Replicas > 0) updated.Replicas = so.Config.Replicas;
      jsConsumerInfo* after = nullptr;
      s = js_UpdateConsumer(&after, state.js, state.options.stream.c_str(), &updated, &jo, &jerr);
      jsConsumerInfo_Destroy(info);
      jsConsumerInfo_Destroy(after);
      if (s != NATS_OK) {
        Status error = translate(s, jerr, fmt::format("consumer \"{}\": updating its settings", config.durable));
        state.note(error);
        return error;
      }
    } else {
      jsConsumerInfo_Destroy(info);
    }
  }
  jerr = static_cast<jsErrCode>(0);
  natsSubscription* sub = nullptr;
  s = js_PullSubscribe(&sub, state.js, filter.c_str(), config.durable.c_str(), &jo, &so, &jerr);
  if (s != NATS_OK) {
    Status error = translate(s, jerr, fmt::format("consumer \"{}\"", config.durable));
    state.note(error);
    return error;
  }
  return sub;
}

// A durable pull consumer that hands out every subject's messages in order, without gaps. JetStream
// numbers its deliveries (the consumer sequence); with one process consuming, they arrive numbered
// 1, 2, 3... A delivery lost on its way — the consumer's leader killed with messages in flight, a
// connection dropped — shows as a jump in that numbering, and the lost message would only come back
// after its ack wait, behind later messages of its subject. So at a jump the consumer is recreated at
// its ack floor: what was not acknowledged comes again, in order (the batch being fetched is dropped; it
// comes again too), and the consumer absorbs what it handled before as duplicates.
class JetStreamConsumer final : public Consumer {
 public:
  JetStreamConsumer(natsSubscription* sub, std::shared_ptr<JetStreamState> state, ConsumerConfig config)
      : sub_(own(sub)), state_(std::move(state)), config_(std::move(config)) {}
  // The subscription goes with the last delivery that points at it; the durable consumer stays.
  ~JetStreamConsumer() override = default;

  // nats.c's Fetch of a batch waits until the batch is full or the wait is over, which would hold
  // messages back for as long as the wait when they trickle in. So: wait for one message, then take
  // what its metadata says is pending behind it, at once (a no-wait pull request for that many). Not
  // more: nats-server 2.9 holds a no-wait request with an expiry open until the expiry when fewer
  // messages than its batch are there, and nats.c waits for the whole batch until then.
  Result<std::vector<std::unique_ptr<Delivery>>> fetch(std::size_t max_messages,
                                                       std::chrono::milliseconds wait) override {
    std::vector<std::unique_ptr<Delivery>> out;
    if (sub_ == nullptr) STRATA_RETURN_IF_ERROR(reopen());
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, sub_.get(), 1, std::max<std::int64_t>(wait.count(), 1), &jerr);
    if (s == NATS_TIMEOUT) return out;  // nothing came
    if (s != NATS_OK) return failed(s, jerr);
    bool gap = take(list, out);
    const std::uint64_t behind = out.empty() ? 0 : last_pending_;
    // nats.c 3.4's FetchRequest first takes the deliveries already queued in the subscription (answers
    // to earlier pulls that came after they were given up), then asks the server for the rest of its
    // batch, and it miscounts — writing past the batch it allocated — when it took more than half the
    // batch from the queue. So the batch is at least twice what is queued; when that would exceed what
    // the caller asked for, the queued deliveries are taken one per fetch instead (Fetch of 1 above).
    int queued = 0;
    if (natsSubscription_GetPending(sub_.get(), &queued, nullptr) != NATS_OK) queued = 0;
    const std::uint64_t batch = std::max<std::uint64_t>(std::min<std::uint64_t>(max_messages - 1, behind),
                                                        2 * static_cast<std::uint64_t>(queued));
    if (!gap && max_messages > 1 && behind > 0 && batch <= max_messages - 1) {
      jsFetchRequest more;
      jsFetchRequest_Init(&more);
      more.Batch = static_cast<int>(batch);
      more.NoWait = true;
      // A bound on waiting, for when fewer come than were pending (another client of the consumer took
      // some, or they expired).
      more.Expires = nanos(std::chrono::milliseconds(500));
      s = natsSubscription_FetchRequest(&list, sub_.get(), &more);
      if (s == NATS_OK) {
        gap = take(list, out);
      } else if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND && out.empty()) {
        return failed(s, static_cast<jsErrCode>(0));
      }
    }
    if (gap) {
      out.clear();  // not acknowledged: they come again after the recreation
      sub_.reset();
      STRATA_RETURN_IF_ERROR(reopen());
      // Not an empty batch: to the caller that would mean "nothing came", though the redeliveries are
      // on their way (an inbox would think itself idle). A consumer created while the cluster elects
      // leaders may take seconds to deliver: wait for them longer than the caller's usual wait.
      return fetch(max_messages, std::max(wait, std::min(config_.ack_wait, std::chrono::milliseconds(5'000))));
    }
    return out;
  }

 private:
  // Takes the batch; true when a delivery was missing before one of it (see the class comment).
  bool take(natsMsgList& list, std::vector<std::unique_ptr<Delivery>>& out) {
    bool gap = false;
    for (int i = 0; i < list.Count; ++i) {
      auto d = std::make_unique<JetStreamDelivery>(list.Msgs[i], sub_, state_);
      list.Msgs[i] = nullptr;  // owned by the delivery now
      const std::uint64_t sequence = d->consumer_sequence();
      if (next_sequence_ != 0 && sequence != next_sequence_) gap = true;
      next_sequence_ = sequence + 1;
      last_pending_ = d->pending();
      out.push_back(std::move(d));
    }
    natsMsgList_Destroy(&list);
    return gap;
  }
  Status reopen() {
    auto sub = open_subscription(*state_, config_, true);
    if (!sub.ok()) {
      state_->note(sub.status());
      return sub.status().with_context(
          fmt::format("consumer \"{}\": recreating it at its ack floor after a lost delivery", config_.durable));
    }
    sub_ = own(*sub);
    next_sequence_ = 0;
    return {};
  }
  Status failed(natsStatus s, jsErrCode jerr) {
    Status error = translate(s, jerr, fmt::format("fetch of consumer \"{}\"", config_.durable));
    state_->note(error);
    return error;
  }

  Subscription sub_;
  std::shared_ptr<JetStreamState> state_;
  const ConsumerConfig config_;
  std::uint64_t next_sequence_ = 0;  // the consumer sequence the next delivery must have; 0: any
  std::uint64_t last_pending_ = 0;   // what the newest delivery said was pending behind it
};

}  // namespace

Result<std::unique_ptr<Consumer>> open_jetstream_consumer(std::shared_ptr<JetStreamState> state,
                                                          const ConsumerConfig& config) {
  STRATA_ASSIGN_OR_RETURN(natsSubscription * sub,
                          open_subscription(*state, config, config.redeliver_unacknowledged_on_open));
  return std::unique_ptr<Consumer>(std::make_unique<JetStreamConsumer>(sub, std::move(state), config));
}

}  // namespace strata::detail
