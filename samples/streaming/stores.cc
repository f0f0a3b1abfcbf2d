#include "streaming/stores.h"

#include <system_error>
#include <utility>

#include "strata/core/memory_event_store.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/memory_projection_storage.h"

namespace streaming {

ServiceStore ServiceStore::in_memory() {
  ServiceStore s;
  s.events_ = std::make_unique<strata::MemoryEventStore>();
  s.own_storage_ = std::make_unique<strata::MemoryProjectionStorage>();
  s.storage_ = s.own_storage_.get();
  return s;
}

strata::Result<ServiceStore> ServiceStore::open(const std::filesystem::path& dir, StoreMode mode, bool durable) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec);
  if (mode == StoreMode::kCreate && exists)
    return strata::Status::invalid_argument("a store exists in " + dir.string() + " already: give a new directory");
  if (mode == StoreMode::kOpen && !exists) return strata::Status::not_found("there is no store in " + dir.string());
  std::filesystem::create_directories(dir.parent_path(), ec);

  strata::RocksEventStore::Options options;
  options.sync = durable;
  options.create_if_missing = mode != StoreMode::kOpen;
  options.block_cache_bytes = std::size_t{16} << 20;  // small stores: no need for the 1 GiB default
  options.write_buffer_bytes = std::size_t{8} << 20;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<strata::RocksEventStore> rocks,
                          strata::RocksEventStore::open(options, dir.string()));
  ServiceStore s;
  s.storage_ = &rocks->projection_storage();
  s.events_ = std::move(rocks);
  return s;
}

Stores Stores::in_memory() { return {ServiceStore::in_memory(), ServiceStore::in_memory(), ServiceStore::in_memory()}; }

strata::Result<Stores> Stores::open(const std::filesystem::path& dir, StoreMode mode, bool durable) {
  STRATA_ASSIGN_OR_RETURN(ServiceStore contracts, ServiceStore::open(dir / "contracts", mode, durable));
  STRATA_ASSIGN_OR_RETURN(ServiceStore payments, ServiceStore::open(dir / "payments", mode, durable));
  STRATA_ASSIGN_OR_RETURN(ServiceStore catalog, ServiceStore::open(dir / "catalog", mode, durable));
  return Stores{std::move(contracts), std::move(payments), std::move(catalog)};
}

std::array<ServiceLog, 3> Stores::logs() const {
  return {ServiceLog{"contracts", contracts.events()}, ServiceLog{"payments", payments.events()},
          ServiceLog{"catalog", catalog.events()}};
}

}  // namespace streaming
