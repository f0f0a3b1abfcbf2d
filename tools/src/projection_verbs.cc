// Verbs over projections: projections (the status table), parked, retry, skip, rebuild. The first two
// read what a projection stored (its state and parked events) and work beside the application; retry
// and rebuild run the projection's handler, so only an application's own command (CommandOptions::
// projections) can do them.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "projection_rows.h"
#include "render.h"
#include "strata/projections/projector.h"
#include "verbs.h"

namespace strata::tools {

namespace {

struct ProjectionsArgs {
  std::string store;
  double interval = 1.0;
  bool json = false;
};

std::string state_text(const ProjectionState& s) {
  if (s.rebuilding())
    return fmt::format("serving generation {}; rebuilding generation {} at position {}", s.generation,
                       s.shadow_generation, s.shadow_checkpoint.value());
  return fmt::format("serving generation {}", s.generation);
}

int projections_verb(const Context& c, const ProjectionsArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  auto rows = projection_rows(**store);
  if (!rows.ok()) return fail(c, rows.status());
  if (a.interval > 0 && !rows->empty()) {
    // The rate: how far each checkpoint moves over the interval, as the application commits.
    std::this_thread::sleep_for(std::chrono::duration<double>(a.interval));
    if (Status s = (*store)->refresh(); !s.ok()) return fail(c, s);
    auto later = projection_rows(**store);
    if (!later.ok()) return fail(c, later.status());
    for (auto& row : *rows)
      for (const auto& then : *later)
        if (then.name == row.name && then.state.generation == row.state.generation) {
          row.events_per_second =
              static_cast<double>(then.state.checkpoint - std::min(then.state.checkpoint, row.state.checkpoint)) /
              a.interval;
          row = ProjectionRow{then.name,        then.state,  then.lag_events,
                              then.lag_seconds, then.parked, row.events_per_second};
        }
  }
  const Position head = (*store)->head_position();
  if (a.json) {
    std::string out = fmt::format(R"({{"head":{},"projections":[)", head.value());
    for (std::size_t i = 0; i < rows->size(); ++i) {
      const auto& r = (*rows)[i];
      out += fmt::format(
          R"({}{{"name":{},"generation":{},"position":{},"lag_events":{},"lag_seconds":{:.3f},"events_per_second":{},)"
          R"("parked":{},"rebuilding":{}}})",
          i == 0 ? "" : ",", json_string(r.name), r.state.generation, r.state.checkpoint.value(), r.lag_events,
          r.lag_seconds, r.events_per_second < 0 ? std::string("null") : fmt::format("{:.1f}", r.events_per_second),
          r.parked,
          r.state.rebuilding() ? fmt::format(R"({{"generation":{},"position":{}}})", r.state.shadow_generation,
                                             r.state.shadow_checkpoint.value())
                               : std::string("null"));
    }
    c.out << out << "]}\n";
    return 0;
  }
  if (rows->empty()) {
    c.out << "no projection has stored a state in this store\n";
    return 0;
  }
  std::vector<std::vector<std::string>> table{
      {"projection", "position", "lag", "lag (s)", "events/s", "parked", "state"}};
  for (const auto& r : *rows)
    table.push_back({r.name, std::to_string(r.state.checkpoint.value()), std::to_string(r.lag_events),
                     fmt::format("{:.1f}", r.lag_seconds),
                     r.events_per_second < 0 ? "-" : fmt::format("{:.0f}", r.events_per_second),
                     r.parked >= kParkedCountCap ? fmt::format("{}+", kParkedCountCap) : std::to_string(r.parked),
                     state_text(r.state)});
  print_table(c.out, table, {1, 2, 3, 4, 5});
  c.out << fmt::format("(head position {})\n", head.value());
  return 0;
}

struct ParkedArgs {
  std::string store;
  std::string name;
  std::uint64_t after = 0;
  std::size_t count = 100;
  bool json = false;
};

// The generations of `name` that can hold parked events: the serving one and a shadow being rebuilt.
Result<std::vector<Generation>> live_generations(ProjectionStorage& storage, const std::string& name) {
  STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> state, storage.load_state(name));
  if (!state) return Status::not_found(fmt::format("no projection \"{}\" in this store", name));
  std::vector<Generation> generations{state->generation};
  if (state->rebuilding()) generations.push_back(state->shadow_generation);
  return generations;
}

int parked_verb(const Context& c, const ParkedArgs& a) {
  auto store = open_for_reading(c, a.store);
  if (!store.ok()) return fail(c, store.status());
  ProjectionStorage& storage = (*store)->projection_storage();
  auto generations = live_generations(storage, a.name);
  if (!generations.ok()) return fail(c, generations.status());
  std::vector<std::vector<std::string>> table{
      {"position", "event", "type", "attempts", "parked at", "generation", "error"}};
  std::string json = "[";
  for (Generation g : *generations) {
    auto parked = storage.list_parked(a.name, g, Position(a.after), a.count);
    if (!parked.ok()) return fail(c, parked.status());
    for (const auto& p : *parked) {
      const RecordedEvent& e = p.event;
      if (a.json) {
        json += fmt::format(R"({}{{"generation":{},"attempts":{},"parked_at":{},"error":{},"event":{}}})",
                            json.size() == 1 ? "" : ",", g, p.attempts, json_string(format_time(p.parked_at)),
                            json_string(p.error.to_string()), event_json(e));
      } else {
        table.push_back({std::to_string(e.position.value()), fmt::format("{}@{}", e.stream_id, e.version.value()),
                         e.type, std::to_string(p.attempts), format_time(p.parked_at), std::to_string(g),
                         p.error.to_string()});
      }
    }
  }
  if (a.json) {
    c.out << json << "]\n";
    return 0;
  }
  if (table.size() == 1) {
    c.out << fmt::format("projection \"{}\" has no parked event\n", a.name);
    return 0;
  }
  print_table(c.out, table, {0, 3});
  return 0;
}

struct ParkedEventArgs {
  std::string store;
  std::string name;
  std::uint64_t position = 0;
};

int skip_verb(const Context& c, const ParkedEventArgs& a) {
  auto store = open_for_writing(
      c, a.store, "skip",
      fmt::format("Projector::skip_parked({}) on projection \"{}\", or its admin page", a.position, a.name));
  if (!store.ok()) return fail(c, store.status());
  ProjectionStorage& storage = (*store)->projection_storage();
  auto state = storage.load_state(a.name);
  if (!state.ok()) return fail(c, state.status());
  if (!*state) return fail(c, Status::not_found(fmt::format("no projection \"{}\" in this store", a.name)));
  ProjectionWriteBatch batch(a.name);
  bool found = false;
  auto generations = live_generations(storage, a.name);
  if (!generations.ok()) return fail(c, generations.status());
  for (Generation g : *generations) {
    auto parked = storage.get_parked(a.name, g, Position(a.position));
    if (!parked.ok()) return fail(c, parked.status());
    if (!*parked) continue;
    found = true;
    batch.unpark(g, Position(a.position));
  }
  if (!found)
    return fail(
        c, Status::not_found(fmt::format("projection \"{}\" has no parked event at position {}", a.name, a.position)));
  // The unchanged state as the expected one, as Projector::skip_parked does.
  batch.set_state(**state, **state);
  if (Status s = storage.commit(batch); !s.ok()) return fail(c, s);
  c.out << fmt::format("skipped: projection \"{}\" no longer holds the event at position {} parked\n", a.name,
                       a.position);
  return 0;
}

// The handler of projection `name` from the application's command, or an error saying why there is none.
Result<std::unique_ptr<ProjectionHandler>> handler_of(const Context& c, const std::string& name,
                                                      std::string_view verb) {
  auto factory = c.options.projections.find(name);
  if (factory == c.options.projections.end())
    return Status::invalid_argument(fmt::format(
        "{} {}: this command does not have projection \"{}\"'s code, which {} runs. Build your application's own "
        "command with strata::tools::run and the projection in CommandOptions::projections, or call Projector::{} "
        "in the application",
        c.options.program, verb, name, verb, verb == "retry" ? "retry_parked" : "rebuild"));
  return factory->second();
}

int retry_verb(const Context& c, const ParkedEventArgs& a) {
  auto handler = handler_of(c, a.name, "retry");
  if (!handler.ok()) return fail(c, handler.status());
  auto store = open_for_writing(
      c, a.store, "retry",
      fmt::format("Projector::retry_parked({}) on projection \"{}\", or its admin page", a.position, a.name));
  if (!store.ok()) return fail(c, store.status());
  Projector projector(**store, (*store)->projection_storage(), std::move(*handler));
  if (Status s = projector.retry_parked(Position(a.position)); !s.ok()) return fail(c, s);
  c.out << fmt::format("retried: the event at position {} applied to projection \"{}\"\n", a.position, a.name);
  return 0;
}

struct RebuildArgs {
  std::string store;
  std::string name;
  bool terminal = false;
};

std::string progress_text(const RebuildProgress& p) {
  const double done =
      p.target.value() == 0
          ? 1.0
          : std::min(1.0, static_cast<double>(p.position.value()) / static_cast<double>(p.target.value()));
  return fmt::format("{:5.1f}%  {}/{} events  {:.0f} events/s  ETA {}", done * 100, p.position.value(),
                     p.target.value(), p.events_per_second, p.eta ? fmt::format("{}s", p.eta->count()) : "-");
}

int rebuild_verb(const Context& c, const RebuildArgs& a) {
  auto handler = handler_of(c, a.name, "rebuild");
  if (!handler.ok()) return fail(c, handler.status());
  auto store = open_for_writing(c, a.store, "rebuild",
                                fmt::format("Projector::rebuild() on projection \"{}\", or its admin page", a.name));
  if (!store.ok()) return fail(c, store.status());
  Projector projector(**store, (*store)->projection_storage(), std::move(*handler));
  if (Status s = projector.start(); !s.ok()) return fail(c, s);
  const Generation before = projector.status().generation;
  if (Status s = projector.rebuild(); !s.ok()) return fail(c, s);
  auto last_line = std::chrono::steady_clock::now();
  for (;;) {
    const ProjectorStatus status = projector.status();
    if (status.state == ProjectorState::kFailed) return fail(c, status.error);
    if (!status.rebuild && status.generation != before) break;
    if (status.rebuild) {
      if (a.terminal) {
        const double done = status.rebuild->target.value() == 0
                                ? 1.0
                                : std::min(1.0, static_cast<double>(status.rebuild->position.value()) /
                                                    static_cast<double>(status.rebuild->target.value()));
        const auto filled = static_cast<std::size_t>(done * 30);
        c.out << '\r' << '[' << std::string(filled, '#') << std::string(30 - filled, '.') << "] "
              << progress_text(*status.rebuild) << "   ";
        c.out.flush();
      } else if (std::chrono::steady_clock::now() - last_line >= std::chrono::seconds(1)) {
        c.out << "rebuilding " << a.name << ": " << progress_text(*status.rebuild) << '\n';
        last_line = std::chrono::steady_clock::now();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (a.terminal) c.out << '\n';
  if (Status s = projector.stop(); !s.ok()) return fail(c, s);
  const ProjectorStatus done = projector.status();
  c.out << fmt::format("rebuilt projection \"{}\": generation {} serves, at position {}\n", a.name, done.generation,
                       done.position.value());
  return 0;
}

}  // namespace

void add_projection_verbs(CLI::App& app, Context& c, Action& action) {
  {
    auto [a, s] = verb<ProjectionsArgs>(app, action, "projections",
                                        "Each projection's position, lag in events and seconds, rate, parked events "
                                        "and state",
                                        [&c](const ProjectionsArgs& x) { return projections_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("--interval", a->interval, "Seconds to watch checkpoints move, for events/s (0: skip)")
        ->capture_default_str();
    s->add_flag("--json", a->json, "One JSON object");
  }
  {
    auto [a, s] = verb<ParkedArgs>(app, action, "parked", "The events a projection parked, with their errors",
                                   [&c](const ParkedArgs& x) { return parked_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("NAME", a->name, "The projection")->required();
    s->add_option("--after", a->after, "Only positions after this one");
    s->add_option("--count", a->count, "At most this many per generation")->capture_default_str();
    s->add_flag("--json", a->json, "One JSON array");
  }
  for (const bool retry : {true, false}) {
    auto [a, s] =
        retry ? verb<ParkedEventArgs>(app, action, "retry",
                                      "Apply a parked event again with the projection's handler (in an "
                                      "application's own command)",
                                      [&c](const ParkedEventArgs& x) { return retry_verb(c, x); })
              : verb<ParkedEventArgs>(app, action, "skip", "Drop a parked event: the projection will not apply it",
                                      [&c](const ParkedEventArgs& x) { return skip_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("NAME", a->name, "The projection")->required();
    s->add_option("POSITION", a->position, "The parked event's position")->required();
  }
  {
    auto [a, s] = verb<RebuildArgs>(app, action, "rebuild",
                                    "Rebuild a projection's read models from the start of the log (in an "
                                    "application's own command), with progress",
                                    [&c](const RebuildArgs& x) { return rebuild_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("NAME", a->name, "The projection")->required();
    a->terminal = c.terminal;
  }
}

}  // namespace strata::tools
