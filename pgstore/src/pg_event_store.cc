#include "strata/pgstore/pg_event_store.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "pg_connection.h"
#include "pg_store_impl.h"
#include "strata/core/backend/append_checks.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/core/backend/snapshot_encoding.h"

namespace strata {

using pg::ArrayLiteral;
using pg::Param;
using pg::PgConnection;
using pg::PgPool;
using pg::PgResult;

namespace {

// Rows per page when a visit walks a long stream or log: bounds the memory of one result.
constexpr std::size_t kPageRows = 2000;

// The columns every event read selects, in this order (see to_view).
constexpr std::string_view kEventColumns =
    "e.position, e.stream_id, e.version, e.event_id, e.type, e.recorded_at, e.metadata, e.payload";

std::string num(std::uint64_t n) { return std::to_string(n); }

Timestamp from_micros(std::int64_t us) { return Timestamp(std::chrono::microseconds(us)); }

// Row `row` of a binary-format result `r` (columns kEventColumns from column `col`) as a view into it:
// nothing is copied or parsed but the integers.
Result<EventView> to_view(const PgResult& r, int row, int col) {
  EventView v;
  v.position = r.binary_u64(row, col);
  v.stream_id = r.text(row, col + 1);
  v.version = r.binary_u64(row, col + 2);
  auto id = EventId::from_bytes(r.text(row, col + 3));
  if (!id.ok())
    return Status::corruption(fmt::format("postgresql: the event at position {} has a bad id", v.position.value()));
  v.id = *id;
  v.type = r.text(row, col + 4);
  v.timestamp = from_micros(static_cast<std::int64_t>(r.binary_u64(row, col + 5)));
  v.encoded_metadata = r.text(row, col + 6);
  v.payload = r.text(row, col + 7);
  return v;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view v) const noexcept { return std::hash<std::string_view>{}(v); }
};

// One append waiting for its group's commit.
struct PendingAppend {
  const StreamId* stream = nullptr;
  ExpectedVersion expected = ExpectedVersion::any();
  std::span<const EventData> events;
  Result<AppendResult> result = Status::internal("append not committed");
  bool done = false;
};

}  // namespace

struct PgEventStore::Impl {
  Impl(PgEventStore* owner, Options o)
      : self(owner),
        options(std::move(o)),
        s(pg::quote_ident(options.schema)),
        pool(options.conninfo, options.pool_size) {
    channel = "strata." + options.schema;
  }

  Timestamp now() const {
    if (options.clock) return options.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }

  // The one-round-trip commit of a group whose streams' heads are known (head_cache): what it sends.
  struct FastPlan {
    ArrayLiteral stream_ids, categories, versions, event_ids, types, metadata, payloads, head_streams, head_versions;
    std::vector<Version> first_versions;  // per append of the group
    std::size_t events = 0;
  };

  Status create_schema();
  Status commit_group(std::vector<PendingAppend*>& group);
  std::optional<FastPlan> plan_fast(const std::vector<PendingAppend*>& group);
  Status commit_fast(PgConnection& c, std::vector<PendingAppend*>& group, FastPlan& plan, bool& commit_sent);
  Status commit_group_on(PgConnection& c, std::vector<PendingAppend*>& group, bool& commit_sent, Position& new_head);
  void listen_loop();
  Result<Position> read_head(PgConnection& c);

  PgEventStore* self;
  Options options;
  std::string s;  // the quoted schema
  std::string channel;
  PgPool pool;
  std::unique_ptr<ProjectionStorage> projections;

  // The high-water mark as last heard; published under publish_mu, in increasing order.
  std::atomic<std::uint64_t> high_water{0};
  std::mutex publish_mu;

  // Group commit: appends queue here; the first that finds no leader commits the queue's head group.
  std::mutex write_mu;
  std::condition_variable write_cv;
  std::deque<PendingAppend*> queue;      // GUARDED_BY(write_mu)
  bool leading = false;                  // GUARDED_BY(write_mu)
  std::unique_ptr<PgConnection> writer;  // used by the leader only

  // Stream heads this process has seen committed: lower bounds of the true heads (heads only grow).
  // With them a group commits in one round trip; the unique key on (stream_id, version) catches a head
  // that another process moved, and the group then takes the full path, which reads the heads.
  static constexpr std::size_t kHeadCacheEntries = 100'000;
  std::mutex cache_mu;
  std::unordered_map<std::string, Version, StringHash, std::equal_to<>> head_cache;  // GUARDED_BY(cache_mu)

  // Other processes' commits: LISTEN on a connection of its own, and a poll.
  std::thread listener;
  std::atomic<bool> stopping{false};
  int wake_pipe[2] = {-1, -1};
};

void PgEventStore::advance_head(Position p) noexcept {
  std::lock_guard lock(impl_->publish_mu);
  if (p.value() <= impl_->high_water.load(std::memory_order_relaxed)) return;
  impl_->high_water.store(p.value(), std::memory_order_release);
  publish_commit(p);
}

