// The child process of the projection crash test.
//
//   strata_projection_crash_child <directory> <seed> <sync 0|1>
//     Opens the store, starts a Projector running the ledger projection (tests/projections/ledger.h) over
//     it with the store's RocksDB projection storage, resuming from its checkpoint, and appends ledger
//     events from one thread until killed, so that the projector commits batches while appends go on.
//     Prints "ready" once the projector has started and the first append is acknowledged.
//
// Exit status 2 and a message on standard error when the store or the projector fails.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ledger.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projector.h"

namespace {

[[noreturn]] void fail(const strata::Status& s) {
  std::fprintf(stderr, "projection_crash_child: %s\n", s.to_string().c_str());
  std::fflush(stderr);
  std::_Exit(2);  // no static destructors under the projector's thread
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: strata_projection_crash_child <directory> <seed> <sync 0|1>\n");
    return 2;
  }
  strata::RocksEventStore::Options options;
  options.sync = std::string(argv[3]) == "1";
  options.block_cache_bytes = std::size_t{8} << 20;
  auto opened = strata::RocksEventStore::open(options, argv[1]);
  if (!opened.ok()) fail(opened.status());
  auto store = std::move(*opened);

  strata::ProjectorOptions projector_options;
  projector_options.batch_size = 50;  // many commits per run, so that the kill often lands inside one
  strata::Projector projector(*store, store->projection_storage(), ledger::Ledger{}, projector_options);
  if (auto s = projector.start(); !s.ok()) fail(s);

  std::mt19937 rng(static_cast<unsigned>(std::stoul(argv[2])));
  for (std::uint64_t i = 0;; ++i) {
    const std::string stream = "ledger-" + std::to_string(rng() % 12);
    std::vector<strata::EventData> events;
    const std::size_t n = rng() % 8 == 0 ? 2 + rng() % 20 : 1;  // mostly one event, sometimes several
    for (std::size_t k = 0; k < n; ++k) {
      const unsigned kind = rng() % 10;
      if (kind == 0)
        events.push_back(strata::to_event_data(ledger::Opened{"owner of " + stream}));
      else if (kind == 1)
        events.push_back(strata::to_event_data(ledger::Noted{"note " + std::to_string(i)}));
      else if (kind < 5)
        events.push_back(strata::to_event_data(ledger::Debited{static_cast<std::int64_t>(rng() % 50 + 1)}));
      else
        events.push_back(strata::to_event_data(ledger::Credited{static_cast<std::int64_t>(rng() % 100 + 1), false}));
    }
    auto r = store->append(ledger::sid(stream), strata::ExpectedVersion::any(), events);
    if (!r.ok()) fail(r.status());
    if (i == 0) {
      std::printf("ready\n");
      std::fflush(stdout);
    }
    if (projector.status().state == strata::ProjectorState::kFailed) fail(projector.status().error);
  }
}
