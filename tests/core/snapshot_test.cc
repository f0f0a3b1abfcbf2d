#include "strata/core/snapshot.h"

#include <doctest/doctest.h>

#include <random>

#include "strata/core/backend/snapshot_encoding.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"

namespace {

struct Credited {
  static constexpr std::string_view kType = "ledger.credited.v1";
  std::int64_t amount = 0;
  std::string memo;
  static constexpr auto kFields =
      strata::fields(strata::field("amount", &Credited::amount), strata::field("memo", &Credited::memo));
  bool operator==(const Credited&) const = default;
};
struct Debited {
  static constexpr std::string_view kType = "ledger.debited.v1";
  std::int64_t amount = 0;
  static constexpr auto kFields = strata::fields(strata::field("amount", &Debited::amount));
  bool operator==(const Debited&) const = default;
};

// A ledger whose state has a field table, so it can be snapshotted.
class Ledger : public strata::Aggregate<Ledger, strata::Events<Credited, Debited>> {
 public:
  void credit(std::int64_t amount, std::string memo) { record(Credited{amount, std::move(memo)}); }
  void debit(std::int64_t amount) { record(Debited{amount}); }
  std::int64_t balance() const { return balance_; }

 private:
  friend Aggregate;
  void apply(const Credited& e) {
    balance_ += e.amount;
    ++entries_;
    last_memo_ = e.memo;
  }
  void apply(const Debited& e) {
    balance_ -= e.amount;
    ++entries_;
  }
  std::int64_t balance_ = 0;
  std::int64_t entries_ = 0;
  std::string last_memo_;

 public:
  static constexpr auto kFields =
      strata::fields(strata::field("balance", &Ledger::balance_), strata::field("entries", &Ledger::entries_),
                     strata::field("last_memo", &Ledger::last_memo_));
};

// The same events with another state shape: its snapshots must not be used by Ledger.
class LedgerV2 : public strata::Aggregate<LedgerV2, strata::Events<Credited, Debited>> {
 private:
  friend Aggregate;
  void apply(const Credited& e) { total_ += e.amount; }
  void apply(const Debited& e) { total_ -= e.amount; }
  std::int64_t total_ = 0;

 public:
  static constexpr auto kFields = strata::fields(strata::field("balance", &LedgerV2::total_));
};

// A state that can become NaN from finite events: 0 / 0.
struct Measured {
  static constexpr std::string_view kType = "test.ratio.measured.v1";
  double part = 0;
  double whole = 0;
  static constexpr auto kFields =
      strata::fields(strata::field("part", &Measured::part), strata::field("whole", &Measured::whole));
  bool operator==(const Measured&) const = default;
};

class Ratio : public strata::Aggregate<Ratio, strata::Events<Measured>> {
 public:
  void measure(double part, double whole) { record(Measured{part, whole}); }

 private:
  friend Aggregate;
  void apply(const Measured& e) { ratio_ = e.part / e.whole; }
  double ratio_ = 0;

 public:
  static constexpr auto kFields = strata::fields(strata::field("ratio", &Ratio::ratio_));
};

strata::StreamId sid(std::string_view s) { return strata::StreamId::parse(s).value(); }

// Saves `n` single-event commits with a deterministic mix of credits and debits.
void commit_events(strata::Repository<Ledger>& repo, const strata::StreamId& id, int n, std::mt19937& rng) {
  auto loaded = repo.load(id);
  Ledger ledger = loaded.ok() ? std::move(*loaded) : repo.create(id);
  for (int i = 0; i < n; ++i) {
    if (rng() % 3 == 0) {
      ledger.debit(static_cast<std::int64_t>(rng() % 50));
    } else {
      ledger.credit(static_cast<std::int64_t>(rng() % 100), "memo " + std::to_string(rng() % 1000));
    }
    REQUIRE(repo.save(ledger).ok());
  }
}

// The state of events 1..version folded without snapshots.
std::string fold_json(strata::EventStore& store, const strata::StreamId& id, strata::Version version) {
  strata::Fold<Ledger> fold;
  REQUIRE(store.visit_stream(id, 1, version, [&](const strata::EventView& e) { return fold.apply(e); }).ok());
  REQUIRE(fold.version() == version);
  return strata::to_json(fold.state());
}

}  // namespace

