// JetStreamTransport on nats.c. The one place where nats.c statuses and JetStream errors become strata
// statuses is translate() below.
#include "strata/messaging/jetstream_transport.h"

#include <fmt/format.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "subjects.h"

namespace strata {

namespace {

using Clock = std::chrono::steady_clock;

// nats.c's status (and JetStream's error code, when there is one) as a strata status. Failures that a
// retry can clear (no server, no leader, timeouts, a connection being re-established) are kUnavailable;
// a message the broker refuses as such is kInvalidArgument.
Status translate(natsStatus s, jsErrCode js_error, std::string_view what, const char* text = nullptr) {
  const std::string detail = fmt::format("{}: {}{}{}", what, natsStatus_GetText(s), text ? ": " : "", text ? text : "");
  switch (s) {
    case NATS_OK:
      return {};
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_MAX_PAYLOAD:
      return Status::invalid_argument(detail);
    default:
      break;
  }
  if (js_error == JSStreamMessageExceedsMaximumErr) return Status::invalid_argument(detail);
  if (js_error != 0)
    return Status::unavailable(fmt::format("{} (JetStream error {})", detail, static_cast<int>(js_error)));
  return Status::unavailable(detail);
}

std::int64_t nanos(std::chrono::milliseconds ms) { return static_cast<std::int64_t>(ms.count()) * 1'000'000; }

bool name_ok(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

// Shared by the transport, its consumers and deliveries, and nats.c's callbacks (through a raw pointer:
// the callbacks stop before the state goes, because the connection is destroyed first).
struct detail::JetStreamState {
  explicit JetStreamState(JetStreamOptions o) : options(std::move(o)) {}
  ~JetStreamState() {
    {
      std::lock_guard lock(mu);
      closing = true;
    }
    sweep_cv.notify_all();
    if (sweeper.joinable()) sweeper.join();
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) natsConnection_Destroy(nc);  // waits for nats.c's callback threads
    if (opts != nullptr) natsOptions_Destroy(opts);
    // Whatever never got an outcome gets one now.
    for (auto& [msg, p] : pending) p.done(Status::unavailable("the JetStream transport was destroyed"));
  }

  struct Pending {
    PublishCallback done;
    Clock::time_point deadline;
  };

  const JetStreamOptions options;
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;

  mutable std::mutex mu;
  std::unordered_map<natsMsg*, Pending> pending;  // GUARDED_BY(mu); by the message handed to nats.c
  bool stream_ready = false;                      // GUARDED_BY(mu)
  bool closing = false;                           // GUARDED_BY(mu)
  std::string state = "connecting";               // GUARDED_BY(mu)
  Status last_error;                              // GUARDED_BY(mu)
  std::mutex stream_mu;                           // serializes ensure_stream()
  std::condition_variable sweep_cv;
  std::thread sweeper;

  void note(Status error) {
    std::lock_guard lock(mu);
    last_error = std::move(error);
  }

  // The outcome of a publish, from nats.c's thread.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<JetStreamState*>(closure);
    PublishCallback done;
    Result<PublishAck> result = Status::internal("unset");
    {
      std::lock_guard lock(self->mu);
      auto it = self->pending.find(msg);
      if (it != self->pending.end()) {
        done = std::move(it->second.done);
        self->pending.erase(it);
      }
      if (pa != nullptr) {
        result = PublishAck{pa->Sequence, pa->Duplicate};
        self->last_error = Status();
      } else {
        const char* id = nullptr;
        natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
        result =
            translate(pae != nullptr ? pae->Err : NATS_ERR, pae != nullptr ? pae->ErrCode : static_cast<jsErrCode>(0),
                      fmt::format("publish of message \"{}\"", id ? id : ""), pae != nullptr ? pae->ErrText : nullptr);
        self->last_error = result.status();
        if (pae != nullptr && (pae->Err == NATS_NO_RESPONDERS || pae->ErrCode == JSStreamNotFoundErr))
          self->stream_ready = false;  // maybe deleted, or no leader: check it again next time
      }
    }
    natsMsg_Destroy(msg);
    if (done) done(std::move(result));
  }
  static void on_disconnected(natsConnection*, void* closure) {
    static_cast<JetStreamState*>(closure)->set_state("reconnecting");
  }
  static void on_reconnected(natsConnection*, void* closure) {
    static_cast<JetStreamState*>(closure)->set_state("connected");
  }
  static void on_connected(natsConnection*, void* closure) {
    static_cast<JetStreamState*>(closure)->set_state("connected");
  }
  static void on_closed(natsConnection*, void* closure) { static_cast<JetStreamState*>(closure)->set_state("closed"); }
  void set_state(std::string_view s) {
    std::lock_guard lock(mu);
    state = s;
  }

