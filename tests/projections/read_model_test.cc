#include "strata/projections/read_model.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>

#include "ledger.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/projections/backend/projection_records.h"
#include "strata/projections/memory_projection_storage.h"
#include "strata/projections/projection.h"

namespace {

using ledger::Row;
constexpr strata::ReadModel<Row> kRows{"rows"};

std::string keys(const std::vector<std::pair<std::string, Row>>& rows) {
  std::string out;
  for (const auto& [k, r] : rows) out += k + ":" + std::to_string(r.balance) + " ";
  return out;
}

}  // namespace

TEST_CASE("a typed read model writes through the batch, reads its own writes, and is visible after commit") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);
  REQUIRE(kRows.put(tx, "b", Row{"Bea", 2, 1, 10}).ok());
  REQUIRE(kRows.put(tx, "a", Row{"Al", 1, 1, 11}).ok());
  REQUIRE(kRows.put(tx, "c", Row{"Cy", 3, 1, 12}).ok());
  REQUIRE(kRows.erase(tx, "c").ok());

  CHECK(kRows.get(tx, "b").value() == std::optional<Row>(Row{"Bea", 2, 1, 10}));
  CHECK(keys(kRows.list(tx).value()) == "a:1 b:2 ");

  ReadModelReader reader(storage, "test.rows", 1);
  CHECK(!kRows.get(reader, "b").value().has_value());
  REQUIRE(storage.commit(batch).ok());
  CHECK(kRows.get(reader, "b").value() == std::optional<Row>(Row{"Bea", 2, 1, 10}));
  CHECK(keys(kRows.list(reader).value()) == "a:1 b:2 ");
  CHECK(keys(kRows.list(reader, "", ScanOptions{"a", 5}).value()) == "b:2 ");
}

namespace {
struct Named {
  static constexpr std::string_view kName = "test.rows";
};
}  // namespace

TEST_CASE("a reader is made from a projection's kName, a std::string_view, and keeps its own copy of it") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);
  REQUIRE(kRows.put(tx, "a", Row{"Al", 1, 1, 1}).ok());
  REQUIRE(storage.commit(batch).ok());

  ReadModelReader by_name(storage, Named::kName, 1);
  CHECK(by_name.projection() == "test.rows");
  CHECK(keys(kRows.list(by_name).value()) == "a:1 ");

  auto name = std::make_unique<std::string>("test.rows");
  ReadModelReader copied(storage, std::string_view(*name), 1);
  name->assign("overwritten");
  name.reset();
  CHECK(copied.projection() == "test.rows");
  CHECK(keys(kRows.list(copied).value()) == "a:1 ");
}

TEST_CASE("a read-model row that does not decode is kCorruption naming the read model and the key") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  batch.put(1, "rows", "bad", R"({"owner":7})");
  REQUIRE(storage.commit(batch).ok());
  ReadModelReader reader(storage, "test.rows", 1);
  auto row = kRows.get(reader, "bad");
  REQUIRE(!row.ok());
  CHECK(row.status().code() == StatusCode::kCorruption);
  CHECK(row.status().message().find("read model \"rows\", row \"bad\"") != std::string_view::npos);
  CHECK(kRows.list(reader).status().code() == StatusCode::kCorruption);
}

TEST_CASE("writing a read model with an empty or over-long name is kInvalidArgument") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);
  CHECK(tx.put("", "k", "{}").code() == StatusCode::kInvalidArgument);
  CHECK(tx.put(std::string(300, 'm'), "k", "{}").code() == StatusCode::kInvalidArgument);
  CHECK(tx.get("", "k").status().code() == StatusCode::kInvalidArgument);
  CHECK(batch.empty());
}

TEST_CASE("a reader scanning a read model may read it again from inside its visitor") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);
  REQUIRE(kRows.put(tx, "a", Row{"Al", 1, 1, 1}).ok());
  REQUIRE(kRows.put(tx, "b", Row{"Bea", 2, 1, 2}).ok());
  REQUIRE(storage.commit(batch).ok());
  ReadModelReader reader(storage, "test.rows");
  batch.clear();
  ProjectionState state{1, 2, 0, 0};
  batch.set_state(std::nullopt, state);
  REQUIRE(storage.commit(batch).ok());
  std::int64_t sum = 0;
  REQUIRE(kRows
              .scan(reader, "",
                    [&](std::string_view key, const Row&) -> Status {
                      STRATA_ASSIGN_OR_RETURN(std::optional<Row> again, kRows.get(reader, key));
                      if (!again) return Status::not_found(std::string(key));
                      sum += again->balance;
                      return {};
                    })
              .ok());
  CHECK(sum == 3);
}

