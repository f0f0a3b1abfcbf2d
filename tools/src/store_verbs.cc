// Verbs over the store and its log: info, streams, read, log, tail, show, verify, compact.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "render.h"
#include "strata/core/stream_id.h"
#include "verbs.h"

namespace strata::tools {

namespace {

struct InfoArgs {
  std::string store;
  bool json = false;
};

int info_verb(const Context& c, const InfoArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  auto info = (*store)->info();
  if (!info.ok()) return fail(c, info.status());
  if (a.json) {
    std::string out =
        fmt::format(R"({{"store":{},"format_version":{},"head":{},"streams_estimate":{},"disk_bytes":{},)"
                    R"("pending_compaction_bytes":{},"write_stalled":{},"families":[)",
                    json_string(a.store), info->format_version, info->head.value(), info->streams_estimate,
                    info->disk_bytes, info->pending_compaction_bytes, info->write_stalled);
    for (std::size_t i = 0; i < info->families.size(); ++i) {
      const auto& f = info->families[i];
      out +=
          fmt::format(R"({}{{"name":{},"keys_estimate":{},"table_bytes":{},"memory_bytes":{},"files_per_level":[{}]}})",
                      i == 0 ? "" : ",", json_string(f.name), f.keys_estimate, f.table_bytes, f.memory_bytes,
                      fmt::join(f.files_per_level, ","));
    }
    c.out << out << "]}\n";
    return 0;
  }
  std::vector<std::vector<std::string>> head{
      {"store", a.store},
      {"format version", std::to_string(info->format_version)},
      {"head position", std::to_string(info->head.value())},
      {"streams", fmt::format("about {}", info->streams_estimate)},
      {"disk", format_bytes(info->disk_bytes)},
      {"pending compaction", format_bytes(info->pending_compaction_bytes)},
      {"writes stalled", info->write_stalled ? "yes" : "no"},
  };
  print_table(c.out, head);
  c.out << '\n';
  std::vector<std::vector<std::string>> rows{{"family", "keys (est.)", "tables", "memory", "files per level"}};
  for (const auto& f : info->families)
    rows.push_back({f.name, std::to_string(f.keys_estimate), format_bytes(f.table_bytes), format_bytes(f.memory_bytes),
                    fmt::format("{}", fmt::join(f.files_per_level, " "))});
  print_table(c.out, rows, {1, 2, 3});
  return 0;
}

struct StreamsArgs {
  std::string store;
  std::string after;
  std::size_t count = 100;
  bool json = false;
};

int streams_verb(const Context& c, const StreamsArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  auto list = (*store)->list_streams(a.after, a.count);
  if (!list.ok()) return fail(c, list.status());
  if (a.json) {
    std::string out = R"({"streams":[)";
    for (std::size_t i = 0; i < list->streams.size(); ++i) {
      const StreamInfo& s = list->streams[i];
      // A deleted or truncated stream says so; a live, whole one is just its id and head.
      std::string life;
      if (s.state != StreamState::kLive || s.first_version != 1)
        life = fmt::format(R"(,"state":{},"first_version":{})", json_string(stream_state_name(s.state)),
                           s.first_version.value());
      out += fmt::format(R"({}{{"stream":{},"head":{}{}}})", i == 0 ? "" : ",", json_string(s.stream_id),
                         s.head.value(), life);
    }
    out += fmt::format(R"(],"next_after":{}}})", json_string(list->next_after));
    c.out << out << '\n';
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"stream", "version"}};
  for (const auto& s : list->streams) {
    std::string version = std::to_string(s.head.value());
    if (s.state != StreamState::kLive) {
      version += fmt::format(" ({})", stream_state_name(s.state));
    } else if (s.first_version != 1) {
      version += fmt::format(" (from {})", s.first_version.value());
    }
    rows.push_back({s.stream_id, version});
  }
  print_table(c.out, rows, {1});
  if (!list->next_after.empty())
    c.out << fmt::format("(more: {} streams {} --after {})\n", c.options.program, a.store, list->next_after);
  return 0;
}

struct ReadArgs {
  std::string store;
  std::string stream;
  std::uint64_t from = 0;
  std::size_t count = 100;
  bool backward = false;
  bool json = false;
  std::size_t width = 120;
};

int read_verb(const Context& c, const ReadArgs& a) {
  auto id = StreamId::parse(a.stream);
  if (!id.ok()) return fail(c, id.status());
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  const Version from = a.from != 0 ? Version(a.from) : (a.backward ? kEndOfStream : Version(1));
  auto slice =
      (*store)->read_stream(*id, a.backward ? ReadDirection::kBackward : ReadDirection::kForward, from, a.count);
  if (!slice.ok()) return fail(c, slice.status());
  for (const auto& e : slice->events) c.out << (a.json ? event_json(e) : event_line(e, a.width)) << '\n';
  return 0;
}

struct LogArgs {
  std::string store;
  std::uint64_t from = 1;
  std::size_t count = 100;
  std::vector<std::string> types;
  std::vector<std::string> categories;
  bool json = false;
  std::size_t width = 120;
  // tail: stop after this many events, or seconds (0: never).
  std::size_t stop_after_events = 0;
  double stop_after_seconds = 0;
  double poll_seconds = 0.2;
};

LogFilter filter_of(const LogArgs& a) {
  LogFilter filter;
  filter.event_types = a.types;
  filter.categories = a.categories;
  return filter;
}

int log_verb(const Context& c, const LogArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  const LogFilter filter = filter_of(a);
  Position from = a.from == 0 ? Position(1) : Position(a.from);
  std::size_t printed = 0;
  // Filtered reads may examine many events to find a few: read pages until `count` are printed.
  while (printed < a.count) {
    auto page = (*store)->read_log(from, std::min<std::size_t>(a.count - printed, 1000), filter);
    if (!page.ok()) return fail(c, page.status());
    for (const auto& e : page->events) c.out << (a.json ? event_json(e) : event_line(e, a.width)) << '\n';
    printed += page->events.size();
    from = page->next_position;
    if (page->end_of_log) break;
  }
  return 0;
}

int tail_verb(const Context& c, const LogArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  const LogFilter filter = filter_of(a);
  Position from = a.from != 0 ? Position(a.from) : (*store)->head_position() + 1;
  const auto start = std::chrono::steady_clock::now();
  std::size_t printed = 0;
  for (;;) {
    auto page = (*store)->read_log(from, 1000, filter);
    if (!page.ok()) return fail(c, page.status());
    for (const auto& e : page->events) {
      c.out << (a.json ? event_json(e) : event_line(e, a.width)) << '\n';
      if (a.stop_after_events != 0 && ++printed >= a.stop_after_events) return 0;
    }
    c.out.flush();
    from = page->next_position;
    if (!page->end_of_log) continue;
    if (a.stop_after_seconds > 0 &&
        std::chrono::steady_clock::now() - start >= std::chrono::duration<double>(a.stop_after_seconds))
      return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(a.poll_seconds));
    if (Status s = (*store)->refresh(); !s.ok()) return fail(c, s);
  }
}

