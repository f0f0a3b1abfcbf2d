#include "pg_connection.h"

#include <fmt/format.h>

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace strata::pg {

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_ != nullptr) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (r_ != nullptr) PQclear(r_);
}

std::uint64_t PgResult::u64(int row, int col) const noexcept {
  std::string_view t = text(row, col);
  std::uint64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::uint64_t PgResult::binary_u64(int row, int col) const noexcept {
  if (PQgetisnull(r_, row, col) != 0 || PQgetlength(r_, row, col) != 8) return 0;
  const auto* b = reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col));
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b[i];
  return v;
}

std::int64_t PgResult::i64(int row, int col) const noexcept {
  std::string_view t = text(row, col);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

namespace {

std::string first_line(const char* message) {
  std::string s = message == nullptr ? std::string() : std::string(message);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Statement parameters as libpq takes them: NUL-terminated text, or a null pointer for NULL.
class ParamValues {
 public:
  explicit ParamValues(const std::vector<Param>& params) : values_(params.size(), nullptr) {
    owned_.reserve(params.size());  // no reallocation: values_ point into the strings
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!params[i].has_value()) continue;
      owned_.emplace_back(*params[i]);
      values_[i] = owned_.back().c_str();
    }
  }
  int count() const noexcept { return static_cast<int>(values_.size()); }
  const char* const* values() const noexcept { return values_.data(); }

 private:
  std::vector<std::string> owned_;
  std::vector<const char*> values_;
};

}  // namespace

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr) return Status::unavailable("postgresql: out of memory making a connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = first_line(PQerrorMessage(c));
    PQfinish(c);
    return Status::unavailable(fmt::format("postgresql: cannot connect: {}", why));
  }
  // Quiet: the server's notices (e.g. "relation already exists, skipping") are not errors.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(c));
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConnection::broken() const noexcept { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

bool PgConnection::alive() noexcept {
  // An idle connection has nothing to read unless the server is going away: it says why (a FATAL
  // message) and closes. Read until nothing is left; a closed socket makes libpq mark it broken.
  for (int i = 0; i < 4; ++i) {
    if (broken()) return false;
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;
    if (PQconsumeInput(conn_) == 0) return false;
    while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
  }
  return false;  // still talking while idle: not a connection to trust
}

Result<PgResult> PgConnection::check(PGresult* raw, std::string_view sql) {
  PgResult r(raw);
  const ExecStatusType st = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    sqlstate_.clear();
    return r;
  }
  if (broken()) {
    sqlstate_ = "08006";
    return Status::unavailable(fmt::format("postgresql: connection lost: {}", first_line(PQerrorMessage(conn_))));
  }
  const char* state = raw == nullptr ? nullptr : PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  sqlstate_ = state == nullptr ? "" : state;
  std::string message = first_line(raw == nullptr ? PQerrorMessage(conn_) : PQresultErrorMessage(raw));
  // Shutdown and connection classes: the server is going away, not the statement failing.
  if (sqlstate_.rfind("57P", 0) == 0 || sqlstate_.rfind("08", 0) == 0)
    return Status::unavailable(fmt::format("postgresql: {} [{}]", message, sqlstate_));
  std::string_view what = sql.substr(0, std::min<std::size_t>(sql.size(), 60));
  return Status::io_error(fmt::format("postgresql: {} [{}] in \"{}\"", message, sqlstate_, what));
}

Result<PgResult> PgConnection::exec(std::string_view sql, std::initializer_list<Param> params) {
  return exec(sql, std::vector<Param>(params));
}

Result<PgResult> PgConnection::exec(std::string_view sql, const std::vector<Param>& params) {
  return run(sql, params, 0);
}

Result<PgResult> PgConnection::exec_binary(std::string_view sql, const std::vector<Param>& params) {
  return run(sql, params, 1);
}

Result<PgResult> PgConnection::run(std::string_view sql, const std::vector<Param>& params, int result_format) {
  if (conn_ == nullptr) return Status::unavailable("postgresql: connection closed");
  std::string statement(sql);
  const ParamValues values(params);
  PGresult* r =
      PQexecParams(conn_, statement.c_str(), values.count(), nullptr, values.values(), nullptr, nullptr, result_format);
  return check(r, sql);
}

