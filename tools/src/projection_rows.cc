#include "projection_rows.h"

#include <chrono>
#include <optional>

namespace strata::tools {

Result<std::vector<ProjectionRow>> projection_rows(RocksEventStore& store) {
  ProjectionStorage& storage = store.projection_storage();
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, storage.list_projections());
  std::vector<ProjectionRow> rows;
  const Position head = store.head_position();
  for (const auto& name : names) {
    STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> state, storage.load_state(name));
    if (!state) continue;
    ProjectionRow row{name, *state};
    row.lag_events = head > state->checkpoint ? head - state->checkpoint : 0;
    if (row.lag_events > 0) {
      STRATA_ASSIGN_OR_RETURN(LogSlice next, store.read_log(state->checkpoint + 1, 1));
      if (!next.events.empty())
        row.lag_seconds =
            std::chrono::duration<double>(std::chrono::system_clock::now() - next.events.front().timestamp).count();
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<ParkedEvent> parked,
                            storage.list_parked(name, state->generation, 0, kParkedCountCap));
    row.parked = parked.size();
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace strata::tools