struct ShowArgs {
  std::string store;
  std::uint64_t position = 0;
  bool json = false;
};

int show_verb(const Context& c, const ShowArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  auto page = (*store)->read_log(Position(a.position), 1);
  if (!page.ok()) return fail(c, page.status());
  if (page->events.empty() || page->events.front().position != Position(a.position))
    return fail(c, Status::not_found(fmt::format("store \"{}\" has no event at position {} (its head is {})", a.store,
                                                 a.position, (*store)->head_position().value())));
  const std::string json = event_json(page->events.front());
  c.out << (a.json ? json : pretty_json(json)) << '\n';
  return 0;
}

struct VerifyArgs {
  std::string store;
  bool json = false;
};

int verify_verb(const Context& c, const VerifyArgs& a) {
  auto report = RocksEventStore::verify(c.options.store, a.store);
  bool live = false;
  if (!report.ok() && report.status().code() == StatusCode::kUnavailable) {
    // In use: check the application's store through a read-only instance, on its view at the open.
    auto store = open_for_reading(c, a.store);
    if (!store.ok()) return fail(c, store.status());
    report = (*store)->verify();
    live = true;
  }
  if (!report.ok()) {
    if (a.json) {
      c.out << fmt::format(R"({{"store":{},"ok":false,"error":{}}})", json_string(a.store),
                           json_string(report.status().to_string()))
            << '\n';
      return 1;
    }
    return fail(c, report.status());
  }
  const auto& r = *report;
  if (a.json) {
    std::string problems;
    for (std::size_t i = 0; i < r.problems.size(); ++i) problems += (i == 0 ? "" : ",") + json_string(r.problems[i]);
    c.out
        << fmt::format(
               R"({{"store":{},"ok":{},"live":{},"high_water":{},"events":{},"streams":{},"event_ids":{},)"
               R"("snapshots":{},"projections":{},"projection_rows":{},"parked":{},"problem_count":{},"problems":[{}]}})",
               json_string(a.store), r.ok(), live, r.high_water.value(), r.events, r.streams, r.event_ids, r.snapshots,
               r.projections, r.projection_rows, r.parked, r.problem_count, problems)
        << '\n';
    return r.ok() ? 0 : 1;
  }
  c.out << fmt::format(
      "{} events (positions 1 to {}), {} streams, {} event ids, {} snapshots, {} projections with {} rows and {} "
      "parked events{}\n",
      r.events, r.high_water.value(), r.streams, r.event_ids, r.snapshots, r.projections, r.projection_rows, r.parked,
      live ? " (read beside the process that has the store open)" : "");
  if (r.ok()) {
    c.out << "ok: every invariant of the store format holds, and every table block's checksum\n";
    return 0;
  }
  for (const auto& p : r.problems) c.out << "problem: " << p << '\n';
  if (r.problem_count > r.problems.size())
    c.out << fmt::format("... and {} more problems\n", r.problem_count - r.problems.size());
  c.out << fmt::format("damaged: {} problems; restore a backup, or repair a copy (RocksEventStore::repair_copy)\n",
                       r.problem_count);
  return 1;
}

