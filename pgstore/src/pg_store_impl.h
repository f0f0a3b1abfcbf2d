// The parts of PgEventStore shared between its source files.
#pragma once

#include <memory>
#include <string>

#include "pg_connection.h"
#include "strata/projections/projection_storage.h"

namespace strata::pg {

// The statements that create the projection storage's tables in schema `s` (an SQL-quoted identifier),
// run by open() inside its schema-creation transaction. Idempotent (IF NOT EXISTS).
std::string projection_tables_sql(const std::string& s);

// The projection storage over `pool`, on the tables of schema `s` (SQL-quoted).
std::unique_ptr<ProjectionStorage> make_projection_storage(PgPool& pool, std::string s);

}  // namespace strata::pg
