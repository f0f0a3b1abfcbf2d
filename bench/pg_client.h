// A plain libpq connection for the benchmarks' PostgreSQL baselines (bench_pgstore, strata_peers_bench):
// what an application writing its own SQL would use. Any failure ends the benchmark with the server's
// message: a baseline that silently did less would flatter strata.
#pragma once

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

namespace strata::bench {

class PgClient {
 public:
  explicit PgClient(const std::string& url) : c_(PQconnectdb(url.c_str())) {
    if (PQstatus(c_) != CONNECTION_OK) fail(PQerrorMessage(c_));
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
  }
  ~PgClient() { PQfinish(c_); }
  PgClient(const PgClient&) = delete;
  PgClient& operator=(const PgClient&) = delete;

  // Statements without parameters (several may be separated by ';').
  void exec(const std::string& sql) { PQclear(check(PQexec(c_, sql.c_str()))); }
  // One statement with text parameters; the caller PQclear()s the result.
  PGresult* query(const char* sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    return check(PQexecParams(c_, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
  }
  // The same, as the statement prepared on this connection under `name` (the first call prepares it).
  PGresult* prepared(const char* name, const char* sql, const std::vector<std::string>& params) {
    if (prepared_.insert(name).second) PQclear(check(PQprepare(c_, name, sql, 0, nullptr)));
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    return check(PQexecPrepared(c_, name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
  }

 private:
  [[noreturn]] static void fail(const char* message) {
    std::fprintf(stderr, "postgresql baseline: %s\n", message);
    std::exit(1);
  }
  PGresult* check(PGresult* r) {
    const auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(PQresultErrorMessage(r));
    return r;
  }
  PGconn* c_;
  std::set<std::string> prepared_;
};

}  // namespace strata::bench
