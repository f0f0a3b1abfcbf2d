// testing::CrashingProjectionStorage: wraps a ProjectionStorage and simulates the process dying at a
// chosen commit, for tests of exactly-once projection. After crash_at_commit(n), the n-th commit from
// then on and every commit (and drop) after it fail with kIOError and write nothing, as if the process
// had died before they reached the disk; restart() ends the crash, as reopening the storage would.
// Reads pass through unchanged.
//
//   strata::MemoryProjectionStorage memory;
//   strata::testing::CrashingProjectionStorage storage(memory);
//   strata::Projector projector(store, storage, Balances{});
//   storage.crash_at_commit(3);
//   storage.wait_for_crash(std::chrono::seconds(5));
//   storage.restart();
//
// Thread safety: every method may be called concurrently. REQUIRES: the wrapped storage outlives this.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/projections/projection_storage.h"

namespace strata::testing {

class CrashingProjectionStorage final : public ProjectionStorage {
 public:
  explicit CrashingProjectionStorage(ProjectionStorage& inner) : inner_(inner) {}

  // crash_at_commit(1) makes the next commit and all later ones fail; crash_at_commit(3) lets two more
  // commits through first. REQUIRES: n >= 1.
  void crash_at_commit(std::uint64_t n) {
    std::lock_guard lock(mu_);
    countdown_ = n;
  }
  // Ends a simulated crash: commits succeed again. What was committed before the crash is all there is.
  void restart() {
    std::lock_guard lock(mu_);
    countdown_ = 0;
    crashed_ = false;
  }
  // Whether the crash commit was reached.
  bool crashed() const {
    std::lock_guard lock(mu_);
    return crashed_;
  }
  // Waits until the crash commit is reached; false when `timeout` passes first.
  bool wait_for_crash(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return crash_cv_.wait_for(lock, timeout, [&] { return crashed_; });
  }
  // How many commits reached the wrapped storage and succeeded.
  std::uint64_t commits() const {
    std::lock_guard lock(mu_);
    return commits_;
  }

  [[nodiscard]] Status commit(const ProjectionWriteBatch& batch) override {
    // Held across the inner commit, so that no commit slips through after a crash is reached.
    std::lock_guard lock(mu_);
    if (countdown_ > 0 && --countdown_ == 0) {
      crashed_ = true;
      crash_cv_.notify_all();
    }
    if (crashed_)
      return Status::io_error("projection \"" + batch.projection() + "\": commit lost in a simulated crash");
    Status s = inner_.commit(batch);
    if (s.ok()) ++commits_;
    return s;
  }
  [[nodiscard]] Status drop_projection(std::string_view projection) override {
    std::lock_guard lock(mu_);
    if (crashed_)
      return Status::io_error("projection \"" + std::string(projection) + "\": drop lost in a simulated crash");
    return inner_.drop_projection(projection);
  }

  [[nodiscard]] Result<std::optional<ProjectionState>> load_state(std::string_view projection) override {
    return inner_.load_state(projection);
  }
  [[nodiscard]] Result<std::optional<std::string>> get(std::string_view projection, Generation generation,
                                                       std::string_view model, std::string_view key) override {
    return inner_.get(projection, generation, model, key);
  }
  [[nodiscard]] Status scan(std::string_view projection, Generation generation, std::string_view model,
                            std::string_view prefix, const ScanOptions& options, RowVisitor visitor) override {
    return inner_.scan(projection, generation, model, prefix, options, visitor);
  }
  [[nodiscard]] Result<std::vector<ParkedEvent>> list_parked(std::string_view projection, Generation generation,
                                                             Position after, std::size_t max_count) override {
    return inner_.list_parked(projection, generation, after, max_count);
  }
  [[nodiscard]] Result<std::optional<ParkedEvent>> get_parked(std::string_view projection, Generation generation,
                                                              Position position) override {
    return inner_.get_parked(projection, generation, position);
  }
  [[nodiscard]] Result<std::vector<std::string>> list_projections() override { return inner_.list_projections(); }

 private:
  ProjectionStorage& inner_;
  mutable std::mutex mu_;
  mutable std::condition_variable crash_cv_;  // notified when crashed_ turns true
  std::uint64_t countdown_ = 0;               // GUARDED_BY(mu_); 0: no crash armed
  bool crashed_ = false;                      // GUARDED_BY(mu_)
  std::uint64_t commits_ = 0;                 // GUARDED_BY(mu_)
};

}  // namespace strata::testing
