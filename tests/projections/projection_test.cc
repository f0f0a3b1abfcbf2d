// Which stored records a typed projection reads, skips or refuses: the old versions of an evolved event,
// which it must upcast or retire as its aggregate does, and types it has nothing to do with.
#include "strata/projections/projection.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/upcaster.h"
#include "strata/projections/memory_projection_storage.h"
#include "strata/projections/projector.h"

namespace {

using strata::MemoryEventStore;
using strata::MemoryProjectionStorage;
using strata::Projector;
using strata::ProjectorOptions;
using strata::ProjectorState;
using strata::StatusCode;

constexpr auto kWait = std::chrono::milliseconds(20'000);

struct DepositedV1 {
  static constexpr std::string_view kType = "test.bank.deposited.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("cents", &DepositedV1::cents));
};

struct Deposited {
  static constexpr std::string_view kType = "test.bank.deposited.v2";
  std::int64_t cents = 0;
  std::string currency;
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &Deposited::cents), strata::field("currency", &Deposited::currency));
};

struct DepositedV1ToV2 {
  using From = DepositedV1;
  static Deposited upcast(const DepositedV1& e) { return {e.cents, "USD"}; }
};

// Not deposits, though the second one's name starts like theirs.
struct Audited {
  static constexpr std::string_view kType = "test.bank.audited.v1";
  std::string memo;
  static constexpr auto kFields = strata::fields(strata::field("memo", &Audited::memo));
};
struct DepositRefunded {
  static constexpr std::string_view kType = "test.bank.deposited.refunded.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("cents", &DepositRefunded::cents));
};

struct Total {
  std::int64_t cents = 0;
  std::int64_t deposits = 0;
  std::int64_t usd_cents = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &Total::cents), strata::field("deposits", &Total::deposits),
                     strata::field("usd_cents", &Total::usd_cents));
};

// Deposits per account; the same projection with and without the upcaster of its one event.
template <class UpcasterList>
class Deposits : public strata::Projection<Deposits<UpcasterList>, strata::Events<Deposited>, UpcasterList> {
 public:
  static constexpr std::string_view kName = "test.bank.deposits";
  static constexpr strata::ReadModel<Total> kTotals{"totals"};

  strata::Status handle(const Deposited& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Total> row, kTotals.get(tx, ctx.stream_id()));
    if (!row) row.emplace();
    row->cents += e.cents;
    row->deposits += 1;
    if (e.currency == "USD") row->usd_cents += e.cents;
    return kTotals.put(tx, ctx.stream_id(), *row);
  }
};
using WithoutUpcaster = Deposits<strata::Upcasters<>>;
using WithUpcaster = Deposits<strata::Upcasters<DepositedV1ToV2>>;
using RetiringV1 = Deposits<strata::Upcasters<strata::Retired<"test.bank.deposited.v1">>>;

template <class E>
strata::Position append(MemoryEventStore& store, std::string_view stream, const E& event) {
  std::vector<strata::EventData> one{strata::to_event_data(event)};
  return store.append(strata::StreamId::parse(stream).value(), strata::ExpectedVersion::any(), one)
      .value()
      .last_position;
}

struct History {
  std::vector<strata::Position> v1;  // the positions of the old deposits
  std::uint64_t unrelated = 0;       // records that are not deposits
};

// Two accounts with deposits of both versions, and records of two unrelated types.
History append_history(MemoryEventStore& store) {
  History h;
  h.v1.push_back(append(store, "acct-1", DepositedV1{100}));
  append(store, "acct-1", Deposited{50, "EUR"});
  append(store, "acct-1", Audited{"checked"});
  h.v1.push_back(append(store, "acct-1", DepositedV1{7}));
  append(store, "acct-2", Deposited{5, "USD"});
  append(store, "acct-2", DepositRefunded{5});
  h.v1.push_back(append(store, "acct-2", DepositedV1{3}));
  h.unrelated = 2;
  return h;
}

// Every deposit, the old ones upcast to USD.
constexpr std::string_view kEveryDeposit =
    "acct-1 cents=157 deposits=3 usd=107\n"
    "acct-2 cents=8 deposits=2 usd=8\n";
