#include "strata/core/memory_event_store.h"

#include <doctest/doctest.h>

#include "conformance/lifecycle_conformance.h"
#include "conformance/personal_data_conformance.h"
#include "conformance/retention_conformance.h"
#include "conformance/store_conformance.h"

namespace {
struct MemoryFixture {
  static constexpr bool kDurable = false;
  std::unique_ptr<strata::EventStore> open() { return std::make_unique<strata::MemoryEventStore>(); }
  std::unique_ptr<strata::EventStore> open_retained(const strata::Retention& retention,
                                                    std::function<strata::Timestamp()> clock) {
    strata::MemoryEventStore::Options options;
    options.clock = std::move(clock);
    options.retention = retention;
    return std::make_unique<strata::MemoryEventStore>(options);
  }
};
}  // namespace

STRATA_STORE_CONFORMANCE(store_conformance, "event store conformance", MemoryFixture)
STRATA_STORE_CONFORMANCE(lifecycle_conformance, "stream lifecycle conformance", MemoryFixture)
STRATA_STORE_CONFORMANCE(personal_data_conformance, "personal data conformance", MemoryFixture)
STRATA_STORE_CONFORMANCE(retention_conformance, "retention conformance", MemoryFixture)

TEST_CASE("the memory store keeps commit timestamps non-decreasing when the clock goes back") {
  using namespace strata;
  std::int64_t now = 1'000'000;
  MemoryEventStore::Options options;
  options.clock = [&] { return Timestamp(std::chrono::microseconds(now)); };
  MemoryEventStore store(options);
  auto id = StreamId::parse("s-1").value();
  REQUIRE(store.append(id, ExpectedVersion::any(), conformance::events(1)).ok());
  now = 500;  // the wall clock jumps back
  REQUIRE(store.append(id, ExpectedVersion::any(), conformance::events(1)).ok());
  auto read = store.read_stream(id, ReadDirection::kForward, 1, 10).value();
  CHECK(read.events[0].timestamp.time_since_epoch().count() == 1'000'000);
  CHECK(read.events[1].timestamp.time_since_epoch().count() == 1'000'000);
}
