// One business flow run both ways: a contract activation across three services — contracts, payments and
// catalog, each with its own store and projection storage — connected by one broker.
//
// Choreography: no coordinator. contracts records ActivationRequested and its relay publishes it;
// payments' inbox charges (or declines) and its relay publishes PaymentTaken or PaymentDeclined; catalog's
// inbox shows the titles on PaymentTaken and publishes TitlesShown; contracts' inboxes activate the
// contract on TitlesShown and cancel it on PaymentDeclined. Each service hears only the others'
// integration events.
//
// Orchestration: the Activation process manager in contracts publishes ChargeRequested and ShowTitles
// through contracts' relay, and hears PaymentTaken, PaymentDeclined and TitlesShown through inboxes
// attached to its runner; payments and catalog answer with the same integration events as above.
//
// Both runs get the same deals and the same duplicates — a broker with no duplicate window, lost publish
// acks, relays restarted from the start of their logs — and must end in the same state.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"
#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/relay.h"
#include "strata/messaging/saga_runner.h"
#include "strata/projections/memory_projection_storage.h"

using namespace strata;
using std::chrono::milliseconds;

namespace {

constexpr auto kWait = std::chrono::seconds(20);
constexpr auto kQuiet = milliseconds(20);
// payments declines a charge above this.
constexpr std::int64_t kCardLimit = 50'000;

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

// ---- contracts ----
struct ActivationRequested {  // recorded by contracts; the choreography publishes it as it is stored
  static constexpr std::string_view kType = "contracts.activation_requested.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &ActivationRequested::contract), field("cents", &ActivationRequested::cents));
};
struct ContractActivated {
  static constexpr std::string_view kType = "contracts.contract_activated.v1";
  static constexpr auto kFields = fields();
};
struct ContractCancelled {
  static constexpr std::string_view kType = "contracts.contract_cancelled.v1";
  std::string reason;
  static constexpr auto kFields = fields(field("reason", &ContractCancelled::reason));
};
class Contract : public Aggregate<Contract, Events<ActivationRequested, ContractActivated, ContractCancelled>> {
 public:
  Status request(std::string contract, std::int64_t cents) {
    if (state_ != kNone) return Status::rejected("contract " + contract + " was requested before");
    record(ActivationRequested{std::move(contract), cents});
    return {};
  }
  Status activate() {
    STRATA_RETURN_IF_ERROR(still_requested());
    record(ContractActivated{});
    return {};
  }
  Status cancel(std::string reason) {
    STRATA_RETURN_IF_ERROR(still_requested());
    record(ContractCancelled{std::move(reason)});
    return {};
  }
  std::string_view state() const { return state_; }

 private:
  friend Aggregate;
  static constexpr std::string_view kNone = "none", kRequested = "requested", kActive = "active",
                                    kCancelled = "cancelled";
  Status still_requested() const {
    if (state_ == kRequested) return {};
    return Status::rejected("contract " + contract_ + " is " + std::string(state_) + ", not requested");
  }
  void apply(const ActivationRequested& e) {
    contract_ = e.contract;
    state_ = kRequested;
  }
  void apply(const ContractActivated&) { state_ = kActive; }
  void apply(const ContractCancelled&) { state_ = kCancelled; }
  std::string contract_;
  std::string_view state_ = kNone;
};

// ---- payments ----
struct Charged {
  static constexpr std::string_view kType = "payments.charged.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields = fields(field("contract", &Charged::contract), field("cents", &Charged::cents));
};
struct ChargeRefused {
  static constexpr std::string_view kType = "payments.charge_refused.v1";
  std::string contract;
  std::string reason;
  static constexpr auto kFields =
      fields(field("contract", &ChargeRefused::contract), field("reason", &ChargeRefused::reason));
};
class Payment : public Aggregate<Payment, Events<Charged, ChargeRefused>> {
 public:
  // Charges `cents` for `contract`, or refuses to: one decision per contract.
  Status decide(const std::string& contract, std::int64_t cents) {
    if (decided_) return Status::rejected("the payment for contract " + contract + " was decided before");
    if (cents > kCardLimit) {
      record(ChargeRefused{contract, "over the card limit"});
    } else {
      record(Charged{contract, cents});
    }
    return {};
  }
  const std::vector<std::int64_t>& charges() const { return charges_; }

