// The parts of PgEventStore shared between its source files: the store's state (PgEventStore::Impl),
// the statements it runs, and the helpers of its commit path and reads.
//
//   pg_event_store.cc   open (schema creation and checks), the notification thread, the high-water mark
//   pg_commit.cc        appends (single and multi-stream): group commit, the one-statement commit and
//                       the full path
//   pg_lifecycle.cc     deleting and truncating streams
//   pg_reads.cc         streams, the log, event lookups, stream heads, infos and lists
//   pg_snapshots.cc     snapshots
//   pg_statements.cc    the text of every statement above, made once per store for its schema
//   pg_projection_storage.cc  the projection storage on the same database
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pg_connection.h"
#include "strata/core/backend/append_checks.h"
#include "strata/core/function_ref.h"
#include "strata/core/personal_data.h"
#include "strata/pgstore/pg_event_store.h"
#include "strata/projections/projection_storage.h"

namespace strata::pg {

// The statements that create the projection storage's tables in schema `s` (an SQL-quoted identifier),
// run by open() inside its schema-creation transaction. Idempotent (IF NOT EXISTS).
std::string projection_tables_sql(const std::string& s);

// The projection storage over `pool`, on the tables of schema `s` (SQL-quoted).
std::unique_ptr<ProjectionStorage> make_projection_storage(PgPool& pool, std::string s);

struct Statements;
// The subject-key store of the store's personal data, over `pool` and the tables of schema `s`.
std::unique_ptr<SubjectKeyStore> make_subject_key_store(PgPool& pool, const Statements& sql);

// Rows per page when a visit walks a long stream or log: bounds the memory of one result.
inline constexpr std::size_t kPageRows = 2000;

inline std::string num(std::uint64_t n) { return std::to_string(n); }
inline Timestamp from_micros(std::int64_t us) { return Timestamp(std::chrono::microseconds(us)); }

// The text of every statement the store runs, with its schema in it: formatted once, when the store
// opens, not on every call.
struct Statements {
  explicit Statements(const std::string& s);
  std::string create_tables;       // the store's own tables (the projection storage's come separately)
  std::string create_indexes;      // their secondary indexes, made with the tables or by a migration
  std::string migrate_v1;          // a schema of version 1 to this version (run before create_indexes)
  std::string set_schema_version;  // strata_meta's schema_version := this build's
  std::string schema_version;      // strata_meta's schema_version
  std::string read_head;           // the high-water mark
  // Subjects' keys (pg_personal_data.cc).
  std::string load_key, create_key, forgotten_row, lock_key, destroy_key;
  // Appends (pg_commit.cc).
  std::string fast_commit;    // the one-statement commit of a group with known heads
  std::string lock_head;      // the full path: the log head, locked
  std::string committed_ids;  // the full path: which of the group's event ids are committed
  std::string stream_heads;   // the full path: the heads and lives of the group's streams, locked
  std::string full_commit;    // the full path: the writes
  // Deletes and truncations (pg_lifecycle.cc).
  std::string lock_stream;       // the stream's row, locked
  std::string lifecycle_change;  // tombstones, the stream's new life, (hard) its snapshots dropped
  // Reads (pg_reads.cc).
  std::string read_forward, read_backward, visit_log, visit_log_filtered, lookup_event, stream_head, stream_info,
      list_streams, version_as_of;
  // Retention (pg_retention.cc).
  std::string retained_stream, retention_sweep;
  // Snapshots (pg_snapshots.cc).
  std::string save_snapshot, load_snapshot, snapshot_keys, delete_snapshots, snapshot_versions;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view v) const noexcept { return std::hash<std::string_view>{}(v); }
};

// One append waiting for its group's commit: an append to one stream (`stream`, `expected`, `events`),
// or a multi-stream append (`parts`, `stream` null), whose parts are committed together or not at all.
struct PendingAppend {
  const StreamId* stream = nullptr;
  ExpectedVersion expected = ExpectedVersion::any();
  std::span<const EventData> events;
  std::span<const StreamAppend> parts;
  std::size_t event_count = 0;  // of all parts
  // The outcome. A multi-stream append's is its first and last position here (stream_version 0), and
  // every part's result in *multi.
  Result<AppendResult> result = Status::internal("append not committed");
  MultiAppendResult* multi = nullptr;
  bool done = false;

