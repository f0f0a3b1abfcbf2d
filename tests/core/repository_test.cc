#include "strata/core/repository.h"

#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "counter.h"
#include "strata/core/memory_event_store.h"

using counter::Counter;
using strata::AppendResult;
using strata::EventData;
using strata::EventId;
using strata::ExpectedVersion;
using strata::MemoryEventStore;
using strata::Repository;
using strata::StatusCode;
using strata::StreamId;

namespace {

StreamId sid(std::string_view s) { return StreamId::parse(s).value(); }

// "version type payload" per event of the stream.
std::string render_stream(strata::EventStore& store, const StreamId& id) {
  auto slice = store.read_stream(id, strata::ReadDirection::kForward, 1, 1000);
  if (!slice.ok()) return slice.status().to_string();
  std::string s;
  for (const auto& e : slice->events) s += strata::to_string(e.version) + " " + e.type + " " + e.payload + "\n";
  return s;
}

// A counter "counter-1" opened and added to twice, saved: version 3.
Counter saved_counter(Repository<Counter>& repo) {
  Counter c = repo.create(sid("counter-1"));
  strata::throw_if_error(c.open("visits"));
  strata::throw_if_error(c.add(2));
  strata::throw_if_error(c.add(3, "busy"));
  (void)repo.save(c).value();
  return c;
}

void append_raw(strata::EventStore& store, const StreamId& id, std::string type, std::string payload) {
  std::vector<EventData> batch{EventData{EventId::generate(), std::move(type), std::move(payload), {}}};
  (void)store.append(id, ExpectedVersion::any(), batch).value();
}

struct Measured {
  static constexpr std::string_view kType = "test.measured.v1";
  double celsius = 0;
  std::vector<double> samples;
  static constexpr auto kFields =
      strata::fields(strata::field("celsius", &Measured::celsius), strata::field("samples", &Measured::samples));
  bool operator==(const Measured&) const = default;
};

class Thermometer : public strata::Aggregate<Thermometer, strata::Events<Measured>> {
 public:
  void measure(double celsius, std::vector<double> samples = {}) { record(Measured{celsius, std::move(samples)}); }
  double last() const { return last_; }

 private:
  friend Aggregate;
  void apply(const Measured& e) { last_ = e.celsius; }
  double last_ = 0;
};

}  // namespace

TEST_CASE("create makes an empty aggregate for the stream at version 0") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c = repo.create(sid("counter-1"));
  REQUIRE(c.has_id());
  CHECK(c.id().str() == "counter-1");
  CHECK(c.version() == 0);
  CHECK(c.pending_events().empty());
  CHECK(&repo.store() == &store);
}

TEST_CASE("save appends the pending events, advances the version and clears them, and load replays them") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c = repo.create(sid("counter-1"));
  REQUIRE(c.open("visits").ok());
  REQUIRE(c.add(2).ok());
  REQUIRE(c.add(3, "busy").ok());
  const std::vector<EventId> ids{c.pending_events()[0].id, c.pending_events()[1].id, c.pending_events()[2].id};

  CHECK(repo.save(c).value() == AppendResult{3, 1, 3});
  CHECK(c.version() == 3);
  CHECK(c.pending_events().empty());
  CHECK(render_stream(store, c.id()) ==
        "1 test.counter.opened.v1 {\"name\":\"visits\"}\n"
        "2 test.counter.added.v1 {\"amount\":2,\"note\":null}\n"
        "3 test.counter.added.v1 {\"amount\":3,\"note\":\"busy\"}\n");
  auto stored = store.read_stream(c.id(), strata::ReadDirection::kForward, 1, 10).value();
  CHECK(std::vector<EventId>{stored.events[0].id, stored.events[1].id, stored.events[2].id} == ids);

  Counter loaded = repo.load(sid("counter-1")).value();
  CHECK(loaded.id() == c.id());
  CHECK(loaded.version() == 3);
  CHECK(loaded.pending_events().empty());
  CHECK(loaded.name() == "visits");
  CHECK(loaded.total() == 5);
  CHECK(loaded.folds() == 3);

  REQUIRE(loaded.add(10).ok());
  CHECK(repo.save(loaded).value() == AppendResult{4, 4, 4});
  CHECK(repo.load(c.id()).value().total() == 15);
}

TEST_CASE("save stores the metadata it is given with every event") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c = repo.create(sid("counter-1"));
  REQUIRE(c.open("x").ok());
  REQUIRE(c.add(1).ok());
  strata::Metadata meta;
  meta.correlation_id = "req-7";
  meta.headers = {{"user", "alice"}};
  REQUIRE(repo.save(c, meta).ok());
  auto stored = store.read_stream(c.id(), strata::ReadDirection::kForward, 1, 10).value();
  REQUIRE(stored.events.size() == 2);
  CHECK(stored.events[0].metadata == meta);
  CHECK(stored.events[1].metadata == meta);
}