Status PgEventStore::Impl::create_schema() {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool.acquire());
  STRATA_RETURN_IF_ERROR(c->exec_script("BEGIN"));
  auto fail = [&](Status st) {
    if (!c->broken()) (void)c->exec_script("ROLLBACK");
    return st.with_context(fmt::format("open the PostgreSQL store in schema \"{}\"", options.schema));
  };
  // Two processes opening a new store at once: the second waits, then finds the tables made.
  auto locked =
      c->exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 7202))", {Param("strata:" + options.schema)});
  if (!locked.ok()) return fail(locked.status());
  auto meta = c->exec(
      "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = $1), "
      "(SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'strata_meta')",
      {Param(options.schema)});
  if (!meta.ok()) return fail(meta.status());
  // Payloads are stored as text: a database that would convert them (LATIN1, ...) could refuse or
  // change an event. UTF8 keeps them as given (SQL_ASCII too: it stores bytes unchecked).
  auto encoding = c->exec("SELECT current_setting('server_encoding')");
  if (!encoding.ok()) return fail(encoding.status());
  if (encoding->text(0, 0) != "UTF8" && encoding->text(0, 0) != "SQL_ASCII")
    return fail(Status::invalid_argument(
        fmt::format("the database's encoding is {}: strata needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')",
                    encoding->text(0, 0))));
  const std::uint64_t tables = meta->u64(0, 0);
  const bool ours = meta->u64(0, 1) == 1;
  if (tables > 0 && !ours)
    return fail(Status::corruption(fmt::format(
        "schema \"{}\" holds {} tables that are not a strata store's (no strata_meta table)", options.schema, tables)));
  if (ours) {
    auto version = c->exec(fmt::format("SELECT value FROM {}.strata_meta WHERE key = 'schema_version'", s));
    if (!version.ok()) return fail(version.status());
    if (version->rows() != 1) return fail(Status::corruption("strata_meta has no schema_version"));
    const std::uint64_t v = version->u64(0, 0);
    if (v > static_cast<std::uint64_t>(kSchemaVersion))
      return fail(Status::corruption(
          fmt::format("schema \"{}\" was written by a newer strata: its version is {}, this build reads up to {}",
                      options.schema, v, kSchemaVersion)));
    if (v == 0) return fail(Status::corruption(fmt::format("schema \"{}\" has a bad schema_version", options.schema)));
  }
  const std::string sql = fmt::format(
      "CREATE SCHEMA IF NOT EXISTS {0};"
      "CREATE TABLE IF NOT EXISTS {0}.strata_meta (key text PRIMARY KEY, value text NOT NULL);"
      "INSERT INTO {0}.strata_meta VALUES ('schema_version', '{1}') ON CONFLICT (key) DO NOTHING;"
      "CREATE TABLE IF NOT EXISTS {0}.log_head (id int PRIMARY KEY CHECK (id = 1), position bigint NOT NULL,"
      "  last_timestamp bigint NOT NULL);"
      "INSERT INTO {0}.log_head VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;"
      "CREATE TABLE IF NOT EXISTS {0}.events ("
      "  position bigint PRIMARY KEY,"
      "  stream_id text COLLATE \"C\" NOT NULL,"
      "  category text COLLATE \"C\" NOT NULL,"
      "  version bigint NOT NULL,"
      "  event_id uuid NOT NULL UNIQUE,"
      "  type text COLLATE \"C\" NOT NULL,"
      "  recorded_at bigint NOT NULL,"
      "  metadata bytea NOT NULL,"
      "  payload text NOT NULL,"
      "  UNIQUE (stream_id, version));"
      "CREATE TABLE IF NOT EXISTS {0}.streams (stream_id text COLLATE \"C\" PRIMARY KEY, head bigint NOT NULL);"
      "CREATE TABLE IF NOT EXISTS {0}.snapshots ("
      "  stream_id text COLLATE \"C\" NOT NULL,"
      "  version bigint NOT NULL,"
      "  fingerprint bigint NOT NULL,"
      "  snapshot_version bigint NOT NULL,"
      "  record bytea NOT NULL,"
      "  PRIMARY KEY (stream_id, version, fingerprint, snapshot_version));",
      s, kSchemaVersion);
  if (Status st = c->exec_script(sql); !st.ok()) return fail(st);
  if (Status st = c->exec_script(pg::projection_tables_sql(s)); !st.ok()) return fail(st);
  if (Status st = c->exec_script("COMMIT"); !st.ok()) return fail(st);
  return {};
}

Result<Position> PgEventStore::Impl::read_head(PgConnection& c) {
  STRATA_ASSIGN_OR_RETURN(PgResult r, c.exec(fmt::format("SELECT position FROM {}.log_head WHERE id = 1", s)));
  if (r.rows() != 1) return Status::corruption("postgresql: the log_head row is missing");
  return Position(r.u64(0, 0));
}

Result<std::unique_ptr<PgEventStore>> PgEventStore::open(Options options) {
  if (Status st = validate_limits(options.limits); !st.ok()) return st.with_context("open PostgreSQL store");
  if (options.conninfo.empty()) return Status::invalid_argument("open PostgreSQL store: no conninfo");
  if (options.schema.empty() || options.schema.size() > 40)
    return Status::invalid_argument(
        fmt::format("open PostgreSQL store: schema name \"{}\" must be 1 to 40 bytes", options.schema));
  if (options.max_group_events < options.limits.max_events_per_append)
    options.max_group_events = options.limits.max_events_per_append;
  auto impl = std::make_unique<Impl>(nullptr, std::move(options));
  STRATA_RETURN_IF_ERROR(impl->create_schema());
  std::unique_ptr<PgEventStore> store(new PgEventStore(std::move(impl)));
  Impl& i = *store->impl_;
  i.self = store.get();
  {
    STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
    STRATA_ASSIGN_OR_RETURN(Position head, i.read_head(*c));
    i.high_water.store(head.value());
  }
  i.projections = pg::make_projection_storage(i.pool, i.s);
  if (::pipe(i.wake_pipe) != 0) return Status::io_error("open PostgreSQL store: pipe() failed");
  i.listener = std::thread([&i] { i.listen_loop(); });
  return store;
}

