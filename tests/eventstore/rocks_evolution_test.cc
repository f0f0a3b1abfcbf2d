// Event evolution across a restart: a store written by code that knows only v1 of an event, reopened by
// code that knows v2 and an upcaster, gives the same state; snapshots and time travel still hold.
#include <doctest/doctest.h>

#include "rocks_test_support.h"
#include "strata/core/repository.h"

namespace {

namespace before {
struct Deposited {
  static constexpr std::string_view kType = "purse.deposited.v1";
  std::int64_t cents = 0;
  static constexpr auto kFields = strata::fields(strata::field("cents", &Deposited::cents));
  bool operator==(const Deposited&) const = default;
};
class Purse : public strata::Aggregate<Purse, strata::Events<Deposited>> {
 public:
  void deposit(std::int64_t cents) { record(Deposited{cents}); }
  std::int64_t cents() const { return cents_; }

 private:
  friend Aggregate;
  void apply(const Deposited& e) { cents_ += e.cents; }
  std::int64_t cents_ = 0;

 public:
  static constexpr auto kFields = strata::fields(strata::field("cents", &Purse::cents_));
};
}  // namespace before

namespace after {
struct Deposited {
  static constexpr std::string_view kType = "purse.deposited.v2";
  std::int64_t cents = 0;
  std::string currency;
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &Deposited::cents), strata::field("currency", &Deposited::currency));
  bool operator==(const Deposited&) const = default;
};
struct V1ToV2 {
  using From = before::Deposited;
  static Deposited upcast(const before::Deposited& e) { return {e.cents, "USD"}; }
};
class Purse : public strata::Aggregate<Purse, strata::Events<Deposited>, strata::Upcasters<V1ToV2>> {
 public:
  void deposit(std::int64_t cents, std::string currency) { record(Deposited{cents, std::move(currency)}); }
  std::int64_t cents() const { return cents_; }
  std::int64_t deposits() const { return deposits_; }

 private:
  friend Aggregate;
  void apply(const Deposited& e) {
    cents_ += e.cents;
    ++deposits_;
  }
  std::int64_t cents_ = 0;
  std::int64_t deposits_ = 0;

 public:
  // Another state shape: the old code's snapshots must be ignored, not misread.
  static constexpr auto kFields =
      strata::fields(strata::field("cents", &Purse::cents_), strata::field("deposits", &Purse::deposits_));
};
}  // namespace after

}  // namespace

TEST_CASE("a RocksDB store written by v1 code and reopened by v2 code with an upcaster gives the same state") {
  strata::testing::TempDir dir;
  const auto id = strata::StreamId::parse("purse-1").value();
  {
    auto store = strata::testing::open_store(dir.path());
    strata::RepositoryOptions options;
    options.snapshots = strata::SnapshotPolicy::every(4);
    strata::Repository<before::Purse> repo(*store, options);
    before::Purse purse = repo.create(id);
    for (int i = 1; i <= 10; ++i) {
      purse.deposit(i * 100);
      REQUIRE(repo.save(purse).ok());
    }
    repo.flush_snapshots();
    REQUIRE(!store->snapshot_versions(id).value().empty());
    CHECK(repo.load(id).value().cents() == 5'500);
  }
  auto store = strata::testing::open_store(dir.path());
  std::vector<strata::SnapshotProblem> problems;
  strata::RepositoryOptions options;
  options.on_snapshot_incident = [&](const strata::SnapshotIncident& i) { problems.push_back(i.problem); };
  strata::Repository<after::Purse> repo(*store, options);
  after::Purse purse = repo.load(id).value();
  CHECK(purse.cents() == 5'500);
  CHECK(purse.deposits() == 10);
  CHECK(purse.version() == 10);
  CHECK(problems.empty());  // the old code's snapshots are of another schema: passed over, not misread
  CHECK(repo.snapshot_stats().loaded.load() == 0);

  // New events are written as v2 after the v1 ones, and time travel crosses the boundary.
  purse.deposit(1, "EUR");
  REQUIRE(repo.save(purse).ok());
  CHECK(repo.load(id).value().cents() == 5'501);
  CHECK(repo.load_at(id, 3).value().cents() == 600);
  auto last = store->read_stream(id, strata::ReadDirection::kBackward, strata::kEndOfStream, 2).value();
  CHECK(last.events[0].type == "purse.deposited.v2");
  CHECK(last.events[1].type == "purse.deposited.v1");
}
