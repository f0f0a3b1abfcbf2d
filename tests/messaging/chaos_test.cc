// Chaos across services (label chaos): 100,000 events over 1,000 streams are appended in one service
// while its process — store, appender and relay — is killed with SIGKILL at random moments, one NATS
// node of the 3-node R3 cluster (the stream's leader the first time) is killed and restarted, and the
// consuming service's process is killed too. At the end the consumer's store holds exactly one effect
// per event, and each stream's effects are in stream order.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "eventstore/child_process.h"
#include "nats_cluster.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/messaging/jetstream_transport.h"

namespace {

using namespace strata;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::vector<std::uint64_t> read_status(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::uint64_t> out;
  for (std::uint64_t v; in >> v;) out.push_back(v);
  return out;
}

// A service process that is started again whenever it is killed.
class Service {
 public:
  explicit Service(std::vector<std::string> argv) : argv_(std::move(argv)) { start(); }
  void start() { child_ = std::make_unique<testing::ChildProcess>(argv_); }
  void crash() {
    child_->kill_hard();
    (void)child_->wait();
    ++kills_;
  }
  void restart() { start(); }
  // A service only ends when it is killed: one that ended by itself met an error it should have
  // waited out (it said which on stderr).
  bool running() { return child_->running(); }
  int kills() const { return kills_; }

 private:
  std::vector<std::string> argv_;
  std::unique_ptr<testing::ChildProcess> child_;
  int kills_ = 0;
};

struct Credited {
  std::int64_t k = 0;
  std::uint64_t source_version = 0;
  static constexpr auto kFields = fields(field("k", &Credited::k), field("source_version", &Credited::source_version));
};

}  // namespace

TEST_CASE(
    "chaos: relay, consumer and a NATS node killed again and again, and still every event has exactly one effect, in "
    "order") {
  constexpr std::int64_t kTotal = 100'000;
  constexpr int kStreams = 1'000;
  const auto cluster = testing::NatsCluster::from_environment();
  REQUIRE(cluster.nodes() == 3);
  std::random_device rd;
  const std::uint32_t seed = rd();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::string prefix = "chaos" + std::to_string(seed % 100'000);
  const auto work = std::filesystem::temp_directory_path() / ("strata-chaos-" + prefix);
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);
  std::string urls;
  for (const auto& s : cluster.servers()) urls += (urls.empty() ? "" : ",") + s;
  const std::string producer_status = (work / "producer.status").string();
  const std::string consumer_status = (work / "consumer.status").string();

  Service producer({STRATA_CHAOS_SERVICE, "produce", (work / "producer").string(), urls, prefix, std::to_string(kTotal),
                    producer_status});
  Service consumer({STRATA_CHAOS_SERVICE, "consume", (work / "consumer").string(), urls, prefix, consumer_status});

  // The transport the driver asks who leads the stream.
  JetStreamOptions jo;
  jo.servers = cluster.servers();
  jo.stream = "S" + prefix;
  jo.subjects = {prefix + ".>"};
  jo.replicas = 3;
  auto probe = JetStreamTransport::connect(jo).value();

  int node_cycles = 0;
  bool leader_killed = false;
  const auto started = Clock::now();
  auto progress = [&] {
    auto p = read_status(producer_status);
    auto c = read_status(consumer_status);
    return std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>(p.size() > 0 ? p[0] : 0, p.size() > 1 ? p[1] : 0,
                                                                   c.empty() ? 0 : c[0]);
  };
  auto alive = [&] {
    REQUIRE_MESSAGE(producer.running(), "the producing service ended by itself");
    REQUIRE_MESSAGE(consumer.running(), "the consuming service ended by itself");
  };
  while (producer.kills() < 10 || consumer.kills() < 10 || node_cycles < 3) {
    REQUIRE(Clock::now() - started < std::chrono::minutes(6));
    alive();
    std::this_thread::sleep_for(milliseconds(300 + rng() % 1'200));
    const auto choice = rng() % 5;
    if (choice <= 1 && producer.kills() < 10) {
      producer.crash();
      producer.restart();
    } else if (choice <= 3 && consumer.kills() < 10) {
      consumer.crash();
      consumer.restart();
    } else if (node_cycles < 3) {
      int node = 1 + static_cast<int>(rng() % 3);
      if (!leader_killed) {
        auto leader = probe->stream_leader();
        if (!leader.ok()) continue;  // not created yet, or electing
        node = std::stoi(leader->substr(leader->rfind('n') + 1));
        leader_killed = true;
      }
      cluster.kill(node);
      std::this_thread::sleep_for(milliseconds(500 + rng() % 1'500));
      cluster.restart(node);
      ++node_cycles;
    }
  }
  const auto [appended_at_end_of_chaos, relayed, handled] = progress();
  MESSAGE("chaos done after " << std::chrono::duration<double>(Clock::now() - started).count() << " s: appended "
                              << appended_at_end_of_chaos << ", relayed " << relayed << ", handled " << handled);

  // Let the services finish: every event appended, relayed and handled.
  const auto deadline = Clock::now() + std::chrono::minutes(4);
  for (;;) {
    const auto [appended, published, effects] = progress();
    if (appended == kTotal && published == kTotal && effects >= kTotal) break;
    alive();
    REQUIRE_MESSAGE(Clock::now() < deadline,
                    "stuck at appended " << appended << ", relayed " << published << ", handled " << effects);
    std::this_thread::sleep_for(milliseconds(200));
  }
  std::this_thread::sleep_for(milliseconds(500));  // any duplicate effect would land now
  producer.crash();
  consumer.crash();

  // Exactly one effect per event, in stream order.
  RocksEventStore::Options o;
  o.sync = false;
  auto store = RocksEventStore::open(o, (work / "consumer").string()).value();
  CHECK(store->head_position() == static_cast<Position>(kTotal));
  std::vector<bool> seen(kTotal + 1, false);
  std::int64_t duplicates = 0, out_of_order = 0;
  for (int s = 0; s < kStreams; ++s) {
    const auto id = StreamId::parse("ledger-account-" + std::to_string(s)).value();
    auto slice = store->read_stream(id, ReadDirection::kForward, 1, 1'000'000);
    REQUIRE(slice.ok());
    for (std::size_t i = 0; i < slice->events.size(); ++i) {
      Credited c;
      REQUIRE(decode_json(slice->events[i].payload, c).ok());
      if (c.k < 1 || c.k > kTotal || seen[static_cast<std::size_t>(c.k)]) {
        ++duplicates;
      } else {
        seen[static_cast<std::size_t>(c.k)] = true;
      }
      if (c.source_version != i + 1) ++out_of_order;
    }
  }
  const auto lost = std::count(seen.begin() + 1, seen.end(), false);
  MESSAGE("relay process killed " << producer.kills() << " times, consumer " << consumer.kills() << " times, "
                                  << node_cycles << " NATS node cycles: lost " << lost << ", duplicated " << duplicates
                                  << ", out of order " << out_of_order);
  CHECK(lost == 0);
  CHECK(duplicates == 0);
  CHECK(out_of_order == 0);
  store.reset();
  (void)probe->delete_stream();
  std::filesystem::remove_all(work);
}
