// streaming: the streaming-service showcase. A $50M studio deal, and three more that go wrong in the
// ways payments do, activated across three services — contracts, payments and catalog — that share no
// database and talk through a broker only. See showcase.h for the modes and scenario.h for the story.
//
//   streaming in-process [--data DIR] [--trace CORRELATION_ID]
//   streaming contracts|payments|catalog DIR URLS PREFIX
//   streaming report DIR
//   streaming trace DIR CORRELATION_ID
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "streaming/showcase.h"

namespace {

int usage() {
  std::fputs(
      "usage: streaming in-process [--data DIR] [--trace CORRELATION_ID]\n"
      "       streaming contracts|payments|catalog DIR URLS PREFIX\n"
      "       streaming report DIR\n"
      "       streaming trace DIR CORRELATION_ID\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  const std::string& mode = args[0];

  if (mode == "in-process") {
    streaming::InProcessOptions options;
    for (std::size_t i = 1; i < args.size(); i += 2) {
      if (i + 1 >= args.size()) return usage();
      if (args[i] == "--data") {
        options.data = args[i + 1];
      } else if (args[i] == "--trace") {
        options.trace = args[i + 1];
      } else {
        return usage();
      }
    }
    return streaming::run_in_process(options);
  }
  if ((mode == "contracts" || mode == "payments" || mode == "catalog") && args.size() == 4)
    return streaming::run_service(mode, args[1], args[2], args[3]);
  if (mode == "report" && args.size() == 2) return streaming::run_report(args[1]);
  if (mode == "trace" && args.size() == 3) return streaming::run_trace(args[1], args[2]);
  return usage();
}
