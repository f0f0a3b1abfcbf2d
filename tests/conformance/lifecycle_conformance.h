// The stream-lifecycle conformance suite: multi-stream appends, soft and hard deletes, truncation, and
// log readers that follow the log while events are removed. Written once and run over every backend,
// with the same fixtures as store_conformance.h:
//
//   STRATA_STORE_CONFORMANCE(lifecycle_conformance, "stream lifecycle conformance", MemoryFixture)
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conformance/store_conformance.h"
#include "strata/core/event_store.h"

namespace strata::conformance {

inline StreamAppend part(const StreamId& stream, ExpectedVersion expected, const std::vector<EventData>& evs) {
  return StreamAppend{stream, expected, evs};
}

// Every position of the log from 1, visited in pages of `page`: the events seen and the positions passed
// over as removed.
struct LogWalk {
  std::vector<RecordedEvent> events;
  std::uint64_t removed = 0;
  Position next = 1;
};
inline LogWalk walk_log(EventStore& store, std::size_t page = 7) {
  LogWalk w;
  for (;;) {
    auto slice = store.read_log(w.next, page);
    REQUIRE(slice.ok());
    for (auto& e : slice->events) w.events.push_back(std::move(e));
    w.removed += slice->removed;
    w.next = slice->next_position;
    if (slice->end_of_log) return w;
  }
}

// The suite's cases, as subcases of the calling test case (see STRATA_STORE_CONFORMANCE).
void lifecycle_conformance(StoreFixture& fixture);

}  // namespace strata::conformance
