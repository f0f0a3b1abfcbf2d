// Retention: how long the events of a category are kept. A policy caps each stream of its category at
// its newest `max_count` events, or at the events committed within `max_age`, or both (an event is kept
// only while both allow it). Streams are matched by their category (StreamId::category(): "telemetry"
// for "telemetry-42"); a store takes the policies in its options:
//
//   strata::RocksEventStore::Options options;
//   options.retention.set("telemetry", {.max_count = 1'000, .max_age = std::chrono::hours(24 * 30)});
//
// What retention removes reads as a truncation: a forward read from 0 starts at the oldest event kept, a
// read of a removed version is kStreamTruncated, an aggregate whose snapshot is older than the oldest
// kept event fails with kStreamTruncated, and log readers pass over the removed positions and count them
// (LogSlice::removed). The stream's versions, head and expected-version checks do not change. Removal
// is a prefix of each stream, since versions and commit times only grow.
//
// When it takes effect depends on the backend (README, "Retention"): readers stop seeing an event as soon
// as a policy removes it; RocksDB deletes its bytes in its background compactions.
//
// Thread safety: a value; a store copies it when it opens.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "strata/core/position.h"
#include "strata/core/status.h"

namespace strata {

struct RetentionPolicy {
  // The newest events each stream keeps; 0: no cap on the count.
  std::uint64_t max_count = 0;
  // How long after its commit an event is kept; 0: no cap on the age.
  std::chrono::microseconds max_age{0};

  bool empty() const noexcept { return max_count == 0 && max_age.count() == 0; }
  friend bool operator==(const RetentionPolicy&, const RetentionPolicy&) = default;
};

class Retention {
 public:
  // Sets the policy of `category` (a policy with neither cap removes it).
  void set(std::string category, RetentionPolicy policy);
  // The policy of `stream`'s category, or nullptr when it has none.
  const RetentionPolicy* find(std::string_view stream) const noexcept;
  bool empty() const noexcept { return policies_.empty(); }
  const std::map<std::string, RetentionPolicy, std::less<>>& policies() const noexcept { return policies_; }

 private:
  std::map<std::string, RetentionPolicy, std::less<>> policies_;
};

// OK, or kInvalidArgument naming the first category that is not a category (empty, holding a '-' or a
// byte a stream id cannot hold) or whose max_age is negative.
[[nodiscard]] Status validate_retention(const Retention& retention);

// The rules every backend applies, so that all of them remove the same events.
//
// The first version `policy` keeps by count of a stream whose head is `head` (1 when it keeps all).
inline Version retention_count_floor(const RetentionPolicy& policy, Version head) noexcept {
  if (policy.max_count == 0 || head.value() <= policy.max_count) return Version{1};
  return Version{head.value() - policy.max_count + 1};
}
// Whether an event committed at `committed` is older than `policy` keeps at `now`.
inline bool retention_expired(const RetentionPolicy& policy, Timestamp committed, Timestamp now) noexcept {
  return policy.max_age.count() > 0 && committed < now - policy.max_age;
}
// Whether `policy` removes version `version` (committed at `committed`) of a stream whose head is `head`.
inline bool retention_removes(const RetentionPolicy& policy, Version version, Timestamp committed, Version head,
                              Timestamp now) noexcept {
  return version < retention_count_floor(policy, head) || retention_expired(policy, committed, now);
}

}  // namespace strata
