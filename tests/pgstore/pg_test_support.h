// What the PostgreSQL tests share: the server's address and a fresh schema per test.
//
// The tests labelled pg run against the throw-away cluster that the CTest fixture pg.start starts with
// scripts/postgres.sh (its directory in STRATA_PG_DIR). Each test opens its stores on a schema of its
// own (a random name), so cases never see each other's data; the schema is dropped at the end.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "strata/pgstore/pg_event_store.h"

namespace strata::pgtest {

// The cluster's connection URI, read from $STRATA_PG_DIR/url.
inline std::string server_url() {
  const char* dir = std::getenv("STRATA_PG_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "STRATA_PG_DIR is not set: run the pg tests through ctest (fixture pg.start)");
  std::ifstream in(std::string(dir) + "/url");
  std::string url;
  std::getline(in, url);
  REQUIRE_MESSAGE(!url.empty(), "no url in STRATA_PG_DIR: is the cluster started (scripts/postgres.sh start)?");
  return url;
}

// Runs `sql` (statements separated by ';') on the server directly; "" on success, else the error.
inline std::string exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string error;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return error;
}

// The first column of the first row `sql` returns, as text; "error: ..." when it fails.
inline std::string query_one(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    out = std::string("error: ") + PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      out = std::string("error: ") + PQresultErrorMessage(r);
    } else if (PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

inline std::string random_schema(std::string_view prefix = "t") {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return std::string(prefix) + "_" + std::to_string(rng() % 1'000'000'000'000ull);
}

// A schema of its own for one test: opens stores on it, and drops it when the test ends.
class TestSchema {
 public:
  TestSchema() : url_(server_url()), schema_(random_schema()) {}
  ~TestSchema() { (void)PgEventStore::drop_schema(url_, schema_); }
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  PgEventStore::Options options() const {
    PgEventStore::Options o;
    o.conninfo = url_;
    o.schema = schema_;
    o.pool_size = 4;
    return o;
  }
  std::unique_ptr<PgEventStore> open() const { return open(options()); }
  static std::unique_ptr<PgEventStore> open(const PgEventStore::Options& o) {
    auto store = PgEventStore::open(o);
    REQUIRE_MESSAGE(store.ok(), store.status().to_string());
    return std::move(*store);
  }
  const std::string& url() const noexcept { return url_; }
  const std::string& schema() const noexcept { return schema_; }

 private:
  std::string url_;
  std::string schema_;
};

}  // namespace strata::pgtest
