// The admin server over HTTP: every endpoint, the refusals of changes (no token, a wrong token, another
// origin), retry and skip with the token, loopback only unless allowed, and an event payload full of
// markup that never reaches the page as HTML.
#include "strata/tools/admin_server.h"

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <string>
#include <thread>

#include "ledger.h"
#include "prometheus_text.h"
#include "strata/core/json.h"
#include "strata/projections/projector.h"

namespace {

using namespace strata;
namespace fs = std::filesystem;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string csp;
  std::string body;
};

Reply request(std::uint16_t port, http::verb method, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  boost::asio::io_context io;
  tcp::resolver resolver(io);
  boost::beast::tcp_stream stream(io);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  boost::beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
          std::string(res["Content-Security-Policy"]), res.body()};
}

Reply get(std::uint16_t port, const std::string& target) { return request(port, http::verb::get, target); }

// A store with the ledger projection running (one poison credit parked), an event whose payload is
// markup, a metrics registry, and an admin server on a free loopback port, served by a thread.
struct Fixture {
  std::string dir;
  std::shared_ptr<MetricsRegistry> metrics = std::make_shared<MetricsRegistry>();
  ledger::Faults faults;
  std::unique_ptr<RocksEventStore> store;
  std::unique_ptr<Projector> projector;
  boost::asio::io_context io;
  std::unique_ptr<tools::AdminServer> server;
  std::thread thread;

  explicit Fixture(std::string token) {
    dir = (fs::temp_directory_path() / "strata-admin-XXXXXX").string();
    REQUIRE(mkdtemp(dir.data()) != nullptr);
    RocksEventStore::Options options;
    options.sync = false;
    options.metrics = metrics;
    store = RocksEventStore::open(options, dir).value();
    ledger::append_history(*store, 20, 2);
    ledger::append(*store, "ledger-1", ledger::Credited{9, true});
    ledger::append(*store, "markup-1", ledger::Opened{"<script>alert(\"owned\")</script>' & \"quotes\" </td>"});
    ProjectorOptions po;
    po.errors.max_attempts = 1;
    po.metrics = metrics;
    projector = std::make_unique<Projector>(*store, store->projection_storage(), ledger::Ledger(&faults), po);
    REQUIRE(projector->start().ok());
    REQUIRE(projector->wait_for(store->head_position(), std::chrono::seconds(20)).ok());
    tools::AdminOptions admin;
    admin.token = std::move(token);
    admin.metrics = metrics;
    server = std::make_unique<tools::AdminServer>(io.get_executor(), *store, admin);
    server->add_projector(*projector);
    REQUIRE(server->start().ok());
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~Fixture() {
    server->stop();
    io.stop();
    thread.join();
    server.reset();
    projector.reset();
    store.reset();
    fs::remove_all(dir);
  }
  std::uint16_t port() const { return server->port(); }
};

TEST_CASE("the admin server's endpoints answer from the store, the projectors and the metrics") {
  Fixture f("");
  CHECK(get(f.port(), "/healthz").body == "ok\n");
  Reply metrics = get(f.port(), "/metrics");
  CHECK(metrics.content_type == "text/plain; version=0.0.4; charset=utf-8");
  const auto e = testing::parse_prometheus(metrics.body);
  CHECK_MESSAGE(e.error.empty(), e.error);
  CHECK(e.value("strata_store_head_position", {{"store", f.dir}}) == 22);
  CHECK(e.value("strata_projector_parked_total", {{"projection", "test.ledger"}}) == 1);

  Reply overview = get(f.port(), "/api/overview");
  CHECK(overview.status == 200);
  CHECK(overview.content_type == "application/json");
  CHECK(json::validate_object(overview.body, Limits{}).ok());
  CHECK(overview.body.find(R"("head":22)") != std::string::npos);
  CHECK(get(f.port(), "/api/streams").body.find(R"({"stream":"ledger-0","head":10})") != std::string::npos);
  CHECK(get(f.port(), "/api/streams/ledger-1?count=1").body.find(R"("position":2,"stream":"ledger-1","version":1)") !=
        std::string::npos);
  CHECK(get(f.port(), "/api/streams/not%20valid").status == 400);
  CHECK(get(f.port(), "/api/events/3").body.find(R"("position":3,)") != std::string::npos);
  CHECK(get(f.port(), "/api/events/99").status == 404);
  CHECK(get(f.port(), "/api/events/zero").status == 400);
  CHECK(get(f.port(), "/api/log?from=21&count=5").body.find(R"("next":23)") != std::string::npos);
  Reply projections = get(f.port(), "/api/projections");
  CHECK(projections.body.find(R"("name":"test.ledger","generation":1,"position":22,"lag_events":0)") !=
        std::string::npos);
  CHECK(projections.body.find(R"("parked":1,"state":"live")") != std::string::npos);
  CHECK(get(f.port(), "/api/projections/test.ledger/parked").body.find(R"("position":21,"stream":"ledger-1")") !=
        std::string::npos);
  CHECK(get(f.port(), "/api/projections/nobody/parked").status == 404);
  CHECK(get(f.port(), "/nowhere").status == 404);
  CHECK(request(f.port(), http::verb::delete_, "/api/overview").status == 405);

  // The page and its script and style, which load nothing from elsewhere.
  Reply page = get(f.port(), "/");
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.csp.find("default-src 'none'; script-src 'self'") != std::string::npos);
  CHECK(page.body.find(R"(<script src="/app.js" defer></script>)") != std::string::npos);
  CHECK(page.body.find("http") == std::string::npos);
  CHECK(get(f.port(), "/app.js").content_type == "text/javascript; charset=utf-8");
  CHECK(get(f.port(), "/app.js").body.find("innerHTML") == std::string::npos);
  CHECK(get(f.port(), "/app.css").status == 200);
}

