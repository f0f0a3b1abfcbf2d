// Read models: the key-value tables a projection derives from the log, kept in a ProjectionStorage, and
// ReadModel<Row>, their typed view for projection handlers (writes) and for queries (reads).
//
// A read model has a name, unique within its projection, and rows keyed by byte strings; each row holds
// one Row encoded as JSON through codec.h (a struct with a field table, or a type with a Codec). Keys
// sort bytewise, so a prefix scan answers "every row of customer 7" when keys start with "7/".
//
//   struct Balance {
//     std::string owner;
//     std::int64_t cents = 0;
//     static constexpr auto kFields = strata::fields(strata::field("owner", &Balance::owner),
//                                                    strata::field("cents", &Balance::cents));
//   };
//   inline constexpr strata::ReadModel<Balance> kBalances{"balances"};
//
//   // in a handler, through the ReadModelTx it is given (sees the batch's own writes):
//   STRATA_ASSIGN_OR_RETURN(std::optional<Balance> row, kBalances.get(tx, ctx.stream_id()));
//   STRATA_RETURN_IF_ERROR(kBalances.put(tx, ctx.stream_id(), Balance{...}));
//   // Through a tx, rows stay decoded in the batch: a row read and written by many events of a batch
//   // is read from storage and decoded once, and encoded once, when the batch commits.
//   // in a query, through a reader of the serving generation:
//   strata::ReadModelReader reader(storage, "bank.balances");
//   STRATA_ASSIGN_OR_RETURN(auto all, kBalances.list(reader));
//
// Thread safety: a ReadModel<Row> is an immutable name. A ReadModelTx belongs to the projector thread
// running the handler it was given to, for the duration of that call. A ReadModelReader may be used from
// any thread (the storage is thread-safe); each of its calls reads one generation, so a query made of
// several calls may straddle a rebuild's swap.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/function_ref.h"
#include "strata/core/limits.h"
#include "strata/core/status.h"
#include "strata/projections/projection_storage.h"

namespace strata {

// Something read-model rows can be read from: the batch a handler writes (ReadModelTx) or the committed
// rows (ReadModelReader).
class ReadModelSource {
 public:
  // The row's bytes, or std::nullopt when there is none. Fails with the storage's errors.
  [[nodiscard]] virtual Result<std::optional<std::string>> get(std::string_view model, std::string_view key) const = 0;
  // Calls `visitor` for each row of `model` whose key starts with `prefix`, in key order (see
  // ProjectionStorage::scan). The visitor may read through this source but not write.
  [[nodiscard]] virtual Status scan(std::string_view model, std::string_view prefix, const ScanOptions& options,
                                    RowVisitor visitor) const = 0;

 protected:
  ReadModelSource() = default;
  ReadModelSource(const ReadModelSource&) = default;
  ReadModelSource& operator=(const ReadModelSource&) = default;
  ~ReadModelSource() = default;
};

// What a projection handler writes through: the rows of one generation of its projection, as changed by
// the batch being built. Reads see the batch's own writes; nothing is visible to queries until the
// projector commits the batch together with its checkpoint. Made by the projector.
class ReadModelTx final : public ReadModelSource {
 public:
  // REQUIRES: `storage` and `batch` outlive the tx; generation >= 1.
  ReadModelTx(ProjectionStorage& storage, ProjectionWriteBatch& batch, Generation generation) noexcept
      : storage_(storage), batch_(batch), generation_(generation) {}

  [[nodiscard]] Result<std::optional<std::string>> get(std::string_view model, std::string_view key) const override;
  [[nodiscard]] Status scan(std::string_view model, std::string_view prefix, const ScanOptions& options,
                            RowVisitor visitor) const override;

  // Sets the row. kInvalidArgument when `model` is empty or longer than kMaxReadModelNameBytes.
  [[nodiscard]] Status put(std::string_view model, std::string_view key, std::string_view value);
  // Removes the row (OK when there is none). kInvalidArgument for a bad model name.
  [[nodiscard]] Status erase(std::string_view model, std::string_view key);

  // Rows as decoded objects, for ReadModel<Row>: see ProjectionWriteBatch::put_object. find_object
  // reports nothing known for a bad model name (get() then says why).
  [[nodiscard]] ProjectionWriteBatch::ObjectLookup find_object(std::string_view model, std::string_view key) const;
  [[nodiscard]] Status put_object(std::string_view model, std::string_view key, std::unique_ptr<RowObject> row);
  // REQUIRES: `model` is a valid name (a get() of the row succeeded).
  void cache_object(std::string_view model, std::string_view key, std::unique_ptr<RowObject> row);

  // The generation written: the serving one, or the shadow during a rebuild.
  Generation generation() const noexcept { return generation_; }
  const std::string& projection() const noexcept { return batch_.projection(); }

 private:
  ProjectionStorage& storage_;
  ProjectionWriteBatch& batch_;
  Generation generation_;
};

// Reads the committed rows of one projection: of the serving generation (resolved at each call), or of
// an explicit one.
class ReadModelReader final : public ReadModelSource {
 public:
  // Reads the rows of projection `projection` (its persisted name, e.g. a projection's kName; copied).
  // REQUIRES: `storage` outlives the reader.
  ReadModelReader(ProjectionStorage& storage, std::string_view projection, Generation generation = kServingGeneration)
      : storage_(&storage), projection_(projection), generation_(generation) {}

