// The `strata` command's entry points: the CLI11 application, its verbs (verbs.h), and the opening of
// stores shared by them.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <vector>

#include "strata/tools/command.h"
#include "verbs.h"

namespace strata::tools {

int fail(const Context& c, const Status& status) {
  c.err << c.options.program << ": " << status.to_string() << '\n';
  return 1;
}

Result<std::unique_ptr<RocksEventStore>> open_for_reading(const Context& c, const std::string& path) {
  return RocksEventStore::open_read_only(c.options.store, path);
}

Result<std::unique_ptr<RocksEventStore>> open_for_writing(const Context& c, const std::string& path,
                                                          std::string_view verb, std::string_view through_application) {
  RocksEventStore::Options options = c.options.store;
  options.create_if_missing = false;
  auto store = RocksEventStore::open(options, path);
  if (store.ok() || store.status().code() != StatusCode::kUnavailable) return store;
  return Status::unavailable(fmt::format(
      "{} {}: the store \"{}\" is open in another process, and RocksDB lets one process write a store; {} changes "
      "it, so do it through that process: {} (reading verbs such as info, log and projections work meanwhile)",
      c.options.program, verb, path, verb, through_application));
}

namespace {

int run_command(std::span<const std::string> args, std::ostream& out, std::ostream& err, const CommandOptions& options,
                bool terminal) {
  Context c{out, err, options, terminal};
  CLI::App app("Operate a strata event store: look inside it, follow it, check it, copy it.", options.program);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Every verb's help");
  Action action;
  add_store_verbs(app, c, action);
  add_projection_verbs(app, c, action);
  add_transfer_verbs(app, c, action);
  add_lifecycle_verbs(app, c, action);
  add_serve_verb(app, c, action);

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();  // the chosen verb's help, when a verb was given
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    err << options.program << ": " << e.what() << "\n(run " << options.program << " --help)\n";
    return 2;
  }
  if (!action) return 2;
  try {
    return action();
  } catch (const std::exception& e) {
    err << options.program << ": " << e.what() << '\n';
    return 1;
  }
}

}  // namespace

int run(std::span<const std::string> args, std::ostream& out, std::ostream& err, const CommandOptions& options) {
  return run_command(args, out, err, options, /*terminal=*/false);
}

int run(int argc, char** argv, const CommandOptions& options) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return run_command(args, std::cout, std::cerr, options, isatty(STDOUT_FILENO) == 1);
}

}  // namespace strata::tools