PgEventStore::PgEventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PgEventStore::~PgEventStore() {
  if (impl_->listener.joinable()) {
    impl_->stopping.store(true);
    char b = 1;
    (void)!::write(impl_->wake_pipe[1], &b, 1);
    impl_->listener.join();
  }
  for (int fd : impl_->wake_pipe)
    if (fd >= 0) ::close(fd);
}

void PgEventStore::Impl::listen_loop() {
  std::unique_ptr<PgConnection> c;
  const int poll_ms = static_cast<int>(std::max<std::int64_t>(1, options.poll_interval.count()));
  while (!stopping.load()) {
    if (c == nullptr || c->broken()) {
      c.reset();
      auto made = PgConnection::connect(options.conninfo);
      // Named, so that an operator can tell it in pg_stat_activity.
      if (made.ok() &&
          (*made)
              ->exec("SELECT set_config('application_name', $1, false)", {Param("strata listener " + channel)})
              .ok() &&
          (*made)->exec("LISTEN " + pg::quote_ident(channel)).ok())
        c = std::move(*made);
    }
    pollfd fds[2] = {{wake_pipe[0], POLLIN, 0}, {c ? PQsocket(c->raw()) : -1, POLLIN, 0}};
    const int ready = ::poll(fds, c ? 2 : 1, poll_ms);
    if (stopping.load()) break;
    if (c == nullptr) continue;
    Position heard = 0;
    if (ready > 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      if (PQconsumeInput(c->raw()) == 0) {
        c.reset();
        continue;
      }
      while (PGnotify* n = PQnotifies(c->raw())) {
        heard = std::max<Position>(heard, Position(std::strtoull(n->extra, nullptr, 10)));
        PQfreemem(n);
      }
    } else {
      // The poll: a notification lost with a dropped connection is noticed here.
      auto h = read_head(*c);
      if (h.ok()) heard = *h;
    }
    if (heard > 0) self->advance_head(heard);
  }
}

Result<AppendResult> PgEventStore::append(const StreamId& stream, ExpectedVersion expected,
                                          std::span<const EventData> events) {
  STRATA_RETURN_IF_ERROR(check_append(stream, events, impl_->options.limits));
  PendingAppend me;
  me.stream = &stream;
  me.expected = expected;
  me.events = events;
  Impl& i = *impl_;
  std::unique_lock lock(i.write_mu);
  i.queue.push_back(&me);
  while (!me.done) {
    if (i.leading) {
      i.write_cv.wait(lock);
      continue;
    }
    // Lead: commit the group at the head of the queue (this append is in it, or in a later one).
    i.leading = true;
    std::vector<PendingAppend*> group;
    std::size_t events_in_group = 0;
    while (!i.queue.empty() &&
           (group.empty() || events_in_group + i.queue.front()->events.size() <= i.options.max_group_events)) {
      events_in_group += i.queue.front()->events.size();
      group.push_back(i.queue.front());
      i.queue.pop_front();
    }
    lock.unlock();
    Position new_head = 0;
    Status st = i.commit_group(group);
    for (PendingAppend* p : group) {
      if (!st.ok()) p->result = st;
      if (p->result.ok()) new_head = std::max(new_head, p->result->last_position);
    }
    if (new_head > 0) advance_head(new_head);
    lock.lock();
    for (PendingAppend* p : group) p->done = true;
    i.leading = false;
    i.write_cv.notify_all();
  }
  return std::move(me.result);
}

Status PgEventStore::Impl::commit_group(std::vector<PendingAppend*>& group) {
  if (writer == nullptr || !writer->alive()) {
    writer.reset();
    auto c = PgConnection::connect(options.conninfo);
    if (!c.ok()) return c.status().with_context("append: nothing was written");
    writer = std::move(*c);
  }
  bool commit_sent = false;
  Position new_head = 0;
  Status st = Status::internal("append: not attempted");
  bool done = false;
  if (std::optional<FastPlan> plan = plan_fast(group); plan.has_value()) {
    st = commit_fast(*writer, group, *plan, commit_sent);
    done = st.ok();
    // A unique violation: an id committed before, or a head that moved. Nothing was written (the
    // statement rolled back); the full path finds out which, append by append.
    if (!st.ok() && !writer->broken() && writer->last_sqlstate() == "23505") {
      commit_sent = false;
    } else {
      done = true;
    }
  }
  if (!done) st = commit_group_on(*writer, group, commit_sent, new_head);
  if (st.ok()) {
    std::lock_guard lock(cache_mu);
    if (head_cache.size() > kHeadCacheEntries) head_cache.clear();
    for (PendingAppend* p : group)
      if (p->result.ok()) {
        Version& cached = head_cache[p->stream->str()];
        cached = std::max(cached, p->result->stream_version);
      }
    return st;
  }
  if (writer->broken()) {
    writer.reset();
    if (commit_sent)
      return Status::unavailable(fmt::format(
          "append: the connection to PostgreSQL was lost after COMMIT was sent, so the append may or may not "
          "have been committed; retry it with the same event ids to settle it ({})",
          st.message()));
    return Status::unavailable(fmt::format("append: nothing was written: {}", st.message()));
  }
  (void)writer->exec_script("ROLLBACK");
  return st.with_context("append: nothing was written");
}

