// ProjectionWriteBatch: the changes one ProjectionStorage::commit makes to one projection, atomically —
// read-model rows written or erased (as bytes, or as decoded row objects), parked events added and
// removed, generations dropped, and the new state, guarded by the state it expects to replace.
//
//   strata::ProjectionWriteBatch batch("bank.balances");
//   batch.put(state.generation, "accounts", "account-42", R"({"cents":700})");
//   strata::ProjectionState next = state;
//   next.checkpoint = 1234;
//   batch.set_state(state, next);                          // compare-and-set on the stored state
//   STRATA_RETURN_IF_ERROR(storage.commit(batch));
//
// Reads through the batch (get, scan) see the batch's own writes over the committed rows, so the second
// event of a batch sees what the first one wrote. mark() / rollback() undo the writes of one failed
// event while keeping the batch's others.
//
// Thread safety: a move-only value used by one thread at a time (its const reads may encode row
// objects, so they too are for that thread only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/projections/projection_state.h"

namespace strata {

class ProjectionStorage;

// A decoded read-model row kept in a ProjectionWriteBatch (see ProjectionWriteBatch::put_object): the
// typed read models of projections/read_model.h implement it for their row types.
class RowObject {
 public:
  virtual ~RowObject();
  // Identifies the C++ type of the row: objects with equal tags hold the same type.
  virtual const void* type_tag() const noexcept = 0;
  // Appends the row's bytes (what ProjectionWriteBatch::put would be given) to `out`.
  virtual void encode(std::string& out) const = 0;

 protected:
  RowObject() = default;
  RowObject(const RowObject&) = default;
  RowObject& operator=(const RowObject&) = default;
};

// The changes one commit makes to one projection: row writes and erases (per generation and read
// model), parked events added and removed, generations dropped, and the new state, guarded by the state
// it expects to replace. Committed atomically by ProjectionStorage::commit, in this order: dropped
// generations, rows, parked events, state. Row writes to the same row keep the last one.
class ProjectionWriteBatch {
 public:
  // REQUIRES: `projection` is 1..kMaxProjectionNameBytes bytes (commit() checks it).
  explicit ProjectionWriteBatch(std::string projection);

  const std::string& projection() const noexcept { return projection_; }

  // Sets row `key` of read model `model` in `generation` to `value` (any bytes; strata writes JSON).
  // REQUIRES: generation >= 1; `model` is 1..kMaxReadModelNameBytes bytes (commit() checks both).
  void put(Generation generation, std::string_view model, std::string_view key, std::string_view value);
  // Removes the row (nothing happens at commit if there is none).
  void erase(Generation generation, std::string_view model, std::string_view key);

  // Reads through the batch: this batch's own write or erase of the row if it has one, otherwise the
  // row as committed in `storage` (see ProjectionStorage::get). `generation` must be explicit here.
  [[nodiscard]] Result<std::optional<std::string>> get(ProjectionStorage& storage, Generation generation,
                                                       std::string_view model, std::string_view key) const;
  // Scans through the batch: the committed rows merged with this batch's writes and erases, in key
  // order, with the same arguments and errors as ProjectionStorage::scan. The visitor may not modify
  // this batch.
  [[nodiscard]] Status scan(ProjectionStorage& storage, Generation generation, std::string_view model,
                            std::string_view prefix, const ScanOptions& options, RowVisitor visitor) const;

  // Rows as objects. A handler that reads and writes the same row for many events of a batch would
  // decode and encode it for every event; kept as a decoded object instead, the row is decoded once
  // when first read and encoded once, when the batch is read as bytes (rows(), get(), scan(), which
  // is what commit() does). Objects and bytes are two views of the same rows: a put() or erase()
  // replaces the row's object, a get() or scan() of a row with an unencoded object encodes it first.
  //
  // Sets the row to `row` (nullptr: erases it), encoded later with row->encode().
  // REQUIRES as put().
  void put_object(Generation generation, std::string_view model, std::string_view key, std::unique_ptr<RowObject> row);
  // Records that the row, as the batch and the storage hold it now, decodes to `row` (nullptr: there is
  // no row), so that find_object() returns it. Changes no row.
  void cache_object(Generation generation, std::string_view model, std::string_view key,
                    std::unique_ptr<RowObject> row);
  // What the batch knows of the row as an object: `known` is false when it holds none (read the bytes
  // with get() instead); otherwise `row` is the row's object, or nullptr when there is no row. Valid
  // until the next change to the batch.
  struct ObjectLookup {
    bool known = false;
    const RowObject* row = nullptr;
  };
  ObjectLookup find_object(Generation generation, std::string_view model, std::string_view key) const;

