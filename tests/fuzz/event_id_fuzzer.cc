// Event ids: EventId::parse of arbitrary text and EventId::from_bytes of arbitrary bytes.
//
// Invariants: both fail only with kInvalidArgument; a parsed id prints as the input in lower case and
// parses back to itself; from_bytes succeeds exactly for 16 bytes and keeps them.
#include <cctype>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/core/event_id.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::StatusCode;
  const std::string_view text = strata::fuzz::bytes_of(data, size);

  strata::Result<strata::EventId> id = strata::EventId::parse(text);
  strata::fuzz::check_code(id.status(), {StatusCode::kInvalidArgument});
  if (id.ok()) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string printed = id->to_string();
    STRATA_FUZZ_CHECK(printed == lower);
    strata::Result<strata::EventId> again = strata::EventId::parse(printed);
    STRATA_FUZZ_CHECK(again.ok() && *again == *id);
  }

  strata::Result<strata::EventId> raw = strata::EventId::from_bytes(text);
  strata::fuzz::check_code(raw.status(), {StatusCode::kInvalidArgument});
  STRATA_FUZZ_CHECK(raw.ok() == (text.size() == 16));
  if (raw.ok()) STRATA_FUZZ_CHECK(raw->as_bytes() == text);
  return 0;
}
