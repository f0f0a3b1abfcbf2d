// Exactly-once projection across crashes, with real processes: a child runs a Projector over a
// RocksEventStore and its RocksDB projection storage while it appends (projection_crash_child.cc); the
// parent kill -9s it at a random moment, reopens the store, and checks that the read model is the fold of
// the log up to the stored checkpoint (no event of the last batch applied without the checkpoint, none
// applied twice), then resumes the projector from that checkpoint and checks that the read model is the
// fold of the whole log. Over many cycles on one store, with and without fsync.
#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <string>

#include "child_process.h"
#include "ledger.h"
#include "rocks_test_support.h"
#include "strata/projections/projector.h"

TEST_CASE("a projector killed at random moments resumes from its checkpoint with every event applied exactly once") {
  using namespace strata;
  testing::TempDir dir;
  const std::string store_path = dir.sub("store");
  std::mt19937 rng(20261123);
  constexpr int kCycles = 24;
  int cycles_with_progress = 0;
  Position resumed_from = 0;  // the checkpoint the child started from
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    {
      testing::ChildProcess child(
          {STRATA_PROJECTION_CRASH_CHILD, store_path, std::to_string(cycle + 1), cycle % 2 == 0 ? "1" : "0"});
      std::string output;
      const auto give_up = testing::ChildProcess::Clock::now() + std::chrono::seconds(20);
      while (output.find('\n') == std::string::npos && testing::ChildProcess::Clock::now() < give_up)
        if (!child.read_until(testing::ChildProcess::Clock::now() + std::chrono::milliseconds(10), output)) break;
      REQUIRE_MESSAGE(output == "ready\n", "the child did not start: ", output);
      child.read_until(testing::ChildProcess::Clock::now() + std::chrono::milliseconds(20 + rng() % 300), output);
      child.kill_hard();
      const int status = child.wait();
      REQUIRE_MESSAGE(WIFSIGNALED(status), "the child exited by itself (status ", status, ")");
    }

    auto store = testing::open_store(store_path);
    ProjectionStorage& storage = store->projection_storage();
    auto state = storage.load_state(ledger::Ledger::kName).value();
    REQUIRE(state.has_value());
    // What the child committed last: its rows and its checkpoint together, or neither.
    CHECK(ledger::render(ReadModelReader(storage, ledger::Ledger::kName)) ==
          ledger::fold(*store, 1, state->checkpoint));
    if (state->checkpoint > resumed_from) ++cycles_with_progress;

    // Restart: the projector resumes from the checkpoint and applies the rest once.
    Projector projector(*store, storage, ledger::Ledger{});
    REQUIRE(projector.start().ok());
    REQUIRE(projector.drain(std::chrono::seconds(30)).ok());
    CHECK(projector.status().position == store->head_position());
    CHECK(ledger::render(projector.reader()) == ledger::fold(*store));
    resumed_from = projector.status().position;
  }
  // The kills must have landed while the child's projector was committing, or the test proves nothing.
  CHECK(cycles_with_progress >= kCycles / 2);
  MESSAGE(cycles_with_progress, " of ", kCycles, " cycles killed a projector that had committed; ", resumed_from,
          " events in the log");
}
