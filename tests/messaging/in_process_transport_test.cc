#include "strata/messaging/in_process_transport.h"

#include <doctest/doctest.h>

#include <atomic>

#include "transport_conformance.h"

namespace {

struct InProcessFixture {
  strata::InProcessTransport t;
  strata::Transport& transport() { return t; }
  std::string prefix() { return "tc"; }
};

}  // namespace

TEST_CASE_TEMPLATE_INVOKE(transport_conformance, InProcessFixture);

TEST_CASE("an unavailable in-process broker fails publishes and fetches with kUnavailable until it is back") {
  using namespace strata;
  InProcessTransport t;
  auto consumer = t.consume({"c", "a.>"}).value();
  t.set_available(false);
  CHECK(conformance::publish_sync(t, conformance::message("m1", "a.b")).status().code() == StatusCode::kUnavailable);
  CHECK(consumer->fetch(1, std::chrono::milliseconds(10)).status().code() == StatusCode::kUnavailable);
  CHECK_FALSE(t.health().available);
  t.set_available(true);
  CHECK(conformance::publish_sync(t, conformance::message("m1", "a.b")).value().sequence == 1);
  CHECK(t.health().available);
  CHECK(consumer->fetch(1, std::chrono::milliseconds(10)).value().size() == 1);
}

TEST_CASE("a lost publish ack stores the message, and sending it again is acknowledged as a duplicate") {
  using namespace strata;
  InProcessTransport t;
  t.fail_next_acks(1);
  CHECK(conformance::publish_sync(t, conformance::message("m1", "a.b")).status().code() == StatusCode::kUnavailable);
  auto again = conformance::publish_sync(t, conformance::message("m1", "a.b")).value();
  CHECK(again.duplicate);
  CHECK(t.stored().size() == 1);
}

TEST_CASE("outside the duplicate window the same id is stored again") {
  using namespace strata;
  InProcessTransport::Options options;
  options.duplicate_window = std::chrono::milliseconds(0);
  InProcessTransport t(options);
  REQUIRE(conformance::publish_sync(t, conformance::message("m1", "a.b")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK_FALSE(conformance::publish_sync(t, conformance::message("m1", "a.b")).value().duplicate);
  CHECK(t.stored().size() == 2);
}

TEST_CASE("subject filters match tokens: * one, > the rest") {
  using namespace strata;
  InProcessTransport t;
  for (const char* s : {"a.b", "a.b.c", "a.x.c", "b.b", "a"})
    REQUIRE(conformance::publish_sync(t, conformance::message(std::string("id-") + s, s)).ok());
  auto subjects = [&](const char* durable, const char* filter) {
    auto c = t.consume({durable, filter}).value();
    std::vector<std::string> out;
    for (auto& d : conformance::fetch_n(*c, 5, std::chrono::milliseconds(300))) out.push_back(d->message().subject);
    return out;
  };
  CHECK(subjects("all", "") == std::vector<std::string>{"a.b", "a.b.c", "a.x.c", "b.b", "a"});
  CHECK(subjects("rest", "a.>") == std::vector<std::string>{"a.b", "a.b.c", "a.x.c"});
  CHECK(subjects("one", "a.*") == std::vector<std::string>{"a.b"});
  CHECK(subjects("middle", "a.*.c") == std::vector<std::string>{"a.b.c", "a.x.c"});
  CHECK(subjects("exact", "b.b") == std::vector<std::string>{"b.b"});
}
