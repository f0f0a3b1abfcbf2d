// The PostgreSQL projection storage (PgEventStore::projection_storage()): the conformance suite over a
// store reopened on the same schema, and what only a shared server brings — two stores (as two processes)
// racing on one projection, a batch sent in several statements that commits or fails as a whole, a long
// scan read in pages from one snapshot while another store commits, names and rows of any bytes, and a
// connection the server drops.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/projection_storage_conformance.h"
#include "pgstore/pg_test_support.h"
#include "strata/pgstore/pg_event_store.h"

namespace {

using namespace strata;
using strata::conformance::BorrowedStorage;
using strata::conformance::parked_event;
using strata::conformance::render_rows;
using strata::conformance::state_at;

struct PgStorageFixture {
  static constexpr bool kDurable = true;
  // Closes the store of the previous call (its storage is not used any more) and opens a new one on the
  // same schema, as a restarted process would.
  std::unique_ptr<ProjectionStorage> open() {
    store.reset();
    store = schema.open();
    return std::make_unique<BorrowedStorage>(store->projection_storage());
  }
  pgtest::TestSchema schema;  // declared first: dropped after the store is closed
  std::unique_ptr<PgEventStore> store;
};

// Runs `sql` on a connection of its own, as an operator or another program would, and returns the first
// column of its first row ("" when none).
std::string run_sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  REQUIRE_MESSAGE(PQstatus(c) == CONNECTION_OK, PQerrorMessage(c));
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  const std::string error = PQresultErrorMessage(r);
  const std::string first = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(c);
  REQUIRE_MESSAGE((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK), sql, ": ", error);
  return first;
}

// `url` with the connections it makes named `name` in pg_stat_activity.
std::string with_application_name(const std::string& url, const std::string& name) {
  if (url.starts_with("postgres://") || url.starts_with("postgresql://"))
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
  return url + " application_name=" + name;
}

// "r00042": keys that sort like their numbers.
std::string row_key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "r%05d", i);
  return buf;
}

// The keys of a scan, in the order delivered.
std::vector<std::string> scan_keys(ProjectionStorage& storage, std::string_view projection, Generation generation,
                                   std::string_view model, std::string_view prefix = {}, ScanOptions options = {}) {
  std::vector<std::string> keys;
  Status s =
      storage.scan(projection, generation, model, prefix, options, [&](std::string_view k, std::string_view) -> Status {
        keys.emplace_back(k);
        return {};
      });
  REQUIRE_MESSAGE(s.ok(), s.to_string());
  return keys;
}

}  // namespace

STRATA_PROJECTION_STORAGE_CONFORMANCE(PgStorageFixture)

