// The Transport conformance suite, written once and run over every transport (transport.h says what
// they promise).
//
//   struct InProcessFixture {
//     strata::Transport& transport();           // a transport whose broker holds no messages yet
//     std::string prefix();                     // a subject prefix no other case uses
//   };
//   TEST_CASE_TEMPLATE_INVOKE(transport_conformance, InProcessFixture);
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strata/messaging/transport.h"

namespace strata::conformance {

inline OutgoingMessage message(std::string id, std::string subject, std::string payload = "{}") {
  OutgoingMessage m;
  m.id = std::move(id);
  m.subject = std::move(subject);
  m.type = "test.message.v1";
  m.payload = std::move(payload);
  m.headers.set("Strata-Type", m.type);
  return m;
}

// Publishes and waits for the outcome.
inline Result<PublishAck> publish_sync(Transport& t, OutgoingMessage m) {
  std::promise<Result<PublishAck>> done;
  auto outcome = done.get_future();
  t.publish(std::move(m), [&](Result<PublishAck> r) { done.set_value(std::move(r)); });
  if (outcome.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    return Status::unavailable("no publish outcome within 30 s");
  return outcome.get();
}

// Fetches until `n` messages came or `limit` passed.
inline std::vector<std::unique_ptr<Delivery>> fetch_n(Consumer& c, std::size_t n,
                                                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  std::vector<std::unique_ptr<Delivery>> out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto batch = c.fetch(n - out.size(), std::chrono::milliseconds(200));
    if (!batch.ok()) continue;
    for (auto& d : *batch) out.push_back(std::move(d));
  }
  return out;
}

inline std::vector<std::string> ids_of(const std::vector<std::unique_ptr<Delivery>>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d->message().id);
  return out;
}

}  // namespace strata::conformance

