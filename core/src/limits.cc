#include "strata/core/limits.h"

#include <fmt/format.h>

#include <string_view>

namespace strata {

namespace {
Status check_range(std::string_view option, std::size_t value, std::size_t ceiling) {
  if (value >= 1 && value <= ceiling) return {};
  return Status::invalid_argument(fmt::format("invalid limits: {} is {}, expected 1 to {}", option, value, ceiling));
}
}  // namespace

// The ceilings keep every limit one that the code using it can honour: the JSON parsers allocate
// per level of max_json_depth up front (SIZE_MAX overflows the allocation), a payload must fit
// simdjson's 4 GiB documents with room for its tape, and a type name is kept in every stored event.
Status validate_limits(const Limits& limits) {
  STRATA_RETURN_IF_ERROR(check_range("max_payload_bytes", limits.max_payload_bytes, Limits::kMaxPayloadBytesCeiling));
  STRATA_RETURN_IF_ERROR(check_range("max_json_depth", limits.max_json_depth, Limits::kMaxJsonDepthCeiling));
  STRATA_RETURN_IF_ERROR(
      check_range("max_events_per_append", limits.max_events_per_append, Limits::kMaxEventsPerAppendCeiling));
  STRATA_RETURN_IF_ERROR(
      check_range("max_metadata_bytes", limits.max_metadata_bytes, Limits::kMaxMetadataBytesCeiling));
  return check_range("max_type_bytes", limits.max_type_bytes, Limits::kMaxTypeBytesCeiling);
}

}  // namespace strata
