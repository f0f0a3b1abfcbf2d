// The bank sample's read side: a projection of every account's balance, owner and number of movements,
// kept in a read model that queries read without replaying any stream.
//
//   strata::MemoryProjectionStorage storage;
//   strata::Projector projector(store, storage, bank::Balances{});
//   STRATA_RETURN_IF_ERROR(projector.start());
//   STRATA_RETURN_IF_ERROR(projector.wait_for(store.head_position(), std::chrono::seconds(10)));
//   auto alice = bank::Balances::kAccounts.get(projector.reader(), "account-alice");
//
// show_balances() does all of that for the demo and renders the read model as text.
//
// Thread safety: see projector.h; the projection holds no state of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "bank/account.h"
#include "strata/core/event_store.h"
#include "strata/projections/projection.h"
#include "strata/projections/projection_storage.h"
#include "strata/projections/projector.h"
#include "strata/projections/read_model.h"

namespace bank {

// One row per account stream.
struct Balance {
  std::string owner;
  std::int64_t cents = 0;
  std::int64_t deposits = 0;
  std::int64_t withdrawals = 0;
  static constexpr auto kFields = strata::fields(
      strata::field("owner", &Balance::owner), strata::field("cents", &Balance::cents),
      strata::field("deposits", &Balance::deposits), strata::field("withdrawals", &Balance::withdrawals));
  bool operator==(const Balance&) const = default;
};

class Balances : public strata::Projection<Balances, strata::Events<Opened, Deposited, Withdrawn>> {
 public:
  static constexpr std::string_view kName = "bank.balances";
  // Keyed by the account's stream id.
  static constexpr strata::ReadModel<Balance> kAccounts{"accounts"};

  strata::Status handle(const Opened& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Balance> row, kAccounts.get(tx, ctx.stream_id()));
    if (!row) row.emplace();
    row->owner = e.owner;
    return kAccounts.put(tx, ctx.stream_id(), *row);
  }
  strata::Status handle(const Deposited& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return change(ctx, tx, e.cents, 1, 0);
  }
  strata::Status handle(const Withdrawn& e, const strata::EventContext& ctx, strata::ReadModelTx& tx) {
    return change(ctx, tx, -e.cents, 0, 1);
  }

 private:
  static strata::Status change(const strata::EventContext& ctx, strata::ReadModelTx& tx, std::int64_t cents,
                               std::int64_t deposits, std::int64_t withdrawals) {
    STRATA_ASSIGN_OR_RETURN(std::optional<Balance> row, kAccounts.get(tx, ctx.stream_id()));
    if (!row) row.emplace();
    row->cents += cents;
    row->deposits += deposits;
    row->withdrawals += withdrawals;
    return kAccounts.put(tx, ctx.stream_id(), *row);
  }
};

namespace detail {
inline std::string money(std::int64_t cents) {
  const std::int64_t a = std::llabs(cents);
  std::string frac = std::to_string(a % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return (cents < 0 ? "-" : "") + std::to_string(a / 100) + "." + frac;
}
}  // namespace detail

// Runs the Balances projection over `store` until it has caught up with the head, then renders the
// read model, one account per line, and the projector's status:
//
//   account-alice  Alice  balance 95.00  (3 deposits, 2 withdrawals)
//   projection bank.balances: live at position 12 of 12, 12 events applied
//
// Fails with the projector's errors, or kUnavailable when it has not caught up within `timeout`.
inline strata::Result<std::string> show_balances(strata::EventStore& store, strata::ProjectionStorage& storage,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  strata::Projector projector(store, storage, Balances{});
  STRATA_RETURN_IF_ERROR(projector.start());
  STRATA_RETURN_IF_ERROR(projector.wait_for(store.head_position(), timeout));
  const strata::ProjectorStatus status = projector.status();
  STRATA_ASSIGN_OR_RETURN(auto rows, Balances::kAccounts.list(projector.reader()));
  STRATA_RETURN_IF_ERROR(projector.stop());
  std::string out;
  for (const auto& [account, row] : rows)
    out += account + "  " + row.owner + "  balance " + detail::money(row.cents) + "  (" + std::to_string(row.deposits) +
           " deposits, " + std::to_string(row.withdrawals) + " withdrawals)\n";
  out += "projection " + status.name + ": " + std::string(strata::projector_state_name(status.state)) +
         " at position " + strata::to_string(status.position) + " of " + strata::to_string(status.head) + ", " +
         std::to_string(status.applied) + " events applied\n";
  return out;
}

}  // namespace bank