  // nats.c reports the timeout of an asynchronous publish itself (jsPubOptions::MaxWait); this is the
  // net under it: an outcome that has not come well after its deadline is given one.
  void sweep() {
    std::unique_lock lock(mu);
    while (!closing) {
      sweep_cv.wait_for(lock, std::chrono::milliseconds(200));
      const auto now = Clock::now();
      std::vector<PublishCallback> expired;
      for (auto it = pending.begin(); it != pending.end();) {
        if (now > it->second.deadline + std::chrono::seconds(2)) {
          expired.push_back(std::move(it->second.done));
          it = pending.erase(it);  // nats.c still owns the message and frees it when it gives up
        } else {
          ++it;
        }
      }
      if (expired.empty()) continue;
      lock.unlock();
      for (auto& done : expired)
        done(
            Status::unavailable(fmt::format("publish not acknowledged within {} ms", options.publish_timeout.count())));
      lock.lock();
    }
  }

  Status ensure_stream() {
    {
      std::lock_guard lock(mu);
      if (stream_ready) return {};
    }
    std::lock_guard serialize(stream_mu);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options.request_timeout.count();
    jsStreamInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, js, options.stream.c_str(), &jo, &jerr);
    std::vector<const char*> subjects;
    for (const auto& subject : options.subjects) subjects.push_back(subject.c_str());
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = options.stream.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = options.memory_storage ? js_MemoryStorage : js_FileStorage;
    config.Replicas = options.replicas;
    config.Duplicates = nanos(options.duplicate_window);
    config.MaxAge = nanos(options.max_age);
    config.MaxBytes = options.max_bytes > 0 ? options.max_bytes : -1;
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      jsStreamInfo* created = nullptr;
      s = js_AddStream(&created, js, &config, &jo, &jerr);
      if (created != nullptr) jsStreamInfo_Destroy(created);
    } else if (s == NATS_OK) {
      // An existing stream keeps its settings; only subjects it lacks are added.
      std::vector<const char*> merged;
      for (int i = 0; i < info->Config->SubjectsLen; ++i) merged.push_back(info->Config->Subjects[i]);
      bool missing = false;
      for (const char* subject : subjects) {
        if (std::none_of(merged.begin(), merged.end(), [&](const char* m) { return std::string_view(m) == subject; })) {
          merged.push_back(subject);
          missing = true;
        }
      }
      if (missing) {
        jsStreamConfig update = *info->Config;
        update.Subjects = merged.data();
        update.SubjectsLen = static_cast<int>(merged.size());
        jsStreamInfo* updated = nullptr;
        s = js_UpdateStream(&updated, js, &update, &jo, &jerr);
        if (updated != nullptr) jsStreamInfo_Destroy(updated);
      }
    }
    if (info != nullptr) jsStreamInfo_Destroy(info);
    if (s != NATS_OK) {
      Status error = translate(s, jerr, fmt::format("JetStream stream \"{}\"", options.stream));
      note(error);
      return error;
    }
    std::lock_guard lock(mu);
    stream_ready = true;
    return {};
  }
};

