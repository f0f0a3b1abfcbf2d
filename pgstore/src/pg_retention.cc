// Retention in PgEventStore (core retention.h). Readers apply a policy themselves, through
// retained_info (a stream's first kept version, from the count and the oldest commit time kept) and the
// log reads' check of each event; a sweep then turns what the policies remove into tombstones, one
// UPDATE per category, run by a thread of the store every Options::retention_interval and by
// enforce_retention(). pgstore/FORMAT.md, "Retention", has the rows.
#include <fmt/format.h>

#include <limits>
#include <string>

#include "pg_store_impl.h"

namespace strata {

using pg::Param;
using pg::PgConnection;
using pg::PgPool;
using pg::PgResult;

namespace {

// The parameters of a policy in the statements: its count ($2) and the oldest commit time it keeps ($3),
// as text; a policy without one keeps every event by it.
struct PolicyParams {
  std::string count, oldest;
  PolicyParams(const RetentionPolicy& policy, Timestamp now)
      : count(policy.max_count == 0 ? std::to_string(std::numeric_limits<std::int64_t>::max())
                                    : std::to_string(policy.max_count)),
        oldest(policy.max_age.count() == 0 ? std::to_string(std::numeric_limits<std::int64_t>::min())
                                           : std::to_string((now - policy.max_age).time_since_epoch().count())) {}
};

}  // namespace

Result<std::optional<StreamInfo>> PgEventStore::Impl::retained_info(PgConnection& c, const StreamId& stream,
                                                                    const RetentionPolicy& policy) {
  const PolicyParams p(policy, now());
  STRATA_ASSIGN_OR_RETURN(PgResult r, c.exec_prepared("strata_retained_stream", sql.retained_stream,
                                                      {Param(stream.view()), Param(p.count), Param(p.oldest)}, false));
  if (r.rows() == 0) return std::optional<StreamInfo>();
  const std::uint64_t state = r.u64(0, 1);
  if (state > static_cast<std::uint64_t>(StreamState::kHardDeleted))
    return Status::corruption(fmt::format("postgresql: stream \"{}\" has a bad state {}", stream.str(), state));
  StreamInfo info{stream.str(), r.u64(0, 0), static_cast<StreamState>(state), r.u64(0, 2), r.u64(0, 3)};
  // The first version kept, or none kept: past the head.
  if (info.state == StreamState::kLive) info.first_version = r.null(0, 4) ? info.head + 1 : Version{r.u64(0, 4)};
  return std::optional<StreamInfo>(std::move(info));
}

Result<std::uint64_t> PgEventStore::Impl::sweep_retention() {
  if (options.retention.empty()) return std::uint64_t{0};
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool.acquire());
  std::uint64_t removed = 0;
  for (const auto& [category, policy] : options.retention.policies()) {
    const PolicyParams p(policy, now());
    STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec_prepared("strata_retention_sweep", sql.retention_sweep,
                                                         {Param(category), Param(p.count), Param(p.oldest)}, false));
    if (r.rows() == 1) removed += r.u64(0, 0);
  }
  return removed;
}

void PgEventStore::Impl::retention_loop() {
  std::unique_lock lock(sweeper_mu);
  while (!stopping.load()) {
    sweeper_cv.wait_for(lock, options.retention_interval, [&] { return stopping.load(); });
    if (stopping.load()) break;
    lock.unlock();
    // A failure (the server away) is retried at the next interval; readers do not depend on the sweep.
    (void)sweep_retention();
    lock.lock();
  }
}

Result<std::uint64_t> PgEventStore::enforce_retention() {
  auto removed = impl_->sweep_retention();
  if (!removed.ok()) return removed.status().with_context("enforce retention");
  return removed;
}

}  // namespace strata