Result<std::vector<PgResult>> PgConnection::pipeline(const std::vector<Statement>& statements) {
  if (conn_ == nullptr) return Status::unavailable("postgresql: connection closed");
  if (PQenterPipelineMode(conn_) != 1)
    return Status::io_error(
        fmt::format("postgresql: cannot enter pipeline mode: {}", first_line(PQerrorMessage(conn_))));
  Status failure;
  std::size_t sent = 0;
  for (const Statement& st : statements) {
    std::string sql(st.sql);
    const ParamValues values(st.params);
    const int sent_ok =
        st.prepared
            ? PQsendQueryPrepared(conn_, sql.c_str(), values.count(), values.values(), nullptr, nullptr, 0)
            : PQsendQueryParams(conn_, sql.c_str(), values.count(), nullptr, values.values(), nullptr, nullptr, 0);
    if (sent_ok != 1) {
      failure =
          broken()
              ? Status::unavailable(fmt::format("postgresql: connection lost: {}", first_line(PQerrorMessage(conn_))))
              : Status::io_error(fmt::format("postgresql: {}", first_line(PQerrorMessage(conn_))));
      break;
    }
    ++sent;
  }
  std::vector<PgResult> results;
  if (PQpipelineSync(conn_) != 1 && failure.ok())
    failure = Status::unavailable(fmt::format("postgresql: connection lost: {}", first_line(PQerrorMessage(conn_))));
  // One result per statement sent (each followed by a null), then the sync's.
  for (std::size_t i = 0; i < sent && !broken(); ++i) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) break;
    if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
      PQclear(r);
    } else {
      auto checked = check(r, statements[i].sql);
      if (checked.ok()) {
        results.push_back(std::move(*checked));
      } else if (failure.ok()) {
        failure = checked.status();
      }
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);  // the null that ends this statement's results
  }
  while (!broken()) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) continue;
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  if (broken()) {
    if (failure.ok() || failure.code() != StatusCode::kUnavailable)
      failure = Status::unavailable(fmt::format("postgresql: connection lost: {}", first_line(PQerrorMessage(conn_))));
  } else {
    PQexitPipelineMode(conn_);
  }
  if (!failure.ok()) return failure;
  return results;
}

Result<PgResult> PgConnection::exec_prepared(const std::string& name, std::string_view sql,
                                             const std::vector<Param>& params, bool binary) {
  if (conn_ == nullptr) return Status::unavailable("postgresql: connection closed");
  if (std::find(prepared_.begin(), prepared_.end(), name) == prepared_.end()) {
    STRATA_RETURN_IF_ERROR(prepare(name, sql));
  }
  const ParamValues values(params);
  PGresult* r = PQexecPrepared(conn_, name.c_str(), values.count(), values.values(), nullptr, nullptr, binary ? 1 : 0);
  return check(r, sql);
}

Status PgConnection::prepare(const std::string& name, std::string_view sql) {
  if (conn_ == nullptr) return Status::unavailable("postgresql: connection closed");
  std::string statement(sql);
  Status st = check(PQprepare(conn_, name.c_str(), statement.c_str(), 0, nullptr), sql).status();
  if (st.ok()) prepared_.push_back(name);
  return st;
}

Status PgConnection::exec_script(std::string_view sql) {
  if (conn_ == nullptr) return Status::unavailable("postgresql: connection closed");
  std::string statement(sql);
  auto r = check(PQexec(conn_, statement.c_str()), sql);
  return r.status();
}

PgPool::PgPool(std::string conninfo, std::size_t size) : conninfo_(std::move(conninfo)), size_(size == 0 ? 1 : size) {}

PgPool::~PgPool() = default;

PgPool::Lease& PgPool::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = o.pool_;
    c_ = std::move(o.c_);
  }
  return *this;
}

PgPool::Lease::~Lease() { release(); }

void PgPool::Lease::release() noexcept {
  if (pool_ != nullptr && c_ != nullptr) pool_->give_back(std::move(c_));
  c_.reset();
}

void PgPool::give_back(std::unique_ptr<PgConnection> c) noexcept {
  std::lock_guard lock(mu_);
  // A broken connection, or one left inside a transaction by a failed step, is dropped, not reused.
  if (c->broken() || PQtransactionStatus(c->raw()) != PQTRANS_IDLE) {
    c.reset();
    --open_;
  } else {
    idle_.push_back(std::move(c));
  }
  cv_.notify_one();
}

Result<PgPool::Lease> PgPool::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      if (!c->alive()) {  // closed by the server while idle (a restart): make a new one instead
        c.reset();
        --open_;
        continue;
      }
      return Lease(this, std::move(c));
    }
    if (open_ < size_) {
      ++open_;
      lock.unlock();
      auto c = PgConnection::connect(conninfo_);
      if (!c.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
        return c.status();
      }
      return Lease(this, std::move(*c));
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_)
      return Status::unavailable(
          fmt::format("postgresql: no connection of the pool's {} free after {} ms", size_, timeout.count()));
  }
}

void append_bytea_hex(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

Result<std::string> decode_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
    return Status::corruption("postgresql: a bytea column is not in hex format");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.resize((text.size() - 2) / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(text[2 + 2 * i]), lo = nibble(text[3 + 2 * i]);
    if (hi < 0 || lo < 0) return Status::corruption("postgresql: a bytea column holds a bad hex digit");
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

void ArrayLiteral::sep() {
  if (n_++ > 0) s_ += ',';
}

void ArrayLiteral::add(std::string_view element) {
  sep();
  s_ += '"';
  for (char c : element) {
    if (c == '"' || c == '\\') s_ += '\\';
    s_ += c;
  }
  s_ += '"';
}

void ArrayLiteral::add_bytea(std::string_view bytes) {
  sep();
  s_ += "\"\\";  // the array's own escape for the backslash of \x
  append_bytea_hex(s_, bytes);
  s_ += '"';
}

void ArrayLiteral::add_number(std::uint64_t n) {
  sep();
  s_ += std::to_string(n);
}

void ArrayLiteral::add_number(std::int64_t n) {
  sep();
  s_ += std::to_string(n);
}

const std::string& ArrayLiteral::finish() {
  if (!finished_) {
    s_ += '}';
    finished_ = true;
  }
  return s_;
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace strata::pg