std::optional<PgEventStore::Impl::FastPlan> PgEventStore::Impl::plan_fast(const std::vector<PendingAppend*>& group) {
  FastPlan plan;
  std::map<std::string_view, Version> heads;
  {
    std::lock_guard lock(cache_mu);
    for (PendingAppend* p : group) {
      auto it = head_cache.find(p->stream->view());
      heads.emplace(p->stream->view(), it == head_cache.end() ? Version{0} : it->second);
    }
  }
  std::string meta;
  for (PendingAppend* p : group) {
    Version& head = heads[p->stream->view()];
    // Only an append that succeeds under the assumed head goes this way; the others need the truth.
    if (!p->expected.matches(head)) return std::nullopt;
    plan.first_versions.push_back(head + 1);
    for (std::size_t k = 0; k < p->events.size(); ++k) {
      const EventData& e = p->events[k];
      plan.stream_ids.add(p->stream->view());
      plan.categories.add(p->stream->category());
      plan.versions.add_number((head + (k + 1)).value());
      plan.event_ids.add(e.id.to_string());
      plan.types.add(e.type);
      meta.clear();
      encode_metadata(e.metadata, meta);
      plan.metadata.add_bytea(meta);
      plan.payloads.add(e.payload);
    }
    head = head + p->events.size();
    plan.events += p->events.size();
  }
  for (const auto& [stream, head] : heads) {
    plan.head_streams.add(stream);
    plan.head_versions.add_number(head.value());
  }
  return plan;
}

Status PgEventStore::Impl::commit_fast(PgConnection& c, std::vector<PendingAppend*>& group, FastPlan& plan,
                                       bool& commit_sent) {
  // One statement, committed on its own. It first moves the log's head (UPDATE ... RETURNING): that
  // takes the head's row lock, waits for the commit holding it, and then works on the row as that
  // commit left it (READ COMMITTED re-reads an updated row), so `base` is the committed head and the
  // lock is held to this commit. Positions and the timestamp come from there; versions from the assumed
  // heads, which the unique key (stream_id, version) checks: if a head moved, the insert fails and
  // nothing is written. Prepared once per connection.
  const std::string sql = fmt::format(
      "WITH lh AS (UPDATE {0}.log_head SET position = position + $11, "
      "last_timestamp = greatest(last_timestamp, $10::bigint) WHERE id = 1 "
      "RETURNING position - $11 AS base, last_timestamp AS ts), "
      "ins AS (INSERT INTO {0}.events (position, stream_id, category, version, event_id, type, recorded_at, "
      "metadata, payload) SELECT lh.base + u.n, u.stream_id, u.category, u.version, u.event_id, u.type, lh.ts, "
      "u.metadata, u.payload FROM lh, unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], "
      "$6::bytea[], $7::text[]) WITH ORDINALITY AS u(stream_id, category, version, event_id, type, metadata, "
      "payload, n)), "
      "st AS (INSERT INTO {0}.streams (stream_id, head) SELECT * FROM unnest($8::text[], $9::bigint[]) "
      "ON CONFLICT (stream_id) DO UPDATE SET head = EXCLUDED.head) "
      "SELECT lh.base, pg_notify($12, (lh.base + $11)::text) FROM lh",
      s);
  const std::string ts_text = std::to_string(now().time_since_epoch().count());
  const std::string n_text = num(plan.events);
  // From here on a lost connection leaves the outcome unknown.
  commit_sent = true;
  STRATA_ASSIGN_OR_RETURN(
      PgResult result,
      c.exec_prepared("strata_fast_insert", sql,
                      {Param(plan.stream_ids.finish()), Param(plan.categories.finish()), Param(plan.versions.finish()),
                       Param(plan.event_ids.finish()), Param(plan.types.finish()), Param(plan.metadata.finish()),
                       Param(plan.payloads.finish()), Param(plan.head_streams.finish()),
                       Param(plan.head_versions.finish()), Param(ts_text), Param(n_text), Param(channel)},
                      false));
  if (result.rows() != 1) return Status::corruption("postgresql: the log_head row is missing");
  Position next = result.u64(0, 0) + 1;
  for (std::size_t j = 0; j < group.size(); ++j) {
    PendingAppend* p = group[j];
    const Version last_version = plan.first_versions[j] + (p->events.size() - 1);
    p->result = AppendResult{last_version, next, next + (p->events.size() - 1)};
    next = next + p->events.size();
  }
  return {};
}

