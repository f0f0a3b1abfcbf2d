#include "streaming/chaos.h"

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/saga_runner.h"
#include "streaming/payments.h"
#include "streaming/report.h"
#include "streaming/service.h"

namespace streaming {

namespace {

using std::chrono::milliseconds;
using strata::testing::ProviderBehaviour;

constexpr std::array<std::string_view, 12> kAdjectives = {"Silent", "Crimson", "Hollow", "Northern", "Iron", "Velvet",
                                                          "Broken", "Golden",  "Last",   "Distant",  "Wild", "Pale"};
constexpr std::array<std::string_view, 10> kNouns = {"Harbor", "Orchard", "Signal", "Frontier", "Garden",
                                                     "Tide",   "Lantern", "Empire", "Meridian", "Echo"};
constexpr std::array<std::string_view, 8> kStudios = {"Northwind Pictures", "Blue Harbor Films", "Meridian Studios",
                                                      "Orchard Lane",       "Saltmarsh Media",   "Kestrel Animation",
                                                      "Old Quarry Films",   "Lumen House"};
constexpr std::array<std::string_view, 8> kRegions = {"US", "CA", "GB", "DE", "FR", "ES", "JP", "BR"};
constexpr ProviderBehaviour kFailures[] = {
    ProviderBehaviour::kDecline,          ProviderBehaviour::kTimeout,    ProviderBehaviour::kTimeoutBeforeEffect,
    ProviderBehaviour::kDuplicateAnswer,  ProviderBehaviour::kLateAnswer, ProviderBehaviour::kCrashMidCall,
    ProviderBehaviour::kPendingThenAnswer};

constexpr std::size_t kTitles = kAdjectives.size() * kNouns.size();

std::string title_id(std::size_t i) { return fmt::format("title-reel-{:03}", i); }

// `count` different items of `items`, in the order drawn.
template <class Items>
std::vector<std::string> pick(std::mt19937& random, const Items& items, std::size_t count) {
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), random);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) out.emplace_back(items[order[i]]);
  return out;
}

}  // namespace

