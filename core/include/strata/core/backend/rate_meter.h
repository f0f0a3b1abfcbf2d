// RateMeter: events per second over the last few seconds, for the status of projectors, relays and
// inboxes. Counts go into 100 ms buckets of a 5 s ring, so adding is O(1) however high the rate.
//
//   strata::detail::RateMeter rate;
//   rate.reset(std::chrono::steady_clock::now());
//   rate.add(now, batch_size);
//   double per_second = rate.rate(now);
//
// Thread safety: none; guard it with the owner's mutex.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace strata::detail {

class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;

  void reset(Clock::time_point now) noexcept {
    buckets_.fill(Bucket{});
    since_ = now;
  }
  void add(Clock::time_point now, std::uint64_t n) noexcept {
    const std::int64_t index = slot(now);
    Bucket& b = buckets_[static_cast<std::size_t>(index % kBuckets)];
    if (b.index != index) b = Bucket{index, 0};
    b.count += n;
  }
  // Per second over the last 5 s (or since reset(), when that is shorter).
  double rate(Clock::time_point now) const noexcept {
    const std::int64_t newest = slot(now);
    std::uint64_t sum = 0;
    for (const Bucket& b : buckets_)
      if (b.index > newest - kBuckets && b.index <= newest) sum += b.count;
    const double span = std::chrono::duration<double>(std::min<Clock::duration>(kWindow, now - since_)).count();
    return static_cast<double>(sum) / std::max(span, 1e-3);
  }

 private:
  static constexpr std::int64_t kBuckets = 50;
  static constexpr Clock::duration kBucket = std::chrono::milliseconds(100);
  static constexpr Clock::duration kWindow = kBucket * kBuckets;
  struct Bucket {
    std::int64_t index = -1;
    std::uint64_t count = 0;
  };
  static std::int64_t slot(Clock::time_point t) noexcept { return t.time_since_epoch() / kBucket; }

  std::array<Bucket, kBuckets> buckets_{};
  Clock::time_point since_{};
};

}  // namespace strata::detail
