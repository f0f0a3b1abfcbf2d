// The saga crash test (label chaos): 1,000 Activation sagas run across two service processes over
// JetStream (saga_crash_service.cc) — contracts (the saga runner, its commands, a relay and an inbox)
// and payments (an inbox that calls an external payment provider, a relay) — while both processes are
// killed with SIGKILL at random moments and started again at once. When everything has settled the
// stores are opened and checked: every saga completed or compensated, none left running; the provider
// performed at most one charge per deal and one effect per key; a completed deal was charged once and
// never refunded, a compensated one never charged (or declined), or charged once and refunded once;
// every declined deal compensated; titles shown exactly for completed deals.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "eventstore/child_process.h"
#include "nats_cluster.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/messaging/jetstream_transport.h"
#include "strata/messaging/saga_records.h"

namespace {

using namespace strata;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::vector<std::uint64_t> read_status(const std::string& path, std::size_t fields) {
  std::ifstream in(path);
  std::vector<std::uint64_t> out;
  for (std::uint64_t v; in >> v;) out.push_back(v);
  out.resize(fields, 0);
  return out;
}

// A service process that is started again whenever it is killed.
class Service {
 public:
  explicit Service(std::vector<std::string> argv) : argv_(std::move(argv)) { start(); }
  void start() { child_ = std::make_unique<testing::ChildProcess>(argv_); }
  void crash() {
    child_->kill_hard();
    (void)child_->wait();
    ++kills_;
  }
  // A service only ends when it is killed: one that ended by itself met an error it should have
  // waited out (it said which on stderr).
  bool running() { return child_->running(); }
  int kills() const { return kills_; }

 private:
  std::vector<std::string> argv_;
  std::unique_ptr<testing::ChildProcess> child_;
  int kills_ = 0;
};

// The provider's record of one operation, as saga_crash_service.cc writes it.
struct ProviderOperation {
  std::string kind;
  std::string key;
  std::string contract;
  std::string outcome;
  std::int64_t performed_us = 0;
  static constexpr auto kFields =
      fields(field("kind", &ProviderOperation::kind), field("key", &ProviderOperation::key),
             field("contract", &ProviderOperation::contract), field("outcome", &ProviderOperation::outcome),
             field("performed_us", &ProviderOperation::performed_us));
};

// What the stores say of one deal.
struct Deal {
  SagaState saga;  // folded from strata's records in the saga's stream
  bool saga_found = false;
  bool paid = false;  // the saga recorded a payment confirmation
  int charge_messages = 0, refund_messages = 0;
  int provider_charges = 0, provider_refunds = 0;  // provider streams for this deal
  bool declined = false;                           // the provider's charge outcome
  int reserves = 0;
  bool reserved = false, shown = false;                                   // the titles, folded
  int recorded_charges = 0, recorded_refusals = 0, recorded_refunds = 0;  // on the Payment aggregate
};

StreamId sid(const std::string& s) { return StreamId::parse(s).value(); }

// Calls fn(EventView) for each event of `stream`; a stream that does not exist has none.
template <class Fn>
void visit(EventStore& store, const std::string& stream, Fn fn) {
  Status s = store.visit_stream(sid(stream), 1, kEndOfStream, [&](const EventView& e) -> Status {
    fn(e);
    return {};
  });
  REQUIRE_MESSAGE((s.ok() || s.code() == StatusCode::kNotFound), s.to_string());
}

RocksEventStore::Options check_options() {
  RocksEventStore::Options o;
  o.sync = false;
  o.create_if_missing = false;
  return o;
}

}  // namespace