// The current deposits only.
constexpr std::string_view kCurrentDeposits =
    "acct-1 cents=50 deposits=1 usd=0\n"
    "acct-2 cents=5 deposits=1 usd=5\n";

std::string render(const strata::ReadModelSource& source) {
  auto rows = WithoutUpcaster::kTotals.list(source);
  if (!rows.ok()) return "error: " + rows.status().to_string();
  std::string out;
  for (const auto& [key, t] : *rows)
    out += key + " cents=" + std::to_string(t.cents) + " deposits=" + std::to_string(t.deposits) +
           " usd=" + std::to_string(t.usd_cents) + "\n";
  return out;
}

// Retries wait an hour: a projector that drains has not waited for one.
ProjectorOptions patient() {
  ProjectorOptions o;
  o.errors.max_attempts = 5;
  o.errors.first_backoff = std::chrono::hours(1);
  o.errors.max_backoff = std::chrono::hours(1);
  return o;
}

// Forwards to a projection's handler, and records the type of every record handed to apply().
class Watched final : public strata::ProjectionHandler {
 public:
  Watched(std::unique_ptr<strata::ProjectionHandler> inner, std::vector<std::string>& applied)
      : inner_(std::move(inner)), applied_(applied) {}
  std::string_view name() const noexcept override { return inner_->name(); }
  bool knows(std::string_view type) const noexcept override { return inner_->knows(type); }
  strata::Status apply(const strata::EventView& e, strata::ReadModelTx& tx, const strata::Limits& limits) override {
    applied_.emplace_back(e.type);
    return inner_->apply(e, tx, limits);
  }

 private:
  std::unique_ptr<strata::ProjectionHandler> inner_;
  std::vector<std::string>& applied_;
};

}  // namespace

TEST_CASE("a projection listing an evolved event without its upcaster parks the stored old versions at once") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  const History h = append_history(store);
  Projector projector(store, storage, WithoutUpcaster{}, patient());
  REQUIRE(projector.start().ok());
  REQUIRE(projector.drain(kWait).ok());

  auto parked = projector.parked().value();
  REQUIRE(parked.size() == h.v1.size());
  for (std::size_t i = 0; i < parked.size(); ++i) {
    CAPTURE(i);
    CHECK(parked[i].event.position == h.v1[i]);
    CHECK(parked[i].event.type == DepositedV1::kType);
    CHECK(parked[i].error.code() == StatusCode::kUnknownEventType);
    CHECK(parked[i].attempts == 1);  // not retried: retrying cannot teach the projection the type
  }
  CHECK(parked[0].error.message() ==
        "handling test.bank.deposited.v1 acct-1@1 (position 1): projection \"test.bank.deposits\" handles "
        "\"test.bank.deposited.v2\" but cannot read the stored \"test.bank.deposited.v1\", another version of it: "
        "list an upcaster from it in the projection's strata::Upcasters<...>, or retire the type with "
        "strata::Retired<\"test.bank.deposited.v1\">");
  const auto status = projector.status();
  CHECK(status.position == store.head_position());
  CHECK(status.parked == h.v1.size());
  CHECK(status.skipped == h.unrelated);  // the old deposits are not counted as skipped
  CHECK(render(projector.reader()) == kCurrentDeposits);

  // The same code cannot read it on retry either: it stays parked, the attempt counted.
  CHECK(projector.retry_parked(h.v1[0]).code() == StatusCode::kUnknownEventType);
  CHECK(projector.parked().value().at(0).attempts == 2);
}

TEST_CASE("with the stop policy, a stored old version without its upcaster stops the projector at once") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  const History h = append_history(store);
  ProjectorOptions options = patient();
  options.errors.when_exhausted = strata::ErrorPolicy::Exhausted::kStop;
  Projector projector(store, storage, WithoutUpcaster{}, options);
  REQUIRE(projector.start().ok());

  const strata::Status drained = projector.drain(kWait);
  CHECK(drained.code() == StatusCode::kUnknownEventType);
  CHECK(drained.message().find("projector \"test.bank.deposits\" stopped: the event at position 1 has a type it "
                               "cannot read") != std::string_view::npos);
  CHECK(drained.message().find("strata::Retired<\"test.bank.deposited.v1\">") != std::string_view::npos);
  const auto status = projector.status();
  CHECK(status.state == ProjectorState::kFailed);
  CHECK(status.position == h.v1[0] - 1);
  CHECK(projector.parked().value().empty());
}

