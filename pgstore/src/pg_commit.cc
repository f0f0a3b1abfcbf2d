// PgEventStore's appends: group commit on the client, the one-statement commit of a group whose stream
// heads are known, and the full path (lock, lookups, writes) for the others. pgstore/FORMAT.md, "The
// global log", says why positions never become visible out of order.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>

#include "pg_store_impl.h"
#include "strata/core/backend/append_checks.h"

namespace strata {

using pg::ArrayLiteral;
using pg::Param;
using pg::PendingAppend;
using pg::PgConnection;
using pg::PgResult;

Result<AppendResult> PgEventStore::append(const StreamId& stream, ExpectedVersion expected,
                                          std::span<const EventData> events) {
  STRATA_RETURN_IF_ERROR(check_append(stream, events, impl_->options.limits));
  PendingAppend me;
  me.stream = &stream;
  me.expected = expected;
  me.events = events;
  me.event_count = events.size();
  impl_->run_append(me);
  return std::move(me.result);
}

Result<MultiAppendResult> PgEventStore::append_multi(std::span<const StreamAppend> appends) {
  STRATA_RETURN_IF_ERROR(check_append_multi(appends, impl_->options.limits));
  MultiAppendResult out;
  PendingAppend me;
  me.parts = appends;
  for (const StreamAppend& a : appends) me.event_count += a.events.size();
  me.multi = &out;
  impl_->run_append(me);
  if (!me.result.ok()) return me.result.status();
  return out;
}

void PgEventStore::Impl::run_append(PendingAppend& me) {
  std::unique_lock lock(write_mu);
  queue.push_back(&me);
  while (!me.done) {
    if (leading) {
      write_cv.wait(lock);
      continue;
    }
    // Lead: commit the group at the head of the queue (this append is in it, or in a later one).
    leading = true;
    std::vector<PendingAppend*> group;
    std::size_t events_in_group = 0;
    while (!queue.empty() &&
           (group.empty() || events_in_group + queue.front()->event_count <= options.max_group_events)) {
      events_in_group += queue.front()->event_count;
      group.push_back(queue.front());
      queue.pop_front();
    }
    lock.unlock();
    Position new_head = 0;
    Status st = commit_group(group);
    for (PendingAppend* p : group) {
      if (!st.ok()) p->result = st;
      if (p->result.ok()) new_head = std::max(new_head, p->result->last_position);
    }
    if (new_head > 0) self->advance_head(new_head);
    lock.lock();
    for (PendingAppend* p : group) p->done = true;
    leading = false;
    write_cv.notify_all();
  }
}

Status PgEventStore::Impl::commit_group(std::vector<PendingAppend*>& group) {
  if (writer == nullptr || !writer->alive()) {
    writer.reset();
    auto c = PgConnection::connect(options.conninfo);
    if (!c.ok()) return c.status().with_context("append: nothing was written");
    writer = std::move(*c);
  }
  bool commit_sent = false;
  Status st = Status::internal("append: not attempted");
  bool done = false;
  if (std::optional<FastPlan> plan = plan_fast(group); plan.has_value()) {
    st = commit_fast(*writer, group, *plan, commit_sent);
    // A unique violation (an id committed before, or a head that moved) or a check violation (a stream
    // that is not live). Nothing was written (the statement rolled back); the full path finds out
    // which, append by append.
    if (!st.ok() && !writer->broken() && (writer->last_sqlstate() == "23505" || writer->last_sqlstate() == "23514")) {
      commit_sent = false;
    } else {
      done = true;
    }
  }
  if (!done) st = commit_full(*writer, group, commit_sent);
  if (st.ok()) {
    remember_heads(group);
    return st;
  }
  if (writer->broken()) {
    writer.reset();
    if (commit_sent)
      return Status::unavailable(fmt::format(
          "append: the connection to PostgreSQL was lost after COMMIT was sent, so the append may or may not "
          "have been committed; retry it with the same event ids to settle it ({})",
          st.message()));
    return Status::unavailable(fmt::format("append: nothing was written: {}", st.message()));
  }
  (void)writer->exec_script("ROLLBACK");
  return st.with_context("append: nothing was written");
}

// The new heads of the group's committed appends, for the next groups' one-statement commits.
void PgEventStore::Impl::remember_heads(const std::vector<PendingAppend*>& group) {
  std::lock_guard lock(cache_mu);
  if (head_cache.size() > kHeadCacheEntries) head_cache.clear();
  for (PendingAppend* p : group) {
    if (!p->result.ok()) continue;
    for (std::size_t k = 0; k < p->part_count(); ++k) {
      const StreamId& stream = p->part_stream(k);
      auto it = head_cache.find(stream.view());
      if (it == head_cache.end()) {
        head_cache.emplace(stream.str(), p->part_head(k));
      } else {
        it->second = std::max(it->second, p->part_head(k));
      }
    }
  }
}

std::optional<PgEventStore::Impl::FastPlan> PgEventStore::Impl::plan_fast(const std::vector<PendingAppend*>& group) {
  FastPlan plan;
  std::map<std::string_view, Version> heads;
  {
    std::lock_guard lock(cache_mu);
    for (PendingAppend* p : group) {
      for (std::size_t k = 0; k < p->part_count(); ++k) {
        const std::string_view stream = p->part_stream(k).view();
        auto it = head_cache.find(stream);
        heads.emplace(stream, it == head_cache.end() ? Version{0} : it->second);
      }
    }
  }
  for (PendingAppend* p : group) {
    for (std::size_t k = 0; k < p->part_count(); ++k) {
      const StreamId& stream = p->part_stream(k);
      const std::span<const EventData> events = p->part_events(k);
      Version& head = heads[stream.view()];
      // Only an append that succeeds under the assumed head goes this way; the others need the truth.
      if (!p->part_expected(k).matches(head)) return std::nullopt;
      plan.first_versions.push_back(head + 1);
      for (std::size_t i = 0; i < events.size(); ++i) plan.events.add(stream, head + (i + 1), events[i]);
      head = head + events.size();
      plan.count += events.size();
    }
  }
  for (const auto& [stream, head] : heads) {
    plan.head_streams.add(stream);
    plan.head_versions.add_number(head.value());
  }
  return plan;
}

Status PgEventStore::Impl::commit_fast(PgConnection& c, std::vector<PendingAppend*>& group, FastPlan& plan,
                                       bool& commit_sent) {
  const std::string ts_text = std::to_string(now().time_since_epoch().count());
  const std::string n_text = pg::num(plan.count);
  // From here on a lost connection leaves the outcome unknown.
  commit_sent = true;
  pg::EventArrays& e = plan.events;
  STRATA_ASSIGN_OR_RETURN(
      PgResult result,
      c.exec_prepared("strata_fast_commit", sql.fast_commit,
                      {Param(e.stream_ids.finish()), Param(e.categories.finish()), Param(e.versions.finish()),
                       Param(e.event_ids.finish()), Param(e.types.finish()), Param(e.metadata.finish()),
                       Param(e.payloads.finish()), Param(plan.head_streams.finish()),
                       Param(plan.head_versions.finish()), Param(ts_text), Param(n_text), Param(channel)},
                      false));
  if (result.rows() != 1) return Status::corruption("postgresql: the log_head row is missing");
  Position next = result.u64(0, 0) + 1;
  std::size_t j = 0;  // the part's index in plan.first_versions
  for (PendingAppend* p : group) {
    const Position first = next;
    if (p->multi != nullptr) p->multi->streams.clear();
    for (std::size_t k = 0; k < p->part_count(); ++k, ++j) {
      const std::size_t n = p->part_events(k).size();
      const AppendResult r{plan.first_versions[j] + (n - 1), next, next + (n - 1)};
      if (p->multi == nullptr) {
        p->result = r;
      } else {
        p->multi->streams.push_back(r);
      }
      next = next + n;
    }
    if (p->multi != nullptr) {
      p->multi->first_position = first;
      p->multi->last_position = next - 1;
      p->result = AppendResult{0, first, next - 1};
    }
  }
  return {};
}

namespace {

// A stream of a group on the full path: its life as read (under its row lock), then as the group's
// appends leave it.
struct GroupStream {
  StreamInfo info;       // stream_id left empty: the messages take the StreamId
  bool exists = false;   // it had a row
  bool written = false;  // an append of the group commits to it
};

}  // namespace

Status PgEventStore::Impl::commit_full(PgConnection& c, std::vector<PendingAppend*>& group, bool& commit_sent) {
  // Which of the group's event ids are committed already, and the heads and lives of its streams.
  ArrayLiteral ids, streams;
  std::map<std::string_view, GroupStream> known;
  for (PendingAppend* p : group) {
    for (std::size_t k = 0; k < p->part_count(); ++k) {
      for (const EventData& e : p->part_events(k)) ids.add(e.id.to_string());
      if (known.emplace(p->part_stream(k).view(), GroupStream{}).second) streams.add(p->part_stream(k).view());
    }
  }
  // One round trip: BEGIN, the serialising lock (held by this transaction until it commits, so positions
  // become visible in order), then the lookups, which the server runs after the lock is taken and so
  // with a snapshot that holds every commit before this one. The streams' rows are locked too: a delete
  // or truncation in progress is waited for, and one that comes later waits for this commit.
  STRATA_ASSIGN_OR_RETURN(std::vector<PgResult> first, c.pipeline({{"BEGIN", {}},
                                                                   {sql.lock_head, {}},
                                                                   {sql.committed_ids, {Param(ids.finish())}},
                                                                   {sql.stream_heads, {Param(streams.finish())}}}));
  if (first.size() != 4) return Status::internal("postgresql: a pipeline returned too few results");
  const PgResult& head_row = first[1];
  if (head_row.rows() != 1) return Status::corruption("postgresql: the log_head row is missing");
  Position next = head_row.u64(0, 0) + 1;
  const Timestamp last_ts = pg::from_micros(head_row.i64(0, 1));
  const PgResult& found = first[2];
  std::unordered_map<EventId, EventLocation> committed;
  for (int r = 0; r < found.rows(); ++r) {
    auto id = EventId::parse(found.text(r, 0));
    if (!id.ok()) return Status::corruption("postgresql: a stored event id does not parse");
    committed.emplace(*id, EventLocation{std::string(found.text(r, 1)), found.u64(r, 2), found.u64(r, 3)});
  }
  const PgResult& head_rows = first[3];
  for (int r = 0; r < head_rows.rows(); ++r) {
    GroupStream& g = known[head_rows.text(r, 0)];
    const std::uint64_t state = head_rows.u64(r, 2);
    if (state > static_cast<std::uint64_t>(StreamState::kHardDeleted))
      return Status::corruption(
          fmt::format("postgresql: stream \"{}\" has a bad state {}", head_rows.text(r, 0), state));
    g.exists = true;
    g.info.head = head_rows.u64(r, 1);
    g.info.state = static_cast<StreamState>(state);
    g.info.first_version = head_rows.u64(r, 3);
    g.info.origin = head_rows.u64(r, 4);
  }
  {
    std::lock_guard lock(cache_mu);
    for (const auto& [stream, g] : known) {
      Version& cached = head_cache[std::string(stream)];
      cached = std::max(cached, g.info.head);
    }
  }

  const Timestamp ts = std::max(now(), last_ts);
  pg::EventArrays arrays;
  ArrayLiteral positions;
  std::size_t written = 0;
  // Part k of `p`: whether its ids were committed before (the verdict), else whether its stream takes
  // it (a conflict, or a refusal returned).
  auto decide = [&](const PendingAppend* p, std::size_t k, std::optional<Result<AppendResult>>& retry,
                    std::optional<VersionConflict>& conflict, bool& recreate) -> Status {
    const StreamId& stream = p->part_stream(k);
    const std::span<const EventData> events = p->part_events(k);
    IdempotencyCheck idem(stream, events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto it = committed.find(events[i].id);
      if (it == committed.end()) {
        idem.missing(i);
      } else {
        idem.found(i, it->second.stream_id, it->second.version, it->second.position);
      }
    }
    retry = idem.verdict();
    recreate = false;
    if (retry.has_value()) return {};
    const GroupStream& g = known[stream.view()];
    Status refused;
    conflict = append_conflict(stream, p->part_expected(k), g.exists ? &g.info : nullptr, recreate, refused);
    return refused;
  };
  // Writes part k of `p` at `next`.
  auto apply = [&](const PendingAppend* p, std::size_t k, bool recreate) {
    const StreamId& stream = p->part_stream(k);
    const std::span<const EventData> events = p->part_events(k);
    GroupStream& g = known[stream.view()];
    const Version head = g.info.head;
    if (recreate) {
      g.info.state = StreamState::kLive;
      g.info.first_version = head + 1;
      g.info.origin = head + 1;
    }
    AppendResult result{head + events.size(), next, next + (events.size() - 1)};
    for (std::size_t i = 0; i < events.size(); ++i) {
      const Position position = next + i;
      const Version version = head + (i + 1);
      positions.add_number(position.value());
      arrays.add(stream, version, events[i]);
      // A later append of the group retrying these ids finds them here.
      committed.emplace(events[i].id, EventLocation{stream.str(), version, position});
    }
    g.exists = true;
    g.written = true;
    g.info.head = result.stream_version;
    written += events.size();
    next = next + events.size();
    return result;
  };

  for (PendingAppend* p : group) {
    if (p->multi == nullptr) {
      std::optional<Result<AppendResult>> retry;
      std::optional<VersionConflict> conflict;
      bool recreate = false;
      if (Status refused = decide(p, 0, retry, conflict, recreate); !refused.ok()) {
        p->result = std::move(refused);
      } else if (retry.has_value()) {
        p->result = *std::move(retry);
      } else if (conflict.has_value()) {
        p->result = Status::wrong_expected_version(*std::move(conflict));
      } else {
        p->result = apply(p, 0, recreate);
      }
      continue;
    }
    // A multi-stream append: every part decided before any is written, as MemoryEventStore decides.
    const std::size_t n = p->part_count();
    std::vector<std::optional<Result<AppendResult>>> retries(n);
    std::vector<VersionConflict> conflicts;
    std::vector<bool> recreate(n);
    Status refused;
    for (std::size_t k = 0; k < n && refused.ok(); ++k) {
      std::optional<VersionConflict> conflict;
      bool r = false;
      refused = decide(p, k, retries[k], conflict, r);
      recreate[k] = r;
      if (conflict.has_value()) conflicts.push_back(*std::move(conflict));
    }
    if (!refused.ok()) {
      p->result = std::move(refused);
    } else if (auto verdict = multi_idempotency_verdict(retries); verdict.has_value()) {
      if (verdict->ok()) {
        *p->multi = **std::move(verdict);
        p->result = AppendResult{0, p->multi->first_position, p->multi->last_position};
      } else {
        p->result = verdict->status();
      }
    } else if (!conflicts.empty()) {
      p->result = Status::wrong_expected_versions(std::move(conflicts));
    } else {
      p->multi->streams.clear();
      const Position first_position = next;
      for (std::size_t k = 0; k < n; ++k) p->multi->streams.push_back(apply(p, k, recreate[k]));
      p->multi->first_position = first_position;
      p->multi->last_position = next - 1;
      p->result = AppendResult{0, first_position, next - 1};
    }
  }
  if (written == 0) return c.exec_script("ROLLBACK");

  // Each stream written once, at its final head and life.
  ArrayLiteral head_streams, head_versions, first_versions, origins;
  for (const auto& [stream, g] : known) {
    if (!g.written) continue;
    head_streams.add(stream);
    head_versions.add_number(g.info.head.value());
    first_versions.add_number(g.info.first_version.value());
    origins.add_number(g.info.origin.value());
  }
  const std::string last_text = pg::num((next - 1).value());
  const std::string ts_text = std::to_string(ts.time_since_epoch().count());
  // The writes and COMMIT in one round trip. From here on a lost connection leaves the outcome unknown.
  commit_sent = true;
  return c
      .pipeline({{sql.full_commit,
                  {Param(arrays.stream_ids.finish()), Param(arrays.categories.finish()),
                   Param(arrays.versions.finish()), Param(arrays.event_ids.finish()), Param(arrays.types.finish()),
                   Param(arrays.metadata.finish()), Param(arrays.payloads.finish()), Param(head_streams.finish()),
                   Param(head_versions.finish()), Param(positions.finish()), Param(channel), Param(last_text),
                   Param(ts_text), Param(first_versions.finish()), Param(origins.finish())}},
                 {"COMMIT", {}}})
      .status();
}

}  // namespace strata
