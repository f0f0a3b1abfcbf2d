#include "strata/core/retention.h"

#include <fmt/format.h>

#include "strata/core/stream_id.h"

namespace strata {

void Retention::set(std::string category, RetentionPolicy policy) {
  if (policy.empty()) {
    auto it = policies_.find(category);
    if (it != policies_.end()) policies_.erase(it);
    return;
  }
  policies_.insert_or_assign(std::move(category), policy);
}

const RetentionPolicy* Retention::find(std::string_view stream) const noexcept {
  if (policies_.empty()) return nullptr;
  const auto dash = stream.find('-');
  auto it = policies_.find(dash == std::string_view::npos ? stream : stream.substr(0, dash));
  return it == policies_.end() ? nullptr : &it->second;
}

Status validate_retention(const Retention& retention) {
  for (const auto& [category, policy] : retention.policies()) {
    if (!StreamId::is_valid(category) || category.find('-') != std::string::npos)
      return Status::invalid_argument(
          fmt::format("invalid retention: {:?} is not a category (1 to {} bytes of [A-Za-z0-9_.:], no '-')", category,
                      StreamId::kMaxBytes));
    if (policy.max_age.count() < 0)
      return Status::invalid_argument(
          fmt::format("invalid retention: category \"{}\" has a negative max_age", category));
  }
  return {};
}

}  // namespace strata
