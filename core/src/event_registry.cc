#include "strata/core/event_registry.h"

#include <fmt/format.h>

namespace strata {

void EventRegistry::add_entry(const EventTypeInfo& info, Validator validator) {
  auto [it, inserted] = entries_.try_emplace(std::string(info.type), Entry{info, validator});
  if (!inserted && validator != nullptr) it->second = Entry{info, validator};
}

Status EventRegistry::validate(const EventData& event, const Limits& limits) const {
  auto it = entries_.find(event.type);
  if (it == entries_.end()) {
    if (!reject_unknown_) return {};
    return Status::invalid_argument(fmt::format("event type \"{}\" is not registered", event.type));
  }
  const Entry& entry = it->second;
  if (entry.info.role != EventTypeInfo::Role::kCurrent || entry.validator == nullptr) {
    return Status::invalid_argument(fmt::format(
        "event type \"{}\" is {}: append its current version instead", event.type,
        entry.info.role == EventTypeInfo::Role::kRetired ? "retired"
                                                         : "an old version, read only through an upcaster"));
  }
  Status s = entry.validator(event.payload, limits);
  if (!s.ok()) return s.with_context(fmt::format("event \"{}\" does not match its schema", event.type));
  return {};
}

std::vector<EventTypeInfo> EventRegistry::types() const {
  std::vector<EventTypeInfo> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(entry.info);
  return out;
}

const EventTypeInfo* EventRegistry::find(std::string_view type) const {
  auto it = entries_.find(type);
  return it == entries_.end() ? nullptr : &it->second.info;
}

}  // namespace strata
