#include "strata/core/event_store.h"

#include <mutex>
#include <utility>
#include <vector>

namespace strata {
namespace detail {

// The listeners of one store. A mutex held while calling them makes unsubscription wait for a call in
// progress, so a listener never runs after reset() returns.
class CommitHub {
 public:
  std::uint64_t add(std::function<void(Position)> listener) {
    std::lock_guard lock(mu_);
    listeners_.emplace_back(++next_id_, std::move(listener));
    return next_id_;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
  }
  void publish(Position high_water) noexcept {
    std::lock_guard lock(mu_);
    for (auto& [id, listener] : listeners_) listener(high_water);
  }

 private:
  std::recursive_mutex mu_;  // recursive: a listener may unsubscribe itself
  std::vector<std::pair<std::uint64_t, std::function<void(Position)>>> listeners_;  // GUARDED_BY(mu_)
  std::uint64_t next_id_ = 0;                                                       // GUARDED_BY(mu_)
};

}  // namespace detail

CommitSubscription& CommitSubscription::operator=(CommitSubscription&& other) noexcept {
  if (this != &other) {
    reset();
    hub_ = std::move(other.hub_);
    id_ = other.id_;
  }
  return *this;
}

void CommitSubscription::reset() noexcept {
  if (hub_) hub_->remove(id_);
  hub_.reset();
}

EventStore::EventStore() : commit_hub_(std::make_shared<detail::CommitHub>()) {}
EventStore::~EventStore() = default;

CommitSubscription EventStore::subscribe_commits(std::function<void(Position)> listener) {
  return CommitSubscription(commit_hub_, commit_hub_->add(std::move(listener)));
}

void EventStore::publish_commit(Position high_water) noexcept { commit_hub_->publish(high_water); }

}  // namespace strata