TEST_CASE("two stores, as two processes, commit one projection from the same state: exactly one wins each time") {
  pgtest::TestSchema schema;
  auto one = schema.open();
  auto two = schema.open();
  ProjectionStorage* storages[2] = {&one->projection_storage(), &two->projection_storage()};
  const std::string p = "bank.balances";

  SUBCASE("both commit the same expected state at once: one commits, the other is kWrongExpectedVersion") {
    std::optional<ProjectionState> expected;
    for (int round = 0; round < 20; ++round) {
      std::atomic<int> ready{0};
      Status results[2];
      std::vector<std::thread> threads;
      for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&, i] {
          ProjectionWriteBatch b(p);
          b.put(1, "m", "winner", "store " + std::to_string(i));
          b.put(1, "m", "round " + std::to_string(round) + " by " + std::to_string(i), "x");
          b.set_state(expected, state_at(static_cast<std::uint64_t>(round + 1)));
          ++ready;
          while (ready.load() < 2) std::this_thread::yield();
          results[i] = storages[i]->commit(b);
        });
      }
      for (auto& t : threads) t.join();
      INFO("round ", round, ": ", results[0].to_string(), " / ", results[1].to_string());
      REQUIRE(results[0].ok() != results[1].ok());
      const int winner = results[0].ok() ? 0 : 1;
      const Status& lost = results[1 - winner];
      CHECK(lost.code() == StatusCode::kWrongExpectedVersion);
      CHECK(lost.message().find("changed underneath its writer") != std::string_view::npos);
      const std::string by = "round " + std::to_string(round) + " by ";
      CHECK(storages[1 - winner]->get(p, 1, "m", "winner").value() ==
            std::optional<std::string>("store " + std::to_string(winner)));
      CHECK(storages[0]->get(p, 1, "m", by + std::to_string(winner)).value().has_value());
      CHECK(!storages[0]->get(p, 1, "m", by + std::to_string(1 - winner)).value().has_value());
      expected = state_at(static_cast<std::uint64_t>(round + 1));
    }
  }

  SUBCASE("four projectors on two stores count by compare-and-set: no update is lost") {
    constexpr int kThreads = 4, kAttempts = 30;
    std::atomic<int> committed{0}, conflicts{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ProjectionStorage& storage = *storages[t % 2];
        for (int i = 0; i < kAttempts; ++i) {
          auto state = storage.load_state(p);
          auto counter = storage.get(p, 1, "m", "counter");
          if (!state.ok() || !counter.ok()) {
            ++errors;
            continue;
          }
          const int n = *counter ? std::stoi(**counter) : 0;
          ProjectionWriteBatch b(p);
          b.put(1, "m", "counter", std::to_string(n + 1));
          ProjectionState next = *state ? **state : ProjectionState{};
          next.checkpoint = next.checkpoint.value() + 1;
          b.set_state(*state, next);
          Status s = storage.commit(b);
          if (s.ok()) {
            ++committed;
          } else if (s.code() == StatusCode::kWrongExpectedVersion) {
            ++conflicts;
          } else {
            ++errors;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(errors.load() == 0);
    CHECK(committed.load() + conflicts.load() == kThreads * kAttempts);
    CHECK(committed.load() > 0);
    CHECK(one->projection_storage().load_state(p).value()->checkpoint == static_cast<std::uint64_t>(committed.load()));
    CHECK(two->projection_storage().get(p, 1, "m", "counter").value() ==
          std::optional<std::string>(std::to_string(committed.load())));
  }
}

TEST_CASE(
    "a projection batch of 5,000 rows commits whole, scans back in key order, and a paged scan keeps one snapshot") {
  pgtest::TestSchema schema;
  auto store = schema.open();
  auto other = schema.open();
  ProjectionStorage& storage = store->projection_storage();
  const std::string p = "orders.by_id";
  constexpr int kRows = 5000;

  ProjectionWriteBatch b(p);
  for (int i = 0; i < kRows; ++i) {
    const int k = (i * 7919) % kRows;  // a permutation: rows are not written in key order
    b.put(1, "orders", row_key(k), "v" + std::to_string(k));
  }
  b.put(1, "orders-archive", row_key(1), "another read model");
  b.set_state(std::nullopt, state_at(kRows));
  REQUIRE(storage.commit(b).ok());

  std::vector<std::string> keys = scan_keys(storage, p, kServingGeneration, "orders");
  REQUIRE(keys.size() == kRows);
  for (int i = 0; i < kRows; ++i) REQUIRE(keys[static_cast<std::size_t>(i)] == row_key(i));
  CHECK(storage.get(p, kServingGeneration, "orders", row_key(4999)).value() == std::optional<std::string>("v4999"));

  // Around the page size: the lengths that fit one statement and those that do not.
  for (std::size_t n : {999u, 1000u, 1001u, 2000u, 2001u, 4999u}) {
    INFO("max_count ", n);
    keys = scan_keys(storage, p, 1, "orders", "", ScanOptions{"", n});
    REQUIRE(keys.size() == n);
    CHECK(keys.back() == row_key(static_cast<int>(n) - 1));
  }
  keys = scan_keys(storage, p, 1, "orders", "", ScanOptions{row_key(999), 1500});
  REQUIRE(keys.size() == 1500);
  CHECK(keys.front() == row_key(1000));
  CHECK(keys.back() == row_key(2499));
  keys = scan_keys(storage, p, kServingGeneration, "orders", "r01", ScanOptions{row_key(1499), 10'000});
  REQUIRE(keys.size() == 500);
  CHECK(keys.front() == row_key(1500));
  CHECK(keys.back() == row_key(1999));

  // While the scan runs, another store swaps in a new generation and drops this one: the scan still
  // delivers the generation it started on, whole, from the snapshot its first page was read in.
  std::size_t seen = 0;
  Status swapped;
  Status scanned = storage.scan(p, kServingGeneration, "orders", "", {}, [&](std::string_view k, std::string_view v) {
    if (seen == 0) {
      ProjectionWriteBatch swap(p);
      swap.drop_generation(1);
      swap.put(2, "orders", "new", "x");
      swap.set_state(state_at(kRows), state_at(kRows + 1, 2));
      swapped = other->projection_storage().commit(swap);
    }
    CHECK(k == row_key(static_cast<int>(seen)));
    CHECK(v == "v" + std::to_string(seen));
    ++seen;
    return Status();
  });
  REQUIRE(scanned.ok());
  REQUIRE(swapped.ok());
  CHECK(seen == kRows);
  CHECK(render_rows(storage, p, kServingGeneration, "orders") == "new=x\n");
  CHECK(render_rows(storage, p, 1, "orders") == "");
  CHECK(render_rows(storage, p, 1, "orders-archive") == "");
}

TEST_CASE("a projection commit sent in several statements that fails in its last one leaves nothing behind") {
  pgtest::TestSchema schema;
  auto store = schema.open();
  ProjectionStorage& storage = store->projection_storage();
  const std::string s = "\"" + schema.schema() + "\"";
  const std::string p = "catalogue";
  // 3,000 rows of 4 KiB: more than one statement's worth, so the rows go in two statements before the
  // state is written in the last.
  ProjectionWriteBatch b(p);
  for (int i = 0; i < 3000; ++i) b.put(1, "items", row_key(i), std::string(4096, static_cast<char>('a' + i % 26)));
  b.park(parked_event(1, 7));
  b.set_state(std::nullopt, state_at(3000));

  run_sql(schema.url(), "CREATE FUNCTION " + s +
                            ".refuse() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'refused by the "
                            "test'; END$$; CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON " +
                            s + ".projection_states FOR EACH ROW EXECUTE FUNCTION " + s + ".refuse()");
  Status failed = storage.commit(b);
  CHECK(failed.code() == StatusCode::kIOError);
  CHECK(failed.message().find("refused by the test") != std::string_view::npos);
  CHECK(failed.message().find("catalogue") != std::string_view::npos);
  CHECK(run_sql(schema.url(), "SELECT count(*) FROM " + s + ".projection_rows") == "0");
  CHECK(run_sql(schema.url(), "SELECT count(*) FROM " + s + ".projection_parked") == "0");
  CHECK(!storage.load_state(p).value().has_value());
  CHECK(storage.list_projections().value().empty());

  run_sql(schema.url(), "DROP TRIGGER refuse ON " + s + ".projection_states");
  REQUIRE(storage.commit(b).ok());
  CHECK(run_sql(schema.url(), "SELECT count(*) FROM " + s + ".projection_rows") == "3000");
  CHECK(scan_keys(storage, p, kServingGeneration, "items").size() == 3000);
  CHECK(storage.get(p, 1, "items", row_key(2999)).value() ==
        std::optional<std::string>(std::string(4096, 'a' + 2999 % 26)));
  CHECK(storage.list_parked(p, kServingGeneration, 0, 10).value().size() == 1);
}

TEST_CASE("projection names, keys and values are bytes: every byte value round-trips and names sort bytewise") {
  pgtest::TestSchema schema;
  auto store = schema.open();
  ProjectionStorage& storage = store->projection_storage();
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  const std::string with_nul("p\0q", 3);
  const std::string not_utf8 = "\xc3\x28 latin-1 caf\xe9";
  const std::string all_ff(kMaxProjectionNameBytes, '\xff');
  const std::string ff_model(kMaxReadModelNameBytes, '\xff');
  constexpr Generation kLast = ~Generation{0};

  for (const std::string& name : {with_nul, not_utf8, std::string("p"), all_ff}) {
    ProjectionWriteBatch b(name);
    b.put(1, std::string("m\0odel", 6), every_byte, every_byte);
    b.put(1, "m", "k", "of " + name);
    b.set_state(std::nullopt, state_at(1));
    REQUIRE(storage.commit(b).ok());
  }
  CHECK(storage.list_projections().value() == std::vector<std::string>{"p", with_nul, not_utf8, all_ff});
  for (const std::string& name : {with_nul, not_utf8, std::string("p"), all_ff}) {
    CHECK(storage.get(name, kServingGeneration, std::string("m\0odel", 6), every_byte).value() ==
          std::optional<std::string>(every_byte));
    CHECK(render_rows(storage, name, 1, "m") == "k=of " + name + "\n");
  }
  std::string seen;
  REQUIRE(storage
              .scan(with_nul, 1, std::string("m\0odel", 6), std::string("\0\x01", 2), {},
                    [&](std::string_view k, std::string_view v) -> Status {
                      CHECK(k == every_byte);
                      seen = v;
                      return {};
                    })
              .ok());
  CHECK(seen == every_byte);

  // The last generation and a read model of 0xff bytes: ranges with no end key.
  ProjectionWriteBatch last(all_ff);
  last.put(kLast, "m", "k", "last generation");
  last.put(kLast, ff_model, "\xff\xff", "all 0xff");
  last.put(kLast, ff_model, "\xff", "shorter");
  last.put(kLast, ff_model, "\xfe", "lower");
  last.park(parked_event(kLast, Position(~std::uint64_t{0})));
  REQUIRE(storage.commit(last).ok());
  CHECK(render_rows(storage, all_ff, kLast, ff_model, "\xff") == "\xff=shorter\n\xff\xff=all 0xff\n");
  CHECK(render_rows(storage, all_ff, kLast, ff_model, "\xff\xff") == "\xff\xff=all 0xff\n");
  CHECK(render_rows(storage, all_ff, kLast, ff_model, "\xff", ScanOptions{"\xff", 5}) == "\xff\xff=all 0xff\n");
  CHECK(storage.list_parked(all_ff, kLast, 0, 10).value().size() == 1);
  CHECK(storage.get_parked(all_ff, kLast, Position(~std::uint64_t{0})).value().has_value());
  ProjectionWriteBatch drop_last(all_ff);
  drop_last.drop_generation(kLast);
  REQUIRE(storage.commit(drop_last).ok());
  CHECK(render_rows(storage, all_ff, kLast, "m") == "");
  CHECK(render_rows(storage, all_ff, kLast, ff_model) == "");
  CHECK(storage.list_parked(all_ff, kLast, 0, 10).value().empty());
  CHECK(render_rows(storage, all_ff, 1, "m") == "k=of " + all_ff + "\n");

  REQUIRE(storage.drop_projection(all_ff).ok());
  REQUIRE(storage.drop_projection(with_nul).ok());
  CHECK(render_rows(storage, all_ff, 1, "m") == "");
  CHECK(storage.list_projections().value() == std::vector<std::string>{"p", not_utf8});
  CHECK(storage.get("p", 1, std::string("m\0odel", 6), every_byte).value() == std::optional<std::string>(every_byte));
}

TEST_CASE(
    "a connection the server dropped while idle in the pool is replaced before use: the next commit goes through") {
  pgtest::TestSchema schema;
  PgEventStore::Options options = schema.options();
  const std::string app = "strata-" + schema.schema();
  options.conninfo = with_application_name(schema.url(), app);
  options.pool_size = 1;
  auto store = pgtest::TestSchema::open(options);
  ProjectionStorage& storage = store->projection_storage();
  const std::string p = "bank.balances";
  ProjectionWriteBatch first(p);
  first.put(1, "accounts", "a", "1");
  first.set_state(std::nullopt, state_at(1));
  REQUIRE(storage.commit(first).ok());

  // The server ends the store's connections (an administrator, a failover, a restart), and waits until
  // they are gone.
  CHECK(run_sql(schema.url(),
                "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE "
                "application_name = '" +
                    app + "'") != "0");
  ProjectionWriteBatch next(p);
  next.put(1, "accounts", "a", "2");
  next.put(1, "accounts", "b", "2");
  next.set_state(state_at(1), state_at(2));
  // The pool notices that the server closed its idle connection and makes a new one.
  REQUIRE(storage.commit(next).ok());
  CHECK(storage.load_state(p).value() == std::optional<ProjectionState>(state_at(2)));
  CHECK(render_rows(storage, p, kServingGeneration, "accounts") == "a=2\nb=2\n");
}
