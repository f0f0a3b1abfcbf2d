// The on-disk format of RocksEventStore: column family names, keys and values, and their encoders and
// decoders. eventstore/FORMAT.md says the same in prose, with the measurements behind the layout.
//
// Everything here is persisted. Never rename a family or key, never renumber a kind byte, never
// change an encoding incompatibly: add a new kind, or raise kFormatVersion and teach open() to read
// the old one.
//
// Column families:
//   default    the format version
//   streams    one entry per stream: its internal number
//   events     each stream's events in version order: a copy of the event, or a run of log positions
//   log        every event, by global position: the source of truth, and what projections scan
//   event_ids  event id -> log position: durable idempotency
//   snapshots  aggregate snapshots
//   projection_state   per projection: its state (generations, checkpoints)
//   projection_rows    per projection: its read-model rows, by generation and read model
//   projection_parked  per projection: its parked (dead-lettered) events, by generation and position
//   subject_keys       per subject of personal data: its key, or that it was forgotten
//   (The three projection families were added after format version 1 without raising it: open()
//   creates them when missing, and a store without them simply has no projections.)
//
// Grammar (be64/be32: big-endian fixed width; varint: unsigned LEB128, at most 10 bytes):
//
//   default:    "strata.format_version" -> version:be32
//               "strata.stream_number_floor" -> number:be64   (written by deletes and truncations: the
//                 next new stream's number is at least this, though the streams that had the highest
//                 numbers may have no `events` entry left)
//
//   streams:    key   := stream_id                              1..128 bytes of [A-Za-z0-9_.:-]
//               value := kind:u8 = 1  number:varint  flags:varint  [life]
//                 number  the stream's internal number: 1, 2, 3... in order of creation, never reused
//                 flags   bit 0 (kHasLife): `life` follows; other bits reserved (0)
//                 life    := state:varint  head:varint  first_version:varint  origin:varint
//                            state 0 live, 1 deleted, 2 hard deleted (strata::StreamState); head the
//                            stream's head when the record was last written; first_version and origin
//                            as StreamInfo says
//                 Written by the append that creates the stream, and rewritten by deletes, truncations
//                 and the append that recreates a deleted stream. The head is not kept up to date here:
//                 it is the last entry of the stream in `events` (or `life`'s head, if higher: a delete
//                 or truncation may have removed every entry), so appends to an existing stream write
//                 nothing to this family (a rewritten record per append cost a random memtable insert).
//
//   events:     key   := number:be64  version:be64
//               value := kind:u8 = 1  position:varint  body     a copy: the event at `version`
//                      | kind:u8 = 2  first_position:varint  count:varint
//                                                               a run: versions version .. version+count-1
//                                                               are log positions first_position .. +count-1
//                 An append of fewer than kCopyBelow events writes a copy per event, a larger one a
//                 single run (an append's events have consecutive versions and positions).
//
//   log:        key   := position:be64
//               value := kind:u8 = 1  stream_id_length:varint  stream_id  version:varint  body
//                      | kind:u8 = 2  stream_id_length:varint  stream_id  version:varint  event_id:16
//                                                               a tombstone: the event was removed (hard
//                                                               delete, truncation); readers pass over it
//
//   body        := event_id:16  timestamp:be64  type_length:varint  type  metadata_length:varint
//                  metadata  payload
//                    timestamp  commit time, microseconds since the Unix epoch, two's complement
//                    metadata   strata's metadata encoding (core event.cc), empty when there is none
//                    payload    the JSON bytes: the rest of the value
//
//   event_ids:  key   := event_id:16
//               value := position:varint
//
//   snapshots:  key   := stream_id  0x00  version:be64  fingerprint:be64  snapshot_version:be32
//                 0x00 sorts before any id byte, so a stream's snapshots are contiguous, in version order;
//                 fingerprint and snapshot_version are the schema the state was written as, so
//                 snapshots of several schemas coexist (two builds in a rolling deployment).
//                 Keys of the first layout, `stream_id 0x00 version:be64` (one snapshot per version),
//                 are passed over by reads and deleted by the next retention of the stream: snapshots
//                 are a cache, so nothing is lost but a replay.
//               value := core's snapshot encoding (core snapshot.cc); its fingerprint and snapshot
//                 version must equal the key's
//
//   subject_keys: key   := subject                              1..256 bytes
//               value := kind:u8 = 1  key:32                    the subject's XChaCha20-Poly1305 key
//                      | kind:u8 = 2                            forgotten: the key was destroyed
//                 Added after format version 1 without raising it: open() creates the family.
//
//   projection_state, projection_rows, projection_parked: the state keys, row keys and parked keys of
//     "one ordered key space per record kind", with their values, exactly as
//     projections/storage/include/strata/projections/backend/projection_records.h defines them (the
//     one home of every projection record).
//
// Thread safety: functions of their arguments only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "strata/core/backend/encoding.h"
#include "strata/core/event.h"
#include "strata/core/event_id.h"
#include "strata/core/position.h"

