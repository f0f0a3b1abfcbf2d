// The verbs of the `strata` command (command.h), grouped by what they touch: the store and its log
// (store_verbs.cc), projections (projection_verbs.cc), copies in and out (transfer_verbs.cc), and
// deletes, truncations and forgetting subjects (lifecycle_verbs.cc).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "strata/eventstore/rocks_event_store.h"
#include "strata/tools/command.h"

namespace strata::tools {

struct Context {
  std::ostream& out;
  std::ostream& err;
  const CommandOptions& options;
  // Standard output is a terminal: progress is drawn in place.
  bool terminal = false;
};

// What the chosen verb does, set by its CLI11 callback; returns the exit status.
using Action = std::function<int()>;

// A verb: its arguments, which its options fill, and its subcommand.
template <typename Args>
struct Verb {
  std::shared_ptr<Args> args;
  CLI::App* sub;
};

// Adds verb `name` to `app`; when it is chosen, `action` runs `run` with its arguments.
template <typename Args>
Verb<Args> verb(CLI::App& app, Action& action, const char* name, const char* help,
                std::function<int(const Args&)> run) {
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(name, help);
  sub->callback([&action, args, run] { action = [args, run] { return run(*args); }; });
  return {args, sub};
}

void add_store_verbs(CLI::App& app, Context& c, Action& action);
void add_projection_verbs(CLI::App& app, Context& c, Action& action);
void add_transfer_verbs(CLI::App& app, Context& c, Action& action);
void add_serve_verb(CLI::App& app, Context& c, Action& action);
void add_lifecycle_verbs(CLI::App& app, Context& c, Action& action);

// Prints "<program>: <status>" on the error stream; returns 1.
int fail(const Context& c, const Status& status);

// Opens the store at `path` for reading: read-only, beside an application that may hold it.
Result<std::unique_ptr<RocksEventStore>> open_for_reading(const Context& c, const std::string& path);

// Opens the store at `path` for writing. When another process holds it, the error says that `verb`
// changes the store and names `through_application`: how to do it in the process that holds it.
Result<std::unique_ptr<RocksEventStore>> open_for_writing(const Context& c, const std::string& path,
                                                          std::string_view verb, std::string_view through_application);

}  // namespace strata::tools
