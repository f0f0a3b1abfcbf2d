// NATS subject rules, shared by the transports: subjects are dot-separated tokens; a filter may use `*`
// for one token and `>` for the rest.
//
// Thread safety: functions of their arguments only.
#pragma once

#include <string_view>

#include "strata/core/status.h"
#include "strata/messaging/transport.h"

namespace strata::detail {

// Whether `subject` matches `filter` (empty filter: everything).
bool subject_matches(std::string_view filter, std::string_view subject) noexcept;

// kInvalidArgument unless `filter` is empty or dot-separated tokens of [A-Za-z0-9_:-], `*`, or a final `>`.
Status validate_filter(std::string_view filter);

// kInvalidArgument unless the durable name is 1..64 bytes of [A-Za-z0-9_-], the filter is valid, the ack
// wait is positive and max_ack_pending at least 1.
Status validate_consumer_config(const ConsumerConfig& config);

}  // namespace strata::detail
