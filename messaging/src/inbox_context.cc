// What an inbox handler makes its effect through (InboxContext), and the names of inbox states.
#include <fmt/format.h>

#include "inbox_records.h"
#include "strata/messaging/inbox.h"

namespace strata {

std::string_view inbox_state_name(InboxState state) noexcept {
  switch (state) {
    case InboxState::kStopped:
      return "stopped";
    case InboxState::kRunning:
      return "running";
    case InboxState::kStalled:
      return "stalled";
  }
  return "unknown";
}

namespace detail {
Status undecodable_message(const Status& status, const IncomingMessage& message) {
  return Status::invalid_argument(fmt::format("message \"{}\" of type \"{}\" (sequence {}) does not decode: {}",
                                              message.id, message.type, message.sequence, status.message()));
}
}  // namespace detail

InboxContext::InboxContext(EventStore& store, ProjectionStorage& storage, std::string_view inbox,
                           const IncomingMessage& message, std::uint32_t attempt)
    : store_(store),
      storage_(storage),
      inbox_(inbox),
      message_(message),
      metadata_(effect_metadata(message)),
      key_(detail::message_key(inbox, message.id)),
      attempt_(attempt) {}

Status InboxContext::claim_effect(Effect effect) {
  if (effect_ == Effect::kNone || (effect_ == effect && effect == Effect::kRows)) {
    effect_ = effect;
    return {};
  }
  return Status::invalid_argument(fmt::format(
      "inbox \"{}\", message \"{}\": a message has one effect, one append or the inbox's rows; use a process "
      "manager for effects on several aggregates",
      inbox_, message_.id));
}

Result<AppendResult> InboxContext::append(const StreamId& stream, ExpectedVersion expected,
                                          std::vector<EventData> events) {
  STRATA_RETURN_IF_ERROR(claim_effect(Effect::kEvents));
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].id = EventId::derive(key_, i);
    if (events[i].metadata.empty()) events[i].metadata = metadata_;
  }
  return store_.append(stream, expected, events);
}

Result<std::reference_wrapper<ReadModelTx>> InboxContext::rows() {
  STRATA_RETURN_IF_ERROR(claim_effect(Effect::kRows));
  if (!batch_) {
    batch_ = std::make_unique<ProjectionWriteBatch>(inbox_);
    tx_ = std::make_unique<ReadModelTx>(storage_, *batch_, detail::kInboxGeneration);
  }
  return std::ref(*tx_);
}

}  // namespace strata
