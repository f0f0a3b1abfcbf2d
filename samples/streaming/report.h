// The showcase's report, printed to stdout: a deal's heading, its timeline across the three services,
// whether it ended as it must, the read models, and the trace of one business transaction.
//
//   streaming::print_deal_heading(deal, 1, deals.size());
//   STRATA_RETURN_IF_ERROR(streaming::print_timeline(stores.logs(), deal.correlation_id()));
//   STRATA_ASSIGN_OR_RETURN(bool as_expected, streaming::print_verdict(read_side, deal));
//
// Thread safety: call from one thread at a time (they share stdout).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "strata/core/status.h"
#include "streaming/scenario.h"
#include "streaming/stores.h"
#include "streaming/timeline.h"

namespace streaming {

void print_deal_heading(const Deal& deal, std::size_t number, std::size_t count);

// The deal's timeline: every event with `correlation_id` in the three stores, in causal order.
[[nodiscard]] strata::Status print_timeline(std::span<const ServiceLog> logs, std::string_view correlation_id);

// The same events as a tree of causes.
[[nodiscard]] strata::Status print_trace(std::span<const ServiceLog> logs, std::string_view correlation_id);

[[nodiscard]] strata::Status print_read_models(const ReadSide& read_side);

// "as expected: ..." or what differs. True when the deal ended as it must.
[[nodiscard]] strata::Result<bool> print_verdict(const ReadSide& read_side, const Deal& deal);

// Brings the read models of payments (the ledger) and catalog (the visible titles) up to their stores'
// heads: the services that keep them may have stopped a little behind. REQUIRES: no service runs on the
// stores.
[[nodiscard]] strata::Status catch_up_read_models(const Stores& stores);

}  // namespace streaming
