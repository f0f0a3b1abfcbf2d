// The inbox's persisted records and the names they are kept under: the "handled" markers (one row per
// message handled without an event effect) and parked messages (kept as the projection storage keeps
// parked events). Shared by the inbox's context and its engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "strata/core/status.h"
#include "strata/messaging/message.h"
#include "strata/projections/projection_state.h"

namespace strata::detail {

// The read model of an inbox's projection that holds its markers, keyed by message id, and the
// generation everything of an inbox lives in. Persisted: never rename or renumber them.
inline constexpr std::string_view kHandledModel = "strata.inbox.handled";
inline constexpr Generation kInboxGeneration = 1;

// "<inbox>/<message id>": what the ids of a message's effect are derived from.
std::string message_key(std::string_view inbox, std::string_view message_id);

// A "handled" row: {"outcome": ..., "type": ..., "sequence": ..., "reason": ...} (reason only when the
// status is not OK).
std::string handled_marker(std::string_view outcome, const IncomingMessage& m, const Status& reason);

// A parked message as the storage keeps parked events: the subject as stream, the broker's sequence as
// position, the message's headers (and its raw id, as Strata-Message-Id) as metadata headers; and back.
ParkedEvent parked_message(const IncomingMessage& m, const Status& error, std::uint32_t attempts);
IncomingMessage message_of(const ParkedEvent& p);

}  // namespace strata::detail
