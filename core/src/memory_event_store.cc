#include "strata/core/memory_event_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "strata/core/backend/append_checks.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/core/backend/snapshot_encoding.h"
#include "strata/core/personal_data.h"

namespace strata {

struct MemoryEventStore::Impl {
  struct Stored {
    std::string stream;
    Version version;
    Position position;
    EventId id;
    std::string type;
    Timestamp timestamp;
    std::string metadata;  // encoded
    std::string payload;
    bool removed = false;  // hard-deleted or truncated: a tombstone readers pass over

    EventView view() const { return EventView{stream, version, position, id, type, timestamp, metadata, payload}; }
  };

  explicit Impl(Options o) : options(std::move(o)) {}

  // Keys of subjects and the personal data sealed with them.
  MemorySubjectKeyStore keys;
  PersonalData personal{keys};
  // The view of `s` that readers get: its personal fields revealed (the payload then in `scratch`).
  Result<EventView> reveal(const Stored& s, std::string& scratch) {
    EventView v = s.view();
    STRATA_RETURN_IF_ERROR(reveal_personal(&personal, v, scratch));
    return v;
  }

  // The event at position `p`. REQUIRES: mu held, 1 <= p <= log.size().
  const Stored& at(Position p) const { return log[p.value() - 1]; }
  // A stream: the positions of its versions ([v - 1]) and its life (head is positions.size()).
  struct Stream {
    std::vector<Position> positions;
    StreamState state = StreamState::kLive;
    Version first_version = 1;
    Version origin = 1;
    StreamInfo info(std::string_view id) const {
      return StreamInfo{std::string(id), positions.size(), state, first_version, origin};
    }
  };
  // The position of version `v` in a stream's list of positions. REQUIRES: 1 <= v <= positions.size().
  static Position position_of(const std::vector<Position>& positions, Version v) { return positions[v.value() - 1]; }

  // `s` (named `id`) as readers see it: retention's removed prefix read as truncated.
  // REQUIRES: mu held.
  StreamInfo info(std::string_view id, const Stream& s) const {
    StreamInfo info = s.info(id);
    const RetentionPolicy* policy = options.retention.find(id);
    if (policy == nullptr || info.state != StreamState::kLive) return info;
    Version first = std::max(info.first_version, retention_count_floor(*policy, info.head));
    const Timestamp current = now();
    while (first <= info.head && retention_expired(*policy, at(position_of(s.positions, first)).timestamp, current))
      ++first;
    info.first_version = first;
    return info;
  }
  // Whether retention removes the event `e` at `now`. REQUIRES: mu held.
  bool retained_out(const Stored& e, Timestamp now) const {
    const RetentionPolicy* policy = options.retention.find(e.stream);
    if (policy == nullptr) return false;
    const Stream* s = find(e.stream);
    return s != nullptr && retention_removes(*policy, e.version, e.timestamp, s->positions.size(), now);
  }

