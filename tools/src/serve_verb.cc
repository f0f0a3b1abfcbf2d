// `strata serve STORE`: the admin server (admin_server.h) over a store, until interrupted. It opens the
// store for writing when it can, and with the application's projections (CommandOptions::projections)
// runs them, so that the page can retry and skip their parked events; when another process holds the
// store, it serves it read-only.
#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <list>

#include "strata/projections/projector.h"
#include "strata/tools/admin_server.h"
#include "verbs.h"

namespace strata::tools {

namespace {

struct ServeArgs {
  std::string store;
  std::string address = "127.0.0.1";
  std::uint16_t port = 8321;
  std::string token;
  bool allow_remote = false;
  double stop_after_seconds = 0;
};

int serve_verb(const Context& c, const ServeArgs& a) {
  auto metrics = std::make_shared<MetricsRegistry>();
  RocksEventStore::Options options = c.options.store;
  options.create_if_missing = false;
  options.metrics = metrics;
  options.rocksdb_statistics = true;  // an operator's view: the block cache's hits too
  auto store = RocksEventStore::open(options, a.store);
  bool read_only = false;
  if (!store.ok() && store.status().code() == StatusCode::kUnavailable) {
    store = RocksEventStore::open_read_only(options, a.store);
    read_only = true;
  }
  if (!store.ok()) return fail(c, store.status());
  boost::asio::io_context io;
  std::list<Projector> projectors;
  AdminOptions admin;
  admin.address = a.address;
  admin.port = a.port;
  admin.token = a.token;
  admin.allow_remote = a.allow_remote;
  admin.metrics = metrics;
  AdminServer server(io.get_executor(), **store, admin);
  if (!read_only)
    for (const auto& [name, make] : c.options.projections) {
      ProjectorOptions po;
      po.metrics = metrics;
      Projector& p = projectors.emplace_back(**store, (*store)->projection_storage(), make(), po);
      if (Status s = p.start(); !s.ok()) return fail(c, s);
      server.add_projector(p);
    }
  if (Status s = server.start(); !s.ok()) return fail(c, s);
  c.out << fmt::format("admin page of {} on http://{}:{}/{}{}\n", a.store, a.address, server.port(),
                       read_only ? " (read-only: another process holds the store)" : "",
                       a.token.empty() ? " (no token: read-only)" : "");
  c.out.flush();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  boost::asio::steady_timer timer(io);
  if (a.stop_after_seconds > 0) {
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(a.stop_after_seconds)));
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) io.stop();
    });
  }
  io.run();
  server.stop();
  for (auto& p : projectors) (void)p.stop();
  return 0;
}

}  // namespace

void add_serve_verb(CLI::App& app, Context& c, Action& action) {
  auto [a, s] = verb<ServeArgs>(app, action, "serve",
                                "Serve the admin page (store, streams, events, projections, parked events, "
                                "/metrics, /healthz) until interrupted",
                                [&c](const ServeArgs& x) { return serve_verb(c, x); });
  s->add_option("STORE", a->store, "The store's directory")->required();
  s->add_option("--address", a->address, "The address to listen on")->capture_default_str();
  s->add_option("--port", a->port, "The port (0: any free one)")->capture_default_str();
  s->add_option("--token", a->token, "Allow retry and skip with this bearer token (without: read-only)");
  s->add_flag("--allow-remote", a->allow_remote, "Allow an address that is not loopback");
  s->add_option("--stop-after", a->stop_after_seconds, "Stop after this many seconds");
}

}  // namespace strata::tools