  [[nodiscard]] Result<std::optional<std::string>> get(std::string_view model, std::string_view key) const override;
  [[nodiscard]] Status scan(std::string_view model, std::string_view prefix, const ScanOptions& options,
                            RowVisitor visitor) const override;

  const std::string& projection() const noexcept { return projection_; }

 private:
  ProjectionStorage* storage_;
  std::string projection_;
  Generation generation_;
};

namespace detail {
// Compiled: rows are decoded with these limits (rows may be larger than events), and their errors.
const Limits& read_model_row_limits() noexcept;
Status undecodable_row(const Status& status, std::string_view model, std::string_view key);

// A Row held decoded in a batch; its tag is the address of a variable of its own per row type.
template <class Row>
inline constexpr char kRowTypeTag = 0;
template <class Row>
class RowOf final : public RowObject {
 public:
  RowOf() = default;
  explicit RowOf(Row r) : row(std::move(r)) {}
  const void* type_tag() const noexcept override { return &kRowTypeTag<Row>; }
  void encode(std::string& out) const override { encode_json(row, out); }
  Row row{};
};
}  // namespace detail

// A typed read model: a name and a row type. Rows are JSON through codec.h.
template <class Row>
class ReadModel {
  static_assert(std::is_default_constructible_v<Row>, "strata: a read-model row type must be default-constructible");

 public:
  // REQUIRES: `name` is 1..kMaxReadModelNameBytes bytes and outlives the ReadModel (a literal).
  constexpr explicit ReadModel(std::string_view name) noexcept : name_(name) {}

  constexpr std::string_view name() const noexcept { return name_; }

  // The row at `key`, or std::nullopt. kCorruption (naming the read model and key) when the stored row
  // does not decode as a Row; the source's errors otherwise.
  [[nodiscard]] Result<std::optional<Row>> get(const ReadModelSource& source, std::string_view key) const {
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> bytes, source.get(name_, key));
    if (!bytes) return std::optional<Row>();
    std::optional<Row> row(std::in_place);
    Status s = decode_json(*bytes, *row, detail::read_model_row_limits());
    if (!s.ok()) return detail::undecodable_row(s, name_, key);
    return row;
  }

  // The same through a handler's batch, which keeps the rows it decodes: a row read and written for many
  // events of a batch is decoded once and encoded once, when the batch commits.
  [[nodiscard]] Result<std::optional<Row>> get(ReadModelTx& tx, std::string_view key) const {
    if (auto known = tx.find_object(name_, key); known.known) {
      if (known.row == nullptr) return std::optional<Row>();
      if (known.row->type_tag() == &detail::kRowTypeTag<Row>)
        return std::optional<Row>(static_cast<const detail::RowOf<Row>*>(known.row)->row);
    }
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> bytes, tx.get(name_, key));
    if (!bytes) {
      tx.cache_object(name_, key, nullptr);
      return std::optional<Row>();
    }
    auto decoded = std::make_unique<detail::RowOf<Row>>();
    Status s = decode_json(*bytes, decoded->row, detail::read_model_row_limits());
    if (!s.ok()) return detail::undecodable_row(s, name_, key);
    std::optional<Row> row(decoded->row);
    tx.cache_object(name_, key, std::move(decoded));
    return row;
  }

  // Writes `row` at `key` into the handler's batch.
  [[nodiscard]] Status put(ReadModelTx& tx, std::string_view key, const Row& row) const {
    return tx.put_object(name_, key, std::make_unique<detail::RowOf<Row>>(row));
  }
  [[nodiscard]] Status put(ReadModelTx& tx, std::string_view key, Row&& row) const {
    return tx.put_object(name_, key, std::make_unique<detail::RowOf<Row>>(std::move(row)));
  }

  // Removes the row at `key` (OK when there is none).
  [[nodiscard]] Status erase(ReadModelTx& tx, std::string_view key) const { return tx.put_object(name_, key, nullptr); }

  // Calls fn(key, row) for each row whose key starts with `prefix`, in key order; stops at the first
  // non-OK status fn returns and returns it. kCorruption for a row that does not decode.
  [[nodiscard]] Status scan(const ReadModelSource& source, std::string_view prefix,
                            FunctionRef<Status(std::string_view key, const Row& row)> fn,
                            const ScanOptions& options = {}) const {
    Row row{};
    return source.scan(name_, prefix, options, [&](std::string_view key, std::string_view bytes) -> Status {
      Status s = decode_json(bytes, row, detail::read_model_row_limits());
      if (!s.ok()) return detail::undecodable_row(s, name_, key);
      return fn(key, static_cast<const Row&>(row));
    });
  }

  // Every row whose key starts with `prefix` (at most options.max_count), in key order.
  [[nodiscard]] Result<std::vector<std::pair<std::string, Row>>> list(const ReadModelSource& source,
                                                                      std::string_view prefix = {},
                                                                      const ScanOptions& options = {}) const {
    std::vector<std::pair<std::string, Row>> out;
    STRATA_RETURN_IF_ERROR(scan(
        source, prefix,
        [&](std::string_view key, const Row& row) -> Status {
          out.emplace_back(std::string(key), row);
          return {};
        },
        options));
    return out;
  }

 private:
  std::string_view name_;
};

}  // namespace strata