  // The stream named `id`, or nullptr. REQUIRES: mu held.
  const Stream* find(std::string_view id) const {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  // Decides part `a` of an append (idempotency, then the stream's head and life): the verdict of a
  // retry in `retry`, a conflict in `conflict`, or a refusal. REQUIRES: mu held.
  Status decide(const StreamAppend& a, std::optional<Result<AppendResult>>& retry,
                std::optional<VersionConflict>& conflict, bool& recreate) const;
  // Commits part `a` at the end of the log with timestamp `ts`. REQUIRES: mu held exclusively, decided.
  AppendResult commit(const StreamAppend& a, bool recreate, Timestamp ts);
  // Removes the events of versions [from, to) of `s`. REQUIRES: mu held exclusively.
  std::uint64_t remove(Stream& s, Version from, Version to);

  Timestamp now() const {
    if (options.clock) return options.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }

  Options options;
  mutable std::shared_mutex mu;
  std::vector<Stored> log;                             // GUARDED_BY(mu); log[p - 1] has position p
  std::map<std::string, Stream, std::less<>> streams;  // GUARDED_BY(mu)
  std::unordered_map<EventId, Position> ids;           // GUARDED_BY(mu)
  Timestamp last_timestamp{};                          // GUARDED_BY(mu)
  // Per stream, by (version, schema fingerprint, snapshot version): encoded. GUARDED_BY(mu)
  using SnapshotKey = std::tuple<Version, std::uint64_t, std::uint32_t>;
  std::map<std::string, std::map<SnapshotKey, std::string>, std::less<>> snapshots;
};

Result<std::unique_ptr<MemoryEventStore>> MemoryEventStore::create(Options options) {
  if (Status s = validate_limits(options.limits); !s.ok()) return s.with_context("create memory event store");
  if (Status s = validate_retention(options.retention); !s.ok()) return s.with_context("create memory event store");
  return std::make_unique<MemoryEventStore>(std::move(options));
}

MemoryEventStore::MemoryEventStore() : MemoryEventStore(Options{}) {}
MemoryEventStore::MemoryEventStore(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
MemoryEventStore::~MemoryEventStore() = default;

const Limits& MemoryEventStore::limits() const noexcept { return impl_->options.limits; }
PersonalData* MemoryEventStore::personal_data() noexcept { return &impl_->personal; }

Status MemoryEventStore::Impl::decide(const StreamAppend& a, std::optional<Result<AppendResult>>& retry,
                                      std::optional<VersionConflict>& conflict, bool& recreate) const {
  // Idempotency first: a retry of a committed append must succeed whatever its expected version says.
  IdempotencyCheck idem(a.stream, a.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    auto it = ids.find(a.events[i].id);
    if (it == ids.end()) {
      idem.missing(i);
    } else {
      const auto& s = at(it->second);
      idem.found(i, s.stream, s.version, s.position);
    }
  }
  retry = idem.verdict();
  if (retry.has_value()) return {};
  const Stream* stream = find(a.stream.view());
  const StreamInfo info = stream == nullptr ? StreamInfo{} : stream->info(a.stream.view());
  Status refused;
  conflict = append_conflict(a.stream, a.expected, stream == nullptr ? nullptr : &info, recreate, refused);
  return refused;
}

AppendResult MemoryEventStore::Impl::commit(const StreamAppend& a, bool recreate, Timestamp ts) {
  auto sit = streams.find(a.stream.view());
  if (sit == streams.end()) sit = streams.emplace(a.stream.str(), Stream{}).first;
  Stream& stream = sit->second;
  const Version head = stream.positions.size();
  if (recreate) {
    stream.state = StreamState::kLive;
    stream.first_version = head + 1;
    stream.origin = head + 1;
  }
  AppendResult result{head + a.events.size(), log.size() + 1, log.size() + a.events.size()};
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    const EventData& e = a.events[i];
    Stored s{a.stream.str(), head + i + 1, log.size() + 1, e.id, e.type, ts, {}, e.payload};
    encode_metadata(e.metadata, s.metadata);
    ids.emplace(e.id, s.position);
    stream.positions.push_back(s.position);
    log.push_back(std::move(s));
  }
  return result;
}

std::uint64_t MemoryEventStore::Impl::remove(Stream& s, Version from, Version to) {
  std::uint64_t removed = 0;
  for (Version v = std::max<Version>(from, 1); v < to && v <= s.positions.size(); ++v) {
    Stored& e = log[position_of(s.positions, v).value() - 1];
    if (e.removed) continue;
    e.removed = true;
    e.type.clear();
    e.metadata.clear();
    e.payload.clear();
    ++removed;
  }
  return removed;
}

Result<AppendResult> MemoryEventStore::append(const StreamId& stream, ExpectedVersion expected,
                                              std::span<const EventData> events) {
  STRATA_RETURN_IF_ERROR(check_append(stream, events, impl_->options.limits));
  const StreamAppend part{stream, expected, events};
  std::unique_lock lock(impl_->mu);
  std::optional<Result<AppendResult>> retry;
  std::optional<VersionConflict> conflict;
  bool recreate = false;
  STRATA_RETURN_IF_ERROR(impl_->decide(part, retry, conflict, recreate));
  if (retry.has_value()) return *std::move(retry);
  if (conflict.has_value()) return Status::wrong_expected_version(*std::move(conflict));
  Timestamp ts = std::max(impl_->now(), impl_->last_timestamp);
  impl_->last_timestamp = ts;
  const AppendResult result = impl_->commit(part, recreate, ts);
  lock.unlock();
  publish_commit(result.last_position);
  return result;
}

Result<MultiAppendResult> MemoryEventStore::append_multi(std::span<const StreamAppend> appends) {
  STRATA_RETURN_IF_ERROR(check_append_multi(appends, impl_->options.limits));
  std::unique_lock lock(impl_->mu);
  std::vector<std::optional<Result<AppendResult>>> retries(appends.size());
  std::vector<VersionConflict> conflicts;
  std::vector<bool> recreate(appends.size());
  for (std::size_t k = 0; k < appends.size(); ++k) {
    std::optional<VersionConflict> conflict;
    bool r = false;
    STRATA_RETURN_IF_ERROR(impl_->decide(appends[k], retries[k], conflict, r));
    recreate[k] = r;
    if (conflict.has_value()) conflicts.push_back(*std::move(conflict));
  }
  if (auto verdict = multi_idempotency_verdict(retries); verdict.has_value()) return *std::move(verdict);
  if (!conflicts.empty()) return Status::wrong_expected_versions(std::move(conflicts));
  Timestamp ts = std::max(impl_->now(), impl_->last_timestamp);
  impl_->last_timestamp = ts;
  MultiAppendResult result;
  for (std::size_t k = 0; k < appends.size(); ++k) result.streams.push_back(impl_->commit(appends[k], recreate[k], ts));
  result.first_position = result.streams.front().first_position;
  result.last_position = result.streams.back().last_position;
  lock.unlock();
  publish_commit(result.last_position);
  return result;
}

Result<LifecycleResult> MemoryEventStore::delete_stream(const StreamId& stream, ExpectedVersion expected,
                                                        DeleteMode mode) {
  std::unique_lock lock(impl_->mu);
  auto sit = impl_->streams.find(stream.view());
  const StreamInfo info = sit == impl_->streams.end() ? StreamInfo{} : sit->second.info(stream.view());
  LifecycleChange c = decide_delete(stream, sit == impl_->streams.end() ? nullptr : &info, expected, mode);
  STRATA_RETURN_IF_ERROR(c.refused);
  LifecycleResult result{info.head, 0};
  if (c.unchanged) return result;
  Impl::Stream& s = sit->second;
  result.removed = impl_->remove(s, c.remove_from, c.remove_to);
  s.state = c.after.state;
  s.first_version = c.after.first_version;
  // A hard delete leaves nothing of the stream's state behind: its snapshots go with its events.
  if (s.state == StreamState::kHardDeleted) impl_->snapshots.erase(std::string(stream.view()));
  return result;
}

Result<LifecycleResult> MemoryEventStore::truncate_stream(const StreamId& stream, ExpectedVersion expected,
                                                          Version before) {
  std::unique_lock lock(impl_->mu);
  auto sit = impl_->streams.find(stream.view());
  const StreamInfo info = sit == impl_->streams.end() ? StreamInfo{} : sit->second.info(stream.view());
  LifecycleChange c = decide_truncate(stream, sit == impl_->streams.end() ? nullptr : &info, expected, before);
  STRATA_RETURN_IF_ERROR(c.refused);
  LifecycleResult result{info.head, 0};
  if (c.unchanged) return result;
  Impl::Stream& s = sit->second;
  result.removed = impl_->remove(s, c.remove_from, c.remove_to);
  s.first_version = c.after.first_version;
  return result;
}

Result<StreamInfo> MemoryEventStore::stream_info(const StreamId& stream) {
  std::shared_lock lock(impl_->mu);
  const Impl::Stream* s = impl_->find(stream.view());
  if (s == nullptr) return stream_not_found(stream);
  return impl_->info(stream.view(), *s);
}

Status MemoryEventStore::visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) {
  std::shared_lock lock(impl_->mu);
  const Impl::Stream* s = impl_->find(stream.view());
  if (s == nullptr) return stream_not_found(stream);
  STRATA_ASSIGN_OR_RETURN(from, readable_from(stream, impl_->info(stream.view(), *s), from));
  const auto& positions = s->positions;
  Version last = std::min<Version>(to, positions.size());
  std::string scratch;
  for (Version v = from; v <= last; ++v) {
    STRATA_ASSIGN_OR_RETURN(EventView view, impl_->reveal(impl_->at(Impl::position_of(positions, v)), scratch));
    STRATA_RETURN_IF_ERROR(visitor(view));
  }
  return {};
}

Result<StreamSlice> MemoryEventStore::read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                  std::size_t max_count) {
  std::shared_lock lock(impl_->mu);
  const Impl::Stream* s = impl_->find(stream.view());
  if (s == nullptr) return stream_not_found(stream);
  const StreamInfo info = impl_->info(stream.view(), *s);
  const auto& positions = s->positions;
  const Version head = positions.size();
  StreamSlice slice;
  slice.first_version = info.first_version;
  std::string scratch;
  auto take = [&](Version v) -> Status {
    STRATA_ASSIGN_OR_RETURN(EventView view, impl_->reveal(impl_->at(Impl::position_of(positions, v)), scratch));
    STRATA_ASSIGN_OR_RETURN(RecordedEvent r, view.to_recorded());
    slice.events.push_back(std::move(r));
    return {};
  };
  if (direction == ReadDirection::kForward) {
    STRATA_ASSIGN_OR_RETURN(from, readable_from(stream, info, from));
    Version v = from;
    for (; v <= head && slice.events.size() < max_count; ++v) STRATA_RETURN_IF_ERROR(take(v));
    slice.next_version = v;
    slice.end_of_stream = v > head;
  } else {
    if (info.state != StreamState::kLive) return stream_deleted(stream, info);
    Version v = std::min(from, head);
    for (; v >= info.first_version && slice.events.size() < max_count; --v) STRATA_RETURN_IF_ERROR(take(v));
    const bool end = v < info.first_version;
    slice.next_version = end ? Version{0} : v;
    slice.end_of_stream = end;
  }
  return slice;
}

