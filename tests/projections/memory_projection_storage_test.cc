#include "strata/projections/memory_projection_storage.h"

#include "strata/projections/backend/projection_records.h"
#include "strata/projections/testing/crashing_projection_storage.h"

#include <doctest/doctest.h>

#include "conformance/projection_storage_conformance.h"

namespace {

struct MemoryStorageFixture {
  static constexpr bool kDurable = false;
  std::unique_ptr<strata::ProjectionStorage> open() { return std::make_unique<strata::MemoryProjectionStorage>(); }
};

}  // namespace

STRATA_PROJECTION_STORAGE_CONFORMANCE(MemoryStorageFixture)

TEST_CASE("a simulated crash loses the crash commit and every later one until restart") {
  using namespace strata;
  MemoryProjectionStorage memory;
  testing::CrashingProjectionStorage storage(memory);
  storage.crash_at_commit(2);
  ProjectionWriteBatch first("p");
  first.put(1, "m", "a", "1");
  first.set_state(std::nullopt, ProjectionState{1, 1, 0, 0});
  REQUIRE(storage.commit(first).ok());
  CHECK(!storage.crashed());

  ProjectionWriteBatch lost("p");
  lost.put(1, "m", "b", "2");
  lost.set_state(ProjectionState{1, 1, 0, 0}, ProjectionState{1, 2, 0, 0});
  CHECK(storage.commit(lost).code() == StatusCode::kIOError);
  CHECK(storage.crashed());
  CHECK(storage.wait_for_crash(std::chrono::milliseconds(0)));
  CHECK(storage.commit(lost).code() == StatusCode::kIOError);

  storage.restart();
  CHECK(!storage.crashed());
  CHECK(storage.load_state("p").value()->checkpoint == 1);
  CHECK(!storage.get("p", 1, "m", "b").value().has_value());
  REQUIRE(storage.commit(lost).ok());
  CHECK(storage.get("p", 1, "m", "b").value() == std::optional<std::string>("2"));
  CHECK(storage.commits() == 2);
}

TEST_CASE("the persisted encodings of state and parked events round-trip and reject damaged bytes") {
  using namespace strata;
  ProjectionState s{3, 42, 4, 17};
  CHECK(decode_projection_state(encode_projection_state(s)).value() == s);
  CHECK(decode_projection_state("short").status().code() == StatusCode::kCorruption);

  ParkedEvent p = conformance::parked_event(2, 9);
  std::string bytes = encode_parked_event(p);
  CHECK(decode_parked_event(bytes).value() == p);
  CHECK(decode_parked_event(bytes.substr(0, bytes.size() - 1)).status().code() == StatusCode::kCorruption);
  CHECK(decode_parked_event(bytes + "x").status().code() == StatusCode::kCorruption);

  const std::string encoded = encode_row_key(7, "accounts", "account-1");
  auto key = decode_row_key(encoded).value();
  CHECK(key.generation == 7);
  CHECK(key.model == "accounts");
  CHECK(key.key == "account-1");
  CHECK(decode_row_key("abc").status().code() == StatusCode::kCorruption);
}
