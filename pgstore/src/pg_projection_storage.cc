// The projection storage of PgEventStore: ProjectionStorage on three tables of the store's schema.
//
//   projection_states  (projection, state)   one row per projection with a state (encode_projection_state)
//   projection_rows    (projection, key, value)
//                      key: the row key of backend/projection_records.h, generation:be64 model_length:u8
//                      model key
//   projection_parked  (projection, key, record)
//                      key: generation:be64 position:be64; record: encode_parked_event
//
// Every column is bytea: projection names are any bytes (text could hold neither NUL nor bytes that are
// not UTF-8), and bytea compares like memcmp, the order the contract gives keys and names. So the rows of
// a generation, of a read model in it and of a key prefix in that are each one range of the primary key,
// as in the RocksDB families, and dropping a generation is a range deletion.
//
// A commit is one transaction: an advisory lock on the projection serialises the commits of one
// projection across processes, then the compare-and-set of the state, then the changes in the order of
// the contract (dropped generations first, then rows, parked events and the state, as one statement with
// the rows sent as arrays). A read is one statement, and so one snapshot: a read of kServingGeneration
// takes the generation from the state row in the same statement. A scan longer than a page reads its
// pages in one REPEATABLE READ transaction.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg_connection.h"
#include "pg_store_impl.h"
#include "strata/core/backend/encoding.h"
#include "strata/projections/backend/projection_commit.h"
#include "strata/projections/backend/projection_records.h"

namespace strata::pg {

std::string projection_tables_sql(const std::string& s) {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {0}.projection_states ("
      "  projection bytea PRIMARY KEY CHECK (length(projection) BETWEEN 1 AND 255),"
      "  state bytea NOT NULL);"
      "CREATE TABLE IF NOT EXISTS {0}.projection_rows ("
      "  projection bytea NOT NULL,"
      "  key bytea NOT NULL,"
      "  value bytea NOT NULL,"
      "  PRIMARY KEY (projection, key));"
      "CREATE TABLE IF NOT EXISTS {0}.projection_parked ("
      "  projection bytea NOT NULL,"
      "  key bytea NOT NULL CHECK (length(key) = 16),"
      "  record bytea NOT NULL,"
      "  PRIMARY KEY (projection, key))",
      s);
}

namespace {

// Rows per page of a long scan: bounds the memory of one result.
constexpr std::size_t kScanPageRows = 1000;
// About the most bytes of row arrays sent in one statement of a commit; a larger batch is sent in
// several statements of its transaction.
constexpr std::size_t kStatementBytes = std::size_t{16} << 20;

// Names that no commit can store (validate_batch refuses them): reads of them find nothing.
bool storable(std::string_view projection) {
  return !projection.empty() && projection.size() <= kMaxProjectionNameBytes;
}
bool storable(std::string_view projection, std::string_view model) {
  return storable(projection) && !model.empty() && model.size() <= kMaxReadModelNameBytes;
}

// `bytes` as a bytea parameter (hex input format).
std::string bytea(std::string_view bytes) {
  std::string out;
  out.reserve(2 + 2 * bytes.size());
  append_bytea_hex(out, bytes);
  return out;
}

std::string be64(std::uint64_t v) {
  std::string out;
  encoding::put_be(out, v, 8);
  return out;
}

// A count as a LIMIT: counts beyond bigint mean no limit.
std::string limit(std::size_t n) {
  return std::to_string(std::min<std::uint64_t>(n, std::numeric_limits<std::int64_t>::max()));
}

// A row key without its generation: model_length:u8 model key.
std::string row_suffix(std::string_view model, std::string_view key) {
  std::string out;
  out.reserve(1 + model.size() + key.size());
  out += static_cast<char>(static_cast<std::uint8_t>(model.size()));
  out.append(model).append(key);
  return out;
}

// A statement's parameters, numbered in the order they are added.
class Args {
 public:
  // Adds a parameter and returns its placeholder ("$3").
  std::string add(std::string value) {
    values_.push_back(std::move(value));
    return fmt::format("${}", values_.size());
  }
  std::vector<Param> params() const { return {values_.begin(), values_.end()}; }

