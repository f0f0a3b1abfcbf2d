// The commit path of RocksEventStore: leveldb's DBImpl::Write. Appends queue up; the one at the front
// (the head) takes the appends queued behind it, decides each against the stream heads and the
// committed event ids, writes all of their events in one WriteBatch, and only then publishes the new
// high-water mark and completes them. While it writes, new appends queue behind it and form the next
// group. Here too are the fail-stop after a failed write and the commit step's cache of stream heads.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/core/backend/append_checks.h"
#include "strata/core/backend/metadata_encoding.h"

namespace strata::detail {

namespace fmtx = format;

Result<AppendResult> RocksEventStoreImpl::append(const StreamId& stream, ExpectedVersion expected,
                                                 std::span<const EventData> events) {
  InAppend in_append(*this);
  if (Status checked = check_append(stream, events, options_.limits); !checked.ok()) {
    if (metrics_ != nullptr) metrics_->append_refused(checked.code());
    return checked;
  }
  Writer w(stream, expected, events);
  // The commit step records each append's latency when it completes it (hand_over).
  if (metrics_ != nullptr) w.started = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  if (!join_queue(w, lock)) return std::move(*w.result);

  // This writer is the head: it commits itself and the appends queued behind it, and no other thread
  // touches the head's state (batch_, the caches, next_position_) until it hands over below.
  const std::vector<Writer*> group = commit_group(w, lock);
  hand_over(w, group, lock);
  return std::move(*w.result);
}

Result<MultiAppendResult> RocksEventStoreImpl::append_multi(std::span<const StreamAppend> appends) {
  InAppend in_append(*this);
  if (Status checked = check_append_multi(appends, options_.limits); !checked.ok()) {
    if (metrics_ != nullptr) metrics_->append_refused(checked.code());
    return checked;
  }
  Writer w(appends.front().stream, ExpectedVersion::any(), {});
  w.op = Op::kAppendMulti;
  w.parts = appends;
  for (const StreamAppend& a : appends) {
    w.multi_events += a.events.size();
    for (const EventData& e : a.events) w.payload_bytes += e.payload.size();
  }
  if (metrics_ != nullptr) w.started = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  if (!join_queue(w, lock)) return std::move(*w.multi_result);
  const std::vector<Writer*> group = commit_group(w, lock);
  hand_over(w, group, lock);
  return std::move(*w.multi_result);
}

Result<LifecycleResult> RocksEventStoreImpl::run_lifecycle(Writer& w) {
  if (read_only_) return refused_read_only(w.op == Op::kDelete ? "delete a stream" : "truncate a stream");
  InAppend in_append(*this);
  std::unique_lock lock(mu_);
  if (!join_queue(w, lock)) return std::move(*w.life_result);
  const std::vector<Writer*> group = commit_group(w, lock);
  hand_over(w, group, lock);
  return std::move(*w.life_result);
}

Result<LifecycleResult> RocksEventStoreImpl::delete_stream(const StreamId& stream, ExpectedVersion expected,
                                                           DeleteMode mode) {
  Writer w(stream, expected, {});
  w.op = Op::kDelete;
  w.mode = mode;
  return run_lifecycle(w);
}

Result<LifecycleResult> RocksEventStoreImpl::truncate_stream(const StreamId& stream, ExpectedVersion expected,
                                                             Version before) {
  Writer w(stream, expected, {});
  w.op = Op::kTruncate;
  w.before = before;
  return run_lifecycle(w);
}

namespace {

// Sets the result a writer of any kind waits for to the refusal `s`.
template <class W>
void refuse(W& w, const Status& s) {
  w.result = s;
  w.multi_result = s;
  w.life_result = s;
}

}  // namespace

// Queues `w` and waits for its turn. Returns false when an earlier head has committed it (w.result is
// set, `lock` is released), true when `w` is the head (`lock` holds mu_ again).
// REQUIRES: lock holds mu_.
bool RocksEventStoreImpl::join_queue(Writer& w, std::unique_lock<std::mutex>& lock) {
  writers_.push_back(&w);
  if (head_waiting_) group_cv_.notify_one();
  if (writers_.front() == &w) return true;
  lock.unlock();
  {
    std::unique_lock own(w.m);
    w.cv.wait(own, [&] { return w.done || w.is_head; });
    if (w.done) return false;
  }
  lock.lock();
  return true;
}

// Commits the group that head `w` leads and returns it, each of its writers with its result; after a
// failed write the group is `w` alone, refused. Returns with `lock` holding mu_ again.
// REQUIRES: lock holds mu_; `w` is the head.
std::vector<RocksEventStoreImpl::Writer*> RocksEventStoreImpl::commit_group(Writer& w,
                                                                            std::unique_lock<std::mutex>& lock) {
  if (!failed_.ok()) {
    refuse(w, failed_);
    return {&w};
  }
  if (write_options_.sync) wait_for_arrivals(lock);
  std::vector<Writer*> group = take_group();
  lock.unlock();
  const Status error = write_group(group);
  if (error.ok())
    publish_retained();
  else
    retained_pending_.clear();
  lock.lock();
  if (!error.ok()) fail_stop(error);
  return group;
}

// The writers at the front of the queue, the head first, up to kMaxGroupEvents events and
// kMaxGroupBytes of payload; the head goes in whatever its size.
// REQUIRES: mu_ held; the front writer is the head.
std::vector<RocksEventStoreImpl::Writer*> RocksEventStoreImpl::take_group() {
  std::vector<Writer*> group;
  std::size_t group_events = 0, group_bytes = 0;
  for (Writer* x : writers_) {
    // A delete or truncation reads the stream from the database, so it commits in a group of its own.
    const bool alone = x->op == Op::kDelete || x->op == Op::kTruncate;
    if (!group.empty() && alone) break;
    if (!group.empty() &&
        (group_events + x->event_count() > kMaxGroupEvents || group_bytes + x->payload_bytes > kMaxGroupBytes))
      break;
    group.push_back(x);
    if (alone) break;
    group_events += x->event_count();
    group_bytes += x->payload_bytes;
  }
  return group;
}

// Calls fn(stream) for the stream of each append, delete or truncation of `group`, and each stream of
// its multi-stream appends.
template <class Fn>
void RocksEventStoreImpl::for_each_stream(const std::vector<Writer*>& group, Fn&& fn) {
  for (const Writer* w : group) {
    if (w->op == Op::kAppendMulti) {
      for (const StreamAppend& a : w->parts) fn(a.stream.view());
    } else {
      fn(w->stream.view());
    }
  }
}

// Decides the appends of `group`, writes the events of those that go ahead in one WriteBatch, and
// publishes the new high-water mark. A failed write fails every append of the group, acknowledging
// nothing, and is returned for fail_stop.
// REQUIRES: mu_ not held; this writer is the head.
Status RocksEventStoreImpl::write_group(const std::vector<Writer*>& group) {
  const Position next_before = next_position_;
  prepare_group(group);
  rocksdb::Status written;
  const bool wrote = batch_.Count() > 0;
  if (wrote) {
    // Readers' cached heads of these streams are dropped, and none is cached again until the write is
    // published (or failed): see head_cache.h.
    for_each_stream(group, [&](std::string_view stream) { heads_.begin_change(stream); });
    const auto started = std::chrono::steady_clock::now();
    written = db_->Write(write_options_, &batch_);
    written_at_ = std::chrono::steady_clock::now();
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(written_at_ - started);
    write_time_ = (write_time_ * 7 + took) / 8;
    if (metrics_ != nullptr) metrics_->group_written(group.size(), static_cast<double>(took.count()) / 1e6);
  }
  const Position high = next_position_ - 1;
  if (!written.ok()) {
    for_each_stream(group, [&](std::string_view stream) { heads_.end_change(stream); });
    Status error = from_rocksdb(written, fmt::format("event store \"{}\": write", path_));
    for (Writer* x : group)
      refuse(*x, Status::io_error(fmt::format(
                     "{} stream \"{}\" failed, nothing was acknowledged (the store now refuses appends until it is "
                     "reopened): {}",
                     x->op == Op::kDelete     ? "delete of"
                     : x->op == Op::kTruncate ? "truncation of"
                                              : "append to",
                     x->stream.str(), error.message())));
    return error;
  }
  if (wrote && next_position_ != next_before) {
    published_.store(high, std::memory_order_release);
    // Still the head, so listeners hear high-water marks in order.
    publish_commit(high);
  }
  if (wrote) for_each_stream(group, [&](std::string_view stream) { heads_.end_change(stream); });
  return {};
}

// Takes the group off the queue and wakes the next head first, so that it starts gathering while this
// one wakes the group. Returns with `lock` released.
// REQUIRES: lock holds mu_; `head` is the head of `group`.
void RocksEventStoreImpl::hand_over(const Writer& head, const std::vector<Writer*>& group,
                                    std::unique_lock<std::mutex>& lock) {
  if (metrics_ != nullptr) {
    // Still the only thread in the commit step: mu_ is held, and no other head exists until the group
    // leaves the queue. A group that wrote ends when its write did; one that wrote nothing, now.
    const auto now = batch_.Count() > 0 ? written_at_ : std::chrono::steady_clock::now();
    for (const Writer* x : group) {
      const double seconds = std::chrono::duration<double>(now - x->started).count();
      if (x->op == Op::kAppend) {
        metrics_->append_done(*x->result, x->events, seconds);
      } else if (x->op == Op::kAppendMulti) {
        for (std::size_t k = 0; k < x->parts.size(); ++k)
          metrics_->append_done(x->multi_result->ok() ? Result<AppendResult>((*x->multi_result)->streams[k])
                                                      : Result<AppendResult>(x->multi_result->status()),
                                x->parts[k].events, seconds);
      }
    }
  }
  writers_.erase(writers_.begin(), writers_.begin() + static_cast<std::ptrdiff_t>(group.size()));
  Writer* next = writers_.empty() ? nullptr : writers_.front();
  lock.unlock();
  if (next != nullptr) next->signal(&Writer::is_head);
  for (Writer* x : group)
    if (x != &head) x->signal(&Writer::done);
}

// Durable group commit (PostgreSQL's commit_delay, bounded by the disk's own speed): before a durable
// group is taken, wait until every append inside append() has queued, for at most half the recent
// time of a Write (an fsync), and never for an append that has not started. Without this the writers
// split into two alternating halves, each paying a whole fsync: those woken by one commit are still
// on their way back when the next head takes its group. A lone writer never waits.
// REQUIRES: lock holds mu_; this writer is the head.
void RocksEventStoreImpl::wait_for_arrivals(std::unique_lock<std::mutex>& lock) {
  const auto budget = std::min<std::chrono::microseconds>(write_time_ / 2, std::chrono::microseconds(500));
  if (budget.count() <= 0) return;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  head_waiting_ = true;
  group_cv_.wait_until(lock, deadline, [&] { return in_append_.load() <= writers_.size(); });
  head_waiting_ = false;
}

// REQUIRES: mu_ held.
void RocksEventStoreImpl::fail_stop(const Status& error) {
  if (!failed_.ok()) return;
  failed_ = Status::unavailable(fmt::format(
      "event store \"{}\" refuses appends after a failed write; reopen it (the failure: {})", path_, error.message()));
}

// Decides every append of the group and stages the events of those that go ahead into batch_. The
// event ids of the whole group are looked up with one MultiGet first; appends of the same group see
// each other's ids (pending_ids_) and stream heads (streams_cache_), in queue order.
void RocksEventStoreImpl::prepare_group(const std::vector<Writer*>& group) {
  batch_.Clear();
  pending_ids_.clear();
  // Dropping the cache between groups is safe: every earlier group is in the database.
  if (streams_cache_.size() > kMaxCachedStreams) streams_cache_.clear();

  id_keys_.clear();
  for (const Writer* w : group) {
    for (const EventData& e : w->events) id_keys_.push_back(slice(e.id.as_bytes()));
    for (const StreamAppend& a : w->parts)
      for (const EventData& e : a.events) id_keys_.push_back(slice(e.id.as_bytes()));
  }
  lookup_event_ids();

  std::size_t first_id = 0;
  for (Writer* w : group) {
    switch (w->op) {
      case Op::kAppend:
        prepare_append(*w, first_id);
        break;
      case Op::kAppendMulti:
        prepare_multi(*w, first_id);
        break;
      case Op::kDelete:
      case Op::kTruncate:
        prepare_lifecycle(*w);
        break;
    }
    first_id += w->event_count();
  }
  for (std::size_t i = 0; i < id_keys_.size(); ++i) id_values_[i].Reset();
}

// Looks the group's event ids up in `event_ids`. The keys go to RocksDB sorted, in calls of at most
// MultiGetContext's batch of 32: RocksDB would otherwise sort them itself through its comparator
// (about a quarter of the lookup's instructions, measured with callgrind on 100-event appends) and
// grow a vector of key contexts past its inline 32.
void RocksEventStoreImpl::lookup_event_ids() {
  const std::size_t n = id_keys_.size();
  // Bytewise order of the 16-byte ids, compared as two big-endian words.
  id_order_.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    id_order_[i] = IdOrder{fmtx::get_be(id_keys_[i].data(), 8), fmtx::get_be(id_keys_[i].data() + 8, 8),
                           static_cast<std::uint32_t>(i)};
  std::sort(id_order_.begin(), id_order_.end(),
            [](const IdOrder& a, const IdOrder& b) { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; });
  sorted_id_keys_.resize(n);
  id_slot_.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    sorted_id_keys_[k] = id_keys_[id_order_[k].index];
    id_slot_[id_order_[k].index] = static_cast<std::uint32_t>(k);
  }
  id_values_.resize(std::max(id_values_.size(), n));
  id_statuses_.resize(std::max(id_statuses_.size(), n));
  constexpr std::size_t kChunk = 32;
  for (std::size_t k = 0; k < n; k += kChunk) {
    if (id_memtables_ != nullptr) id_memtables_->prefetch({sorted_id_keys_.data() + k, std::min(kChunk, n - k)});
    db_->MultiGet(rocksdb::ReadOptions(), event_ids_, std::min(kChunk, n - k), sorted_id_keys_.data() + k,
                  id_values_.data() + k, id_statuses_.data() + k, /*sorted_input=*/true);
  }
}

