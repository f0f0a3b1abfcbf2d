// What the JetStream transport's sources share (jetstream_transport.cc: the transport and its
// connection; jetstream_consumer.cc: consumers and deliveries): the translation of nats.c statuses, and
// the state the transport, its consumers and nats.c's callbacks hold together.
#pragma once

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

namespace strata::detail {

using Clock = std::chrono::steady_clock;

// nats.c's status (and JetStream's error code, when there is one) as a strata status. Failures that a
// retry can clear (no server, no leader, timeouts, a connection being re-established) are kUnavailable;
// a message the broker refuses as such is kInvalidArgument.
inline Status translate(natsStatus s, jsErrCode js_error, std::string_view what, const char* text = nullptr) {
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

inline std::int64_t nanos(std::chrono::milliseconds ms) { return static_cast<std::int64_t>(ms.count()) * 1'000'000; }

// Shared by the transport, its consumers and deliveries, and nats.c's callbacks (through a raw pointer:
// the callbacks stop before the state goes, because the connection is destroyed first).
struct JetStreamState {
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

// A durable pull consumer of `state`'s stream (see ConsumerConfig), opened as JetStreamTransport::consume
// describes.
Result<std::unique_ptr<Consumer>> open_jetstream_consumer(std::shared_ptr<JetStreamState> state,
                                                          const ConsumerConfig& config);

}  // namespace strata::detail
