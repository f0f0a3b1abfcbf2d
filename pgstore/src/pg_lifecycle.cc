// PgEventStore's deletes and truncations: in one transaction, the stream's row locked (so that appends
// to the stream and other changes of it wait, and it waits for them), the decision core makes for every
// backend (decide_delete, decide_truncate), the removed events turned into tombstones and the stream's
// row updated. pgstore/FORMAT.md, "Stream lifecycle", describes the rows.
#include <fmt/format.h>

#include <utility>

#include "pg_store_impl.h"

namespace strata {

using pg::Param;
using pg::PgConnection;
using pg::PgPool;
using pg::PgResult;

Result<LifecycleResult> PgEventStore::Impl::change_stream(const StreamId& stream,
                                                          FunctionRef<LifecycleChange(const StreamInfo*)> decide,
                                                          std::string_view what) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool.acquire());
  bool commit_sent = false;
  auto fail = [&](const Status& st) -> Status {
    if (c->broken()) {
      if (commit_sent)
        return Status::unavailable(fmt::format(
            "{} stream \"{}\": the connection to PostgreSQL was lost after COMMIT was sent, so the change may or "
            "may not have been made; retry it to settle it (it is idempotent) ({})",
            what, stream.str(), st.message()));
      return Status::unavailable(
          fmt::format("{} stream \"{}\": nothing was changed: {}", what, stream.str(), st.message()));
    }
    (void)c->exec_script("ROLLBACK");
    return st.with_context(fmt::format("{} stream \"{}\": nothing was changed", what, stream.str()));
  };
  auto locked = c->pipeline({{"BEGIN", {}}, {sql.lock_stream, {Param(stream.view())}}});
  if (!locked.ok()) return fail(locked.status());
  if (locked->size() != 2) return fail(Status::internal("postgresql: a pipeline returned too few results"));
  const PgResult& row = (*locked)[1];
  StreamInfo info;
  if (row.rows() == 1) {
    const std::uint64_t state = row.u64(0, 1);
    if (state > static_cast<std::uint64_t>(StreamState::kHardDeleted))
      return fail(Status::corruption(fmt::format("postgresql: stream \"{}\" has a bad state {}", stream.str(), state)));
    info = StreamInfo{stream.str(), row.u64(0, 0), static_cast<StreamState>(state), row.u64(0, 2), row.u64(0, 3)};
  }
  const LifecycleChange change = decide(row.rows() == 1 ? &info : nullptr);
  if (!change.refused.ok() || change.unchanged) {
    if (Status st = c->exec_script("ROLLBACK"); !st.ok()) return fail(st);
    if (!change.refused.ok()) return change.refused;
    return LifecycleResult{info.head, 0};
  }
  const std::string from_text = pg::num(change.remove_from.value()), to_text = pg::num(change.remove_to.value());
  const std::string state_text = std::to_string(static_cast<int>(change.after.state));
  const std::string first_text = pg::num(change.after.first_version.value());
  // The change and COMMIT in one round trip. From here on a lost connection leaves the outcome unknown.
  commit_sent = true;
  auto changed =
      c->pipeline({{sql.lifecycle_change,
                    {Param(stream.view()), Param(from_text), Param(to_text), Param(state_text), Param(first_text)}},
                   {"COMMIT", {}}});
  if (!changed.ok()) return fail(changed.status());
  if (changed->empty() || (*changed)[0].rows() != 1)
    return Status::internal("postgresql: a pipeline returned too few results");
  return LifecycleResult{info.head, (*changed)[0].u64(0, 0)};
}

Result<LifecycleResult> PgEventStore::delete_stream(const StreamId& stream, ExpectedVersion expected, DeleteMode mode) {
  return impl_->change_stream(
      stream, [&](const StreamInfo* info) { return decide_delete(stream, info, expected, mode); }, "delete");
}

Result<LifecycleResult> PgEventStore::truncate_stream(const StreamId& stream, ExpectedVersion expected,
                                                      Version before) {
  return impl_->change_stream(
      stream, [&](const StreamInfo* info) { return decide_truncate(stream, info, expected, before); }, "truncate");
}

}  // namespace strata
