// The RocksDB projection storage (RocksEventStore::projection_storage()): the conformance suite over a
// store that is closed and reopened, stores made before the projection families existed, and I/O
// faults: a failed commit is an error, nothing of it is applied, and a reopen recovers the last
// committed checkpoint and rows.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conformance/projection_storage_conformance.h"
#include "conformance/store_conformance.h"
#include "faulty_file_system.h"
#include "format.h"
#include "rocks_test_support.h"
#include "strata/projections/backend/projection_records.h"

namespace {

using namespace strata;
using strata::conformance::BorrowedStorage;
using strata::conformance::render_rows;
using strata::conformance::sid;
using strata::conformance::state_at;
using strata::testing::FaultyFileSystem;

struct RocksStorageFixture {
  static constexpr bool kDurable = true;
  // Closes the store the previous call opened (its storage must not be used any more) and reopens it.
  std::unique_ptr<ProjectionStorage> open() {
    store.reset();
    store = testing::open_store(dir.path());
    return std::make_unique<BorrowedStorage>(store->projection_storage());
  }
  testing::TempDir dir;
  std::unique_ptr<RocksEventStore> store;
};

// A batch that changes rows, a parked event and the checkpoint from `from` to `to`.
ProjectionWriteBatch batch_at(Position from, Position to, std::optional<ProjectionState> expected) {
  ProjectionWriteBatch b("bank.balances");
  b.put(1, "accounts", "a", "balance at " + to_string(to));
  b.put(1, "accounts", "row-" + to_string(to), "added at " + to_string(to));
  b.erase(1, "accounts", "row-" + to_string(from));
  b.park(conformance::parked_event(1, to));
  b.set_state(expected, state_at(to));
  return b;
}

// The whole projection as one string: state, rows, parked positions.
std::string render_projection(ProjectionStorage& storage) {
  auto state = storage.load_state("bank.balances").value();
  std::string out = state ? "checkpoint " + to_string(state->checkpoint) + "\n" : "no state\n";
  out += render_rows(storage, "bank.balances", kServingGeneration, "accounts");
  const std::vector<ParkedEvent> parked = storage.list_parked("bank.balances", 1, 0, 100).value();
  for (const ParkedEvent& p : parked) out += "parked " + to_string(p.event.position) + "\n";
  return out;
}

}  // namespace

STRATA_PROJECTION_STORAGE_CONFORMANCE(RocksStorageFixture)

TEST_CASE("a store created before the projection families existed opens, keeps its events, and takes projections") {
  testing::TempDir dir;
  {
    auto store = testing::open_store(dir.path());
    std::vector<EventData> events{EventData{EventId::generate(), "test.old.v1", R"({"n":1})", {}}};
    REQUIRE(store->append(sid("old-1"), ExpectedVersion::no_stream(), events).ok());
  }
  {
    // Make it a store of before: drop the projection families (and subject_keys, which came later
    // still) with RocksDB itself.
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i].starts_with("projection_") || names[i] == "subject_keys")
        REQUIRE(db->DropColumnFamily(handles[i]).ok());
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    REQUIRE(db->Close().ok());
    names.clear();
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    CHECK(names == std::vector<std::string>{"default", "streams", "events", "log", "event_ids", "snapshots"});
  }
  {
    auto store = testing::open_store(dir.path());
    CHECK(store->read_log(1, 10).value().events.size() == 1);
    ProjectionStorage& storage = store->projection_storage();
    CHECK(storage.list_projections().value().empty());
    REQUIRE(storage.commit(batch_at(0, 3, std::nullopt)).ok());
  }
  auto store = testing::open_store(dir.path());
  CHECK(render_projection(store->projection_storage()) == "checkpoint 3\na=balance at 3\nrow-3=added at 3\nparked 3\n");
}

