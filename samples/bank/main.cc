// The bank demo: an account opened, credited and debited through the Repository, an overdraft refused
// by a business rule, a concurrent writer caught by optimistic concurrency, and the stream as stored.
//
//   bank_demo [--memory] [--data DIR] [--postgres URL [--schema NAME]]
//
// With a durable store, running it again continues the same account: the state survived the restart.
// --postgres runs the same code on PgEventStore (read models and checkpoints in the same database):
// only the store opened differs.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "bank/account.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"
#include "strata/projections/projection_storage.h"
#ifdef STRATA_HAVE_ROCKS
#include "strata/eventstore/rocks_event_store.h"
#endif
#ifdef STRATA_HAVE_PGSTORE
#include "strata/pgstore/pg_event_store.h"
#endif
#ifdef STRATA_HAVE_PROJECTIONS
#include "bank/balances.h"
#include "movies/catalog.h"
#include "strata/projections/memory_projection_storage.h"
#endif

namespace {

std::string money(std::int64_t cents) {
  return fmt::format("{}{}.{:02}", cents < 0 ? "-" : "", std::llabs(cents) / 100, std::llabs(cents) % 100);
}

// `read_models`: where the projections keep their read models and checkpoints; nullptr: in memory.
strata::Status run(strata::EventStore& store, [[maybe_unused]] strata::ProjectionStorage* read_models) {
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::every(10);
  strata::Repository<bank::Account> accounts(store, options);
  STRATA_ASSIGN_OR_RETURN(strata::StreamId id, strata::StreamId::parse("account-alice"));

  // Load the account if an earlier run created it; otherwise open it.
  bank::Account acct = accounts.create(id);
  auto loaded = accounts.load(id);
  if (loaded.ok()) {
    acct = std::move(*loaded);
    fmt::print("account-alice found with {} events, balance {}: the state survived the restart\n",
               acct.version().value(), money(acct.balance()));
  } else if (loaded.status().code() == strata::StatusCode::kNotFound) {
    STRATA_RETURN_IF_ERROR(acct.open("Alice"));
    fmt::print("opened account-alice for Alice\n");
  } else {
    return loaded.status();
  }

  STRATA_RETURN_IF_ERROR(acct.deposit(10'000));
  STRATA_RETURN_IF_ERROR(acct.withdraw(3'000));
  STRATA_ASSIGN_OR_RETURN(strata::AppendResult saved, accounts.save(acct));
  fmt::print("deposited {}, withdrew {}: balance {} at version {} (log positions {}..{})\n", money(10'000),
             money(3'000), money(acct.balance()), saved.stream_version.value(), saved.first_position.value(),
             saved.last_position.value());

  // A business rule refuses the command; nothing is recorded.
  strata::Status overdraft = acct.withdraw(acct.balance() + 50'000);
  fmt::print("withdraw {}: {}\n", money(acct.balance() + 50'000), overdraft.to_string());

  // Two users load the same version; the second save is caught and retried on fresh state.
  STRATA_ASSIGN_OR_RETURN(bank::Account first, accounts.load(id));
  STRATA_ASSIGN_OR_RETURN(bank::Account second, accounts.load(id));
  STRATA_RETURN_IF_ERROR(first.deposit(2'500));
  STRATA_RETURN_IF_ERROR(accounts.save(first));
  STRATA_RETURN_IF_ERROR(second.withdraw(1'000));
  auto stale = accounts.save(second);
  fmt::print("concurrent save refused: {}\n", stale.ok() ? "no conflict" : stale.status().message());
  if (stale.status().code() == strata::StatusCode::kWrongExpectedVersion) {
    STRATA_ASSIGN_OR_RETURN(second, accounts.load(id));
    const strata::Version reloaded_at = second.version();
    STRATA_RETURN_IF_ERROR(second.withdraw(1'000));
    STRATA_RETURN_IF_ERROR(accounts.save(second));
    fmt::print("reloaded at version {} and retried: balance {}\n", reloaded_at.value(), money(second.balance()));
  }

  STRATA_ASSIGN_OR_RETURN(strata::Version head, store.stream_head(id));
  STRATA_ASSIGN_OR_RETURN(strata::StreamSlice tail,
                          store.read_stream(id, strata::ReadDirection::kBackward, strata::kEndOfStream, 6));
  fmt::print("\nstream account-alice, the last {} of its {} events:\n", tail.events.size(), head.value());
  for (auto it = tail.events.rbegin(); it != tail.events.rend(); ++it)
    fmt::print("  v{:<3} #{:<4} {:<18} {}\n", it->version.value(), it->position.value(), it->type, it->payload);
  // Time travel: the account as it was after its third event.
  STRATA_ASSIGN_OR_RETURN(bank::Account then, accounts.load_at(id, 3));
  fmt::print("\nas of version 3 the balance was {}\n", money(then.balance()));

  STRATA_ASSIGN_OR_RETURN(bank::Account final_state, accounts.load(id));
#ifdef STRATA_HAVE_PROJECTIONS
  // The read side: projectors catch up from their checkpoints, then the read models are shown.
  strata::MemoryProjectionStorage in_memory;
  if (read_models == nullptr) read_models = &in_memory;
  STRATA_ASSIGN_OR_RETURN(std::string balances, bank::show_balances(store, *read_models));
  fmt::print("\nread model bank.balances:\n{}", balances);
  STRATA_ASSIGN_OR_RETURN(std::string catalog, movies::show_catalog(store, *read_models));
  fmt::print("\nread model movies.visible:\n{}", catalog);
#endif
  accounts.flush_snapshots();
  fmt::print("\nfinal balance of {}: {} (version {}, {} events in the log, {} snapshots written this run)\n",
             final_state.owner(), money(final_state.balance()), final_state.version().value(),
             store.head_position().value(), accounts.snapshot_stats().written.load());
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "data/bank";
  std::string postgres, schema = "bank";
  bool memory = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--memory") == 0) {
      memory = true;
    } else if (std::strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--postgres") == 0 && i + 1 < argc) {
      postgres = argv[++i];
    } else if (std::strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
      schema = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--memory] [--data DIR] [--postgres URL [--schema NAME]]\n", argv[0]);
      return 2;
    }
  }

  std::unique_ptr<strata::EventStore> store;
  // The durable stores keep the read models and checkpoints in their own database; in memory otherwise.
  strata::ProjectionStorage* read_models = nullptr;
  if (!postgres.empty()) {
#ifdef STRATA_HAVE_PGSTORE
    strata::PgEventStore::Options options;
    options.conninfo = postgres;
    options.schema = schema;
    auto opened = strata::PgEventStore::open(options);
    if (!opened.ok()) {
      fmt::print(stderr, "cannot open the PostgreSQL store: {}\n", opened.status().to_string());
      return 1;
    }
    read_models = &(*opened)->projection_storage();
    store = std::move(*opened);
    fmt::print("strata bank demo: PostgreSQL event store, schema {}\n\n", schema);
#else
    std::fprintf(stderr, "this build has no PostgreSQL store (strata::pgstore)\n");
    return 2;
#endif
  }
#ifdef STRATA_HAVE_ROCKS
  if (!memory && store == nullptr) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(data_dir).parent_path(), ec);
    auto opened = strata::RocksEventStore::open(strata::RocksEventStore::Options{}, data_dir);
    if (!opened.ok()) {
      fmt::print(stderr, "cannot open the store at {}: {}\n", data_dir, opened.status().to_string());
      return 1;
    }
    read_models = &(*opened)->projection_storage();
    store = std::move(*opened);
    fmt::print("strata bank demo: RocksDB event store in {}\n\n", data_dir);
  }
#else
  memory = true;
#endif
  if (memory && store == nullptr) {
    store = std::make_unique<strata::MemoryEventStore>();
    fmt::print("strata bank demo: in-memory event store\n\n");
  }

  strata::Status s = run(*store, read_models);
  if (!s.ok()) {
    fmt::print(stderr, "demo failed: {}\n", s.to_string());
    return 1;
  }
  return 0;
}