Status PgEventStore::Impl::commit_group_on(PgConnection& c, std::vector<PendingAppend*>& group, bool& commit_sent,
                                           Position& new_head) {
  // Which of the group's event ids are committed already, and the heads of its streams.
  ArrayLiteral ids, streams;
  std::map<std::string_view, Version> heads;
  for (PendingAppend* p : group) {
    for (const EventData& e : p->events) ids.add(e.id.to_string());
    if (heads.emplace(p->stream->view(), 0).second) streams.add(p->stream->view());
  }
  // One round trip: BEGIN, the serialising lock (held by this transaction until it commits, so positions
  // become visible in order: pgstore/FORMAT.md, "The global log"), then the lookups, which the server
  // runs after the lock is taken and so with a snapshot that holds every commit before this one.
  const std::string lock_sql =
      fmt::format("SELECT position, last_timestamp FROM {}.log_head WHERE id = 1 FOR UPDATE", s);
  const std::string ids_sql =
      fmt::format("SELECT event_id, stream_id, version, position FROM {}.events WHERE event_id = ANY($1::uuid[])", s);
  const std::string heads_sql =
      fmt::format("SELECT stream_id, head FROM {}.streams WHERE stream_id = ANY($1::text[])", s);
  STRATA_ASSIGN_OR_RETURN(
      std::vector<PgResult> first,
      c.pipeline(
          {{"BEGIN", {}}, {lock_sql, {}}, {ids_sql, {Param(ids.finish())}}, {heads_sql, {Param(streams.finish())}}}));
  if (first.size() != 4) return Status::internal("postgresql: a pipeline returned too few results");
  const PgResult& head_row = first[1];
  if (head_row.rows() != 1) return Status::corruption("postgresql: the log_head row is missing");
  Position next = head_row.u64(0, 0) + 1;
  const Timestamp last_ts = from_micros(head_row.i64(0, 1));
  const PgResult& found = first[2];
  std::unordered_map<EventId, EventLocation> committed;
  for (int r = 0; r < found.rows(); ++r) {
    auto id = EventId::parse(found.text(r, 0));
    if (!id.ok()) return Status::corruption("postgresql: a stored event id does not parse");
    committed.emplace(*id, EventLocation{std::string(found.text(r, 1)), found.u64(r, 2), found.u64(r, 3)});
  }
  const PgResult& head_rows = first[3];
  for (int r = 0; r < head_rows.rows(); ++r) heads[head_rows.text(r, 0)] = head_rows.u64(r, 1);
  {
    std::lock_guard lock(cache_mu);
    for (const auto& [stream, head] : heads) {
      Version& cached = head_cache[std::string(stream)];
      cached = std::max(cached, head);
    }
  }

  const Timestamp ts = std::max(now(), last_ts);
  const std::string ts_text = std::to_string(ts.time_since_epoch().count());
  ArrayLiteral positions, stream_ids, categories, versions, event_ids, types, timestamps, metadata, payloads;
  std::string meta;
  std::size_t written = 0;
  for (PendingAppend* p : group) {
    const StreamId& stream = *p->stream;
    IdempotencyCheck idem(stream, p->events.size());
    for (std::size_t k = 0; k < p->events.size(); ++k) {
      auto it = committed.find(p->events[k].id);
      if (it == committed.end()) {
        idem.missing(k);
      } else {
        idem.found(k, it->second.stream_id, it->second.version, it->second.position);
      }
    }
    if (auto verdict = idem.verdict(); verdict.has_value()) {
      p->result = *std::move(verdict);
      continue;
    }
    Version& stream_head = heads[stream.view()];
    if (!p->expected.matches(stream_head)) {
      p->result = Status::wrong_expected_version(VersionConflict{stream.str(), p->expected, stream_head});
      continue;
    }
    AppendResult result{stream_head + p->events.size(), next, next + (p->events.size() - 1)};
    for (std::size_t k = 0; k < p->events.size(); ++k) {
      const EventData& e = p->events[k];
      const Position position = next + k;
      const Version version = stream_head + (k + 1);
      positions.add_number(position.value());
      stream_ids.add(stream.view());
      categories.add(stream.category());
      versions.add_number(version.value());
      event_ids.add(e.id.to_string());
      types.add(e.type);
      timestamps.add(ts_text);
      meta.clear();
      encode_metadata(e.metadata, meta);
      metadata.add_bytea(meta);
      payloads.add(e.payload);
      // A later append of the group retrying these ids finds them here.
      committed.emplace(e.id, EventLocation{stream.str(), version, position});
    }
    written += p->events.size();
    next = next + p->events.size();
    stream_head = result.stream_version;
    p->result = result;
  }
  if (written == 0) return c.exec_script("ROLLBACK");

  ArrayLiteral head_streams, head_versions;
  for (PendingAppend* p : group) {
    if (!p->result.ok()) continue;
    // Each stream once, at its final head.
    auto it = heads.find(p->stream->view());
    if (it == heads.end()) continue;
    head_streams.add(it->first);
    head_versions.add_number(it->second.value());
    heads.erase(it);
  }
  const Position last = next - 1;
  const std::string last_text = num(last.value());
  const std::string insert_sql = fmt::format(
      "WITH ins AS (INSERT INTO {0}.events (position, stream_id, category, version, event_id, type, "
      "recorded_at, metadata, payload) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], "
      "$4::bigint[], $5::uuid[], $6::text[], $7::bigint[], $8::bytea[], $9::text[])), "
      "st AS (INSERT INTO {0}.streams (stream_id, head) SELECT * FROM unnest($10::text[], $11::bigint[]) "
      "ON CONFLICT (stream_id) DO UPDATE SET head = EXCLUDED.head), "
      "lh AS (UPDATE {0}.log_head SET position = $12, last_timestamp = $13 WHERE id = 1) "
      "SELECT pg_notify($14, $12::text)",
      s);
  // The writes and COMMIT in one round trip. From here on a lost connection leaves the outcome unknown.
  commit_sent = true;
  STRATA_RETURN_IF_ERROR(
      c.pipeline(
           {{insert_sql,
             {Param(positions.finish()), Param(stream_ids.finish()), Param(categories.finish()),
              Param(versions.finish()), Param(event_ids.finish()), Param(types.finish()), Param(timestamps.finish()),
              Param(metadata.finish()), Param(payloads.finish()), Param(head_streams.finish()),
              Param(head_versions.finish()), Param(last_text), Param(ts_text), Param(channel)}},
            {"COMMIT", {}}})
          .status());
  new_head = last;
  return {};
}

