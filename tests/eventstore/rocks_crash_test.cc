// Crash safety with real processes: a child appends from four threads and reports each acknowledged
// append; the parent kill -9s it at a random moment, reopens the store, and checks that every
// acknowledged append is there and that no append is partly there. Over many cycles on one store, with
// and without fsync (a killed process loses nothing the kernel has; fsync matters for power loss).
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "rocks_test_support.h"

namespace {

using namespace strata;

struct Ack {
  std::string tag;
  std::string stream;
  Position first = 0;
  Position last = 0;
  Version version = 0;
  std::size_t events = 0;
};

// The complete "ack" lines of `output` (a line cut by the kill is not an acknowledgement the child made).
std::vector<Ack> parse_acks(const std::string& output) {
  std::vector<Ack> acks;
  std::size_t start = 0;
  for (std::size_t end; (end = output.find('\n', start)) != std::string::npos; start = end + 1) {
    std::istringstream line(output.substr(start, end - start));
    std::string word;
    Ack a;
    std::uint64_t first = 0, last = 0, version = 0;
    if (line >> word >> a.tag >> a.stream >> first >> last >> version >> a.events && word == "ack") {
      a.first = first;
      a.last = last;
      a.version = version;
      acks.push_back(a);
    }
  }
  return acks;
}

std::string field(const std::string& payload, const std::string& name) {
  const auto at = payload.find("\"" + name + "\":");
  if (at == std::string::npos) return {};
  auto from = at + name.size() + 3;
  if (payload[from] == '"') ++from;
  return payload.substr(from, payload.find_first_of("\",}", from) - from);
}

}  // namespace

TEST_CASE("after kill -9 at random moments every acknowledged append is there and no append is partly there") {
  testing::TempDir dir;
  const std::string store_path = dir.sub("store");
  std::mt19937 rng(20240607);
  std::vector<Ack> acked;
  constexpr int kCycles = 24;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const bool sync = cycle % 2 == 0;
    std::string output;
    {
      testing::ChildProcess child(
          {STRATA_CRASH_WRITER, "append", store_path, std::to_string(cycle + 1), sync ? "1" : "0"});
      // Wait for the first acknowledgement (the child has opened the store), then kill it a random while later.
      const auto give_up = testing::ChildProcess::Clock::now() + std::chrono::seconds(20);
      while (output.find('\n') == std::string::npos && testing::ChildProcess::Clock::now() < give_up)
        if (!child.read_until(testing::ChildProcess::Clock::now() + std::chrono::milliseconds(10), output)) break;
      REQUIRE_MESSAGE(output.find("ack ") == 0, "the child did not start appending: ", output);
      child.read_until(testing::ChildProcess::Clock::now() + std::chrono::milliseconds(5 + rng() % 150), output);
      child.kill_hard();
      const int status = child.wait();
      CHECK(WIFSIGNALED(status));
      child.read_to_end(output);  // acknowledgements still in the pipe were made before the kill
    }
    auto acks = parse_acks(output);
    CHECK(!acks.empty());
    acked.insert(acked.end(), acks.begin(), acks.end());

    auto store = testing::open_store(store_path);
    auto log = store->read_log(1, 100'000'000).value();
    REQUIRE(log.events.size() == store->head_position());
    std::map<std::string, std::size_t> seen, size_of;
    std::map<std::string, Version> stream_versions;
    for (std::size_t i = 0; i < log.events.size(); ++i) {
      const RecordedEvent& e = log.events[i];
      REQUIRE(e.position == i + 1);
      const std::string tag = field(e.payload, "append");
      CHECK(std::stoul(field(e.payload, "i")) == seen[tag]);  // an append's events are consecutive, in order
      ++seen[tag];
      size_of[tag] = std::stoul(field(e.payload, "of"));
      CHECK(e.version == ++stream_versions[e.stream_id]);  // stream versions have no gap either
    }
    for (const auto& [tag, n] : seen) CHECK_MESSAGE(n == size_of[tag], "append ", tag, " is partly there");
    for (const Ack& a : acked) {
      REQUIRE_MESSAGE(a.last <= log.events.size(), "acknowledged append ", a.tag, " is missing after cycle ", cycle);
      CHECK(field(testing::event_at(log.events, a.first).payload, "append") == a.tag);
      CHECK(testing::event_at(log.events, a.last).stream_id == a.stream);
      CHECK(testing::event_at(log.events, a.last).version == a.version);
      CHECK(a.last - a.first + 1 == a.events);
    }
    for (const auto& [stream, head] : stream_versions)
      CHECK(store->stream_head(StreamId::parse(stream).value()).value() == head);
  }
  MESSAGE(acked.size(), " acknowledged appends over ", kCycles, " kill -9 cycles");
}