Timing chaos_timing() { return {milliseconds(15'000), milliseconds(300), milliseconds(20'000), milliseconds(60'000)}; }

ChaosPlan chaos_plan(const ChaosOptions& options) {
  ChaosPlan plan{options, chaos_timing(), {}};
  std::mt19937 random(options.seed);
  std::vector<std::string> titles;
  for (std::size_t i = 0; i < kTitles; ++i) titles.push_back(title_id(i));
  std::uniform_int_distribution<int> one_to_three(1, 3);
  std::uniform_int_distribution<std::int64_t> millions(1, 120);
  std::uniform_real_distribution<double> chance(0, 1);
  std::uniform_int_distribution<std::size_t> failure(0, std::size(kFailures) - 1);
  std::uniform_int_distribution<std::size_t> studio(0, kStudios.size() - 1);
  for (std::size_t i = 1; i <= options.deals; ++i) {
    ChaosDeal deal;
    deal.terms.contract = fmt::format("c{:04}", i);
    deal.terms.studio = std::string(kStudios[studio(random)]);
    deal.terms.cents = millions(random) * 100'000'000;
    deal.terms.titles = pick(random, titles, static_cast<std::size_t>(one_to_three(random)));
    deal.terms.regions = pick(random, kRegions, static_cast<std::size_t>(one_to_three(random)));
    deal.terms.payment_window = plan.timing.payment_window;
    deal.terms.step_window = plan.timing.step_window;
    if (chance(random) < options.failure_rate) deal.provider = kFailures[failure(random)];
    plan.deals.push_back(std::move(deal));
  }
  return plan;
}

strata::Status add_chaos_catalogue(catalog::Service& catalog) {
  for (std::size_t i = 0; i < kTitles; ++i) {
    const std::string name = fmt::format("The {} {}", kAdjectives[i / kNouns.size()], kNouns[i % kNouns.size()]);
    STRATA_RETURN_IF_ERROR(catalog.add_title(title_id(i), name, static_cast<std::int32_t>(1970 + i % 55)));
  }
  return {};
}

std::unique_ptr<strata::testing::FaultyProvider> chaos_provider(const ChaosPlan& plan) {
  strata::testing::FaultyProvider::Options options;
  options.answer_delay = plan.timing.answer_delay;
  options.late_delay = plan.timing.late_answer;
  auto provider = std::make_unique<strata::testing::FaultyProvider>(options);
  for (const ChaosDeal& deal : plan.deals) provider->script(charge_key(deal.terms.contract), deal.provider);
  return provider;
}

// ---- the auditor ----

std::size_t Audit::violations() const noexcept {
  std::size_t n = 0;
  for (const AuditCheck& c : checks) n += c.violations.size();
  return n;
}

namespace {

// What the payments store says of one payment, from its events (not from a read model).
struct PaymentFacts {
  std::size_t captures = 0;
  std::size_t refunds = 0;
  std::int64_t captured = 0;
  std::int64_t refunded = 0;
};

strata::Result<std::map<std::string, PaymentFacts>> payment_facts(strata::EventStore& store) {
  std::map<std::string, PaymentFacts> facts;
  std::string after = "payment-";
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(strata::StreamList page, store.list_streams(after, 200));
    for (const strata::StreamInfo& info : page.streams) {
      if (!info.stream_id.starts_with("payment-")) return facts;
      STRATA_ASSIGN_OR_RETURN(strata::StreamId stream, strata::StreamId::parse(info.stream_id));
      STRATA_ASSIGN_OR_RETURN(strata::StreamSlice slice,
                              store.read_stream(stream, strata::ReadDirection::kForward, 1, 10'000));
      PaymentFacts& f = facts[info.stream_id];
      for (const strata::RecordedEvent& e : slice.events) {
        if (e.type == payments::Captured::kType) {
          payments::Captured c;
          STRATA_RETURN_IF_ERROR(strata::decode_json(e.payload, c));
          ++f.captures;
          f.captured += c.cents;
        } else if (e.type == payments::Refunded::kType) {
          payments::Refunded r;
          STRATA_RETURN_IF_ERROR(strata::decode_json(e.payload, r));
          ++f.refunds;
          f.refunded += r.cents;
        }
      }
    }
    if (page.next_after.empty()) return facts;
    after = page.next_after;
  }
}

const catalog::LicenceRow* licence_of(const std::optional<catalog::TitleRow>& row, const std::string& contract) {
  if (!row) return nullptr;
  for (const catalog::LicenceRow& l : row->licences)
    if (l.contract == contract) return &l;
  return nullptr;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

}  // namespace

strata::Result<Audit> audit_stores(const Stores& stores, const ChaosPlan* plan) {
  STRATA_RETURN_IF_ERROR(catch_up_read_models(stores));
  const strata::ReadModelReader ledger(stores.payments.storage(), payments::Ledger::kName);
  const strata::ReadModelReader titles(stores.catalog.storage(), catalog::VisibleTitles::kName);
  STRATA_ASSIGN_OR_RETURN(std::vector<contracts::ContractSummary> contracts,
                          contracts::list_contracts(stores.contracts.events(), stores.contracts.storage()));
  STRATA_ASSIGN_OR_RETURN(auto facts, payment_facts(stores.payments.events()));

  Audit audit;
  auto check = [&](std::string invariant) -> AuditCheck& {
    audit.checks.push_back(AuditCheck{std::move(invariant), 0, {}});
    return audit.checks.back();
  };

  std::map<std::string, const contracts::ContractSummary*> by_key;
  for (const contracts::ContractSummary& c : contracts) by_key[c.contract.key()] = &c;
  if (plan != nullptr) {
    AuditCheck& opened = check("every deal of the run has its contract");
    for (const ChaosDeal& deal : plan->deals) {
      ++opened.checked;
      if (!by_key.contains(deal.terms.contract)) opened.violations.push_back("contract-" + deal.terms.contract);
    }
  }

  AuditCheck& decided = check("every contract is active or cancelled");
  AuditCheck& paid_once = check("active: one capture of its amount, nothing refunded");
  AuditCheck& shown = check("active: its titles visible in each of its regions");
  AuditCheck& nothing_kept = check("cancelled: captures - refunds = 0");
  AuditCheck& hidden = check("cancelled: none of its titles visible under it");
  for (const contracts::ContractSummary& c : contracts) {
    const std::string key = c.contract.key();
    const std::string id = "contract-" + key;
    const std::string payment = "payment-" + key;
    const PaymentFacts money = facts.contains(payment) ? facts.at(payment) : PaymentFacts{};
    ++decided.checked;
    const auto state = c.contract.state();
    if (state == contracts::ContractState::kActive) {
      audit.active_amount += c.contract.cents();
      ++paid_once.checked;
      if (money.captures != 1 || money.captured != c.contract.cents() || money.refunds != 0)
        paid_once.violations.push_back(fmt::format("{}: {} capture(s) of {} in all, {} refund(s), for an amount of {}",
                                                   id, money.captures, streaming::money(money.captured), money.refunds,
                                                   streaming::money(c.contract.cents())));
      ++shown.checked;
      for (const std::string& title : c.contract.titles()) {
        STRATA_ASSIGN_OR_RETURN(auto row, catalog::VisibleTitles::kTitles.get(titles, title));
        const catalog::LicenceRow* licence = licence_of(row, key);
        std::vector<std::string> missing;
        for (const std::string& region : c.contract.regions()) {
          const bool licensed_there = licence != nullptr && std::find(licence->regions.begin(), licence->regions.end(),
                                                                      region) != licence->regions.end();
          if (!licensed_there || !licence->shown || licence->hidden || !row->visible_in(region))
            missing.push_back(region);
        }
        if (!missing.empty())
          shown.violations.push_back(fmt::format("{}: {} not visible in {}", id, title, joined(missing)));
      }
    } else if (state == contracts::ContractState::kCancelled) {
      ++audit.cancel_reasons[c.compensation_reason];
      ++nothing_kept.checked;
      if (money.captured - money.refunded != 0)
        nothing_kept.violations.push_back(fmt::format(
            "{}: {} captured, {} refunded", id, streaming::money(money.captured), streaming::money(money.refunded)));
      ++hidden.checked;
      for (const std::string& title : c.contract.titles()) {
        STRATA_ASSIGN_OR_RETURN(auto row, catalog::VisibleTitles::kTitles.get(titles, title));
        const catalog::LicenceRow* licence = licence_of(row, key);
        if (licence != nullptr && licence->shown && !licence->hidden)
          hidden.violations.push_back(
              fmt::format("{}: {} is shown under it in {}", id, title, joined(licence->regions)));
      }
    } else {
      decided.violations.push_back(fmt::format("{}: {}, its saga {}", id, contracts::contract_state_name(state),
                                               strata::saga_phase_name(c.saga)));
    }
  }

  AuditCheck& once = check("no payment captured or refunded twice");
  AuditCheck& agrees = check("the ledger read model agrees with the payments' events");
  STRATA_ASSIGN_OR_RETURN(auto entries, payments::ledger_entries(ledger));
  std::map<std::string, payments::LedgerEntry> rows(entries.begin(), entries.end());
  for (const auto& [payment, f] : facts) {
    audit.captured += f.captured;
    audit.refunded += f.refunded;
    ++once.checked;
    if (f.captures > 1 || f.refunds > 1)
      once.violations.push_back(
          fmt::format("{}: captured {} times, refunded {} times", payment, f.captures, f.refunds));
    ++agrees.checked;
    auto row = rows.find(payment);
    if (row == rows.end() || row->second.captured != f.captured || row->second.refunded != f.refunded)
      agrees.violations.push_back(fmt::format("{}: the ledger says {} captured, {} refunded", payment,
                                              row == rows.end() ? "nothing" : streaming::money(row->second.captured),
                                              row == rows.end() ? "nothing" : streaming::money(row->second.refunded)));
  }

  AuditCheck& deadlines = check("every saga not ended has a deadline pending");
  for (const contracts::ContractSummary& c : contracts) {
    if (c.saga == strata::SagaPhase::kNew) continue;  // no saga: counted above, as a contract not decided
    ++deadlines.checked;
    const bool ended = c.saga == strata::SagaPhase::kCompleted || c.saga == strata::SagaPhase::kCompensated;
    if (!ended && c.pending_deadlines == 0)
      deadlines.violations.push_back(
          fmt::format("activation-{}: {}, no deadline pending", c.contract.key(), strata::saga_phase_name(c.saga)));
  }
  AuditCheck& attention = check("no saga needs attention");
  {
    strata::SagaRunner<contracts::Activation> sagas(stores.contracts.events(), stores.contracts.storage());
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> stuck, sagas.needs_attention());
    attention.checked = contracts.size();
    for (const std::string& key : stuck) attention.violations.push_back("activation-" + key);
  }

  AuditCheck& parked = check("no message parked in an inbox");
  {
    // The inboxes are only asked for what they parked: never started, they fetch nothing.
    strata::InProcessTransport idle;
    const ServiceContext contracts_side{stores.contracts.events(), stores.contracts.storage(), idle, "audit", Pace{}};
    const ServiceContext payments_side{stores.payments.events(), stores.payments.storage(), idle, "audit", Pace{}};
    const ServiceContext catalog_side{stores.catalog.events(), stores.catalog.storage(), idle, "audit", Pace{}};
    const std::pair<const ServiceContext*, strata::InboxOptions> inboxes[] = {
        {&contracts_side, inbox_options(contracts_side, "contracts-from-catalog", "catalog")},
        {&contracts_side, inbox_options(contracts_side, "contracts-from-payments", "payments")},
        {&payments_side, inbox_options(payments_side, "payments-inbox", "contracts")},
        {&catalog_side, inbox_options(catalog_side, "catalog-inbox", "contracts")},
    };
    for (const auto& [side, options] : inboxes) {
      strata::Inbox inbox(side->store, side->storage, side->transport, options);
      STRATA_ASSIGN_OR_RETURN(std::vector<strata::ParkedEvent> messages, inbox.parked());
      ++parked.checked;
      for (const strata::ParkedEvent& m : messages)
        parked.violations.push_back(fmt::format("{}: {} ({})", options.name, m.event.type, m.error.to_string()));
    }
  }

  if (plan != nullptr) {
    std::map<ProviderBehaviour, Audit::Outcomes> outcomes;
    for (const ChaosDeal& deal : plan->deals) {
      Audit::Outcomes& o = outcomes[deal.provider];
      o.behaviour = std::string(strata::testing::provider_behaviour_name(deal.provider));
      ++o.deals;
      auto c = by_key.find(deal.terms.contract);
      const auto state = c == by_key.end() ? contracts::ContractState::kNew : c->second->contract.state();
      if (state == contracts::ContractState::kActive) {
        ++o.active;
      } else if (state == contracts::ContractState::kCancelled) {
        ++o.cancelled;
      } else {
        ++o.other;
      }
    }
    for (auto& [behaviour, o] : outcomes) audit.outcomes.push_back(std::move(o));
  }
  return audit;
}

std::string render_audit(const Audit& audit) {
  std::string out = fmt::format("| {:<56} | {:>7} | {:>10} |\n|{:-<58}|{:->9}|{:->12}|\n", "invariant", "checked",
                                "violations", "", ":", ":");
  for (const AuditCheck& c : audit.checks)
    out += fmt::format("| {:<56} | {:>7} | {:>10} |\n", c.invariant, c.checked, c.violations.size());
  for (const AuditCheck& c : audit.checks) {
    if (c.violations.empty()) continue;
    out += fmt::format("\n{}: {} violation(s)\n", c.invariant, c.violations.size());
    for (std::size_t i = 0; i < c.violations.size() && i < 25; ++i) out += "  " + c.violations[i] + "\n";
    if (c.violations.size() > 25) out += fmt::format("  and {} more\n", c.violations.size() - 25);
  }
  if (!audit.outcomes.empty()) {
    out += fmt::format("\n| {:<22} | {:>5} | {:>6} | {:>9} | {:>5} |\n|{:-<24}|{:->7}|{:->8}|{:->11}|{:->7}|\n",
                       "the provider", "deals", "active", "cancelled", "other", "", ":", ":", ":", ":");
    for (const Audit::Outcomes& o : audit.outcomes)
      out += fmt::format("| {:<22} | {:>5} | {:>6} | {:>9} | {:>5} |\n", o.behaviour, o.deals, o.active, o.cancelled,
                         o.other);
  }
  if (!audit.cancel_reasons.empty()) {
    out += "\nwhy the cancelled contracts were cancelled:\n";
    for (const auto& [reason, count] : audit.cancel_reasons) out += fmt::format("  {:>5}  {}\n", count, reason);
  }
  out += fmt::format("\nmoney: {} captured, {} refunded, {} kept; the active contracts' amounts add up to {}\n",
                     money(audit.captured), money(audit.refunded), money(audit.captured - audit.refunded),
                     money(audit.active_amount));
  return out;
}

}  // namespace streaming
