#include "render.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <ostream>

#include "strata/core/json.h"

namespace strata::tools {

std::string json_string(std::string_view s) {
  std::string out;
  json::Writer w(out);
  w.string(s);
  return out;
}

std::string event_json(const RecordedEvent& e) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.key("position");
  w.uint64(e.position.value());
  w.key("stream");
  w.string(e.stream_id);
  w.key("version");
  w.uint64(e.version.value());
  w.key("id");
  w.string(e.id.to_string());
  w.key("type");
  w.string(e.type);
  w.key("time");
  w.string(format_time(e.timestamp));
  if (!e.metadata.empty()) {
    w.key("metadata");
    w.begin_object();
    if (!e.metadata.correlation_id.empty()) {
      w.key("correlation_id");
      w.string(e.metadata.correlation_id);
    }
    if (!e.metadata.causation_id.empty()) {
      w.key("causation_id");
      w.string(e.metadata.causation_id);
    }
    if (!e.metadata.headers.empty()) {
      w.key("headers");
      w.begin_object();
      for (const auto& [key, value] : e.metadata.headers) {
        w.key(key);
        w.string(value);
      }
      w.end_object();
    }
    w.end_object();
  }
  w.key("payload");
  w.raw(e.payload);  // a JSON object: stores validate every payload on append
  w.end_object();
  return out;
}

std::string event_line(const RecordedEvent& e, std::size_t width) {
  std::string payload = e.payload;
  if (width != 0 && payload.size() > width) payload = payload.substr(0, width) + "...";
  return fmt::format("{}  {}@{}  {}  {}  {}", e.position.value(), e.stream_id, e.version.value(),
                     format_time(e.timestamp), e.type, payload);
}

std::string pretty_json(std::string_view in) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  auto newline = [&] {
    out += '\n';
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < in.size()) {
        out += in[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[':
        out += c;
        // An empty object or array stays on one line.
        if (i + 1 < in.size() && (in[i + 1] == '}' || in[i + 1] == ']')) {
          out += in[++i];
          break;
        }
        ++depth;
        newline();
        break;
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\n':
      case '\t':
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_time(Timestamp t) {
  const auto micros = t.time_since_epoch().count();
  auto seconds = static_cast<time_t>(micros / 1'000'000);
  auto fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, fraction);
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<std::size_t>& right) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (widths.size() <= c) widths.push_back(0);
      widths[c] = std::max(widths[c], row[c].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const bool align_right = std::find(right.begin(), right.end(), c) != right.end();
      const std::size_t pad = widths[c] - row[c].size();
      if (c != 0) line += "  ";
      if (align_right) line.append(pad, ' ');
      line += row[c];
      if (!align_right && c + 1 < row.size()) line.append(pad, ' ');
    }
    out << line << '\n';
  }
}

}  // namespace strata::tools
