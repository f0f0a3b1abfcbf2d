#include "strata/messaging/gateway.h"

namespace strata {

Gateway::~Gateway() = default;

std::string_view gateway_outcome_name(GatewayOutcome outcome) noexcept {
  switch (outcome) {
    case GatewayOutcome::kAccepted:
      return "accepted";
    case GatewayOutcome::kDeclined:
      return "declined";
    case GatewayOutcome::kPending:
      return "pending";
  }
  return "unknown";
}

}  // namespace strata
