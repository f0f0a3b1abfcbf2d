// ProjectionStorage: where projections keep what they derive from the log — per projection, its state
// (checkpoints and read-model generations), its read-model rows, and its parked (dead-lettered) events —
// and ProjectionWriteBatch, the unit in which all of that changes atomically.
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
// Implementations: MemoryProjectionStorage (core, for tests and samples); a RocksDB one beside the event
// store keeps everything in the store's database and commits each batch as one WriteBatch. Every
// implementation passes tests/conformance/projection_storage_conformance.h.
//
// Thread safety: ProjectionStorage methods may be called concurrently from any thread; a visitor must
// not call back into the same storage. A ProjectionWriteBatch is a move-only value used by one thread at a time
// (its const reads may encode row objects, so they too are for that thread only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "strata/core/event.h"
#include "strata/core/function_ref.h"
#include "strata/core/status.h"
#include "strata/core/version.h"

namespace strata {

// A generation of a projection's read models. Generations start at 1; reads with kServingGeneration
// resolve the projection's serving generation atomically with the read.
using Generation = std::uint64_t;
inline constexpr Generation kServingGeneration = 0;

// Longest projection name and read-model name, in bytes (both are 1..255 bytes, any bytes).
inline constexpr std::size_t kMaxProjectionNameBytes = 255;
inline constexpr std::size_t kMaxReadModelNameBytes = 255;

// What a projection has done so far, persisted with every batch it commits.
struct ProjectionState {
  // The generation whose read models serve queries.
  Generation generation = 1;
  // The position of the last event applied to `generation` (0: none yet).
  Position checkpoint = 0;
  // The generation being rebuilt in the shadow, or 0 when no rebuild is in progress.
  Generation shadow_generation = 0;
  // The position of the last event applied to the shadow generation.
  Position shadow_checkpoint = 0;

  bool rebuilding() const noexcept { return shadow_generation != 0; }
  friend bool operator==(const ProjectionState&, const ProjectionState&) = default;
};

// An event a projection gave up on after its error policy's retries: kept with the error of the last
// attempt until it is retried successfully or skipped.
struct ParkedEvent {
  // The generation whose handler failed (the serving one, or a shadow being rebuilt).
  Generation generation = 0;
  // The event as stored; event.position is the parked position.
  RecordedEvent event;
  // The error of the last attempt (never OK).
  Status error;
  // How many times the event was tried.
  std::uint32_t attempts = 0;
  // When it was parked (or last retried).
  Timestamp parked_at{};

  friend bool operator==(const ParkedEvent&, const ParkedEvent&) = default;
};

// Called for each row of a scan; a non-OK status stops the scan and is returned by it.
using RowVisitor = FunctionRef<Status(std::string_view key, std::string_view value)>;

struct ScanOptions {
  // Only rows whose key sorts strictly after this one (empty: from the first row of the prefix). Pass
  // the last key seen to page through a large read model.
  std::string start_after;
  // At most this many rows.
  std::size_t max_count = static_cast<std::size_t>(-1);
};

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
  void put_object(Generation generation, std::string_view model, std::string_view key,
                  std::unique_ptr<RowObject> row);
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
  mutable std::vector<std::variant<RowUndo, ObjectUndo>> undo_;
  std::map<std::pair<Generation, Position>, std::optional<ParkedEvent>> parked_;
  std::vector<Generation> dropped_;
  std::optional<StateChange> state_;
};

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

// The persisted encodings shared by implementations. Never change them incompatibly.
//
//   row key  := generation:be64  model_length:u8  model{model_length}  key
//     (within one projection; rows of a generation, and of a read model, are contiguous and key-ordered,
//      so a prefix scan is one range)
//   state    := format:u8 = 1  generation:be64  checkpoint:be64  shadow_generation:be64
//               shadow_checkpoint:be64
//   parked   := format:u8 = 1  generation:be64  attempts:be32  parked_at_us:be64  code:u8  message:str
//               stream:str  version:be64  position:be64  event_id:16 bytes  type:str  timestamp_us:be64
//               metadata:str (encode_metadata)  payload:str
//   str      := length:be32  bytes{length}
std::string encode_row_key(Generation generation, std::string_view model, std::string_view key);
// The same into `out` (replacing its contents, reusing its capacity).
void encode_row_key(std::string& out, Generation generation, std::string_view model, std::string_view key);
// The first key of (generation, model) rows whose key starts with `prefix`; every such row key starts
// with it.
std::string encode_row_prefix(Generation generation, std::string_view model, std::string_view prefix);
struct DecodedRowKey {
  Generation generation = 0;
  std::string_view model;
  std::string_view key;
};
// kCorruption when `row_key` is not an encoded row key; the views point into `row_key`.
Result<DecodedRowKey> decode_row_key(std::string_view row_key);

std::string encode_projection_state(const ProjectionState& state);
Result<ProjectionState> decode_projection_state(std::string_view bytes);
std::string encode_parked_event(const ParkedEvent& parked);
Result<ParkedEvent> decode_parked_event(std::string_view bytes);

// kInvalidArgument unless `batch` is well formed (names, generations): implementations call it first.
Status validate_batch(const ProjectionWriteBatch& batch);

// The kWrongExpectedVersion status commit() returns when the stored state is not the expected one.
Status projection_state_conflict(std::string_view projection, const std::optional<ProjectionState>& expected,
                                 const std::optional<ProjectionState>& actual);

}  // namespace strata