TEST_CASE("a snapshot encodes and decodes to the same record, and damage is kCorruption") {
  strata::SnapshotRecord r{42, strata::schema_fingerprint<Ledger>(), 3, R"({"balance":5})"};
  std::string bytes = strata::encode_snapshot(r);
  CHECK(strata::decode_snapshot(bytes).value() == r);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x20);
    CHECK(strata::decode_snapshot(damaged).status().code() == strata::StatusCode::kCorruption);
  }
  CHECK(strata::decode_snapshot(bytes.substr(0, bytes.size() - 1)).status().code() == strata::StatusCode::kCorruption);
  CHECK(strata::decode_snapshot("").status().code() == strata::StatusCode::kCorruption);
}

TEST_CASE("the schema fingerprint changes with the field table") {
  CHECK(strata::schema_fingerprint<Ledger>() != strata::schema_fingerprint<LedgerV2>());
  CHECK(strata::schema_fingerprint<Credited>() != strata::schema_fingerprint<Debited>());
  CHECK(strata::schema_fingerprint<Ledger>() == strata::schema_fingerprint<Ledger>());
}

TEST_CASE("snapshots are written every N events off the command path, kept to the last K, and used on load") {
  strata::MemoryEventStore store;
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::every(10, 2);
  strata::Repository<Ledger> repo(store, options);
  const auto id = sid("ledger-1");
  std::mt19937 rng(7);
  commit_events(repo, id, 35, rng);
  repo.flush_snapshots();
  CHECK(store.snapshot_versions(id).value() == std::vector<strata::Version>{20, 30});
  CHECK(repo.snapshot_stats().written.load() == 3);

  Ledger loaded = repo.load(id).value();
  CHECK(loaded.version() == 35);
  CHECK(repo.snapshot_stats().loaded.load() >= 1);
  CHECK(strata::to_json(loaded) == fold_json(store, id, 35));

  // The loaded aggregate keeps working: its expected version is right.
  loaded.credit(1, "after snapshot");
  CHECK(repo.save(loaded).value().stream_version == 36);
}

TEST_CASE("snapshots on demand") {
  strata::MemoryEventStore store;
  strata::Repository<Ledger> repo(store);
  const auto id = sid("ledger-2");
  std::mt19937 rng(11);
  commit_events(repo, id, 5, rng);
  CHECK(store.snapshot_versions(id).value().empty());
  Ledger ledger = repo.load(id).value();
  REQUIRE(repo.snapshot(ledger).ok());
  CHECK(store.snapshot_versions(id).value() == std::vector<strata::Version>{5});
  ledger.credit(1, "unsaved");
  CHECK(repo.snapshot(ledger).code() == strata::StatusCode::kInvalidArgument);
}

TEST_CASE("a truncated aggregate loads from a snapshot at or above the truncation, and without one fails clearly") {
  strata::MemoryEventStore store;
  strata::Repository<Ledger> repo(store);
  const auto id = sid("ledger-3");
  const auto bare = sid("ledger-4");
  std::mt19937 rng(12);
  commit_events(repo, id, 20, rng);
  commit_events(repo, bare, 20, rng);
  Ledger before = repo.load(id).value();
  REQUIRE(repo.snapshot(before).ok());  // at version 20
  commit_events(repo, id, 5, rng);
  Ledger expected = repo.load(id).value();

  // Truncated below the snapshot: the load starts from it and replays what is left.
  REQUIRE(store.truncate_stream(id, strata::ExpectedVersion::any(), 18).ok());
  Ledger loaded = repo.load(id).value();
  CHECK(loaded.version() == 25);
  CHECK(loaded.balance() == expected.balance());
  // A state before the truncation point is gone.
  CHECK(repo.load_at(id, 10).status().code() == strata::StatusCode::kStreamTruncated);

  // No snapshot to start from: a clear, typed error, never a state built from part of the history.
  REQUIRE(store.truncate_stream(bare, strata::ExpectedVersion::any(), 5).ok());
  auto failed = repo.load(bare);
  REQUIRE(!failed.ok());
  CHECK(failed.status().code() == strata::StatusCode::kStreamTruncated);
  CHECK(failed.status().message().find("versions below 5 were removed") != std::string_view::npos);

  // Deleted: kStreamDeleted.
  REQUIRE(store.delete_stream(id, strata::ExpectedVersion::any(), strata::DeleteMode::kSoft).ok());
  CHECK(repo.load(id).status().code() == strata::StatusCode::kStreamDeleted);
}

