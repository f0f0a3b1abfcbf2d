// The relay's engine, shared by its sources: relay.cc runs the publishing loop (read the log into a
// window, publish, collect acks, move the checkpoint); relay_control.cc holds what callers do to a relay
// (start, stop, wait, republish, status, parked events). Private to strata::messaging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "strata/core/backend/rate_meter.h"
#include "strata/messaging/relay.h"

namespace strata::detail {

using RelayClock = std::chrono::steady_clock;

inline Timestamp relay_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// One event of the window.
struct RelayEntry {
  enum class Stage : std::uint8_t { kWaiting, kInFlight, kRetrying, kAcked };
  Position position = 0;
  Timestamp committed_at{};
  OutgoingMessage message;
  Stage stage = Stage::kWaiting;
  std::uint32_t attempts = 0;
  RelayClock::time_point retry_at{};
};

// A publish outcome, handed from a transport thread to the relay thread.
struct RelayCompletion {
  std::uint64_t session = 0;
  RelayEntry* entry = nullptr;
  Result<PublishAck> result = Status::internal("unset");
};

// What wakes the relay thread: publish outcomes (left by transport threads), commits, stop. Shared with
// the transport's callbacks, so that an outcome arriving after the relay is gone finds a closed signal
// instead of a dangling relay. Nothing here touches the relay's own state or mutex.
struct RelaySignal {
  std::mutex mu;
  std::condition_variable cv;
  bool pending = false;                // GUARDED_BY(mu)
  bool closed = false;                 // GUARDED_BY(mu)
  std::vector<RelayCompletion> items;  // GUARDED_BY(mu)

  void raise() {
    {
      std::lock_guard l(mu);
      pending = true;
    }
    cv.notify_all();
  }
  void deliver(RelayCompletion c) {
    {
      std::lock_guard l(mu);
      if (closed) return;
      items.push_back(std::move(c));
      pending = true;
    }
    cv.notify_all();
  }
  // Waits until raised or `until`; returns the outcomes left meanwhile.
  std::vector<RelayCompletion> wait(RelayClock::time_point until) {
    std::unique_lock l(mu);
    cv.wait_until(l, until, [&] { return pending; });
    pending = false;
    return std::exchange(items, {});
  }
  std::vector<RelayCompletion> take() {
    std::lock_guard l(mu);
    return std::exchange(items, {});
  }
};

}  // namespace strata::detail

namespace strata {

class Relay::Engine {
  using Clock = detail::RelayClock;
  using Entry = detail::RelayEntry;
  using Completion = detail::RelayCompletion;
  using Signal = detail::RelaySignal;

 public:
  Engine(EventStore& store, ProjectionStorage& storage, Transport& transport, RelayOptions options)
      : store_(store),
        storage_(storage),
        transport_(transport),
        options_(std::move(options)),
        signal_(std::make_shared<Signal>()) {
    status_.name = options_.name;
  }
  ~Engine() {
    (void)stop();
    std::lock_guard lock(signal_->mu);
    signal_->closed = true;
  }

  Status start();
  Status stop();
  Status wait_for(Position position, std::chrono::milliseconds timeout);
  Status republish_from(Position position);
  RelayStatus status() const;
  const std::string& name() const noexcept { return options_.name; }
  Result<std::vector<ParkedEvent>> parked(Position after, std::size_t max_count) const {
    return storage_.list_parked(options_.name, kServingGeneration, after, max_count);
  }
  Status retry_parked(Position position, std::chrono::milliseconds timeout);
  Status skip_parked(Position position);

 private:
  Status validate() const;
  void run(std::uint64_t session);
  void take_outcomes(std::vector<Completion> items);
  void on_outcome(Completion& c);
  void send_ready(std::unique_lock<std::mutex>& lock);
  void send(Entry& e, std::unique_lock<std::mutex>& lock);
  bool read_more(std::unique_lock<std::mutex>& lock);
  Status make_entry(const EventView& e, std::deque<Entry>& out, std::vector<ParkedEvent>& parked);
  void advance();
  Status commit_checkpoint(std::unique_lock<std::mutex>& lock, bool force);
  Status commit_parked(std::vector<ParkedEvent> parked, std::unique_lock<std::mutex>& lock);
  std::chrono::milliseconds backoff(std::uint32_t attempts) const;
  std::string subject_of(const EventView& e) const;
  void fail(Status error);

  EventStore& store_;
  ProjectionStorage& storage_;
  Transport& transport_;
  const RelayOptions options_;
  const std::shared_ptr<Signal> signal_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // with mu_: the checkpoint moved, or the relay stopped (for wait_for())
  bool started_ = false;        // GUARDED_BY(mu_)
  bool stopping_ = false;       // GUARDED_BY(mu_)
  std::uint64_t session_ = 0;   // GUARDED_BY(mu_); one per start()
  std::thread thread_;
  CommitSubscription subscription_;

  // The relay thread's, under mu_ (status() reads them).
  std::optional<ProjectionState> stored_;          // as last committed or loaded
  Position checkpoint_ = 0;                        // every message up to here is acknowledged
  Position cursor_ = 1;                            // the next position to read
  std::deque<Entry> window_;                       // unacknowledged entries and those behind them, by position
  std::unordered_set<std::string> busy_subjects_;  // a message of it is in flight or retrying
  std::unordered_map<std::string, std::deque<Entry*>> blocked_;  // waiting for their subject
  std::deque<Entry*> ready_;                                     // subject free, waiting for room
  std::size_t in_flight_ = 0;
  Clock::time_point last_commit_{};
  RelayStatus status_;
  detail::RateMeter rate_;
};

}  // namespace strata