  std::size_t part_count() const noexcept { return stream != nullptr ? 1 : parts.size(); }
  const StreamId& part_stream(std::size_t k) const noexcept { return stream != nullptr ? *stream : parts[k].stream; }
  ExpectedVersion part_expected(std::size_t k) const noexcept {
    return stream != nullptr ? expected : parts[k].expected;
  }
  std::span<const EventData> part_events(std::size_t k) const noexcept {
    return stream != nullptr ? events : parts[k].events;
  }
  // The version of part k's last event after a successful commit.
  Version part_head(std::size_t k) const noexcept {
    return stream != nullptr ? result->stream_version : multi->streams[k].stream_version;
  }
};

// The columns of the events a commit inserts, as array parameters (both commit paths send them).
struct EventArrays {
  ArrayLiteral stream_ids, categories, versions, event_ids, types, metadata, payloads;
  // Adds event `e` as version `version` of `stream`.
  void add(const StreamId& stream, Version version, const EventData& e);

 private:
  std::string meta_;  // reused for each event's encoded metadata
};

}  // namespace strata::pg

namespace strata {

struct PgEventStore::Impl {
  Impl(PgEventStore* owner, Options o);

  Timestamp now() const {
    if (options.clock) return options.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }

  // The one-statement commit of a group whose streams' heads are known (head_cache): what it sends.
  struct FastPlan {
    pg::EventArrays events;
    pg::ArrayLiteral head_streams, head_versions;
    std::vector<Version> first_versions;  // per part of each append of the group
    std::size_t count = 0;                // events
  };

  Status create_schema();
  // Queues `me` and waits for its group's commit (leading the group when no other thread does).
  void run_append(pg::PendingAppend& me);
  Status commit_group(std::vector<pg::PendingAppend*>& group);
  std::optional<FastPlan> plan_fast(const std::vector<pg::PendingAppend*>& group);
  Status commit_fast(pg::PgConnection& c, std::vector<pg::PendingAppend*>& group, FastPlan& plan, bool& commit_sent);
  Status commit_full(pg::PgConnection& c, std::vector<pg::PendingAppend*>& group, bool& commit_sent);
  void remember_heads(const std::vector<pg::PendingAppend*>& group);
  void listen_loop();
  // Retention (pg_retention.cc): the stream's life with what its policy removes read as truncated
  // (nullopt: no such stream); the sweep of every policy; the thread that runs it.
  Result<std::optional<StreamInfo>> retained_info(pg::PgConnection& c, const StreamId& stream,
                                                  const RetentionPolicy& policy);
  Result<std::uint64_t> sweep_retention();
  void retention_loop();
  Result<Position> read_head(pg::PgConnection& c);
  // delete_stream (decide_delete) and truncate_stream (decide_truncate): the stream's row locked, the
  // decision, the change, in one transaction.
  Result<LifecycleResult> change_stream(const StreamId& stream, FunctionRef<LifecycleChange(const StreamInfo*)> decide,
                                        std::string_view what);

  PgEventStore* self;
  Options options;
  std::string s;  // the quoted schema
  std::string channel;
  pg::Statements sql;
  pg::PgPool pool;
  // Subjects' keys in the subject_keys table, and the personal data sealed with them.
  std::unique_ptr<SubjectKeyStore> subject_keys;
  std::unique_ptr<PersonalData> personal;
  std::unique_ptr<ProjectionStorage> projections;

  // The high-water mark as last heard; published under publish_mu, in increasing order.
  std::atomic<std::uint64_t> high_water{0};
  std::mutex publish_mu;

  // Group commit: appends queue here; the first that finds no leader commits the queue's head group.
  std::mutex write_mu;
  std::condition_variable write_cv;
  std::deque<pg::PendingAppend*> queue;      // GUARDED_BY(write_mu)
  bool leading = false;                      // GUARDED_BY(write_mu)
  std::unique_ptr<pg::PgConnection> writer;  // used by the leader only

  // Stream heads this process has seen committed: lower bounds of the true heads (heads only grow).
  // With them a group commits in one statement; the unique key on (stream_id, version) catches a head
  // that another process moved, the check on streams.state a stream deleted meanwhile, and the group
  // then takes the full path, which reads the heads and the streams' lives.
  static constexpr std::size_t kHeadCacheEntries = 100'000;
  std::mutex cache_mu;
  std::unordered_map<std::string, Version, pg::StringHash, std::equal_to<>> head_cache;  // GUARDED_BY(cache_mu)

  // Other processes' commits: LISTEN on a connection of its own, and a poll.
  std::thread listener;
  std::atomic<bool> stopping{false};
  // The retention sweep's thread, woken early to stop.
  std::thread sweeper;
  std::mutex sweeper_mu;
  std::condition_variable sweeper_cv;
  int wake_pipe[2] = {-1, -1};
};

}  // namespace strata
