// An inbox's parked messages (messaging/src/inbox_records.h): kept as projection storage keeps parked
// events, and turned back into the message to retry with message_of(). The input is a stored parked
// event's bytes.
//
// Invariants: a stored record that decodes turns into a message, which parks as a record that encodes,
// decodes, and turns back into the same message.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "inbox_records.h"
#include "strata/projections/backend/projection_records.h"

namespace {

bool same_message(const strata::IncomingMessage& a, const strata::IncomingMessage& b) {
  return a.id == b.id && a.subject == b.subject && a.type == b.type && a.payload == b.payload &&
         a.headers == b.headers && a.sequence == b.sequence && a.published_at == b.published_at;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata::Result<strata::ParkedEvent> stored = strata::decode_parked_event(strata::fuzz::bytes_of(data, size));
  strata::fuzz::check_code(stored.status(), {strata::StatusCode::kCorruption});
  if (!stored.ok()) return 0;

  const strata::IncomingMessage message = strata::detail::message_of(*stored);
  const strata::ParkedEvent parked = strata::detail::parked_message(message, stored->error, stored->attempts);
  STRATA_FUZZ_CHECK(parked.generation == strata::detail::kInboxGeneration && !parked.error.ok());
  strata::Result<strata::ParkedEvent> back = strata::decode_parked_event(strata::encode_parked_event(parked));
  STRATA_FUZZ_CHECK(back.ok() && *back == parked);
  STRATA_FUZZ_CHECK(same_message(strata::detail::message_of(*back), message));
  return 0;
}
