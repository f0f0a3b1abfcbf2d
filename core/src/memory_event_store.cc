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

    EventView view() const { return EventView{stream, version, position, id, type, timestamp, metadata, payload}; }
  };

  explicit Impl(Options o) : options(std::move(o)) {}

  // The event at position `p`. REQUIRES: mu held, 1 <= p <= log.size().
  const Stored& at(Position p) const { return log[p.value() - 1]; }
  // The position of version `v` in a stream's list of positions. REQUIRES: 1 <= v <= positions.size().
  static Position position_of(const std::vector<Position>& positions, Version v) { return positions[v.value() - 1]; }

  Timestamp now() const {
    if (options.clock) return options.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }

  Options options;
  mutable std::shared_mutex mu;
  std::vector<Stored> log;                                            // GUARDED_BY(mu); log[p - 1] has position p
  std::map<std::string, std::vector<Position>, std::less<>> streams;  // GUARDED_BY(mu); [v - 1] = position
  std::unordered_map<EventId, Position> ids;                          // GUARDED_BY(mu)
  Timestamp last_timestamp{};                                         // GUARDED_BY(mu)
  // Per stream, by (version, schema fingerprint, snapshot version): encoded. GUARDED_BY(mu)
  using SnapshotKey = std::tuple<Version, std::uint64_t, std::uint32_t>;
  std::map<std::string, std::map<SnapshotKey, std::string>, std::less<>> snapshots;
};

Result<std::unique_ptr<MemoryEventStore>> MemoryEventStore::create(Options options) {
  if (Status s = validate_limits(options.limits); !s.ok()) return s.with_context("create memory event store");
  return std::make_unique<MemoryEventStore>(std::move(options));
}

MemoryEventStore::MemoryEventStore() : MemoryEventStore(Options{}) {}
MemoryEventStore::MemoryEventStore(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
MemoryEventStore::~MemoryEventStore() = default;

const Limits& MemoryEventStore::limits() const noexcept { return impl_->options.limits; }

Result<AppendResult> MemoryEventStore::append(const StreamId& stream, ExpectedVersion expected,
                                              std::span<const EventData> events) {
  STRATA_RETURN_IF_ERROR(check_append(stream, events, impl_->options.limits));
  std::unique_lock lock(impl_->mu);
  auto& log = impl_->log;

  // Idempotency first: a retry of a committed append must succeed whatever its expected version says.
  IdempotencyCheck idem(stream, events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto it = impl_->ids.find(events[i].id);
    if (it == impl_->ids.end()) {
      idem.missing(i);
    } else {
      const auto& s = impl_->at(it->second);
      idem.found(i, s.stream, s.version, s.position);
    }
  }
  if (auto verdict = idem.verdict(); verdict.has_value()) return *std::move(verdict);

  auto sit = impl_->streams.find(stream.view());
  const Version head = sit == impl_->streams.end() ? 0 : sit->second.size();
  if (!expected.matches(head)) {
    return Status::wrong_expected_version(VersionConflict{stream.str(), expected, head});
  }
  if (sit == impl_->streams.end()) sit = impl_->streams.emplace(stream.str(), std::vector<Position>{}).first;

  Timestamp ts = std::max(impl_->now(), impl_->last_timestamp);
  impl_->last_timestamp = ts;
  AppendResult result{head + events.size(), log.size() + 1, log.size() + events.size()};
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventData& e = events[i];
    Impl::Stored s{stream.str(), head + i + 1, log.size() + 1, e.id, e.type, ts, {}, e.payload};
    encode_metadata(e.metadata, s.metadata);
    impl_->ids.emplace(e.id, s.position);
    sit->second.push_back(s.position);
    log.push_back(std::move(s));
  }
  lock.unlock();
  publish_commit(result.last_position);
  return result;
}

Status MemoryEventStore::visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) {
  std::shared_lock lock(impl_->mu);
  auto sit = impl_->streams.find(stream.view());
  if (sit == impl_->streams.end()) return stream_not_found(stream);
  const auto& positions = sit->second;
  if (from == 0) from = 1;
  Version last = std::min<Version>(to, positions.size());
  for (Version v = from; v <= last; ++v)
    STRATA_RETURN_IF_ERROR(visitor(impl_->at(Impl::position_of(positions, v)).view()));
  return {};
}

Result<StreamSlice> MemoryEventStore::read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                  std::size_t max_count) {
  std::shared_lock lock(impl_->mu);
  auto sit = impl_->streams.find(stream.view());
  if (sit == impl_->streams.end()) return stream_not_found(stream);
  const auto& positions = sit->second;
  const Version head = positions.size();
  StreamSlice slice;
  auto take = [&](Version v) -> Status {
    STRATA_ASSIGN_OR_RETURN(RecordedEvent r, impl_->at(Impl::position_of(positions, v)).view().to_recorded());
    slice.events.push_back(std::move(r));
    return {};
  };
  if (direction == ReadDirection::kForward) {
    if (from == 0) from = 1;
    Version v = from;
    for (; v <= head && slice.events.size() < max_count; ++v) STRATA_RETURN_IF_ERROR(take(v));
    slice.next_version = v;
    slice.end_of_stream = v > head;
  } else {
    Version v = std::min(from, head);
    for (; v >= 1 && slice.events.size() < max_count; --v) STRATA_RETURN_IF_ERROR(take(v));
    slice.next_version = v;
    slice.end_of_stream = v == 0;
  }
  return slice;
}

Result<LogVisit> MemoryEventStore::visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                             EventVisitor visitor) {
  std::shared_lock lock(impl_->mu);
  if (from == 0) from = 1;
  const Position high = impl_->log.size();
  std::size_t delivered = 0;
  Position p = from;
  for (; p <= high && delivered < max_count; ++p) {
    const auto& s = impl_->at(p);
    if (!filter.empty() && !filter.matches(s.stream, s.type)) continue;
    STRATA_RETURN_IF_ERROR(visitor(s.view()));
    ++delivered;
  }
  return LogVisit{p, p > high};
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
  return sit == impl_->streams.end() ? Version{0} : Version{sit->second.size()};
}

Result<StreamList> MemoryEventStore::list_streams(std::string_view after, std::size_t max_count) {
  std::shared_lock lock(impl_->mu);
  StreamList list;
  auto it = after.empty() ? impl_->streams.begin() : impl_->streams.upper_bound(after);
  for (; it != impl_->streams.end() && list.streams.size() < max_count; ++it)
    list.streams.push_back(StreamInfo{it->first, it->second.size()});
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