namespace {

// The message, and the consumer sequence JetStream delivered it with (0 when it has no JetStream
// metadata).
IncomingMessage incoming(natsMsg* msg, std::uint64_t& consumer_sequence) {
  IncomingMessage m;
  consumer_sequence = 0;
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
    jsMsgMetaData_Destroy(meta);
  }
  return m;
}

class JetStreamDelivery final : public Delivery {
 public:
  JetStreamDelivery(natsMsg* msg, std::shared_ptr<detail::JetStreamState> state)
      : JetStreamDelivery(msg, std::move(state), Parsed(msg)) {}
  std::uint64_t consumer_sequence() const noexcept { return consumer_sequence_; }
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
    explicit Parsed(natsMsg* msg) : message(incoming(msg, consumer_sequence)) {}
    std::uint64_t consumer_sequence = 0;
    IncomingMessage message;
  };
  JetStreamDelivery(natsMsg* msg, std::shared_ptr<detail::JetStreamState> state, Parsed parsed)
      : Delivery(std::move(parsed.message)),
        consumer_sequence_(parsed.consumer_sequence),
        msg_(msg),
        state_(std::move(state)) {}

  std::uint64_t consumer_sequence_;
  natsMsg* msg_;
  std::shared_ptr<detail::JetStreamState> state_;  // keeps the connection alive while the message is
};

// Opens (creating, binding, updating or recreating) the durable pull consumer `config` describes.
// `at_ack_floor`: recreate it at its ack floor whenever it has unacknowledged messages.
Result<natsSubscription*> open_subscription(detail::JetStreamState& state, const ConsumerConfig& config,
                                            bool at_ack_floor) {
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
  JetStreamConsumer(natsSubscription* sub, std::shared_ptr<detail::JetStreamState> state, ConsumerConfig config)
      : sub_(sub), state_(std::move(state)), config_(std::move(config)) {}
  ~JetStreamConsumer() override { natsSubscription_Destroy(sub_); }  // the durable consumer stays

  // nats.c's Fetch of a batch waits until the batch is full or the wait is over, which would hold
  // messages back for as long as the wait when they trickle in. So: wait for one message, then take
  // whatever else is there at once (a no-wait pull request).
  Result<std::vector<std::unique_ptr<Delivery>>> fetch(std::size_t max_messages,
                                                       std::chrono::milliseconds wait) override {
    std::vector<std::unique_ptr<Delivery>> out;
    if (sub_ == nullptr) STRATA_RETURN_IF_ERROR(reopen());
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, sub_, 1, std::max<std::int64_t>(wait.count(), 1), &jerr);
    if (s == NATS_TIMEOUT) return out;  // nothing came
    if (s != NATS_OK) return failed(s, jerr);
    bool gap = take(list, out);
    if (!gap && max_messages > 1) {
      jsFetchRequest more;
      jsFetchRequest_Init(&more);
      more.Batch = static_cast<int>(max_messages - 1);
      more.NoWait = true;
      more.Expires = nanos(std::chrono::milliseconds(500));  // a bound on waiting for the answer only
      s = natsSubscription_FetchRequest(&list, sub_, &more);
      if (s == NATS_OK) {
        gap = take(list, out);
      } else if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND && out.empty()) {
        return failed(s, static_cast<jsErrCode>(0));
      }
    }
    if (gap) {
      out.clear();  // not acknowledged: they come again after the recreation
      natsSubscription_Destroy(sub_);
      sub_ = nullptr;
      STRATA_RETURN_IF_ERROR(reopen());
      // Not an empty batch: to the caller that would mean "nothing came", though the redeliveries are
      // on their way (an inbox would think itself idle).
      return fetch(max_messages, wait);
    }
    return out;
  }

 private:
  // Takes the batch; true when a delivery was missing before one of it (see the class comment).
  bool take(natsMsgList& list, std::vector<std::unique_ptr<Delivery>>& out) {
    bool gap = false;
    for (int i = 0; i < list.Count; ++i) {
      auto d = std::make_unique<JetStreamDelivery>(list.Msgs[i], state_);
      list.Msgs[i] = nullptr;  // owned by the delivery now
      const std::uint64_t sequence = d->consumer_sequence();
      if (next_sequence_ != 0 && sequence != next_sequence_) gap = true;
      next_sequence_ = sequence + 1;
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
    sub_ = *sub;
    next_sequence_ = 0;
    return {};
  }
  Status failed(natsStatus s, jsErrCode jerr) {
    Status error = translate(s, jerr, fmt::format("fetch of consumer \"{}\"", config_.durable));
    state_->note(error);
    return error;
  }

  natsSubscription* sub_;
  std::shared_ptr<detail::JetStreamState> state_;
  const ConsumerConfig config_;
  std::uint64_t next_sequence_ = 0;  // the consumer sequence the next delivery must have; 0: any
};

}  // namespace

