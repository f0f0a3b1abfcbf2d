// streaming in-process: the narrated run. The three services share this process but nothing else than
// the broker: each has its own store, and they talk through relays and inboxes only.
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/testing/faulty_provider.h"
#include "streaming/catalog.h"
#include "streaming/contracts.h"
#include "streaming/payments.h"
#include "streaming/report.h"
#include "streaming/scenario.h"
#include "streaming/showcase.h"
#include "streaming/stores.h"

namespace streaming {

namespace {

using strata::testing::FaultyProvider;

constexpr std::chrono::milliseconds kTimeout{30'000};
constexpr std::chrono::milliseconds kQuiet{20};

struct Services {
  contracts::Service& contracts;
  payments::Service& payments;
  catalog::Service& catalog;
  FaultyProvider& provider;
};

// Waits until the services have come to rest: the provider has given every answer it owes (a late one
// too), the saga runner, the relays and the inboxes are idle, and no store grew meanwhile.
strata::Status settle(const Stores& stores, const Services& services) {
  auto heads = [&] {
    return std::array{stores.contracts.events().head_position(), stores.payments.events().head_position(),
                      stores.catalog.events().head_position()};
  };
  for (int round = 0; round < 100; ++round) {
    const auto before = heads();
    services.provider.wait_for_answers();
    STRATA_RETURN_IF_ERROR(services.contracts.wait_idle(kQuiet, kTimeout));
    STRATA_RETURN_IF_ERROR(services.payments.wait_idle(kQuiet, kTimeout));
    STRATA_RETURN_IF_ERROR(services.catalog.wait_idle(kQuiet, kTimeout));
    if (heads() == before) return {};
  }
  return strata::Status::unavailable("the three services did not come to rest");
}

// What only this process sees: how the provider itself was used. Prints it, and returns how it differs
// from what the deal must come to, one sentence each.
std::vector<std::string> check_provider(const Deal& deal, const FaultyProvider& provider, std::uint64_t webhook_answers,
                                        std::uint64_t repeated_answers) {
  const std::string key = charge_key(deal.terms.contract);
  // One charge per deal, whatever the provider answered, and one refund when the deal is refunded.
  const std::size_t operations = deal.expected.refunded > 0 ? 2 : 1;
  fmt::print("   the provider: {} operation(s) under {}, {} webhook answer(s), {} of them repeated and ignored\n",
             provider.effects(key), key, webhook_answers, repeated_answers);
  std::vector<std::string> differences;
  if (provider.effects(key) != operations)
    differences.push_back(
        fmt::format("the provider performed {} operations under {}, not {}", provider.effects(key), key, operations));
  const bool repeated = deal.provider == strata::testing::ProviderBehaviour::kDuplicateAnswer;
  if (repeated && (webhook_answers != 2 || repeated_answers != 1))
    differences.push_back("the provider's second confirmation was not ignored as a repeat");
  return differences;
}

strata::Result<bool> narrate(const Stores& stores, const std::string& trace) {
  const Timing timing = Timing::in_process();
  const std::vector<Deal> deals = showcase_deals(timing);

  strata::InProcessTransport transport;
  auto context = [&](const ServiceStore& s) {
    return ServiceContext{s.events(), s.storage(), transport, "showcase", Pace::in_process()};
  };
  std::unique_ptr<FaultyProvider> scripted = scripted_provider(deals, timing);
  FaultyProvider& provider = *scripted;
  catalog::Service catalog(context(stores.catalog));
  payments::Service payments(context(stores.payments), std::move(scripted));
  contracts::Service contracts(context(stores.contracts));
  const Services services{contracts, payments, catalog, provider};

  STRATA_RETURN_IF_ERROR(add_sample_catalogue(catalog));
  STRATA_RETURN_IF_ERROR(catalog.start());
  STRATA_RETURN_IF_ERROR(payments.start());
  STRATA_RETURN_IF_ERROR(contracts.start());
  fmt::print(
      "three services, each with its own store, over one in-process broker: contracts (Contract, the Activation "
      "saga),\npayments (Payment, the ledger, a payment provider that misbehaves on cue) and catalog (Title, what "
      "each region\ncan see). Payment window {} ms; a late confirmation comes after {} ms.\n",
      timing.payment_window.count(), timing.late_answer.count());

  bool as_expected = true;
  for (std::size_t i = 0; i < deals.size(); ++i) {
    const Deal& deal = deals[i];
    print_deal_heading(deal, i + 1, deals.size());
    const std::uint64_t answers_before = provider.answers_delivered();
    const std::uint64_t repeated_before = payments.repeated_answers();
    const auto started = std::chrono::steady_clock::now();
    STRATA_RETURN_IF_ERROR(contracts.open_deal(deal.terms));
    STRATA_RETURN_IF_ERROR(settle(stores, services));
    fmt::print(
        "   settled after {} ms\n",
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());

    STRATA_RETURN_IF_ERROR(print_timeline(stores.logs(), deal.correlation_id()));
    STRATA_ASSIGN_OR_RETURN(strata::ReadModelReader ledger, payments.ledger());
    STRATA_ASSIGN_OR_RETURN(strata::ReadModelReader visible_titles, catalog.visible_titles());
    const ReadSide read_side{stores.contracts.events(), stores.contracts.storage(), ledger, visible_titles};
    STRATA_RETURN_IF_ERROR(print_read_models(read_side));

    STRATA_ASSIGN_OR_RETURN(bool ok, print_verdict(read_side, deal));
    const std::vector<std::string> provider_differences = check_provider(
        deal, provider, provider.answers_delivered() - answers_before, payments.repeated_answers() - repeated_before);
    for (const std::string& d : provider_differences) fmt::print("   NOT AS EXPECTED: {}\n", d);
    as_expected = as_expected && ok && provider_differences.empty();
  }

  if (!trace.empty()) STRATA_RETURN_IF_ERROR(print_trace(stores.logs(), trace));
  STRATA_RETURN_IF_ERROR(contracts.stop());
  STRATA_RETURN_IF_ERROR(payments.stop());
  STRATA_RETURN_IF_ERROR(catalog.stop());
  return as_expected;
}

}  // namespace

int run_in_process(const InProcessOptions& options) {
  strata::Result<Stores> stores = options.data ? Stores::open(*options.data, StoreMode::kCreate, /*durable=*/false)
                                               : strata::Result<Stores>(Stores::in_memory());
  if (!stores.ok()) {
    fmt::print(stderr, "streaming: {}\n", stores.status().to_string());
    return 2;
  }
  strata::Result<bool> as_expected = narrate(*stores, options.trace);
  if (!as_expected.ok()) {
    fmt::print(stderr, "streaming: {}\n", as_expected.status().to_string());
    return 2;
  }
  if (!*as_expected) {
    fmt::print("\nsome deals did not end as they must (see NOT AS EXPECTED above)\n");
    return 1;
  }
  fmt::print("\nevery deal ended as it must.{}\n",
             options.data ? fmt::format(" The stores are in {}: try `streaming trace {} deal-trilogy`.",
                                        options.data->string(), options.data->string())
                          : "");
  return 0;
}

}  // namespace streaming