// Reads select ranges bounded on both sides (versions of a stream and positions of the log are
// contiguous, so a range of n holds at most n rows), never "from here on, LIMIT n": without statistics
// on a fresh table the planner would read everything from `from` on and sort it to keep n rows.

namespace {

// [from, from + count - 1], saturated at the largest bigint.
std::uint64_t range_end(std::uint64_t from, std::uint64_t count) {
  constexpr std::uint64_t kMax = INT64_MAX;
  if (from > kMax) return kMax;
  return count == 0 ? from - 1 : from + std::min(count - 1, kMax - from);
}

}  // namespace

Status PgEventStore::visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) {
  Impl& i = *impl_;
  if (from == 0) from = 1;
  if (to.value() > INT64_MAX) to = Version(INT64_MAX);
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
  const std::string sql = fmt::format(
      "SELECT {} FROM {}.events e WHERE e.stream_id = $1 AND e.version >= $2 AND e.version <= $3 ORDER BY e.version",
      kEventColumns, i.s);
  bool first = true;
  while (from <= to) {
    const std::uint64_t hi = std::min(to.value(), range_end(from.value(), kPageRows));
    const std::string from_text = num(from.value()), hi_text = num(hi);
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        c->exec_prepared("strata_visit_stream", sql, {Param(stream.view()), Param(from_text), Param(hi_text)}, true));
    if (first && r.rows() == 0) {
      STRATA_ASSIGN_OR_RETURN(Version head, stream_head(stream));
      if (head == 0) return stream_not_found(stream);
      return {};
    }
    first = false;
    for (int row = 0; row < r.rows(); ++row) {
      STRATA_ASSIGN_OR_RETURN(EventView v, to_view(r, row, 0));
      STRATA_RETURN_IF_ERROR(visitor(v));
    }
    if (static_cast<std::uint64_t>(r.rows()) < hi - from.value() + 1) return {};  // past the head
    from = hi + 1;
  }
  return {};
}

Result<StreamSlice> PgEventStore::read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                              std::size_t max_count) {
  Impl& i = *impl_;
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
  const bool forward = direction == ReadDirection::kForward;
  if (forward && from == 0) from = 1;
  const std::uint64_t from_v = std::min<std::uint64_t>(from.value(), INT64_MAX);
  const std::uint64_t count = std::min<std::uint64_t>(max_count, INT64_MAX);
  // The head comes with the rows, from the same snapshot. Backward, the range ends at the head or at
  // `from`, whichever is lower.
  const std::string sql =
      forward ? fmt::format(
                    "SELECT h.head, {0} FROM (SELECT head FROM {1}.streams WHERE stream_id = $1) h "
                    "LEFT JOIN LATERAL (SELECT * FROM {1}.events e WHERE e.stream_id = $1 AND e.version >= $2 "
                    "AND e.version <= $3 ORDER BY e.version) e ON true",
                    std::string(kEventColumns), i.s)
              : fmt::format(
                    "SELECT h.head, {0} FROM (SELECT head FROM {1}.streams WHERE stream_id = $1) h "
                    "LEFT JOIN LATERAL (SELECT * FROM {1}.events e WHERE e.stream_id = $1 "
                    "AND e.version <= least($2::bigint, h.head) AND e.version > least($2::bigint, h.head) - $3 "
                    "ORDER BY e.version DESC) e ON true",
                    std::string(kEventColumns), i.s);
  const std::string from_text = num(from_v);
  const std::string third = forward ? num(range_end(from_v, count)) : num(count);
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec_prepared(forward ? "strata_read_forward" : "strata_read_backward", sql,
                                                       {Param(stream.view()), Param(from_text), Param(third)}, true));
  if (r.rows() == 0) return stream_not_found(stream);
  const Version head = r.binary_u64(0, 0);
  StreamSlice slice;
  for (int row = 0; row < r.rows(); ++row) {
    if (r.null(row, 1)) break;
    STRATA_ASSIGN_OR_RETURN(EventView v, to_view(r, row, 1));
    STRATA_ASSIGN_OR_RETURN(RecordedEvent e, v.to_recorded());
    slice.events.push_back(std::move(e));
  }
  if (forward) {
    Version v = slice.events.empty() ? from : slice.events.back().version + 1;
    slice.next_version = v;
    slice.end_of_stream = v > head;
  } else {
    Version v = slice.events.empty() ? std::min(from, head) : slice.events.back().version - 1;
    slice.next_version = v;
    slice.end_of_stream = v == 0;
  }
  return slice;
}