namespace strata::detail::format {

// Column family names.
inline constexpr std::string_view kStreamsFamily = "streams";
inline constexpr std::string_view kEventsFamily = "events";
inline constexpr std::string_view kLogFamily = "log";
inline constexpr std::string_view kEventIdsFamily = "event_ids";
inline constexpr std::string_view kSnapshotsFamily = "snapshots";
inline constexpr std::string_view kProjectionStateFamily = "projection_state";
inline constexpr std::string_view kProjectionRowsFamily = "projection_rows";
inline constexpr std::string_view kProjectionParkedFamily = "projection_parked";
inline constexpr std::string_view kSubjectKeysFamily = "subject_keys";

// The key of the format version in the default family.
inline constexpr std::string_view kFormatVersionKey = "strata.format_version";

// Kind bytes.
inline constexpr std::uint8_t kStreamRecord = 1;
inline constexpr std::uint8_t kEventCopy = 1;
inline constexpr std::uint8_t kEventRun = 2;
inline constexpr std::uint8_t kLogRecord = 1;
inline constexpr std::uint8_t kLogTombstone = 2;
// `default`: the lowest number the next new stream may take, written by removals that may delete
// every `events` entry of the highest-numbered stream (recovery takes the higher of it and the last
// `events` key's number + 1). be64.
inline constexpr std::string_view kStreamNumberFloorKey = "strata.stream_number_floor";
// `default`: the categories that ever had a retention policy, one per line (rocks_retention.h).
inline constexpr std::string_view kRetainedCategoriesKey = "strata.retained_categories";
// `default`: present once every snapshot key has its copy of the newest (snapshot_latest_key); a load
// of a stream's head that finds no copy then knows there is no snapshot. Written at the first open
// that makes the copies of older snapshots. Value: empty.
inline constexpr std::string_view kSnapshotCopiesKey = "strata.snapshot_copies";
// subject_keys value kinds.
inline constexpr std::uint8_t kSubjectKey = 1;
inline constexpr std::uint8_t kSubjectForgotten = 2;
// Stream record flags.
inline constexpr std::uint64_t kHasLife = 1;

// Appends of fewer events than this copy their events into `events`; see FORMAT.md for the figures.
inline constexpr std::size_t kCopyBelow = 16;

// ---- fixed-width and varint primitives ----

using encoding::get_be;
using encoding::get_varint;
using encoding::put_be;
using encoding::put_varint;

// Reads `length:varint bytes{length}` from the front of `in`.
inline bool get_length_prefixed(std::string_view& in, std::string_view& out) noexcept {
  std::uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// ---- keys ----

using PositionKey = std::array<char, 8>;
using StreamVersionKey = std::array<char, 16>;

inline PositionKey position_key(Position p) noexcept {
  PositionKey k;
  put_be(k.data(), p.value(), 8);
  return k;
}
inline bool decode_position_key(std::string_view key, Position& p) noexcept {
  if (key.size() != 8) return false;
  p = get_be(key.data(), 8);
  return true;
}

inline StreamVersionKey events_key(std::uint64_t number, Version version) noexcept {
  StreamVersionKey k;
  put_be(k.data(), number, 8);
  put_be(k.data() + 8, version.value(), 8);
  return k;
}
inline bool decode_events_key(std::string_view key, std::uint64_t& number, Version& version) noexcept {
  if (key.size() != 16) return false;
  number = get_be(key.data(), 8);
  version = get_be(key.data() + 8, 8);
  return true;
}

inline constexpr std::size_t kSnapshotKeySuffix = 1 + 8 + 8 + 4;

inline std::string snapshot_key(std::string_view stream, Version version, std::uint64_t fingerprint,
                                std::uint32_t snapshot_version) {
  std::string k(stream);
  k += '\0';
  put_be(k, version.value(), 8);
  put_be(k, fingerprint, 8);
  put_be(k, snapshot_version, 4);
  return k;
}
// The first key of `stream`'s snapshots at `version` (of any schema).
inline std::string snapshot_key_prefix(std::string_view stream, Version version) {
  std::string k(stream);
  k += '\0';
  put_be(k, version.value(), 8);
  return k;
}
// Decodes the version and schema of a snapshot key of `stream` (the key starts with `stream` 0x00);
// false for a key of the first layout or a damaged one.
inline bool decode_snapshot_key(std::string_view key, std::size_t stream_size, Version& version,
                                std::uint64_t& fingerprint, std::uint32_t& snapshot_version) noexcept {
  if (key.size() != stream_size + kSnapshotKeySuffix) return false;
  const char* p = key.data() + stream_size + 1;
  version = get_be(p, 8);
  fingerprint = get_be(p + 8, 8);
  snapshot_version = static_cast<std::uint32_t>(get_be(p + 16, 4));
  return true;
}
// The key of the copy of `stream`'s newest snapshot of a schema, which a load of the head reads with
// one Get: a snapshot key at the largest version with one byte more, so that it sorts after the
// stream's snapshots and decode_snapshot_key passes it over.
inline constexpr char kSnapshotLatestTag = 'L';
inline std::string snapshot_latest_key(std::string_view stream, std::uint64_t fingerprint,
                                       std::uint32_t snapshot_version) {
  std::string k = snapshot_key(stream, Version(~std::uint64_t{0}), fingerprint, snapshot_version);
  k += kSnapshotLatestTag;
  return k;
}
// Decodes the schema of a key of snapshot_latest_key's layout for `stream` (the key starts with
// `stream` 0x00); false for any other key.
inline bool decode_snapshot_latest_key(std::string_view key, std::size_t stream_size, std::uint64_t& fingerprint,
                                       std::uint32_t& snapshot_version) noexcept {
  if (key.size() != stream_size + kSnapshotKeySuffix + 1 || key.back() != kSnapshotLatestTag) return false;
  const char* p = key.data() + stream_size + 1;
  if (get_be(p, 8) != ~std::uint64_t{0}) return false;
  fingerprint = get_be(p + 8, 8);
  snapshot_version = static_cast<std::uint32_t>(get_be(p + 16, 4));
  return true;
}
// The first key after every snapshot key of `stream`.
inline std::string snapshot_key_end(std::string_view stream) {
  std::string k(stream);
  k += '\x01';
  return k;
}

// ---- streams ----

struct StreamRecord {
  std::uint64_t number = 0;
  std::uint64_t flags = 0;
  // When flags has kHasLife:
  std::uint64_t state = 0;  // strata::StreamState
  std::uint64_t head = 0;
  std::uint64_t first_version = 1;
  std::uint64_t origin = 1;
};

inline void encode_stream_record(const StreamRecord& r, std::string& out) {
  out += static_cast<char>(kStreamRecord);
  put_varint(out, r.number);
  put_varint(out, r.flags);
  if ((r.flags & kHasLife) != 0) {
    put_varint(out, r.state);
    put_varint(out, r.head);
    put_varint(out, r.first_version);
    put_varint(out, r.origin);
  }
}

inline bool decode_stream_record(std::string_view in, StreamRecord& r) noexcept {
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != kStreamRecord) return false;
  in.remove_prefix(1);
  if (!get_varint(in, r.number) || !get_varint(in, r.flags) || r.number == 0 || (r.flags & ~kHasLife) != 0)
    return false;
  if ((r.flags & kHasLife) == 0) return in.empty();
  return get_varint(in, r.state) && get_varint(in, r.head) && get_varint(in, r.first_version) &&
         get_varint(in, r.origin) && in.empty() && r.state <= 2 && r.first_version >= 1 && r.origin >= 1 &&
         r.origin <= r.first_version && r.first_version <= r.head + 1;
}

// ---- bodies, copies and log records ----

// Appends everything of `body` but the payload; the payload follows it as the rest of the value, so
// that a WriteBatch can take it as a separate slice (the payload is copied once, into the batch).
inline void encode_body_head(const EventId& id, Timestamp timestamp, std::string_view type,
                             std::string_view encoded_metadata, std::string& out) {
  out.append(id.as_bytes());
  char ts[8];
  put_be(ts, static_cast<std::uint64_t>(timestamp.time_since_epoch().count()), 8);
  out.append(ts, 8);
  put_varint(out, type.size());
  out += type;
  put_varint(out, encoded_metadata.size());
  out += encoded_metadata;
}

inline void encode_copy_head(Position position, std::string& out) {
  out += static_cast<char>(kEventCopy);
  put_varint(out, position.value());
}

inline void encode_run(Position first_position, std::uint64_t count, std::string& out) {
  out += static_cast<char>(kEventRun);
  put_varint(out, first_position.value());
  put_varint(out, count);
}

inline void encode_log_head(std::string_view stream, Version version, std::string& out) {
  out += static_cast<char>(kLogRecord);
  put_varint(out, stream.size());
  out += stream;
  put_varint(out, version.value());
}

// Decodes a body into `view`'s id, timestamp, type, encoded_metadata and payload (views into `in`).
inline bool decode_body(std::string_view in, EventView& view) noexcept {
  if (in.size() < 24) return false;
  std::array<std::uint8_t, 16> id;
  std::memcpy(id.data(), in.data(), 16);
  view.id = EventId(id);
  view.timestamp = Timestamp(std::chrono::microseconds(static_cast<std::int64_t>(get_be(in.data() + 16, 8))));
  in.remove_prefix(24);
  if (!get_length_prefixed(in, view.type) || !get_length_prefixed(in, view.encoded_metadata)) return false;
  view.payload = in;
  return true;
}

// One entry of `events`. Its key's version `first` and its `position` are where the same event stands
// in its stream and in the log; the entry's `count` events are consecutive in both, so version
// first + i is position position + i.
struct EventsEntry {
  std::uint8_t kind = 0;
  // kEventCopy: the event's position; kEventRun: the first position.
  Position position = 0;
  // kEventRun: the number of events in the run; kEventCopy: 1.
  std::uint64_t count = 0;
  // kEventCopy: the body.
  std::string_view body;

