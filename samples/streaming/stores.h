// Where each service of the showcase keeps its events and its projections' state (relay checkpoint,
// inbox markers, saga timers, read models): in memory, or in a RocksDB store of its own in
// DIR/<service> — durable, and open in one process at a time.
//
//   STRATA_ASSIGN_OR_RETURN(streaming::Stores stores, streaming::Stores::open(dir, streaming::StoreMode::kCreate));
//   streaming::ServiceContext context{stores.catalog.events(), stores.catalog.storage(), transport, ...};
//
// Thread safety: the stores are thread-safe; a Stores value belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "strata/core/event_store.h"
#include "strata/core/status.h"
#include "strata/projections/projection_storage.h"
#include "streaming/timeline.h"

namespace streaming {

enum class StoreMode : std::uint8_t {
  kCreate,        // a new store; kInvalidArgument when the directory holds one already
  kOpen,          // an existing store; kNotFound when there is none
  kOpenOrCreate,  // a service process started again continues with its store
};

class ServiceStore {
 public:
  static ServiceStore in_memory();
  // The RocksDB store in `dir`. `durable`: every commit is fsynced (otherwise it survives a crash of
  // the process, not of the machine). RocksEventStore::open's errors besides those of `mode`.
  [[nodiscard]] static strata::Result<ServiceStore> open(const std::filesystem::path& dir, StoreMode mode,
                                                         bool durable);

  strata::EventStore& events() const noexcept { return *events_; }
  strata::ProjectionStorage& storage() const noexcept { return *storage_; }

 private:
  ServiceStore() = default;
  std::unique_ptr<strata::EventStore> events_;
  std::unique_ptr<strata::ProjectionStorage> own_storage_;  // in memory; a RocksDB store keeps its own
  strata::ProjectionStorage* storage_ = nullptr;
};

struct Stores {
  ServiceStore contracts;
  ServiceStore payments;
  ServiceStore catalog;

  static Stores in_memory();
  // DIR/contracts, DIR/payments and DIR/catalog.
  [[nodiscard]] static strata::Result<Stores> open(const std::filesystem::path& dir, StoreMode mode, bool durable);

  // The three logs, named by their services, for timelines.
  std::array<ServiceLog, 3> logs() const;
};

}  // namespace streaming