TEST_CASE("replay decodes into reused values: a missing optional field is not taken from the previous event") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c = repo.create(sid("counter-1"));
  REQUIRE(c.open("x").ok());
  REQUIRE(c.add(1, "first").ok());
  REQUIRE(repo.save(c).ok());
  append_raw(store, c.id(), "test.counter.added.v1", R"({"amount":2})");
  Counter loaded = repo.load(c.id()).value();
  CHECK(loaded.total() == 3);
  CHECK(loaded.last_note() == "-");
}

TEST_CASE("save with no pending events writes nothing") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c = saved_counter(repo);
  CHECK(repo.save(c).value() == AppendResult{3, 0, 0});
  Counter fresh = repo.create(sid("counter-2"));
  CHECK(repo.save(fresh).value() == AppendResult{0, 0, 0});
  CHECK(store.head_position() == 3);
  CHECK(store.stream_head(sid("counter-2")).value() == 0);
}

TEST_CASE("load of a stream that does not exist is kNotFound") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  auto r = repo.load(sid("counter-404"));
  CHECK(r.status().to_string() == "not found: stream \"counter-404\" not found");
}

TEST_CASE("load_or_create gives a new aggregate for a missing stream and the loaded one otherwise") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter fresh = repo.load_or_create(sid("counter-1")).value();
  CHECK(fresh.version() == 0);
  CHECK(fresh.id().str() == "counter-1");
  strata::throw_if_error(fresh.open("visits"));
  REQUIRE(repo.save(fresh).ok());  // expects no stream, as create()'s do
  Counter again = repo.load_or_create(sid("counter-1")).value();
  CHECK(again.version() == 1);
  append_raw(store, sid("counter-2"), "counter.unknown.v1", "{}");
  CHECK(repo.load_or_create(sid("counter-2")).status().code() == StatusCode::kUnknownEventType);
}

TEST_CASE("saving over a concurrent modification is kWrongExpectedVersion with both versions") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  saved_counter(repo);
  Counter mine = repo.load(sid("counter-1")).value();
  Counter theirs = repo.load(sid("counter-1")).value();
  REQUIRE(theirs.add(1).ok());
  REQUIRE(theirs.add(1).ok());
  REQUIRE(repo.save(theirs).ok());

  REQUIRE(mine.add(100).ok());
  auto r = repo.save(mine);
  CHECK(r.status().to_string() == "wrong expected version for stream \"counter-1\": expected 3, actual 5");
  REQUIRE(r.status().version_conflict() != nullptr);
  CHECK(r.status().version_conflict()->expected == strata::ExpectedVersion::exact(3));
  CHECK(r.status().version_conflict()->actual_version == 5);
  // The aggregate is unchanged, so the caller can reload and retry the command.
  CHECK(mine.version() == 3);
  CHECK(mine.pending_events().size() == 1);
  CHECK(store.head_position() == 5);

  Counter reloaded = repo.load(sid("counter-1")).value();
  REQUIRE(reloaded.add(100).ok());
  CHECK(repo.save(reloaded).value() == AppendResult{6, 6, 6});
  CHECK(repo.load(sid("counter-1")).value().total() == 107);
}

TEST_CASE("creating an aggregate whose stream already exists is kWrongExpectedVersion on save") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  saved_counter(repo);
  Counter again = repo.create(sid("counter-1"));
  REQUIRE(again.open("again").ok());
  CHECK(repo.save(again).status().message() ==
        "wrong expected version for stream \"counter-1\": expected no stream, actual 3");
}

TEST_CASE("retrying a save after a lost acknowledgement is idempotent") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  saved_counter(repo);
  Counter c = repo.load(sid("counter-1")).value();
  REQUIRE(c.add(5).ok());
  REQUIRE(c.add(6).ok());
  const Counter before_save = c;  // what the caller still holds when the acknowledgement is lost

  const AppendResult first = repo.save(c).value();
  CHECK(first == AppendResult{5, 4, 5});

  Counter retry = before_save;
  CHECK(repo.save(retry).value() == first);
  CHECK(retry.version() == 5);
  CHECK(retry.pending_events().empty());
  CHECK(store.head_position() == 5);
  CHECK(render_stream(store, sid("counter-1")) ==
        "1 test.counter.opened.v1 {\"name\":\"visits\"}\n"
        "2 test.counter.added.v1 {\"amount\":2,\"note\":null}\n"
        "3 test.counter.added.v1 {\"amount\":3,\"note\":\"busy\"}\n"
        "4 test.counter.added.v1 {\"amount\":5,\"note\":null}\n"
        "5 test.counter.added.v1 {\"amount\":6,\"note\":null}\n");
  CHECK(repo.load(sid("counter-1")).value().total() == 16);
}

TEST_CASE("an unknown stored event type is kUnknownEventType naming the type, version and position") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  saved_counter(repo);
  append_raw(store, sid("other-1"), "test.counter.opened.v1", R"({"name":"o"})");
  append_raw(store, sid("counter-1"), "test.counter.renamed.v1", R"({"name":"y"})");
  auto r = repo.load(sid("counter-1"));
  CHECK(r.status().to_string() ==
        "unknown event type: stream \"counter-1\" version 4 (position 5) has event type "
        "\"test.counter.renamed.v1\", which this aggregate does not handle");
  append_raw(store, sid("counter-2"), "test.counter.added.v2", R"({"amount":1})");
  CHECK(repo.load(sid("counter-2")).status().code() == StatusCode::kUnknownEventType);
}

