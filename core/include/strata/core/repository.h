// Repository<A>: loads an aggregate by replaying its stream and saves the events its commands recorded,
// with the loaded version as the expected version (optimistic concurrency).
//
//   strata::Repository<Account> accounts(store);
//   Account acct = accounts.create(id);                  // a new aggregate, version 0
//   STRATA_RETURN_IF_ERROR(acct.open("Alice"));
//   STRATA_RETURN_IF_ERROR(accounts.save(acct));         // expects no stream
//   STRATA_ASSIGN_OR_RETURN(Account again, accounts.load(id));
//
// Thread safety: a Repository may be shared between threads (it holds only a reference to the store);
// each aggregate value belongs to one thread at a time. REQUIRES: the store outlives the repository.
#pragma once

#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_store.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"
#include "strata/core/version.h"

namespace strata {

template <class A>
class Repository {
  static_assert(detail::IsAggregate<A>,
                "strata: Repository<A> needs A to derive from strata::Aggregate<A, strata::Events<...>> and to be "
                "default-constructible");

 public:
  explicit Repository(EventStore& store) noexcept : store_(store) {}

  // A new, empty aggregate for stream `id` (version 0). Saving it expects the stream not to exist.
  A create(StreamId id) const {
    A a;
    detail::AggregateAccess::set_id(a, std::move(id));
    return a;
  }

  // The aggregate rebuilt from every event of stream `id`.
  // Fails with kNotFound when the stream has no events; kUnknownEventType when a stored event's type is
  // not in A's Events<...> list (naming type, version and position); kInvalidArgument when a stored
  // payload does not decode; or the store's kIOError / kCorruption / kUnavailable.
  [[nodiscard]] Result<A> load(const StreamId& id) const {
    A a;
    detail::AggregateAccess::set_id(a, id);
    typename detail::ScratchOf<typename A::EventList>::type scratch;
    const Limits& limits = store_.limits();
    Status s = store_.visit_stream(id, 1, kEndOfStream, [&](const EventView& e) {
      return detail::AggregateAccess::apply_stored(a, e, scratch, limits);
    });
    if (!s.ok()) return s;
    return a;
  }

  // Appends the aggregate's pending events, each under the id it was recorded with and with `metadata`,
  // expecting the stream to be at aggregate.version(); on success the aggregate's version advances and
  // its pending events are cleared. With no pending events, nothing is written and the result's
  // positions are 0.
  // Fails with kInvalidArgument when the aggregate has no stream id (make it with create()) or an event
  // breaks the store's limits; kWrongExpectedVersion when another writer got there first (reload and
  // retry the command); or the store's errors. On failure the aggregate is unchanged, so the same save
  // may be retried: the event ids make a retry after a lost acknowledgement idempotent.
  [[nodiscard]] Result<AppendResult> save(A& aggregate, const Metadata& metadata = {}) const {
    if (!aggregate.has_id())
      return Status::invalid_argument("aggregate has no stream id: make new aggregates with Repository::create(id)");
    const auto& pending = aggregate.pending_events();
    if (pending.empty()) return AppendResult{aggregate.version(), 0, 0};
    std::vector<EventData> batch;
    batch.reserve(pending.size());
    for (const auto& p : pending) {
      std::visit([&](const auto& e) { batch.push_back(to_event_data(e, p.id, metadata)); }, p.event);
    }
    auto result = store_.append(aggregate.id(), ExpectedVersion::exact(aggregate.version()), batch);
    if (result.ok()) detail::AggregateAccess::mark_saved(aggregate, result->stream_version);
    return result;
  }

  EventStore& store() const noexcept { return store_; }

 private:
  EventStore& store_;
};

}  // namespace strata
