// MemoryProjectionStorage: a ProjectionStorage held in memory, for tests, samples and the in-memory
// demo. It implements the whole contract of projection_storage.h (atomic commits with a compare-and-set
// on the state, generations, parked events) and passes the same conformance suite as the durable
// storage; it keeps nothing across process restarts. It keeps every record in its persisted encoding
// (backend/projection_records.h), as a durable storage does. To simulate crashes in tests, wrap it in a
// testing::CrashingProjectionStorage (testing/crashing_projection_storage.h).
//
//   strata::MemoryEventStore store;
//   strata::MemoryProjectionStorage storage;
//   strata::Projector projector(store, storage, Balances{});
//
// Thread safety: every method may be called concurrently (one mutex; scans copy nothing but hold it
// shared, so visitors must not call back into the storage).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/projections/projection_storage.h"

namespace strata {

class MemoryProjectionStorage final : public ProjectionStorage {
 public:
  MemoryProjectionStorage();
  ~MemoryProjectionStorage() override;

  [[nodiscard]] Result<std::optional<ProjectionState>> load_state(std::string_view projection) override;
  [[nodiscard]] Status commit(const ProjectionWriteBatch& batch) override;
  [[nodiscard]] Result<std::optional<std::string>> get(std::string_view projection, Generation generation,
                                                       std::string_view model, std::string_view key) override;
  [[nodiscard]] Status scan(std::string_view projection, Generation generation, std::string_view model,
                            std::string_view prefix, const ScanOptions& options, RowVisitor visitor) override;
  [[nodiscard]] Result<std::vector<ParkedEvent>> list_parked(std::string_view projection, Generation generation,
                                                             Position after, std::size_t max_count) override;
  [[nodiscard]] Result<std::optional<ParkedEvent>> get_parked(std::string_view projection, Generation generation,
                                                              Position position) override;
  [[nodiscard]] Result<std::vector<std::string>> list_projections() override;
  [[nodiscard]] Status drop_projection(std::string_view projection) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