  // The version of the entry's last event, `first` being its key's version.
  Version last_version(Version first) const noexcept { return first + (count - 1); }
  // The log position of version `v`. REQUIRES: first <= v <= last_version(first).
  Position position_of(Version first, Version v) const noexcept { return position + (v - first); }
};

inline bool decode_events_entry(std::string_view in, EventsEntry& e) noexcept {
  if (in.empty()) return false;
  e.kind = static_cast<std::uint8_t>(in[0]);
  in.remove_prefix(1);
  std::uint64_t position = 0;
  if (!get_varint(in, position) || position == 0) return false;
  e.position = position;
  if (e.kind == kEventCopy) {
    e.count = 1;
    e.body = in;
    return true;
  }
  if (e.kind == kEventRun) return get_varint(in, e.count) && e.count != 0 && in.empty();
  return false;
}

// Decodes a log value into `view`'s stream id and version (and body); `view.position` is the key's.
inline bool decode_log_record(std::string_view in, EventView& view) noexcept {
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != kLogRecord) return false;
  in.remove_prefix(1);
  std::uint64_t version = 0;
  if (!get_length_prefixed(in, view.stream_id) || !get_varint(in, version)) return false;
  view.version = version;
  return decode_body(in, view);
}

// A tombstone: the stream, version and id of a removed event, nothing else.
inline void encode_log_tombstone(std::string_view stream, Version version, const EventId& id, std::string& out) {
  out += static_cast<char>(kLogTombstone);
  put_varint(out, stream.size());
  out += stream;
  put_varint(out, version.value());
  out.append(id.as_bytes());
}

