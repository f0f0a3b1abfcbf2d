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
  Impl& i = *impl_;
  std::unique_lock lock(i.write_mu);
  i.queue.push_back(&me);
  while (!me.done) {
    if (i.leading) {
      i.write_cv.wait(lock);
      continue;
    }
    // Lead: commit the group at the head of the queue (this append is in it, or in a later one).
    i.leading = true;
    std::vector<PendingAppend*> group;
    std::size_t events_in_group = 0;
    while (!i.queue.empty() &&
           (group.empty() || events_in_group + i.queue.front()->events.size() <= i.options.max_group_events)) {
      events_in_group += i.queue.front()->events.size();
      group.push_back(i.queue.front());
      i.queue.pop_front();
    }
    lock.unlock();
    Position new_head = 0;
    Status st = i.commit_group(group);
    for (PendingAppend* p : group) {
      if (!st.ok()) p->result = st;
      if (p->result.ok()) new_head = std::max(new_head, p->result->last_position);
    }
    if (new_head > 0) advance_head(new_head);
    lock.lock();
    for (PendingAppend* p : group) p->done = true;
    i.leading = false;
    i.write_cv.notify_all();
  }
  return std::move(me.result);
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
    // A unique violation: an id committed before, or a head that moved. Nothing was written (the
    // statement rolled back); the full path finds out which, append by append.
    if (!st.ok() && !writer->broken() && writer->last_sqlstate() == "23505") {
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
    auto it = head_cache.find(p->stream->view());
    if (it == head_cache.end()) {
      head_cache.emplace(p->stream->str(), p->result->stream_version);
    } else {
      it->second = std::max(it->second, p->result->stream_version);
    }
  }
}

std::optional<PgEventStore::Impl::FastPlan> PgEventStore::Impl::plan_fast(const std::vector<PendingAppend*>& group) {
  FastPlan plan;
  std::map<std::string_view, Version> heads;
  {
    std::lock_guard lock(cache_mu);
    for (PendingAppend* p : group) {
      auto it = head_cache.find(p->stream->view());
      heads.emplace(p->stream->view(), it == head_cache.end() ? Version{0} : it->second);
    }
  }
  for (PendingAppend* p : group) {
    Version& head = heads[p->stream->view()];
    // Only an append that succeeds under the assumed head goes this way; the others need the truth.
    if (!p->expected.matches(head)) return std::nullopt;
    plan.first_versions.push_back(head + 1);
    for (std::size_t k = 0; k < p->events.size(); ++k) plan.events.add(*p->stream, head + (k + 1), p->events[k]);
    head = head + p->events.size();
    plan.count += p->events.size();
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
  for (std::size_t j = 0; j < group.size(); ++j) {
    PendingAppend* p = group[j];
    const Version last_version = plan.first_versions[j] + (p->events.size() - 1);
    p->result = AppendResult{last_version, next, next + (p->events.size() - 1)};
    next = next + p->events.size();
  }
  return {};
}

Status PgEventStore::Impl::commit_full(PgConnection& c, std::vector<PendingAppend*>& group, bool& commit_sent) {
  // Which of the group's event ids are committed already, and the heads of its streams.
  ArrayLiteral ids, streams;
  std::map<std::string_view, Version> heads;
  for (PendingAppend* p : group) {
    for (const EventData& e : p->events) ids.add(e.id.to_string());
    if (heads.emplace(p->stream->view(), 0).second) streams.add(p->stream->view());
  }
  // One round trip: BEGIN, the serialising lock (held by this transaction until it commits, so positions
  // become visible in order), then the lookups, which the server runs after the lock is taken and so
  // with a snapshot that holds every commit before this one.
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
  for (int r = 0; r < head_rows.rows(); ++r) heads[head_rows.text(r, 0)] = head_rows.u64(r, 1);
  {
    std::lock_guard lock(cache_mu);
    for (const auto& [stream, head] : heads) {
      Version& cached = head_cache[std::string(stream)];
      cached = std::max(cached, head);
    }
  }

  const Timestamp ts = std::max(now(), last_ts);
  pg::EventArrays arrays;
  ArrayLiteral positions;
  std::size_t written = 0;
  for (PendingAppend* p : group) {
    const StreamId& stream = *p->stream;
    IdempotencyCheck idem(stream, p->events.size());
    for (std::size_t k = 0; k < p->events.size(); ++k) {
      auto it = committed.find(p->events[k].id);
      if (it == committed.end()) {
        idem.missing(k);
      } else {
        idem.found(k, it->second.stream_id, it->second.version, it->second.position);
      }
    }
    if (auto verdict = idem.verdict(); verdict.has_value()) {
      p->result = *std::move(verdict);
      continue;
    }
    Version& stream_head = heads[stream.view()];
    if (!p->expected.matches(stream_head)) {
      p->result = Status::wrong_expected_version(VersionConflict{stream.str(), p->expected, stream_head});
      continue;
    }
    AppendResult result{stream_head + p->events.size(), next, next + (p->events.size() - 1)};
    for (std::size_t k = 0; k < p->events.size(); ++k) {
      const EventData& e = p->events[k];
      const Position position = next + k;
      const Version version = stream_head + (k + 1);
      positions.add_number(position.value());
      arrays.add(stream, version, e);
      // A later append of the group retrying these ids finds them here.
      committed.emplace(e.id, EventLocation{stream.str(), version, position});
    }
    written += p->events.size();
    next = next + p->events.size();
    stream_head = result.stream_version;
    p->result = result;
  }
  if (written == 0) return c.exec_script("ROLLBACK");

  ArrayLiteral head_streams, head_versions;
  for (PendingAppend* p : group) {
    if (!p->result.ok()) continue;
    // Each stream once, at its final head.
    auto it = heads.find(p->stream->view());
    if (it == heads.end()) continue;
    head_streams.add(it->first);
    head_versions.add_number(it->second.value());
    heads.erase(it);
  }
  const std::string last_text = pg::num((next - 1).value());
  const std::string ts_text = std::to_string(ts.time_since_epoch().count());
  // The writes and COMMIT in one round trip. From here on a lost connection leaves the outcome unknown.
  commit_sent = true;
  return c
      .pipeline(
          {{sql.full_commit,
            {Param(arrays.stream_ids.finish()), Param(arrays.categories.finish()), Param(arrays.versions.finish()),
             Param(arrays.event_ids.finish()), Param(arrays.types.finish()), Param(arrays.metadata.finish()),
             Param(arrays.payloads.finish()), Param(head_streams.finish()), Param(head_versions.finish()),
             Param(positions.finish()), Param(channel), Param(last_text), Param(ts_text)}},
           {"COMMIT", {}}})
      .status();
}

}  // namespace strata
