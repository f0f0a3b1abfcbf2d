// The stream lifecycle suite (lifecycle_conformance.h), compiled once for every backend that runs it.
#include "conformance/lifecycle_conformance.h"

namespace strata::conformance {

void lifecycle_conformance(StoreFixture& fixture) {
  using namespace strata;
  using namespace strata::conformance;
  std::unique_ptr<EventStore> store = fixture.open();
  REQUIRE(store != nullptr);
  const StreamId a = sid("account-1");
  const StreamId b = sid("account-2");
  const StreamId c = sid("ledger-1");

  SUBCASE("a multi-stream append commits every part with consecutive positions, in the order given") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(2)).ok());
    const auto ea = events(1), eb = events(3), ec = events(2);
    const StreamAppend parts[] = {part(a, ExpectedVersion::exact(2), ea), part(b, ExpectedVersion::no_stream(), eb),
                                  part(c, ExpectedVersion::any(), ec)};
    auto r = store->append_multi(parts);
    REQUIRE(r.ok());
    CHECK(r->first_position == 3);
    CHECK(r->last_position == 8);
    REQUIRE(r->streams.size() == 3);
    CHECK(r->streams[0] == AppendResult{3, 3, 3});
    CHECK(r->streams[1] == AppendResult{3, 4, 6});
    CHECK(r->streams[2] == AppendResult{2, 7, 8});
    CHECK(store->head_position() == 8);
    CHECK(store->stream_head(b).value() == 3);
    auto log = store->read_log(3, 100).value();
    REQUIRE(log.events.size() == 6);
    CHECK(log.events[0].stream_id == "account-1");
    CHECK(log.events[1].stream_id == "account-2");
    CHECK(log.events[5].stream_id == "ledger-1");
    CHECK(log.events[1].timestamp == log.events[5].timestamp);
  }

  SUBCASE("a multi-stream conflict names every stream whose expectation failed, and writes nothing") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(2)).ok());
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
    const auto ea = events(1), eb = events(1), ec = events(1);
    const StreamAppend parts[] = {part(a, ExpectedVersion::exact(1), ea), part(c, ExpectedVersion::no_stream(), ec),
                                  part(b, ExpectedVersion::no_stream(), eb)};
    auto r = store->append_multi(parts);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == StatusCode::kWrongExpectedVersion);
    CHECK(r.status().message() ==
          "wrong expected version for streams \"account-1\": expected 1, actual 2; \"account-2\": expected no stream, "
          "actual 1");
    REQUIRE(r.status().version_conflicts().size() == 2);
    CHECK(r.status().version_conflicts()[0].stream == "account-1");
    CHECK(r.status().version_conflicts()[1].actual_version == 1);
    CHECK(store->head_position() == 3);
    CHECK(store->stream_head(c).value() == 0);
    CHECK(store->lookup_event(ec[0].id).value() == std::nullopt);
  }

  SUBCASE("a multi-stream append is idempotent by event ids, and a partial retry is a conflict") {
    const auto ea = events(2), eb = events(1);
    const StreamAppend parts[] = {part(a, ExpectedVersion::no_stream(), ea), part(b, ExpectedVersion::no_stream(), eb)};
    auto first = store->append_multi(parts).value();
    auto again = store->append_multi(parts);
    REQUIRE(again.ok());
    CHECK(*again == first);
    CHECK(store->head_position() == 3);
    const auto fresh = events(1);
    const StreamAppend mixed[] = {part(a, ExpectedVersion::any(), ea), part(c, ExpectedVersion::any(), fresh)};
    CHECK(store->append_multi(mixed).status().code() == StatusCode::kIdempotencyConflict);
    // A single append of one part's ids is the exact retry of that part.
    CHECK(store->append(b, ExpectedVersion::any(), eb).value() == first.streams[1]);
    CHECK(store->head_position() == 3);
  }

  SUBCASE("bad multi-stream appends are typed errors and write nothing") {
    const auto ea = events(1), eb = events(1);
    const std::vector<EventData> none;
    CHECK(store->append_multi({}).status().code() == StatusCode::kInvalidArgument);
    const StreamAppend twice[] = {part(a, ExpectedVersion::any(), ea), part(a, ExpectedVersion::any(), eb)};
    CHECK(store->append_multi(twice).status().message() ==
          "multi-stream append: stream \"account-1\" appears twice (part 1)");
    const StreamAppend empty[] = {part(a, ExpectedVersion::any(), ea), part(b, ExpectedVersion::any(), none)};
    CHECK(store->append_multi(empty).status().code() == StatusCode::kInvalidArgument);
    const StreamAppend same_id[] = {part(a, ExpectedVersion::any(), ea), part(b, ExpectedVersion::any(), ea)};
    CHECK(store->append_multi(same_id).status().code() == StatusCode::kInvalidArgument);
    CHECK(store->head_position() == 0);
  }

  SUBCASE("a soft-deleted stream reads as deleted, keeps its log, and is recreated only by no_stream") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(3)).ok());
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
    CHECK(store->delete_stream(sid("nobody-1"), ExpectedVersion::any(), DeleteMode::kSoft).status().code() ==
          StatusCode::kNotFound);
    CHECK(store->delete_stream(a, ExpectedVersion::exact(2), DeleteMode::kSoft).status().code() ==
          StatusCode::kWrongExpectedVersion);
    auto d = store->delete_stream(a, ExpectedVersion::exact(3), DeleteMode::kSoft);
    REQUIRE(d.ok());
    CHECK(*d == LifecycleResult{3, 0});
    // Idempotent: the same delete again succeeds and changes nothing.
    CHECK(store->delete_stream(a, ExpectedVersion::exact(3), DeleteMode::kSoft).value() == LifecycleResult{3, 0});

    auto read = store->read_stream(a, ReadDirection::kForward, 0, 10);
    CHECK(read.status().code() == StatusCode::kStreamDeleted);
    CHECK(read.status().message() ==
          "stream \"account-1\" was deleted at version 3 (an append expecting no stream recreates it)");
    CHECK(store->read_stream(a, ReadDirection::kBackward, kEndOfStream, 10).status().code() ==
          StatusCode::kStreamDeleted);
    CHECK(store->visit_stream(a, 1, kEndOfStream, [](const EventView&) { return Status(); }).code() ==
          StatusCode::kStreamDeleted);
    auto info = store->stream_info(a).value();
    CHECK(info.state == StreamState::kDeleted);
    CHECK(info.head == 3);
    CHECK(store->stream_head(a).value() == 3);
    CHECK(store->read_log(0, 100).value().events.size() == 4);  // the log keeps them

    CHECK(store->append(a, ExpectedVersion::any(), events(1)).status().code() == StatusCode::kStreamDeleted);
    CHECK(store->append(a, ExpectedVersion::exact(3), events(1)).status().code() == StatusCode::kStreamDeleted);
    auto again = store->append(a, ExpectedVersion::no_stream(), events(2));
    REQUIRE(again.ok());
    CHECK(*again == AppendResult{5, 5, 6});
    info = store->stream_info(a).value();
    CHECK(info.state == StreamState::kLive);
    CHECK(info.first_version == 4);
    CHECK(info.origin == 4);
    // The recreated stream reads from its new life, from 0 or from 1 alike.
    auto fresh = store->read_stream(a, ReadDirection::kForward, 1, 10).value();
    REQUIRE(fresh.events.size() == 2);
    CHECK(fresh.events[0].version == 4);
    CHECK(fresh.first_version == 4);
    auto back = store->read_stream(a, ReadDirection::kBackward, kEndOfStream, 10).value();
    CHECK(back.events.size() == 2);
    CHECK(back.end_of_stream);
    std::vector<Version> visited;
    REQUIRE(store
                ->visit_stream(a, 1, kEndOfStream,
                               [&](const EventView& e) {
                                 visited.push_back(e.version);
                                 return Status();
                               })
                .ok());
    CHECK(visited == std::vector<Version>{4, 5});
    CHECK(store->append(a, ExpectedVersion::exact(5), events(1)).ok());
  }

  SUBCASE("a hard delete removes the events, leaves tombstones readers pass over, and is final") {
    const auto first = events(2);
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), first).ok());
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
    REQUIRE(store->append(a, ExpectedVersion::any(), events(2)).ok());
    REQUIRE(store->append(b, ExpectedVersion::any(), events(1)).ok());
    auto d = store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kHard);
    REQUIRE(d.ok());
    CHECK(*d == LifecycleResult{4, 4});
    CHECK(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kHard).value() == LifecycleResult{4, 0});
    CHECK(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kSoft).value() == LifecycleResult{4, 0});

    CHECK(store->read_stream(a, ReadDirection::kForward, 0, 10).status().code() == StatusCode::kStreamDeleted);
    CHECK(store->append(a, ExpectedVersion::no_stream(), events(1)).status().message() ==
          "stream \"account-1\" was hard-deleted at version 4; it cannot be read or appended to again");
    CHECK(store->append(a, ExpectedVersion::any(), events(1)).status().code() == StatusCode::kStreamDeleted);
    CHECK(store->stream_info(a).value().state == StreamState::kHardDeleted);
    CHECK(store->truncate_stream(a, ExpectedVersion::any(), 2).status().code() == StatusCode::kStreamDeleted);
    const auto eb = events(1), ea = events(1);
    const StreamAppend parts[] = {part(b, ExpectedVersion::any(), eb), part(a, ExpectedVersion::any(), ea)};
    CHECK(store->append_multi(parts).status().code() == StatusCode::kStreamDeleted);

    CHECK(store->head_position() == 6);
    auto walk = walk_log(*store, 2);
    CHECK(walk.removed == 4);
    REQUIRE(walk.events.size() == 2);
    CHECK(walk.events[0].position == 3);
    CHECK(walk.events[1].position == 6);
    CHECK(walk.next == 7);
    // The other stream is untouched, and appends go on at the end of the log.
    CHECK(store->read_stream(b, ReadDirection::kForward, 0, 10).value().events.size() == 2);
    CHECK(store->append(b, ExpectedVersion::exact(2), events(1)).value() == AppendResult{3, 7, 7});
    // A retry of an append the delete removed stays an exact retry: it is not committed twice.
    CHECK(store->append(a, ExpectedVersion::no_stream(), first).value() == AppendResult{2, 1, 2});
    CHECK(store->head_position() == 7);
  }

  SUBCASE("a hard delete after a soft delete and a recreation removes both lives") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(2)).ok());
    REQUIRE(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kSoft).ok());
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(1)).ok());
    CHECK(store->delete_stream(a, ExpectedVersion::exact(3), DeleteMode::kHard).value() == LifecycleResult{3, 3});
    CHECK(walk_log(*store).removed == 3);
  }

  SUBCASE("truncation removes the versions before a point; reads from there on still work") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(3)).ok());
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(1)).ok());
    REQUIRE(store->append(a, ExpectedVersion::any(), events(20)).ok());  // a large append, and small ones
    REQUIRE(store->append(a, ExpectedVersion::any(), events(2)).ok());
    CHECK(store->truncate_stream(a, ExpectedVersion::exact(24), 5).status().code() ==
          StatusCode::kWrongExpectedVersion);
    auto t = store->truncate_stream(a, ExpectedVersion::exact(25), 5);
    REQUIRE(t.ok());
    CHECK(*t == LifecycleResult{25, 4});
    // At or below the first version: nothing to do.
    CHECK(store->truncate_stream(a, ExpectedVersion::any(), 5).value() == LifecycleResult{25, 0});
    CHECK(store->truncate_stream(a, ExpectedVersion::any(), 3).value() == LifecycleResult{25, 0});
    auto info = store->stream_info(a).value();
    CHECK(info.first_version == 5);
    CHECK(info.origin == 1);
    CHECK(info.state == StreamState::kLive);

    auto from1 = store->read_stream(a, ReadDirection::kForward, 1, 10);
    CHECK(from1.status().code() == StatusCode::kStreamTruncated);
    CHECK(from1.status().message() ==
          "stream \"account-1\": versions below 5 were removed (truncated); version 1 was asked for");
    CHECK(store->visit_stream(a, 4, 10, [](const EventView&) { return Status(); }).code() ==
          StatusCode::kStreamTruncated);
    auto from0 = store->read_stream(a, ReadDirection::kForward, 0, 100).value();
    REQUIRE(from0.events.size() == 21);
    CHECK(from0.events.front().version == 5);
    CHECK(from0.first_version == 5);
    auto back = store->read_stream(a, ReadDirection::kBackward, kEndOfStream, 100).value();
    CHECK(back.events.size() == 21);
    CHECK(back.events.back().version == 5);
    CHECK(back.end_of_stream);
    std::size_t seen = 0;
    REQUIRE(store->visit_stream(a, 5, 7, [&](const EventView&) { return ++seen, Status(); }).ok());
    CHECK(seen == 3);

    auto walk = walk_log(*store, 5);
    CHECK(walk.removed == 4);
    CHECK(walk.events.size() == 22);
    CHECK(walk.events.front().stream_id == "account-2");

    // Past the head: everything goes, the stream stays live and takes appends.
    CHECK(store->truncate_stream(a, ExpectedVersion::any(), 1000).value() == LifecycleResult{25, 21});
    CHECK(store->stream_info(a).value().first_version == 26);
    CHECK(store->read_stream(a, ReadDirection::kForward, 0, 10).value().events.empty());
    CHECK(store->append(a, ExpectedVersion::exact(25), events(1)).value().stream_version == 26);
    CHECK(store->read_stream(a, ReadDirection::kForward, 0, 10).value().events.size() == 1);
    CHECK(store->truncate_stream(sid("nobody-1"), ExpectedVersion::any(), 2).status().code() == StatusCode::kNotFound);
  }

  SUBCASE("list_streams and stream_info show each stream's state") {
    REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(2)).ok());
    REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(2)).ok());
    REQUIRE(store->append(c, ExpectedVersion::no_stream(), events(2)).ok());
    REQUIRE(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kSoft).ok());
    REQUIRE(store->delete_stream(b, ExpectedVersion::any(), DeleteMode::kHard).ok());
    REQUIRE(store->truncate_stream(c, ExpectedVersion::any(), 2).ok());
    auto list = store->list_streams("", 10).value();
    REQUIRE(list.streams.size() == 3);
    CHECK(list.streams[0] == StreamInfo{"account-1", 2, StreamState::kDeleted, 3, 1});
    CHECK(list.streams[1] == StreamInfo{"account-2", 2, StreamState::kHardDeleted, 3, 1});
    CHECK(list.streams[2] == StreamInfo{"ledger-1", 2, StreamState::kLive, 2, 1});
    CHECK(store->stream_info(c).value() == list.streams[2]);
    CHECK(store->stream_info(sid("nobody-1")).status().code() == StatusCode::kNotFound);
  }

  SUBCASE("log readers following the log during hard deletes and truncations see every remaining position once") {
    constexpr int kStreams = 24;
    std::atomic<bool> done{false};
    std::atomic<int> failures{0};
    std::thread writer([&] {
      // Hard-deleted streams refuse appends (kStreamDeleted); anything else is a failure.
      auto expect = [&](const Status& st) {
        if (!st.ok() && st.code() != StatusCode::kStreamDeleted) ++failures;
      };
      for (int round = 0; round < 6; ++round) {
        for (int s = 0; s < kStreams; ++s)
          expect(store->append(sid("s-" + std::to_string(s)), ExpectedVersion::any(), events(1 + (s % 3))).status());
        const StreamId victim = sid("s-" + std::to_string((round * 5) % kStreams));
        if (round % 2 == 0) {
          expect(store->delete_stream(victim, ExpectedVersion::any(), DeleteMode::kHard).status());
        } else {
          expect(store->truncate_stream(victim, ExpectedVersion::any(), 3).status());
        }
      }
      done = true;
    });
    Position next = 1, last_seen = 0;
    std::uint64_t seen = 0, removed = 0;
    bool ok = true;
    for (;;) {
      const bool finished = done.load();
      auto slice = store->read_log(next, 5);
      REQUIRE(slice.ok());
      for (const auto& e : slice->events) {
        if (e.position <= last_seen) ok = false;
        last_seen = e.position;
        ++seen;
      }
      removed += slice->removed;
      next = slice->next_position;
      if (finished && slice->end_of_log) break;
    }
    writer.join();
    CHECK(failures == 0);
    CHECK(ok);
    // Each position was examined once: seen or passed over as removed.
    CHECK(seen + removed == store->head_position().value());
    CHECK(next == store->head_position() + 1);
  }

  SUBCASE("16 writers moving between streams with multi-stream appends lose and duplicate nothing") {
    constexpr int kWriters = 16, kMoves = 12, kAccounts = 4;
    std::vector<StreamId> accounts;
    for (int i = 0; i < kAccounts; ++i) accounts.push_back(sid("pool-" + std::to_string(i)));
    std::atomic<int> committed{0}, conflicts{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        for (int m = 0; m < kMoves; ++m) {
          const StreamId& from = accounts[(w + m) % kAccounts];
          const StreamId& to = accounts[(w + m + 1) % kAccounts];
          const auto out = events(1, "move.out.v1"), in = events(1, "move.in.v1");
          for (;;) {
            const Version hf = store->stream_head(from).value(), ht = store->stream_head(to).value();
            const StreamAppend parts[] = {part(from, ExpectedVersion::exact(hf), out),
                                          part(to, ExpectedVersion::exact(ht), in)};
            auto r = store->append_multi(parts);
            if (r.ok()) {
              ++committed;
              break;
            }
            if (r.status().code() != StatusCode::kWrongExpectedVersion) {
              FAIL_CHECK(r.status().to_string());
              return;
            }
            ++conflicts;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(committed == kWriters * kMoves);
    auto walk = walk_log(*store, 1000);
    REQUIRE(walk.events.size() == static_cast<std::size_t>(2 * kWriters * kMoves));
    // Both halves of each move, next to each other; no event twice; every stream's versions contiguous.
    std::set<EventId> ids;
    std::map<std::string, Version> heads;
    for (std::size_t i = 0; i < walk.events.size(); ++i) {
      const auto& e = walk.events[i];
      CHECK(ids.insert(e.id).second);
      CHECK(e.version == ++heads[e.stream_id]);
      if (i % 2 == 0) {
        CHECK(e.type == "move.out.v1");
      } else {
        CHECK(e.type == "move.in.v1");
        CHECK(e.position == walk.events[i - 1].position + 1);
      }
    }
    MESSAGE("multi-stream conflicts retried: " << conflicts.load());
  }

  if (fixture.durable()) {
    SUBCASE("deletes, truncations and multi-stream appends survive a reopen") {
      REQUIRE(store->append(a, ExpectedVersion::no_stream(), events(3)).ok());
      REQUIRE(store->append(b, ExpectedVersion::no_stream(), events(3)).ok());
      REQUIRE(store->append(c, ExpectedVersion::no_stream(), events(3)).ok());
      const auto ea = events(1), eb = events(1);
      const StreamAppend parts[] = {part(b, ExpectedVersion::exact(3), ea), part(c, ExpectedVersion::exact(3), eb)};
      const auto multi = store->append_multi(parts).value();
      REQUIRE(store->delete_stream(a, ExpectedVersion::any(), DeleteMode::kHard).ok());
      REQUIRE(store->delete_stream(b, ExpectedVersion::any(), DeleteMode::kSoft).ok());
      REQUIRE(store->truncate_stream(c, ExpectedVersion::any(), 3).ok());
      store.reset();
      store = fixture.open();
      REQUIRE(store != nullptr);
      CHECK(store->stream_info(a).value().state == StreamState::kHardDeleted);
      CHECK(store->stream_info(b).value().state == StreamState::kDeleted);
      CHECK(store->stream_info(c).value().first_version == 3);
      CHECK(store->append_multi(parts).value() == multi);
      CHECK(store->append(a, ExpectedVersion::no_stream(), events(1)).status().code() == StatusCode::kStreamDeleted);
      CHECK(store->read_stream(c, ReadDirection::kForward, 0, 10).value().events.size() == 2);
      auto walk = walk_log(*store);
      CHECK(walk.removed == 5);
      CHECK(walk.events.size() == 6);
      CHECK(store->append(b, ExpectedVersion::no_stream(), events(1)).value() == AppendResult{5, 12, 12});
    }
  }
}

}  // namespace strata::conformance