 private:
  std::deque<std::string> values_;  // a deque: the views of params() stay valid as it grows
};

// The WITH clause of a read of `generation`: one row g(state, g8), g8 being the generation as the 8-byte
// prefix of its row and parked keys. kServingGeneration takes it from the stored state within the same
// statement, so the generation and what is read in it come from one snapshot; there is no row then when
// the projection has no state. State format 1 holds the generation at bytes 2..9 (checked against the
// decoded state by served_prefix()).
std::string generation_cte(const std::string& s, Generation generation, const std::string& projection, Args& args) {
  if (generation == kServingGeneration)
    return fmt::format(
        "WITH g AS (SELECT state, substring(state FROM 2 FOR 8) AS g8 FROM {}.projection_states "
        "WHERE projection = {}::bytea) ",
        s, projection);
  return fmt::format("WITH g AS (SELECT NULL::bytea AS state, {}::bytea AS g8) ", args.add(bytea(be64(generation))));
}

// The rows of a result of a generation_cte() read whose column `col` is NULL when g matched nothing: 0
// for that one row.
int matched_rows(const PgResult& r, int col) { return r.rows() == 1 && r.null(0, col) ? 0 : r.rows(); }

class PgProjectionStorage final : public ProjectionStorage {
 public:
  PgProjectionStorage(PgPool& pool, std::string s)
      : pool_(pool),
        s_(std::move(s)),
        lock_sql_("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"),
        state_sql_(fmt::format("SELECT state FROM {}.projection_states WHERE projection = $1::bytea", s_)),
        drop_generation_sql_(fmt::format(
            "WITH r AS (DELETE FROM {0}.projection_rows WHERE projection = $1::bytea AND key >= $2::bytea "
            "AND key < $3::bytea) "
            "DELETE FROM {0}.projection_parked WHERE projection = $1::bytea AND key >= $2::bytea AND key < $3::bytea",
            s_)),
        drop_last_generation_sql_(
            fmt::format("WITH r AS (DELETE FROM {0}.projection_rows WHERE projection = $1::bytea AND key >= $2::bytea) "
                        "DELETE FROM {0}.projection_parked WHERE projection = $1::bytea AND key >= $2::bytea",
                        s_)),
        write_sql_(fmt::format("WITH put_rows AS (INSERT INTO {0}.projection_rows (projection, key, value) "
                               "  SELECT $1::bytea, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) "
                               "  ON CONFLICT (projection, key) DO UPDATE SET value = EXCLUDED.value), "
                               "erase_rows AS (DELETE FROM {0}.projection_rows "
                               "  WHERE projection = $1::bytea AND key = ANY($4::bytea[])), "
                               "park AS (INSERT INTO {0}.projection_parked (projection, key, record) "
                               "  SELECT $1::bytea, k, r FROM unnest($5::bytea[], $6::bytea[]) AS t(k, r) "
                               "  ON CONFLICT (projection, key) DO UPDATE SET record = EXCLUDED.record), "
                               "unpark AS (DELETE FROM {0}.projection_parked "
                               "  WHERE projection = $1::bytea AND key = ANY($7::bytea[])) "
                               "INSERT INTO {0}.projection_states (projection, state) "
                               "SELECT $1::bytea, $8::bytea WHERE $8::bytea IS NOT NULL "
                               "ON CONFLICT (projection) DO UPDATE SET state = EXCLUDED.state",
                               s_)),
        drop_projection_sql_(fmt::format("WITH r AS (DELETE FROM {0}.projection_rows WHERE projection = $1::bytea), "
                                         "p AS (DELETE FROM {0}.projection_parked WHERE projection = $1::bytea) "
                                         "DELETE FROM {0}.projection_states WHERE projection = $1::bytea",
                                         s_)) {}