TEST_CASE(
    "chaos: 1,000 sagas across two processes killed again and again each end completed or compensated, charged at "
    "most once per deal and refunded when paid late") {
  constexpr std::int64_t kTotal = 1'000;
  const auto cluster = testing::NatsCluster::from_environment();
  REQUIRE(cluster.nodes() == 3);
  std::random_device rd;
  const std::uint32_t seed = rd();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::string prefix = "sagacrash" + std::to_string(seed % 100'000);
  const auto work = std::filesystem::temp_directory_path() / ("strata-" + prefix);
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);
  std::string urls;
  for (const auto& s : cluster.servers()) urls += (urls.empty() ? "" : ",") + s;
  const std::string contracts_status = (work / "contracts.status").string();
  const std::string payments_status = (work / "payments.status").string();

  Service contracts({STRATA_SAGA_CRASH_SERVICE, "contracts", (work / "contracts").string(), urls, prefix,
                     std::to_string(kTotal), contracts_status});
  Service payments({STRATA_SAGA_CRASH_SERVICE, "payments", (work / "payments").string(), (work / "provider").string(),
                    urls, prefix, payments_status});
  auto alive = [&] {
    REQUIRE_MESSAGE(contracts.running(), "the contracts service ended by itself");
    REQUIRE_MESSAGE(payments.running(), "the payments service ended by itself");
  };

  // The chaos: kills at random moments, three of four of the contracts process (its runner carries
  // out commands and fires deadlines), while the deals are being requested.
  constexpr int kContractsKills = 20, kPaymentsKills = 5;
  const auto started = Clock::now();
  while (contracts.kills() < kContractsKills || payments.kills() < kPaymentsKills) {
    REQUIRE(Clock::now() - started < std::chrono::minutes(3));
    alive();
    std::this_thread::sleep_for(milliseconds(700 + rng() % 1'500));
    const bool pick_contracts = rng() % 4 != 0;
    Service& victim = (pick_contracts && contracts.kills() < kContractsKills) || payments.kills() >= kPaymentsKills
                          ? contracts
                          : payments;
    victim.crash();
    victim.start();
  }
  const auto c0 = read_status(contracts_status, 5);
  MESSAGE("chaos done after " << std::chrono::duration<double>(Clock::now() - started).count() << " s: requested "
                              << c0[0] << ", ended " << c0[1]);

  // Let the services finish: every deal requested and its saga ended; every charge requested reached
  // the provider and its answer the saga; every refund asked for performed. Stuck or not, the stores
  // are checked after, so that the deals that did not finish are named.
  const auto deadline = Clock::now() + std::chrono::minutes(2);
  bool settled = false;
  std::string progress;
  while (!settled && Clock::now() < deadline) {
    // appended, ended, paid, refunds requested, charges requested
    const auto c = read_status(contracts_status, 5);
    // provider charges, refunds; payments charged, refused, refunded
    const auto p = read_status(payments_status, 5);
    settled = c[0] == kTotal && c[1] == kTotal && p[0] >= c[4] && p[2] + p[3] >= c[4] && c[2] >= p[2] && p[1] >= c[3] &&
              p[4] >= c[3];
    progress = "requested " + std::to_string(c[0]) + ", ended " + std::to_string(c[1]) + ", paid " +
               std::to_string(c[2]) + ", refunds asked " + std::to_string(c[3]) + ", charges asked " +
               std::to_string(c[4]) + "; provider charges " + std::to_string(p[0]) + ", refunds " +
               std::to_string(p[1]) + "; charged " + std::to_string(p[2]) + ", refused " + std::to_string(p[3]) +
               ", refunded " + std::to_string(p[4]);
    alive();
    std::this_thread::sleep_for(milliseconds(250));
  }
  CHECK_MESSAGE(settled, "stuck: " << progress);
  std::this_thread::sleep_for(milliseconds(1'000));  // a duplicate effect would land now
  contracts.crash();
  payments.crash();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  // What the stores hold, the processes gone.
  std::vector<Deal> deals(kTotal);
  auto deal_of = [&](const std::string& contract) -> Deal* {
    const std::int64_t d = std::stoll(contract);
    return d >= 0 && d < kTotal ? &deals[static_cast<std::size_t>(d)] : nullptr;
  };
  std::int64_t provider_duplicates = 0;  // a key with more than one effect
  {
    auto provider = RocksEventStore::open(check_options(), (work / "provider").string()).value();
    std::string after;
    do {
      StreamList page = provider->list_streams(after, 1'000).value();
      for (const auto& s : page.streams) {
        auto slice = provider->read_stream(sid(s.stream_id), ReadDirection::kForward, 1, 10).value();
        if (slice.events.size() != 1) ++provider_duplicates;
        ProviderOperation op;
        REQUIRE(decode_json(slice.events.at(0).payload, op).ok());
        Deal* deal = deal_of(op.contract);
        REQUIRE_MESSAGE(deal != nullptr, s.stream_id);
        if (op.kind == "charge") {
          ++deal->provider_charges;
          deal->declined = op.outcome == "declined";
        } else {
          ++deal->provider_refunds;
        }
      }
      after = page.next_after;
    } while (!after.empty());
  }
  {
    auto store = RocksEventStore::open(check_options(), (work / "payments").string()).value();
    for (std::int64_t d = 0; d < kTotal; ++d) {
      Deal& deal = deals[static_cast<std::size_t>(d)];
      visit(*store, "payment-" + std::to_string(d), [&](const EventView& e) {
        deal.recorded_charges += e.type == "payments.charged.v1";
        deal.recorded_refusals += e.type == "payments.refused.v1";
        deal.recorded_refunds += e.type == "payments.refunded.v1";
      });
    }
  }
  {
    auto store = RocksEventStore::open(check_options(), (work / "contracts").string()).value();
    for (std::int64_t d = 0; d < kTotal; ++d) {
      Deal& deal = deals[static_cast<std::size_t>(d)];
      visit(*store, "activation-" + std::to_string(d), [&](const EventView& e) {
        deal.saga_found = true;
        if (e.type == "contracts.payment_taken.v1") deal.paid = true;
        if (!e.type.starts_with(saga::kRecordPrefix)) return;
        REQUIRE(deal.saga.fold(e.type, e.payload).ok());
        if (e.type != saga::MessageSent::kType) return;
        saga::MessageSent m;
        REQUIRE(decode_json(e.payload, m).ok());
        deal.charge_messages += m.type == "contracts.charge_requested.v1";
        deal.refund_messages += m.type == "contracts.refund_requested.v1";
      });
      visit(*store, "titles-" + std::to_string(d), [&](const EventView& e) {
        if (e.type == "catalog.reserved.v1") {
          ++deal.reserves;
          deal.reserved = true;
        } else if (e.type == "catalog.released.v1") {
          deal.reserved = false;
          deal.shown = false;
        } else if (e.type == "catalog.shown.v1") {
          deal.shown = true;
        }
      });
    }
  }

  // The checks, deal by deal; the first few problems are named.
  std::int64_t completed = 0, compensated = 0, late_refunds = 0, declined = 0, problems = 0;
  std::ostringstream first_problems;
  auto problem = [&](std::int64_t d, const std::string& what) {
    if (++problems <= 10) first_problems << "deal " << d << ": " << what << "\n";
  };
  for (std::int64_t d = 0; d < kTotal; ++d) {
    const Deal& deal = deals[static_cast<std::size_t>(d)];
    const SagaPhase phase = deal.saga.phase;
    const bool charged = deal.provider_charges == 1 && !deal.declined;
    if (!deal.saga_found) {
      problem(d, "no saga");
      continue;
    }
    if (phase != SagaPhase::kCompleted && phase != SagaPhase::kCompensated)
      problem(d, "saga left " + std::string(saga_phase_name(phase)));
    if (!deal.saga.deadlines.empty() || !deal.saga.commands.empty())
      problem(d, "saga ended with pending deadlines or unanswered commands");
    if (deal.charge_messages != 1) problem(d, std::to_string(deal.charge_messages) + " charge requests");
    if (deal.provider_charges != 1) problem(d, std::to_string(deal.provider_charges) + " charges at the provider");
    if (deal.provider_refunds > 1) problem(d, std::to_string(deal.provider_refunds) + " refunds at the provider");
    if (deal.recorded_charges + deal.recorded_refusals != 1 || deal.recorded_refunds != deal.provider_refunds)
      problem(d, "payments recorded " + std::to_string(deal.recorded_charges) + " charges, " +
                     std::to_string(deal.recorded_refusals) + " refusals, " + std::to_string(deal.recorded_refunds) +
                     " refunds");
    if (deal.reserves != 1) problem(d, "titles reserved " + std::to_string(deal.reserves) + " times");
    if (phase == SagaPhase::kCompleted) {
      ++completed;
      if (!charged || deal.provider_refunds != 0 || !deal.paid) problem(d, "completed, but not charged exactly once");
      if (!deal.reserved || !deal.shown) problem(d, "completed, but its titles are not shown");
    } else if (phase == SagaPhase::kCompensated) {
      ++compensated;
      if (charged && deal.provider_refunds != 1) problem(d, "compensated and charged, but not refunded");
      if (!charged && deal.provider_refunds != 0) problem(d, "compensated and refunded, but never charged");
      if (charged && deal.refund_messages != 1) problem(d, "compensated and charged, but asked for a refund wrongly");
      if (deal.reserved || deal.shown) problem(d, "compensated, but its titles are still reserved");
      if (charged) ++late_refunds;
    }
    if (d % 7 == 0) {
      ++declined;
      if (phase != SagaPhase::kCompensated || !deal.declined) problem(d, "declined, but not compensated");
    }
  }
  MESSAGE("contracts killed " << contracts.kills() << " times, payments " << payments.kills() << " times; " << seconds
                              << " s in all: " << completed << " sagas completed, " << compensated << " compensated ("
                              << declined << " declined, " << late_refunds << " paid late and refunded); " << problems
                              << " problems");
  CHECK_MESSAGE(problems == 0, first_problems.str());
  CHECK(provider_duplicates == 0);
  CHECK(completed + compensated == kTotal);
  CHECK(late_refunds > 0);  // the late path was taken
  CHECK(completed > 0);

  JetStreamOptions jo;
  jo.servers = cluster.servers();
  jo.stream = "S" + prefix;
  jo.subjects = {prefix + ".>"};
  jo.replicas = 3;
  (void)JetStreamTransport::connect(jo).value()->delete_stream();
  std::filesystem::remove_all(work);
}
