// The second process of the PostgreSQL multi-process tests: opens a PgEventStore on a schema and appends
// from several threads, then prints "appended <events>" and exits 0 (1 on any failed append).
//
//   strata_pg_writer_child URL SCHEMA WRITERS APPENDS_PER_WRITER hot|spread TAG
//
// hot: every append goes to stream hot-1 (expected version any). spread: appends rotate over 1,000
// streams spread-<n>. TAG keeps two children's streams apart where needed (it is in no stream name used
// by both).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "strata/pgstore/pg_event_store.h"

int main(int argc, char** argv) {
  using namespace strata;
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s URL SCHEMA WRITERS APPENDS_PER_WRITER hot|spread TAG\n", argv[0]);
    return 2;
  }
  PgEventStore::Options o;
  o.conninfo = argv[1];
  o.schema = argv[2];
  const int writers = std::atoi(argv[3]), per = std::atoi(argv[4]);
  const bool hot = std::string(argv[5]) == "hot";
  auto store = PgEventStore::open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
    return 1;
  }
  std::atomic<int> failed{0};
  std::atomic<long> events{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per; ++i) {
        const std::string stream = hot ? "hot-1" : "spread-" + std::to_string((w * per + i) % 1000);
        std::vector<EventData> batch{
            EventData{EventId::generate(),
                      "test.appended.v1",
                      R"({"writer":)" + std::to_string(w) + R"(,"i":)" + std::to_string(i) + "}",
                      {}}};
        auto r = (*store)->append(StreamId::parse(stream).value(), ExpectedVersion::any(), batch);
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().to_string().c_str());
          ++failed;
          return;
        }
        events += 1;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("appended %ld\n", events.load());
  return failed.load() == 0 ? 0 : 1;
}
