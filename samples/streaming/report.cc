#include "streaming/report.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "strata/projections/projector.h"
#include "streaming/payments.h"
#include "streaming/showcase.h"
#include "streaming/stores.h"

namespace streaming {

void print_deal_heading(const Deal& deal, std::size_t number, std::size_t count) {
  fmt::print("\n== deal {} of {}: {}\n", number, count, deal.headline);
  fmt::print("   {} for {}, provider: {}; it must end with {}\n", deal.terms.studio, money(deal.terms.cents),
             strata::testing::provider_behaviour_name(deal.provider), describe_expected(deal));
}

strata::Status print_timeline(std::span<const ServiceLog> logs, std::string_view correlation_id) {
  STRATA_ASSIGN_OR_RETURN(std::vector<TimelineEvent> events, business_transaction(logs, correlation_id));
  fmt::print("\n-- timeline of {}: {} events in the three stores, each after its cause\n{}", correlation_id,
             events.size(), render_timeline(events));
  return {};
}

strata::Status print_trace(std::span<const ServiceLog> logs, std::string_view correlation_id) {
  STRATA_ASSIGN_OR_RETURN(std::vector<TimelineEvent> events, business_transaction(logs, correlation_id));
  if (events.empty())
    return strata::Status::not_found(fmt::format("no event has correlation id \"{}\"", correlation_id));
  fmt::print("\n-- trace {}: {} events, each under the event that caused it\n{}", correlation_id, events.size(),
             render_trace(events));
  return {};
}

strata::Status print_read_models(const ReadSide& read_side) {
  STRATA_ASSIGN_OR_RETURN(std::string text, render_read_models(read_side));
  fmt::print("\n-- read models\n{}", text);
  return {};
}

strata::Result<bool> print_verdict(const ReadSide& read_side, const Deal& deal) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> differences, check_deal(read_side, deal));
  if (differences.empty()) {
    fmt::print("\n   ok, {}: {}\n", deal.correlation_id(), describe_expected(deal));
    return true;
  }
  fmt::print("\n   NOT AS EXPECTED, {}:\n", deal.correlation_id());
  for (const std::string& d : differences) fmt::print("     - {}\n", d);
  return false;
}

namespace {

// Brings the projection's read model up to the store's head (the service that kept it may have stopped
// a little behind) and stops.
template <class P>
strata::Status catch_up(const ServiceStore& store, P projection) {
  strata::Projector projector(store.events(), store.storage(), std::move(projection));
  STRATA_RETURN_IF_ERROR(projector.start());
  STRATA_RETURN_IF_ERROR(projector.wait_for(store.events().head_position(), std::chrono::seconds(30)));
  return projector.stop();
}

}  // namespace

strata::Status catch_up_read_models(const Stores& stores) {
  STRATA_RETURN_IF_ERROR(catch_up(stores.payments, payments::Ledger{}));
  return catch_up(stores.catalog, catalog::VisibleTitles{});
}

namespace {

strata::Result<bool> report(const std::filesystem::path& dir) {
  STRATA_ASSIGN_OR_RETURN(Stores stores, Stores::open(dir, StoreMode::kOpen, /*durable=*/false));
  STRATA_RETURN_IF_ERROR(catch_up_read_models(stores));
  const strata::ReadModelReader ledger(stores.payments.storage(), payments::Ledger::kName);
  const strata::ReadModelReader visible_titles(stores.catalog.storage(), catalog::VisibleTitles::kName);
  const ReadSide read_side{stores.contracts.events(), stores.contracts.storage(), ledger, visible_titles};

  // The timings do not matter here: only the deals' terms and ends.
  const std::vector<Deal> deals = showcase_deals(Timing::over_network());
  bool as_expected = true;
  for (std::size_t i = 0; i < deals.size(); ++i) {
    print_deal_heading(deals[i], i + 1, deals.size());
    STRATA_RETURN_IF_ERROR(print_timeline(stores.logs(), deals[i].correlation_id()));
    STRATA_ASSIGN_OR_RETURN(bool ok, print_verdict(read_side, deals[i]));
    as_expected = as_expected && ok;
  }
  STRATA_RETURN_IF_ERROR(print_read_models(read_side));
  return as_expected;
}

}  // namespace

int run_report(const std::filesystem::path& dir) {
  strata::Result<bool> as_expected = report(dir);
  if (!as_expected.ok()) {
    fmt::print(stderr, "streaming report: {}\n", as_expected.status().to_string());
    return 2;
  }
  fmt::print("\n{}\n", *as_expected ? "every deal ended as it must." : "some deals did not end as they must.");
  return *as_expected ? 0 : 1;
}

int run_trace(const std::filesystem::path& dir, std::string_view correlation_id) {
  strata::Result<Stores> stores = Stores::open(dir, StoreMode::kOpen, /*durable=*/false);
  strata::Status s = stores.ok() ? print_trace(stores->logs(), correlation_id) : stores.status();
  if (!s.ok()) {
    fmt::print(stderr, "streaming trace: {}\n", s.to_string());
    return 2;
  }
  return 0;
}

}  // namespace streaming
