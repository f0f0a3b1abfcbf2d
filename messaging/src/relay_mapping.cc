// RelayMapping, and the names of relay states.
#include "strata/messaging/relay.h"

namespace strata {

std::string_view relay_state_name(RelayState state) noexcept {
  switch (state) {
    case RelayState::kStopped:
      return "stopped";
    case RelayState::kCatchingUp:
      return "catching up";
    case RelayState::kLive:
      return "live";
    case RelayState::kStalled:
      return "stalled";
    case RelayState::kFailed:
      return "failed";
  }
  return "unknown";
}

void RelayMapping::publish_as_stored(std::string_view type) {
  mappers_[std::string(type)] =
      [](const EventView& stored) -> Result<std::optional<std::pair<std::string, std::string>>> {
    return std::optional<std::pair<std::string, std::string>>(
        std::pair(std::string(stored.type), std::string(stored.payload)));
  };
}

bool RelayMapping::maps(std::string_view type) const { return mappers_.contains(std::string(type)); }

Result<std::optional<std::pair<std::string, std::string>>> RelayMapping::map(const EventView& stored) const {
  auto it = mappers_.find(std::string(stored.type));
  if (it == mappers_.end()) return std::optional<std::pair<std::string, std::string>>();
  return it->second(stored);
}

}  // namespace strata
