// A strict parser of the Prometheus text exposition format 0.0.4, for the tests of strata's /metrics:
// it accepts only what the format's specification allows and checks the rules a scraper relies on.
//
//   strata::testing::Exposition e = strata::testing::parse_prometheus(text);
//   CHECK_MESSAGE(e.error.empty(), e.error);
//   CHECK(e.value("strata_appends_total", {{"store", path}}) == 3);
//
// Checked: every line ends with '\n'; "# HELP" and "# TYPE" at most once per name, TYPE before the
// name's samples and one of the five types; metric and label names; label values with only the \\, \"
// and \n escapes; values as Go's ParseFloat reads them (with +Inf, -Inf, NaN); an optional integer
// timestamp; a name's samples contiguous; no series twice; counters neither negative nor NaN; per
// histogram series, "le" buckets in increasing order with non-decreasing counts, a +Inf bucket equal
// to _count, and a _sum.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::testing {

struct Exposition {
  // Empty when the text is valid; otherwise the first problem, with its line number.
  std::string error;
  // name -> type ("counter", ...), from the TYPE lines.
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> help;
  // Every sample: name, sorted labels, value.
  std::map<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>, double> samples;

  // The sample `name` with exactly these labels (any order), if there is one.
  std::optional<double> value(const std::string& name,
                              std::vector<std::pair<std::string, std::string>> labels = {}) const {
    std::sort(labels.begin(), labels.end());
    auto it = samples.find({name, labels});
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
};

namespace prometheus_detail {

inline bool name_char(char c, bool first, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

inline bool read_name(std::string_view& in, std::string& out, bool colon) {
  std::size_t n = 0;
  while (n < in.size() && name_char(in[n], n == 0, colon)) ++n;
  if (n == 0) return false;
  out = std::string(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

inline bool read_float(std::string_view text, double& out) {
  if (text == "+Inf" || text == "Inf") {
    out = INFINITY;
    return true;
  }
  if (text == "-Inf") {
    out = -INFINITY;
    return true;
  }
  if (text == "NaN") {
    out = NAN;
    return true;
  }
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return false;
  const std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// The family a sample name belongs to, given the declared types: a histogram's _bucket, _sum, _count.
inline std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string_view s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto t = types.find(base);
      if (t != types.end() && (t->second == "histogram" || t->second == "summary")) return base;
    }
  }
  return name;
}

}  // namespace prometheus_detail

inline Exposition parse_prometheus(std::string_view text) {
  using namespace prometheus_detail;
  Exposition e;
  if (!text.empty() && text.back() != '\n') {
    e.error = "the text does not end with a newline";
    return e;
  }
  std::set<std::string> finished;  // families whose samples ended (another family's came after)
  std::string current;             // the family of the last sample
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // series key -> (le, count)
  std::set<std::string> with_samples;
  std::size_t line_number = 0;
  auto fail = [&](const std::string& what) {
    e.error = "line " + std::to_string(line_number) + ": " + what;
    return e;
  };
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::string_view rest = line.substr(1);
      if (!rest.starts_with(" HELP ") && !rest.starts_with(" TYPE ")) continue;  // a plain comment
      const bool is_help = rest.starts_with(" HELP ");
      rest.remove_prefix(6);
      std::string name;
      if (!read_name(rest, name, true)) return fail("a HELP or TYPE line without a metric name");
      if (is_help) {
        if (e.help.count(name)) return fail("a second HELP for " + name);
        if (!rest.empty() && rest[0] != ' ') return fail("HELP " + name + ": no space after the name");
        std::string help;
        for (std::size_t i = rest.empty() ? 0 : 1; i < rest.size(); ++i) {
          if (rest[i] == '\\') {
            if (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n'))
              return fail("HELP " + name + ": a backslash escapes only \\\\ and \\n");
            help += rest[i + 1] == 'n' ? '\n' : '\\';
            ++i;
          } else {
            help += rest[i];
          }
        }
        e.help[name] = help;
      } else {
        if (e.types.count(name)) return fail("a second TYPE for " + name);
        if (with_samples.count(name)) return fail("TYPE " + name + " after its samples");
        if (rest.empty() || rest[0] != ' ') return fail("TYPE " + name + " without a type");
        const std::string type(rest.substr(1));
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped")
          return fail("TYPE " + name + ": unknown type \"" + type + "\"");
        e.types[name] = type;
      }
      continue;
    }
    std::string name;
    if (!read_name(line, name, true)) return fail("a sample line that does not start with a metric name");
    std::vector<std::pair<std::string, std::string>> labels;
    if (!line.empty() && line[0] == '{') {
      line.remove_prefix(1);
      while (!line.empty() && line[0] != '}') {
        std::string label;
        if (!read_name(line, label, false)) return fail(name + ": a bad label name");
        if (line.size() < 2 || line[0] != '=' || line[1] != '"')
          return fail(name + ": label " + label + " without =\"");
        line.remove_prefix(2);
        std::string value;
        bool closed = false;
        while (!line.empty()) {
          const char c = line[0];
          line.remove_prefix(1);
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (line.empty() || (line[0] != '\\' && line[0] != '"' && line[0] != 'n'))
              return fail(name + ": label " + label + ": a backslash escapes only \\\\, \\\" and \\n");
            value += line[0] == 'n' ? '\n' : line[0];
            line.remove_prefix(1);
          } else {
            value += c;
          }
        }
        if (!closed) return fail(name + ": label " + label + ": the value is not closed");
        for (const auto& l : labels)
          if (l.first == label) return fail(name + ": label " + label + " twice");
        labels.emplace_back(label, value);
        if (!line.empty() && line[0] == ',') line.remove_prefix(1);
      }
      if (line.empty()) return fail(name + ": labels not closed with }");
      line.remove_prefix(1);
    }
    if (line.empty() || line[0] != ' ') return fail(name + ": no space before the value");
    line.remove_prefix(1);
    const std::size_t space = line.find(' ');
    double value = 0;
    if (!read_float(line.substr(0, space), value)) return fail(name + ": a bad value \"" + std::string(line) + "\"");
    if (space != std::string_view::npos) {
      const std::string_view ts = line.substr(space + 1);
      if (ts.empty()) return fail(name + ": an empty timestamp");
      for (std::size_t i = 0; i < ts.size(); ++i)
        if (!((ts[i] >= '0' && ts[i] <= '9') || (i == 0 && ts[i] == '-'))) return fail(name + ": a bad timestamp");
    }
    const std::string family = family_of(name, e.types);
    if (family != current) {
      if (finished.count(family)) return fail(family + ": its samples are not together");
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    with_samples.insert(family);
    const auto type = e.types.count(family) ? e.types.at(family) : std::string("untyped");
    if (type == "counter" && (std::isnan(value) || value < 0)) return fail(name + ": a counter below 0 or NaN");
    std::vector<std::pair<std::string, std::string>> sorted = labels;
    std::sort(sorted.begin(), sorted.end());
    if (!e.samples.emplace(std::make_pair(name, sorted), value).second) return fail(name + ": a series given twice");
    if (type == "histogram" && name == family + "_bucket") {
      std::string le;
      std::string key = family + "{";
      for (const auto& [l, v] : sorted) {
        if (l == "le")
          le = v;
        else
          key += l + "=" + v + ",";
      }
      double bound = 0;
      if (le.empty() || !read_float(le, bound)) return fail(name + ": a bucket without a valid le");
      auto& series = buckets[key];
      if (!series.empty() && (bound <= series.back().first || value < series.back().second))
        return fail(name + ": buckets out of order, or a count that goes down");
      series.emplace_back(bound, value);
    } else if (type == "histogram" && name != family + "_sum" && name != family + "_count") {
      return fail(name + ": a histogram sample that is not _bucket, _sum or _count");
    }
  }
  // Every histogram series: a +Inf bucket equal to its _count, and a _sum.
  for (const auto& [key, series] : buckets) {
    const std::string family = key.substr(0, key.find('{'));
    if (series.empty() || !std::isinf(series.back().first)) {
      e.error = family + ": a histogram series without a +Inf bucket";
      return e;
    }
    bool has_count = false, has_sum = false;
    for (const auto& [sample, v] : e.samples) {
      std::string k = family + "{";
      for (const auto& [l, val] : sample.second) k += l + "=" + val + ",";
      if (k != key) continue;
      if (sample.first == family + "_count") {
        has_count = true;
        if (v != series.back().second) {
          e.error = family + ": the +Inf bucket differs from _count";
          return e;
        }
      }
      if (sample.first == family + "_sum") has_sum = true;
    }
    if (!has_count || !has_sum) {
      e.error = family + ": a histogram series without _count or _sum";
      return e;
    }
  }
  return e;
}

}  // namespace strata::testing