TEST_CASE("a projection commit whose write fails is an error, nothing of it is applied, and a reopen recovers") {
  testing::TempDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  auto options = testing::test_options(/*sync=*/true);
  const std::string committed = "checkpoint 5\na=balance at 5\nrow-5=added at 5\nparked 5\n";
  const std::string next = "checkpoint 9\na=balance at 9\nrow-9=added at 9\nparked 5\nparked 9\n";

  SUBCASE("a failed write: the commit never reached the log") {
    {
      auto store = testing::open_store(dir.path(), options, fs);
      ProjectionStorage& storage = store->projection_storage();
      REQUIRE(storage.commit(batch_at(0, 5, std::nullopt)).ok());
      REQUIRE(render_projection(storage) == committed);

      fs->fail_writes = true;
      Status failed = storage.commit(batch_at(5, 9, state_at(5)));
      CHECK(failed.code() == StatusCode::kIOError);
      CHECK(std::string(failed.message()).find("injected write failure") != std::string::npos);
      CHECK(std::string(failed.message()).find("bank.balances") != std::string::npos);
      CHECK(render_projection(storage) == committed);

      fs->fail_writes = false;  // healthy again, but the store does not trust it until reopened
      Status refused = storage.commit(batch_at(5, 9, state_at(5)));
      CHECK(refused.code() == StatusCode::kUnavailable);
      CHECK(std::string(refused.message()).find("reopen it") != std::string::npos);
      CHECK(storage.drop_projection("bank.balances").code() == StatusCode::kUnavailable);
      std::vector<EventData> events{EventData{EventId::generate(), "test.after.v1", "{}", {}}};
      CHECK(store->append(sid("s-1"), ExpectedVersion::any(), events).status().code() == StatusCode::kUnavailable);
      CHECK(render_projection(storage) == committed);
    }
    auto store = testing::open_store(dir.path(), options, fs);
    CHECK(render_projection(store->projection_storage()) == committed);
    REQUIRE(store->projection_storage().commit(batch_at(5, 9, state_at(5))).ok());
    CHECK(render_projection(store->projection_storage()) == next);
  }

  SUBCASE("a failed fsync: the commit may have reached the log, and a reopen has all of it or none") {
    {
      auto store = testing::open_store(dir.path(), options, fs);
      ProjectionStorage& storage = store->projection_storage();
      REQUIRE(storage.commit(batch_at(0, 5, std::nullopt)).ok());
      fs->fail_syncs = true;
      Status failed = storage.commit(batch_at(5, 9, state_at(5)));
      CHECK(failed.code() == StatusCode::kIOError);
      CHECK(std::string(failed.message()).find("injected sync failure") != std::string::npos);
      CHECK(render_projection(storage) == committed);
      fs->fail_syncs = false;
    }
    auto store = testing::open_store(dir.path(), options, fs);
    const std::string recovered = render_projection(store->projection_storage());
    CHECK_MESSAGE((recovered == committed || recovered == next), recovered);
  }
}

TEST_CASE("projection rows live in their own families, keyed by the projection's length-prefixed name") {
  // The persisted layout (backend/projection_records.h): a name that is a prefix of another's keys cannot see its rows.
  CHECK(projection_key_prefix("ab") == std::string("\x02"
                                                   "ab",
                                                   3));
  CHECK(projection_parked_key("p", 2, 7) == std::string("\x01p\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x07", 18));
  CHECK(prefix_successor(std::string("a\xff\xff", 3)) == "b");
  CHECK(prefix_successor(std::string("\xff\xff", 2)).empty());

  testing::TempDir dir;
  auto store = testing::open_store(dir.path());
  ProjectionStorage& storage = store->projection_storage();
  ProjectionWriteBatch a("a");
  a.put(1, "m", "k", "of a");
  a.set_state(std::nullopt, state_at(1));
  REQUIRE(storage.commit(a).ok());
  // "a" followed by the bytes of a's row key would collide without the length prefix.
  ProjectionWriteBatch longer(std::string("a\0\0\0\0\0\0\0\x01", 9));
  longer.put(1, "m", "k", "of the longer name");
  longer.set_state(std::nullopt, state_at(1));
  REQUIRE(storage.commit(longer).ok());
  CHECK(render_rows(storage, "a", kServingGeneration, "m") == "k=of a\n");
  REQUIRE(storage.drop_projection("a").ok());
  CHECK(render_rows(storage, longer.projection(), 1, "m") == "k=of the longer name\n");

  // The one name whose key prefix has no successor: dropping it deletes key by key.
  const std::string all_ff(kMaxProjectionNameBytes, '\xff');
  ProjectionWriteBatch last(all_ff);
  last.put(1, "m", "k", "v");
  last.put(~Generation{0}, "m", "k", "last generation");
  last.set_state(std::nullopt, state_at(1));
  REQUIRE(storage.commit(last).ok());
  ProjectionWriteBatch drop_last_generation(all_ff);
  drop_last_generation.drop_generation(~Generation{0});
  REQUIRE(storage.commit(drop_last_generation).ok());
  CHECK(render_rows(storage, all_ff, ~Generation{0}, "m") == "");
  CHECK(render_rows(storage, all_ff, 1, "m") == "k=v\n");
  REQUIRE(storage.drop_projection(all_ff).ok());
  CHECK(render_rows(storage, all_ff, 1, "m") == "");
  CHECK(storage.list_projections().value() == std::vector<std::string>{longer.projection()});
}
