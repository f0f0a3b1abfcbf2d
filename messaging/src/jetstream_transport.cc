// JetStreamTransport on nats.c: the connection, the stream, publishing. Consumers are in
// jetstream_consumer.cc; the one place where nats.c statuses and JetStream errors become strata statuses
// is translate() in jetstream_state.h.
#include "jetstream_state.h"

#include "subjects.h"

namespace strata {

using detail::nanos;
using detail::translate;
using Clock = detail::Clock;

namespace {

bool name_ok(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

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
  return detail::open_jetstream_consumer(state_, config);
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
