// The child process of the crash and second-open tests.
//
//   strata_crash_writer append <directory> <seed> <sync 0|1>
//     Opens the store and appends from four threads until killed. After each acknowledged append it
//     prints one line, "ack <tag> <stream> <first position> <last position> <stream version> <events>",
//     and flushes it, so that every line the parent reads is an acknowledged append. Each event's payload
//     names its append's tag and size, so that the parent can tell a whole append from a partial one.
//
//   strata_crash_writer hold <directory>
//     Opens the store, prints "ready", and keeps it open until its standard input is closed.
//
//   strata_crash_writer fill <directory> <events> <write buffer bytes>
//     Opens the store with small write buffers (so that some column families flush while others do
//     not, over several write-ahead logs), appends <events> one-event appends, each to a new stream,
//     prints "done" and waits, without closing the store, until killed: the parent's image of a store
//     that was not closed cleanly.
//
// Exit status 2 and a message on standard error when the store fails.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "strata/eventstore/rocks_event_store.h"

namespace {

int fail(const strata::Status& s) {
  std::fprintf(stderr, "crash_writer: %s\n", s.to_string().c_str());
  std::fflush(stderr);
  return 2;
}

int append_forever(const std::string& dir, unsigned seed, bool sync) {
  strata::RocksEventStore::Options options;
  options.sync = sync;
  options.block_cache_bytes = std::size_t{8} << 20;
  auto opened = strata::RocksEventStore::open(options, dir);
  if (!opened.ok()) return fail(opened.status());
  auto store = std::move(*opened);
  std::mutex out;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed * 31 + t);
      for (unsigned i = 0;; ++i) {
        const std::string tag = std::to_string(seed) + "." + std::to_string(t) + "." + std::to_string(i);
        const std::string stream = "crash-" + std::to_string(rng() % 8);
        // Mostly small appends (copies), sometimes large ones (runs), see FORMAT.md.
        const std::size_t n = rng() % 4 == 0 ? 16 + rng() % 40 : 1 + rng() % 5;
        std::vector<strata::EventData> events;
        for (std::size_t k = 0; k < n; ++k)
          events.push_back(strata::EventData{
              strata::EventId::generate(),
              "test.crash.v1",
              "{\"append\":\"" + tag + "\",\"i\":" + std::to_string(k) + ",\"of\":" + std::to_string(n) + "}",
              {}});
        auto r = store->append(strata::StreamId::parse(stream).value(), strata::ExpectedVersion::any(), events);
        if (!r.ok()) std::_Exit(fail(r.status()));  // no static destructors under running threads
        std::lock_guard lock(out);
        std::printf("ack %s %s %llu %llu %llu %zu\n", tag.c_str(), stream.c_str(),
                    static_cast<unsigned long long>(r->first_position.value()),
                    static_cast<unsigned long long>(r->last_position.value()),
                    static_cast<unsigned long long>(r->stream_version.value()), n);
        std::fflush(stdout);
      }
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}

int hold(const std::string& dir) {
  strata::RocksEventStore::Options options;
  options.block_cache_bytes = std::size_t{8} << 20;
  auto opened = strata::RocksEventStore::open(options, dir);
  if (!opened.ok()) return fail(opened.status());
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

int fill(const std::string& dir, std::size_t events, std::size_t write_buffer_bytes) {
  strata::RocksEventStore::Options options;
  options.sync = false;
  options.block_cache_bytes = std::size_t{8} << 20;
  options.write_buffer_bytes = write_buffer_bytes;
  auto opened = strata::RocksEventStore::open(options, dir);
  if (!opened.ok()) return fail(opened.status());
  auto store = std::move(*opened);
  for (std::size_t i = 0; i < events; ++i) {
    const std::vector<strata::EventData> batch{
        strata::EventData{strata::EventId::generate(),
                          "test.fill.v1",
                          "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(100, 'x') + "\"}",
                          {}}};
    auto r = store->append(strata::StreamId::parse("fill-" + std::to_string(i)).value(),
                           strata::ExpectedVersion::no_stream(), batch);
    if (!r.ok()) std::_Exit(fail(r.status()));
  }
  std::printf("done\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  std::_Exit(0);  // never closes the store cleanly
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "append") return append_forever(args[1], std::stoul(args[2]), args[3] == "1");
  if (args.size() == 2 && args[0] == "hold") return hold(args[1]);
  if (args.size() == 4 && args[0] == "fill") return fill(args[1], std::stoul(args[2]), std::stoul(args[3]));
  std::fprintf(stderr,
               "usage: strata_crash_writer append <dir> <seed> <sync 0|1> | hold <dir> | fill <dir> <events> "
               "<write buffer bytes>\n");
  return 1;
}