void RocksEventStoreImpl::prepare_append(Writer& w, std::size_t first_id) {
  KnownStream* record = nullptr;
  bool recreate = false;
  std::optional<VersionConflict> conflict;
  if (auto verdict = decide_part(w.stream, w.expected, w.events, first_id, record, recreate, conflict);
      verdict.has_value()) {
    w.result = *std::move(verdict);
    return;
  }
  if (conflict.has_value()) {
    w.result = Status::wrong_expected_version(*std::move(conflict));
    return;
  }
  w.result = commit_part(w.stream, w.events, record, recreate, std::max(now(), last_timestamp_));
}

void RocksEventStoreImpl::prepare_multi(Writer& w, std::size_t first_id) {
  const std::size_t n = w.parts.size();
  std::vector<std::optional<Result<AppendResult>>> verdicts(n);
  std::vector<KnownStream*> records(n, nullptr);
  std::vector<char> recreate(n, 0);
  std::vector<VersionConflict> conflicts;
  std::size_t id = first_id;
  for (std::size_t k = 0; k < n; ++k) {
    const StreamAppend& a = w.parts[k];
    bool r = false;
    std::optional<VersionConflict> conflict;
    verdicts[k] = decide_part(a.stream, a.expected, a.events, id, records[k], r, conflict);
    recreate[k] = r ? 1 : 0;
    if (conflict.has_value()) conflicts.push_back(*std::move(conflict));
    id += a.events.size();
  }
  // A refusal of one part (not an idempotency verdict) refuses the whole append.
  bool any_committed = false;
  for (const auto& v : verdicts) {
    if (v.has_value() && !v->ok() && v->status().code() != StatusCode::kIdempotencyConflict) {
      w.multi_result = v->status();
      return;
    }
    any_committed = any_committed || v.has_value();
  }
  if (any_committed) {
    // Every part must be a retry of itself; multi_idempotency_verdict says so or refuses.
    w.multi_result = *multi_idempotency_verdict(verdicts);
    return;
  }
  if (!conflicts.empty()) {
    w.multi_result = Status::wrong_expected_versions(std::move(conflicts));
    return;
  }
  // All parts go ahead, in one save point: all of them are staged, or none.
  batch_.SetSavePoint();
  const Position next_before = next_position_;
  const std::uint64_t stream_number_before = next_stream_number_;
  const std::size_t retained_before = retained_pending_.size();
  const Timestamp timestamp = std::max(now(), last_timestamp_);
  // The cache entries this append changes, to restore if a later part fails to stage.
  std::vector<std::pair<std::string, std::optional<KnownStream>>> saved;
  for (std::size_t k = 0; k < n; ++k)
    saved.emplace_back(w.parts[k].stream.str(),
                       records[k] == nullptr ? std::nullopt : std::optional<KnownStream>(*records[k]));
  MultiAppendResult result;
  for (std::size_t k = 0; k < n; ++k) {
    const StreamAppend& a = w.parts[k];
    Result<AppendResult> part = commit_part(a.stream, a.events, records[k], recreate[k] != 0, timestamp);
    if (!part.ok()) {
      (void)batch_.RollbackToSavePoint();
      next_position_ = next_before;
      next_stream_number_ = stream_number_before;
      for (auto& [stream, known] : saved) {
        if (known.has_value()) {
          streams_cache_[stream] = *known;
        } else {
          streams_cache_.erase(stream);
        }
      }
      for (std::size_t j = 0; j < k; ++j)
        for (const EventData& e : w.parts[j].events) pending_ids_.erase(e.id);
      retained_pending_.resize(retained_before);
      w.multi_result = part.status();
      return;
    }
    result.streams.push_back(*part);
  }
  (void)batch_.PopSavePoint();
  result.first_position = result.streams.front().first_position;
  result.last_position = result.streams.back().last_position;
  w.multi_result = std::move(result);
}

