// AdminServer (admin_server.h): Boost.Beast over the application's executor. Each connection is a
// session reading requests and writing responses, one at a time; the routes answer with JSON built by
// admin_api.cc, the page (admin_page.cc), /metrics and /healthz.
#include "strata/tools/admin_server.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <vector>

#include "admin_api.h"

namespace strata::tools {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class AdminServer::Impl : public std::enable_shared_from_this<AdminServer::Impl> {
 public:
  Impl(asio::any_io_executor executor, RocksEventStore& store, AdminOptions options)
      : executor_(std::move(executor)),
        acceptor_(executor_),
        api_(store, options.metrics),
        options_(std::move(options)) {}

  Status start() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.address, ec);
    if (ec) return Status::invalid_argument(fmt::format("admin server: \"{}\" is not an IP address", options_.address));
    if (!address.is_loopback() && !options_.allow_remote)
      return Status::invalid_argument(
          fmt::format("admin server: {} is not a loopback address; the admin page shows every event, so it listens on "
                      "127.0.0.1 unless AdminOptions::allow_remote is set (and then put it behind TLS and a token)",
                      options_.address));
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::io_error(
          fmt::format("admin server: cannot listen on {}:{}: {}", options_.address, options_.port, ec.message()));
    port_ = acceptor_.local_endpoint().port();
    accept();
    return {};
  }

  void stop() {
    api_.stop();
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor_.close(ec);
    });
  }

  void add_projector(Projector& projector) { api_.add_projector(projector); }
  std::uint16_t port() const noexcept { return port_; }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(tcp::socket socket, std::shared_ptr<Impl> server)
        : stream_(std::move(socket)), server_(std::move(server)) {}

    void read() {
      request_ = {};
      stream_.expires_after(std::chrono::seconds(30));
      http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->close();
        self->respond();
      });
    }

   private:
    void respond() {
      response_ = server_->handle(request_);
      response_.keep_alive(request_.keep_alive());
      response_.prepare_payload();
      http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec || !self->response_.keep_alive()) return self->close();
        self->read();
      });
    }
    void close() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    std::shared_ptr<Impl> server_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
  };

  void accept() {
    acceptor_.async_accept(asio::make_strand(executor_),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
                             if (!ec) std::make_shared<Session>(std::move(socket), self)->read();
                             self->accept();
                           });
  }

  http::response<http::string_body> handle(const http::request<http::string_body>& request) {
    ApiRequest r;
    r.post = request.method() == http::verb::post;
    r.target = std::string(request.target());
    if (request.method() != http::verb::get && request.method() != http::verb::post)
      return reply(request, ApiResponse{405, "text/plain; charset=utf-8", "only GET and POST\n"});
    if (r.post) {
      // A change needs the token and, from a browser, this server's own origin.
      if (options_.token.empty())
        return reply(request, ApiResponse::error(403, "this admin server is read-only (it has no token)"));
      const auto authorization = request[http::field::authorization];
      if (authorization != "Bearer " + options_.token)
        return reply(request, ApiResponse::error(401, "a change needs the header Authorization: Bearer <token>"));
      const auto origin = request[http::field::origin];
      const auto host = request[http::field::host];
      if (!origin.empty() && origin != fmt::format("http://{}", std::string_view(host.data(), host.size())))
        return reply(request, ApiResponse::error(403, "a change must come from this server's own page (origin)"));
    }
    return reply(request, api_.handle(r));
  }

  static http::response<http::string_body> reply(const http::request<http::string_body>& request, ApiResponse api) {
    http::response<http::string_body> response{static_cast<http::status>(api.status), request.version()};
    response.set(http::field::server, "strata");
    response.set(http::field::content_type, api.content_type);
    response.set(http::field::cache_control, "no-store");
    // The page loads nothing from elsewhere and runs only its own script.
    response.set("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
                 "frame-ancestors 'none'");
    response.set("X-Content-Type-Options", "nosniff");
    response.body() = std::move(api.body);
    return response;
  }

  asio::any_io_executor executor_;
  tcp::acceptor acceptor_;
  AdminApi api_;
  AdminOptions options_;
  std::uint16_t port_ = 0;
};

AdminServer::AdminServer(asio::any_io_executor executor, RocksEventStore& store, AdminOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), store, std::move(options))) {}
AdminServer::~AdminServer() { impl_->stop(); }
void AdminServer::add_projector(Projector& projector) { impl_->add_projector(projector); }
Status AdminServer::start() { return impl_->start(); }
void AdminServer::stop() { impl_->stop(); }
std::uint16_t AdminServer::port() const noexcept { return impl_->port(); }

}  // namespace strata::tools