TEST_CASE("a corrupted snapshot is reported, ignored and replaced, and the state is the same") {
  strata::MemoryEventStore store;
  std::vector<strata::SnapshotIncident> incidents;
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::every(10);
  options.on_snapshot_incident = [&](const strata::SnapshotIncident& i) { incidents.push_back(i); };
  strata::Repository<Ledger> repo(store, options);
  const auto id = sid("ledger-3");
  std::mt19937 rng(3);
  commit_events(repo, id, 12, rng);
  repo.flush_snapshots();
  REQUIRE(store.snapshot_versions(id).value() == std::vector<strata::Version>{10});
  const strata::SnapshotSchema schema = strata::snapshot_schema_of<Ledger>();
  std::string bytes = strata::encode_snapshot(store.load_snapshot(id, 10, schema).value().value());
  bytes[bytes.size() / 2] ^= 0x01;
  REQUIRE(store.overwrite_snapshot_bytes(id, 10, schema, bytes).ok());

  Ledger loaded = repo.load(id).value();
  CHECK(strata::to_json(loaded) == fold_json(store, id, 12));
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].problem == strata::SnapshotProblem::kCorrupt);
  CHECK(incidents[0].status.code() == strata::StatusCode::kCorruption);
  CHECK(repo.snapshot_stats().ignored.load() == 1);

  repo.flush_snapshots();  // a fresh snapshot replaced the damaged one
  CHECK(store.load_snapshot(id, strata::kEndOfStream, schema).value().value().version == 12);
  CHECK(strata::to_json(repo.load(id).value()) == fold_json(store, id, 12));
  CHECK(incidents.size() == 1);
}

TEST_CASE("a snapshot of another schema is never used, and an undecodable one is ignored and reported") {
  strata::MemoryEventStore store;
  std::vector<strata::SnapshotProblem> problems;
  strata::RepositoryOptions options;
  options.on_snapshot_incident = [&](const strata::SnapshotIncident& i) { problems.push_back(i.problem); };
  const auto id = sid("ledger-4");
  std::mt19937 rng(5);
  {
    strata::Repository<Ledger> writer(store);
    commit_events(writer, id, 6, rng);
  }
  {
    // Code with another state shape snapshots the same stream.
    strata::Repository<LedgerV2> other(store);
    REQUIRE(other.snapshot(other.load(id).value()).ok());
  }
  strata::Repository<Ledger> repo(store, options);
  CHECK(strata::to_json(repo.load(id).value()) == fold_json(store, id, 6));
  CHECK(problems.empty());  // not Ledger's: passed over, not a problem
  CHECK(repo.snapshot_stats().loaded.load() == 0);

  // Right fingerprint, payload that does not decode into the state.
  REQUIRE(store.save_snapshot(id, {6, strata::schema_fingerprint<Ledger>(), 1, R"({"balance":"lots"})"}).ok());
  CHECK(strata::to_json(repo.load(id).value()) == fold_json(store, id, 6));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == strata::SnapshotProblem::kUndecodable);

  // A snapshot version other than the aggregate's is another schema too.
  REQUIRE(store.save_snapshot(id, {6, strata::schema_fingerprint<Ledger>(), 2, strata::to_json(repo.load(id).value())})
              .ok());
  CHECK(strata::to_json(repo.load(id).value()) == fold_json(store, id, 6));
  // Only the undecodable snapshot of Ledger's own schema is reported again: with snapshots on demand,
  // nothing replaced it.
  CHECK(problems == std::vector<strata::SnapshotProblem>(3, strata::SnapshotProblem::kUndecodable));
}