  Result<std::optional<ProjectionState>> load_state(std::string_view projection) override {
    if (!storable(projection)) return std::optional<ProjectionState>();
    auto failed = [&](const Status& st) {
      return st.with_context(fmt::format("read the state of projection \"{}\"", projection));
    };
    auto c = pool_.acquire();
    if (!c.ok()) return failed(c.status());
    auto r = (*c)->exec(state_sql_, {bytea(projection)});
    if (!r.ok()) return failed(r.status());
    return state_of(*r, projection);
  }

  Status commit(const ProjectionWriteBatch& batch) override {
    STRATA_RETURN_IF_ERROR(validate_batch(batch));
    if (batch.empty()) return {};
    const std::string& name = batch.projection();
    auto c = pool_.acquire();
    if (!c.ok()) return c.status().with_context(fmt::format("commit of projection \"{}\": nothing was written", name));
    bool commit_sent = false;
    Status st = commit_on(**c, batch, commit_sent);
    if (st.ok()) return st;
    if ((*c)->broken()) {
      if (commit_sent)
        return Status::unavailable(
            fmt::format("commit of projection \"{}\": the connection to PostgreSQL was lost after COMMIT was sent, "
                        "so the batch may or may not have been committed (load_state() tells which): {}",
                        name, st.message()));
      return Status::unavailable(
          fmt::format("commit of projection \"{}\": nothing was written: {}", name, st.message()));
    }
    (void)(*c)->exec_script("ROLLBACK");
    // The conflict carries the message every backend gives; only the backend's own failures get context.
    if (st.code() == StatusCode::kWrongExpectedVersion) return st;
    return st.with_context(fmt::format("commit of projection \"{}\": nothing was written", name));
  }

  Result<std::optional<std::string>> get(std::string_view projection, Generation generation, std::string_view model,
                                         std::string_view key) override {
    if (!storable(projection, model)) return std::optional<std::string>();
    auto failed = [&](const Status& st) {
      return st.with_context(fmt::format("read a row of projection \"{}\"", projection));
    };
    Args args;
    const std::string p = args.add(bytea(projection));
    std::string sql = generation_cte(s_, generation, p, args);
    sql += fmt::format(
        "SELECT g.state, r.value FROM g LEFT JOIN {}.projection_rows r "
        "ON r.projection = {}::bytea AND r.key = g.g8 || {}::bytea",
        s_, p, args.add(bytea(row_suffix(model, key))));
    auto c = pool_.acquire();
    if (!c.ok()) return failed(c.status());
    auto r = (*c)->exec(sql, args.params());
    if (!r.ok()) return failed(r.status());
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> g8, served_prefix(*r, projection, generation));
    if (!g8 || matched_rows(*r, 1) == 0) return std::optional<std::string>();
    auto value = decode_bytea_hex(r->text(0, 1));
    if (!value.ok()) return failed(value.status());
    return std::optional<std::string>(std::move(*value));
  }

  Status scan(std::string_view projection, Generation generation, std::string_view model, std::string_view prefix,
              const ScanOptions& options, RowVisitor visitor) override {
    if (!storable(projection, model) || options.max_count == 0) return {};
    auto failed = [&](const Status& st) {
      return st.with_context(fmt::format("scan read model \"{}\" of projection \"{}\"", model, projection));
    };
    ScanQuery q;
    q.projection = projection;
    q.low = row_suffix(model, prefix);
    // The end of the range within the generation; none when the suffix is all 0xff bytes (a 255-byte model
    // name of 0xff bytes and such a prefix): the range then ends where the rows stop starting with it.
    q.high = prefix_successor(q.low);
    if (!options.start_after.empty()) q.after = row_suffix(model, options.start_after);
    q.header = 9 + model.size();

    auto c = pool_.acquire();
    if (!c.ok()) return failed(c.status());
    const std::optional<std::string> explicit_g8 =
        generation == kServingGeneration ? std::nullopt : std::optional<std::string>(be64(generation));
    // One statement reads one snapshot, so a scan that fits in a page needs no transaction: read one row
    // more than a page to learn whether it does.
    const bool may_page = options.max_count > kScanPageRows;
    {
      auto r = scan_page(**c, q, explicit_g8, q.after, may_page ? kScanPageRows + 1 : options.max_count);
      if (!r.ok()) return failed(r.status());
      const int n = matched_rows(*r, 1);
      if (!may_page || static_cast<std::size_t>(n) <= kScanPageRows) {
        STRATA_ASSIGN_OR_RETURN(std::optional<std::string> g8, served_prefix(*r, projection, generation));
        if (!g8) return {};
        std::string last;
        return deliver(*r, n, q.header, visitor, last, failed);
      }
    }
    // Longer: the pages are read in one REPEATABLE READ transaction, so that all come from its snapshot.
    // The page read above came from an earlier one, so the scan starts over.
    if (Status st = (*c)->exec_script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !st.ok()) return failed(st);
    Status st = scan_pages(**c, q, generation, explicit_g8, options.max_count, visitor, failed);
    if ((*c)->broken()) return st;
    Status ended = (*c)->exec_script(st.ok() ? "COMMIT" : "ROLLBACK");
    if (!st.ok()) return st;
    return ended.ok() ? ended : failed(ended);
  }