std::optional<Result<AppendResult>> RocksEventStoreImpl::decide_part(const StreamId& stream, ExpectedVersion expected,
                                                                     std::span<const EventData> events,
                                                                     std::size_t first_id, KnownStream*& record,
                                                                     bool& recreate,
                                                                     std::optional<VersionConflict>& conflict) {
  // Idempotency first: a retry of a committed append succeeds whatever its expected version says.
  if (auto verdict = idempotency_verdict(stream, events, first_id); verdict.has_value()) return verdict;
  auto cached = cached_stream(stream);
  if (!cached.ok()) return Result<AppendResult>(cached.status());
  record = *cached;
  const StreamInfo info = record == nullptr ? StreamInfo{} : record->info(stream.view());
  Status refused;
  conflict = append_conflict(stream, expected, record == nullptr ? nullptr : &info, recreate, refused);
  if (!refused.ok()) return Result<AppendResult>(refused);
  return std::nullopt;
}

Result<AppendResult> RocksEventStoreImpl::commit_part(const StreamId& stream, std::span<const EventData> events,
                                                      KnownStream* record, bool recreate, Timestamp timestamp) {
  const Version head = record == nullptr ? 0 : record->head;
  const std::uint64_t number = record == nullptr ? next_stream_number_ : record->number;
  const Position first = next_position_;
  KnownStream recreated;
  if (recreate) {
    recreated = *record;
    recreated.state = StreamState::kLive;
    recreated.first_version = head + 1;
    recreated.origin = head + 1;
    recreated.has_life = true;
  }
  if (Status st = stage_events(stream, events, number, head, first, timestamp); !st.ok())
    return st.with_context(fmt::format("append to stream \"{}\"", stream.str()));
  if (recreate) {
    if (Status st = stage_stream_record(stream.view(), recreated); !st.ok())
      return st.with_context(fmt::format("append to stream \"{}\"", stream.str()));
    *record = recreated;
  }

  // Staged: now the group's view of the world moves on.
  if (record == nullptr) {
    record = &streams_cache_.emplace(stream.str(), KnownStream{number, 0, 0}).first->second;
    ++next_stream_number_;
  }
  const std::size_t n = events.size();
  record->head = head + n;
  record->head_position = first + n - 1;
  last_timestamp_ = timestamp;
  next_position_ = first + n;
  for (std::size_t i = 0; i < n; ++i)
    pending_ids_.emplace(events[i].id, PendingId{stream.view(), head + i + 1, first + i});
  if (const RetentionPolicy* policy = options_.retention.find(stream.view()))
    retained_pending_.push_back(PendingRetained{number, stream.str(), policy, record->head});
  return AppendResult{head + n, first, first + n - 1};
}

