#include "strata/core/upcaster.h"

#include <doctest/doctest.h>

#include "strata/core/event_registry.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"

namespace v1 {
// What last year's build knew.
struct Opened {
  static constexpr std::string_view kType = "shop.opened.v1";
  std::string owner;
  static constexpr auto kFields = strata::fields(strata::field("owner", &Opened::owner));
  bool operator==(const Opened&) const = default;
};
struct Paid {
  static constexpr std::string_view kType = "shop.paid.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("cents", &Paid::cents));
  bool operator==(const Paid&) const = default;
};
struct OpenedWithPayment {  // later split into Opened + Paid
  static constexpr std::string_view kType = "shop.opened_with_payment.v1";
  std::string owner;
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("owner", &OpenedWithPayment::owner),
                                                 strata::field("cents", &OpenedWithPayment::cents));
};
struct Audited {  // retired since
  static constexpr std::string_view kType = "shop.audited.v1";
  std::string by;
  static constexpr auto kFields = strata::fields(strata::field("by", &Audited::by));
};

class Shop : public strata::Aggregate<Shop, strata::Events<Opened, Paid, OpenedWithPayment, Audited>> {
 public:
  void open(std::string owner) { record(Opened{std::move(owner)}); }
  void pay(std::int64_t cents) { record(Paid{cents}); }
  void open_paid(std::string owner, std::int64_t cents) { record(OpenedWithPayment{std::move(owner), cents}); }
  void audit() { record(Audited{"ops"}); }

 private:
  friend Aggregate;
  void apply(const Opened&) {}
  void apply(const Paid&) {}
  void apply(const OpenedWithPayment&) {}
  void apply(const Audited&) {}
};
}  // namespace v1

namespace v3 {
// This year's build: Paid went v1 -> v2 (currency) -> v3 (amount in a struct, with a rule).
struct Money {
  std::int64_t cents = 0;
  std::string currency;
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &Money::cents), strata::field("currency", &Money::currency));
  bool operator==(const Money&) const = default;
};
struct PaidV2 {
  static constexpr std::string_view kType = "shop.paid.v2";
  std::int64_t cents = 0;
  std::string currency;
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &PaidV2::cents), strata::field("currency", &PaidV2::currency));
};
struct Paid {
  static constexpr std::string_view kType = "shop.paid.v3";
  Money amount;
  static constexpr auto kFields = strata::fields(
      strata::field("amount", &Paid::amount).require([](const Money& m) { return m.cents > 0; }, "must be positive"));
  bool operator==(const Paid&) const = default;
};
using v1::Opened;

struct PaidV1ToV2 {
  using From = v1::Paid;
  static PaidV2 upcast(const v1::Paid& e) { return {e.cents, "USD"}; }
};
struct PaidV2ToV3 {
  using From = PaidV2;
  static Paid upcast(const PaidV2& e) { return {Money{e.cents, e.currency}}; }
};
struct SplitOpenedWithPayment {
  using From = v1::OpenedWithPayment;
  template <class Emit>
  static void upcast(const v1::OpenedWithPayment& e, Emit& emit) {
    emit(Opened{e.owner});
    emit(v1::Paid{e.cents});  // an old version: it continues along its own chain
  }
};

class Shop
    : public strata::Aggregate<
          Shop, strata::Events<Opened, Paid>,
          strata::Upcasters<PaidV1ToV2, PaidV2ToV3, SplitOpenedWithPayment, strata::Retired<"shop.audited.v1">>> {
 public:
  void pay(std::int64_t cents, std::string currency) { record(Paid{Money{cents, std::move(currency)}}); }
  // The state rendered for comparisons.
  std::string render() const {
    return owner_ + " paid " + std::to_string(total_) + " in " + std::to_string(payments_) + " payments";
  }

 private:
  friend Aggregate;
  void apply(const Opened& e) { owner_ = e.owner; }
  void apply(const Paid& e) {
    total_ += e.amount.cents;
    ++payments_;
  }
  std::string owner_;
  std::int64_t total_ = 0;
  int payments_ = 0;
};
}  // namespace v3

namespace {
strata::StreamId sid(std::string_view s) { return strata::StreamId::parse(s).value(); }
}  // namespace

TEST_CASE("a stream written by v1 code loads in v3 code through upcaster chains, splits and retired types") {
  strata::MemoryEventStore store;
  const auto id = sid("shop-1");
  {
    strata::Repository<v1::Shop> old_code(store);
    v1::Shop shop = old_code.create(id);
    shop.open_paid("Ada", 500);  // split into Opened + Paid(v1) -> v2 -> v3
    shop.pay(250);               // v1 -> v2 -> v3
    shop.audit();                // retired
    REQUIRE(old_code.save(shop).ok());
  }
  strata::Repository<v3::Shop> new_code(store);
  auto shop = new_code.load(id);
  REQUIRE(shop.ok());
  CHECK(shop->render() == "Ada paid 750 in 2 payments");
  CHECK(shop->version() == 3);

  // Mixed versions: new events append after old ones and the stream still loads.
  shop->pay(100, "EUR");
  REQUIRE(new_code.save(*shop).ok());
  CHECK(new_code.load(id).value().render() == "Ada paid 850 in 3 payments");
  auto stored = store.read_stream(id, strata::ReadDirection::kForward, 1, 10).value();
  REQUIRE(stored.events.size() == 4);
  CHECK(stored.events[3].type == "shop.paid.v3");
  CHECK(stored.events[3].payload == R"({"amount":{"cents":100,"currency":"EUR"}})");
}