TEST_CASE(
    "two builds with different state schemas keep their own snapshots side by side and never replace each other's") {
  // A rolling deployment: the old and the new build load and save the same streams, snapshotting every
  // 5 events (the same versions), each with its own state schema.
  strata::MemoryEventStore store;
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::every(5);
  strata::Repository<Ledger> old_build(store, options);
  strata::Repository<LedgerV2> new_build(store, options);
  const auto id = sid("ledger-rolling");
  std::mt19937 rng(17);
  commit_events(old_build, id, 10, rng);
  old_build.flush_snapshots();
  const strata::SnapshotSchema old_schema = strata::snapshot_schema_of<Ledger>();
  const strata::SnapshotSchema new_schema = strata::snapshot_schema_of<LedgerV2>();
  const std::string old_at_10 = store.load_snapshot(id, 10, old_schema).value().value().payload;

  for (int round = 0; round < 3; ++round) {
    LedgerV2 v2 = new_build.load(id).value();
    REQUIRE(new_build.snapshot(v2).ok());  // the new build writes its own at the same version
    new_build.flush_snapshots();
    Ledger v1 = old_build.load(id).value();
    old_build.flush_snapshots();
    CHECK(strata::to_json(v1) == fold_json(store, id, 10));
  }
  // The old build's snapshot at 10 is still the old build's, and both schemas have one there.
  CHECK(store.load_snapshot(id, 10, old_schema).value().value().payload == old_at_10);
  CHECK(store.load_snapshot(id, 10, new_schema).value().value().version == 10);
  CHECK(old_build.snapshot_stats().loaded.load() == 3);
  CHECK(old_build.snapshot_stats().written.load() == 2);  // at 5 and 10, never again on a load
  CHECK(old_build.snapshot_stats().ignored.load() == 0);
  CHECK(new_build.snapshot_stats().ignored.load() == 0);
}

TEST_CASE("retention keeps each schema's newest snapshots and drops other schemas' older than the oldest kept") {
  strata::MemoryEventStore store;
  const auto id = sid("ledger-retain");
  const strata::SnapshotSchema a{1, 1}, b{2, 1};
  for (strata::Version v : {10, 20, 30, 40}) REQUIRE(store.save_snapshot(id, {v, a.fingerprint, 1, "{}"}).ok());
  for (strata::Version v : {15, 35}) REQUIRE(store.save_snapshot(id, {v, b.fingerprint, 1, "{}"}).ok());
  REQUIRE(store.retain_snapshots(id, a, 2).ok());  // a keeps 30, 40; b's 15 is older than 30
  CHECK(store.snapshot_versions(id).value() == std::vector<strata::Version>{30, 35, 40});
  REQUIRE(store.retain_snapshots(id, b, 2).ok());  // b has one: nothing of a's goes
  CHECK(store.snapshot_versions(id).value() == std::vector<strata::Version>{30, 35, 40});
  REQUIRE(store.retain_snapshots(id, a, 0).ok());
  CHECK(store.snapshot_versions(id).value() == std::vector<strata::Version>{35});
}

TEST_CASE("SnapshotPolicy::never() neither reads nor writes snapshots") {
  strata::MemoryEventStore store;
  const auto id = sid("ledger-never");
  std::mt19937 rng(23);
  {
    strata::RepositoryOptions writes;
    writes.snapshots = strata::SnapshotPolicy::every(5);
    strata::Repository<Ledger> writer(store, writes);
    commit_events(writer, id, 10, rng);
  }
  REQUIRE(store.snapshot_versions(id).value() == std::vector<strata::Version>{5, 10});
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::never();
  strata::Repository<Ledger> repo(store, options);
  Ledger ledger = repo.load(id).value();
  CHECK(repo.snapshot_stats().loaded.load() == 0);
  CHECK(strata::to_json(ledger) == fold_json(store, id, 10));
  commit_events(repo, id, 10, rng);
  repo.flush_snapshots();
  CHECK(store.snapshot_versions(id).value() == std::vector<strata::Version>{5, 10});
  auto on_demand = repo.snapshot(repo.load(id).value());
  CHECK(on_demand.code() == strata::StatusCode::kInvalidArgument);
  CHECK(on_demand.message() == "snapshots are off for this repository (SnapshotPolicy::never())");
}

