// streaming: the streaming-service showcase. A $50M studio deal, and three more that go wrong in the
// ways payments do, activated across three services — contracts, payments and catalog — that share no
// database and talk through a broker only. See showcase.h for the modes and scenario.h for the story.
//
//   streaming in-process [--data DIR] [--trace CORRELATION_ID]
//   streaming contracts|payments|catalog DIR URLS PREFIX [--chaos DEALS [--seed S] [--rate R]]
//   streaming report DIR
//   streaming trace DIR CORRELATION_ID
//   streaming audit DIR [--deals N [--seed S]]
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "streaming/showcase.h"

namespace {

int usage() {
  std::fputs(
      "usage: streaming in-process [--data DIR] [--trace CORRELATION_ID]\n"
      "       streaming contracts|payments|catalog DIR URLS PREFIX [--chaos DEALS [--seed S] [--rate R]]\n"
      "       streaming report DIR\n"
      "       streaming trace DIR CORRELATION_ID\n"
      "       streaming audit DIR [--deals N [--seed S]]\n",
      stderr);
  return 2;
}

// "--name value" pairs from args[first] on, into `out`; false for anything else.
bool options(const std::vector<std::string>& args, std::size_t first, std::map<std::string, std::string>& out) {
  for (std::size_t i = first; i < args.size(); i += 2) {
    if (i + 1 >= args.size() || !args[i].starts_with("--")) return false;
    out[args[i].substr(2)] = args[i + 1];
  }
  return true;
}

// A whole number in [low, high] or nothing.
std::optional<std::uint64_t> number(const std::string& text, std::uint64_t low, std::uint64_t high) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) return std::nullopt;
  return value;
}

// --deals/--chaos N and --seed S; nullopt (after a message) when one is malformed.
std::optional<streaming::ChaosOptions> chaos_options(const std::map<std::string, std::string>& given,
                                                     const std::string& deals_flag) {
  streaming::ChaosOptions o;
  auto deals = number(given.at(deals_flag), 1, 100'000);
  auto seed = given.contains("seed") ? number(given.at("seed"), 0, 0xffffffffu) : std::optional<std::uint64_t>(1);
  if (!deals) {
    std::fprintf(stderr, "streaming: --%s wants 1 to 100000 deals\n", deals_flag.c_str());
    return std::nullopt;
  }
  if (!seed) {
    std::fputs("streaming: --seed wants a number below 2^32\n", stderr);
    return std::nullopt;
  }
  o.deals = *deals;
  o.seed = static_cast<std::uint32_t>(*seed);
  return o;
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
  if ((mode == "contracts" || mode == "payments" || mode == "catalog") && args.size() >= 4) {
    std::map<std::string, std::string> given;
    if (!options(args, 4, given)) return usage();
    std::optional<streaming::ChaosRun> chaos;
    if (given.contains("chaos")) {
      auto plan = chaos_options(given, "chaos");
      if (!plan) return 2;
      chaos = streaming::ChaosRun{*plan, 50};
      if (given.contains("rate")) {
        auto rate = number(given.at("rate"), 1, 10'000);
        if (!rate) return usage();
        chaos->rate = static_cast<double>(*rate);
      }
    } else if (!given.empty()) {
      return usage();
    }
    return streaming::run_service(mode, args[1], args[2], args[3], chaos);
  }
  if (mode == "audit" && args.size() >= 2) {
    std::map<std::string, std::string> given;
    if (!options(args, 2, given)) return usage();
    std::optional<streaming::ChaosOptions> plan;
    if (given.contains("deals")) {
      plan = chaos_options(given, "deals");
      if (!plan) return 2;
    }
    return streaming::run_audit(args[1], plan);
  }
  if (mode == "report" && args.size() == 2) return streaming::run_report(args[1]);
  if (mode == "trace" && args.size() == 3) return streaming::run_trace(args[1], args[2]);
  return usage();
}
