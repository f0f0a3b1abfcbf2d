#include <doctest/doctest.h>

#include "bank/balances.h"
#include "movies/catalog.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"
#include "strata/projections/memory_projection_storage.h"

TEST_CASE("the bank balances projection shows each account's balance after the demo's commands") {
  strata::MemoryEventStore store;
  strata::MemoryProjectionStorage storage;
  strata::Repository<bank::Account> accounts(store);
  bank::Account alice = accounts.create(strata::StreamId::parse("account-alice").value());
  REQUIRE(alice.open("Alice").ok());
  REQUIRE(alice.deposit(10'000).ok());
  REQUIRE(alice.withdraw(3'050).ok());
  REQUIRE(accounts.save(alice).ok());
  bank::Account bob = accounts.create(strata::StreamId::parse("account-bob").value());
  REQUIRE(bob.open("Bob").ok());
  REQUIRE(bob.deposit(5).ok());
  REQUIRE(accounts.save(bob).ok());

  auto shown = bank::show_balances(store, storage);
  REQUIRE(shown.ok());
  CHECK(*shown ==
        "account-alice  Alice  balance 69.50  (1 deposits, 1 withdrawals)\n"
        "account-bob  Bob  balance 0.05  (1 deposits, 0 withdrawals)\n"
        "projection bank.balances: live at position 5 of 5, 5 events applied\n");
}

TEST_CASE("the visible movies projection shows each region the licensed, visible, unwithdrawn titles") {
  strata::MemoryEventStore store;
  strata::MemoryProjectionStorage storage;
  auto shown = movies::show_catalog(store, storage);
  REQUIRE(shown.ok());
  const std::string expected =
      "DE sees: Metropolis (1927), The General (1926)\n"
      "FR sees: Metropolis (1927)\n"
      "US sees: The General (1926)\n"
      "hidden: Nosferatu (not licensed), Sunrise (withdrawn: rights dispute)\n"
      "projection movies.visible: live at position 13 of 13, 13 events applied, 0 skipped\n";
  CHECK(*shown == expected);

  // Running it again records nothing new and shows the same (the projection continues from its checkpoint).
  auto again = movies::show_catalog(store, storage);
  REQUIRE(again.ok());
  CHECK(store.head_position() == 13);
  CHECK(again->substr(0, again->find("projection")) == expected.substr(0, expected.find("projection")));
}