Result<LogVisit> PgEventStore::visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                         EventVisitor visitor) {
  Impl& i = *impl_;
  if (from == 0) from = 1;
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
  ArrayLiteral types, categories;
  for (const auto& t : filter.event_types) types.add(t);
  for (const auto& k : filter.categories) categories.add(k);
  // The high-water mark comes with the rows, from the same snapshot; positions below it are all visible
  // (appends commit in position order), so reading up to it skips nothing. Windows of kPageRows
  // positions, each bounded on both sides; a filter may keep fewer rows than a window holds.
  // Without a filter (a catch-up), a statement without the filter's conditions: a prepared statement's
  // generic plan evaluates them on every row.
  const bool filtered = !filter.empty();
  const std::string sql = fmt::format(
      "SELECT h.position, {0} FROM (SELECT position FROM {1}.log_head WHERE id = 1) h "
      "LEFT JOIN LATERAL (SELECT * FROM {1}.events e WHERE e.position >= $1 AND e.position <= least($2, h.position) "
      "{2} ORDER BY e.position LIMIT $3) e ON true",
      std::string(kEventColumns), i.s,
      filtered ? "AND (cardinality($4::text[]) = 0 OR e.type = ANY($4::text[])) "
                 "AND (cardinality($5::text[]) = 0 OR e.category = ANY($5::text[]))"
               : "");
  std::size_t delivered = 0;
  const std::string types_text = types.finish(), categories_text = categories.finish();
  for (;;) {
    if (delivered >= max_count) return LogVisit{from, false};
    const std::uint64_t hi = range_end(std::min<std::uint64_t>(from.value(), INT64_MAX), kPageRows);
    const std::string from_text = num(from.value()), hi_text = num(hi), limit_text = num(max_count - delivered);
    std::vector<Param> params{Param(from_text), Param(hi_text), Param(limit_text)};
    if (filtered) {
      params.emplace_back(types_text);
      params.emplace_back(categories_text);
    }
    STRATA_ASSIGN_OR_RETURN(
        PgResult r, c->exec_prepared(filtered ? "strata_visit_log_filtered" : "strata_visit_log", sql, params, true));
    if (r.rows() == 0) return Status::corruption("postgresql: the log_head row is missing");
    const Position high = r.binary_u64(0, 0);
    int rows = 0;
    for (int row = 0; row < r.rows(); ++row) {
      if (r.null(row, 1)) break;
      STRATA_ASSIGN_OR_RETURN(EventView v, to_view(r, row, 1));
      STRATA_RETURN_IF_ERROR(visitor(v));
      ++rows;
    }
    delivered += static_cast<std::size_t>(rows);
    if (delivered >= max_count) {
      const Position next = Position(r.binary_u64(rows - 1, 1) + 1);
      return LogVisit{next, next > high};
    }
    // The whole window was examined.
    const Position examined_to = std::min<Position>(Position(hi), high);
    if (examined_to >= high) return LogVisit{std::max<Position>(from, high + 1), true};
    from = examined_to + 1;
  }
}

Result<LogSlice> PgEventStore::read_log(Position from, std::size_t max_count, const LogFilter& filter) {
  LogSlice slice;
  auto next = visit_log(from, max_count, filter, [&](const EventView& e) -> Status {
    STRATA_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
    slice.events.push_back(std::move(r));
    return {};
  });
  if (!next.ok()) return next.status();
  slice.next_position = next->next_position;
  slice.end_of_log = next->end_of_log;
  return slice;
}

Result<std::optional<EventLocation>> PgEventStore::lookup_event(const EventId& id) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string id_text = id.to_string();
  STRATA_ASSIGN_OR_RETURN(
      PgResult r,
      c->exec_prepared(
          "strata_lookup_event",
          fmt::format("SELECT stream_id, version, position FROM {}.events WHERE event_id = $1::uuid", impl_->s),
          {Param(id_text)}, false));
  if (r.rows() == 0) return std::optional<EventLocation>();
  return std::optional<EventLocation>(EventLocation{std::string(r.text(0, 0)), r.u64(0, 1), r.u64(0, 2)});
}

Result<Version> PgEventStore::stream_head(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(
      PgResult r,
      c->exec_prepared("strata_stream_head", fmt::format("SELECT head FROM {}.streams WHERE stream_id = $1", impl_->s),
                       {Param(stream.view())}, false));
  return r.rows() == 0 ? Version{0} : Version{r.u64(0, 0)};
}

Result<StreamList> PgEventStore::list_streams(std::string_view after, std::size_t max_count) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string limit_text = num(std::min<std::size_t>(max_count, INT64_MAX) + 1);
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec(fmt::format("SELECT stream_id, head FROM {}.streams WHERE stream_id > $1 "
                                                          "ORDER BY stream_id LIMIT $2",
                                                          impl_->s),
                                              {Param(after), Param(limit_text)}));
  StreamList list;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(r.rows()), max_count);
  for (std::size_t k = 0; k < n; ++k)
    list.streams.push_back(StreamInfo{std::string(r.text(static_cast<int>(k), 0)), r.u64(static_cast<int>(k), 1)});
  if (static_cast<std::size_t>(r.rows()) > max_count && !list.streams.empty())
    list.next_after = list.streams.back().stream_id;
  return list;
}

Position PgEventStore::head_position() const { return Position(impl_->high_water.load(std::memory_order_acquire)); }

Result<Position> PgEventStore::refresh_head() {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(Position head, impl_->read_head(*c));
  advance_head(head);
  return head;
}

const Limits& PgEventStore::limits() const noexcept { return impl_->options.limits; }

Result<Version> PgEventStore::version_as_of(const StreamId& stream, Timestamp at) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string at_text = std::to_string(at.time_since_epoch().count());
  STRATA_ASSIGN_OR_RETURN(
      PgResult r,
      c->exec(fmt::format("SELECT h.head, (SELECT max(version) FROM {0}.events e WHERE e.stream_id = $1 AND "
                          "e.recorded_at <= $2) FROM {0}.streams h WHERE h.stream_id = $1",
                          impl_->s),
              {Param(stream.view()), Param(at_text)}));
  if (r.rows() == 0) return stream_not_found(stream);
  return r.null(0, 1) ? Version{0} : Version{r.u64(0, 1)};
}

