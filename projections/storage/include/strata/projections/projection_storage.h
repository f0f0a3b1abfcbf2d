// ProjectionStorage: where projections keep what they derive from the log — per projection, its state
// (checkpoints and read-model generations), its read-model rows, and its parked (dead-lettered) events —
// changed atomically, one ProjectionWriteBatch (projection_write_batch.h) at a time.
//
// A projection applies a batch of events by writing rows into a ProjectionWriteBatch and then commits the
// rows together with its new checkpoint in one commit() — all of it or nothing — so the effect of each
// event is applied exactly once across crashes. Reads through the batch see the batch's own writes
// (read-your-writes), so the second event of a batch sees what the first one wrote.
//
// Read models are addressed through a generation. The state names the serving generation and its
// checkpoint; a rebuild fills a shadow generation from position 1 while the serving one keeps answering
// queries, then one commit makes the shadow serve and drops the old generation.
//
//   strata::ProjectionWriteBatch batch("bank.balances");
//   batch.put(state.generation, "accounts", "account-42", R"({"cents":700})");
//   strata::ProjectionState next = state;
//   next.checkpoint = 1234;
//   batch.set_state(state, next);                          // compare-and-set on the stored state
//   STRATA_RETURN_IF_ERROR(storage.commit(batch));
//   auto row = storage.get("bank.balances", strata::kServingGeneration, "accounts", "account-42");
//
// Implementations: MemoryProjectionStorage (memory_projection_storage.h, for tests and samples) and
// RocksEventStore::projection_storage(), which keeps everything in the event store's own database and
// commits each batch as one RocksDB WriteBatch. Every implementation passes
// tests/conformance/projection_storage_conformance.h; backend/projection_records.h holds the persisted
// encodings they share.
//
// Thread safety: ProjectionStorage methods may be called concurrently from any thread; a visitor must
// not call back into the same storage.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/projections/projection_state.h"
#include "strata/projections/projection_write_batch.h"

namespace strata {

class ProjectionStorage {
 public:
  virtual ~ProjectionStorage();
  ProjectionStorage() = default;
  ProjectionStorage(const ProjectionStorage&) = delete;
  ProjectionStorage& operator=(const ProjectionStorage&) = delete;

  // The stored state of `projection`, or std::nullopt when it has never committed one.
  // Fails with kIOError / kUnavailable / kCorruption from the backend.
  [[nodiscard]] virtual Result<std::optional<ProjectionState>> load_state(std::string_view projection) = 0;

  // Applies every change of `batch` atomically: after a crash either all of it is visible or none.
  // Fails with, and then writes nothing:
  //   kWrongExpectedVersion  the batch has a state change and the stored state is not the expected one
  //                          (another projector under the same name moved it; the message names both);
  //   kInvalidArgument       an empty or too long projection or read-model name, or generation 0 in a row
  //                          write, a parked event or drop_generation();
  //   kIOError / kUnavailable the backend failed (the RocksDB implementation then refuses writes until
  //                          reopened, as the event store does).
  [[nodiscard]] virtual Status commit(const ProjectionWriteBatch& batch) = 0;

  // Row `key` of read model `model` in `generation` (kServingGeneration: the generation serving when the
  // read happens), or std::nullopt when there is none (also when the projection does not exist).
  [[nodiscard]] virtual Result<std::optional<std::string>> get(std::string_view projection, Generation generation,
                                                               std::string_view model, std::string_view key) = 0;

  // Calls `visitor` for each row of `model` in `generation` whose key starts with `prefix`, in byte
  // order of the key, honouring `options`; all rows come from one consistent view (one generation, one
  // point in time). Returns OK or the first non-OK status of the visitor.
  [[nodiscard]] virtual Status scan(std::string_view projection, Generation generation, std::string_view model,
                                    std::string_view prefix, const ScanOptions& options, RowVisitor visitor) = 0;

  // Up to `max_count` parked events of `generation` (kServingGeneration: the serving one) with position
  // after `after`, in position order.
  [[nodiscard]] virtual Result<std::vector<ParkedEvent>> list_parked(std::string_view projection, Generation generation,
                                                                     Position after, std::size_t max_count) = 0;

  // The parked event of `generation` (kServingGeneration: the serving one) at `position`, or
  // std::nullopt.
  [[nodiscard]] virtual Result<std::optional<ParkedEvent>> get_parked(std::string_view projection,
                                                                      Generation generation, Position position) = 0;

  // The names of every projection with a stored state, in byte order.
  [[nodiscard]] virtual Result<std::vector<std::string>> list_projections() = 0;

  // Removes everything of `projection`: state, rows of every generation, parked events. OK when it does
  // not exist. REQUIRES: no projector is running under that name.
  [[nodiscard]] virtual Status drop_projection(std::string_view projection) = 0;
};

}  // namespace strata
