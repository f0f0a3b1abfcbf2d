// PgEventStore's snapshots: one row per (stream, version, schema), holding core's checksummed snapshot
// encoding.
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "pg_store_impl.h"
#include "strata/core/backend/snapshot_encoding.h"

namespace strata {

using pg::ArrayLiteral;
using pg::num;
using pg::Param;
using pg::PgPool;
using pg::PgResult;

Status PgEventStore::save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) {
  if (snapshot.version == 0)
    return Status::invalid_argument(fmt::format("snapshot of stream \"{}\": version 0 holds no events", stream.str()));
  std::string bytes;
  pg::append_bytea_hex(bytes, encode_snapshot(snapshot));
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string v = num(snapshot.version.value());
  const std::string f = std::to_string(static_cast<std::int64_t>(snapshot.schema_fingerprint));
  const std::string sv = num(snapshot.snapshot_version);
  return c->exec(impl_->sql.save_snapshot, {Param(stream.view()), Param(v), Param(f), Param(sv), Param(bytes)})
      .status();
}

Result<std::optional<SnapshotRecord>> PgEventStore::load_snapshot(const StreamId& stream, Version max_version,
                                                                  const SnapshotSchema& schema) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string v = num(std::min<std::uint64_t>(max_version.value(), INT64_MAX));
  const std::string f = std::to_string(static_cast<std::int64_t>(schema.fingerprint));
  const std::string sv = num(schema.snapshot_version);
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec_prepared("strata_load_snapshot", impl_->sql.load_snapshot,
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
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec(impl_->sql.snapshot_keys, {Param(stream.view())}));
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
      ->exec(impl_->sql.delete_snapshots, {Param(stream.view()), Param(versions.finish()), Param(fingerprints.finish()),
                                           Param(snapshot_versions.finish())})
      .status();
}

Result<std::vector<Version>> PgEventStore::snapshot_versions(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec(impl_->sql.snapshot_versions, {Param(stream.view())}));
  std::vector<Version> out;
  for (int row = 0; row < r.rows(); ++row) out.push_back(r.u64(row, 0));
  return out;
}

}  // namespace strata