// Snapshots: one row per (stream, version, schema), holding core's snapshot encoding (checksummed).
Status PgEventStore::save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) {
  if (snapshot.version == 0)
    return Status::invalid_argument(fmt::format("snapshot of stream \"{}\": version 0 holds no events", stream.str()));
  std::string bytes;
  pg::append_bytea_hex(bytes, encode_snapshot(snapshot));
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string v = num(snapshot.version.value());
  const std::string f = std::to_string(static_cast<std::int64_t>(snapshot.schema_fingerprint));
  const std::string sv = num(snapshot.snapshot_version);
  return c
      ->exec(fmt::format("INSERT INTO {}.snapshots VALUES ($1, $2, $3, $4, $5::bytea) ON CONFLICT "
                         "(stream_id, version, fingerprint, snapshot_version) DO UPDATE SET record = EXCLUDED.record",
                         impl_->s),
             {Param(stream.view()), Param(v), Param(f), Param(sv), Param(bytes)})
      .status();
}

Result<std::optional<SnapshotRecord>> PgEventStore::load_snapshot(const StreamId& stream, Version max_version,
                                                                  const SnapshotSchema& schema) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string v = num(std::min<std::uint64_t>(max_version.value(), INT64_MAX));
  const std::string f = std::to_string(static_cast<std::int64_t>(schema.fingerprint));
  const std::string sv = num(schema.snapshot_version);
  STRATA_ASSIGN_OR_RETURN(
      PgResult r,
      c->exec_prepared("strata_load_snapshot",
                       fmt::format("SELECT version, record FROM {}.snapshots WHERE stream_id = $1 AND version <= $2 "
                                   "AND fingerprint = $3 AND snapshot_version = $4 ORDER BY version DESC LIMIT 1",
                                   impl_->s),
                       {Param(stream.view()), Param(v), Param(f), Param(sv)}, false));
  if (r.rows() == 0) return std::optional<SnapshotRecord>();
  auto context = [&](const Status& st) {
    return st.with_context(fmt::format("snapshot of stream \"{}\" at version {}", stream.str(), r.u64(0, 0)));
  };
  auto bytes = pg::decode_bytea_hex(r.text(0, 1));
  if (!bytes.ok()) return context(bytes.status());
  auto decoded = decode_snapshot(*bytes);
  if (!decoded.ok()) return context(decoded.status());
  if (decoded->version != Version(r.u64(0, 0)) || decoded->schema() != schema)
    return context(Status::corruption("the stored snapshot does not match its key"));
  return std::optional<SnapshotRecord>(std::move(*decoded));
}

Status PgEventStore::retain_snapshots(const StreamId& stream, const SnapshotSchema& schema, std::size_t keep) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(PgResult r,
                          c->exec(fmt::format("SELECT version, fingerprint, snapshot_version FROM {}.snapshots WHERE "
                                              "stream_id = $1 ORDER BY version, fingerprint, snapshot_version",
                                              impl_->s),
                                  {Param(stream.view())}));
  std::vector<StoredSnapshot> stored;
  for (int row = 0; row < r.rows(); ++row)
    stored.push_back(StoredSnapshot{r.u64(row, 0), static_cast<std::uint64_t>(r.i64(row, 1)) == schema.fingerprint &&
                                                       r.u64(row, 2) == schema.snapshot_version});
  const std::vector<bool> drop = snapshots_to_drop(stored, keep);
  ArrayLiteral versions, fingerprints, snapshot_versions;
  for (int row = 0; row < r.rows(); ++row) {
    if (!drop[static_cast<std::size_t>(row)]) continue;
    versions.add_number(r.u64(row, 0));
    fingerprints.add_number(r.i64(row, 1));
    snapshot_versions.add_number(r.u64(row, 2));
  }
  if (versions.empty()) return {};
  return c
      ->exec(fmt::format("DELETE FROM {}.snapshots s USING unnest($2::bigint[], $3::bigint[], $4::bigint[]) "
                         "AS d(version, fingerprint, snapshot_version) WHERE s.stream_id = $1 AND "
                         "s.version = d.version AND s.fingerprint = d.fingerprint AND "
                         "s.snapshot_version = d.snapshot_version",
                         impl_->s),
             {Param(stream.view()), Param(versions.finish()), Param(fingerprints.finish()),
              Param(snapshot_versions.finish())})
      .status();
}

Result<std::vector<Version>> PgEventStore::snapshot_versions(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(
      PgResult r,
      c->exec(fmt::format("SELECT version FROM {}.snapshots WHERE stream_id = $1 ORDER BY version", impl_->s),
              {Param(stream.view())}));
  std::vector<Version> out;
  for (int row = 0; row < r.rows(); ++row) out.push_back(r.u64(row, 0));
  return out;
}

ProjectionStorage& PgEventStore::projection_storage() noexcept { return *impl_->projections; }

Status PgEventStore::drop_schema(const std::string& conninfo, const std::string& schema) {
  STRATA_ASSIGN_OR_RETURN(auto c, PgConnection::connect(conninfo));
  return c->exec_script(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", pg::quote_ident(schema)));
}

}  // namespace strata
