// MemoryProjectionStorage: a ProjectionStorage held in memory, for tests, samples and the in-memory
// demo. It implements the whole contract of projection_storage.h (atomic commits with a compare-and-set
// on the state, generations, parked events) and passes the same conformance suite as the durable
// storage; it keeps nothing across process restarts.
//
// For tests it can simulate a crash: after crash_at_commit(n), the n-th commit from then on and every
// commit after it fail with kIOError and write nothing, as if the process had died before they reached
// the disk; restart() ends the crash, as reopening the storage would.
//
//   strata::MemoryEventStore store;
//   strata::MemoryProjectionStorage storage;
//   strata::Projector projector(store, storage, Balances{});
//
// Thread safety: every method may be called concurrently (one mutex; scans copy nothing but hold it
// shared, so visitors must not call back into the storage).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/projection_storage.h"

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

  // Crash simulation. crash_at_commit(1) makes the next commit and all later ones fail with kIOError
  // and write nothing; crash_at_commit(3) lets two more commits through first. REQUIRES: n >= 1.
  void crash_at_commit(std::uint64_t n);
  // Ends a simulated crash: commits succeed again. What was committed before the crash is all there is.
  void restart();
  // Whether a simulated crash is in effect (the crash commit was reached).
  bool crashed() const;
  // Waits until the crash commit is reached; false when `timeout` passes first.
  bool wait_for_crash(std::chrono::milliseconds timeout) const;
  // How many commits succeeded since construction.
  std::uint64_t commits() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