TEST_CASE("with snapshots on demand only, a damaged snapshot is reported and ignored on load but not replaced") {
  strata::MemoryEventStore store;
  std::vector<strata::SnapshotIncident> incidents;
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::on_demand();
  options.on_snapshot_incident = [&](const strata::SnapshotIncident& i) { incidents.push_back(i); };
  strata::Repository<Ledger> repo(store, options);
  const auto id = sid("ledger-demand");
  std::mt19937 rng(29);
  commit_events(repo, id, 4, rng);
  REQUIRE(repo.snapshot(repo.load(id).value()).ok());
  const strata::SnapshotSchema schema = strata::snapshot_schema_of<Ledger>();
  REQUIRE(store.overwrite_snapshot_bytes(id, 4, schema, "damaged").ok());
  CHECK(strata::to_json(repo.load(id).value()) == fold_json(store, id, 4));
  repo.flush_snapshots();
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].problem == strata::SnapshotProblem::kCorrupt);
  CHECK(store.load_snapshot(id, 4, schema).status().code() == strata::StatusCode::kCorruption);  // still damaged
}

namespace {
// A snapshot store that refuses every write.
class FailingSnapshots final : public strata::SnapshotStore {
 public:
  strata::Status save_snapshot(const strata::StreamId&, const strata::SnapshotRecord&) override {
    return strata::Status::io_error("disk full");
  }
  strata::Result<std::optional<strata::SnapshotRecord>> load_snapshot(const strata::StreamId&, strata::Version,
                                                                      const strata::SnapshotSchema&) override {
    return std::optional<strata::SnapshotRecord>();
  }
  strata::Status retain_snapshots(const strata::StreamId&, const strata::SnapshotSchema&, std::size_t) override {
    return {};
  }
  strata::Result<std::vector<strata::Version>> snapshot_versions(const strata::StreamId&) override {
    return std::vector<strata::Version>{};
  }
};
}  // namespace

TEST_CASE("a failing snapshot write never fails a save, and is counted and reported") {
  strata::MemoryEventStore store;
  FailingSnapshots failing;
  std::atomic<int> reported{0};
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::every(2);
  options.snapshot_store = &failing;
  options.on_snapshot_incident = [&](const strata::SnapshotIncident& i) {
    if (i.problem == strata::SnapshotProblem::kWriteFailed && i.status.code() == strata::StatusCode::kIOError)
      ++reported;
  };
  strata::Repository<Ledger> repo(store, options);
  const auto id = sid("ledger-5");
  std::mt19937 rng(9);
  commit_events(repo, id, 6, rng);
  repo.flush_snapshots();
  CHECK(reported.load() == 3);
  CHECK(repo.snapshot_stats().write_failures.load() == 3);
  CHECK(repo.load(id).value().version() == 6);
}

TEST_CASE("property: with snapshots, the state at every version equals the fold of that prefix") {
  strata::MemoryEventStore store;
  strata::RepositoryOptions options;
  options.snapshots = strata::SnapshotPolicy::every(7, 0);  // keep all, so every load_at can use one
  strata::Repository<Ledger> with(store, options);
  strata::Repository<Ledger> without(store, strata::RepositoryOptions{});
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    const auto id = sid("ledger-p" + std::to_string(seed));
    // Random command sequences: batches of 1..4 events per save.
    Ledger ledger = with.create(id);
    const int saves = 10 + static_cast<int>(rng() % 20);
    for (int s = 0; s < saves; ++s) {
      for (std::uint32_t k = 0; k < 1 + rng() % 4; ++k) {
        if (rng() % 2) {
          ledger.credit(static_cast<std::int64_t>(rng() % 1000), std::string(rng() % 5, 'm'));
        } else {
          ledger.debit(static_cast<std::int64_t>(rng() % 1000));
        }
      }
      REQUIRE(with.save(ledger).ok());
    }
    with.flush_snapshots();
    REQUIRE(!store.snapshot_versions(id).value().empty());
    const strata::Version head = ledger.version();
    for (strata::Version v = 1; v <= head; ++v) {
      const std::string expected = fold_json(store, id, v);
      auto a = with.load_at(id, v);
      REQUIRE(a.ok());
      CHECK(a->version() == v);
      CHECK(strata::to_json(*a) == expected);
      CHECK(strata::to_json(without.load_at(id, v).value()) == expected);
    }
    CHECK(strata::to_json(with.load(id).value()) == strata::to_json(ledger));
  }
}