// What the event ids of `w` say, from the group's MultiGet (at first_id) and the appends of the group
// prepared before it: nullopt when none was committed (go on), the original result of an exact retry,
// kIdempotencyConflict, or the error that stopped the lookup.
std::optional<Result<AppendResult>> RocksEventStoreImpl::idempotency_verdict(const StreamId& stream,
                                                                             std::span<const EventData> events,
                                                                             std::size_t first_id) {
  IdempotencyCheck idem(stream, events.size());
  std::string committed_stream;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (auto it = pending_ids_.find(events[i].id); it != pending_ids_.end()) {
      idem.found(i, it->second.stream, it->second.version, it->second.position);
      continue;
    }
    const std::size_t slot = id_slot_[first_id + i];
    const rocksdb::Status& s = id_statuses_[slot];
    if (s.IsNotFound()) {
      idem.missing(i);
      continue;
    }
    if (!s.ok()) return Result<AppendResult>(from_rocksdb(s, fmt::format("append to stream \"{}\"", stream.str())));
    Position position = 0;
    if (!fmtx::decode_event_id_value(view_of(id_values_[slot]), position))
      return Result<AppendResult>(
          corrupt(fmt::format("the event-id index entry of {} is damaged", events[i].id.to_string())));
    Version version = 0;
    if (Status st = committed_event(position, committed_stream, version); !st.ok()) return Result<AppendResult>(st);
    idem.found(i, committed_stream, version, position);
  }
  return idem.verdict();
}

