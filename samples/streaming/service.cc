#include "streaming/service.h"

#include <future>
#include <utility>

namespace streaming {

strata::RelayOptions relay_options(const ServiceContext& context, std::string_view service) {
  strata::RelayOptions o;
  o.name = std::string(service) + ".relay";
  o.source = std::string(service);
  o.subject_prefix = context.subjects + "." + std::string(service);
  o.first_backoff = context.pace.first_backoff;
  o.max_backoff = context.pace.max_backoff;
  return o;
}

strata::InboxOptions inbox_options(const ServiceContext& context, std::string name, std::string_view from_service) {
  strata::InboxOptions o;
  o.name = std::move(name);
  o.consumer.filter = context.subjects + "." + std::string(from_service) + ".>";
  o.concurrency = 16;
  // Two deals that license one title conflict on its stream, and a payment provider may be out for a
  // while: retried, over seconds, before a message is parked.
  o.max_attempts = 20;
  o.fetch_wait = context.pace.fetch_wait;
  o.first_backoff = context.pace.first_backoff;
  o.max_backoff = context.pace.max_backoff;
  o.ignore_unknown_types = true;
  return o;
}

strata::Status wait_quiet(const std::vector<strata::Inbox*>& inboxes, std::chrono::milliseconds quiet,
                          std::chrono::milliseconds timeout) {
  // Each wait lasts at least `quiet`: waiting for them one after another would add up.
  std::vector<std::future<strata::Status>> waits;
  for (strata::Inbox* inbox : inboxes)
    waits.push_back(std::async(std::launch::async, [=] { return inbox->wait_idle(quiet, timeout); }));
  strata::Status first_error;
  for (auto& w : waits) {
    strata::Status s = w.get();
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  }
  return first_error;
}

}  // namespace streaming