 private:
  friend Aggregate;
  void apply(const Charged& e) {
    decided_ = true;
    charges_.push_back(e.cents);
  }
  void apply(const ChargeRefused&) { decided_ = true; }
  bool decided_ = false;
  std::vector<std::int64_t> charges_;
};
// The integration events payments publishes, in both styles.
struct PaymentTaken {
  static constexpr std::string_view kType = "payments.payment_taken.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &PaymentTaken::contract), field("cents", &PaymentTaken::cents));
};
struct PaymentDeclined {
  static constexpr std::string_view kType = "payments.payment_declined.v1";
  std::string contract;
  std::string reason;
  static constexpr auto kFields =
      fields(field("contract", &PaymentDeclined::contract), field("reason", &PaymentDeclined::reason));
};

// ---- catalog ----
struct TitlesMadeVisible {
  static constexpr std::string_view kType = "catalog.titles_made_visible.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &TitlesMadeVisible::contract));
};
class Titles : public Aggregate<Titles, Events<TitlesMadeVisible>> {
 public:
  Status show(const std::string& contract) {
    if (visible_) return Status::rejected("the titles of contract " + contract + " are visible already");
    record(TitlesMadeVisible{contract});
    return {};
  }
  bool visible() const { return visible_; }

 private:
  friend Aggregate;
  void apply(const TitlesMadeVisible&) { visible_ = true; }
  bool visible_ = false;
};
// The integration event catalog publishes, in both styles.
struct TitlesShown {
  static constexpr std::string_view kType = "catalog.titles_shown.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &TitlesShown::contract));
};

// ---- orchestration: what the process manager asks of the others, and of its own service ----
struct ChargeRequested {
  static constexpr std::string_view kType = "contracts.charge_requested.v1";
  std::string contract;
  std::int64_t cents = 0;
  static constexpr auto kFields =
      fields(field("contract", &ChargeRequested::contract), field("cents", &ChargeRequested::cents));
};
struct ShowTitles {
  static constexpr std::string_view kType = "contracts.show_titles.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &ShowTitles::contract));
};
struct ActivateContract {
  static constexpr std::string_view kType = "contracts.activate_contract.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &ActivateContract::contract));
};
struct CancelContract {
  static constexpr std::string_view kType = "contracts.cancel_contract.v1";
  std::string contract;
  std::string reason;
  static constexpr auto kFields =
      fields(field("contract", &CancelContract::contract), field("reason", &CancelContract::reason));
};
struct ActivationStarted {
  static constexpr std::string_view kType = "contracts.activation_started.v1";
  std::string contract;
  static constexpr auto kFields = fields(field("contract", &ActivationStarted::contract));
};

class Activation : public ProcessManager<
                       Activation, Events<ActivationStarted>,
                       Triggers<ActivationRequested, PaymentTaken, PaymentDeclined, TitlesShown, CommandSucceeded>> {
 public:
  static constexpr std::string_view kName = "activation";
  static std::string correlate(const ActivationRequested& e) { return e.contract; }
  static std::string correlate(const PaymentTaken& e) { return e.contract; }
  static std::string correlate(const PaymentDeclined& e) { return e.contract; }
  static std::string correlate(const TitlesShown& e) { return e.contract; }

  void handle(const ActivationRequested& e) {
    record(ActivationStarted{e.contract});
    // The request is the first step: a failed activation undoes it by cancelling the contract.
    step_completed("request", CancelContract{e.contract, "activation failed"});
    publish("charge", ChargeRequested{e.contract, e.cents});
  }
  void handle(const PaymentTaken&) {
    if (phase() != SagaPhase::kRunning || completed("charge")) return;
    step_completed("charge");
    publish("show", ShowTitles{contract_});
  }
  void handle(const PaymentDeclined& e) { compensate("payment declined: " + e.reason); }
  void handle(const TitlesShown&) {
    if (phase() != SagaPhase::kRunning || completed("show")) return;
    step_completed("show");
    send("activate", ActivateContract{contract_});
  }
  void handle(const CommandSucceeded& s) {
    if (s.step != "activate") return;
    step_completed("activate");
    complete();
  }

 private:
  friend ProcessManager;
  bool completed(std::string_view step) const {
    for (const auto& s : saga().steps)
      if (s.name == step) return true;
    return false;
  }
  void apply(const ActivationStarted& e) { contract_ = e.contract; }
  std::string contract_;
};

// ---- the deals, and the three services ----
struct Deal {
  std::string contract;
  std::int64_t cents = 0;
  bool accepted() const { return cents <= kCardLimit; }
};

// 20 deals, d00 to d19; every fifth one (d03, d08, d13, d18) is over the card limit.
std::vector<Deal> twenty_deals() {
  std::vector<Deal> deals;
  for (int i = 0; i < 20; ++i)
    deals.push_back(Deal{(i < 10 ? "d0" : "d") + std::to_string(i), i % 5 == 3 ? 90'000 + i : 10'000 + 100 * i});
  return deals;
}

enum class Style : std::uint8_t { kChoreography, kOrchestration };

struct Service {
  explicit Service(std::string service) : name(std::move(service)) {}
  std::string name;
  MemoryEventStore store;
  MemoryProjectionStorage storage;
};

RelayOptions relay_options(const std::string& service) {
  RelayOptions o;
  o.name = service + ".relay";
  o.source = service;
  o.subject_prefix = service + ".events";
  o.first_backoff = milliseconds(5);
  o.max_backoff = milliseconds(20);
  o.checkpoint_interval = milliseconds(0);
  return o;
}

InboxOptions inbox_options(std::string name, std::string filter) {
  InboxOptions o;
  o.name = std::move(name);
  o.consumer.filter = std::move(filter);
  o.concurrency = 4;
  o.fetch_wait = milliseconds(10);
  o.first_backoff = milliseconds(5);
  o.max_backoff = milliseconds(20);
  o.ignore_unknown_types = true;  // each inbox takes some of the types published on its subjects
  return o;
}

SagaRunnerOptions runner_options() {
  SagaRunnerOptions o;
  o.first_backoff = milliseconds(2);
  o.max_backoff = milliseconds(10);
  o.poll_interval = milliseconds(20);
  return o;
}

InProcessTransport::Options no_dedupe() {
  InProcessTransport::Options o;
  o.duplicate_window = milliseconds(0);  // a message published again is stored again: only inboxes can tell
  return o;
}

// The three services on one broker, wired for one style. Members are destroyed in reverse order: the
// inboxes (whose handlers call the runner) first, the stores and the broker last.
struct Deployment {
  explicit Deployment(Style style) {
    // payments and catalog publish the same integration events in both styles.
    RelayOptions po = relay_options("payments");
    po.mapping.publish<Charged>([](const Charged& e, const EventView&) { return PaymentTaken{e.contract, e.cents}; });
    po.mapping.publish<ChargeRefused>([](const ChargeRefused& e, const EventView&) {
      return PaymentDeclined{e.contract, e.reason};
    });
    payments_relay = std::make_unique<Relay>(payments.store, payments.storage, transport, std::move(po));
    RelayOptions co = relay_options("catalog");
    co.mapping.publish<TitlesMadeVisible>(
        [](const TitlesMadeVisible& e, const EventView&) { return TitlesShown{e.contract}; });
    catalog_relay = std::make_unique<Relay>(catalog.store, catalog.storage, transport, std::move(co));

    RelayOptions ko = relay_options("contracts");
    payments_inbox = make_inbox(payments, "payments", "contracts.events.>");
    contracts_from_payments = make_inbox(contracts, "contracts-payments", "payments.events.>");
    contracts_from_catalog = make_inbox(contracts, "contracts-catalog", "catalog.events.>");
    if (style == Style::kChoreography) {
      ko.mapping.publish_as_stored(ActivationRequested::kType);
      catalog_inbox = make_inbox(catalog, "catalog", "payments.events.>");
      payments_inbox->on<ActivationRequested>(
          [this](const ActivationRequested& m, InboxContext& ctx) { return take_payment(m.contract, m.cents, ctx); });
      catalog_inbox->on<PaymentTaken>(
          [this](const PaymentTaken& m, InboxContext& ctx) { return show_titles(m.contract, ctx); });
      contracts_from_catalog->on<TitlesShown>([this](const TitlesShown& m, InboxContext& ctx) -> Status {
        STRATA_ASSIGN_OR_RETURN(Contract c, contract_repo.load(sid("contract-" + m.contract)));
        STRATA_RETURN_IF_ERROR(c.activate());
        return ctx.save(contract_repo, c).status();
      });
      contracts_from_payments->on<PaymentDeclined>([this](const PaymentDeclined& m, InboxContext& ctx) -> Status {
        STRATA_ASSIGN_OR_RETURN(Contract c, contract_repo.load(sid("contract-" + m.contract)));
        STRATA_RETURN_IF_ERROR(c.cancel(m.reason));
        return ctx.save(contract_repo, c).status();
      });
    } else {
      ko.selection.event_types = {std::string(saga::MessageSent::kType)};
      add_saga_messages(ko.mapping);
      catalog_inbox = make_inbox(catalog, "catalog", "contracts.events.>");
      payments_inbox->on<ChargeRequested>(
          [this](const ChargeRequested& m, InboxContext& ctx) { return take_payment(m.contract, m.cents, ctx); });
      catalog_inbox->on<ShowTitles>(
          [this](const ShowTitles& m, InboxContext& ctx) { return show_titles(m.contract, ctx); });
      runner = std::make_unique<SagaRunner<Activation>>(contracts.store, contracts.storage, runner_options());
      runner->on_command<ActivateContract>([this](const ActivateContract& c, const CommandContext& ctx) -> Status {
        STRATA_ASSIGN_OR_RETURN(Contract k, contract_repo.load(sid("contract-" + c.contract)));
        STRATA_RETURN_IF_ERROR(k.activate());
        return contract_repo.save_idempotent(k, ctx.key, ctx.metadata).status();
      });
      runner->on_command<CancelContract>([this](const CancelContract& c, const CommandContext& ctx) -> Status {
        STRATA_ASSIGN_OR_RETURN(Contract k, contract_repo.load(sid("contract-" + c.contract)));
        STRATA_RETURN_IF_ERROR(k.cancel(c.reason));
        return contract_repo.save_idempotent(k, ctx.key, ctx.metadata).status();
      });
      runner->attach<PaymentTaken, PaymentDeclined>(*contracts_from_payments);
      runner->attach<TitlesShown>(*contracts_from_catalog);
    }
    contracts_relay = std::make_unique<Relay>(contracts.store, contracts.storage, transport, std::move(ko));
  }