// Writes the events of `w` into batch_ as versions head+1.. at positions first..: the log records,
// the event-id entries, the stream's events entries, and the stream's record when the append creates
// it. All or nothing: on failure the batch is as it was.
Status RocksEventStoreImpl::stage_events(const StreamId& stream, std::span<const EventData> events,
                                         std::uint64_t number, Version head, Position first, Timestamp timestamp) {
  const std::size_t n = events.size();
  const bool copy = n < fmtx::kCopyBelow;
  batch_.SetSavePoint();
  auto put = [&](rocksdb::ColumnFamilyHandle* family, rocksdb::Slice key, std::string_view head_part,
                 std::string_view body, std::string_view payload) {
    const rocksdb::Slice key_parts[1] = {key};
    const rocksdb::Slice value_parts[3] = {slice(head_part), slice(body), slice(payload)};
    return batch_.Put(family, rocksdb::SliceParts(key_parts, 1), rocksdb::SliceParts(value_parts, 3));
  };
  rocksdb::Status s;
  for (std::size_t i = 0; i < n && s.ok(); ++i) {
    const EventData& e = events[i];
    const Version version = head + i + 1;
    const Position position = first + i;
    metadata_scratch_.clear();
    encode_metadata(e.metadata, metadata_scratch_);
    body_scratch_.clear();
    fmtx::encode_body_head(e.id, timestamp, e.type, metadata_scratch_, body_scratch_);
    head_scratch_.clear();
    fmtx::encode_log_head(stream.view(), version, head_scratch_);
    const auto position_key = fmtx::position_key(position);
    s = put(log_, slice(position_key), head_scratch_, body_scratch_, e.payload);
    if (s.ok() && copy) {
      head_scratch_.clear();
      fmtx::encode_copy_head(position, head_scratch_);
      s = put(events_, slice(fmtx::events_key(number, version)), head_scratch_, body_scratch_, e.payload);
    }
    if (s.ok()) {
      value_scratch_.clear();
      fmtx::encode_event_id_value(position, value_scratch_);
      s = batch_.Put(event_ids_, slice(e.id.as_bytes()), slice(value_scratch_));
    }
  }
  if (s.ok() && !copy) {
    value_scratch_.clear();
    fmtx::encode_run(first, n, value_scratch_);
    s = batch_.Put(events_, slice(fmtx::events_key(number, head + 1)), slice(value_scratch_));
  }
  if (s.ok() && head == 0) {
    value_scratch_.clear();
    fmtx::encode_stream_record(fmtx::StreamRecord{number, 0}, value_scratch_);
    s = batch_.Put(streams_, slice(stream.view()), slice(value_scratch_));
  }
  if (!s.ok()) {
    (void)batch_.RollbackToSavePoint();
    return from_rocksdb(s, "stage the write");
  }
  return from_rocksdb(batch_.PopSavePoint(), "stage the write");
}

// The stream's state as the commit step knows it (every earlier group is written), or nullptr when the
// stream does not exist.
Result<RocksEventStoreImpl::KnownStream*> RocksEventStoreImpl::cached_stream(const StreamId& stream) {
  if (auto it = streams_cache_.find(stream.view()); it != streams_cache_.end()) return &it->second;
  STRATA_ASSIGN_OR_RETURN(auto state, visible_stream(stream.view(), kEndOfLog));
  if (!state) return static_cast<KnownStream*>(nullptr);
  return &streams_cache_.emplace(stream.str(), *state).first->second;
}

// The stream and version of the committed event at `position`.
Status RocksEventStoreImpl::committed_event(Position position, std::string& stream, Version& version) {
  rocksdb::PinnableSlice value;
  const auto key = fmtx::position_key(position);
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), log_, slice(key), &value);
  if (s.IsNotFound())
    return corrupt(fmt::format("the event-id index points at position {}, which is not in the log", position.value()));
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, fmt::format("read log position {}", position.value())));
  EventView view;
  if (!fmtx::decode_log_identity(view_of(value), view))
    return corrupt(fmt::format("log position {} is damaged", position.value()));
  stream.assign(view.stream_id);
  version = view.version;
  return {};
}

}  // namespace strata::detail
