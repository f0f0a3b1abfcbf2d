// One process owns a store directory: another process opening it gets a clear error, not a corrupted
// store, and can open it once the first has closed it.
#include <doctest/doctest.h>

#include <string>

#include "child_process.h"
#include "rocks_test_support.h"

TEST_CASE("a second process opening a directory in use gets kUnavailable naming the store") {
  using namespace strata;
  testing::TempDir dir;
  testing::ChildProcess holder({STRATA_CRASH_WRITER, "hold", dir.path()});
  std::string output;
  const auto give_up = testing::ChildProcess::Clock::now() + std::chrono::seconds(20);
  while (output.find("ready\n") == std::string::npos && testing::ChildProcess::Clock::now() < give_up)
    if (!holder.read_until(testing::ChildProcess::Clock::now() + std::chrono::milliseconds(10), output)) break;
  REQUIRE(output == "ready\n");

  auto second = RocksEventStore::open(testing::test_options(), dir.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kUnavailable);
  CHECK(second.status().message() ==
        "event store \"" + dir.path() +
            "\" is in use: another process, or another open RocksEventStore in this process, holds its lock; close "
            "that one first (or read it through the application that holds it)");

  holder.close_stdin();
  const int status = holder.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(RocksEventStore::open(testing::test_options(), dir.path()).ok());
}
