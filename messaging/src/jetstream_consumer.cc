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

// A message as JetStream delivered it. Acknowledgements are published to the message's reply subject
// directly: nats.c's natsMsg_Ack reads the JetStream subscription the message came from, and the pulls
// below come through a plain subscription of strata's.
class JetStreamDelivery final : public Delivery {
 public:
  JetStreamDelivery(natsMsg* msg, std::shared_ptr<JetStreamState> state)
      : JetStreamDelivery(msg, std::move(state), Parsed(msg)) {}
  std::uint64_t consumer_sequence() const noexcept { return consumer_sequence_; }
  std::uint64_t pending() const noexcept { return pending_; }
  ~JetStreamDelivery() override { natsMsg_Destroy(msg_); }

  Status ack() override { return reply("+ACK", "ack"); }
  Status nak(std::chrono::milliseconds delay) override {
    if (delay.count() <= 0) return reply("-NAK", "nak");
    return reply(fmt::format("-NAK {{\"delay\":{}}}", nanos(delay)), "nak");
  }
  Status in_progress() override { return reply("+WPI", "in progress"); }

 private:
  Status reply(const std::string& body, std::string_view what) {
    const char* subject = natsMsg_GetReply(msg_);
    if (subject == nullptr || *subject == '\0')
      return Status::invalid_argument(
          fmt::format("{} of message \"{}\": it has no reply subject to acknowledge to", what, message_.id));
    const natsStatus s = natsConnection_PublishString(state_->nc, subject, body.c_str());
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
  JetStreamDelivery(natsMsg* msg, std::shared_ptr<JetStreamState> state, Parsed parsed)
      : Delivery(std::move(parsed.message)),
        consumer_sequence_(parsed.consumer_sequence),
        pending_(parsed.pending),
        msg_(msg),
        state_(std::move(state)) {}

  std::uint64_t consumer_sequence_;
  std::uint64_t pending_;
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

// A durable pull consumer that hands out every subject's messages in order, without gaps.
//
// Pulling. nats.c's Fetch is not used: it waits until a batch is full or its wait is over, which holds
// trickling messages back, and its FetchRequest first takes deliveries already queued in the
// subscription and then miscounts its batch, writing past the array it allocated when they were more
// than half of it. The consumer publishes its pull requests itself, each with a reply subject of its
// own under one inbox it subscribes to: it waits for one message, then asks — without waiting — for
// what that message's metadata says is pending behind it. A delivery that answers an earlier request
// after it was given up (a late one) is simply taken by the next fetch; a status (no messages, request
// expired) ends only the request it answers.
//
// Gaps. JetStream numbers its deliveries (the consumer sequence); with one process consuming, they
// arrive numbered 1, 2, 3... A delivery lost on its way — the consumer's leader killed with messages in
// flight, a connection dropped — shows as a jump in that numbering, and the lost message would only
// come back after its ack wait, behind later messages of its subject. So at a jump the consumer is
// recreated at its ack floor: what was not acknowledged comes again, in order (the batch being fetched
// is dropped; it comes again too), and the consumer absorbs what it handled before as duplicates.
class JetStreamConsumer final : public Consumer {
 public:
  JetStreamConsumer(natsSubscription* binding, std::shared_ptr<JetStreamState> state, ConsumerConfig config)
      : binding_(binding), state_(std::move(state)), config_(std::move(config)) {}
  // The durable consumer stays.
  ~JetStreamConsumer() override { close(); }

  Result<std::vector<std::unique_ptr<Delivery>>> fetch(std::size_t max_messages,
                                                       std::chrono::milliseconds wait) override {
    std::vector<std::unique_ptr<Delivery>> out;
    if (binding_ == nullptr) STRATA_RETURN_IF_ERROR(reopen());
    if (pulls_ == nullptr) STRATA_RETURN_IF_ERROR(open_pulls());
    const auto now = std::chrono::steady_clock::now();
    // One message, waiting for it; deliveries already here (late ones) count.
    STRATA_RETURN_IF_ERROR(pull(1, wait, /*no_wait=*/false, now + wait + kAnswerMargin, out, max_messages));
    if (out.empty()) return out;  // nothing came
    bool gap = check_sequence(out, 0);
    // What was pending behind it, at once.
    const std::uint64_t behind = last_pending_;
    if (!gap && behind > 0 && out.size() < max_messages) {
      const std::size_t before = out.size();
      const auto batch = static_cast<std::size_t>(std::min<std::uint64_t>(max_messages - out.size(), behind));
      STRATA_RETURN_IF_ERROR(pull(batch, kFollowUpExpiry, /*no_wait=*/true,
                                  std::chrono::steady_clock::now() + kFollowUpExpiry + kAnswerMargin, out,
                                  max_messages));
      gap = check_sequence(out, before);
    }
    if (gap) {
      out.clear();  // not acknowledged: they come again after the recreation
      close();
      STRATA_RETURN_IF_ERROR(reopen());
      // Not an empty batch: to the caller that would mean "nothing came", though the redeliveries are
      // on their way (an inbox would think itself idle). A consumer created while the cluster elects
      // leaders may take seconds to deliver: wait for them longer than the caller's usual wait.
      return fetch(max_messages, std::max(wait, std::min(config_.ack_wait, std::chrono::milliseconds(5'000))));
    }
    return out;
  }

 private:
  // How much later than its expiry a request's answer may come, and how long a no-wait request for
  // messages known to be pending may take.
  static constexpr std::chrono::milliseconds kAnswerMargin{50};
  static constexpr std::chrono::milliseconds kFollowUpExpiry{200};

  // Takes `batch` deliveries: those already queued (late answers to earlier requests) first, then,
  // once the queue is empty, from a pull request for the rest. Returns when `batch` have come, the
  // request is answered with a status, `out` holds `max` or `deadline` passes.
  Status pull(std::size_t batch, std::chrono::milliseconds expires, bool no_wait,
              std::chrono::steady_clock::time_point deadline, std::vector<std::unique_ptr<Delivery>>& out,
              std::size_t max) {
    const std::string reply = inbox_ + "." + std::to_string(++requests_);
    bool asked = false;
    std::size_t taken = 0;
    while (taken < batch && out.size() < max) {
      int queued = 0;
      if (natsSubscription_GetPending(pulls_, &queued, nullptr) != NATS_OK) queued = 0;
      if (!asked && queued == 0) {
        std::string request = fmt::format("{{\"batch\":{}", batch - taken);
        if (expires.count() > 0) request += fmt::format(",\"expires\":{}", nanos(expires));
        if (no_wait || expires.count() <= 0) request += ",\"no_wait\":true";
        request += "}";
        const natsStatus s =
            natsConnection_PublishRequestString(state_->nc, next_subject_.c_str(), reply.c_str(), request.c_str());
        if (s != NATS_OK) return failed(s, static_cast<jsErrCode>(0));
        asked = true;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      natsMsg* msg = nullptr;
      // Before the request, only what is queued; after it, its answer, until the deadline.
      const natsStatus s = natsSubscription_NextMsg(&msg, pulls_, asked ? std::max<std::int64_t>(left.count(), 1) : 0);
      if (s == NATS_TIMEOUT) {
        if (asked) return {};
        continue;  // the queue held less than it said: ask
      }
      if (s != NATS_OK) return failed(s, static_cast<jsErrCode>(0));
      const char* status = nullptr;
      if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK &&
          status != nullptr) {
        const std::string code(status);
        const char* description = nullptr;
        natsMsgHeader_Get(msg, "Description", &description);
        const std::string text = description != nullptr ? description : "";
        const bool ours = asked && reply == natsMsg_GetSubject(msg);
        natsMsg_Destroy(msg);
        if (!ours || code == "100") continue;  // an earlier request's end, or a heartbeat
        if (code == "404" || code == "408") return {};
        // 409: the consumer was deleted or changed under it, a limit was exceeded. Opened again next time.
        close();
        Status error = Status::unavailable(
            fmt::format("fetch of consumer \"{}\": the server answered {} {}", config_.durable, code, text));
        state_->note(error);
        return error;
      }
      out.push_back(std::make_unique<JetStreamDelivery>(msg, state_));
      ++taken;
    }
    return {};
  }

  // Whether a delivery of out[from...] is not the one expected after the one before (see the class
  // comment); remembers the pending count of the newest.
  bool check_sequence(const std::vector<std::unique_ptr<Delivery>>& out, std::size_t from) {
    bool gap = false;
    for (std::size_t i = from; i < out.size(); ++i) {
      const auto& d = static_cast<const JetStreamDelivery&>(*out[i]);
      const std::uint64_t sequence = d.consumer_sequence();
      if (next_sequence_ != 0 && sequence != next_sequence_) gap = true;
      next_sequence_ = sequence + 1;
      last_pending_ = d.pending();
    }
    return gap;
  }

  Status open_pulls() {
    char* inbox = nullptr;
    natsStatus s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
      inbox_ = inbox;
      natsInbox_Destroy(inbox);
      s = natsConnection_SubscribeSync(&pulls_, state_->nc, (inbox_ + ".*").c_str());
    }
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(pulls_, -1, -1);
    if (s != NATS_OK) return failed(s, static_cast<jsErrCode>(0));
    next_subject_ = fmt::format("$JS.API.CONSUMER.MSG.NEXT.{}.{}", state_->options.stream, config_.durable);
    next_sequence_ = 0;
    return {};
  }
  Status reopen() {
    auto sub = open_subscription(*state_, config_, true);
    if (!sub.ok()) {
      state_->note(sub.status());
      return sub.status().with_context(
          fmt::format("consumer \"{}\": recreating it at its ack floor after a lost delivery", config_.durable));
    }
    binding_ = *sub;
    return {};
  }
  // Drops the subscriptions (deliveries do not need them): late answers to this consumer's requests go
  // nowhere, and the next fetch opens them again.
  void close() {
    if (pulls_ != nullptr) natsSubscription_Destroy(pulls_);
    pulls_ = nullptr;
    if (binding_ != nullptr) natsSubscription_Destroy(binding_);
    binding_ = nullptr;
  }
  Status failed(natsStatus s, jsErrCode jerr) {
    Status error = translate(s, jerr, fmt::format("fetch of consumer \"{}\"", config_.durable));
    state_->note(error);
    return error;
  }

  natsSubscription* binding_;  // created or bound the durable consumer; never pulled through
  std::shared_ptr<JetStreamState> state_;
  const ConsumerConfig config_;
  natsSubscription* pulls_ = nullptr;  // on "<inbox_>.*": every answer to this consumer's pulls
  std::string inbox_;
  std::string next_subject_;
  std::uint64_t requests_ = 0;
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