TEST_CASE("an undecodable stored payload is kInvalidArgument saying which event and why") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  saved_counter(repo);
  append_raw(store, sid("counter-1"), "test.counter.added.v1", R"({"amount":"ten"})");
  CHECK(repo.load(sid("counter-1")).status().to_string() ==
        "invalid argument: decoding \"test.counter.added.v1\" at stream \"counter-1\" version 4: field \"amount\": "
        "expected a signed 64-bit integer, got a string");
  append_raw(store, sid("counter-2"), "test.counter.opened.v1", R"({"title":"no name"})");
  CHECK(repo.load(sid("counter-2")).status().to_string() ==
        "invalid argument: decoding \"test.counter.opened.v1\" at stream \"counter-2\" version 1: missing field "
        "\"name\"");
}

TEST_CASE("saving an aggregate without a stream id is kInvalidArgument") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c;
  REQUIRE(c.open("x").ok());
  CHECK(repo.save(c).status().to_string() ==
        "invalid argument: aggregate has no stream id: make new aggregates with Repository::create(id)");
  CHECK(c.pending_events().size() == 1);
  CHECK(store.head_position() == 0);
}

TEST_CASE("saving an event that breaks the store's limits is kInvalidArgument and changes nothing") {
  MemoryEventStore::Options options;
  options.limits.max_payload_bytes = 32;
  MemoryEventStore store(options);
  Repository<Counter> repo(store);
  Counter c = repo.create(sid("counter-1"));
  REQUIRE(c.open(std::string(40, 'n')).ok());
  auto r = repo.save(c);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(std::string(r.status().message()).find("payload of 51 bytes exceeds the limit of 32 bytes") !=
        std::string::npos);
  CHECK(c.version() == 0);
  CHECK(c.pending_events().size() == 1);
  CHECK(store.head_position() == 0);
}

TEST_CASE(
    "save_idempotent stores events under ids derived from the key, and saving the same key again appends nothing") {
  MemoryEventStore store;
  Repository<Counter> repo(store);
  Counter c = repo.create(sid("counter-1"));
  strata::throw_if_error(c.open("visits"));
  strata::throw_if_error(c.add(2));
  const AppendResult first = repo.save_idempotent(c, "inbox/msg-7").value();
  CHECK(first == AppendResult{2, 1, 2});
  CHECK(store.lookup_event(EventId::derive("inbox/msg-7", 0)).value() == strata::EventLocation{"counter-1", 1, 1});
  CHECK(store.lookup_event(EventId::derive("inbox/msg-7", 1)).value() == strata::EventLocation{"counter-1", 2, 2});

  // The same decision again (a redelivered message handled from the state before it): absorbed.
  Counter again = repo.create(sid("counter-1"));
  strata::throw_if_error(again.open("visits"));
  strata::throw_if_error(again.add(2));
  CHECK(repo.save_idempotent(again, "inbox/msg-7").value() == first);
  CHECK(again.version() == 2);
  CHECK(again.pending_events().empty());
  CHECK(store.head_position() == 2);
  CHECK(repo.save_idempotent(again, "").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("saving a non-finite double is kInvalidArgument naming the event type and the field, and writes nothing") {
  const std::string model = ": strata's numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles";
  MemoryEventStore store;
  Repository<Thermometer> repo(store);
  const StreamId id = sid("thermometer-1");
  Thermometer t = repo.create(id);
  t.measure(21.5);
  REQUIRE(repo.save(t).ok());

  t.measure(std::numeric_limits<double>::quiet_NaN());
  auto r = repo.save(t);
  CHECK(r.status().to_string() ==
        "invalid argument: save of stream \"thermometer-1\", pending event 0: event \"test.measured.v1\": field "
        "\"celsius\": non-finite number NaN" +
            model);
  CHECK(t.version() == 1);
  CHECK(t.pending_events().size() == 1);

  Thermometer u = repo.load(id).value();
  u.measure(20, {19.5, std::numeric_limits<double>::infinity()});
  CHECK(repo.save(u).status().to_string() ==
        "invalid argument: save of stream \"thermometer-1\", pending event 0: event \"test.measured.v1\": field "
        "\"samples\": element 1: non-finite number Infinity" +
            model);

  // The same event appended without the repository is refused by the store's validation.
  auto direct = store.append(id, ExpectedVersion::any(),
                             strata::to_event_data(Measured{-std::numeric_limits<double>::infinity(), {}}));
  CHECK(direct.status().to_string() ==
        "invalid argument: append to stream \"thermometer-1\", event 0: invalid event \"test.measured.v1\": field "
        "\"celsius\": non-finite number -Infinity" +
            model);

  // Nothing was written, and the aggregate still loads.
  CHECK(store.head_position() == 1);
  CHECK(repo.load(id).value().last() == 21.5);
}
