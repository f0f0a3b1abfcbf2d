// PgEventStore: opening (the schema created or checked, under an advisory lock), the notification
// thread, and the high-water mark. The commit path is in pg_commit.cc, reads in pg_reads.cc, snapshots
// in pg_snapshots.cc, every statement's text in pg_statements.cc.
#include "strata/pgstore/pg_event_store.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "pg_store_impl.h"

namespace strata {

using pg::Param;
using pg::PgConnection;
using pg::PgPool;
using pg::PgResult;

PgEventStore::Impl::Impl(PgEventStore* owner, Options o)
    : self(owner),
      options(std::move(o)),
      s(pg::quote_ident(options.schema)),
      channel("strata." + options.schema),
      sql(s),
      pool(options.conninfo, options.pool_size) {}

PersonalData* PgEventStore::personal_data() noexcept { return impl_->personal.get(); }

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
  std::uint64_t version = 0;  // of the tables there (0: none yet)
  const bool ours = meta->u64(0, 1) == 1;
  if (tables > 0 && !ours)
    return fail(Status::corruption(fmt::format(
        "schema \"{}\" holds {} tables that are not a strata store's (no strata_meta table)", options.schema, tables)));
  if (ours) {
    auto stored = c->exec(sql.schema_version);
    if (!stored.ok()) return fail(stored.status());
    if (stored->rows() != 1) return fail(Status::corruption("strata_meta has no schema_version"));
    version = stored->u64(0, 0);
    if (version > static_cast<std::uint64_t>(kSchemaVersion))
      return fail(Status::corruption(
          fmt::format("schema \"{}\" was written by a newer strata: its version is {}, this build reads up to {}",
                      options.schema, version, kSchemaVersion)));
    if (version == 0)
      return fail(Status::corruption(fmt::format("schema \"{}\" has a bad schema_version", options.schema)));
  }
  if (Status st = c->exec_script(sql.create_tables); !st.ok()) return fail(st);
  // A new schema gets its indexes with its tables; an older one is migrated, in this transaction (under
  // the lock: other processes opening it wait, then find it migrated). A schema of this version is not
  // touched: ALTER TABLE and CREATE INDEX would lock the tables against every other process's appends.
  if (version < static_cast<std::uint64_t>(kSchemaVersion)) {
    if (version == 1) {
      if (Status st = c->exec_script(sql.migrate_v1); !st.ok()) return fail(st);
    }
    if (Status st = c->exec_script(sql.create_indexes); !st.ok()) return fail(st);
    if (Status st = c->exec_script(sql.set_schema_version); !st.ok()) return fail(st);
  }
  if (Status st = c->exec_script(pg::projection_tables_sql(s)); !st.ok()) return fail(st);
  if (Status st = c->exec_script("COMMIT"); !st.ok()) return fail(st);
  return {};
}

Result<Position> PgEventStore::Impl::read_head(PgConnection& c) {
  STRATA_ASSIGN_OR_RETURN(PgResult r, c.exec(sql.read_head));
  if (r.rows() != 1) return Status::corruption("postgresql: the log_head row is missing");
  return Position(r.u64(0, 0));
}

Result<std::unique_ptr<PgEventStore>> PgEventStore::open(Options options) {
  if (Status st = validate_limits(options.limits); !st.ok()) return st.with_context("open PostgreSQL store");
  if (Status st = validate_retention(options.retention); !st.ok()) return st.with_context("open PostgreSQL store");
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
  i.subject_keys = pg::make_subject_key_store(i.pool, i.sql);
  i.personal = std::make_unique<PersonalData>(*i.subject_keys);
  if (::pipe(i.wake_pipe) != 0) return Status::io_error("open PostgreSQL store: pipe() failed");
  i.listener = std::thread([&i] { i.listen_loop(); });
  if (!i.options.retention.empty() && i.options.retention_interval.count() > 0)
    i.sweeper = std::thread([&i] { i.retention_loop(); });
  return store;
}

PgEventStore::PgEventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PgEventStore::~PgEventStore() {
  if (impl_->sweeper.joinable()) {
    {
      std::lock_guard lock(impl_->sweeper_mu);
      impl_->stopping.store(true);
    }
    impl_->sweeper_cv.notify_all();
    impl_->sweeper.join();
  }
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

Position PgEventStore::head_position() const { return Position(impl_->high_water.load(std::memory_order_acquire)); }

Result<Position> PgEventStore::refresh_head() {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(Position head, impl_->read_head(*c));
  advance_head(head);
  return head;
}

const Limits& PgEventStore::limits() const noexcept { return impl_->options.limits; }

ProjectionStorage& PgEventStore::projection_storage() noexcept { return *impl_->projections; }

Status PgEventStore::drop_schema(const std::string& conninfo, const std::string& schema) {
  STRATA_ASSIGN_OR_RETURN(auto c, PgConnection::connect(conninfo));
  return c->exec_script(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", pg::quote_ident(schema)));
}

}  // namespace strata