inline bool is_log_tombstone(std::string_view in) noexcept {
  return !in.empty() && static_cast<std::uint8_t>(in[0]) == kLogTombstone;
}

// Decodes a tombstone into `view`'s stream id, version and id (nothing else is set).
inline bool decode_log_tombstone(std::string_view in, EventView& view) noexcept {
  if (!is_log_tombstone(in)) return false;
  in.remove_prefix(1);
  std::uint64_t version = 0;
  if (!get_length_prefixed(in, view.stream_id) || !get_varint(in, version) || in.size() != 16) return false;
  view.version = version;
  std::array<std::uint8_t, 16> id;
  std::memcpy(id.data(), in.data(), 16);
  view.id = EventId(id);
  return true;
}

// The stream, version and id of a log value, an event or a tombstone alike.
inline bool decode_log_identity(std::string_view in, EventView& view) noexcept {
  return is_log_tombstone(in) ? decode_log_tombstone(in, view) : decode_log_record(in, view);
}

// ---- event ids ----

// An event_ids value: the log position of the event with that id.
inline void encode_event_id_value(Position position, std::string& out) { put_varint(out, position.value()); }
inline bool decode_event_id_value(std::string_view in, Position& position) noexcept {
  std::uint64_t p = 0;
  if (!get_varint(in, p) || !in.empty()) return false;
  position = p;
  return true;
}

// Only the stream id and type of a log value, for filtering before anything else is decoded.
inline bool peek_log_record(std::string_view in, std::string_view& stream, std::string_view& type) noexcept {
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != kLogRecord) return false;
  in.remove_prefix(1);
  std::uint64_t version;
  if (!get_length_prefixed(in, stream) || !get_varint(in, version) || in.size() < 24) return false;
  in.remove_prefix(24);
  return get_length_prefixed(in, type);
}

}  // namespace strata::detail::format
