#include "strata/projections/projection_storage.h"

#include <fmt/format.h>

#include "strata/projections/backend/projection_commit.h"
#include "strata/projections/backend/projection_records.h"

namespace strata {

ProjectionStorage::~ProjectionStorage() = default;

namespace {
std::string describe(const std::optional<ProjectionState>& s) {
  if (!s) return "no state";
  std::string out = fmt::format("generation {} at checkpoint {}", s->generation, s->checkpoint.value());
  if (s->rebuilding())
    out += fmt::format(", rebuilding generation {} at {}", s->shadow_generation, s->shadow_checkpoint.value());
  return out;
}
}  // namespace

Status projection_state_conflict(std::string_view projection, const std::optional<ProjectionState>& expected,
                                 const std::optional<ProjectionState>& actual) {
  return Status(StatusCode::kWrongExpectedVersion,
                fmt::format("projection \"{}\" changed underneath its writer: expected {}, found {} (is another "
                            "projector running under this name?)",
                            projection, describe(expected), describe(actual)));
}

Status validate_batch(const ProjectionWriteBatch& batch) {
  const std::string& name = batch.projection();
  if (name.empty() || name.size() > kMaxProjectionNameBytes)
    return Status::invalid_argument(
        fmt::format("projection name has {} bytes, expected 1 to {}", name.size(), kMaxProjectionNameBytes));
  for (const auto& [row_key, value] : batch.rows()) {
    auto d = decode_row_key(row_key);
    if (!d.ok() || d->generation == 0)
      return Status::invalid_argument(
          fmt::format("projection \"{}\": a row write names generation 0 or an empty read-model name", name));
  }
  for (const auto& [key, parked] : batch.parked()) {
    if (key.first == 0)
      return Status::invalid_argument(fmt::format("projection \"{}\": a parked event names generation 0", name));
    if (parked && parked->error.ok())
      return Status::invalid_argument(
          fmt::format("projection \"{}\": the parked event at position {} has no error", name, key.second.value()));
  }
  for (Generation g : batch.dropped_generations())
    if (g == 0) return Status::invalid_argument(fmt::format("projection \"{}\": cannot drop generation 0", name));
  if (const auto& change = batch.state_change(); change && change->next.generation == 0)
    return Status::invalid_argument(fmt::format("projection \"{}\": a state cannot serve generation 0", name));
  return {};
}

}  // namespace strata
