#include "strata/core/aggregate.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <variant>

#include "counter.h"

using counter::Added;
using counter::Closed;
using counter::Counter;
using counter::Opened;
using strata::StatusCode;

namespace {
// "type json" per pending event.
std::string render_pending(const Counter& c) {
  std::string s;
  for (const auto& p : c.pending_events()) {
    s += std::visit([](const auto& e) { return std::string(std::remove_cvref_t<decltype(e)>::kType); }, p.event);
    s += ' ';
    std::visit([&](const auto& e) { strata::encode_json(e, s); }, p.event);
    s += '\n';
  }
  return s;
}
}  // namespace

static_assert(std::is_same_v<Counter::Event, std::variant<Opened, Added, Closed>>);
static_assert(Counter::EventList::kSize == 3);

TEST_CASE("a new aggregate has no id, version 0 and no pending events") {
  Counter c;
  CHECK_FALSE(c.has_id());
  CHECK(c.version() == 0);
  CHECK(c.pending_events().empty());
  CHECK(c.folds() == 0);
}

TEST_CASE("record folds the event at once and queues it, in order, without changing the version") {
  Counter c;
  REQUIRE(c.open("visits").ok());
  REQUIRE(c.add(2).ok());
  REQUIRE(c.add(3, "busy").ok());
  CHECK(c.name() == "visits");
  CHECK(c.total() == 5);
  CHECK(c.last_note() == "busy");
  CHECK(c.folds() == 3);
  CHECK(c.version() == 0);
  CHECK(render_pending(c) ==
        "test.counter.opened.v1 {\"name\":\"visits\"}\n"
        "test.counter.added.v1 {\"amount\":2,\"note\":null}\n"
        "test.counter.added.v1 {\"amount\":3,\"note\":\"busy\"}\n");
  CHECK(std::get<Added>(c.pending_events()[2].event) == Added{3, "busy"});
}

TEST_CASE("each recorded event gets its own non-nil event id when recorded") {
  Counter c;
  REQUIRE(c.open("x").ok());
  for (int i = 0; i < 20; ++i) REQUIRE(c.add(1).ok());
  std::set<strata::EventId> ids;
  for (const auto& p : c.pending_events()) {
    CHECK_FALSE(p.id.is_nil());
    ids.insert(p.id);
  }
  CHECK(ids.size() == 21);
}

TEST_CASE("a command that refuses records nothing and changes nothing") {
  Counter c;
  CHECK(c.add(1).to_string() == "rejected: counter is not open");
  CHECK(c.add(-1).code() == StatusCode::kInvalidArgument);
  CHECK(c.pending_events().empty());
  CHECK(c.total() == 0);
  REQUIRE(c.open("x").ok());
  REQUIRE(c.close().ok());
  CHECK(c.close().to_string() == "rejected: counter is already closed");
  CHECK(c.add(5).to_string() == "rejected: counter is not open");
  CHECK(c.pending_events().size() == 2);
}

TEST_CASE("a copy of an aggregate keeps the pending events with the same ids") {
  Counter c;
  REQUIRE(c.open("x").ok());
  REQUIRE(c.add(4).ok());
  Counter copy = c;
  REQUIRE(copy.pending_events().size() == 2);
  CHECK(copy.pending_events()[0].id == c.pending_events()[0].id);
  CHECK(copy.pending_events()[1].id == c.pending_events()[1].id);
  CHECK(copy.total() == 4);
  REQUIRE(copy.add(1).ok());
  CHECK(c.pending_events().size() == 2);
  Counter moved = std::move(copy);
  CHECK(moved.pending_events().size() == 3);
  CHECK(moved.total() == 5);
}