  // A point to roll row writes back to: rollback(mark()) undoes every put, erase, put_object and
  // cache_object made after mark(). Projectors use it to drop the writes of an event whose handler
  // failed, keeping the batch's others.
  std::size_t mark() const noexcept { return undo_.size(); }
  void rollback(std::size_t mark);
  // Makes the changes so far final within the batch: rollback() can no longer undo them, and what they
  // replaced is freed. Marks taken before are void.
  void forget_undo() noexcept { undo_.clear(); }

  // Moves the row writes of `other`, a batch of the same projection that wrote other rows than this
  // one, into this batch, and leaves `other` empty: how a projector running partitions
  // (ProjectorOptions::partitions) joins their batches into the one it commits. Both batches' writes
  // become final (as forget_undo()) and their cached row objects are dropped. kInvalidArgument, naming
  // the row, when both wrote the same row: this batch is then unchanged but for what forget_undo()
  // drops. REQUIRES: `other` has no parked events, dropped generations or state change.
  [[nodiscard]] Status absorb(ProjectionWriteBatch& other);

  // Adds (or replaces) a parked event, keyed by (parked.generation, parked.event.position).
  void park(ParkedEvent parked);
  // Removes the parked event at (generation, position); nothing happens at commit if there is none.
  void unpark(Generation generation, Position position);

  // Removes every row and parked event of `generation`. Applied before the batch's row writes, so a
  // batch may drop a generation and start filling it again.
  void drop_generation(Generation generation);

  // Makes `next` the projection's state, provided the stored state is `expected` at commit time
  // (std::nullopt: the projection has no stored state yet). Without set_state() a commit does not look
  // at the state.
  void set_state(std::optional<ProjectionState> expected, ProjectionState next);

  // Whether the batch changes nothing.
  bool empty() const noexcept;
  // Forgets every change (keeps the projection name).
  void clear();

  // For implementations: the changes, in the order they are applied.
  struct StateChange {
    std::optional<ProjectionState> expected;
    ProjectionState next;
  };
  // Row writes keyed by encode_row_key(); a value of std::nullopt erases the row. Encodes the rows held
  // as objects first.
  const std::map<std::string, std::optional<std::string>, std::less<>>& rows() const {
    encode_objects();
    return rows_;
  }
  // Parked events keyed by (generation, position); std::nullopt unparks.
  const std::map<std::pair<Generation, Position>, std::optional<ParkedEvent>>& parked() const noexcept {
    return parked_;
  }
  const std::vector<Generation>& dropped_generations() const noexcept { return dropped_; }
  const std::optional<StateChange>& state_change() const noexcept { return state_; }

 private:
  using RowMap = std::map<std::string, std::optional<std::string>, std::less<>>;
  struct ObjectEntry {
    std::unique_ptr<RowObject> row;  // nullptr: no row
    bool known = false;              // false: the bytes are the row (an entry only kept for undo)
    bool dirty = false;              // changed since the row's bytes were last written
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using ObjectMap = std::unordered_map<std::string, ObjectEntry, StringHash, std::equal_to<>>;
  struct RowUndo {
    RowMap::iterator row;
    bool existed;
    std::optional<std::string> previous;
  };
  struct ObjectUndo {
    ObjectMap::value_type* object;  // nodes stay put across rehashing
    bool existed;
    bool cleaned_only;  // encode_objects() wrote the row's bytes: only `dirty` changed
    ObjectEntry previous;
  };
  const std::string& encoded_key(Generation generation, std::string_view model, std::string_view key) const;
  void write(const std::string& encoded, std::optional<std::string> value) const;
  void set_object(const std::string& encoded, ObjectEntry entry);
  void encode_object(ObjectMap::value_type& entry) const;
  void encode_objects() const;

  std::string projection_;
  // Mutable: reading the batch as bytes encodes its objects (a cache of encodings, not a change).
  mutable RowMap rows_;
  mutable ObjectMap objects_;
  mutable std::size_t dirty_objects_ = 0;  // how many entries of objects_ are dirty
  // The entry find_object() or set_object() last found, or nullptr: reset wherever entries are erased,
  // and on both sides of a move.
  struct LastObject {
    ObjectMap::value_type* entry = nullptr;
    LastObject() = default;
    LastObject(LastObject&& other) noexcept { other.entry = nullptr; }
    LastObject& operator=(LastObject&& other) noexcept {
      entry = nullptr;
      other.entry = nullptr;
      return *this;
    }
  };
  mutable LastObject last_object_;
  mutable std::vector<std::variant<RowUndo, ObjectUndo>> undo_;
  std::map<std::pair<Generation, Position>, std::optional<ParkedEvent>> parked_;
  std::vector<Generation> dropped_;
  std::optional<StateChange> state_;
};

}  // namespace strata