  Result<std::vector<ParkedEvent>> list_parked(std::string_view projection, Generation generation, Position after,
                                               std::size_t max_count) override {
    std::vector<ParkedEvent> out;
    if (!storable(projection) || max_count == 0) return out;
    auto failed = [&](const Status& st) {
      return st.with_context(fmt::format("list parked events of projection \"{}\"", projection));
    };
    Args args;
    const std::string p = args.add(bytea(projection));
    std::string sql = generation_cte(s_, generation, p, args);
    // Parked keys are 16 bytes, so those of the generation end at g8 followed by eight 0xff bytes.
    sql += fmt::format(
        "SELECT g.state, k.record FROM g LEFT JOIN LATERAL (SELECT key, record FROM {}.projection_parked "
        "WHERE projection = {}::bytea AND key > g.g8 || {}::bytea AND key <= g.g8 || {}::bytea "
        "ORDER BY key LIMIT {}) k ON true ORDER BY k.key",
        s_, p, args.add(bytea(be64(after.value()))), args.add(bytea(be64(~std::uint64_t{0}))),
        args.add(limit(max_count)));
    auto c = pool_.acquire();
    if (!c.ok()) return failed(c.status());
    auto r = (*c)->exec(sql, args.params());
    if (!r.ok()) return failed(r.status());
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> g8, served_prefix(*r, projection, generation));
    if (!g8) return out;
    const int n = matched_rows(*r, 1);
    out.reserve(n);
    for (int i = 0; i < n; ++i) {
      STRATA_ASSIGN_OR_RETURN(ParkedEvent parked, parked_of(*r, i, 1, projection));
      out.push_back(std::move(parked));
    }
    return out;
  }

  Result<std::optional<ParkedEvent>> get_parked(std::string_view projection, Generation generation,
                                                Position position) override {
    if (!storable(projection)) return std::optional<ParkedEvent>();
    auto failed = [&](const Status& st) {
      return st.with_context(fmt::format("read parked event {} of projection \"{}\"", position.value(), projection));
    };
    Args args;
    const std::string p = args.add(bytea(projection));
    std::string sql = generation_cte(s_, generation, p, args);
    sql += fmt::format(
        "SELECT g.state, k.record FROM g LEFT JOIN {}.projection_parked k "
        "ON k.projection = {}::bytea AND k.key = g.g8 || {}::bytea",
        s_, p, args.add(bytea(be64(position.value()))));
    auto c = pool_.acquire();
    if (!c.ok()) return failed(c.status());
    auto r = (*c)->exec(sql, args.params());
    if (!r.ok()) return failed(r.status());
    STRATA_ASSIGN_OR_RETURN(std::optional<std::string> g8, served_prefix(*r, projection, generation));
    if (!g8 || matched_rows(*r, 1) == 0) return std::optional<ParkedEvent>();
    STRATA_ASSIGN_OR_RETURN(ParkedEvent parked, parked_of(*r, 0, 1, projection));
    return std::optional<ParkedEvent>(std::move(parked));
  }

