// AdminServer: a small HTTP server an application embeds (and `strata serve` runs) to look inside its
// store from a browser: an overview, a stream browser and event viewer, projections with their lag
// over the last minutes, parked events with retry and skip, /metrics and /healthz. Boost.Beast on the
// application's Asio executor.
//
//   strata::tools::AdminOptions options;                 // 127.0.0.1, a free port, read-only
//   options.token = read_secret();                       // enables retry and skip (POST)
//   options.metrics = metrics;                           // serves /metrics
//   strata::tools::AdminServer admin(io.get_executor(), *store, options);
//   admin.add_projector(balances);                       // live status, retry and skip of its events
//   STRATA_RETURN_IF_ERROR(admin.start());               // admin.port() once started
//
// Security: it binds 127.0.0.1 unless told otherwise, and refuses an address that is not loopback unless
// AdminOptions::allow_remote. Without a token it only reads: every POST is refused (403). With one,
// each change is a POST carrying "Authorization: Bearer <token>" whose Origin, when the browser sends
// one, is the server's own. The page takes every value from the JSON API and sets it as text, so no
// event payload, stream id or error is ever read as HTML.
//
// Thread safety: start(), stop() and add_projector() from any thread; requests are served on the
// executor. REQUIRES: the store and every added projector outlive the server (or its stop()).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "strata/core/metrics.h"
#include "strata/core/status.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projector.h"

namespace strata::tools {

struct AdminOptions {
  // The address to listen on: loopback unless allow_remote.
  std::string address = "127.0.0.1";
  // 0: any free port (see AdminServer::port()).
  std::uint16_t port = 0;
  bool allow_remote = false;
  // Empty: read-only. Otherwise the bearer token every POST must carry.
  std::string token;
  // Served at /metrics (404 when empty).
  std::shared_ptr<MetricsRegistry> metrics;
};

class AdminServer {
 public:
  AdminServer(boost::asio::any_io_executor executor, RocksEventStore& store, AdminOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Shows `projector`'s live status and lets the page retry and skip its parked events.
  void add_projector(Projector& projector);

  // Listens. kInvalidArgument for a bad address, or one that is not loopback without allow_remote;
  // kIOError when it cannot bind.
  [[nodiscard]] Status start();
  // Stops listening; requests under way finish.
  void stop();
  // The port it listens on, once started.
  std::uint16_t port() const noexcept;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata::tools
