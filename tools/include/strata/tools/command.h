// The `strata` command: operating a RocksEventStore from a shell. The `strata` program is run() with
// no projections; an application builds its own command by registering the projections it runs, so
// that `retry` and `rebuild` can apply events with their handlers.
//
//   int main(int argc, char** argv) {
//     strata::tools::CommandOptions options;
//     options.projections["bank.balances"] = [] { return strata::make_projection_handler(Balances{}); };
//     return strata::tools::run(argc, argv, options);
//   }
//
// Verbs (each with --help; --json where a script wants it): info, streams, read, log, tail, show,
// projections, parked, retry, skip, rebuild, export, import, verify, backup, backups, restore, compact.
// Verbs that only read open the store read-only (RocksEventStore::open_read_only), so they work while
// an application has it open; verbs that write open it for writing and, when an application holds
// it, say so and how to do the same through that application.
//
// Exit status: 0 done; 1 the operation failed, or verify found damage; 2 the command line is wrong.
//
// Thread safety: run() may be called from any thread; each call opens what it needs and closes it.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projection.h"

namespace strata::tools {

struct CommandOptions {
  // The projections the application runs, by name: a new handler for each call.
  std::map<std::string, std::function<std::unique_ptr<ProjectionHandler>()>> projections;
  // The options stores are opened with (their limits apply to `import`). create_if_missing is ignored:
  // the command never creates a store, except `restore` and `import --create`.
  RocksEventStore::Options store;
  // The program's name in help and messages.
  std::string program = "strata";
};

// Runs the command line `args` (without the program name), writing to `out` and `err`; returns the exit
// status.
int run(std::span<const std::string> args, std::ostream& out, std::ostream& err, const CommandOptions& options = {});

// The same for main()'s arguments, on standard output and standard error.
int run(int argc, char** argv, const CommandOptions& options = {});

}  // namespace strata::tools