  std::unique_ptr<Inbox> make_inbox(Service& s, std::string name, std::string filter) {
    return std::make_unique<Inbox>(s.store, s.storage, transport, inbox_options(std::move(name), std::move(filter)));
  }
  std::vector<Inbox*> inboxes() const {
    return {payments_inbox.get(), catalog_inbox.get(), contracts_from_payments.get(), contracts_from_catalog.get()};
  }
  std::vector<Relay*> relays() const { return {contracts_relay.get(), payments_relay.get(), catalog_relay.get()}; }

  // payments: charges or declines, once per message (the effect's event ids derive from the message id).
  Status take_payment(const std::string& contract, std::int64_t cents, InboxContext& ctx) {
    STRATA_ASSIGN_OR_RETURN(Payment p, payment_repo.load_or_create(sid("payment-" + contract)));
    STRATA_RETURN_IF_ERROR(p.decide(contract, cents));
    return ctx.save(payment_repo, p).status();
  }
  // catalog: makes the contract's titles visible, once per message.
  Status show_titles(const std::string& contract, InboxContext& ctx) {
    STRATA_ASSIGN_OR_RETURN(Titles t, titles_repo.load_or_create(sid("titles-" + contract)));
    STRATA_RETURN_IF_ERROR(t.show(contract));
    return ctx.save(titles_repo, t).status();
  }

