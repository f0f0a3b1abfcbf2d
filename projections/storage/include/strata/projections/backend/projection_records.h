// The persisted records of projection storage, in one place: every key and value a ProjectionStorage
// writes, as a grammar, with its encoder and decoder. MemoryProjectionStorage and the RocksDB storage of
// RocksEventStore write exactly these bytes (eventstore/FORMAT.md points here). For backend
// implementers; projections and queries never see them.
//
// Everything here is persisted. Never change an encoding incompatibly: add a format byte value, and
// teach the decoder to read the old one.
//
// Values (be64/be32: big-endian fixed width):
//   state    := format:u8 = 1  generation:be64  checkpoint:be64  shadow_generation:be64
//               shadow_checkpoint:be64
//   parked   := format:u8 = 1  generation:be64  attempts:be32  parked_at_us:be64  code:u8  message:str
//               stream:str  version:be64  position:be64  event_id:16 bytes  type:str  timestamp_us:be64
//               metadata:str (core's metadata encoding, backend/metadata_encoding.h)  payload:str
//   str      := length:be32  bytes{length}
//
// Keys within one projection:
//   row key  := generation:be64  model_length:u8  model{model_length}  key
//     rows of a generation, and of a read model within it, are contiguous and key-ordered, so a prefix
//     scan is one range and dropping a generation one range deletion.
//
// Keys of a store that keeps every projection in one ordered key space per record kind (the RocksDB
// families projection_state, projection_rows, projection_parked):
//   state key   := projection                                  1..255 bytes, any bytes
//   row key     := projection_length:u8  projection  row key (above)
//   parked key  := projection_length:u8  projection  generation:be64  position:be64
//     The length prefix keeps each projection's rows and parked events one contiguous range (no name
//     is a prefix of another's keys), each generation a range inside it, and a read model inside that.
//
//   std::string key = strata::projection_row_key(projection, strata::encode_row_key(g, "accounts", id));
//   STRATA_ASSIGN_OR_RETURN(strata::ProjectionState s, strata::decode_projection_state(bytes));
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/projections/projection_state.h"

namespace strata {

// ---- values ----

std::string encode_projection_state(const ProjectionState& state);
// kCorruption when `bytes` are not an encoded state (size, format byte, generation 0).
Result<ProjectionState> decode_projection_state(std::string_view bytes);

std::string encode_parked_event(const ParkedEvent& parked);
// kCorruption when `bytes` are truncated, have trailing bytes, or hold an impossible value.
Result<ParkedEvent> decode_parked_event(std::string_view bytes);

// ---- row keys within one projection ----

std::string encode_row_key(Generation generation, std::string_view model, std::string_view key);
// The same into `out` (replacing its contents, reusing its capacity).
void encode_row_key(std::string& out, Generation generation, std::string_view model, std::string_view key);
// The first key of (generation, model) rows whose key starts with `prefix`; every such row key starts
// with it.
std::string encode_row_prefix(Generation generation, std::string_view model, std::string_view prefix);
// The first 8 bytes of every row key of `generation`.
std::string encode_generation_prefix(Generation generation);
struct DecodedRowKey {
  Generation generation = 0;
  std::string_view model;
  std::string_view key;
};
// kCorruption when `row_key` is not an encoded row key; the views point into `row_key`.
Result<DecodedRowKey> decode_row_key(std::string_view row_key);

// ---- keys of one ordered key space per record kind ----

// projection_length:u8 projection: the start of every row and parked key of `projection`.
// REQUIRES: projection is 1..kMaxProjectionNameBytes bytes.
std::string projection_key_prefix(std::string_view projection);
// The start of every row key and parked key of `generation` of `projection`.
std::string projection_generation_prefix(std::string_view projection, Generation generation);
// The row key of `projection` for an encode_row_key() key.
std::string projection_row_key(std::string_view projection, std::string_view row_key);
// The parked key of (generation, position) of `projection`.
std::string projection_parked_key(std::string_view projection, Generation generation, Position position);

// The smallest key greater than every key that starts with `prefix`, or "" when there is none (the
// prefix is all 0xff bytes): the end of a range deletion or scan.
std::string prefix_successor(std::string_view prefix);

}  // namespace strata
