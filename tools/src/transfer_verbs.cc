// Verbs that copy events and stores in and out: export, import (NDJSON, one event per line), backup,
// backups, restore (RocksDB's BackupEngine through RocksEventStore).
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "render.h"
#include "strata/core/json.h"
#include "strata/core/stream_id.h"
#include "verbs.h"

namespace strata::tools {

namespace {

struct ExportArgs {
  std::string store;
  std::string stream;
  std::vector<std::string> categories;
  std::vector<std::string> types;
  std::string output;
};

int export_verb(const Context& c, const ExportArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  std::ofstream file;
  if (!a.output.empty()) {
    file.open(a.output, std::ios::out | std::ios::trunc | std::ios::binary);
    if (!file) return fail(c, Status::io_error(fmt::format("export: cannot write \"{}\"", a.output)));
  }
  std::ostream& out = a.output.empty() ? c.out : file;
  std::uint64_t exported = 0;
  if (!a.stream.empty()) {
    auto id = StreamId::parse(a.stream);
    if (!id.ok()) return fail(c, id.status());
    Version from = 1;
    for (;;) {
      auto slice = (*store)->read_stream(*id, ReadDirection::kForward, from, 1000);
      if (!slice.ok()) return fail(c, slice.status());
      for (const auto& e : slice->events) out << event_json(e) << '\n';
      exported += slice->events.size();
      if (slice->events.size() < 1000) break;
      from = slice->events.back().version + 1;
    }
  } else {
    LogFilter filter;
    filter.categories = a.categories;
    filter.event_types = a.types;
    // The log up to the head when the export began: a consistent cut even while the application appends.
    const Position head = (*store)->head_position();
    Position from = 1;
    while (from <= head) {
      auto page = (*store)->read_log(from, std::min<std::uint64_t>(1000, head - from + 1), filter);
      if (!page.ok()) return fail(c, page.status());
      for (const auto& e : page->events)
        if (e.position <= head) {
          out << event_json(e) << '\n';
          ++exported;
        }
      if (page->end_of_log) break;
      from = page->next_position;
    }
  }
  out.flush();
  if (!out) return fail(c, Status::io_error(fmt::format("export: writing \"{}\" failed", a.output)));
  if (!a.output.empty()) c.out << fmt::format("exported {} events to {}\n", exported, a.output);
  return 0;
}

// One line of an export.
struct ImportedEvent {
  std::string stream;
  Version version = 0;
  EventData data;
};

Status parse_line(std::string_view line, const Limits& limits, ImportedEvent& e) {
  e = ImportedEvent{};
  bool has_id = false;
  Status s = json::read(line, limits, [&](json::Value& root) -> Status {
    return root.for_each_field([&](std::string_view key, json::Value& v) -> Status {
      if (key == "stream") return v.get(e.stream);
      if (key == "version") {
        std::uint64_t version = 0;
        STRATA_RETURN_IF_ERROR(v.get(version));
        e.version = version;
        return {};
      }
      if (key == "id") {
        std::string text;
        STRATA_RETURN_IF_ERROR(v.get(text));
        STRATA_ASSIGN_OR_RETURN(e.data.id, EventId::parse(text));
        has_id = true;
        return {};
      }
      if (key == "type") return v.get(e.data.type);
      if (key == "payload") {
        std::string_view raw;
        STRATA_RETURN_IF_ERROR(v.get_raw_json(raw));
        e.data.payload = std::string(raw);
        return {};
      }
      if (key == "metadata") {
        return v.for_each_field([&](std::string_view field, json::Value& m) -> Status {
          if (field == "correlation_id") return m.get(e.data.metadata.correlation_id);
          if (field == "causation_id") return m.get(e.data.metadata.causation_id);
          if (field == "headers")
            return m.for_each_field([&](std::string_view header, json::Value& value) -> Status {
              std::string text;
              STRATA_RETURN_IF_ERROR(value.get(text));
              e.data.metadata.headers.emplace_back(std::string(header), std::move(text));
              return {};
            });
          return {};
        });
      }
      return {};  // position and time are the source store's; the target assigns its own
    });
  });
  STRATA_RETURN_IF_ERROR(s);
  if (e.stream.empty() || e.version == 0 || !has_id || e.data.type.empty() || e.data.payload.empty())
    return Status::invalid_argument("an event needs stream, version (from 1), id, type and payload");
  return {};
}

struct ImportArgs {
  std::string store;
  std::string input;
  bool create = false;
};

int import_verb(const Context& c, const ImportArgs& a) {
  std::ifstream in(a.input, std::ios::binary);
  if (!in) return fail(c, Status::not_found(fmt::format("import: cannot read \"{}\"", a.input)));
  RocksEventStore::Options options = c.options.store;
  options.create_if_missing = a.create;
  auto store = RocksEventStore::open(options, a.store);
  if (!store.ok() && store.status().code() == StatusCode::kUnavailable)
    store = open_for_writing(c, a.store, "import", "stop it first, or append the events through it");
  if (!store.ok()) return fail(c, store.status());
  const Limits& limits = (*store)->limits();

  std::uint64_t appended = 0, present = 0, line_number = 0;
  std::vector<ImportedEvent> group;
  std::size_t group_first_line = 0;
  // Appends consecutive lines of one stream with consecutive versions as one append, expecting the
  // stream's head to be just before them: versions stay what they were, and a file imported again is
  // recognised event by event (the store's idempotency by event id) and changes nothing.
  auto flush = [&]() -> Status {
    if (group.empty()) return {};
    std::vector<EventData> events;
    for (auto& e : group) events.push_back(std::move(e.data));
    STRATA_ASSIGN_OR_RETURN(StreamId id, StreamId::parse(group.front().stream));
    const Position head_before = (*store)->head_position();
    auto r = (*store)->append(id, ExpectedVersion::exact(group.front().version - 1), events);
    if (!r.ok())
      return r.status().with_context(fmt::format("import: lines {} to {} (stream \"{}\" versions {} to {})",
                                                 group_first_line, group_first_line + group.size() - 1,
                                                 group.front().stream, group.front().version.value(),
                                                 group.back().version.value()));
    (r->last_position > head_before ? appended : present) += events.size();
    group.clear();
    return {};
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    ImportedEvent e;
    if (Status s = parse_line(line, limits, e); !s.ok()) {
      // The lines before this one go in: importing the file again, once mended, goes on from here.
      if (Status flushed = flush(); !flushed.ok()) return fail(c, flushed);
      return fail(c, s.with_context(fmt::format("import: line {} of \"{}\"", line_number, a.input)));
    }
    if (!group.empty() && (e.stream != group.back().stream || e.version != group.back().version + 1 ||
                           group.size() >= limits.max_events_per_append)) {
      if (Status s = flush(); !s.ok()) return fail(c, s);
    }
    if (group.empty()) group_first_line = line_number;
    group.push_back(std::move(e));
  }
  if (Status s = flush(); !s.ok()) return fail(c, s);
  c.out << fmt::format("imported {} events; {} were already there\n", appended, present);
  return 0;
}

struct BackupArgs {
  std::string store;
  std::string backup_dir;
};

int backup_verb(const Context& c, const BackupArgs& a) {
  auto store =
      open_for_writing(c, a.store, "backup",
                       fmt::format("call RocksEventStore::backup(\"{}\") in it, or use its admin page", a.backup_dir));
  if (!store.ok()) return fail(c, store.status());
  auto b = (*store)->backup(a.backup_dir);
  if (!b.ok()) return fail(c, b.status());
  c.out << fmt::format("backup {} in {}: the log up to position {} at least; {} in {} files\n", b->id, a.backup_dir,
                       b->high_water.value(), format_bytes(b->bytes), b->files);
  return 0;
}

struct BackupsArgs {
  std::string backup_dir;
  bool verify = false;
  bool json = false;
};

int backups_verb(const Context& c, const BackupsArgs& a) {
  auto backups = RocksEventStore::list_backups(a.backup_dir);
  if (!backups.ok()) return fail(c, backups.status());
  int status = 0;
  std::vector<std::vector<std::string>> table{{"id", "created", "high water", "size", "files"}};
  if (a.verify) table[0].push_back("check");
  std::string json = "[";
  for (const auto& b : *backups) {
    std::string check;
    if (a.verify) {
      Status s = RocksEventStore::verify_backup(a.backup_dir, b.id);
      check = s.ok() ? "ok" : s.to_string();
      if (!s.ok()) status = 1;
    }
    if (a.json) {
      json += fmt::format(R"({}{{"id":{},"created":{},"high_water":{},"bytes":{},"files":{}{}}})",
                          json.size() == 1 ? "" : ",", b.id, json_string(format_time(b.created)), b.high_water.value(),
                          b.bytes, b.files, a.verify ? fmt::format(R"(,"check":{})", json_string(check)) : "");
      continue;
    }
    table.push_back({std::to_string(b.id), format_time(b.created), std::to_string(b.high_water.value()),
                     format_bytes(b.bytes), std::to_string(b.files)});
    if (a.verify) table.back().push_back(check);
  }
  if (a.json)
    c.out << json << "]\n";
  else
    print_table(c.out, table, {0, 2, 3, 4});
  return status;
}

struct RestoreArgs {
  std::string backup_dir;
  std::string store;
  std::uint32_t id = 0;
};

int restore_verb(const Context& c, const RestoreArgs& a) {
  if (Status s = RocksEventStore::restore(a.backup_dir, a.id, a.store); !s.ok()) return fail(c, s);
  auto report = RocksEventStore::verify(c.options.store, a.store);
  if (!report.ok()) return fail(c, report.status());
  c.out << fmt::format("restored {} into {}: {} events, {} streams; verify: {}\n",
                       a.id == 0 ? std::string("the newest backup") : fmt::format("backup {}", a.id), a.store,
                       report->events, report->streams,
                       report->ok() ? "ok" : fmt::format("{} problems (run verify)", report->problem_count));
  return report->ok() ? 0 : 1;
}

}  // namespace

void add_transfer_verbs(CLI::App& app, Context& c, Action& action) {
  {
    auto [a, s] = verb<ExportArgs>(app, action, "export",
                                   "Events as NDJSON (one JSON object per line, with ids, metadata and commit times): "
                                   "the whole log, some categories or types, or one stream",
                                   [&c](const ExportArgs& x) { return export_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("--stream", a->stream, "Only this stream, in version order");
    s->add_option("--category", a->categories, "Only streams of this category (repeatable)");
    s->add_option("--type", a->types, "Only events of this type (repeatable)");
    s->add_option("-o,--output", a->output, "Write to this file instead of standard output");
  }
  {
    auto [a, s] = verb<ImportArgs>(app, action, "import",
                                   "Append the events of an export, keeping their ids, streams, versions and "
                                   "metadata; importing a file again changes nothing",
                                   [&c](const ImportArgs& x) { return import_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("FILE", a->input, "The NDJSON file")->required();
    s->add_flag("--create", a->create, "Create the store if there is none");
  }
  {
    auto [a, s] = verb<BackupArgs>(app, action, "backup",
                                   "Add a consistent backup of the store to a backup directory (RocksDB's "
                                   "BackupEngine; table files already there are shared)",
                                   [&c](const BackupArgs& x) { return backup_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("BACKUP_DIR", a->backup_dir, "The backup directory")->required();
  }
  {
    auto [a, s] = verb<BackupsArgs>(app, action, "backups", "The backups in a backup directory",
                                    [&c](const BackupsArgs& x) { return backups_verb(c, x); });
    s->add_option("BACKUP_DIR", a->backup_dir, "The backup directory")->required();
    s->add_flag("--verify", a->verify, "Check each backup's files against their sizes and checksums");
    s->add_flag("--json", a->json, "One JSON array");
  }
  {
    auto [a, s] =
        verb<RestoreArgs>(app, action, "restore", "Restore a backup into a new directory, then verify what it holds",
                          [&c](const RestoreArgs& x) { return restore_verb(c, x); });
    s->add_option("BACKUP_DIR", a->backup_dir, "The backup directory")->required();
    s->add_option("STORE", a->store, "The directory to restore into (missing or empty)")->required();
    s->add_option("--id", a->id, "The backup to restore (default: the newest)");
  }
}

}  // namespace strata::tools