  void start() {
    if (runner) REQUIRE(runner->start().ok());
    for (Relay* r : relays()) REQUIRE(r->start().ok());
    for (Inbox* i : inboxes()) REQUIRE(i->start().ok());
  }

  // contracts records the request, with the deal's correlation id.
  void request(const Deal& deal) {
    Contract c = contract_repo.create(sid("contract-" + deal.contract));
    REQUIRE(c.request(deal.contract, deal.cents).ok());
    Metadata m;
    m.correlation_id = "deal-" + deal.contract;
    REQUIRE(contract_repo.save(c, m).ok());
  }

  // Waits until the flow has come to rest: a round in which every relay published its whole log, the
  // runner and every inbox went idle, and no store gained an event.
  void settle() {
    auto heads = [&] {
      return std::array{contracts.store.head_position(), payments.store.head_position(), catalog.store.head_position()};
    };
    for (int round = 0; round < 100; ++round) {
      const auto before = heads();
      REQUIRE(contracts_relay->wait_for(before[0], kWait).ok());
      REQUIRE(payments_relay->wait_for(before[1], kWait).ok());
      REQUIRE(catalog_relay->wait_for(before[2], kWait).ok());
      if (runner) REQUIRE(runner->wait_idle(kWait).ok());
      // The inboxes are waited for side by side: each wait lasts at least kQuiet.
      std::vector<std::future<Status>> idle;
      for (Inbox* i : inboxes())
        idle.push_back(std::async(std::launch::async, [i] { return i->wait_idle(kQuiet, kWait); }));
      for (auto& f : idle) REQUIRE(f.get().ok());
      if (runner) REQUIRE(runner->wait_idle(kWait).ok());
      if (heads() == before) return;
    }
    FAIL("the three services did not come to rest");
  }

