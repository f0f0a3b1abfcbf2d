// A business transaction across services: every event that carries its correlation id, gathered from
// each service's store and put in causal order by following causation ids — from an event to what it
// caused in the same service (a saga's decisions, a command's effect) or in another (the effect of the
// message a relay made of it).
//
//   streaming::ServiceLog logs[] = {{"contracts", contracts_store}, {"payments", payments_store},
//                                   {"catalog", catalog_store}};
//   STRATA_ASSIGN_OR_RETURN(auto events, streaming::business_transaction(logs, "deal-trilogy"));
//   std::fputs(streaming::render_timeline(events).c_str(), stdout);   // one line per event
//   std::fputs(streaming::render_trace(events).c_str(), stdout);      // a tree of causes
//
// A causation id names an event id (a message's id is the id of the event it was made of), or strata's
// "reply/<command record id>" (a command's answer) or "deadline/<deadline id>" (a deadline that fell
// due, scheduled by a record of the saga). An event whose cause is in none of the stores — a user's
// request, a provider's webhook — is a root.
//
// Thread safety: the functions are reentrant; the stores may be in use.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/event.h"
#include "strata/core/event_store.h"
#include "strata/core/status.h"

namespace streaming {

struct ServiceLog {
  std::string_view service;
  strata::EventStore& store;
};

struct TimelineEvent {
  std::string service;
  strata::RecordedEvent event;
  // Where in the timeline the event that caused it is; std::nullopt for a root.
  std::optional<std::size_t> cause;
};

// Every event of `logs` with correlation id `correlation_id`, each after the event that caused it, and
// otherwise in commit order (the stores' commit timestamps). The stores' errors.
[[nodiscard]] strata::Result<std::vector<TimelineEvent>> business_transaction(std::span<const ServiceLog> logs,
                                                                              std::string_view correlation_id);

// One line per event: its number, service, stream, version, type, correlation id, the number of its
// cause and what it says, in short.
std::string render_timeline(const std::vector<TimelineEvent>& events);

// The events as a tree: each under the event that caused it.
std::string render_trace(const std::vector<TimelineEvent>& events);

}  // namespace streaming