  Result<std::vector<std::string>> list_projections() override {
    auto c = pool_.acquire();
    if (!c.ok()) return c.status().with_context("list projections");
    auto r = (*c)->exec(fmt::format("SELECT projection FROM {}.projection_states ORDER BY projection", s_));
    if (!r.ok()) return r.status().with_context("list projections");
    std::vector<std::string> names;
    names.reserve(r->rows());
    for (int i = 0; i < r->rows(); ++i) {
      auto name = decode_bytea_hex(r->text(i, 0));
      if (!name.ok()) return name.status().with_context("list projections");
      names.push_back(std::move(*name));
    }
    return names;
  }

  Status drop_projection(std::string_view projection) override {
    if (!storable(projection)) return {};
    auto c = pool_.acquire();
    if (!c.ok()) return c.status().with_context(fmt::format("drop of projection \"{}\"", projection));
    // Under the commits' lock: a commit of the projection running meanwhile lands wholly before the drop
    // or wholly after it.
    Status st = (*c)->exec_script("BEGIN");
    if (st.ok()) st = (*c)->exec(lock_sql_, {lock_key(projection)}).status();
    if (st.ok()) st = (*c)->exec(drop_projection_sql_, {bytea(projection)}).status();
    if (st.ok()) st = (*c)->exec_script("COMMIT");
    if (st.ok()) return st;
    if (!(*c)->broken()) (void)(*c)->exec_script("ROLLBACK");
    return st.with_context(fmt::format("drop of projection \"{}\"", projection));
  }

 private:
  // A scan's range within its generation, as row keys without their generation prefix.
  struct ScanQuery {
    std::string_view projection;
    std::string low;                   // model_length model prefix: the first key
    std::string high;                  // prefix_successor(low), or "" for no end
    std::optional<std::string> after;  // model_length model start_after: rows strictly after it
    std::size_t header = 0;            // bytes of a stored row key before the row's own key
  };

  // The advisory lock of `projection`'s commits, as the text hashed to its key: the schema keeps the
  // stores of one database apart, the hex form makes any bytes text.
  std::string lock_key(std::string_view projection) const {
    std::string key = "strata-projection:" + s_ + ":";
    append_bytea_hex(key, projection);
    return key;
  }

  // The stored state in column 0 of a result (no row: none), decoded; `bytes` receives it as stored.
  Result<std::optional<ProjectionState>> state_of(const PgResult& r, std::string_view projection,
                                                  std::string* bytes = nullptr) const {
    if (r.rows() == 0 || r.null(0, 0)) return std::optional<ProjectionState>();
    auto context = [&](const Status& st) {
      return st.with_context(fmt::format("PostgreSQL schema {}: state of projection \"{}\"", s_, projection));
    };
    auto stored = decode_bytea_hex(r.text(0, 0));
    if (!stored.ok()) return context(stored.status());
    auto state = decode_projection_state(*stored);
    if (!state.ok()) return context(state.status());
    if (bytes != nullptr) *bytes = std::move(*stored);
    return std::optional<ProjectionState>(*state);
  }

