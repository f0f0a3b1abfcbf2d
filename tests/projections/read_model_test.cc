#include "strata/projections/read_model.h"

#include <doctest/doctest.h>

#include "ledger.h"
#include "strata/core/memory_projection_storage.h"
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
