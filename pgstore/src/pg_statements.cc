// Every statement PgEventStore runs, in one place, formatted once per store with its schema. The tables
// are described in pgstore/FORMAT.md.
#include <fmt/format.h>

#include "pg_store_impl.h"
#include "strata/core/backend/metadata_encoding.h"

namespace strata::pg {

namespace {

// The columns every event read selects, in this order (to_view in pg_reads.cc reads them so).
constexpr std::string_view kEventColumns =
    "e.position, e.stream_id, e.version, e.event_id, e.type, e.recorded_at, e.metadata, e.payload";

}  // namespace

Statements::Statements(const std::string& s) {
  create_tables = fmt::format(
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
      "  removed boolean NOT NULL DEFAULT false,"
      "  UNIQUE (stream_id, version));"
      "CREATE TABLE IF NOT EXISTS {0}.streams (stream_id text COLLATE \"C\" PRIMARY KEY, head bigint NOT NULL,"
      "  state smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),"
      "  first_version bigint NOT NULL DEFAULT 1,"
      "  origin bigint NOT NULL DEFAULT 1);"
      "CREATE TABLE IF NOT EXISTS {0}.snapshots ("
      "  stream_id text COLLATE \"C\" NOT NULL,"
      "  version bigint NOT NULL,"
      "  fingerprint bigint NOT NULL,"
      "  snapshot_version bigint NOT NULL,"
      "  record bytea NOT NULL,"
      "  PRIMARY KEY (stream_id, version, fingerprint, snapshot_version));"
      "CREATE TABLE IF NOT EXISTS {0}.subject_keys ("
      "  subject text COLLATE \"C\" PRIMARY KEY,"
      "  key bytea,"
      "  forgotten boolean NOT NULL DEFAULT false);",
      s, PgEventStore::kSchemaVersion);
  // The tombstones, for the log reads' count of the positions they pass over (a partial index: the
  // events still there have no entry in it).
  create_indexes = fmt::format("CREATE INDEX IF NOT EXISTS events_removed ON {}.events (position) WHERE removed", s);
  // Columns added with their defaults (no table rewrite): every event there, every stream live from 1.
  migrate_v1 = fmt::format(
      "ALTER TABLE {0}.events ADD COLUMN IF NOT EXISTS removed boolean NOT NULL DEFAULT false;"
      "ALTER TABLE {0}.streams ADD COLUMN IF NOT EXISTS state smallint NOT NULL DEFAULT 0 "
      "CHECK (state BETWEEN 0 AND 2),"
      "  ADD COLUMN IF NOT EXISTS first_version bigint NOT NULL DEFAULT 1,"
      "  ADD COLUMN IF NOT EXISTS origin bigint NOT NULL DEFAULT 1;"
      "CREATE TABLE IF NOT EXISTS {0}.subject_keys ("
      "  subject text COLLATE \"C\" PRIMARY KEY,"
      "  key bytea,"
      "  forgotten boolean NOT NULL DEFAULT false);",
      s);
  set_schema_version = fmt::format("UPDATE {}.strata_meta SET value = '{}' WHERE key = 'schema_version'", s,
                                   PgEventStore::kSchemaVersion);
  schema_version = fmt::format("SELECT value FROM {}.strata_meta WHERE key = 'schema_version'", s);
  load_key = fmt::format("SELECT key, forgotten FROM {}.subject_keys WHERE subject = $1", s);
  create_key =
      fmt::format("INSERT INTO {}.subject_keys (subject, key) VALUES ($1, $2::bytea) ON CONFLICT DO NOTHING", s);
  // Run together (pg_personal_data.cc), each with its own snapshot: the insert waits for a concurrent
  // insert of the subject, so the locking read then sees its row, as it was before this destruction.
  forgotten_row = fmt::format(
      "INSERT INTO {}.subject_keys (subject, key, forgotten) VALUES ($1, NULL, true) ON CONFLICT DO NOTHING", s);
  lock_key = fmt::format("SELECT key IS NOT NULL FROM {}.subject_keys WHERE subject = $1 FOR UPDATE", s);
  destroy_key = fmt::format("UPDATE {}.subject_keys SET key = NULL, forgotten = true WHERE subject = $1", s);
  read_head = fmt::format("SELECT position FROM {}.log_head WHERE id = 1", s);

  // One statement, committed on its own. It first moves the log's head (UPDATE ... RETURNING): that
  // takes the head's row lock, waits for the commit holding it, and then works on the row as that
  // commit left it (READ COMMITTED re-reads an updated row), so `base` is the committed head and the
  // lock is held to this commit. Positions and the timestamp come from there; versions from the assumed
  // heads, which the unique key (stream_id, version) checks: if a head moved, the insert fails and
  // nothing is written. A stream that is not live (deleted, by this process or another) fails it too:
  // its row's state would become -1, which the check on `state` refuses, and the full path decides.
  fast_commit = fmt::format(
      "WITH lh AS (UPDATE {0}.log_head SET position = position + $11, "
      "last_timestamp = greatest(last_timestamp, $10::bigint) WHERE id = 1 "
      "RETURNING position - $11 AS base, last_timestamp AS ts), "
      "ins AS (INSERT INTO {0}.events (position, stream_id, category, version, event_id, type, recorded_at, "
      "metadata, payload) SELECT lh.base + u.n, u.stream_id, u.category, u.version, u.event_id, u.type, lh.ts, "
      "u.metadata, u.payload FROM lh, unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], "
      "$6::bytea[], $7::text[]) WITH ORDINALITY AS u(stream_id, category, version, event_id, type, metadata, "
      "payload, n)), "
      "st AS (INSERT INTO {0}.streams AS cur (stream_id, head) SELECT * FROM unnest($8::text[], $9::bigint[]) "
      "ON CONFLICT (stream_id) DO UPDATE SET head = EXCLUDED.head, "
      "state = CASE WHEN cur.state = 0 THEN 0 ELSE -1 END) "
      "SELECT lh.base, pg_notify($12, (lh.base + $11)::text) FROM lh",
      s);
  lock_head = fmt::format("SELECT position, last_timestamp FROM {}.log_head WHERE id = 1 FOR UPDATE", s);
  committed_ids =
      fmt::format("SELECT event_id, stream_id, version, position FROM {}.events WHERE event_id = ANY($1::uuid[])", s);
  // Locked, so that a delete or truncation of one of them waits for this commit, and this commit for one
  // in progress (whose result it then reads: READ COMMITTED re-reads a row it waited for).
  stream_heads = fmt::format(
      "SELECT stream_id, head, state, first_version, origin FROM {}.streams WHERE stream_id = ANY($1::text[]) "
      "ORDER BY stream_id FOR UPDATE",
      s);
  // The same columns as fast_commit's, positions given ($10), the head set ($12, $13), the streams'
  // lives ($14, $15: first versions and origins; a recreated stream's start after its deleted ones).
  full_commit = fmt::format(
      "WITH ins AS (INSERT INTO {0}.events (position, stream_id, category, version, event_id, type, "
      "recorded_at, metadata, payload) SELECT u.position, u.stream_id, u.category, u.version, u.event_id, u.type, "
      "$13::bigint, u.metadata, u.payload FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], "
      "$6::bytea[], $7::text[], $10::bigint[]) AS u(stream_id, category, version, event_id, type, metadata, "
      "payload, position)), "
      "st AS (INSERT INTO {0}.streams (stream_id, head, first_version, origin) SELECT * FROM unnest($8::text[], "
      "$9::bigint[], $14::bigint[], $15::bigint[]) ON CONFLICT (stream_id) DO UPDATE SET head = EXCLUDED.head, "
      "state = 0, first_version = EXCLUDED.first_version, origin = EXCLUDED.origin), "
      "lh AS (UPDATE {0}.log_head SET position = $12, last_timestamp = $13::bigint WHERE id = 1) "
      "SELECT pg_notify($11, $12::text)",
      s);

  // Deletes and truncations. The stream's row is locked first: appends to the stream lock it too (the
  // fast commit by its update, the full path by stream_heads), so the two wait for each other.
  lock_stream =
      fmt::format("SELECT head, state, first_version, origin FROM {}.streams WHERE stream_id = $1 FOR UPDATE", s);
  // Versions [$2, $3) become tombstones (their rows stay: the position in the log, the id for
  // idempotency); the stream gets its new state ($4) and first version ($5); a hard delete (state 2)
  // drops the stream's snapshots. Returns how many events were removed.
  lifecycle_change = fmt::format(
      "WITH r AS (UPDATE {0}.events SET removed = true, type = '', metadata = ''::bytea, payload = '' "
      "WHERE stream_id = $1 AND version >= $2 AND version < $3 AND NOT removed RETURNING 1), "
      "st AS (UPDATE {0}.streams SET state = $4, first_version = $5 WHERE stream_id = $1), "
      "sn AS (DELETE FROM {0}.snapshots WHERE stream_id = $1 AND $4::smallint = 2) "
      "SELECT count(*) FROM r",
      s);

  // Reads select ranges bounded on both sides (versions of a stream and positions of the log are
  // contiguous, so a range of n holds at most n rows), never "from here on, LIMIT n": without statistics
  // on a fresh table the planner would read everything from `from` on and sort it to keep n rows.
  // The stream's head and life come with the rows, from the same snapshot. Forward, the range starts
  // at `from` ($2) or at the first version still there, whichever is higher, holds up to $3 versions
  // and ends at $4 at most. Backward, it ends at the head or at `from`, whichever is lower, and starts
  // at the first version still there at the lowest. Below the first version no event is read (those
  // that are there are hidden: a soft-deleted life).
  read_forward = fmt::format(
      "SELECT h.head, h.state::bigint, h.first_version, h.origin, {0} FROM (SELECT head, state, first_version, "
      "origin FROM {1}.streams WHERE stream_id = $1) h "
      "LEFT JOIN LATERAL (SELECT * FROM {1}.events e WHERE e.stream_id = $1 AND NOT e.removed "
      "AND e.version >= greatest($2::bigint, h.first_version) "
      "AND e.version <= least(greatest($2::bigint, h.first_version) + $3::bigint - 1, $4::bigint) "
      "ORDER BY e.version) e ON true",
      kEventColumns, s);
  read_backward = fmt::format(
      "SELECT h.head, h.state::bigint, h.first_version, h.origin, {0} FROM (SELECT head, state, first_version, "
      "origin FROM {1}.streams WHERE stream_id = $1) h "
      "LEFT JOIN LATERAL (SELECT * FROM {1}.events e WHERE e.stream_id = $1 AND NOT e.removed "
      "AND e.version <= least($2::bigint, h.head) AND e.version > least($2::bigint, h.head) - $3 "
      "AND e.version >= h.first_version ORDER BY e.version DESC) e ON true",
      kEventColumns, s);
  // The high-water mark comes with the rows, from the same snapshot; positions below it are all visible
  // (appends commit in position order), so reading up to it skips nothing. Without a filter (a
  // catch-up), a statement without the filter's conditions: a prepared statement's generic plan
  // evaluates them on every row. Tombstones are passed over: the LIMIT counts only events delivered,
  // and the second column counts the tombstones in the range examined (up to the last event delivered
  // when the LIMIT cut the range short, else the whole range), from the partial index events_removed.
  // The head is a scalar subquery where it bounds a range, so that both ends of the range are index
  // conditions; the count is a one-row join, computed once.
  const std::string log = fmt::format(
      "WITH h AS (SELECT position FROM {1}.log_head WHERE id = 1), "
      "p AS (SELECT * FROM {1}.events e WHERE e.position >= $1 AND e.position <= least($2, (SELECT position FROM h)) "
      "AND NOT e.removed {{}} ORDER BY e.position LIMIT $3), "
      "c AS (SELECT count(*) AS removed FROM {1}.events r WHERE r.removed AND r.position >= $1 AND r.position <= "
      "CASE WHEN (SELECT count(*) FROM p) >= $3 THEN (SELECT max(position) FROM p) "
      "ELSE least($2, (SELECT position FROM h)) END) "
      "SELECT h.position, c.removed, {0} FROM h CROSS JOIN c LEFT JOIN p e ON true ORDER BY e.position",
      kEventColumns, s);
  visit_log = fmt::format(fmt::runtime(log), "");
  visit_log_filtered = fmt::format(fmt::runtime(log),
                                   "AND (cardinality($4::text[]) = 0 OR e.type = ANY($4::text[])) "
                                   "AND (cardinality($5::text[]) = 0 OR e.category = ANY($5::text[]))");
  lookup_event = fmt::format("SELECT stream_id, version, position FROM {}.events WHERE event_id = $1::uuid", s);
  stream_head = fmt::format("SELECT head FROM {}.streams WHERE stream_id = $1", s);
  stream_info = fmt::format("SELECT head, state, first_version, origin FROM {}.streams WHERE stream_id = $1", s);
  // Retention (pg_retention.cc). A stream's life with the first version a policy keeps ($2: its count,
  // $3: the oldest commit time it keeps; null when it keeps none), and the sweep of one category.
  retained_stream = fmt::format(
      "SELECT h.head, h.state, h.first_version, h.origin, (SELECT min(e.version) FROM {0}.events e "
      "WHERE e.stream_id = $1 AND NOT e.removed AND e.version <= h.head "
      "AND e.version >= greatest(h.first_version, h.head - $2::bigint + 1) AND e.recorded_at >= $3::bigint) "
      "FROM {0}.streams h WHERE h.stream_id = $1",
      s);
  retention_sweep = fmt::format(
      "WITH r AS (UPDATE {0}.events e SET removed = true, type = '', metadata = ''::bytea, payload = '' "
      "FROM {0}.streams h WHERE e.category = $1 AND h.stream_id = e.stream_id AND h.state = 0 AND NOT e.removed "
      "AND (e.recorded_at < $3::bigint OR e.version < h.head - $2::bigint + 1) RETURNING 1) "
      "SELECT count(*) FROM r",
      s);
  list_streams = fmt::format(
      "SELECT stream_id, head, state, first_version, origin FROM {}.streams WHERE stream_id > $1 ORDER BY stream_id "
      "LIMIT $2",
      s);
  // Versions below the first readable one are gone (or hidden): none of them is an answer.
  version_as_of = fmt::format(
      "SELECT h.head, h.state, (SELECT max(version) FROM {0}.events e WHERE e.stream_id = $1 "
      "AND e.version >= h.first_version AND e.recorded_at <= $2) FROM {0}.streams h WHERE h.stream_id = $1",
      s);

  save_snapshot = fmt::format(
      "INSERT INTO {}.snapshots VALUES ($1, $2, $3, $4, $5::bytea) ON CONFLICT "
      "(stream_id, version, fingerprint, snapshot_version) DO UPDATE SET record = EXCLUDED.record",
      s);
  load_snapshot = fmt::format(
      "SELECT version, record FROM {}.snapshots WHERE stream_id = $1 AND version <= $2 AND fingerprint = $3 AND "
      "snapshot_version = $4 ORDER BY version DESC LIMIT 1",
      s);
  snapshot_keys = fmt::format(
      "SELECT version, fingerprint, snapshot_version FROM {}.snapshots WHERE stream_id = $1 "
      "ORDER BY version, fingerprint, snapshot_version",
      s);
  delete_snapshots = fmt::format(
      "DELETE FROM {}.snapshots s USING unnest($2::bigint[], $3::bigint[], $4::bigint[]) "
      "AS d(version, fingerprint, snapshot_version) WHERE s.stream_id = $1 AND s.version = d.version AND "
      "s.fingerprint = d.fingerprint AND s.snapshot_version = d.snapshot_version",
      s);
  snapshot_versions = fmt::format("SELECT version FROM {}.snapshots WHERE stream_id = $1 ORDER BY version", s);
}

void EventArrays::add(const StreamId& stream, Version version, const EventData& e) {
  stream_ids.add(stream.view());
  categories.add(stream.category());
  versions.add_number(version.value());
  event_ids.add(e.id.to_string());
  types.add(e.type);
  meta_.clear();
  encode_metadata(e.metadata, meta_);
  metadata.add_bytea(meta_);
  payloads.add(e.payload);
}

}  // namespace strata::pg