Result<std::unique_ptr<JetStreamTransport>> JetStreamTransport::connect(const JetStreamOptions& options) {
  if (options.servers.empty()) return Status::invalid_argument("JetStream transport: no servers given");
  if (!name_ok(options.stream))
    return Status::invalid_argument(
        fmt::format("JetStream stream name \"{}\" is not 1 to 64 bytes of [A-Za-z0-9_-]", options.stream));
  if (options.subjects.empty())
    return Status::invalid_argument(fmt::format("JetStream stream \"{}\": no subjects given", options.stream));
  for (const auto& subject : options.subjects) STRATA_RETURN_IF_ERROR(detail::validate_filter(subject));
  if (options.replicas < 1 || options.replicas > 5 || options.consumer_replicas < 0 ||
      options.consumer_replicas > options.replicas || options.publish_timeout.count() <= 0 || options.max_pending == 0)
    return Status::invalid_argument(fmt::format(
        "JetStream stream \"{}\": replicas must be 1 to 5, consumer_replicas 0 to replicas, publish_timeout "
        "positive, max_pending at least 1",
        options.stream));

  auto state = std::make_shared<detail::JetStreamState>(options);
  std::vector<const char*> servers;
  for (const auto& server : options.servers) servers.push_back(server.c_str());
  natsStatus s = natsOptions_Create(&state->opts);
  if (s == NATS_OK) s = natsOptions_SetServers(state->opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(state->opts, options.connection_name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(state->opts, options.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(state->opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(state->opts, options.reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(state->opts, 64 << 20);
  if (s == NATS_OK)
    s = natsOptions_SetRetryOnFailedConnect(state->opts, true, &detail::JetStreamState::on_connected, state.get());
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(state->opts, &detail::JetStreamState::on_disconnected, state.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(state->opts, &detail::JetStreamState::on_reconnected, state.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(state->opts, &detail::JetStreamState::on_closed, state.get());
  if (s != NATS_OK) return translate(s, static_cast<jsErrCode>(0), "JetStream transport options");

  s = natsConnection_Connect(&state->nc, state->opts);
  if (s == NATS_OK) {
    state->set_state("connected");
  } else if (s == NATS_NOT_YET_CONNECTED) {
    state->set_state("connecting");  // goes on in the background
    state->note(Status::unavailable("no NATS server answers yet; connecting in the background"));
  } else {
    return translate(s, static_cast<jsErrCode>(0), "JetStream transport: connect");
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.request_timeout.count();
  jo.PublishAsync.AckHandler = &detail::JetStreamState::on_ack;
  jo.PublishAsync.AckHandlerClosure = state.get();
  jo.PublishAsync.MaxPending = static_cast<std::int64_t>(options.max_pending);
  jo.PublishAsync.StallWait = options.publish_timeout.count();
  s = natsConnection_JetStream(&state->js, state->nc, &jo);
  if (s != NATS_OK) return translate(s, static_cast<jsErrCode>(0), "JetStream transport: JetStream context");
  state->sweeper = std::thread([raw = state.get()] { raw->sweep(); });
  return std::unique_ptr<JetStreamTransport>(new JetStreamTransport(std::move(state)));
}

JetStreamTransport::JetStreamTransport(std::shared_ptr<detail::JetStreamState> state) : state_(std::move(state)) {}
JetStreamTransport::~JetStreamTransport() = default;

Status JetStreamTransport::ensure_stream() { return state_->ensure_stream(); }

Status JetStreamTransport::delete_stream() {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = state_->options.request_timeout.count();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_DeleteStream(state_->js, state_->options.stream.c_str(), &jo, &jerr);
  {
    std::lock_guard lock(state_->mu);
    state_->stream_ready = false;
  }
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return {};
  return translate(s, jerr, fmt::format("delete JetStream stream \"{}\"", state_->options.stream));
}

Result<std::string> JetStreamTransport::stream_leader() {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = state_->options.request_timeout.count();
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(&info, state_->js, state_->options.stream.c_str(), &jo, &jerr);
  if (s != NATS_OK) return translate(s, jerr, fmt::format("JetStream stream \"{}\"", state_->options.stream));
  std::string leader;
  if (info->Cluster != nullptr && info->Cluster->Leader != nullptr) leader = info->Cluster->Leader;
  jsStreamInfo_Destroy(info);
  if (leader.empty())
    return Status::unavailable(fmt::format("JetStream stream \"{}\" has no leader now", state_->options.stream));
  return leader;
}

void JetStreamTransport::publish(OutgoingMessage message, PublishCallback done) {
  if (Status valid = validate_message(message, max_payload_bytes()); !valid.ok()) {
    done(valid);
    return;
  }
  if (Status ready = state_->ensure_stream(); !ready.ok()) {
    done(ready);
    return;
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, message.subject.c_str(), nullptr, message.payload.data(),
                                static_cast<int>(message.payload.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", message.id.c_str());
  for (const auto& [name, value] : message.headers.all())
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, name.c_str(), value.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    done(translate(s, static_cast<jsErrCode>(0), fmt::format("publish of message \"{}\"", message.id)));
    return;
  }
  natsMsg* const key = msg;
  {
    std::lock_guard lock(state_->mu);
    state_->pending[key] = {std::move(done), Clock::now() + state_->options.publish_timeout};
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = state_->options.publish_timeout.count();
  s = js_PublishMsgAsync(state_->js, &msg, &po);
  if (s == NATS_OK) return;  // nats.c owns the message; on_ack() gives the outcome
  PublishCallback failed;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->pending.find(key);
    if (it != state_->pending.end()) {
      failed = std::move(it->second.done);
      state_->pending.erase(it);
    }
  }
  natsMsg_Destroy(msg);  // still ours when the call failed
  Status error = translate(s, static_cast<jsErrCode>(0), fmt::format("publish of message \"{}\"", message.id));
  state_->note(error);
  if (failed) failed(error);
}

Result<std::unique_ptr<Consumer>> JetStreamTransport::consume(const ConsumerConfig& config) {
  STRATA_RETURN_IF_ERROR(detail::validate_consumer_config(config));
  STRATA_ASSIGN_OR_RETURN(natsSubscription * sub,
                          open_subscription(*state_, config, config.redeliver_unacknowledged_on_open));
  return std::unique_ptr<Consumer>(std::make_unique<JetStreamConsumer>(sub, state_, config));
}

TransportHealth JetStreamTransport::health() const {
  const natsConnStatus connection = natsConnection_Status(state_->nc);
  std::lock_guard lock(state_->mu);
  TransportHealth h;
  h.state = state_->state;
  h.last_error = state_->last_error;
  h.available = connection == NATS_CONN_STATUS_CONNECTED && state_->last_error.ok();
  if (connection == NATS_CONN_STATUS_CONNECTED && !state_->last_error.ok()) h.state = "connected, failing";
  return h;
}

std::size_t JetStreamTransport::max_payload_bytes() const noexcept {
  const std::int64_t server = natsConnection_GetMaxPayload(state_->nc);
  return server > 0 ? static_cast<std::size_t>(server) : std::size_t{1} << 20;
}

}  // namespace strata
