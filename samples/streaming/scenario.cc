#include "streaming/scenario.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "streaming/payments.h"

namespace streaming {

namespace {

using std::chrono::milliseconds;
using strata::testing::ProviderBehaviour;

struct CatalogueEntry {
  std::string_view id;
  std::string_view name;
  std::int32_t year;
};

constexpr CatalogueEntry kCatalogue[] = {
    {"title-long-night-1", "The Long Night", 2019},
    {"title-long-night-2", "The Long Night: Embers", 2021},
    {"title-long-night-3", "The Long Night: Dawn", 2024},
    {"title-harbor-lights", "Harbor Lights", 1998},
    {"title-glass-city", "Glass City", 2016},
    {"title-paper-moons", "Paper Moons", 2020},
    {"title-quiet-field", "A Quiet Field", 2011},  // licensed by nobody: seen nowhere
};

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

}  // namespace

std::string money(std::int64_t cents) {
  std::string whole = std::to_string(std::llabs(cents) / 100);
  for (auto at = static_cast<std::ptrdiff_t>(whole.size()) - 3; at > 0; at -= 3) whole.insert(at, ",");
  return fmt::format("{}${}.{:02}", cents < 0 ? "-" : "", whole, std::llabs(cents) % 100);
}

Timing Timing::in_process() {
  return {milliseconds(1'000), milliseconds(30), milliseconds(2'000), milliseconds(10'000)};
}
// Over JetStream between processes a hop takes milliseconds to a few hundred (a service that has just
// started, a loaded machine). A payment takes two hops and a webhook; the window leaves seconds.
Timing Timing::over_network() {
  return {milliseconds(4'000), milliseconds(100), milliseconds(7'000), milliseconds(30'000)};
}

std::vector<Deal> showcase_deals(const Timing& timing) {
  using contracts::ContractState;
  using strata::SagaPhase;
  const milliseconds window = timing.payment_window;
  const milliseconds steps = timing.step_window;
  return {
      {"the $50M deal: Northwind Pictures licenses The Long Night trilogy for US, CA and GB",
       {"trilogy",
        "Northwind Pictures",
        5'000'000'000,
        {"title-long-night-1", "title-long-night-2", "title-long-night-3"},
        {"US", "CA", "GB"},
        window,
        steps},
       ProviderBehaviour::kAccept,
       {ContractState::kActive, SagaPhase::kCompleted, 5'000'000'000, 0, true}},
      {"Blue Harbor Films licenses Harbor Lights for DE and FR, and the provider declines the card",
       {"harbor", "Blue Harbor Films", 1'250'000'000, {"title-harbor-lights"}, {"DE", "FR"}, window, steps},
       ProviderBehaviour::kDecline,
       {ContractState::kCancelled, SagaPhase::kCompensated, 0, 0, false}},
      {"Meridian Studios licenses Glass City for FR and ES, and the provider confirms only after the window",
       {"glass", "Meridian Studios", 800'000'000, {"title-glass-city"}, {"FR", "ES"}, window, steps},
       ProviderBehaviour::kLateAnswer,
       {ContractState::kCancelled, SagaPhase::kCompensated, 800'000'000, 800'000'000, false}},
      {"Orchard Lane licenses Paper Moons for US and DE, and the provider confirms twice",
       {"moons", "Orchard Lane", 320'000'000, {"title-paper-moons"}, {"US", "DE"}, window, steps},
       ProviderBehaviour::kDuplicateAnswer,
       {ContractState::kActive, SagaPhase::kCompleted, 320'000'000, 0, true}},
  };
}

strata::Status add_sample_catalogue(catalog::Service& catalog) {
  for (const CatalogueEntry& t : kCatalogue)
    STRATA_RETURN_IF_ERROR(catalog.add_title(t.id, std::string(t.name), t.year));
  return {};
}

std::string charge_key(std::string_view contract) {
  // The saga's stream is "<kName>-<key>" and its steps' keys "<stream>/<step>" (saga_runner.h).
  return std::string(contracts::Activation::kName) + "-" + std::string(contract) + "/charge";
}

std::unique_ptr<strata::testing::FaultyProvider> scripted_provider(std::span<const Deal> deals, const Timing& timing) {
  strata::testing::FaultyProvider::Options options;
  options.answer_delay = timing.answer_delay;
  options.late_delay = timing.late_answer;
  auto provider = std::make_unique<strata::testing::FaultyProvider>(options);
  for (const Deal& deal : deals) provider->script(charge_key(deal.terms.contract), deal.provider);
  return provider;
}

strata::Result<std::string> render_read_models(const ReadSide& read_side) {
  std::string out = "  contracts, and their activation sagas:\n";
  STRATA_ASSIGN_OR_RETURN(auto contracts, contracts::list_contracts(read_side.contracts, read_side.contracts_storage));
  for (const contracts::ContractSummary& c : contracts) {
    std::string saga(strata::saga_phase_name(c.saga));
    if (!c.compensation_reason.empty()) saga += " (" + c.compensation_reason + ")";
    if (c.paid_cents > 0) saga += ", paid " + money(c.paid_cents);
    if (c.refunded_cents > 0) saga += ", refunded " + money(c.refunded_cents);
    out += fmt::format("    {:<18} {:<10} {:<19} {:>15}  {:<9} saga {}\n", c.contract.id().str(),
                       contracts::contract_state_name(c.contract.state()), c.contract.studio(),
                       money(c.contract.cents()), joined(c.contract.regions(), " "), saga);
  }

  out += "  the payments ledger (payments.ledger):\n";
  STRATA_ASSIGN_OR_RETURN(auto ledger, payments::ledger_entries(read_side.ledger));
  std::int64_t kept = 0;
  for (const auto& [payment, entry] : ledger) {
    std::string movements = entry.declined.empty() ? "" : "declined: " + entry.declined;
    if (entry.captured > 0) movements += "captured " + money(entry.captured);
    if (entry.refunded > 0) movements += ", refunded " + money(entry.refunded);
    if (!entry.references.empty()) movements += " (" + joined(entry.references) + ")";
    out += fmt::format("    {:<18} {:<10} {:<19} kept {:>15}  {}\n", payment, entry.state, entry.studio,
                       money(entry.kept()), movements);
    kept += entry.kept();
  }
  out += fmt::format("    {:<18} {:<10} {:<19} kept {:>15}\n", "in all", "", "", money(kept));

  out += "  what each region can see (catalog.visible_titles):\n";
  STRATA_ASSIGN_OR_RETURN(auto titles, catalog::all_titles(read_side.visible_titles));
  std::set<std::string> regions;
  for (const auto& [id, row] : titles)
    for (const std::string& region : row.regions()) regions.insert(region);
  for (const std::string& region : regions) {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> visible,
                            catalog::titles_visible_in(read_side.visible_titles, region));
    out += fmt::format("    {:<3} {}\n", region, visible.empty() ? "nothing" : joined(visible));
  }
  return out;
}

strata::Result<std::vector<std::string>> check_deal(const ReadSide& read_side, const Deal& deal) {
  const Deal::Outcome& expected = deal.expected;
  const std::string& key = deal.terms.contract;
  std::vector<std::string> differences;

  STRATA_ASSIGN_OR_RETURN(auto contracts, contracts::list_contracts(read_side.contracts, read_side.contracts_storage));
  auto contract = std::find_if(contracts.begin(), contracts.end(),
                               [&](const contracts::ContractSummary& c) { return c.contract.key() == key; });
  if (contract == contracts.end()) {
    differences.push_back("there is no contract-" + key);
  } else {
    if (contract->contract.state() != expected.contract)
      differences.push_back(fmt::format("contract-{} is {}, not {}", key,
                                        contracts::contract_state_name(contract->contract.state()),
                                        contracts::contract_state_name(expected.contract)));
    if (contract->saga != expected.saga)
      differences.push_back(fmt::format("its saga is {}, not {}", strata::saga_phase_name(contract->saga),
                                        strata::saga_phase_name(expected.saga)));
  }

  STRATA_ASSIGN_OR_RETURN(auto entry, payments::Ledger::kPayments.get(read_side.ledger, "payment-" + key));
  const payments::LedgerEntry payment = entry.value_or(payments::LedgerEntry{});
  if (payment.captured != expected.captured)
    differences.push_back(fmt::format("{} captured, not {}", money(payment.captured), money(expected.captured)));
  if (payment.refunded != expected.refunded)
    differences.push_back(fmt::format("{} refunded, not {}", money(payment.refunded), money(expected.refunded)));

  for (const std::string& title : deal.terms.titles) {
    STRATA_ASSIGN_OR_RETURN(auto row, catalog::VisibleTitles::kTitles.get(read_side.visible_titles, title));
    for (const std::string& region : deal.terms.regions) {
      const bool visible = row && row->visible_in(region);
      if (visible != expected.visible)
        differences.push_back(fmt::format("{} is {}visible in {}", title, visible ? "" : "not ", region));
    }
  }
  return differences;
}

std::string describe_expected(const Deal& deal) {
  const Deal::Outcome& e = deal.expected;
  std::string money_part = e.captured == 0            ? "no money taken"
                           : e.refunded == e.captured ? money(e.captured) + " captured and refunded"
                                                      : money(e.captured - e.refunded) + " captured once";
  return fmt::format("contract {}, saga {}, {}, titles {}", contracts::contract_state_name(e.contract),
                     strata::saga_phase_name(e.saga), money_part,
                     e.visible ? "visible in " + joined(deal.terms.regions) : std::string("visible nowhere"));
}

}  // namespace streaming
