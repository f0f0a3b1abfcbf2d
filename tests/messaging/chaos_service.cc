// The child processes of the messaging chaos test (chaos_test.cc), each a service on its own RocksDB
// store, killed with SIGKILL at random moments and started again:
//
//   chaos_service produce STORE_DIR URLS PREFIX TOTAL STATUS_FILE
//     appends TOTAL deposits, event k to stream account-<k % 1000>, one per append, and relays the log
//     to JetStream (subjects PREFIX.bank.<stream>); after a restart it goes on from the store's head.
//   chaos_service consume STORE_DIR URLS PREFIX STATUS_FILE
//     an inbox that credits ledger-<account> once per deposit, recording the deposit's version.
//
// Both write their progress to STATUS_FILE ("<appended> <relayed>" or "<handled>"), replaced atomically
// every 100 ms, and run until killed. URLS: comma-separated NATS servers.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/core/aggregate.h"
#include "strata/core/repository.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/jetstream_transport.h"
#include "strata/messaging/relay.h"

namespace {

using std::chrono::milliseconds;

struct Deposited {
  static constexpr std::string_view kType = "bank.deposited.v1";
  std::int64_t k = 0;
  static constexpr auto kFields = strata::fields(strata::field("k", &Deposited::k));
};
struct Credited {
  static constexpr std::string_view kType = "ledger.credited.v1";
  std::int64_t k = 0;
  std::uint64_t source_version = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("k", &Credited::k), strata::field("source_version", &Credited::source_version));
};
class Ledger : public strata::Aggregate<Ledger, strata::Events<Credited>> {
 public:
  void credit(std::int64_t k, std::uint64_t version) { record(Credited{k, version}); }

 private:
  friend Aggregate;
  void apply(const Credited&) {}
};

void write_status(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
  }
  std::filesystem::rename(tmp, path);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(part);
  return out;
}

[[noreturn]] void die(const strata::Status& s, const char* what) {
  std::fprintf(stderr, "chaos_service: %s: %s\n", what, s.to_string().c_str());
  std::exit(2);
}

strata::JetStreamOptions transport_options(const std::string& urls, const std::string& prefix) {
  strata::JetStreamOptions o;
  o.servers = split(urls);
  o.stream = "S" + prefix;
  o.subjects = {prefix + ".>"};
  o.replicas = 3;
  o.publish_timeout = milliseconds(2'000);
  o.reconnect_wait = milliseconds(100);
  return o;
}

strata::RocksEventStore::Options store_options() {
  strata::RocksEventStore::Options o;
  o.sync = false;  // a killed process keeps what it wrote; only a power loss needs fsync
  o.block_cache_bytes = std::size_t{32} << 20;
  o.write_buffer_bytes = std::size_t{16} << 20;
  return o;
}

int produce(const std::string& dir, const std::string& urls, const std::string& prefix, std::int64_t total,
            const std::string& status_file) {
  auto store = strata::RocksEventStore::open(store_options(), dir);
  if (!store.ok()) die(store.status(), "open store");
  auto transport = strata::JetStreamTransport::connect(transport_options(urls, prefix));
  if (!transport.ok()) die(transport.status(), "connect");
  strata::RelayOptions ro;
  ro.name = "relay";
  ro.source = "bank";
  ro.subject_prefix = prefix + ".bank";
  ro.first_backoff = milliseconds(50);
  ro.max_backoff = milliseconds(1'000);
  ro.checkpoint_interval = milliseconds(100);
  strata::Relay relay(**store, (*store)->projection_storage(), **transport, ro);
  if (auto s = relay.start(); !s.ok()) die(s, "start relay");
  // Appends are paced (5,000 a second), so that they go on while the chaos does.
  constexpr double kPerSecond = 5'000;
  const auto began = std::chrono::steady_clock::now();
  const std::int64_t first = static_cast<std::int64_t>((*store)->head_position().value()) + 1;
  auto last_status = began;
  for (std::int64_t k = first;; ++k) {
    if (k <= total) {
      const auto due = began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>((k - first) / kPerSecond));
      std::this_thread::sleep_until(due);
      const auto stream = strata::StreamId::parse("account-" + std::to_string(k % 1000)).value();
      auto r = (*store)->append(stream, strata::ExpectedVersion::any(), strata::to_event_data(Deposited{k}));
      if (!r.ok()) die(r.status(), "append");
    } else {
      std::this_thread::sleep_for(milliseconds(20));
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_status >= milliseconds(100)) {
      write_status(status_file, std::to_string((*store)->head_position().value()) + " " +
                                    std::to_string(relay.status().position.value()));
      last_status = now;
    }
  }
}

int consume(const std::string& dir, const std::string& urls, const std::string& prefix,
            const std::string& status_file) {
  auto store = strata::RocksEventStore::open(store_options(), dir);
  if (!store.ok()) die(store.status(), "open store");
  auto transport = strata::JetStreamTransport::connect(transport_options(urls, prefix));
  if (!transport.ok()) die(transport.status(), "connect");
  strata::Repository<Ledger> ledgers(**store);
  strata::InboxOptions o;
  o.name = "ledger-inbox";
  o.consumer.filter = prefix + ".bank.>";
  o.consumer.ack_wait = milliseconds(2'000);
  o.consumer.max_ack_pending = 2'000;
  o.max_attempts = 1'000'000;
  o.first_backoff = milliseconds(20);
  o.max_backoff = milliseconds(1'000);
  strata::Inbox inbox(**store, (*store)->projection_storage(), **transport, o);
  inbox.on<Deposited>([&](const Deposited& d, strata::InboxContext& ctx) -> strata::Status {
    const std::string account(ctx.message().headers.get(strata::headers::kStream));
    const std::uint64_t version = std::stoull(std::string(ctx.message().headers.get(strata::headers::kVersion)));
    STRATA_ASSIGN_OR_RETURN(Ledger l, ledgers.load_or_create(strata::StreamId::parse("ledger-" + account).value()));
    l.credit(d.k, version);
    return ctx.save(ledgers, l).status();
  });
  if (auto s = inbox.start(); !s.ok()) die(s, "start inbox");
  for (;;) {
    std::this_thread::sleep_for(milliseconds(100));
    write_status(status_file, std::to_string((*store)->head_position().value()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 6 && args[0] == "produce") return produce(args[1], args[2], args[3], std::stoll(args[4]), args[5]);
  if (args.size() == 5 && args[0] == "consume") return consume(args[1], args[2], args[3], args[4]);
  std::fprintf(stderr, "usage: chaos_service produce DIR URLS PREFIX TOTAL STATUS | consume DIR URLS PREFIX STATUS\n");
  return 2;
}
