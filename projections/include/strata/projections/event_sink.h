// EventSink: a read model kept outside strata's storage (another database, a search index, a broker),
// fed by a Projector with at-least-once delivery.
//
// The projector hands the sink every event of the types it wants, in log order, each with its global
// position; after a batch it asks the sink to acknowledge, and only then advances its checkpoint. After a
// crash, or when acknowledge() fails, events since the last checkpoint are delivered again, so a sink
// stays exactly-once in effect by keeping, per row, the position of the last event applied to it and
// ignoring anything at or below it (or by deduplicating on the event id).
//
//   class SearchIndexSink : public strata::EventSink {
//    public:
//     bool wants(std::string_view type) const noexcept override { return type.starts_with("movies."); }
//     strata::Status deliver(const strata::EventView& e) override { return index_.upsert(e.stream_id, e.position,
//     e.payload); } strata::Status acknowledge() override { return index_.flush(); }
//   };
//   strata::Projector relay(store, storage, strata::make_sink_handler(sink, "search-index"));
//
// Errors from deliver() go through the projector's error policy for that event (retried with backoff,
// then parked or stopping the projector); exceptions are caught and become kInternal.
//
// Thread safety: the projector calls a sink from one thread at a time. REQUIRES: the sink outlives every
// projector feeding it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "strata/core/event.h"
#include "strata/core/status.h"
#include "strata/projections/projection.h"

namespace strata {

class EventSink {
 public:
  virtual ~EventSink();

  // Whether events of `type` go to the sink; the others are skipped unread. Every type by default.
  virtual bool wants(std::string_view type) const noexcept {
    (void)type;
    return true;
  }
  // Hands one event to the sink. `event` (and its views) is valid only during the call; event.position
  // identifies it for idempotency. The sink may buffer: durability is what acknowledge() reports.
  [[nodiscard]] virtual Status deliver(const EventView& event) = 0;
  // OK once every event delivered so far is durable on the sink's side. On an error nothing of the
  // batch counts as delivered: the projector delivers it again after a backoff.
  [[nodiscard]] virtual Status acknowledge() { return {}; }

 protected:
  EventSink() = default;
};

// A projection handler that feeds `sink`, checkpointed under `name`. REQUIRES: `sink` outlives it.
std::unique_ptr<ProjectionHandler> make_sink_handler(EventSink& sink, std::string name);

}  // namespace strata
