// The projection storage suite (projection_storage_conformance.h), compiled once for every backend that runs it.
#include "conformance/projection_storage_conformance.h"

namespace strata::conformance {

void projection_storage_conformance(ProjectionStorageFixture& fixture) {
  using namespace strata;
  using namespace strata::conformance;
  std::unique_ptr<ProjectionStorage> storage = fixture.open();
  REQUIRE(storage != nullptr);
  const std::string p = "bank.balances";

  SUBCASE("a projection that never committed has no state, no rows and no parked events") {
    CHECK(!storage->load_state(p).value().has_value());
    CHECK(!storage->get(p, kServingGeneration, "accounts", "a").value().has_value());
    CHECK(render_rows(*storage, p, kServingGeneration, "accounts") == "");
    CHECK(storage->list_parked(p, kServingGeneration, 0, 10).value().empty());
    CHECK(storage->list_projections().value().empty());
  }

  SUBCASE("a committed batch makes its rows and its state visible together") {
    ProjectionWriteBatch batch(p);
    batch.put(1, "accounts", "account-1", "100");
    batch.put(1, "accounts", "account-2", "200");
    batch.set_state(std::nullopt, state_at(7));
    REQUIRE(storage->commit(batch).ok());
    CHECK(storage->load_state(p).value() == std::optional<ProjectionState>(state_at(7)));
    CHECK(storage->get(p, 1, "accounts", "account-1").value() == std::optional<std::string>("100"));
    CHECK(storage->get(p, kServingGeneration, "accounts", "account-2").value() == std::optional<std::string>("200"));
    CHECK(storage->list_projections().value() == std::vector<std::string>{p});
  }

  SUBCASE("a batch whose expected state is stale returns kWrongExpectedVersion and writes nothing") {
    ProjectionWriteBatch first(p);
    first.set_state(std::nullopt, state_at(5));
    REQUIRE(storage->commit(first).ok());

    ProjectionWriteBatch stale(p);
    stale.put(1, "accounts", "account-1", "100");
    stale.park(parked_event(1, 4));
    stale.set_state(state_at(3), state_at(9));
    Status s = storage->commit(stale);
    CHECK(s.code() == StatusCode::kWrongExpectedVersion);
    CHECK(s.message().find("bank.balances") != std::string_view::npos);
    CHECK(storage->load_state(p).value() == std::optional<ProjectionState>(state_at(5)));
    CHECK(!storage->get(p, 1, "accounts", "account-1").value().has_value());
    CHECK(storage->list_parked(p, 1, 0, 10).value().empty());

    ProjectionWriteBatch creating_again(p);
    creating_again.set_state(std::nullopt, state_at(1));
    CHECK(storage->commit(creating_again).code() == StatusCode::kWrongExpectedVersion);
  }

  SUBCASE("a batch without a state change commits whatever the state is") {
    ProjectionWriteBatch first(p);
    first.set_state(std::nullopt, state_at(5));
    REQUIRE(storage->commit(first).ok());
    ProjectionWriteBatch rows_only(p);
    rows_only.put(1, "accounts", "k", "v");
    REQUIRE(storage->commit(rows_only).ok());
    CHECK(storage->get(p, 1, "accounts", "k").value() == std::optional<std::string>("v"));
    CHECK(storage->load_state(p).value() == std::optional<ProjectionState>(state_at(5)));
  }

  SUBCASE("erase removes a row and the last write to a row in a batch wins") {
    ProjectionWriteBatch b1(p);
    b1.put(1, "m", "a", "1");
    b1.put(1, "m", "b", "2");
    b1.put(1, "m", "b", "3");
    REQUIRE(storage->commit(b1).ok());
    ProjectionWriteBatch b2(p);
    b2.erase(1, "m", "a");
    b2.erase(1, "m", "never-written");
    b2.put(1, "m", "c", "4");
    b2.erase(1, "m", "c");
    REQUIRE(storage->commit(b2).ok());
    CHECK(render_rows(*storage, p, 1, "m") == "b=3\n");
  }

  SUBCASE("scans return the rows of one read model with the prefix in key order, paged by start_after") {
    ProjectionWriteBatch b(p);
    for (std::string k : {"7/b", "7/a", "70", "7/c", "8/a", "6/z", "7"}) b.put(1, "orders", k, "v" + k);
    b.put(1, "orders-archive", "7/a", "other model");
    b.put(1, "order", "s7/a", "shorter model name, same bytes");
    b.put(2, "orders", "7/a", "other generation");
    REQUIRE(storage->commit(b).ok());
    CHECK(render_rows(*storage, p, 1, "orders", "7/") == "7/a=v7/a\n7/b=v7/b\n7/c=v7/c\n");
    CHECK(render_rows(*storage, p, 1, "orders", "7") == "7=v7\n7/a=v7/a\n7/b=v7/b\n7/c=v7/c\n70=v70\n");
    CHECK(render_rows(*storage, p, 1, "orders", "7/", ScanOptions{"7/a", 1}) == "7/b=v7/b\n");
    CHECK(render_rows(*storage, p, 1, "orders", "7/", ScanOptions{"7/c", 10}) == "");
    CHECK(render_rows(*storage, p, 1, "orders", "7/", ScanOptions{"0", 2}) == "7/a=v7/a\n7/b=v7/b\n");
    CHECK(render_rows(*storage, p, 1, "orders") == "6/z=v6/z\n7=v7\n7/a=v7/a\n7/b=v7/b\n7/c=v7/c\n70=v70\n8/a=v8/a\n");
    CHECK(render_rows(*storage, p, 1, "order") == "s7/a=shorter model name, same bytes\n");
    CHECK(render_rows(*storage, p, 2, "orders") == "7/a=other generation\n");
  }

  SUBCASE("keys are bytes: embedded zero and 0xff bytes sort and scan bytewise") {
    const std::string zero("a\0b", 3);
    const std::string high = "a\xff";
    ProjectionWriteBatch b(p);
    b.put(1, "m", high, "high");
    b.put(1, "m", zero, "zero");
    b.put(1, "m", "a", "plain");
    b.put(1, "m", "b", "next");
    REQUIRE(storage->commit(b).ok());
    std::vector<std::string> keys;
    REQUIRE(storage
                ->scan(p, 1, "m", "a", {},
                       [&](std::string_view k, std::string_view) -> Status {
                         keys.emplace_back(k);
                         return {};
                       })
                .ok());
    CHECK(keys == std::vector<std::string>{"a", zero, high});
    CHECK(storage->get(p, 1, "m", zero).value() == std::optional<std::string>("zero"));
  }

  SUBCASE("a scan stops at the first error its visitor returns and returns it") {
    ProjectionWriteBatch b(p);
    for (int i = 0; i < 5; ++i) b.put(1, "m", std::to_string(i), "v");
    REQUIRE(storage->commit(b).ok());
    int seen = 0;
    Status s = storage->scan(p, 1, "m", "", {}, [&](std::string_view, std::string_view) -> Status {
      return ++seen == 2 ? Status::cancelled("enough") : Status();
    });
    CHECK(s.code() == StatusCode::kCancelled);
    CHECK(seen == 2);
  }

  SUBCASE("reads through a batch see the batch's own writes and erases over the committed rows") {
    ProjectionWriteBatch committed(p);
    for (int i = 0; i < 600; ++i) committed.put(1, "m", fmt_key(i), "old");
    REQUIRE(storage->commit(committed).ok());

    ProjectionWriteBatch b(p);
    b.put(1, "m", fmt_key(5), "new");
    b.erase(1, "m", fmt_key(6));
    b.put(1, "m", fmt_key(600), "added");
    b.put(1, "m", fmt_key(300) + "x", "between");
    b.erase(1, "m", fmt_key(256));
    CHECK(b.get(*storage, 1, "m", fmt_key(5)).value() == std::optional<std::string>("new"));
    CHECK(!b.get(*storage, 1, "m", fmt_key(6)).value().has_value());
    CHECK(b.get(*storage, 1, "m", fmt_key(7)).value() == std::optional<std::string>("old"));
    CHECK(storage->get(p, 1, "m", fmt_key(5)).value() == std::optional<std::string>("old"));

    std::vector<std::string> keys;
    std::string values;
    REQUIRE(b.scan(*storage, 1, "m", "", {}, [&](std::string_view k, std::string_view v) -> Status {
               keys.emplace_back(k);
               if (v != "old") values.append(k).append("=").append(v).append(" ");
               return {};
             }).ok());
    CHECK(keys.size() == 600 - 2 + 2);
    CHECK(std::is_sorted(keys.begin(), keys.end()));
    CHECK(values == "k0005=new k0300x=between k0600=added ");
    CHECK(render_batch_rows(b, *storage, 1, "m", "k000", ScanOptions{"k0004", 3}) ==
          "k0005=new\nk0007=old\nk0008=old\n");
    CHECK(render_batch_rows(b, *storage, 1, "m", "", ScanOptions{"k0599", 10}) == "k0600=added\n");
  }

  SUBCASE("rollback to a mark undoes the row writes made after it") {
    ProjectionWriteBatch committed(p);
    committed.put(1, "m", "a", "committed");
    REQUIRE(storage->commit(committed).ok());
    ProjectionWriteBatch b(p);
    b.put(1, "m", "b", "kept");
    const std::size_t mark = b.mark();
    b.put(1, "m", "a", "dropped");
    b.put(1, "m", "b", "dropped");
    b.erase(1, "m", "b");
    b.put(1, "m", "c", "dropped");
    b.rollback(mark);
    REQUIRE(storage->commit(b).ok());
    CHECK(render_rows(*storage, p, 1, "m") == "a=committed\nb=kept\n");
  }

  SUBCASE("serving reads follow the state's generation, and a swap drops the old generation in the same commit") {
    ProjectionWriteBatch g1(p);
    g1.put(1, "m", "a", "gen1");
    g1.park(parked_event(1, 3));
    ProjectionState s1 = state_at(10);
    g1.set_state(std::nullopt, s1);
    REQUIRE(storage->commit(g1).ok());

    ProjectionWriteBatch shadow(p);
    shadow.put(2, "m", "a", "gen2");
    shadow.put(2, "m", "b", "gen2");
    ProjectionState s2 = s1;
    s2.shadow_generation = 2;
    s2.shadow_checkpoint = 10;
    shadow.set_state(s1, s2);
    REQUIRE(storage->commit(shadow).ok());
    CHECK(render_rows(*storage, p, kServingGeneration, "m") == "a=gen1\n");
    CHECK(render_rows(*storage, p, 2, "m") == "a=gen2\nb=gen2\n");

    ProjectionWriteBatch swap(p);
    swap.drop_generation(1);
    swap.set_state(s2, state_at(10, 2));
    REQUIRE(storage->commit(swap).ok());
    CHECK(render_rows(*storage, p, kServingGeneration, "m") == "a=gen2\nb=gen2\n");
    CHECK(render_rows(*storage, p, 1, "m") == "");
    CHECK(storage->list_parked(p, 1, 0, 10).value().empty());
    CHECK(storage->get(p, kServingGeneration, "m", "b").value() == std::optional<std::string>("gen2"));
  }

  SUBCASE("a batch may drop a generation and fill it again: the drop comes first") {
    ProjectionWriteBatch old(p);
    old.put(3, "m", "stale", "x");
    REQUIRE(storage->commit(old).ok());
    ProjectionWriteBatch b(p);
    b.drop_generation(3);
    b.put(3, "m", "fresh", "y");
    REQUIRE(storage->commit(b).ok());
    CHECK(render_rows(*storage, p, 3, "m") == "fresh=y\n");
  }

  SUBCASE("parked events are kept per generation with every field, listed in position order, and unparked") {
    ProjectionWriteBatch b(p);
    b.park(parked_event(1, 30));
    b.park(parked_event(1, 10));
    b.park(parked_event(1, 20, "second error"));
    b.park(parked_event(2, 15));
    b.set_state(std::nullopt, state_at(30));
    REQUIRE(storage->commit(b).ok());
    auto all = storage->list_parked(p, kServingGeneration, 0, 10).value();
    REQUIRE(all.size() == 3);
    CHECK(all[0].event.position == 10);
    CHECK(all[1].event.position == 20);
    CHECK(all[2].event.position == 30);
    CHECK(all[1].error.code() == StatusCode::kInvalidArgument);
    CHECK(all[1].error.message() == "second error");
    CHECK(storage->list_parked(p, 1, 10, 1).value().at(0).event.position == 20);
    CHECK(storage->list_parked(p, 2, 0, 10).value().size() == 1);

    auto one = storage->get_parked(p, 1, 20).value();
    REQUIRE(one.has_value());
    ParkedEvent expected = parked_event(1, 20, "second error");
    expected.event.id = one->event.id;
    CHECK(*one == expected);
    CHECK(one->event.metadata.correlation_id == "req-7");
    CHECK(!storage->get_parked(p, 1, 15).value().has_value());

    ProjectionWriteBatch u(p);
    u.unpark(1, 20);
    u.unpark(1, 99);
    REQUIRE(storage->commit(u).ok());
    CHECK(storage->list_parked(p, 1, 0, 10).value().size() == 2);
    CHECK(!storage->get_parked(p, 1, 20).value().has_value());
  }

  SUBCASE("a malformed batch returns kInvalidArgument and writes nothing") {
    ProjectionWriteBatch empty_model(p);
    empty_model.put(1, "good", "k", "v");
    empty_model.put(1, "", "k", "v");
    CHECK(storage->commit(empty_model).code() == StatusCode::kInvalidArgument);
    CHECK(!storage->get(p, 1, "good", "k").value().has_value());

    ProjectionWriteBatch generation_zero(p);
    generation_zero.put(0, "m", "k", "v");
    CHECK(storage->commit(generation_zero).code() == StatusCode::kInvalidArgument);

    ProjectionWriteBatch long_model(p);
    long_model.put(1, std::string(kMaxReadModelNameBytes + 1, 'm'), "k", "v");
    CHECK(storage->commit(long_model).code() == StatusCode::kInvalidArgument);

    ProjectionWriteBatch no_name("");
    no_name.set_state(std::nullopt, state_at(1));
    CHECK(storage->commit(no_name).code() == StatusCode::kInvalidArgument);

    ProjectionWriteBatch parked_without_error(p);
    ParkedEvent pe = parked_event(1, 4);
    pe.error = Status();
    parked_without_error.park(pe);
    CHECK(storage->commit(parked_without_error).code() == StatusCode::kInvalidArgument);
    CHECK(storage->list_projections().value().empty());
  }

  SUBCASE("projections are isolated from each other, and dropping one leaves the others") {
    ProjectionWriteBatch a(p);
    a.put(1, "m", "k", "from a");
    a.set_state(std::nullopt, state_at(1));
    REQUIRE(storage->commit(a).ok());
    ProjectionWriteBatch b("movies.visible");
    b.put(1, "m", "k", "from b");
    b.set_state(std::nullopt, state_at(2));
    REQUIRE(storage->commit(b).ok());
    CHECK(storage->get(p, 1, "m", "k").value() == std::optional<std::string>("from a"));
    CHECK(storage->list_projections().value() == std::vector<std::string>{"bank.balances", "movies.visible"});
    REQUIRE(storage->drop_projection(p).ok());
    CHECK(!storage->load_state(p).value().has_value());
    CHECK(!storage->get(p, 1, "m", "k").value().has_value());
    CHECK(storage->get("movies.visible", 1, "m", "k").value() == std::optional<std::string>("from b"));
    CHECK(storage->drop_projection("never-existed").ok());
  }

  if (fixture.durable()) {
    SUBCASE("everything committed is there after a reopen") {
      ProjectionWriteBatch b(p);
      b.put(1, "m", "k", "v");
      b.park(parked_event(1, 2));
      b.set_state(std::nullopt, state_at(2));
      REQUIRE(storage->commit(b).ok());
      storage.reset();
      storage = fixture.open();
      REQUIRE(storage != nullptr);
      CHECK(storage->load_state(p).value() == std::optional<ProjectionState>(state_at(2)));
      CHECK(storage->get(p, kServingGeneration, "m", "k").value() == std::optional<std::string>("v"));
      CHECK(storage->get_parked(p, 1, 2).value().has_value());
    }
  }
}

}  // namespace strata::conformance
