// Projection storage's state values and row keys (projections/storage/.../backend/projection_records.h).
// The first byte chooses the grammar: even, a state value; odd, a row key (of one projection, and with
// the projection prefix that a store keeping every projection in one key space puts before it).
//
// Invariants: decoders fail only with kCorruption; a decoded state or row key encodes to exactly the
// input (both are fixed width or length-prefixed: one spelling each); prefixes and successors order as
// the range scans and deletions built on them need.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/projections/backend/projection_records.h"

namespace {

using strata::StatusCode;

void state(std::string_view in) {
  strata::Result<strata::ProjectionState> s = strata::decode_projection_state(in);
  strata::fuzz::check_code(s.status(), {StatusCode::kCorruption});
  if (!s.ok()) return;
  STRATA_FUZZ_CHECK(s->generation != 0);
  STRATA_FUZZ_CHECK(strata::encode_projection_state(*s) == in);
}

// Whether every key that starts with `prefix` sorts before `successor` ("" : no end).
bool ends_range(std::string_view prefix, std::string_view successor) {
  if (successor.empty()) return prefix.find_first_not_of('\xff') == std::string_view::npos;
  return std::string(prefix) < successor && std::string(prefix) + std::string(8, '\xff') < successor;
}

void row_key(std::string_view in) {
  strata::Result<strata::DecodedRowKey> k = strata::decode_row_key(in);
  strata::fuzz::check_code(k.status(), {StatusCode::kCorruption});
  if (!k.ok()) return;
  STRATA_FUZZ_CHECK(!k->model.empty() && k->model.size() <= strata::kMaxReadModelNameBytes);
  STRATA_FUZZ_CHECK(strata::encode_row_key(k->generation, k->model, k->key) == in);
  const std::string prefix = strata::encode_row_prefix(k->generation, k->model, {});
  STRATA_FUZZ_CHECK(in.substr(0, prefix.size()) == prefix);
  STRATA_FUZZ_CHECK(in.substr(0, 8) == strata::encode_generation_prefix(k->generation));
  STRATA_FUZZ_CHECK(ends_range(prefix, strata::prefix_successor(prefix)));

  // The same key of a projection named by the model's bytes, in a key space shared by all projections.
  const std::string_view projection = k->model;
  const std::string shared = strata::projection_row_key(projection, in);
  STRATA_FUZZ_CHECK(shared.substr(0, 1 + projection.size()) == strata::projection_key_prefix(projection));
  const std::string generation = strata::projection_generation_prefix(projection, k->generation);
  STRATA_FUZZ_CHECK(shared.substr(0, generation.size()) == generation);
  STRATA_FUZZ_CHECK(ends_range(generation, strata::prefix_successor(generation)));
  const std::string_view shared_view = shared;
  strata::Result<strata::DecodedRowKey> inner = strata::decode_row_key(shared_view.substr(1 + projection.size()));
  STRATA_FUZZ_CHECK(inner.ok() && inner->generation == k->generation && inner->model == k->model &&
                    inner->key == k->key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = strata::fuzz::bytes_of(data, size);
  if (in.empty()) return 0;
  const bool is_state = (static_cast<std::uint8_t>(in[0]) & 1) == 0;
  in.remove_prefix(1);
  if (is_state) {
    state(in);
  } else {
    row_key(in);
  }
  return 0;
}