struct CompactArgs {
  std::string store;
};

int compact_verb(const Context& c, const CompactArgs& a) {
  auto store = open_for_writing(c, a.store, "compact", "call RocksEventStore::compact() in it");
  if (!store.ok()) return fail(c, store.status());
  auto before = (*store)->info();
  if (Status s = (*store)->compact(); !s.ok()) return fail(c, s);
  auto after = (*store)->info();
  if (before.ok() && after.ok())
    c.out << fmt::format("compacted: {} -> {} on disk\n", format_bytes(before->disk_bytes),
                         format_bytes(after->disk_bytes));
  return 0;
}

}  // namespace

void add_store_verbs(CLI::App& app, Context& c, Action& action) {
  {
    auto [a, s] =
        verb<InfoArgs>(app, action, "info", "Format version, head position, streams, disk use, RocksDB levels",
                       [&c](const InfoArgs& x) { return info_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_flag("--json", a->json, "One JSON object");
  }
  {
    auto [a, s] = verb<StreamsArgs>(app, action, "streams", "The streams, in byte order of their ids, a page at a time",
                                    [&c](const StreamsArgs& x) { return streams_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("--after", a->after, "Start after this stream id (the last one of the previous page)");
    s->add_option("--count", a->count, "At most this many streams")->capture_default_str();
    s->add_flag("--json", a->json, "One JSON object");
  }
  {
    auto [a, s] = verb<ReadArgs>(app, action, "read", "The events of one stream",
                                 [&c](const ReadArgs& x) { return read_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("STREAM", a->stream, "The stream id")->required();
    s->add_option("--from", a->from, "The first version (default: 1, or the last with --backward)");
    s->add_option("--count", a->count, "At most this many events")->capture_default_str();
    s->add_flag("--backward", a->backward, "Newest first");
    s->add_option("--width", a->width, "Cut payloads to this many bytes (0: whole)")->capture_default_str();
    s->add_flag("--json", a->json, "One JSON object per event (the export format)");
  }
  for (const bool follow : {false, true}) {
    auto [a, s] = follow ? verb<LogArgs>(app, action, "tail",
                                         "Follow the log: print new events as they are committed, like tail -f",
                                         [&c](const LogArgs& x) { return tail_verb(c, x); })
                         : verb<LogArgs>(app, action, "log", "The global log, in commit order",
                                         [&c](const LogArgs& x) { return log_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    if (follow) {
      a->from = 0;
      s->add_option("--from", a->from, "The first position (default: the next one committed)");
      s->add_option("--stop-after", a->stop_after_events, "Stop after printing this many events");
      s->add_option("--timeout", a->stop_after_seconds, "Stop after this many seconds without reaching the count");
      s->add_option("--poll", a->poll_seconds, "Seconds between looks for new events")->capture_default_str();
    } else {
      s->add_option("--from", a->from, "The first position")->capture_default_str();
      s->add_option("--count", a->count, "At most this many events")->capture_default_str();
    }
    s->add_option("--type", a->types, "Only events of this type (repeatable)");
    s->add_option("--category", a->categories,
                  "Only streams of this category: the id before its first '-' (repeatable)");
    s->add_option("--width", a->width, "Cut payloads to this many bytes (0: whole)")->capture_default_str();
    s->add_flag("--json", a->json, "One JSON object per event (the export format)");
  }
  {
    auto [a, s] = verb<ShowArgs>(app, action, "show", "One event with its metadata, as indented JSON",
                                 [&c](const ShowArgs& x) { return show_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("POSITION", a->position, "The event's position in the log")->required()->check(CLI::PositiveNumber);
    s->add_flag("--json", a->json, "Compact, on one line");
  }
  {
    auto [a, s] =
        verb<VerifyArgs>(app, action, "verify",
                         "Check every invariant of the store format and every checksum; exit 1 naming what is "
                         "wrong",
                         [&c](const VerifyArgs& x) { return verify_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_flag("--json", a->json, "One JSON object");
  }
  {
    auto [a, s] =
        verb<CompactArgs>(app, action, "compact", "Compact every column family (the store must not be in use)",
                          [&c](const CompactArgs& x) { return compact_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
  }
}

}  // namespace strata::tools
