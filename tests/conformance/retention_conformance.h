// The retention conformance suite: policies by count and by age remove the same events on every backend,
// readers see the removed prefix as truncated, and log readers pass over it and never stall. Fixtures
// add to those of store_conformance.h:
//
//   std::unique_ptr<EventStore> open_retained(const Retention& retention, std::function<Timestamp()> clock);
//
//   STRATA_STORE_CONFORMANCE(retention_conformance, "retention conformance", MemoryFixture)
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "conformance/lifecycle_conformance.h"
#include "conformance/store_conformance.h"
#include "strata/core/event_store.h"
#include "strata/core/retention.h"

namespace strata::conformance {

// A clock the test moves: starts at 1,000 s after the epoch.
struct TestClock {
  std::shared_ptr<std::atomic<std::int64_t>> micros = std::make_shared<std::atomic<std::int64_t>>(1'000'000'000);
  std::function<Timestamp()> fn() const {
    return [m = micros] { return Timestamp(std::chrono::microseconds(m->load())); };
  }
  void advance(std::chrono::microseconds d) const { *micros += d.count(); }
};

inline std::vector<Version> versions_of(const std::vector<RecordedEvent>& events) {
  std::vector<Version> v;
  for (const auto& e : events) v.push_back(e.version);
  return v;
}

// The suite's cases, as subcases of the calling test case (see STRATA_STORE_CONFORMANCE).
void retention_conformance(StoreFixture& fixture);

}  // namespace strata::conformance
