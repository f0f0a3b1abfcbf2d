// Parked events in projection storage's encoding (projections/storage/.../backend/projection_records.h):
// decode_parked_event of arbitrary bytes.
//
// Invariants: decoding fails only with kCorruption (a bad event id or metadata inside is corruption too);
// a decoded parked event carries a non-OK error, and encodes to bytes that decode to an equal event.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/projections/backend/projection_records.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = strata::fuzz::bytes_of(data, size);
  strata::Result<strata::ParkedEvent> parked = strata::decode_parked_event(bytes);
  strata::fuzz::check_code(parked.status(), {strata::StatusCode::kCorruption});
  if (!parked.ok()) return 0;
  STRATA_FUZZ_CHECK(!parked->error.ok());
  const std::string encoded = strata::encode_parked_event(*parked);
  STRATA_FUZZ_CHECK(encoded.size() <= bytes.size());
  strata::Result<strata::ParkedEvent> back = strata::decode_parked_event(encoded);
  STRATA_FUZZ_CHECK(back.ok() && *back == *parked);
  return 0;
}