TEST_CASE("v1 code meeting a v3 event fails with kUnknownEventType naming the type and the position") {
  strata::MemoryEventStore store;
  const auto id = sid("shop-2");
  strata::Repository<v3::Shop> new_code(store);
  v3::Shop shop = new_code.create(id);
  shop.pay(5, "USD");
  REQUIRE(new_code.save(shop).ok());
  strata::Repository<v1::Shop> old_code(store);
  auto loaded = old_code.load(id);
  CHECK(loaded.status().code() == strata::StatusCode::kUnknownEventType);
  CHECK(
      loaded.status().message() ==
      "stream \"shop-2\" version 1 (position 1) has event type \"shop.paid.v3\", which this aggregate does not handle");
}

TEST_CASE("the dispatcher tells which types it knows, so projections can skip the rest unparsed") {
  using D = v3::Shop::Dispatcher;
  CHECK(D::knows("shop.paid.v3"));
  CHECK(D::knows("shop.paid.v1"));
  CHECK(D::knows("shop.paid.v2"));
  CHECK(D::knows("shop.audited.v1"));
  CHECK_FALSE(D::knows("shop.refunded.v1"));
}

TEST_CASE("the registry lists every known type with its version and role") {
  strata::EventRegistry registry;
  registry.add_aggregate<v3::Shop>();
  std::string listing;
  for (const auto& t : registry.types()) {
    const char* role = t.role == strata::EventTypeInfo::Role::kCurrent  ? "current"
                       : t.role == strata::EventTypeInfo::Role::kUpcast ? "upcast"
                                                                        : "retired";
    listing += std::string(t.type) + " v" + std::to_string(t.schema_version) + " " + role + "\n";
  }
  CHECK(listing ==
        "shop.audited.v1 v1 retired\n"
        "shop.opened.v1 v1 current\n"
        "shop.opened_with_payment.v1 v1 upcast\n"
        "shop.paid.v1 v1 upcast\n"
        "shop.paid.v2 v2 upcast\n"
        "shop.paid.v3 v3 current\n");
  REQUIRE(registry.find("shop.paid.v2") != nullptr);
  CHECK(registry.find("shop.paid.v2")->schema_version == 2);
  CHECK(registry.find("nope") == nullptr);
}

TEST_CASE("with a registry as schema, appends are checked against field tables and rules") {
  strata::EventRegistry registry;
  registry.add_aggregate<v3::Shop>();
  strata::Limits limits;
  limits.schema = &registry;
  strata::MemoryEventStore::Options options;
  options.limits = limits;
  strata::MemoryEventStore store(options);
  const auto id = sid("shop-3");
  auto append = [&](std::string type, std::string payload) {
    std::vector<strata::EventData> events{{strata::EventId::generate(), std::move(type), std::move(payload), {}}};
    return store.append(id, strata::ExpectedVersion::any(), events).status();
  };
  CHECK(append("shop.paid.v3", R"({"amount":{"cents":5,"currency":"USD"}})").ok());
  CHECK(append("shop.paid.v3", R"({"amount":{"currency":"USD"}})").message() ==
        "append to stream \"shop-3\", event 0: event \"shop.paid.v3\" does not match its schema: field \"amount\": "
        "missing field \"cents\"");
  CHECK(append("shop.paid.v3", R"({"amount":{"cents":"5","currency":"USD"}})").message() ==
        "append to stream \"shop-3\", event 0: event \"shop.paid.v3\" does not match its schema: field \"amount\": "
        "field \"cents\": expected a signed 64-bit integer, got a string");
  CHECK(append("shop.paid.v3", R"({"amount":{"cents":0,"currency":"USD"}})").message() ==
        "append to stream \"shop-3\", event 0: event \"shop.paid.v3\" does not match its schema: field \"amount\" "
        "must be positive");
  CHECK(append("shop.paid.v1", R"({"cents":5})").message() ==
        "append to stream \"shop-3\", event 0: event type \"shop.paid.v1\" is an old version, read only through an "
        "upcaster: append its current version instead");
  CHECK(append("shop.audited.v1", R"({"by":"x"})").code() == strata::StatusCode::kInvalidArgument);
  CHECK(append("other.thing.v1", R"({"x":1})").ok());  // unknown types pass unless refused
  registry.set_reject_unknown_types(true);
  CHECK(append("other.thing.v1", R"({"x":1})").message() ==
        "append to stream \"shop-3\", event 0: event type \"other.thing.v1\" is not registered");
  CHECK(store.head_position() == 2);
}

TEST_CASE("Repository::save refuses an event that breaks a field rule, naming the type and the field") {
  strata::MemoryEventStore store;
  strata::Repository<v3::Shop> repo(store);
  v3::Shop shop = repo.create(sid("shop-4"));
  shop.pay(-3, "USD");
  auto saved = repo.save(shop);
  CHECK(saved.status().code() == strata::StatusCode::kInvalidArgument);
  CHECK(saved.status().message() ==
        "save of stream \"shop-4\", pending event 0: event \"shop.paid.v3\": field \"amount\" must be positive");
  CHECK(store.head_position() == 0);
}
