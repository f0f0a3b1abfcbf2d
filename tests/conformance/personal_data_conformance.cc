// The personal data suite (personal_data_conformance.h), compiled once for every backend that runs it.
#include "conformance/personal_data_conformance.h"

namespace strata::conformance {

void personal_data_conformance(StoreFixture& fixture) {
  using namespace strata;
  using namespace strata::conformance;
  using namespace strata::conformance::personal;
  std::unique_ptr<EventStore> store = fixture.open();
  REQUIRE(store != nullptr);
  REQUIRE(store->personal_data() != nullptr);
  const StreamId ann = sid("customer-ann");
  const StreamId bob = sid("customer-bob");
  auto save_customer = [&](const StreamId& id, std::string customer, std::string email, std::int64_t age,
                           std::string address) {
    Repository<Customer> repo(*store);
    Customer c = repo.create(id);
    c.register_as(std::move(customer), std::move(email), age);
    c.move(std::move(address));
    REQUIRE(repo.save(c).ok());
  };
  save_customer(ann, "c-ann", "ann@example.com", 41, "1 Elm Street");
  save_customer(bob, "c-bob", "bob@example.com", 37, "2 Oak Road");

  SUBCASE("personal fields read back as they were written, through every read") {
    Repository<Customer> repo(*store);
    Customer c = repo.load(ann).value();
    CHECK(c.email() == "ann@example.com");
    CHECK(c.age() == 41);
    CHECK(c.address() == "1 Elm Street");
    CHECK(payloads(*store, ann) ==
          "{\"customer\":\"c-ann\",\"email\":\"ann@example.com\",\"age\":41,\"plan\":\"gold\"}\n"
          "{\"customer\":\"c-ann\",\"address\":\"1 Elm Street\"}\n");
    auto log = store->read_log(0, 10).value();
    REQUIRE(log.events.size() == 4);
    CHECK(log.events[2].payload.find("bob@example.com") != std::string::npos);
  }

  SUBCASE("forgetting a subject redacts its fields everywhere, keeps the events, and leaves others alone") {
    const Position head = store->head_position();
    CHECK(store->personal_data()->forget("c-ann").value() == true);
    CHECK(store->personal_data()->forget("c-ann").value() == false);  // again: nothing more to destroy
    CHECK(payloads(*store, ann) ==
          "{\"customer\":\"c-ann\",\"email\":\"strata.redacted\",\"age\":\"strata.redacted\",\"plan\":\"gold\"}\n"
          "{\"customer\":\"c-ann\",\"address\":\"strata.redacted\"}\n");
    auto log = store->read_log(0, 10).value();
    REQUIRE(log.events.size() == 4);
    CHECK(log.events[0].payload.find("ann@example.com") == std::string::npos);
    CHECK(log.events[2].payload.find("bob@example.com") != std::string::npos);
    CHECK(store->head_position() == head);
    CHECK(store->stream_head(ann).value() == 2);
    std::size_t visited = 0;
    REQUIRE(store
                ->visit_stream(ann, 1, kEndOfStream,
                               [&](const EventView& e) {
                                 ++visited;
                                 CHECK(e.payload.find("strata.redacted") != std::string_view::npos);
                                 return Status();
                               })
                .ok());
    CHECK(visited == 2);

    // The aggregate still loads: its personal fields hold their default values.
    Repository<Customer> repo(*store);
    Customer c = repo.load(ann).value();
    CHECK(c.version() == 2);
    CHECK(c.email().empty());
    CHECK(c.age() == 0);
    CHECK(c.address().empty());
    CHECK(c.plan() == "gold");
    CHECK(repo.load(bob).value().email() == "bob@example.com");

    // No new personal data of a forgotten subject.
    c.move("3 Pine Lane");
    auto refused = repo.save(c);
    CHECK(refused.status().code() == StatusCode::kInvalidArgument);
    CHECK(refused.status().message().find("subject \"c-ann\" was forgotten") != std::string_view::npos);
    CHECK(store->head_position() == head);
  }

  SUBCASE("snapshots seal the state's personal fields, and a forgotten subject's snapshot loads redacted") {
    if (store->snapshot_store() == nullptr) return;
    Repository<Customer> repo(*store);
    Customer c = repo.load(ann).value();
    REQUIRE(repo.snapshot(c).ok());
    // Loaded from the snapshot alone: the state is as it was.
    Customer from_snapshot = repo.load(ann).value();
    CHECK(repo.snapshot_stats().loaded.load() == 1);
    CHECK(from_snapshot.email() == "ann@example.com");
    CHECK(from_snapshot.address() == "1 Elm Street");
    REQUIRE(store->personal_data()->forget("c-ann").ok());
    Customer redacted = repo.load(ann).value();
    CHECK(repo.snapshot_stats().loaded.load() == 2);
    CHECK(redacted.email().empty());
    CHECK(redacted.age() == 0);
    CHECK(redacted.address().empty());
    CHECK(redacted.plan() == "gold");
    CHECK(redacted.version() == 2);
  }

  SUBCASE("damaged or foreign ciphertext is a typed error, never data") {
    // A token sealed with another key than the subject's.
    MemorySubjectKeyStore other_keys;
    PersonalData other(other_keys);
    std::string token;
    REQUIRE(other.seal("c-bob", "\"mallory@example.com\"", token).ok());  // sealed with another key
    const StreamId forged = sid("customer-forged");
    REQUIRE(store
                ->append(forged, ExpectedVersion::no_stream(),
                         EventData{EventId::generate(),
                                   "test.customer.moved.v1",
                                   "{\"customer\":\"c-bob\",\"address\":" + token + "}",
                                   {}})
                .ok());
    auto read = store->read_stream(forged, ReadDirection::kForward, 0, 10);
    CHECK(read.status().code() == StatusCode::kCorruption);
    CHECK(read.status().message().find("does not open with the subject's key") != std::string_view::npos);

    std::string damaged = token;
    damaged[damaged.size() - 6] = damaged[damaged.size() - 6] == 'A' ? 'B' : 'A';
    const StreamId broken = sid("customer-broken");
    REQUIRE(store
                ->append(broken, ExpectedVersion::no_stream(),
                         EventData{EventId::generate(),
                                   "test.customer.moved.v1",
                                   "{\"customer\":\"c-nobody\",\"address\":" + damaged + "}",
                                   {}})
                .ok());
    CHECK(store->read_stream(broken, ReadDirection::kForward, 0, 10).status().code() == StatusCode::kCorruption);
    CHECK(Repository<Customer>(*store).load(broken).status().code() == StatusCode::kCorruption);
    // The other streams read as before.
    CHECK(Repository<Customer>(*store).load(bob).value().email() == "bob@example.com");
  }

  SUBCASE("an event with personal fields needs a store that keeps keys") {
    auto data = to_event_data(Moved{"c-ann", "somewhere"}, EventId::generate(), {}, nullptr);
    CHECK(data.status().code() == StatusCode::kInvalidArgument);
    auto sealed = to_event_data(Moved{"c-carol", "somewhere"}, EventId::generate(), {}, store->personal_data());
    REQUIRE(sealed.ok());
    CHECK(sealed->payload.find("somewhere") == std::string::npos);
    CHECK(sealed->payload.find(kPersonalTokenPrefix) != std::string::npos);
    auto empty = to_event_data(Moved{"", "somewhere"}, EventId::generate(), {}, store->personal_data());
    CHECK(empty.status().code() == StatusCode::kInvalidArgument);
  }

  if (fixture.durable()) {
    SUBCASE("a destroyed key stays destroyed after a reopen, and the others stay usable") {
      REQUIRE(store->personal_data()->forget("c-ann").ok());
      store.reset();
      store = fixture.open();
      REQUIRE(store != nullptr);
      Repository<Customer> repo(*store);
      CHECK(repo.load(ann).value().email().empty());
      CHECK(repo.load(bob).value().email() == "bob@example.com");
      CHECK(payloads(*store, ann).find("ann@example.com") == std::string::npos);
    }
  }
}

}  // namespace strata::conformance
