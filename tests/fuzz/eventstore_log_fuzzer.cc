// RocksEventStore's `log` values (eventstore/src/format.h): decode_log_record, peek_log_record,
// decode_body and decode_log_tombstone of arbitrary bytes, then the event's metadata as a reader decodes
// it.
//
// Invariants: no decoder reads outside the value; a decoded record's views lie inside it; peek agrees
// with a full decode; a decoded record encodes back to a value that decodes to the same event; metadata
// fails only with kCorruption.
#include <cstdint>
#include <string>

#include "format.h"
#include "fuzz_check.h"

namespace {

namespace format = strata::detail::format;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool same_event(const strata::EventView& a, const strata::EventView& b) {
  return a.stream_id == b.stream_id && a.version == b.version && a.id == b.id && a.type == b.type &&
         a.timestamp == b.timestamp && a.encoded_metadata == b.encoded_metadata && a.payload == b.payload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value = strata::fuzz::bytes_of(data, size);

  strata::EventView body;
  if (format::decode_body(value, body)) {
    STRATA_FUZZ_CHECK(inside(body.type, value) && inside(body.encoded_metadata, value) && inside(body.payload, value));
  }

  strata::EventView tombstone;
  if (format::decode_log_tombstone(value, tombstone)) {
    STRATA_FUZZ_CHECK(inside(tombstone.stream_id, value));
    std::string encoded;
    format::encode_log_tombstone(tombstone.stream_id, tombstone.version, tombstone.id, encoded);
    STRATA_FUZZ_CHECK(encoded.size() <= value.size());
    strata::EventView back;
    STRATA_FUZZ_CHECK(format::decode_log_tombstone(encoded, back) && back.stream_id == tombstone.stream_id &&
                      back.version == tombstone.version && back.id == tombstone.id);
    STRATA_FUZZ_CHECK(!format::decode_log_record(value, back));
  }

  strata::EventView view;
  std::string_view peeked_stream, peeked_type;
  const bool peeked = format::peek_log_record(value, peeked_stream, peeked_type);
  if (!format::decode_log_record(value, view)) return 0;
  STRATA_FUZZ_CHECK(peeked && peeked_stream == view.stream_id && peeked_type == view.type);
  STRATA_FUZZ_CHECK(inside(view.stream_id, value) && inside(view.type, value) && inside(view.encoded_metadata, value) &&
                    inside(view.payload, value));

  strata::fuzz::check_code(view.metadata().status(), {strata::StatusCode::kCorruption});
  strata::fuzz::check_code(view.to_recorded().status(), {strata::StatusCode::kCorruption});

  std::string encoded;
  format::encode_log_head(view.stream_id, view.version, encoded);
  format::encode_body_head(view.id, view.timestamp, view.type, view.encoded_metadata, encoded);
  encoded += view.payload;
  STRATA_FUZZ_CHECK(encoded.size() <= value.size());
  strata::EventView back;
  STRATA_FUZZ_CHECK(format::decode_log_record(encoded, back));
  STRATA_FUZZ_CHECK(same_event(back, view));
  return 0;
}