  // The generation prefix a generation_cte() read used: for kServingGeneration the stored state's
  // (std::nullopt when there is none), checked by decoding the state, which also reports a damaged one.
  Result<std::optional<std::string>> served_prefix(const PgResult& r, std::string_view projection,
                                                   Generation generation) const {
    if (generation != kServingGeneration) return std::optional<std::string>(be64(generation));
    std::string stored;
    STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> state, state_of(r, projection, &stored));
    if (!state) return std::optional<std::string>();
    // The SQL took bytes 2..9 of the stored state as the generation, where format 1 keeps it; a state of a
    // later format that keeps it elsewhere must not be read as if it did.
    const std::string g8 = be64(state->generation);
    if (stored.compare(1, 8, g8) != 0)
      return Status::internal(fmt::format(
          "PostgreSQL schema {}: the state of projection \"{}\" has a format whose generation the SQL cannot read", s_,
          projection));
    return std::optional<std::string>(g8);
  }

  // Row `row`'s parked record in column `col`, decoded.
  Result<ParkedEvent> parked_of(const PgResult& r, int row, int col, std::string_view projection) const {
    auto context = [&](const Status& st) {
      return st.with_context(fmt::format("PostgreSQL schema {}: parked event of projection \"{}\"", s_, projection));
    };
    auto bytes = decode_bytea_hex(r.text(row, col));
    if (!bytes.ok()) return context(bytes.status());
    auto parked = decode_parked_event(*bytes);
    if (!parked.ok()) return context(parked.status());
    return std::move(*parked);
  }

  // Up to `count` rows of the scan after `after`, in key order, as (state, key, value); `g8` the generation
  // prefix, or std::nullopt to read the serving generation.
  Result<PgResult> scan_page(PgConnection& c, const ScanQuery& q, const std::optional<std::string>& g8,
                             const std::optional<std::string>& after, std::size_t count) const {
    Args args;
    const std::string p = args.add(bytea(q.projection));
    std::string sql =
        g8 ? fmt::format("WITH g AS (SELECT NULL::bytea AS state, {}::bytea AS g8) ", args.add(bytea(*g8)))
           : generation_cte(s_, kServingGeneration, p, args);
    const std::string low = args.add(bytea(q.low));
    std::string where = fmt::format("projection = {}::bytea AND key >= g.g8 || {}::bytea", p, low);
    if (!q.high.empty()) {
      where += fmt::format(" AND key < g.g8 || {}::bytea", args.add(bytea(q.high)));
    } else {
      where += fmt::format(" AND substring(key FROM 1 FOR 8 + length({0}::bytea)) = g.g8 || {0}::bytea", low);
    }
    if (after) where += fmt::format(" AND key > g.g8 || {}::bytea", args.add(bytea(*after)));
    sql += fmt::format(
        "SELECT g.state, r.key, r.value FROM g LEFT JOIN LATERAL (SELECT key, value FROM {}.projection_rows "
        "WHERE {} ORDER BY key LIMIT {}) r ON true ORDER BY r.key",
        s_, where, args.add(limit(count)));
    return c.exec(sql, args.params());
  }

  // Hands the first `n` rows of a scan_page() result to the visitor; `last` becomes the last stored key.
  template <typename Failed>
  static Status deliver(const PgResult& r, int n, std::size_t header, RowVisitor visitor, std::string& last,
                        const Failed& failed) {
    for (int i = 0; i < n; ++i) {
      auto key = decode_bytea_hex(r.text(i, 1));
      if (!key.ok()) return failed(key.status());
      auto value = decode_bytea_hex(r.text(i, 2));
      if (!value.ok()) return failed(value.status());
      if (key->size() < header) return failed(Status::corruption("postgresql: a read-model row key is truncated"));
      STRATA_RETURN_IF_ERROR(visitor(std::string_view(*key).substr(header), *value));
      last = std::move(*key);
    }
    return {};
  }

  // The whole scan, a page at a time; runs inside the caller's REPEATABLE READ transaction.
  template <typename Failed>
  Status scan_pages(PgConnection& c, const ScanQuery& q, Generation generation, std::optional<std::string> g8,
                    std::size_t max_count, RowVisitor visitor, const Failed& failed) const {
    std::optional<std::string> after = q.after;
    std::size_t delivered = 0;
    std::string last;
    while (delivered < max_count) {
      const std::size_t want = std::min(kScanPageRows, max_count - delivered);
      auto r = scan_page(c, q, g8, after, want);
      if (!r.ok()) return failed(r.status());
      if (!g8) {  // the first page resolved the serving generation; the later ones name it
        STRATA_ASSIGN_OR_RETURN(g8, served_prefix(*r, q.projection, generation));
        if (!g8) return {};
      }
      const int n = matched_rows(*r, 1);
      STRATA_RETURN_IF_ERROR(deliver(*r, n, q.header, visitor, last, failed));
      delivered += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < want) break;
      after = last.substr(8);
    }
    return {};
  }

  // The commit's transaction on `c`, up to and including COMMIT (`commit_sent` tells whether it was sent).
  Status commit_on(PgConnection& c, const ProjectionWriteBatch& batch, bool& commit_sent) const {
    const std::string& name = batch.projection();
    const std::string projection = bytea(name);
    STRATA_RETURN_IF_ERROR(c.exec_script("BEGIN"));
    // Every commit of the projection, from any process, takes this lock first: the compare-and-set below
    // then reads the state no other commit can change before this one ends. READ COMMITTED takes each
    // statement's snapshot when it starts, so the read sees every commit that held the lock before.
    STRATA_RETURN_IF_ERROR(c.exec(lock_sql_, {lock_key(name)}).status());
    if (const auto& change = batch.state_change(); change) {
      STRATA_ASSIGN_OR_RETURN(PgResult r, c.exec(state_sql_, {projection}));
      STRATA_ASSIGN_OR_RETURN(std::optional<ProjectionState> actual, state_of(r, name));
      if (actual != change->expected) return projection_state_conflict(name, change->expected, actual);
    }
    // Dropped generations first, in statements of their own: the rows the batch writes into a dropped
    // generation must land after its deletion.
    for (Generation g : batch.dropped_generations()) {
      const std::string from = encode_generation_prefix(g);
      const std::string to = prefix_successor(from);
      if (to.empty()) {  // the last generation: every key from its prefix on is its
        STRATA_RETURN_IF_ERROR(c.exec(drop_last_generation_sql_, {projection, bytea(from)}).status());
      } else {
        STRATA_RETURN_IF_ERROR(c.exec(drop_generation_sql_, {projection, bytea(from), bytea(to)}).status());
      }
    }
    // Rows, then parked events and the state with the last rows. A key is written or erased once per batch
    // (rows() and parked() are maps), so the parts of one statement touch different rows.
    ArrayLiteral put_keys, put_values, erase_keys;
    std::size_t bytes = 0;
    auto send = [&](bool last) -> Status {
      ArrayLiteral park_keys, park_records, unpark_keys;
      std::optional<std::string> state;
      if (last) {
        for (const auto& [at, parked] : batch.parked()) {
          std::string key = be64(at.first);
          encoding::put_be(key, at.second.value(), 8);
          if (parked) {
            park_keys.add_bytea(key);
            park_records.add_bytea(encode_parked_event(*parked));
          } else {
            unpark_keys.add_bytea(key);
          }
        }
        if (const auto& change = batch.state_change(); change) state = bytea(encode_projection_state(change->next));
      }
      if (put_keys.empty() && erase_keys.empty() && park_keys.empty() && unpark_keys.empty() && !state) return {};
      std::vector<Param> params{projection,         put_keys.finish(),     put_values.finish(),  erase_keys.finish(),
                                park_keys.finish(), park_records.finish(), unpark_keys.finish(), Param()};
      if (state) params[7] = *state;
      STRATA_RETURN_IF_ERROR(c.exec(write_sql_, params).status());
      put_keys = ArrayLiteral();
      put_values = ArrayLiteral();
      erase_keys = ArrayLiteral();
      bytes = 0;
      return {};
    };
    for (const auto& [key, value] : batch.rows()) {
      if (value) {
        put_keys.add_bytea(key);
        put_values.add_bytea(*value);
        bytes += 2 * (key.size() + value->size()) + 10;
      } else {
        erase_keys.add_bytea(key);
        bytes += 2 * key.size() + 5;
      }
      if (bytes >= kStatementBytes) STRATA_RETURN_IF_ERROR(send(false));
    }
    STRATA_RETURN_IF_ERROR(send(true));
    commit_sent = true;
    return c.exec_script("COMMIT");
  }

  PgPool& pool_;
  const std::string s_;  // the schema, SQL-quoted
  const std::string lock_sql_;
  const std::string state_sql_;
  const std::string drop_generation_sql_;
  const std::string drop_last_generation_sql_;
  const std::string write_sql_;
  const std::string drop_projection_sql_;
};

}  // namespace

std::unique_ptr<ProjectionStorage> make_projection_storage(PgPool& pool, std::string s) {
  return std::make_unique<PgProjectionStorage>(pool, std::move(s));
}

}  // namespace strata::pg