TEST_CASE("an event context decodes metadata only when asked, once") {
  using namespace strata;
  Metadata m;
  m.correlation_id = "req-1";
  std::string encoded;
  encode_metadata(m, encoded);
  EventView view{"ledger-1", 2, 9, EventId::generate(), "test.ledger.credited.v1", Timestamp{}, encoded, "{}"};
  EventContext ctx(view);
  CHECK(ctx.stream_id() == "ledger-1");
  CHECK(ctx.position() == 9);
  auto first = ctx.metadata();
  REQUIRE(first.ok());
  CHECK(first->get().correlation_id == "req-1");
  CHECK(&ctx.metadata()->get() == &first->get());

  EventView damaged = view;
  damaged.encoded_metadata = "\x01\xff";
  EventContext bad(damaged);
  CHECK(bad.metadata().status().code() == StatusCode::kCorruption);
}

namespace {
// Another row type over the same read model: the owner only (decoding skips the other fields).
struct OwnerOnly {
  std::string owner;
  static constexpr auto kFields = strata::fields(strata::field("owner", &OwnerOnly::owner));
};
constexpr strata::ReadModel<OwnerOnly> kOwners{"rows"};
}  // namespace

TEST_CASE("a batch keeps typed rows decoded, encodes them when read as bytes, and rolls them back") {
  using namespace strata;
  MemoryProjectionStorage storage;
  {
    ProjectionWriteBatch seed("test.rows");
    seed.put(1, "rows", "a", to_json(Row{"Al", 1, 1, 1}));
    REQUIRE(storage.commit(seed).ok());
  }
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);

  // A read is kept decoded, and changes nothing.
  CHECK(!batch.find_object(1, "rows", "a").known);
  CHECK(kRows.get(tx, "a").value() == std::optional<Row>(Row{"Al", 1, 1, 1}));
  CHECK(batch.find_object(1, "rows", "a").known);
  CHECK(!kRows.get(tx, "none").value().has_value());
  CHECK(batch.find_object(1, "rows", "none").known);
  CHECK(batch.find_object(1, "rows", "none").row == nullptr);
  CHECK(batch.empty());

  // A write stays an object until the batch is read as bytes.
  REQUIRE(kRows.put(tx, "a", Row{"Al", 2, 2, 2}).ok());
  CHECK(!batch.empty());
  CHECK(kRows.get(tx, "a").value()->balance == 2);

  // Everything after a mark goes back on rollback: typed and raw writes, reads, and encodings.
  const std::size_t mark = batch.mark();
  REQUIRE(kRows.put(tx, "a", Row{"Al", 3, 3, 3}).ok());
  REQUIRE(kRows.put(tx, "b", Row{"Bea", 5, 1, 3}).ok());
  REQUIRE(tx.put("rows", "c", to_json(Row{"Cy", 7, 1, 3})).ok());
  CHECK(kRows.get(tx, "c").value()->balance == 7);                    // raw bytes, decoded and kept
  CHECK(tx.get("rows", "a").value() == to_json(Row{"Al", 3, 3, 3}));  // encodes the object
  REQUIRE(kRows.erase(tx, "a").ok());
  CHECK(!kRows.get(tx, "a").value().has_value());
  batch.rollback(mark);
  CHECK(kRows.get(tx, "a").value()->balance == 2);
  CHECK(!kRows.get(tx, "b").value().has_value());
  CHECK(!kRows.get(tx, "c").value().has_value());
  CHECK(!tx.get("rows", "c").value().has_value());

  // What the batch commits is the encoding of the objects as they stand.
  const auto& rows = batch.rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows.begin()->first == encode_row_key(1, "rows", "a"));
  CHECK(rows.begin()->second == to_json(Row{"Al", 2, 2, 2}));
  CHECK(keys(kRows.list(tx).value()) == "a:2 ");

  // A raw write replaces the object; the next typed read decodes the new bytes.
  REQUIRE(tx.put("rows", "a", to_json(Row{"Al", 9, 9, 9})).ok());
  CHECK(!batch.find_object(1, "rows", "a").known);
  CHECK(kRows.get(tx, "a").value()->balance == 9);

  REQUIRE(storage.commit(batch).ok());
  ReadModelReader reader(storage, "test.rows", 1);
  CHECK(kRows.get(reader, "a").value()->balance == 9);
}