TEST_CASE("markup in an event reaches the page only as JSON text") {
  Fixture f("");
  const std::string owner = "<script>alert(\"owned\")</script>' & \"quotes\" </td>";
  Reply events = get(f.port(), "/api/streams/markup-1");
  CHECK(events.content_type == "application/json");
  REQUIRE(json::validate_object(events.body, Limits{}).ok());
  // The payload is in the JSON as a JSON string, and reads back as it was written.
  std::string read_back;
  REQUIRE(json::read(events.body, Limits{}, [&](json::Value& root) {
            return root.for_each_field([&](std::string_view key, json::Value& v) -> Status {
              if (key != "events") return {};
              return v.for_each_element([&](json::Value& event) {
                return event.for_each_field([&](std::string_view k, json::Value& x) -> Status {
                  if (k != "payload") return {};
                  return x.for_each_field([&](std::string_view field, json::Value& y) -> Status {
                    return field == "owner" ? y.get(read_back) : Status();
                  });
                });
              });
            });
          }).ok());
  CHECK(read_back == owner);
  // Nothing the store holds is in the page or its script: they take every value from the API as text.
  for (const char* asset : {"/", "/app.js"}) CHECK(get(f.port(), asset).body.find("owned") == std::string::npos);
}

TEST_CASE("changes need the token and this server's origin, and a server without a token takes none") {
  {
    Fixture f("");
    CHECK(request(f.port(), http::verb::post, "/api/projections/test.ledger/parked/21/skip").status == 403);
    CHECK(request(f.port(), http::verb::post, "/api/projections/test.ledger/parked/21/skip",
                  {{"Authorization", "Bearer "}})
              .status == 403);
  }
  Fixture f("s3cret");
  const std::string skip = "/api/projections/test.ledger/parked/21/skip";
  const std::string retry = "/api/projections/test.ledger/parked/21/retry";
  CHECK(request(f.port(), http::verb::post, retry).status == 401);
  CHECK(request(f.port(), http::verb::post, retry, {{"Authorization", "Bearer wrong"}}).status == 401);
  CHECK(request(f.port(), http::verb::post, retry,
                {{"Authorization", "Bearer s3cret"}, {"Origin", "http://evil.example"}})
            .status == 403);
  CHECK(request(f.port(), http::verb::get, retry).status == 404);  // a GET changes nothing
  CHECK(f.projector->parked().value().size() == 1);

  // Retry while the handler still fails: the error comes back, the event stays parked.
  f.faults.poison_fails = true;
  Reply failed = request(f.port(), http::verb::post, retry, {{"Authorization", "Bearer s3cret"}});
  CHECK(failed.status == 500);
  CHECK(failed.body.find("poison credit refused") != std::string::npos);
  f.faults.poison_fails = false;
  const std::string origin = "http://127.0.0.1:" + std::to_string(f.port());
  Reply retried = request(f.port(), http::verb::post, retry, {{"Authorization", "Bearer s3cret"}, {"Origin", origin}});
  CHECK(retried.status == 200);
  CHECK(retried.body == R"({"done":"retry","projection":"test.ledger","position":21})");
  CHECK(f.projector->parked().value().empty());
  CHECK(request(f.port(), http::verb::post, skip, {{"Authorization", "Bearer s3cret"}}).status == 404);
}

TEST_CASE("the admin server listens on loopback unless a remote address is allowed") {
  std::string dir = (fs::temp_directory_path() / "strata-admin-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  {
    RocksEventStore::Options options;
    options.sync = false;
    auto store = RocksEventStore::open(options, dir).value();
    boost::asio::io_context io;
    tools::AdminOptions remote;
    remote.address = "0.0.0.0";
    tools::AdminServer refused(io.get_executor(), *store, remote);
    Status s = refused.start();
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("not a loopback address") != std::string::npos);
    remote.allow_remote = true;
    tools::AdminServer allowed(io.get_executor(), *store, remote);
    CHECK(allowed.start().ok());
    tools::AdminOptions bad;
    bad.address = "localhost:80";
    CHECK(tools::AdminServer(io.get_executor(), *store, bad).start().code() == StatusCode::kInvalidArgument);
  }
  fs::remove_all(dir);
}

}  // namespace
