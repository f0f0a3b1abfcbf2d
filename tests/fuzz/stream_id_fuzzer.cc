// Stream ids: StreamId::parse of arbitrary bytes.
//
// Invariants: parse fails only with kInvalidArgument, exactly when is_valid() is false; a parsed id holds
// the input unchanged, its category is the part before the first '-', and it parses back to itself.
#include <cstdint>

#include "fuzz_check.h"
#include "strata/core/stream_id.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = strata::fuzz::bytes_of(data, size);
  strata::Result<strata::StreamId> id = strata::StreamId::parse(text);
  STRATA_FUZZ_CHECK(id.ok() == strata::StreamId::is_valid(text));
  if (!id.ok()) {
    strata::fuzz::check_code(id.status(), {strata::StatusCode::kInvalidArgument});
    STRATA_FUZZ_CHECK(!id.status().message().empty());
    return 0;
  }
  STRATA_FUZZ_CHECK(id->view() == text);
  STRATA_FUZZ_CHECK(!text.empty() && text.size() <= strata::StreamId::kMaxBytes);
  const std::string_view category = id->category();
  STRATA_FUZZ_CHECK(category == text.substr(0, text.find('-')));
  strata::Result<strata::StreamId> again = strata::StreamId::parse(id->str());
  STRATA_FUZZ_CHECK(again.ok() && *again == *id);
  return 0;
}
