// What each service of the streaming showcase runs on — its own store and projection storage, the
// transport shared by all three — and the relay and inbox settings they have in common.
//
// A service publishes on "<subjects>.<service>.<stream id>" (one subject per stream, so a stream's
// messages stay in order) and takes in "<subjects>.<other service>.>".
//
//   streaming::ServiceContext context{store, storage, transport, "showcase", streaming::Pace::in_process()};
//   streaming::CatalogService catalog(context);
//
// Thread safety: plain values; the functions are reentrant.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/event_store.h"
#include "strata/core/status.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/relay.h"
#include "strata/messaging/transport.h"
#include "strata/projections/projection_storage.h"

namespace streaming {

// How often the services look for work and how soon they retry: brisk in one process, calmer over a
// network broker.
struct Pace {
  std::chrono::milliseconds fetch_wait{10};
  std::chrono::milliseconds first_backoff{5};
  std::chrono::milliseconds max_backoff{200};
  std::chrono::milliseconds poll_interval{20};

  static Pace in_process() { return {}; }
  static Pace over_network() {
    return {std::chrono::milliseconds(100), std::chrono::milliseconds(50), std::chrono::milliseconds(1'000),
            std::chrono::milliseconds(50)};
  }
};

// REQUIRES: store, storage and transport outlive every service given the context.
struct ServiceContext {
  strata::EventStore& store;
  strata::ProjectionStorage& storage;
  strata::Transport& transport;
  // The first token of every subject (for JetStream: a subject its stream captures, "<subjects>.>").
  std::string subjects;
  Pace pace;
};

// The relay of `service`: checkpoint "<service>.relay", subjects "<subjects>.<service>.<stream id>".
strata::RelayOptions relay_options(const ServiceContext& context, std::string_view service);

// An inbox named `name` (its durable consumer too) for what `from_service` publishes. It ignores the
// message types it has no handler for: a service publishes messages for several others on its subjects.
strata::InboxOptions inbox_options(const ServiceContext& context, std::string name, std::string_view from_service);

// Waits, side by side, until none of `inboxes` has seen a message for `quiet`. kUnavailable after
// `timeout`.
[[nodiscard]] strata::Status wait_quiet(const std::vector<strata::Inbox*>& inboxes, std::chrono::milliseconds quiet,
                                        std::chrono::milliseconds timeout);

}  // namespace streaming
