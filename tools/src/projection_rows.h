// What a store holds of each projection, as the `projections` verb and the admin page show it: its
// stored state, how far behind the log's head it is, and how many events it parked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projection_state.h"

namespace strata::tools {

struct ProjectionRow {
  std::string name;
  ProjectionState state;
  std::uint64_t lag_events = 0;
  // Age of the oldest event not applied yet (0 when caught up).
  double lag_seconds = 0;
  // Parked events of the serving generation, counted up to kParkedCountCap.
  std::size_t parked = 0;
  double events_per_second = -1;  // unknown
};

inline constexpr std::size_t kParkedCountCap = 10'000;

// Every projection with a stored state, in the storage's order.
Result<std::vector<ProjectionRow>> projection_rows(RocksEventStore& store);

}  // namespace strata::tools