Result<LogVisit> MemoryEventStore::visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                             EventVisitor visitor) {
  std::shared_lock lock(impl_->mu);
  if (from == 0) from = 1;
  const Position high = impl_->log.size();
  std::size_t delivered = 0;
  std::uint64_t removed = 0;
  std::string scratch;
  const Timestamp now = impl_->options.retention.empty() ? Timestamp{} : impl_->now();
  Position p = from;
  for (; p <= high && delivered < max_count; ++p) {
    const auto& s = impl_->at(p);
    if (s.removed || impl_->retained_out(s, now)) {
      ++removed;
      continue;
    }
    if (!filter.empty() && !filter.matches(s.stream, s.type)) continue;
    STRATA_ASSIGN_OR_RETURN(EventView view, impl_->reveal(s, scratch));
    STRATA_RETURN_IF_ERROR(visitor(view));
    ++delivered;
  }
  return LogVisit{p, p > high, removed};
}

Result<LogSlice> MemoryEventStore::read_log(Position from, std::size_t max_count, const LogFilter& filter) {
  LogSlice slice;
  auto next = visit_log(from, max_count, filter, [&](const EventView& e) -> Status {
    STRATA_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
    slice.events.push_back(std::move(r));
    return {};
  });
  if (!next.ok()) return next.status();
  slice.next_position = next->next_position;
  slice.end_of_log = next->end_of_log;
  slice.removed = next->removed;
  return slice;
}