TEST_CASE("load_at a version beyond the head, or version 0, is kInvalidArgument") {
  strata::MemoryEventStore store;
  strata::Repository<Ledger> repo(store);
  const auto id = sid("ledger-6");
  std::mt19937 rng(1);
  commit_events(repo, id, 3, rng);
  auto beyond = repo.load_at(id, 4);
  CHECK(beyond.status().code() == strata::StatusCode::kInvalidArgument);
  CHECK(beyond.status().message() == "stream \"ledger-6\" has 3 events: version 4 is beyond its head");
  CHECK(repo.load_at(id, 0).status().code() == strata::StatusCode::kInvalidArgument);
  CHECK(repo.load_at(sid("ledger-none"), 1).status().code() == strata::StatusCode::kNotFound);
}

TEST_CASE("load_as_of at the boundaries of commit timestamps") {
  std::int64_t now = 1'000;
  strata::MemoryEventStore::Options options;
  options.clock = [&] { return strata::Timestamp(std::chrono::microseconds(now)); };
  strata::MemoryEventStore store(options);
  strata::Repository<Ledger> repo(store);
  const auto id = sid("ledger-7");
  Ledger ledger = repo.create(id);
  ledger.credit(10, "a");
  REQUIRE(repo.save(ledger).ok());  // v1 at t=1000
  now = 2'000;
  ledger.credit(20, "b");
  ledger.credit(30, "c");
  REQUIRE(repo.save(ledger).ok());  // v2, v3 at t=2000
  now = 3'000;
  ledger.debit(5);
  REQUIRE(repo.save(ledger).ok());  // v4 at t=3000
  auto at = [&](std::int64_t t) { return strata::Timestamp(std::chrono::microseconds(t)); };

  auto before = repo.load_as_of(id, at(999));
  CHECK(before.status().code() == strata::StatusCode::kInvalidArgument);
  CHECK(before.status().message() == "stream \"ledger-7\" has no event committed at or before 999 us since the epoch");
  CHECK(repo.load_as_of(id, at(1'000)).value().version() == 1);
  CHECK(repo.load_as_of(id, at(1'999)).value().version() == 1);
  CHECK(repo.load_as_of(id, at(2'000)).value().version() == 3);
  CHECK(repo.load_as_of(id, at(2'000)).value().balance() == 60);
  CHECK(repo.load_as_of(id, at(2'999)).value().version() == 3);
  CHECK(repo.load_as_of(id, at(3'000)).value().version() == 4);
  CHECK(repo.load_as_of(id, at(1'000'000)).value().balance() == 55);
  CHECK(repo.load_as_of(sid("ledger-none"), at(5)).status().code() == strata::StatusCode::kNotFound);
}

TEST_CASE("load_as_of takes any system-clock time point, such as system_clock::now()") {
  strata::MemoryEventStore store;
  strata::Repository<Ledger> repo(store);
  const auto id = sid("ledger-now");
  std::mt19937 rng(31);
  commit_events(repo, id, 3, rng);
  CHECK(repo.load_as_of(id, std::chrono::system_clock::now()).value().version() == 3);
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  CHECK(repo.load_as_of(id, seconds + std::chrono::seconds(1)).value().version() == 3);
  CHECK(strata::to_timestamp(std::chrono::sys_time<std::chrono::nanoseconds>(std::chrono::nanoseconds(1'999))) ==
        strata::Timestamp(std::chrono::microseconds(1)));
}

TEST_CASE("a state holding a non-finite double is not snapshotted: the write is refused naming the field") {
  strata::MemoryEventStore store;
  std::vector<strata::SnapshotIncident> incidents;
  strata::RepositoryOptions options;
  options.on_snapshot_incident = [&](const strata::SnapshotIncident& i) { incidents.push_back(i); };
  strata::Repository<Ratio> repo(store, options);
  const auto id = sid("ratio-1");
  Ratio r = repo.create(id);
  r.measure(1, 4);
  r.measure(0, 0);  // finite events, NaN state
  REQUIRE(repo.save(r).ok());
  const strata::Status refused = repo.snapshot(repo.load(id).value());
  CHECK(refused.to_string() ==
        "invalid argument: field \"ratio\": non-finite number NaN: strata's numbers are integers that fit in 64 "
        "bits (int64 or uint64) and finite doubles");
  CHECK(store.snapshot_versions(id).value().empty());
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].problem == strata::SnapshotProblem::kWriteFailed);
  CHECK(repo.snapshot_stats().write_failures.load() == 1);
  CHECK(repo.load(id).value().version() == 2);
}