TEST_CASE("two row types over one read model each read what the other wrote") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);
  REQUIRE(kRows.put(tx, "a", Row{"Al", 4, 1, 1}).ok());
  CHECK(kOwners.get(tx, "a").value()->owner == "Al");
  CHECK(kRows.get(tx, "a").value()->balance == 4);
  REQUIRE(kRows.put(tx, "a", Row{"Alma", 5, 2, 2}).ok());
  CHECK(kOwners.get(tx, "a").value()->owner == "Alma");
  REQUIRE(kOwners.put(tx, "b", OwnerOnly{"Bea"}).ok());
  CHECK(kRows.get(tx, "b").status().code() == StatusCode::kCorruption);  // a Row needs every field
  REQUIRE(storage.commit(batch).ok());
  ReadModelReader reader(storage, "test.rows", 1);
  CHECK(kRows.get(reader, "a").value() == std::optional<Row>(Row{"Alma", 5, 2, 2}));
  CHECK(kOwners.get(reader, "b").value()->owner == "Bea");
}

TEST_CASE("a stored row that does not decode is kCorruption through a batch too, and is not kept") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch seed("test.rows");
  seed.put(1, "rows", "bad", R"({"owner":7})");
  REQUIRE(storage.commit(seed).ok());
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);
  CHECK(kRows.get(tx, "bad").status().code() == StatusCode::kCorruption);
  CHECK(!batch.find_object(1, "rows", "bad").known);
  CHECK(!ReadModel<Row>("").get(tx, "a").ok());
  CHECK(ReadModel<Row>("").put(tx, "a", Row{}).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("dropping a generation drops its objects, and forgotten undo is not rolled back") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx one(storage, batch, 1);
  ReadModelTx two(storage, batch, 2);
  REQUIRE(kRows.put(one, "a", Row{"Al", 1, 1, 1}).ok());
  REQUIRE(kRows.put(two, "a", Row{"Al", 2, 1, 1}).ok());
  const std::size_t mark = batch.mark();
  REQUIRE(kRows.put(two, "b", Row{"Bea", 3, 1, 1}).ok());
  batch.forget_undo();
  batch.rollback(mark);  // nothing to undo any more
  CHECK(kRows.get(two, "b").value()->balance == 3);
  batch.drop_generation(1);
  CHECK(!batch.find_object(1, "rows", "a").known);
  CHECK(batch.find_object(2, "rows", "a").known);
  CHECK(batch.rows().size() == 2);
}

TEST_CASE("a write right after a read writes the row it names, whatever became of the row read") {
  using namespace strata;
  MemoryProjectionStorage storage;
  ProjectionWriteBatch batch("test.rows");
  ReadModelTx tx(storage, batch, 1);

  // A write of another row than the one just read.
  REQUIRE(kRows.put(tx, "a", Row{"Al", 1, 1, 1}).ok());
  CHECK(kRows.get(tx, "a").value()->balance == 1);
  REQUIRE(kRows.put(tx, "b", Row{"Bea", 2, 1, 1}).ok());
  CHECK(kRows.get(tx, "a").value()->balance == 1);
  CHECK(kRows.get(tx, "b").value()->balance == 2);

  // The row read was rolled back out of the batch before the write.
  std::size_t mark = batch.mark();
  CHECK(!kRows.get(tx, "x").value().has_value());
  batch.rollback(mark);
  CHECK(!batch.find_object(1, "rows", "x").known);
  REQUIRE(kRows.put(tx, "x", Row{"Xi", 3, 1, 1}).ok());
  CHECK(kRows.get(tx, "x").value()->balance == 3);

  // ... or dropped with its generation.
  ReadModelTx two(storage, batch, 2);
  CHECK(!kRows.get(two, "y").value().has_value());
  batch.drop_generation(2);
  REQUIRE(kRows.put(two, "y", Row{"Yu", 4, 1, 1}).ok());
  CHECK(kRows.get(two, "y").value()->balance == 4);

  // A batch moved right after a read.
  CHECK(kRows.get(tx, "a").value()->balance == 1);
  ProjectionWriteBatch moved(std::move(batch));
  ReadModelTx moved_tx(storage, moved, 1);
  REQUIRE(kRows.put(moved_tx, "a", Row{"Al", 5, 1, 1}).ok());
  CHECK(kRows.get(moved_tx, "a").value()->balance == 5);

  REQUIRE(storage.commit(moved).ok());
  ReadModelReader reader(storage, "test.rows", 1);
  CHECK(keys(kRows.list(reader).value()) == "a:5 b:2 x:3 ");
  CHECK(kRows.get(ReadModelReader(storage, "test.rows", 2), "y").value()->balance == 4);
}