Result<std::optional<EventLocation>> MemoryEventStore::lookup_event(const EventId& id) {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->ids.find(id);
  if (it == impl_->ids.end()) return std::optional<EventLocation>();
  const auto& e = impl_->at(it->second);
  return std::optional<EventLocation>(EventLocation{e.stream, e.version, it->second});
}

Result<Version> MemoryEventStore::stream_head(const StreamId& stream) {
  std::shared_lock lock(impl_->mu);
  auto sit = impl_->streams.find(stream.view());
  return sit == impl_->streams.end() ? Version{0} : Version{sit->second.positions.size()};
}

Result<StreamList> MemoryEventStore::list_streams(std::string_view after, std::size_t max_count) {
  std::shared_lock lock(impl_->mu);
  StreamList list;
  auto it = after.empty() ? impl_->streams.begin() : impl_->streams.upper_bound(after);
  for (; it != impl_->streams.end() && list.streams.size() < max_count; ++it)
    list.streams.push_back(impl_->info(it->first, it->second));
  if (it != impl_->streams.end() && !list.streams.empty()) list.next_after = list.streams.back().stream_id;
  return list;
}

Position MemoryEventStore::head_position() const {
  std::shared_lock lock(impl_->mu);
  return impl_->log.size();
}

Status MemoryEventStore::save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) {
  if (snapshot.version == 0)
    return Status::invalid_argument(fmt::format("snapshot of stream \"{}\": version 0 holds no events", stream.str()));
  std::string bytes = encode_snapshot(snapshot);
  std::unique_lock lock(impl_->mu);
  impl_->snapshots[stream.str()][{snapshot.version, snapshot.schema_fingerprint, snapshot.snapshot_version}] =
      std::move(bytes);
  return {};
}

