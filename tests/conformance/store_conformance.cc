// The event store suite (store_conformance.h), compiled once for every backend that runs it.
#include "conformance/store_conformance.h"

namespace strata::conformance {

void store_conformance(StoreFixture& fixture) {
  using namespace strata;
  using namespace strata::conformance;
  std::unique_ptr<EventStore> store = fixture.open();
  REQUIRE(store != nullptr);
  const StreamId a = sid("account-1");
  const StreamId b = sid("account-2");

  SUBCASE("append to a new stream with no_stream returns the new version and positions") {
    auto r = store->append(a, ExpectedVersion::no_stream(), events(3));
    REQUIRE(r.ok());
    CHECK(*r == AppendResult{3, 1, 3});
    CHECK(store->stream_head(a).value() == 3);
    CHECK(store->head_position() == 3);
  }

  SUBCASE("append with a stale expected version returns kWrongExpectedVersion with both versions") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(5)).ok());
    auto r = store->append(a, ExpectedVersion::exact(3), events(1));
    REQUIRE(!r.ok());
    CHECK(r.status().code() == StatusCode::kWrongExpectedVersion);
    CHECK(r.status().message() == "wrong expected version for stream \"account-1\": expected 3, actual 5");
    REQUIRE(r.status().version_conflict() != nullptr);
    CHECK(r.status().version_conflict()->expected == strata::ExpectedVersion::exact(3));
    CHECK(r.status().version_conflict()->actual_version == 5);
    CHECK(store->stream_head(a).value() == 5);
    CHECK(store->head_position() == 5);
  }

  SUBCASE("expected versions any, no_stream, stream_exists and exact are enforced") {
    CHECK(store->append(a, ExpectedVersion::stream_exists(), events(1)).status().code() ==
          StatusCode::kWrongExpectedVersion);
    CHECK(store->append(a, ExpectedVersion::exact(1), events(1)).status().message() ==
          "wrong expected version for stream \"account-1\": expected 1, actual no stream");
    CHECK(store->append(a, ExpectedVersion::any(), events(1)).value().stream_version == 1);
    CHECK(store->append(a, ExpectedVersion::no_stream(), events(1)).status().message() ==
          "wrong expected version for stream \"account-1\": expected no stream, actual 1");
    CHECK(store->append(a, ExpectedVersion::stream_exists(), events(1)).value().stream_version == 2);
    CHECK(store->append(a, ExpectedVersion::exact(2), events(2)).value().stream_version == 4);
    CHECK(store->append(a, ExpectedVersion::exact(0), events(1)).status().code() == StatusCode::kWrongExpectedVersion);
    CHECK(store->stream_head(a).value() == 4);
  }

  SUBCASE("global positions are gap-free and in commit order across streams") {
    REQUIRE(store->append(a, ExpectedVersion::any(), events(2)).ok());
    REQUIRE(store->append(b, ExpectedVersion::any(), events(1)).ok());
    REQUIRE(store->append(a, ExpectedVersion::any(), events(1)).ok());
    auto log = store->read_log(0, 100).value();
    CHECK(render(log.events) ==
          "account-1@1#1 test.happened.v1 {\"n\":0}\n"
          "account-1@2#2 test.happened.v1 {\"n\":1}\n"
          "account-2@1#3 test.happened.v1 {\"n\":0}\n"
          "account-1@3#4 test.happened.v1 {\"n\":0}\n");
    CHECK(log.next_position == 5);
    CHECK(log.end_of_log);
  }

  SUBCASE("read a stream forward and backward from a version with a limit") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(5)).ok());
    auto fwd = store->read_stream(a, ReadDirection::kForward, 2, 2).value();
    CHECK(render(fwd.events) == "account-1@2#2 test.happened.v1 {\"n\":1}\naccount-1@3#3 test.happened.v1 {\"n\":2}\n");
    CHECK(fwd.next_version == 4);
    CHECK_FALSE(fwd.end_of_stream);
    auto rest = store->read_stream(a, ReadDirection::kForward, fwd.next_version, 10).value();
    CHECK(rest.events.size() == 2);
    CHECK(rest.end_of_stream);
    auto back = store->read_stream(a, ReadDirection::kBackward, kEndOfStream, 2).value();
    CHECK(render(back.events) ==
          "account-1@5#5 test.happened.v1 {\"n\":4}\naccount-1@4#4 test.happened.v1 {\"n\":3}\n");
    CHECK(back.next_version == 3);
    auto back2 = store->read_stream(a, ReadDirection::kBackward, 2, 10).value();
    CHECK(back2.events.size() == 2);
    CHECK(back2.events.back().version == 1);
    CHECK(back2.end_of_stream);
    auto past = store->read_stream(a, ReadDirection::kForward, 6, 10).value();
    CHECK(past.events.empty());
    CHECK(past.end_of_stream);
  }

  SUBCASE("reading a stream that does not exist returns kNotFound and its head is 0") {
    auto r = store->read_stream(a, ReadDirection::kForward, 1, 10);
    CHECK(r.status().code() == StatusCode::kNotFound);
    CHECK(r.status().message() == "stream \"account-1\" not found");
    CHECK(store->visit_stream(a, 1, kEndOfStream, [](const EventView&) { return Status(); }).code() ==
          StatusCode::kNotFound);
    CHECK(store->stream_head(a).value() == 0);
  }

  SUBCASE("visit a range of a stream without copying, and stop at a visitor's error") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(10)).ok());
    std::vector<Version> seen;
    REQUIRE(store
                ->visit_stream(a, 3, 6,
                               [&](const EventView& e) {
                                 seen.push_back(e.version);
                                 return Status();
                               })
                .ok());
    CHECK(seen == std::vector<Version>{3, 4, 5, 6});
    seen.clear();
    Status s = store->visit_stream(a, 1, kEndOfStream, [&](const EventView& e) {
      seen.push_back(e.version);
      return e.version == 2 ? Status::rejected("stop here") : Status();
    });
    CHECK(s.code() == StatusCode::kRejected);
    CHECK(seen == std::vector<Version>{1, 2});
  }

  SUBCASE("read the log from a position with a limit and with type and category filters") {
    REQUIRE(store->append(a, ExpectedVersion::any(), std::vector<EventData>{event("bank.opened.v1")}).ok());
    REQUIRE(
        store->append(sid("movie-9"), ExpectedVersion::any(), std::vector<EventData>{event("movie.added.v1")}).ok());
    REQUIRE(store->append(a, ExpectedVersion::any(), std::vector<EventData>{event("bank.deposited.v1")}).ok());
    REQUIRE(store->append(b, ExpectedVersion::any(), std::vector<EventData>{event("bank.deposited.v1")}).ok());
    auto page = store->read_log(2, 2).value();
    CHECK(page.events.size() == 2);
    CHECK(page.events[0].position == 2);
    CHECK(page.next_position == 4);
    CHECK_FALSE(page.end_of_log);

    LogFilter by_type;
    by_type.event_types = {"bank.deposited.v1"};
    auto deposits = store->read_log(1, 10, by_type).value();
    CHECK(render(deposits.events) ==
          "account-1@2#3 bank.deposited.v1 {\"n\":1}\naccount-2@1#4 bank.deposited.v1 {\"n\":1}\n");
    CHECK(deposits.end_of_log);

    LogFilter by_category;
    by_category.categories = {"movie"};
    auto movies = store->read_log(1, 10, by_category).value();
    REQUIRE(movies.events.size() == 1);
    CHECK(movies.events[0].stream_id == "movie-9");
    CHECK(movies.next_position == 5);
  }

  SUBCASE("visit the log to its end: end_of_log says so, with the position to go on from") {
    for (int i = 0; i < 5; ++i) REQUIRE(store->append(a, ExpectedVersion::any(), event()).ok());
    std::vector<Position> seen;
    auto collect = [&](const EventView& e) {
      seen.push_back(e.position);
      return Status();
    };
    auto first = store->visit_log(1, 3, LogFilter{}, collect).value();
    CHECK(first.next_position == 4);
    CHECK_FALSE(first.end_of_log);
    auto rest = store->visit_log(first.next_position, 100, LogFilter{}, collect).value();
    CHECK(rest.next_position == 6);
    CHECK(rest.end_of_log);
    CHECK(seen == std::vector<Position>{1, 2, 3, 4, 5});
    LogFilter none;
    none.event_types = {"test.absent.v1"};
    auto filtered = store->visit_log(1, 100, none, collect).value();
    CHECK(filtered.next_position == 6);
    CHECK(filtered.end_of_log);
    auto past = store->visit_log(9, 10, LogFilter{}, collect).value();
    CHECK(past.end_of_log);
    CHECK(seen.size() == 5);
  }

  SUBCASE("snapshots of several schemas coexist, and each is found only by its own schema") {
    SnapshotStore* snapshots = store->snapshot_store();
    if (snapshots != nullptr) {
      const SnapshotSchema old_code{7, 1}, new_code{8, 1}, new_meaning{7, 2};
      REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{10, 7, 1, R"({"old":10})"}).ok());
      REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{10, 8, 1, R"({"new":10})"}).ok());
      REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{12, 8, 1, R"({"new":12})"}).ok());
      REQUIRE(snapshots->save_snapshot(a, SnapshotRecord{10, 7, 1, R"({"old":"again"})"}).ok());  // replaces
      CHECK(snapshots->load_snapshot(a, kEndOfStream, old_code).value()->payload == R"({"old":"again"})");
      CHECK(snapshots->load_snapshot(a, kEndOfStream, new_code).value()->payload == R"({"new":12})");
      CHECK(snapshots->load_snapshot(a, 11, new_code).value()->payload == R"({"new":10})");
      CHECK_FALSE(snapshots->load_snapshot(a, kEndOfStream, new_meaning).value().has_value());
      CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{10, 10, 12});
      REQUIRE(snapshots->retain_snapshots(a, new_code, 1).ok());  // keeps 12; old code's 10 is older
      CHECK(snapshots->snapshot_versions(a).value() == std::vector<Version>{12});
    }
  }

  SUBCASE("lookup_event finds where a committed event is, and nothing for an id never committed") {
    EventData first = event(), second = event();
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), first).ok());
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), {event(), second}).ok());
    CHECK(store->lookup_event(first.id).value() == EventLocation{"account-1", 1, 1});
    CHECK(store->lookup_event(second.id).value() == EventLocation{"account-2", 2, 3});
    CHECK_FALSE(store->lookup_event(EventId::generate()).value().has_value());
  }

  SUBCASE("one event, or a braced list of them, appends without building a vector") {
    EventData one = event("test.one.v1");
    CHECK(store->append(a, ExpectedVersion::no_stream(), one).value() == AppendResult{1, 1, 1});
    CHECK(store->append(a, ExpectedVersion::exact(1), one).value() == AppendResult{1, 1, 1});  // idempotent retry
    auto two = store->append(a, ExpectedVersion::exact(1), {event("test.two.v1"), event("test.three.v1")});
    CHECK(two.value() == AppendResult{3, 2, 3});
    CHECK(render(store->read_stream(a, ReadDirection::kForward, 1, 10).value().events) ==
          "account-1@1#1 test.one.v1 {\"n\":1}\naccount-1@2#2 test.two.v1 {\"n\":1}\n"
          "account-1@3#3 test.three.v1 {\"n\":1}\n");
  }

  SUBCASE("an exact retry of a committed append returns the original result and writes nothing") {
    auto batch = events(3);
    auto first = store->append(a, ExpectedVersion::no_stream(), batch).value();
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
    auto retry = store->append(a, ExpectedVersion::no_stream(), batch);
    REQUIRE(retry.ok());
    CHECK(*retry == first);
    CHECK(store->stream_head(a).value() == 3);
    CHECK(store->head_position() == 4);
  }

  SUBCASE("a retry that overlaps a committed append only partly returns kIdempotencyConflict") {
    auto batch = events(3);
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), batch).ok());
    std::vector<EventData> overlap{batch[2], event()};
    auto r = store->append(a, ExpectedVersion::any(), overlap);
    CHECK(r.status().code() == StatusCode::kIdempotencyConflict);
    std::vector<EventData> elsewhere{batch[0], batch[1], batch[2]};
    CHECK(store->append(b, ExpectedVersion::any(), elsewhere).status().code() == StatusCode::kIdempotencyConflict);
    std::vector<EventData> reordered{batch[1], batch[0], batch[2]};
    CHECK(store->append(a, ExpectedVersion::any(), reordered).status().code() == StatusCode::kIdempotencyConflict);
    CHECK(store->head_position() == 3);
  }

  SUBCASE("a retry of events consecutive in the stream and in the log returns where they are") {
    auto batch = events(3);
    auto more = events(2);
    auto last = events(1);
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), batch).ok());  // versions 1-3 at 1-3
    REQUIRE(store->append(a, ExpectedVersion::exact(3), more).ok());      // 4-5 at 4-5
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
    REQUIRE(store->append(a, ExpectedVersion::exact(5), last).ok());  // 6 at 7
    std::vector<EventData> suffix{batch[1], batch[2]};
    std::vector<EventData> prefix{batch[0], batch[1]};
    std::vector<EventData> across{batch[2], more[0]};
    CHECK(store->append(a, ExpectedVersion::any(), suffix).value() == AppendResult{3, 2, 3});
    CHECK(store->append(a, ExpectedVersion::exact(1), prefix).value() == AppendResult{2, 1, 2});
    CHECK(store->append(a, ExpectedVersion::no_stream(), across).value() == AppendResult{4, 3, 4});
    // Consecutive in the stream but not in the log, or not consecutive at all: no one append's result.
    std::vector<EventData> split{more[1], last[0]};
    CHECK(store->append(a, ExpectedVersion::any(), split).status().code() == StatusCode::kIdempotencyConflict);
    std::vector<EventData> gap{batch[0], batch[2]};
    CHECK(store->append(a, ExpectedVersion::any(), gap).status().code() == StatusCode::kIdempotencyConflict);
    CHECK(store->head_position() == 7);
    CHECK(store->stream_head(a).value() == 6);
  }

  SUBCASE("retries of a large append find each id where it was committed, whatever the ids' order") {
    // More ids than one lookup batch, looked up in key order: each answer must come back to its event.
    auto batch = events(100);
    const auto first = store->append(a, ExpectedVersion::no_stream(), batch).value();
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(5)).ok());
    CHECK(store->append(a, ExpectedVersion::no_stream(), batch).value() == first);
    CHECK(store->append(a, ExpectedVersion::any(), batch).value() == first);
    auto swapped = batch;
    std::swap(swapped[10], swapped[70]);
    CHECK(store->append(a, ExpectedVersion::any(), swapped).status().code() == StatusCode::kIdempotencyConflict);
    auto one_new = batch;
    one_new[63] = event();
    CHECK(store->append(a, ExpectedVersion::any(), one_new).status().code() == StatusCode::kIdempotencyConflict);
    CHECK(store->head_position() == 105);
    CHECK(store->stream_head(a).value() == 100);
  }

  SUBCASE("bad input is a typed error and the store keeps working") {
    auto code = [&](std::vector<EventData> batch) {
      return store->append(a, ExpectedVersion::any(), batch).status().code();
    };
    CHECK(code({}) == StatusCode::kInvalidArgument);
    CHECK(code(events(store->limits().max_events_per_append + 1)) == StatusCode::kInvalidArgument);
    CHECK(code({event("")}) == StatusCode::kInvalidArgument);
    CHECK(code({event("bad type")}) == StatusCode::kInvalidArgument);
    CHECK(code({event("t.v1", std::string(store->limits().max_payload_bytes + 1, ' '))}) ==
          StatusCode::kInvalidArgument);
    CHECK(code({event("t.v1", R"({"n":)")}) == StatusCode::kInvalidArgument);
    CHECK(code({event("t.v1", R"([1,2])")}) == StatusCode::kInvalidArgument);
    CHECK(code({event("t.v1", "{\"s\":\"\xff\"}")}) == StatusCode::kInvalidArgument);
    std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
    CHECK(code({event("t.v1", deep)}) == StatusCode::kInvalidArgument);
    EventData nil = event();
    nil.id = EventId();
    CHECK(code({nil}) == StatusCode::kInvalidArgument);
    EventData dup = event();
    CHECK(code({dup, dup}) == StatusCode::kInvalidArgument);
    EventData bad_meta = event();
    bad_meta.metadata.headers = {{"", "x"}};
    CHECK(code({bad_meta}) == StatusCode::kInvalidArgument);
    bad_meta.metadata.headers = {{"k", "1"}, {"k", "2"}};
    CHECK(code({bad_meta}) == StatusCode::kInvalidArgument);
    bad_meta.metadata.headers = {{"k", std::string(store->limits().max_metadata_bytes, 'x')}};
    CHECK(code({bad_meta}) == StatusCode::kInvalidArgument);

    auto msg = store->append(a, ExpectedVersion::any(), std::vector<EventData>{event("t.v1", R"({"n":)")});
    CHECK(std::string(msg.status().message()).find("append to stream \"account-1\", event 0") == 0);

    CHECK(store->head_position() == 0);
    CHECK(store->append(a, ExpectedVersion::no_stream(), events(1)).ok());
    CHECK(store->head_position() == 1);
  }

  SUBCASE("metadata, ids, types and payloads round-trip, and timestamps do not decrease") {
    EventData e = event("bank.deposited.v2", R"({"cents":500,"note":"caf\u00e9 \"x\""})");
    e.metadata.correlation_id = "req-7";
    e.metadata.causation_id = "cmd-3";
    e.metadata.headers = {{"user", "alice"}, {"tenant", "t1"}};
    REQUIRE(store->append(a, ExpectedVersion::any(), std::vector<EventData>{e}).ok());
    REQUIRE(store->append(a, ExpectedVersion::any(), events(1)).ok());
    auto read = store->read_stream(a, ReadDirection::kForward, 1, 10).value();
    REQUIRE(read.events.size() == 2);
    const RecordedEvent& r = read.events[0];
    CHECK(r.id == e.id);
    CHECK(r.type == e.type);
    CHECK(r.payload == e.payload);
    CHECK(r.metadata == e.metadata);
    CHECK(r.schema_version() == 2);
    CHECK(r.timestamp.time_since_epoch().count() > 0);
    CHECK(read.events[1].timestamp >= r.timestamp);
  }

  SUBCASE("list streams in pages") {
    for (const char* s : {"c-3", "a-1", "b-2", "d-4", "e-5"})
      REQUIRE(store->append(sid(s), ExpectedVersion::any(), events(1)).ok());
    REQUIRE(store->append(sid("b-2"), ExpectedVersion::any(), events(1)).ok());
    auto p1 = store->list_streams("", 2).value();
    REQUIRE(p1.streams.size() == 2);
    CHECK(p1.streams[0] == StreamInfo{"a-1", 1});
    CHECK(p1.streams[1] == StreamInfo{"b-2", 2});
    CHECK(p1.next_after == "b-2");
    auto p2 = store->list_streams(p1.next_after, 10).value();
    REQUIRE(p2.streams.size() == 3);
    CHECK(p2.streams[0].stream_id == "c-3");
    CHECK(p2.next_after.empty());
  }

  SUBCASE("concurrent writers retrying conflicts lose and duplicate nothing") {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 50;
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const StreamId own = sid("own-" + std::to_string(t));
        for (int i = 0; i < kPerThread; ++i) {
          auto batch = events(2);
          for (;;) {
            Version head = store->stream_head(a).value();
            auto r = store->append(a, ExpectedVersion::exact(head), batch);
            if (r.ok()) break;
            if (r.status().code() != StatusCode::kWrongExpectedVersion) {
              CHECK(r.status().to_string() == "");  // reported, not thrown: REQUIRE cannot leave a thread
              return;
            }
            ++conflicts;
          }
          CHECK(store->append(own, ExpectedVersion::any(), events(1)).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(store->stream_head(a).value() == kThreads * kPerThread * 2);
    auto log = store->read_log(1, 100000).value();
    REQUIRE(log.events.size() == kThreads * kPerThread * 3);
    std::set<EventId> ids;
    for (std::size_t i = 0; i < log.events.size(); ++i) {
      CHECK(log.events[i].position == i + 1);
      ids.insert(log.events[i].id);
    }
    CHECK(ids.size() == log.events.size());
    auto stream = store->read_stream(a, ReadDirection::kForward, 1, 100000).value();
    for (std::size_t i = 0; i < stream.events.size(); ++i) CHECK(stream.events[i].version == i + 1);
  }

  SUBCASE("commit listeners hear each new high-water mark after it is readable, until unsubscribed") {
    std::vector<Position> heard;
    std::vector<std::size_t> readable;
    auto subscription = store->subscribe_commits([&](Position high_water) {
      heard.push_back(high_water);
      readable.push_back(static_cast<std::size_t>(store->head_position()));
    });
    REQUIRE(store->append(a, ExpectedVersion::any(), events(2)).ok());
    REQUIRE(store->append(b, ExpectedVersion::any(), events(1)).ok());
    CHECK(store->append(b, ExpectedVersion::no_stream(), events(1)).status().code() ==
          StatusCode::kWrongExpectedVersion);  // nothing committed, nothing heard
    CHECK(heard == std::vector<Position>{2, 3});
    CHECK(readable == std::vector<std::size_t>{2, 3});
    subscription.reset();
    REQUIRE(store->append(a, ExpectedVersion::any(), events(1)).ok());
    CHECK(heard.size() == 2);
  }

  if (fixture.durable()) {
    SUBCASE("everything acknowledged is there after a reopen, and appends continue from it") {
      auto batch = events(3);
      auto first = store->append(a, ExpectedVersion::no_stream(), batch).value();
      REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(2)).ok());
      store.reset();
      store = fixture.open();
      REQUIRE(store != nullptr);
      CHECK(store->head_position() == 5);
      CHECK(store->stream_head(a).value() == 3);
      CHECK(store->append(a, ExpectedVersion::any(), batch).value() == first);  // idempotent after restart
      CHECK(store->append(a, ExpectedVersion::exact(3), events(1)).value() == AppendResult{4, 6, 6});
      CHECK(store->read_log(1, 100).value().events.size() == 6);
    }
  }
}

}  // namespace strata::conformance
