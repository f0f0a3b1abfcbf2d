// The admin server's routes, apart from HTTP: a request's method and target in, a status, content
// type and body out. JSON for /api/..., the page and its script and style, /metrics, /healthz.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "strata/core/metrics.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projector.h"

namespace strata::tools {

struct ApiRequest {
  bool post = false;
  std::string target;  // path and query, as sent
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;

  // {"error": message} with `status`.
  static ApiResponse error(int status, std::string_view message);
};

class AdminApi {
 public:
  AdminApi(RocksEventStore& store, std::shared_ptr<MetricsRegistry> metrics);

  void add_projector(Projector& projector);
  // Answers 503 from now on; returns once no request is using the store.
  void stop();
  ApiResponse handle(const ApiRequest& request);

 private:
  ApiResponse route(const ApiRequest& request);
  ApiResponse projections();
  ApiResponse parked(const std::string& name);
  ApiResponse change_parked(const std::string& name, Position position, const std::string& action);

  RocksEventStore& store_;
  std::shared_ptr<MetricsRegistry> metrics_;
  std::mutex mu_;  // one request at a time uses the store and the projectors
  bool stopped_ = false;
  std::map<std::string, Projector*> projectors_;
};

// The page, its script and its style (admin_page.cc).
extern const char* const kAdminPage;
extern const char* const kAdminScript;
extern const char* const kAdminStyle;

}  // namespace strata::tools
