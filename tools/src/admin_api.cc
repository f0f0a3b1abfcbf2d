#include "admin_api.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "projection_rows.h"
#include "render.h"
#include "strata/core/stream_id.h"

namespace strata::tools {

ApiResponse ApiResponse::error(int status, std::string_view message) {
  return ApiResponse{status, "application/json", fmt::format(R"({{"error":{}}})", json_string(message)) + "\n"};
}

namespace {

// %XX and '+' decoded; a malformed escape is kept as it is.
std::string decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
      if (ec == std::errc() && end == s.data() + i + 3) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

struct Target {
  std::vector<std::string> segments;  // decoded
  std::map<std::string, std::string> query;

  std::uint64_t number(const std::string& key, std::uint64_t fallback) const {
    auto it = query.find(key);
    std::uint64_t v = 0;
    if (it == query.end() ||
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), v).ec != std::errc())
      return fallback;
    return v;
  }
};

Target parse_target(std::string_view target) {
  Target t;
  const std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  while (!path.empty()) {
    if (path[0] == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    t.segments.push_back(decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const std::size_t eq = pair.find('=');
      t.query[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return t;
}

int http_status(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

ApiResponse failed(const Status& s) { return ApiResponse::error(http_status(s), s.to_string()); }

std::string events_json(const std::vector<RecordedEvent>& events) {
  std::string out = "[";
  for (std::size_t i = 0; i < events.size(); ++i) out += (i == 0 ? "" : ",") + event_json(events[i]);
  return out + "]";
}

}  // namespace

AdminApi::AdminApi(RocksEventStore& store, std::shared_ptr<MetricsRegistry> metrics)
    : store_(store), metrics_(std::move(metrics)) {}

void AdminApi::add_projector(Projector& projector) {
  std::lock_guard lock(mu_);
  projectors_[projector.name()] = &projector;
}

void AdminApi::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
}

ApiResponse AdminApi::handle(const ApiRequest& request) {
  std::lock_guard lock(mu_);
  if (stopped_) return ApiResponse::error(503, "the admin server is stopping");
  try {
    return route(request);
  } catch (const std::exception& e) {
    return ApiResponse::error(500, e.what());
  }
}

ApiResponse AdminApi::route(const ApiRequest& request) {
  const Target t = parse_target(request.target);
  const auto& s = t.segments;
  if (request.post) {
    if (s.size() == 6 && s[0] == "api" && s[1] == "projections" && s[3] == "parked" &&
        (s[5] == "retry" || s[5] == "skip")) {
      std::uint64_t position = 0;
      if (std::from_chars(s[4].data(), s[4].data() + s[4].size(), position).ec != std::errc() || position == 0)
        return ApiResponse::error(400, "the position must be a number from 1");
      return change_parked(s[2], Position(position), s[5]);
    }
    return ApiResponse::error(404, "no such change");
  }
  if (s.empty()) return ApiResponse{200, "text/html; charset=utf-8", kAdminPage};
  if (s.size() == 1 && s[0] == "app.js") return ApiResponse{200, "text/javascript; charset=utf-8", kAdminScript};
  if (s.size() == 1 && s[0] == "app.css") return ApiResponse{200, "text/css; charset=utf-8", kAdminStyle};
  if (s.size() == 1 && s[0] == "healthz") {
    const auto info = store_.info();
    if (!info.ok()) return ApiResponse{503, "text/plain; charset=utf-8", info.status().to_string() + "\n"};
    return ApiResponse{200, "text/plain; charset=utf-8", "ok\n"};
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (metrics_ == nullptr) return ApiResponse{404, "text/plain; charset=utf-8", "no metrics registry\n"};
    return ApiResponse{200, std::string(MetricsRegistry::kContentType), metrics_->prometheus_text()};
  }
  if (s.size() < 2 || s[0] != "api") return ApiResponse::error(404, "no such page");
  if (Status refreshed = store_.refresh(); !refreshed.ok()) return failed(refreshed);
  if (s[1] == "overview" && s.size() == 2) {
    auto info = store_.info();
    if (!info.ok()) return failed(info.status());
    std::string families = "[";
    for (std::size_t i = 0; i < info->families.size(); ++i) {
      const auto& f = info->families[i];
      families += fmt::format(R"({}{{"name":{},"keys_estimate":{},"table_bytes":{},"memory_bytes":{}}})",
                              i == 0 ? "" : ",", json_string(f.name), f.keys_estimate, f.table_bytes, f.memory_bytes);
    }
    return ApiResponse{
        200, "application/json",
        fmt::format(R"({{"store":{},"read_only":{},"format_version":{},"head":{},"streams_estimate":{},)"
                    R"("disk_bytes":{},"pending_compaction_bytes":{},"write_stalled":{},"families":{}]}})",
                    json_string(store_.path()), store_.read_only(), info->format_version, info->head.value(),
                    info->streams_estimate, info->disk_bytes, info->pending_compaction_bytes, info->write_stalled,
                    families)};
  }
  if (s[1] == "streams" && s.size() == 2) {
    auto list = store_.list_streams(t.query.count("after") ? t.query.at("after") : "",
                                    std::min<std::uint64_t>(t.number("count", 100), 1000));
    if (!list.ok()) return failed(list.status());
    std::string out = R"({"streams":[)";
    for (std::size_t i = 0; i < list->streams.size(); ++i)
      out += fmt::format(R"({}{{"stream":{},"head":{}}})", i == 0 ? "" : ",", json_string(list->streams[i].stream_id),
                         list->streams[i].head.value());
    return ApiResponse{200, "application/json",
                       out + fmt::format(R"(],"next_after":{}}})", json_string(list->next_after))};
  }
  if (s[1] == "streams" && s.size() == 3) {
    auto id = StreamId::parse(s[2]);
    if (!id.ok()) return failed(id.status());
    const bool backward = t.query.count("backward") != 0;
    const std::uint64_t from = t.number("from", backward ? kEndOfStream.value() : 1);
    auto slice = store_.read_stream(*id, backward ? ReadDirection::kBackward : ReadDirection::kForward, Version(from),
                                    std::min<std::uint64_t>(t.number("count", 100), 1000));
    if (!slice.ok()) return failed(slice.status());
    return ApiResponse{200, "application/json", fmt::format(R"({{"events":{}}})", events_json(slice->events))};
  }
  if (s[1] == "log" && s.size() == 2) {
    auto page = store_.read_log(Position(std::max<std::uint64_t>(t.number("from", 1), 1)),
                                std::min<std::uint64_t>(t.number("count", 100), 1000));
    if (!page.ok()) return failed(page.status());
    return ApiResponse{
        200, "application/json",
        fmt::format(R"({{"events":{},"next":{}}})", events_json(page->events), page->next_position.value())};
  }
  if (s[1] == "events" && s.size() == 3) {
    std::uint64_t position = 0;
    if (std::from_chars(s[2].data(), s[2].data() + s[2].size(), position).ec != std::errc() || position == 0)
      return ApiResponse::error(400, "the position must be a number from 1");
    auto page = store_.read_log(Position(position), 1);
    if (!page.ok()) return failed(page.status());
    if (page->events.empty() || page->events[0].position != Position(position))
      return ApiResponse::error(404, fmt::format("no event at position {}", position));
    return ApiResponse{200, "application/json", event_json(page->events[0])};
  }
  if (s[1] == "projections" && s.size() == 2) return projections();
  if (s[1] == "projections" && s.size() == 4 && s[3] == "parked") return parked(s[2]);
  return ApiResponse::error(404, "no such page");
}

ApiResponse AdminApi::projections() {
  auto rows = projection_rows(store_);
  if (!rows.ok()) return failed(rows.status());
  std::string out = fmt::format(R"({{"head":{},"projections":[)", store_.head_position().value());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    ProjectionRow& row = (*rows)[i];
    // A projector running here knows more than its stored state: its state and rate.
    auto live = projectors_.find(row.name);
    std::string running = "null";
    double rate = 0;
    if (live != projectors_.end()) {
      const ProjectorStatus st = live->second->status();
      running = json_string(projector_state_name(st.state));
      row.lag_events = st.lag_events;
      row.lag_seconds = st.lag_seconds;
      rate = st.events_per_second;
    }
    out += fmt::format(
        R"({}{{"name":{},"generation":{},"position":{},"lag_events":{},"lag_seconds":{:.3f},"events_per_second":{:.1f},)"
        R"("parked":{},"state":{},"rebuilding":{},"can_retry":{}}})",
        i == 0 ? "" : ",", json_string(row.name), row.state.generation, row.state.checkpoint.value(), row.lag_events,
        row.lag_seconds, rate, row.parked, running, row.state.rebuilding(), live != projectors_.end());
  }
  return ApiResponse{200, "application/json", out + "]}"};
}

ApiResponse AdminApi::parked(const std::string& name) {
  ProjectionStorage& storage = store_.projection_storage();
  auto state = storage.load_state(name);
  if (!state.ok()) return failed(state.status());
  if (!*state) return ApiResponse::error(404, fmt::format("no projection \"{}\"", name));
  auto list = storage.list_parked(name, (*state)->generation, 0, 1000);
  if (!list.ok()) return failed(list.status());
  std::string out = R"({"parked":[)";
  for (std::size_t i = 0; i < list->size(); ++i) {
    const ParkedEvent& p = (*list)[i];
    out += fmt::format(R"({}{{"attempts":{},"parked_at":{},"error":{},"event":{}}})", i == 0 ? "" : ",", p.attempts,
                       json_string(format_time(p.parked_at)), json_string(p.error.to_string()), event_json(p.event));
  }
  return ApiResponse{200, "application/json", out + "]}"};
}

ApiResponse AdminApi::change_parked(const std::string& name, Position position, const std::string& action) {
  auto live = projectors_.find(name);
  if (live == projectors_.end())
    return ApiResponse::error(409, fmt::format("projection \"{}\" does not run in this process: retry and skip go "
                                               "through its Projector (AdminServer::add_projector)",
                                               name));
  Status s = action == "retry" ? live->second->retry_parked(position) : live->second->skip_parked(position);
  if (!s.ok()) return failed(s);
  return ApiResponse{200, "application/json",
                     fmt::format(R"({{"done":{},"projection":{},"position":{}}})", json_string(action),
                                 json_string(name), position.value())};
}

}  // namespace strata::tools
