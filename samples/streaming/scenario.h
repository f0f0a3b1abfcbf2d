// The showcase's story: the catalogue, four deals and how each must end, the provider scripted to play
// its part in each, and the report — the read models, and each deal's end state checked.
//
//   1. trilogy: Northwind Pictures licenses The Long Night trilogy for $50M in US, CA and GB; the
//      provider accepts. The contract is active, the titles visible there, $50M captured once.
//   2. harbor: the provider declines. The contract is cancelled, nothing is visible, no money kept.
//   3. glass: the provider takes the charge but confirms only after the payment window. The saga gives
//      up (titles hidden, contract cancelled) and refunds the late payment.
//   4. moons: the provider confirms twice. The contract is active, the studio charged once.
//
// Thread safety: the functions are reentrant.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/event_store.h"
#include "strata/core/status.h"
#include "strata/messaging/saga_records.h"
#include "strata/messaging/testing/faulty_provider.h"
#include "strata/projections/projection_storage.h"
#include "strata/projections/read_model.h"
#include "streaming/catalog.h"
#include "streaming/contracts.h"

namespace streaming {

// Money as people read it: "$50,000,000.00".
std::string money(std::int64_t cents);

// How long things take: in one process the showcase runs in a few seconds; over a broker between
// processes everything is given more room.
struct Timing {
  std::chrono::milliseconds payment_window;  // the saga waits this long for the payment
  std::chrono::milliseconds answer_delay;    // a webhook's answer comes after this
  std::chrono::milliseconds late_answer;     // a late answer comes after this: after the window
  std::chrono::milliseconds step_window;     // the saga waits this long for the licences, and the showing
  static Timing in_process();
  static Timing over_network();
};

struct Deal {
  std::string headline;
  contracts::DealTerms terms;
  // What the provider does with the deal's charge.
  strata::testing::ProviderBehaviour provider = strata::testing::ProviderBehaviour::kAccept;
  // How the deal must end.
  struct Outcome {
    contracts::ContractState contract = contracts::ContractState::kNew;
    strata::SagaPhase saga = strata::SagaPhase::kNew;
    std::int64_t captured = 0;  // in all, refunds not deducted
    std::int64_t refunded = 0;
    bool visible = false;  // every title in every region of the deal, or none in any
  } expected;

  std::string correlation_id() const { return contracts::deal_correlation_id(terms.contract); }
};

std::vector<Deal> showcase_deals(const Timing& timing);

// Adds the titles the deals license (once: adding them again changes nothing).
[[nodiscard]] strata::Status add_sample_catalogue(catalog::Service& catalog);

// The idempotency key the saga of `contract` charges under: its charge step's, "activation-<key>/charge".
std::string charge_key(std::string_view contract);

// A provider that treats each deal's charge as the deal says.
std::unique_ptr<strata::testing::FaultyProvider> scripted_provider(std::span<const Deal> deals, const Timing& timing);

// What the report reads: the contracts store (contracts and their sagas) and the two read models.
struct ReadSide {
  strata::EventStore& contracts;
  strata::ProjectionStorage& contracts_storage;
  const strata::ReadModelSource& ledger;          // payments::Ledger
  const strata::ReadModelSource& visible_titles;  // catalog::VisibleTitles
};

// Every contract and its saga, the payments ledger, and what each region can see, as text.
[[nodiscard]] strata::Result<std::string> render_read_models(const ReadSide& read_side);

// How `deal` ended, compared with how it must: one sentence per difference; none when it is as expected.
[[nodiscard]] strata::Result<std::vector<std::string>> check_deal(const ReadSide& read_side, const Deal& deal);

// What `deal` must come to, in one sentence.
std::string describe_expected(const Deal& deal);

}  // namespace streaming
