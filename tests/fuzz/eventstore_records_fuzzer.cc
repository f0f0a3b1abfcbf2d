// RocksEventStore's other values and its keys (eventstore/src/format.h). The first byte chooses the
// grammar, the rest is the value or key:
//   0 `streams` value    1 `events` value    2 `event_ids` value
//   3 `log` key          4 `events` key      5 `snapshots` key (the next byte is the stream id's length)
//
// Invariants: no decoder reads outside its input; a decoded value or key encodes back to bytes that
// decode to the same thing (keys, being fixed width, to exactly the input).
#include <cstdint>
#include <string>

#include "format.h"
#include "fuzz_check.h"

namespace {

namespace format = strata::detail::format;

void streams_value(std::string_view in) {
  format::StreamRecord r;
  if (!format::decode_stream_record(in, r)) return;
  STRATA_FUZZ_CHECK(r.number != 0);
  std::string out;
  format::encode_stream_record(r, out);
  format::StreamRecord back;
  STRATA_FUZZ_CHECK(format::decode_stream_record(out, back) && back.number == r.number && back.flags == r.flags);
}

void events_value(std::string_view in) {
  format::EventsEntry e;
  if (!format::decode_events_entry(in, e)) return;
  STRATA_FUZZ_CHECK(e.position != 0 && e.count != 0);
  std::string out;
  if (e.kind == format::kEventCopy) {
    STRATA_FUZZ_CHECK(e.count == 1);
    format::encode_copy_head(e.position, out);
    out += e.body;
    strata::EventView view;
    (void)format::decode_body(e.body, view);
  } else {
    STRATA_FUZZ_CHECK(e.kind == format::kEventRun);
    format::encode_run(e.position, e.count, out);
  }
  format::EventsEntry back;
  STRATA_FUZZ_CHECK(format::decode_events_entry(out, back));
  STRATA_FUZZ_CHECK(back.kind == e.kind && back.position == e.position && back.count == e.count && back.body == e.body);
}

void event_ids_value(std::string_view in) {
  strata::Position p = 0;
  if (!format::decode_event_id_value(in, p)) return;
  std::string out;
  format::encode_event_id_value(p, out);
  strata::Position back = 0;
  STRATA_FUZZ_CHECK(format::decode_event_id_value(out, back) && back == p);
}

void log_key(std::string_view in) {
  strata::Position p = 0;
  if (!format::decode_position_key(in, p)) return;
  const format::PositionKey k = format::position_key(p);
  STRATA_FUZZ_CHECK(std::string_view(k.data(), k.size()) == in);
}

void events_key(std::string_view in) {
  std::uint64_t number = 0;
  strata::Version version = 0;
  if (!format::decode_events_key(in, number, version)) return;
  const format::StreamVersionKey k = format::events_key(number, version);
  STRATA_FUZZ_CHECK(std::string_view(k.data(), k.size()) == in);
}

void snapshots_key(std::string_view in) {
  if (in.empty()) return;
  const std::size_t stream_size = static_cast<std::uint8_t>(in[0]);
  in.remove_prefix(1);
  strata::Version version = 0;
  std::uint64_t fingerprint = 0;
  std::uint32_t snapshot_version = 0;
  if (!format::decode_snapshot_key(in, stream_size, version, fingerprint, snapshot_version)) return;
  const std::string_view stream = in.substr(0, stream_size);
  const std::string k = format::snapshot_key(stream, version, fingerprint, snapshot_version);
  // The separator byte is not checked by the decoder (a key is only decoded within its stream's range).
  STRATA_FUZZ_CHECK(k.size() == in.size() && k.substr(0, stream_size) == stream &&
                    k.substr(stream_size + 1) == in.substr(stream_size + 1));
  STRATA_FUZZ_CHECK(format::snapshot_key_prefix(stream, version) == k.substr(0, stream_size + 9));
  STRATA_FUZZ_CHECK(format::snapshot_key_end(stream) > k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = strata::fuzz::bytes_of(data, size);
  if (in.empty()) return 0;
  const auto grammar = static_cast<std::uint8_t>(in[0]);
  in.remove_prefix(1);
  switch (grammar % 6) {
    case 0:
      streams_value(in);
      break;
    case 1:
      events_value(in);
      break;
    case 2:
      event_ids_value(in);
      break;
    case 3:
      log_key(in);
      break;
    case 4:
      events_key(in);
      break;
    case 5:
      snapshots_key(in);
      break;
  }
  return 0;
}