Result<std::optional<SnapshotRecord>> MemoryEventStore::load_snapshot(const StreamId& stream, Version max_version,
                                                                      const SnapshotSchema& schema) {
  std::shared_lock lock(impl_->mu);
  auto sit = impl_->snapshots.find(stream.view());
  if (sit == impl_->snapshots.end()) return std::optional<SnapshotRecord>();
  const auto& all = sit->second;
  for (auto it = all.upper_bound({max_version, ~std::uint64_t{0}, ~std::uint32_t{0}}); it != all.begin();) {
    --it;
    const auto& [version, fingerprint, snapshot_version] = it->first;
    if (fingerprint != schema.fingerprint || snapshot_version != schema.snapshot_version) continue;
    auto decoded = decode_snapshot(it->second);
    if (!decoded.ok())
      return decoded.status().with_context(
          fmt::format("snapshot of stream \"{}\" at version {}", stream.str(), version.value()));
    return std::optional<SnapshotRecord>(std::move(*decoded));
  }
  return std::optional<SnapshotRecord>();
}

Status MemoryEventStore::retain_snapshots(const StreamId& stream, const SnapshotSchema& schema, std::size_t keep) {
  std::unique_lock lock(impl_->mu);
  auto sit = impl_->snapshots.find(stream.view());
  if (sit == impl_->snapshots.end()) return {};
  auto& all = sit->second;
  std::vector<Impl::SnapshotKey> keys;
  std::vector<StoredSnapshot> stored;
  for (const auto& [key, bytes] : all) {
    keys.push_back(key);
    stored.push_back(StoredSnapshot{
        std::get<0>(key), std::get<1>(key) == schema.fingerprint && std::get<2>(key) == schema.snapshot_version});
  }
  const std::vector<bool> drop = snapshots_to_drop(stored, keep);
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (drop[i]) all.erase(keys[i]);
  return {};
}

Result<std::vector<Version>> MemoryEventStore::snapshot_versions(const StreamId& stream) {
  std::shared_lock lock(impl_->mu);
  std::vector<Version> out;
  auto sit = impl_->snapshots.find(stream.view());
  if (sit != impl_->snapshots.end())
    for (const auto& [key, bytes] : sit->second) out.push_back(std::get<0>(key));
  return out;
}

Status MemoryEventStore::overwrite_snapshot_bytes(const StreamId& stream, Version version, const SnapshotSchema& schema,
                                                  std::string bytes) {
  std::unique_lock lock(impl_->mu);
  auto sit = impl_->snapshots.find(stream.view());
  const Impl::SnapshotKey key{version, schema.fingerprint, schema.snapshot_version};
  if (sit == impl_->snapshots.end() || !sit->second.contains(key))
    return Status::not_found(
        fmt::format("no snapshot of stream \"{}\" at version {} of that schema", stream.str(), version.value()));
  sit->second[key] = std::move(bytes);
  return {};
}

}  // namespace strata
