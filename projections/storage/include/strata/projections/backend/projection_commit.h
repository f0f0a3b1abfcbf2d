// What every ProjectionStorage implementation's commit() checks and reports the same way, so that all
// backends refuse exactly the same batches with the same messages. For backend implementers.
//
//   STRATA_RETURN_IF_ERROR(strata::validate_batch(batch));                       // before taking locks
//   if (stored != batch.state_change()->expected)
//     return strata::projection_state_conflict(batch.projection(), batch.state_change()->expected, stored);
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "strata/core/status.h"
#include "strata/projections/projection_state.h"
#include "strata/projections/projection_write_batch.h"

namespace strata {

// kInvalidArgument unless `batch` is well formed: a projection name of 1..kMaxProjectionNameBytes bytes,
// no generation 0 in a row write, parked event, dropped generation or new state, no parked event
// without an error.
Status validate_batch(const ProjectionWriteBatch& batch);

// The kWrongExpectedVersion status commit() returns when the stored state is not the expected one.
Status projection_state_conflict(std::string_view projection, const std::optional<ProjectionState>& expected,
                                 const std::optional<ProjectionState>& actual);

}  // namespace strata
