// The NATS cluster the tests labelled nats run against: started by the CTest fixture nats.start
// (scripts/nats.sh) in $STRATA_NATS_DIR. A test can kill and restart its nodes to play a broker in
// trouble.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace strata::testing {

class NatsCluster {
 public:
  // The cluster of $STRATA_NATS_DIR; fails the test when there is none.
  static NatsCluster from_environment() {
    const char* dir = std::getenv("STRATA_NATS_DIR");
    REQUIRE_MESSAGE(dir != nullptr, "STRATA_NATS_DIR is not set: run these tests through ctest (fixture nats.start)");
    NatsCluster c;
    c.dir_ = dir;
    std::ifstream urls(c.dir_ + "/urls");
    std::string line;
    REQUIRE_MESSAGE(std::getline(urls, line), "no NATS cluster in " << c.dir_);
    std::stringstream all(line);
    for (std::string url; std::getline(all, url, ',');) c.servers_.push_back(url);
    return c;
  }

  const std::vector<std::string>& servers() const { return servers_; }
  std::size_t nodes() const { return servers_.size(); }
  // kill -9 node `n` (1-based).
  void kill(int n) const { run("kill", n); }
  // Stops node `n` gracefully.
  void stop(int n) const { run("term", n); }
  // Starts node `n` again and waits until it is healthy.
  void restart(int n) const { run("restart", n); }
  // Starts every node that is not running, and waits until all are healthy.
  void heal() const {
    const std::string command = std::string(STRATA_NATS_SCRIPT) + " heal '" + dir_ + "'";
    REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "failed: " << command);
  }

 private:
  void run(const char* verb, int n) const {
    const std::string command = std::string(STRATA_NATS_SCRIPT) + " " + verb + " '" + dir_ + "' " + std::to_string(n);
    REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "failed: " << command);
  }
  std::string dir_;
  std::vector<std::string> servers_;
};

}  // namespace strata::testing
