// The EventStore conformance suite, written once and run over every backend.
//
// A backend's test file defines a fixture and runs the suite over it as a test case of its own:
//
//   struct MemoryFixture {
//     static constexpr bool kDurable = false;            // true: open() again keeps what was committed
//     std::unique_ptr<strata::EventStore> open();         // a store (the same data on each call if durable)
//     std::unique_ptr<strata::EventStore> open_retained(const strata::Retention&,
//                                                       std::function<strata::Timestamp()> clock);
//   };
//   STRATA_STORE_CONFORMANCE(store_conformance, "event store conformance", MemoryFixture)
//
// The suites (this one, lifecycle_, personal_data_ and retention_conformance.h) are compiled once, in
// tests/conformance/*.cc, against the StoreFixture interface; each backend's tests link them. Each case
// makes a fresh fixture, so every case starts from an empty store.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "strata/core/event_store.h"
#include "strata/core/retention.h"
#include "strata/core/snapshot.h"

namespace strata::conformance {

inline StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

inline EventData event(std::string type = "test.happened.v1", std::string payload = R"({"n":1})") {
  return EventData{EventId::generate(), std::move(type), std::move(payload), {}};
}

inline std::vector<EventData> events(std::size_t n, std::string_view type = "test.happened.v1") {
  std::vector<EventData> v;
  for (std::size_t i = 0; i < n; ++i)
    v.push_back(EventData{EventId::generate(), std::string(type), "{\"n\":" + std::to_string(i) + "}", {}});
  return v;
}

// "stream@version#position type payload" per line: compact expectations for whole reads.
inline std::string render(const std::vector<RecordedEvent>& events) {
  std::string s;
  for (const auto& e : events)
    s += e.stream_id + "@" + strata::to_string(e.version) + "#" + strata::to_string(e.position) + " " + e.type + " " +
         e.payload + "\n";
  return s;
}

// What the event-store suites ask of a backend's fixture.
class StoreFixture {
 public:
  virtual ~StoreFixture() = default;
  // Whether open() again keeps what was committed: the reopen cases run only then.
  virtual bool durable() const = 0;
  // A store; the same data on each call if durable.
  virtual std::unique_ptr<EventStore> open() = 0;
  // A store with `retention` applied, on `clock`'s time (retention_conformance).
  virtual std::unique_ptr<EventStore> open_retained(const Retention& retention, std::function<Timestamp()> clock) = 0;
};

// A backend's fixture type as a StoreFixture.
template <class Fixture>
class StoreFixtureOf final : public StoreFixture {
 public:
  bool durable() const override { return Fixture::kDurable; }
  std::unique_ptr<EventStore> open() override { return fixture_.open(); }
  std::unique_ptr<EventStore> open_retained(const Retention& retention, std::function<Timestamp()> clock) override {
    return fixture_.open_retained(retention, std::move(clock));
  }

 private:
  Fixture fixture_;
};

// The suite's cases, as subcases of the calling test case (see STRATA_STORE_CONFORMANCE).
void store_conformance(StoreFixture& fixture);

}  // namespace strata::conformance

// A test case "<title><Fixture>" that runs `suite` (store_conformance, lifecycle_conformance,
// personal_data_conformance or retention_conformance) over a fresh Fixture.
#define STRATA_STORE_CONFORMANCE(suite, title, Fixture)                 \
  TEST_CASE(title "<" #Fixture ">") {                                   \
    ::strata::conformance::StoreFixtureOf<Fixture> conformance_fixture; \
    ::strata::conformance::suite(conformance_fixture);                  \
  }
