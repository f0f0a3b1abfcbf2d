// libpq underneath PgEventStore: owned results and connections, a connection pool, statements with
// text parameters, and the mapping of libpq's failures onto strata's status codes.
//
//   PgPool pool(conninfo, 8);
//   STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool.acquire());
//   STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec("SELECT head FROM s.streams WHERE stream_id = $1", {id}));
//
// Failures: a connection that cannot be made or is lost is kUnavailable (the server is down or
// restarting: retry later); an error the server reports for a statement is kIOError, with its SQLSTATE
// and message. A lost connection is dropped from the pool and made anew on the next acquire().
//
// Thread safety: a PgConnection belongs to one thread at a time; PgPool is thread-safe.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/status.h"

namespace strata::pg {

// An owned PGresult.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) noexcept : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  PGresult* get() const noexcept { return r_; }
  int rows() const noexcept { return PQntuples(r_); }
  bool null(int row, int col) const noexcept { return PQgetisnull(r_, row, col) != 0; }
  std::string_view text(int row, int col) const noexcept {
    return {PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col))};
  }
  // The column as an unsigned integer (a bigint the store wrote); 0 for NULL.
  std::uint64_t u64(int row, int col) const noexcept;
  std::int64_t i64(int row, int col) const noexcept;
  // A bigint column of a result in binary format (8 bytes, big-endian); 0 for NULL.
  std::uint64_t binary_u64(int row, int col) const noexcept;

 private:
  PGresult* r_ = nullptr;
};

// A statement parameter: text, or NULL. Bytes for bytea are passed hex-encoded (see bytea_param).
using Param = std::optional<std::string_view>;

// A connection. Statements run with text parameters and text results.
class PgConnection {
 public:
  // Connects; kUnavailable when the server cannot be reached or refuses the connection.
  static Result<std::unique_ptr<PgConnection>> connect(const std::string& conninfo);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement. kUnavailable when the connection is lost (broken() is then true), kIOError
  // with the server's SQLSTATE and message when the statement fails.
  [[nodiscard]] Result<PgResult> exec(std::string_view sql, std::initializer_list<Param> params = {});
  [[nodiscard]] Result<PgResult> exec(std::string_view sql, const std::vector<Param>& params);
  // The same with results in binary format: bigint as 8 bytes, uuid as 16, bytea as its bytes, text as
  // is. Reads of events use it: nothing to format on the server, nothing to parse here.
  [[nodiscard]] Result<PgResult> exec_binary(std::string_view sql, const std::vector<Param>& params);
  // Runs `sql` as the statement prepared on this connection under `name` (prepared the first time it
  // is run here): the server parses and plans it once per connection, not on every call. A name stands
  // for one text: callers give each statement its own. Results in binary format when `binary`.
  [[nodiscard]] Result<PgResult> exec_prepared(const std::string& name, std::string_view sql,
                                               const std::vector<Param>& params, bool binary);
  // Runs statements without parameters (several may be separated by ';').
  [[nodiscard]] Status exec_script(std::string_view sql);

  // Statements sent together in libpq's pipeline mode: one round trip for all of them. The server runs
  // them in order, each with its own snapshot (a statement after a lock sees what the lock's previous
  // holder committed). Returns every result, or the first failure (the later statements are then not
  // run). Without BEGIN the statements form one implicit transaction, committed at the pipeline's end or
  // rolled back if one fails; inside an explicit transaction a failure leaves it aborted: ROLLBACK
  // follows.
  struct Statement {
    std::string_view sql;  // or, when `prepared`, the name given to prepare()
    std::vector<Param> params;
    bool prepared = false;
  };
  // Prepares `sql` as statement `name` on this connection (once; the server then skips parsing and
  // planning it on every run).
  [[nodiscard]] Status prepare(const std::string& name, std::string_view sql);
  [[nodiscard]] Result<std::vector<PgResult>> pipeline(const std::vector<Statement>& statements);

  bool broken() const noexcept;
  // Whether the connection still works, as far as can be told without a round trip: reads what the
  // server sent meanwhile, so a connection the server closed (a restart) is found broken here rather
  // than by the next statement.
  bool alive() noexcept;
  PGconn* raw() const noexcept { return conn_; }
  // The SQLSTATE of the last failed statement ("" when none).
  const std::string& last_sqlstate() const noexcept { return sqlstate_; }

 private:
  explicit PgConnection(PGconn* c) : conn_(c) {}
  Result<PgResult> check(PGresult* r, std::string_view sql);
  Result<PgResult> run(std::string_view sql, const std::vector<Param>& params, int result_format);
  PGconn* conn_ = nullptr;
  std::string sqlstate_;
  std::vector<std::string> prepared_;  // names prepared on this connection
};

// A fixed-size pool of connections to one server, made lazily.
class PgPool {
 public:
  PgPool(std::string conninfo, std::size_t size);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connection borrowed from the pool; returned on destruction (dropped if it broke).
  class Lease {
   public:
    Lease() = default;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&& o) noexcept;
    ~Lease();
    PgConnection* operator->() const noexcept { return c_.get(); }
    PgConnection& operator*() const noexcept { return *c_; }

   private:
    void release() noexcept;
    PgPool* pool_ = nullptr;
    std::unique_ptr<PgConnection> c_;
  };

  // Waits for a free connection (connecting one when the pool is not full yet). kUnavailable when the
  // server cannot be reached, or when no connection frees up within `timeout`.
  [[nodiscard]] Result<Lease> acquire(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  const std::string& conninfo() const noexcept { return conninfo_; }

 private:
  void give_back(std::unique_ptr<PgConnection> c) noexcept;
  std::string conninfo_;
  std::size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // GUARDED_BY(mu_)
  std::size_t open_ = 0;                             // GUARDED_BY(mu_): idle + leased + connecting
};

// Helpers for building statement parameters.
//
// Appends `bytes` as a bytea literal in hex ("\x0a1b...").
void append_bytea_hex(std::string& out, std::string_view bytes);
// Decodes a bytea column in hex output format; kCorruption when it is not one.
Result<std::string> decode_bytea_hex(std::string_view text);
// Builds a one-dimensional array literal ({"a","b"}) element by element.
class ArrayLiteral {
 public:
  ArrayLiteral() { s_ = "{"; }
  void add(std::string_view element);
  // A bytea element.
  void add_bytea(std::string_view bytes);
  void add_number(std::uint64_t n);
  void add_number(std::int64_t n);
  const std::string& finish();
  bool empty() const noexcept { return n_ == 0; }

 private:
  void sep();
  std::string s_;
  std::size_t n_ = 0;
  bool finished_ = false;
};

// Quotes an SQL identifier ("my schema" -> "\"my schema\"").
std::string quote_ident(std::string_view name);

}  // namespace strata::pg
