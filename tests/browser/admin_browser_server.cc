// The server the browser test drives (tests/browser/admin_page.mjs): a store in a new temporary
// directory with the ledger projection running (one poison credit parked, its handler failing until the
// first retry) and an event whose payload is markup, served by AdminServer with the token "browser-test"
// on a free loopback port. Prints "port <n>" and serves until SIGTERM or SIGINT.
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>

#include "ledger.h"
#include "strata/projections/projector.h"
#include "strata/tools/admin_server.h"

int main() {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "strata-browser-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return 1;
  int status = 0;
  {
    auto metrics = std::make_shared<strata::MetricsRegistry>();
    strata::RocksEventStore::Options options;
    options.sync = false;
    options.metrics = metrics;
    auto store = strata::RocksEventStore::open(options, dir).value();
    ledger::append_history(*store, 40, 3);
    ledger::append(*store, "ledger-1", ledger::Credited{9, true});
    ledger::append(*store, "markup-1", ledger::Opened{"<img src=x onerror=alert(1)><script>alert(\"owned\")</script>"});
    ledger::Faults faults;
    strata::ProjectorOptions po;
    po.errors.max_attempts = 1;
    po.metrics = metrics;
    strata::Projector projector(*store, store->projection_storage(), ledger::Ledger(&faults), po);
    if (!projector.start().ok() || !projector.wait_for(store->head_position(), std::chrono::seconds(20)).ok()) return 1;
    faults.poison_fails = false;  // the page's retry will succeed

    boost::asio::io_context io;
    strata::tools::AdminOptions admin;
    admin.token = "browser-test";
    admin.metrics = metrics;
    strata::tools::AdminServer server(io.get_executor(), *store, admin);
    server.add_projector(projector);
    if (!server.start().ok()) return 1;
    std::printf("port %u\n", server.port());
    std::fflush(stdout);
    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    io.run();
    server.stop();
    status = projector.stop().ok() ? 0 : 1;
  }
  fs::remove_all(dir);
  return status;
}