TEST_CASE("listing the upcaster reads every stored version, also the events parked before it was listed") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  const History h = append_history(store);
  {
    Projector before(store, storage, WithoutUpcaster{}, patient());
    REQUIRE(before.start().ok());
    REQUIRE(before.drain(kWait).ok());
    REQUIRE(before.parked().value().size() == h.v1.size());
  }
  // Deployed again with the upcaster, the projection applies what it parked.
  Projector after(store, storage, WithUpcaster{}, patient());
  for (strata::Position p : h.v1) REQUIRE(after.retry_parked(p).ok());
  CHECK(after.parked().value().empty());
  CHECK(render(after.reader()) == kEveryDeposit);

  Projector fresh(store, storage, strata::make_projection_handler(WithUpcaster{}, "test.bank.deposits.fresh"),
                  patient());
  REQUIRE(fresh.start().ok());
  REQUIRE(fresh.drain(kWait).ok());
  CHECK(fresh.parked().value().empty());
  CHECK(fresh.status().skipped == h.unrelated);
  CHECK(render(fresh.reader()) == kEveryDeposit);
}

TEST_CASE("a projection that retires the old version drops its records without parking them") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  const History h = append_history(store);
  Projector retiring(store, storage, RetiringV1{}, patient());
  REQUIRE(retiring.start().ok());
  REQUIRE(retiring.drain(kWait).ok());
  CHECK(retiring.parked().value().empty());
  CHECK(retiring.status().skipped == h.unrelated);
  CHECK(render(retiring.reader()) == kCurrentDeposits);

  // Retired<...> is what makes dropping them deliberate: without it the same records are parked.
  Projector unretired(store, storage, strata::make_projection_handler(WithoutUpcaster{}, "test.bank.unretired"),
                      patient());
  REQUIRE(unretired.start().ok());
  REQUIRE(unretired.drain(kWait).ok());
  CHECK(unretired.parked().value().size() == h.v1.size());
  CHECK(render(unretired.reader()) == kCurrentDeposits);
}

TEST_CASE("records of types unrelated to a handled one are still skipped before their payload is parsed") {
  MemoryEventStore store;
  MemoryProjectionStorage storage;
  const History h = append_history(store);
  std::vector<std::string> applied;
  Projector projector(store, storage,
                      std::make_unique<Watched>(strata::make_projection_handler(WithoutUpcaster{}), applied),
                      patient());
  REQUIRE(projector.start().ok());
  REQUIRE(projector.drain(kWait).ok());
  // Only deposits reach apply(), the only place a payload is parsed; the old ones to be refused there.
  CHECK(applied == std::vector<std::string>{"test.bank.deposited.v1", "test.bank.deposited.v2",
                                            "test.bank.deposited.v1", "test.bank.deposited.v2",
                                            "test.bank.deposited.v1"});
  CHECK(projector.status().skipped == h.unrelated);
  CHECK(projector.parked().value().size() == h.v1.size());

  // Another version differs only in the ".v<N>" suffix (a name without one is version 1).
  auto handler = strata::make_projection_handler(WithoutUpcaster{});
  CHECK(handler->knows("test.bank.deposited.v2"));
  CHECK(handler->knows("test.bank.deposited.v1"));
  CHECK(handler->knows("test.bank.deposited.v13"));
  CHECK(handler->knows("test.bank.deposited"));
  CHECK_FALSE(handler->knows("test.bank.audited.v1"));
  CHECK_FALSE(handler->knows("test.bank.deposited.refunded.v1"));
  CHECK_FALSE(handler->knows("test.bank.deposited.v2x"));
  CHECK_FALSE(handler->knows("test.bank.deposits.v2"));
  CHECK_FALSE(handler->knows("test.bank.deposited.vx"));
}
