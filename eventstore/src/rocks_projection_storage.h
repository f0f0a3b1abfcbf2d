// RocksProjectionStorage: the ProjectionStorage of a RocksEventStore, kept in the store's own database
// in three column families (projection_state, projection_rows, projection_parked; their records are
// those of strata/projections/backend/projection_records.h). Each commit is one rocksdb::WriteBatch, written with the
// store's sync option, so a batch's rows, parked events and new checkpoint reach the disk together or not at all. Reads
// of the serving generation resolve it from the state and read the rows from one RocksDB snapshot.
//
// Commits are serialized among themselves (the compare-and-set reads the stored state and writes the
// new one under one mutex) but not with the event store's commit path: RocksDB orders the two writers,
// and nothing in one batch depends on the other's families. A failed write stops both: the store's
// WriteGate records the failure, after which appends and projection commits are refused until the
// store is reopened.
//
//   detail::RocksProjectionStorage storage(*db, {state_cf, rows_cf, parked_cf}, write_options, path, gate);
//   STRATA_RETURN_IF_ERROR(storage.commit(batch));
//
// Thread safety: every method may be called concurrently, as ProjectionStorage says. REQUIRES: the
// database, its family handles and the gate outlive the storage.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/projections/projection_storage.h"

namespace strata::detail {

// The fail-stop state the projection storage shares with the event store it lives in.
class WriteGate {
 public:
  // OK while writes are allowed; after a failed write, the kUnavailable status that refuses them.
  virtual Status write_refused() = 0;
  // Records a failed write (the first one wins): from now on write_refused() returns non-OK.
  virtual void write_failed(const Status& error) = 0;

 protected:
  ~WriteGate() = default;
};

class RocksProjectionStorage final : public ProjectionStorage {
 public:
  struct Families {
    rocksdb::ColumnFamilyHandle* state = nullptr;
    rocksdb::ColumnFamilyHandle* rows = nullptr;
    rocksdb::ColumnFamilyHandle* parked = nullptr;
  };

  // `path` names the store in messages.
  RocksProjectionStorage(rocksdb::DB& db, Families families, rocksdb::WriteOptions write_options, std::string path,
                         WriteGate& gate);
  ~RocksProjectionStorage() override;

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
  // The state of `projection` as `read` sees it.
  Result<std::optional<ProjectionState>> read_state(const rocksdb::ReadOptions& read, std::string_view projection);
  // The generation a read names, kServingGeneration resolved through `read`; nullopt when the
  // projection has no state to resolve it from.
  Result<std::optional<Generation>> resolve(const rocksdb::ReadOptions& read, std::string_view projection,
                                            Generation generation);
  // Stages the deletion of every key of `family` that starts with `prefix`.
  Status delete_prefix(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* family, std::string_view prefix);
  // Writes `batch` durably (the store's sync option); on failure records it in the gate.
  Status write(rocksdb::WriteBatch& batch, std::string_view what);

  rocksdb::DB& db_;
  const Families families_;
  const rocksdb::WriteOptions write_options_;
  const std::string path_;
  WriteGate& gate_;
  // Held by commit() and drop_projection() from reading the stored state to writing the new one.
  std::mutex commit_mu_;
};

}  // namespace strata::detail