TEST_CASE_TEMPLATE_DEFINE("transport conformance", Fixture, transport_conformance) {
  using namespace strata;
  using namespace strata::conformance;
  using std::chrono::milliseconds;
  Fixture fixture;
  Transport& t = fixture.transport();
  const std::string p = fixture.prefix();

  SUBCASE("publishes are acknowledged in order, and a duplicate id is acknowledged once, as a duplicate") {
    auto a = publish_sync(t, message(p + "-a", p + ".s1")).value();
    auto b = publish_sync(t, message(p + "-b", p + ".s2")).value();
    CHECK(b.sequence > a.sequence);
    CHECK_FALSE(a.duplicate);
    auto again = publish_sync(t, message(p + "-a", p + ".s1")).value();
    CHECK(again.duplicate);
    CHECK(again.sequence == a.sequence);
  }

  SUBCASE("a consumer gets every message of its subjects in order, with its id, type, payload and headers") {
    OutgoingMessage first = message(p + "-1", p + ".orders.o1", R"({"n":1})");
    first.headers.set("Strata-Correlation-Id", "corr-1");
    REQUIRE(publish_sync(t, first).ok());
    REQUIRE(publish_sync(t, message(p + "-2", p + ".other.x", R"({"n":2})")).ok());
    REQUIRE(publish_sync(t, message(p + "-3", p + ".orders.o2", R"({"n":3})")).ok());
    auto consumer = t.consume({p + "-orders", p + ".orders.>"}).value();
    auto got = fetch_n(*consumer, 2);
    REQUIRE(got.size() == 2);
    CHECK(ids_of(got) == std::vector<std::string>{p + "-1", p + "-3"});
    const IncomingMessage& m = got[0]->message();
    CHECK(m.subject == p + ".orders.o1");
    CHECK(m.type == "test.message.v1");
    CHECK(m.payload == R"({"n":1})");
    CHECK(m.headers.get("Strata-Correlation-Id") == "corr-1");
    CHECK(m.delivery_count == 1);
    CHECK(m.sequence < got[1]->message().sequence);
    for (auto& d : got) REQUIRE(d->ack().ok());
    CHECK(consumer->fetch(10, milliseconds(300)).value().empty());
  }

  SUBCASE("a message not acknowledged within the ack wait, or nak'ed, is delivered again") {
    REQUIRE(publish_sync(t, message(p + "-1", p + ".s")).ok());
    REQUIRE(publish_sync(t, message(p + "-2", p + ".s")).ok());
    ConsumerConfig config{p + "-redeliver", p + ".>"};
    config.ack_wait = milliseconds(1000);
    auto consumer = t.consume(config).value();
    auto first = fetch_n(*consumer, 2);
    REQUIRE(first.size() == 2);
    REQUIRE(first[1]->nak(milliseconds(0)).ok());
    auto nak_again = fetch_n(*consumer, 1, milliseconds(5000));
    REQUIRE(nak_again.size() == 1);
    CHECK(nak_again[0]->message().id == p + "-2");
    CHECK(nak_again[0]->message().delivery_count == 2);
    REQUIRE(nak_again[0]->ack().ok());
    // The first was neither acked nor nak'ed: back after the ack wait.
    auto expired = fetch_n(*consumer, 1, milliseconds(10'000));
    REQUIRE(expired.size() == 1);
    CHECK(expired[0]->message().id == p + "-1");
    CHECK(expired[0]->message().delivery_count >= 2);
    REQUIRE(expired[0]->ack().ok());
  }

  SUBCASE("a durable consumer opened again resumes after what it acknowledged") {
    for (int i = 0; i < 4; ++i) REQUIRE(publish_sync(t, message(p + "-" + std::to_string(i), p + ".s")).ok());
    {
      auto consumer = t.consume({p + "-durable", p + ".>"}).value();
      auto got = fetch_n(*consumer, 2);
      REQUIRE(got.size() == 2);
      for (auto& d : got) REQUIRE(d->ack().ok());
    }
    auto consumer = t.consume({p + "-durable", p + ".>"}).value();
    // Acks are asynchronous: one the broker had not registered yet when the consumer was opened again
    // comes back first (a consumer absorbs it as a duplicate). What follows is the rest, in order.
    auto rest = fetch_n(*consumer, 4, milliseconds(2'000));
    std::vector<std::string> ids = ids_of(rest);
    while (!ids.empty() && (ids.front() == p + "-0" || ids.front() == p + "-1")) ids.erase(ids.begin());
    CHECK(ids == std::vector<std::string>{p + "-2", p + "-3"});
    for (auto& d : rest) REQUIRE(d->ack().ok());
  }

  SUBCASE("a consumer opened again gets what it was given and never acknowledged first, in order") {
    for (int i = 1; i <= 2; ++i) REQUIRE(publish_sync(t, message(p + "-" + std::to_string(i), p + ".s")).ok());
    ConsumerConfig config{p + "-restart", p + ".>"};
    config.ack_wait = std::chrono::seconds(30);  // far longer than the test: only reopening brings them back
    {
      auto crashed = t.consume(config).value();
      REQUIRE(fetch_n(*crashed, 2).size() == 2);  // given, never acknowledged: the process dies
    }
    REQUIRE(publish_sync(t, message(p + "-3", p + ".s")).ok());
    auto consumer = t.consume(config).value();
    auto got = fetch_n(*consumer, 3);
    CHECK(ids_of(got) == std::vector<std::string>{p + "-1", p + "-2", p + "-3"});
    for (auto& d : got) REQUIRE(d->ack().ok());
  }

  SUBCASE("a consumer opened again and again, after a crash and with changed settings, keeps its place") {
    for (int i = 1; i <= 3; ++i) REQUIRE(publish_sync(t, message(p + "-" + std::to_string(i), p + ".s")).ok());
    ConsumerConfig config{p + "-again", p + ".>"};
    config.ack_wait = std::chrono::seconds(30);
    {
      auto crashed = t.consume(config).value();
      REQUIRE(fetch_n(*crashed, 1).size() == 1);  // given, never acknowledged
    }
    {
      auto reopened = t.consume(config).value();  // delivers the unacknowledged one first
      auto got = fetch_n(*reopened, 3);
      CHECK(ids_of(got) == std::vector<std::string>{p + "-1", p + "-2", p + "-3"});
      for (auto& d : got) REQUIRE(d->ack().ok());
      CHECK(reopened->fetch(10, milliseconds(500)).value().empty());  // the acks have arrived
    }
    // Nothing pending now: opened again as it is, then with another ack wait and pending limit. (An ack
    // the broker had not registered yet brings its message back first, absorbed like a duplicate.)
    for (int round = 0; round < 2; ++round) {
      const std::string expected = p + "-" + std::to_string(4 + round);
      REQUIRE(publish_sync(t, message(expected, p + ".s")).ok());
      if (round == 1) {
        config.ack_wait = std::chrono::seconds(7);
        config.max_ack_pending = 77;
      }
      auto consumer = t.consume(config);
      REQUIRE_MESSAGE(consumer.ok(), consumer.status().to_string());
      auto got = fetch_n(**consumer, 1, milliseconds(3'000));
      while (!got.empty() && got.front()->message().id < expected) {
        REQUIRE(got.front()->ack().ok());
        got = fetch_n(**consumer, 1, milliseconds(3'000));
      }
      REQUIRE(got.size() == 1);
      CHECK(got[0]->message().id == expected);
      REQUIRE(got[0]->ack().ok());
      CHECK((*consumer)->fetch(10, milliseconds(500)).value().empty());
    }
  }

  SUBCASE("a bad message is refused with kInvalidArgument and never stored") {
    CHECK(publish_sync(t, message("", p + ".s")).status().code() == StatusCode::kInvalidArgument);
    CHECK(publish_sync(t, message(p + "-x", "")).status().code() == StatusCode::kInvalidArgument);
    CHECK(publish_sync(t, message(p + "-y", p + "..s")).status().code() == StatusCode::kInvalidArgument);
    CHECK(publish_sync(t, message(p + "-z", p + ".a b")).status().code() == StatusCode::kInvalidArgument);
    CHECK(publish_sync(t, message(p + "-big", p + ".s", std::string(t.max_payload_bytes() + 1, 'x'))).status().code() ==
          StatusCode::kInvalidArgument);
    CHECK(t.consume({"bad name!", ""}).status().code() == StatusCode::kInvalidArgument);
    CHECK(t.consume({p + "-f", "a.>.b"}).status().code() == StatusCode::kInvalidArgument);
    auto consumer = t.consume({p + "-bad", p + ".>"}).value();
    CHECK(consumer->fetch(10, milliseconds(300)).value().empty());
  }

  SUBCASE("many asynchronous publishes are all acknowledged, each exactly once") {
    constexpr int kCount = 2'000;
    std::mutex mu;
    std::condition_variable cv;
    int done = 0, failed = 0;
    std::set<std::uint64_t> sequences;
    for (int i = 0; i < kCount; ++i) {
      t.publish(message(p + "-m" + std::to_string(i), p + ".s" + std::to_string(i % 10)), [&](Result<PublishAck> r) {
        std::lock_guard l(mu);
        ++done;
        if (r.ok()) {
          sequences.insert(r->sequence);
        } else {
          ++failed;
        }
        cv.notify_all();
      });
    }
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, std::chrono::seconds(60), [&] { return done == kCount; }));
    CHECK(failed == 0);
    CHECK(sequences.size() == static_cast<std::size_t>(kCount));
  }
}
