// Event metadata in its persisted encoding (core/src/event.cc): decode_metadata of arbitrary bytes, and
// the same bytes lent to a reader as an EventView's encoded metadata.
//
// Invariants: decoding fails only with kCorruption; decoded metadata encodes to encoded_metadata_size()
// bytes that decode to equal metadata; EventView::metadata() and to_recorded() agree with decode_metadata.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/core/event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::StatusCode;
  const std::string_view bytes = strata::fuzz::bytes_of(data, size);

  strata::Metadata metadata;
  strata::Status s = strata::decode_metadata(bytes, metadata);
  strata::fuzz::check_code(s, {StatusCode::kCorruption});

  strata::EventView view;
  view.stream_id = "fuzz-1";
  view.type = "fuzz.event.v1";
  view.encoded_metadata = bytes;
  strata::Result<strata::Metadata> lent = view.metadata();
  strata::Result<strata::RecordedEvent> recorded = view.to_recorded();
  STRATA_FUZZ_CHECK(lent.ok() == s.ok() && recorded.ok() == s.ok());
  if (!s.ok()) return 0;
  STRATA_FUZZ_CHECK(*lent == metadata && recorded->metadata == metadata);

  std::string encoded;
  strata::encode_metadata(metadata, encoded);
  STRATA_FUZZ_CHECK(encoded.size() == strata::encoded_metadata_size(metadata));
  STRATA_FUZZ_CHECK(encoded.size() <= bytes.size());
  strata::Metadata back;
  STRATA_FUZZ_CHECK(strata::decode_metadata(encoded, back).ok());
  STRATA_FUZZ_CHECK(back == metadata);
  return 0;
}
