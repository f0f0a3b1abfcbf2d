// The chaos run's workload: many deals, random but the same for a given seed in every process that
// computes them, with a provider that misbehaves on a share of them in every way it can; and the
// auditor that reads the three stores afterwards and checks that every deal ended consistently.
//
//   const streaming::ChaosPlan plan = streaming::chaos_plan({.deals = 1000, .seed = 7});
//   STRATA_RETURN_IF_ERROR(streaming::add_chaos_catalogue(catalog));                 // catalog
//   auto provider = streaming::chaos_provider(plan);                                  // payments
//   for (const auto& deal : plan.deals) STRATA_RETURN_IF_ERROR(contracts.open_deal(deal.terms));
//   ...
//   STRATA_ASSIGN_OR_RETURN(streaming::Audit audit, streaming::audit_stores(stores, &plan));
//   fmt::print("{}", streaming::render_audit(audit));
//
// Thread safety: the functions are reentrant; the values are plain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/core/status.h"
#include "strata/messaging/testing/faulty_provider.h"
#include "streaming/catalog.h"
#include "streaming/contracts.h"
#include "streaming/scenario.h"
#include "streaming/stores.h"

namespace streaming {

struct ChaosOptions {
  std::size_t deals = 1000;
  std::uint32_t seed = 1;
  // The share of deals whose charge the provider mishandles, the kinds of mishandling drawn evenly:
  // decline, timeout (after or before the effect), duplicate, late or pending answer, broken connection.
  double failure_rate = 0.2;
};

struct ChaosDeal {
  contracts::DealTerms terms;  // key "c0001", "c0002", ...
  strata::testing::ProviderBehaviour provider = strata::testing::ProviderBehaviour::kAccept;
};

struct ChaosPlan {
  ChaosOptions options;
  Timing timing;
  std::vector<ChaosDeal> deals;
};

// Over a broker, with services killed and restarted: a payment window long enough that only a late
// confirmation misses it, however a restart delays a payment; the late one comes well after it.
Timing chaos_timing();

ChaosPlan chaos_plan(const ChaosOptions& options);

// The titles the chaos deals license (each deal picks one to three of them), added unless they are.
[[nodiscard]] strata::Status add_chaos_catalogue(catalog::Service& catalog);

// A provider scripted with each deal's behaviour, under its charge key (a restarted payments service
// gets the same script: the provider double's memory lives and dies with the process).
std::unique_ptr<strata::testing::FaultyProvider> chaos_provider(const ChaosPlan& plan);

// ---- the auditor ----

struct AuditCheck {
  std::string invariant;
  std::size_t checked = 0;
  std::vector<std::string> violations;  // "contract-c0042: ...", one per violation
};

struct Audit {
  std::deque<AuditCheck> checks;  // a deque: a check stays where it is while more are added
  // How the deals ended, by what the provider did: rows "<behaviour>", columns active, cancelled, other.
  struct Outcomes {
    std::string behaviour;
    std::size_t deals = 0;
    std::size_t active = 0;
    std::size_t cancelled = 0;
    std::size_t other = 0;
  };
  std::vector<Outcomes> outcomes;  // empty without a plan
  // Why the cancelled contracts were cancelled (their sagas' compensation reasons), and how often.
  std::map<std::string, std::size_t> cancel_reasons;
  std::int64_t captured = 0;  // over every payment
  std::int64_t refunded = 0;
  std::int64_t active_amount = 0;  // the active contracts' amounts

  std::size_t violations() const noexcept;
};

// Reads the three stores (their read models brought up to date first) and checks, for every contract:
// it is active with exactly one captured payment of its amount, none refunded, and its titles visible
// in every region it covers; or it is cancelled with nothing kept (captures minus refunds = 0) and none
// of its titles visible under it. And over everything: no payment captured or refunded twice, the ledger
// read model agrees with the payments' events, every saga that has not ended has a deadline pending,
// no saga needs attention, no inbox holds a parked message. With a plan: every deal of it was opened,
// and the outcomes are counted by provider behaviour. REQUIRES: no service has the stores open.
[[nodiscard]] strata::Result<Audit> audit_stores(const Stores& stores, const ChaosPlan* plan);

// The table: one row per invariant (checked, violations), the ids of the first violations under each
// row that has some, then the outcomes by provider behaviour and the money.
std::string render_audit(const Audit& audit);

}  // namespace streaming
