// The retention suite (retention_conformance.h), compiled once for every backend that runs it.
#include "conformance/retention_conformance.h"

namespace strata::conformance {

void retention_conformance(StoreFixture& fixture) {
  using namespace strata;
  using namespace strata::conformance;
  using std::chrono::seconds;
  TestClock clock;
  Retention retention;
  retention.set("telemetry", {.max_count = 3});
  retention.set("session", {.max_age = seconds(10)});
  retention.set("audit", {.max_count = 4, .max_age = seconds(10)});
  std::unique_ptr<EventStore> store = fixture.open_retained(retention, clock.fn());
  REQUIRE(store != nullptr);
  const StreamId t = sid("telemetry-1"), s = sid("session-1"), a = sid("account-1"), au = sid("audit-1");

  SUBCASE("a count keeps each stream's newest events; the rest reads as truncated") {
    for (int i = 0; i < 5; ++i) REQUIRE(store->append(t, ExpectedVersion::any(), events(1)).ok());
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(5)).ok());
    const StreamInfo info = store->stream_info(t).value();
    CHECK(info.head == 5);
    CHECK(info.first_version == 3);
    auto forward = store->read_stream(t, ReadDirection::kForward, 0, 10).value();
    CHECK(versions_of(forward.events) == std::vector<Version>{3, 4, 5});
    CHECK(forward.first_version == 3);
    CHECK(forward.end_of_stream);
    auto backward = store->read_stream(t, ReadDirection::kBackward, 5, 10).value();
    CHECK(versions_of(backward.events) == std::vector<Version>{5, 4, 3});
    CHECK(backward.end_of_stream);
    CHECK(store->read_stream(t, ReadDirection::kForward, 2, 10).status().code() == StatusCode::kStreamTruncated);
    std::vector<Version> visited;
    REQUIRE(store
                ->visit_stream(t, 0, 100,
                               [&](const EventView& e) {
                                 visited.push_back(e.version);
                                 return Status{};
                               })
                .ok());
    CHECK(visited == std::vector<Version>{3, 4, 5});
    // Versions and expectations go on from the head; other categories keep everything.
    CHECK(store->append(t, ExpectedVersion::exact(5), events(2)).value() == AppendResult{7, 11, 12});
    CHECK(store->stream_info(t).value().first_version == 5);
    CHECK(store->read_stream(a, ReadDirection::kForward, 0, 10).value().events.size() == 5);
    auto walk = walk_log(*store, 3);
    CHECK(walk.removed == 4);
    CHECK(walk.events.size() == 8);
    for (const auto& e : walk.events)
      if (e.stream_id == "telemetry-1") CHECK(e.version >= 5);
  }

  SUBCASE("an age keeps the events committed within it, and a stream whose events all expired reads empty") {
    REQUIRE(store->append(s, ExpectedVersion::no_stream(), events(2)).ok());  // t = 0
    clock.advance(seconds(6));
    REQUIRE(store->append(s, ExpectedVersion::exact(2), events(1)).ok());  // t = 6 s
    clock.advance(seconds(6));                                             // now 12 s: versions 1, 2 expired
    CHECK(store->stream_info(s).value().first_version == 3);
    CHECK(versions_of(store->read_stream(s, ReadDirection::kForward, 0, 10).value().events) == std::vector<Version>{3});
    CHECK(store->read_stream(s, ReadDirection::kForward, 1, 10).status().code() == StatusCode::kStreamTruncated);
    auto walk = walk_log(*store);
    CHECK(walk.removed == 2);
    REQUIRE(walk.events.size() == 1);
    CHECK(walk.events[0].version == 3);
    clock.advance(seconds(10));  // now 22 s: everything expired
    const StreamInfo info = store->stream_info(s).value();
    CHECK(info.head == 3);
    CHECK(info.first_version == 4);
    auto empty = store->read_stream(s, ReadDirection::kForward, 0, 10).value();
    CHECK(empty.events.empty());
    CHECK(empty.end_of_stream);
    CHECK(store->read_stream(s, ReadDirection::kBackward, 3, 10).value().events.empty());
    CHECK(walk_log(*store).removed == 3);
    CHECK(store->append(s, ExpectedVersion::exact(3), events(1)).value() == AppendResult{4, 4, 4});
    CHECK(versions_of(store->read_stream(s, ReadDirection::kForward, 0, 10).value().events) == std::vector<Version>{4});
  }

  SUBCASE("count and age together: an event is kept only while both keep it") {
    REQUIRE(store->append(au, ExpectedVersion::no_stream(), events(3)).ok());
    clock.advance(seconds(11));
    REQUIRE(store->append(au, ExpectedVersion::exact(3), events(6)).ok());
    // Age removes 1..3, count removes 1..5.
    CHECK(store->stream_info(au).value().first_version == 6);
    clock.advance(seconds(11));
    CHECK(store->stream_info(au).value().first_version == 10);
  }

  SUBCASE("a snapshot at or above the oldest kept event still loads an aggregate; an older one does not") {
    for (int i = 0; i < 6; ++i) REQUIRE(store->append(t, ExpectedVersion::any(), events(1)).ok());
    // A snapshot at version 5 reads on from 6; one at version 2 would need version 3, which is gone.
    CHECK(store->read_stream(t, ReadDirection::kForward, 5, 10).value().events.size() == 2);
    CHECK(store->read_stream(t, ReadDirection::kForward, 3, 10).status().code() == StatusCode::kStreamTruncated);
  }

  SUBCASE("a reader following the log while retention removes events sees every remaining position once") {
    std::atomic<bool> done{false};
    std::thread writer([&] {
      for (int i = 0; i < 300; ++i) {
        const StreamId stream = sid(i % 3 == 0 ? "account-9" : (i % 3 == 1 ? "telemetry-7" : "telemetry-8"));
        REQUIRE(store->append(stream, ExpectedVersion::any(), events(1 + i % 2)).ok());
      }
      done = true;
    });
    Position next = 1;
    Position last_seen = 0;
    std::uint64_t seen = 0, removed = 0;
    for (;;) {
      const bool finished = done.load();
      auto slice = store->read_log(next, 16);
      REQUIRE(slice.ok());
      for (const auto& e : slice->events) {
        CHECK(e.position > last_seen);
        last_seen = e.position;
        ++seen;
      }
      removed += slice->removed;
      CHECK(slice->next_position >= next);
      next = slice->next_position;
      if (finished && slice->end_of_log) break;
      if (slice->end_of_log) std::this_thread::yield();
    }
    writer.join();
    CHECK(seen + removed == store->head_position().value());
    CHECK(next == store->head_position() + 1);
    // A walk now sees the two telemetry streams capped at 3 events each.
    auto walk = walk_log(*store, 50);
    std::set<std::string> telemetry;
    std::size_t telemetry_events = 0;
    for (const auto& e : walk.events)
      if (e.stream_id != "account-9") ++telemetry_events;
    CHECK(telemetry_events == 6);
    CHECK(walk.events.size() + walk.removed == store->head_position().value());
  }

  if (fixture.durable()) {
    SUBCASE("retention applies the same after a reopen") {
      for (int i = 0; i < 5; ++i) REQUIRE(store->append(t, ExpectedVersion::any(), events(1)).ok());
      REQUIRE(store->append(s, ExpectedVersion::no_stream(), events(2)).ok());
      clock.advance(seconds(11));
      REQUIRE(store->append(s, ExpectedVersion::exact(2), events(1)).ok());
      store.reset();
      store = fixture.open_retained(retention, clock.fn());
      REQUIRE(store != nullptr);
      CHECK(store->stream_info(t).value().first_version == 3);
      CHECK(store->stream_info(s).value().first_version == 3);
      auto walk = walk_log(*store);
      CHECK(walk.removed == 4);
      CHECK(walk.events.size() == 4);
      CHECK(store->append(t, ExpectedVersion::exact(5), events(1)).value().stream_version == 6);
    }
  }
}

}  // namespace strata::conformance