  // Per deal: "<contract> <contract state> <titles> charges=[<cents>...]".
  std::string outcome(const std::vector<Deal>& deals) {
    std::string out;
    for (const Deal& d : deals) {
      const Contract c = contract_repo.load(sid("contract-" + d.contract)).value();
      const Titles t = titles_repo.load_or_create(sid("titles-" + d.contract)).value();
      const Payment p = payment_repo.load_or_create(sid("payment-" + d.contract)).value();
      out += d.contract + " " + std::string(c.state()) + (t.visible() ? " visible" : " hidden") + " charges=[";
      for (std::size_t i = 0; i < p.charges().size(); ++i) out += (i == 0 ? "" : ",") + std::to_string(p.charges()[i]);
      out += "]\n";
    }
    return out;
  }

  // The events of one stream, or none when it does not exist.
  static std::vector<RecordedEvent> events_of(Service& s, const std::string& stream) {
    auto slice = s.store.read_stream(sid(stream), ReadDirection::kForward, 1, 1'000);
    if (!slice.ok()) {
      CHECK(slice.status().code() == StatusCode::kNotFound);
      return {};
    }
    return slice->events;
  }

  // One deal's business events in the three services, "<service> <stream> <type> <correlation id>" a
  // line: contracts, then payments, then catalog (the process manager's own stream left out).
  std::string trail(const std::string& contract) {
    std::string out;
    for (auto [s, stream] : {std::pair{&contracts, "contract-"}, {&payments, "payment-"}, {&catalog, "titles-"}})
      for (const RecordedEvent& e : events_of(*s, stream + contract))
        out += s->name + " " + e.stream_id + " " + e.type + " " + e.metadata.correlation_id + "\n";
    return out;
  }

  // Every event of every service — the process manager's records included — carries the correlation id
  // of the deal its stream belongs to ("<category>-<contract>"). Returns how many events were checked.
  std::size_t check_correlation_ids() {
    std::size_t checked = 0;
    for (Service* s : {&contracts, &payments, &catalog}) {
      Position from = 1;
      for (bool end = false; !end;) {
        LogSlice slice = s->store.read_log(from, 1'000).value();
        for (const RecordedEvent& e : slice.events) {
          const std::string deal = e.stream_id.substr(e.stream_id.find('-') + 1);
          CHECK_MESSAGE(e.metadata.correlation_id == "deal-" + deal, s->name, " ", e.stream_id, " ", e.type);
          ++checked;
        }
        from = slice.next_position;
        end = slice.end_of_log;
      }
    }
    return checked;
  }

  static void restart_from_the_start(Relay& relay) {
    REQUIRE(relay.stop().ok());
    REQUIRE(relay.republish_from(1).ok());
    REQUIRE(relay.start().ok());
  }

  InProcessTransport transport{no_dedupe()};
  Service contracts{"contracts"};
  Service payments{"payments"};
  Service catalog{"catalog"};
  Repository<Contract> contract_repo{contracts.store};
  Repository<Payment> payment_repo{payments.store};
  Repository<Titles> titles_repo{catalog.store};
  std::unique_ptr<SagaRunner<Activation>> runner;  // orchestration only
  std::unique_ptr<Relay> contracts_relay, payments_relay, catalog_relay;
  std::unique_ptr<Inbox> payments_inbox, catalog_inbox, contracts_from_payments, contracts_from_catalog;
};

// Requests every deal, with duplicates injected on the way. The broker keeps no duplicate window, so
// whatever is published again reaches the inboxes again: the first acks of each half are lost (the
// relays publish those messages again), payments' relay is restarted from the start of its log while the
// second half is under way, and contracts' and catalog's are at the end.
void run_with_duplicates(Deployment& d, const std::vector<Deal>& deals) {
  d.start();
  const std::size_t half = deals.size() / 2;
  d.transport.fail_next_acks(5);
  for (std::size_t i = 0; i < half; ++i) d.request(deals[i]);
  d.settle();
  d.transport.fail_next_acks(5);
  for (std::size_t i = half; i < deals.size(); ++i) d.request(deals[i]);
  Deployment::restart_from_the_start(*d.payments_relay);
  d.settle();
  Deployment::restart_from_the_start(*d.contracts_relay);
  Deployment::restart_from_the_start(*d.catalog_relay);
  d.settle();
}

// What every deal must come to, whoever coordinates: accepted — contract active, titles visible, charged
// once with its amount; declined — contract cancelled, titles hidden, nothing charged.
std::string expected_outcome(const std::vector<Deal>& deals) {
  std::string out;
  for (const Deal& d : deals)
    out += d.contract + (d.accepted() ? " active visible charges=[" + std::to_string(d.cents) + "]\n"
                                      : " cancelled hidden charges=[]\n");
  return out;
}

// The end state both styles must reach, and the duplicates they must have absorbed.
void check_end_state(Deployment& d, const std::vector<Deal>& deals) {
  CHECK(d.outcome(deals) == expected_outcome(deals));
  CHECK(d.trail("d00") ==
        "contracts contract-d00 contracts.activation_requested.v1 deal-d00\n"
        "contracts contract-d00 contracts.contract_activated.v1 deal-d00\n"
        "payments payment-d00 payments.charged.v1 deal-d00\n"
        "catalog titles-d00 catalog.titles_made_visible.v1 deal-d00\n");
  CHECK(d.trail("d03") ==
        "contracts contract-d03 contracts.activation_requested.v1 deal-d03\n"
        "contracts contract-d03 contracts.contract_cancelled.v1 deal-d03\n"
        "payments payment-d03 payments.charge_refused.v1 deal-d03\n");
  // Per deal: the request and its outcome in contracts, the decision in payments, the titles of an accepted
  // one in catalog; and in orchestration the process manager's records besides.
  const auto accepted =
      static_cast<std::size_t>(std::count_if(deals.begin(), deals.end(), [](const Deal& x) { return x.accepted(); }));
  CHECK(d.check_correlation_ids() >= 3 * deals.size() + accepted);

  // The repeats were stored by the broker and delivered, and every inbox recognised them by its markers
  // before a business rule saw them: nothing rejected, nothing parked.
  const std::vector<IncomingMessage> stored = d.transport.stored();
  std::vector<std::string> ids;
  for (const auto& m : stored) ids.push_back(m.id);
  std::sort(ids.begin(), ids.end());
  CHECK(std::unique(ids.begin(), ids.end()) - ids.begin() < static_cast<std::ptrdiff_t>(stored.size()));
  CHECK(d.payments_inbox->status().duplicates >= deals.size());  // contracts' whole log came again
  for (Inbox* i : d.inboxes()) {
    const InboxStatus st = i->status();
    CAPTURE(st.name);
    CHECK(st.rejected == 0);
    CHECK(st.parked == 0);
    CHECK(i->parked().value().empty());
  }
  for (Relay* r : d.relays()) {
    CAPTURE(r->name());
    CHECK(r->status().parked == 0);
    CHECK(r->status().last_error.ok());
  }
}

}  // namespace

TEST_CASE(
    "choreography: a contract activation across contracts, payments and catalog, with no coordinator, charges "
    "each accepted deal once and cancels each declined one, despite duplicate deliveries") {
  const std::vector<Deal> deals = twenty_deals();
  Deployment d(Style::kChoreography);
  run_with_duplicates(d, deals);
  check_end_state(d, deals);

  // Each effect was caused by the message of the one before it: a message's id is its event's id.
  const auto requested = Deployment::events_of(d.contracts, "contract-d00");
  const auto charged = Deployment::events_of(d.payments, "payment-d00");
  const auto shown = Deployment::events_of(d.catalog, "titles-d00");
  REQUIRE(requested.size() == 2);
  REQUIRE(charged.size() == 1);
  REQUIRE(shown.size() == 1);
  CHECK(charged[0].metadata.causation_id == requested[0].id.to_string());
  CHECK(shown[0].metadata.causation_id == charged[0].id.to_string());
  CHECK(requested[1].metadata.causation_id == shown[0].id.to_string());
  CHECK(charged[0].id == EventId::derive("payments/" + requested[0].id.to_string(), 0));
}

TEST_CASE(
    "choreography vs orchestration: a process manager coordinating the same activation, under the same "
    "duplicates, ends in the same state") {
  const std::vector<Deal> deals = twenty_deals();
  Deployment d(Style::kOrchestration);
  run_with_duplicates(d, deals);
  check_end_state(d, deals);

  for (const Deal& deal : deals) {
    CAPTURE(deal.contract);
    CHECK(d.runner->status(deal.contract).value().phase ==
          (deal.accepted() ? SagaPhase::kCompleted : SagaPhase::kCompensated));
  }
  CHECK(d.runner->needs_attention().value().empty());
  CHECK(d.runner->runner_status().last_error.ok());

  // The charge answered the saga's request: its cause is the id of the message the saga's record became.
  const auto saga = Deployment::events_of(d.contracts, "activation-d00");
  const auto charged = Deployment::events_of(d.payments, "payment-d00");
  REQUIRE(charged.size() == 1);
  auto sent = std::find_if(saga.begin(), saga.end(), [](const RecordedEvent& e) {
    return e.type == saga::MessageSent::kType && e.payload.find("\"step\":\"charge\"") != std::string::npos;
  });
  REQUIRE(sent != saga.end());
  CHECK(charged[0].metadata.causation_id == sent->id.to_string());
}
