// The reads of RocksEventStore: streams (a stream's visible head, its events by version, the list of
// streams) and the global log. Each read takes the high-water mark once and never returns an event
// above it; the families are append-only, so what lies at or below it cannot change under the read.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/core/backend/append_checks.h"
#include "stream_entries.h"

namespace strata::detail {

namespace fmtx = format;

namespace {

// The message of a version at or below a stream's visible head that the store cannot read.
std::string no_readable_event(const StreamId& stream, Version version) {
  return fmt::format("stream \"{}\" has no readable event at version {}", stream.str(), version.value());
}

}  // namespace

Result<std::optional<RocksEventStoreImpl::KnownStream>> RocksEventStoreImpl::visible_stream(std::string_view stream,
                                                                                            Position high) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), streams_, slice(stream), &value);
  if (s.IsNotFound()) return std::optional<KnownStream>();
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, fmt::format("read stream \"{}\"", stream)));
  KnownStream state;
  STRATA_ASSIGN_OR_RETURN(bool visible, known_from_record(stream, view_of(value), high, state));
  if (!visible) return std::optional<KnownStream>();
  return std::optional<KnownStream>(state);
}

Result<bool> RocksEventStoreImpl::known_from_record(std::string_view stream, std::string_view value, Position high,
                                                    KnownStream& state) {
  fmtx::StreamRecord record;
  if (!fmtx::decode_stream_record(value, record))
    return corrupt(fmt::format("the record of stream \"{}\" is damaged", stream));
  state = KnownStream{record.number, 0, 0};
  STRATA_RETURN_IF_ERROR(find_head(stream, high, state));
  if ((record.flags & fmtx::kHasLife) != 0) {
    // A delete or truncation may have removed the entries up to the head; the record keeps it.
    state.has_life = true;
    state.head = std::max<Version>(state.head, record.head);
    state.state = static_cast<StreamState>(record.state);
    state.first_version = record.first_version;
    state.origin = record.origin;
  }
  return state.head != 0;
}

Status RocksEventStoreImpl::missing_version(const StreamId& stream, Version version) {
  auto now = readable_stream(stream.view(), head_position());
  if (now.ok() && now->has_value()) {
    const KnownStream& k = **now;
    if (k.state != StreamState::kLive) return stream_deleted(stream, k.info(stream.view()));
    if (version < k.first_version) return stream_truncated(stream, version, k.first_version);
    // Retention removed it under a policy that has changed since.
    if (in_retained_category(retained_categories_, stream.view()))
      return stream_truncated(stream, version, version + 1);
  }
  return corrupt(no_readable_event(stream, version));
}

Result<StreamInfo> RocksEventStoreImpl::stream_info(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(auto record, readable_stream(stream.view(), head_position()));
  if (!record) return stream_not_found(stream);
  return record->info(stream.view());
}

Status RocksEventStoreImpl::find_head(std::string_view stream, Position high, KnownStream& state) {
  const StreamEntries it(*db_, events_, state.number);
  // Usually the last entry is at or below `high`; only a stream whose newest append is written but not
  // yet published has entries above it.
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    std::uint64_t number = 0;
    Version version = 0;
    fmtx::EventsEntry entry;
    if (!fmtx::decode_events_key(view_of(it->key()), number, version) || number != state.number ||
        !fmtx::decode_events_entry(view_of(it->value()), entry))
      return corrupt(fmt::format("the events of stream \"{}\" are damaged", stream));
    if (entry.position <= high) {
      const std::uint64_t visible = std::min<std::uint64_t>(entry.count, high - entry.position + 1);
      state.head = version + (visible - 1);
      state.head_position = entry.position_of(version, state.head);
      return {};
    }
  }
  state.head = 0;
  state.head_position = 0;
  return from_rocksdb(it->status(), fmt::format("read stream \"{}\"", stream));
}

// Calls `visitor` for versions from..last of the stream numbered `number`. REQUIRES: 1 <= from <= last
// <= the stream's visible head.
Status RocksEventStoreImpl::visit_versions(const StreamId& stream, std::uint64_t number, Version from, Version last,
                                           EventVisitor visitor) {
  auto context = [&] { return fmt::format("read stream \"{}\"", stream.str()); };
  const StreamEntries it(*db_, events_, number, last + 1);
  std::unique_ptr<rocksdb::Iterator> log;  // opened at the first run

  // Missing versions are damage, unless a delete or truncation removed them since the read began.
  auto damaged = [&](Version v) { return missing_version(stream, v); };
  // `from` may lie inside a run that starts before it; usually an entry starts at `from` (copies have
  // one per version, and most reads start at a stream's first version), and a Seek is cheaper than a
  // SeekForPrev and the turn to forward iteration after it.
  const auto from_key = fmtx::events_key(number, from);
  it->Seek(slice(from_key));
  if (!it->Valid() || view_of(it->key()) != std::string_view(from_key.data(), from_key.size())) {
    it->SeekForPrev(slice(from_key));
    if (!it->Valid()) it->Seek(slice(from_key));
  }
  EventView view;
  view.stream_id = stream.view();
  std::string revealed;  // an event's payload with its personal fields revealed
  Version next = from;
  while (next <= last) {
    if (!it->Valid()) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context()));
      return damaged(next);
    }
    std::uint64_t key_number = 0;
    Version version = 0;
    fmtx::EventsEntry entry;
    if (!fmtx::decode_events_key(view_of(it->key()), key_number, version) || key_number != number ||
        !fmtx::decode_events_entry(view_of(it->value()), entry) || version > next)
      return damaged(next);
    if (entry.last_version(version) < next) {  // wholly before `next`
      it->Next();
      continue;
    }
    if (entry.kind == fmtx::kEventCopy) {
      view.version = version;
      view.position = entry.position;
      if (!fmtx::decode_body(entry.body, view)) return damaged(next);
      STRATA_RETURN_IF_ERROR(reveal_personal(personal_.get(), view, revealed));
      STRATA_RETURN_IF_ERROR(visitor(view));
      ++next;
    } else {
      const Version run_last = std::min(last, entry.last_version(version));
      STRATA_RETURN_IF_ERROR(visit_run(stream, entry.position_of(version, next), next, run_last, log, visitor));
    }
    it->Next();
  }
  return {};
}

// Calls `visitor` for versions next..run_last of `stream` from one of its runs, whose events the log
// holds at consecutive positions, `position` being that of version `next`; moves `next` past them.
// `log` is opened at the first run and reused by the next ones.
Status RocksEventStoreImpl::visit_run(const StreamId& stream, Position position, Version& next, Version run_last,
                                      std::unique_ptr<rocksdb::Iterator>& log, EventVisitor visitor) {
  if (log == nullptr) log.reset(db_->NewIterator(rocksdb::ReadOptions(), log_));
  log->Seek(slice(fmtx::position_key(position)));
  EventView view;
  std::string revealed;
  for (; next <= run_last; ++next, ++position, log->Next()) {
    Position key_position = 0;
    if (!log->Valid() || !fmtx::decode_position_key(view_of(log->key()), key_position) || key_position != position ||
        !fmtx::decode_log_record(view_of(log->value()), view) || view.version != next ||
        view.stream_id != stream.view()) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(log->status(), fmt::format("read stream \"{}\"", stream.str())));
      return missing_version(stream, next);
    }
    view.position = position;
    STRATA_RETURN_IF_ERROR(reveal_personal(personal_.get(), view, revealed));
    STRATA_RETURN_IF_ERROR(visitor(view));
  }
  return {};
}

Status RocksEventStoreImpl::visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) {
  const Position high = head_position();
  STRATA_ASSIGN_OR_RETURN(auto record, readable_stream(stream.view(), high));
  if (!record) return stream_not_found(stream);
  STRATA_ASSIGN_OR_RETURN(from, readable_from(stream, record->info(stream.view()), from));
  const Version last = std::min(to, record->head);
  if (from > last) return {};
  return visit_versions(stream, record->number, from, last, visitor);
}

Result<StreamSlice> RocksEventStoreImpl::read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                     std::size_t max_count) {
  const Position high = head_position();
  STRATA_ASSIGN_OR_RETURN(auto record, readable_stream(stream.view(), high));
  if (!record) return stream_not_found(stream);
  const Version head = record->head;
  const StreamInfo info = record->info(stream.view());
  StreamSlice slice_out;
  slice_out.first_version = info.first_version;
  auto take = [&](Version first, Version last) -> Status {
    slice_out.events.reserve(static_cast<std::size_t>(last - first + 1));
    return visit_versions(stream, record->number, first, last, [&](const EventView& e) -> Status {
      STRATA_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
      slice_out.events.push_back(std::move(r));
      return {};
    });
  };
  if (direction == ReadDirection::kForward) {
    STRATA_ASSIGN_OR_RETURN(from, readable_from(stream, info, from));
    Version next = from;
    if (from <= head && max_count > 0) {
      const Version last = head - from + 1 <= max_count ? head : from + max_count - 1;
      STRATA_RETURN_IF_ERROR(take(from, last));
      next = last + 1;
    }
    slice_out.next_version = next;
    slice_out.end_of_stream = next > head;
  } else {
    if (info.state != StreamState::kLive) return stream_deleted(stream, info);
    const Version lowest = info.first_version;
    Version next = std::min(from, head);
    if (next >= lowest && max_count > 0) {
      const Version first = next - lowest + 1 > max_count ? next - max_count + 1 : lowest;
      STRATA_RETURN_IF_ERROR(take(first, next));
      std::reverse(slice_out.events.begin(), slice_out.events.end());
      next = first - 1;
    }
    const bool end = next < lowest;
    slice_out.next_version = end ? Version{0} : next;
    slice_out.end_of_stream = end;
  }
  return slice_out;
}

Result<LogVisit> RocksEventStoreImpl::visit_log_until(Position high, Position from, std::size_t max_count,
                                                      const LogFilter& filter, EventVisitor visitor) {
  if (from == 0) from = 1;
  if (from > high || max_count == 0) return LogVisit{from, from > high};
  const auto upper = fmtx::position_key(high + 1);
  rocksdb::Slice upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_bound;
  options.fill_cache = high - from < kCatchUpDistance;
  // No explicit readahead: RocksDB's own ramps up on sequential reads, and a fixed 2 MiB made catch-up
  // in batches of 1,000 events 30 % slower (each batch is a new iterator that read ahead in vain).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, log_));
  it->Seek(slice(fmtx::position_key(from)));
  std::size_t delivered = 0;
  std::uint64_t removed = 0;
  Position p = from;
  EventView view;
  std::string revealed;
  std::optional<LogRetention> retention;
  if (!options_.retention.empty()) retention.emplace(LogRetention{*this, high, now(), {}});
  for (; p <= high && delivered < max_count; ++p, it->Next()) {
    Position key_position = 0;
    if (!it->Valid() || !fmtx::decode_position_key(view_of(it->key()), key_position) || key_position != p) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), "read the log"));
      return corrupt(fmt::format("log position {} is missing", p.value()));
    }
    const std::string_view value = view_of(it->value());
    if (fmtx::is_log_tombstone(value)) {
      ++removed;
      continue;
    }
    if (!filter.empty() && !retention) {
      std::string_view stream, type;
      if (!fmtx::peek_log_record(value, stream, type))
        return corrupt(fmt::format("log position {} is damaged", p.value()));
      if (!filter.matches(stream, type)) continue;
    }
    if (!fmtx::decode_log_record(value, view)) return corrupt(fmt::format("log position {} is damaged", p.value()));
    if (retention) {
      // What retention removes counts as removed whatever the filter, as its tombstone will.
      if (retention->removes(view)) {
        ++removed;
        continue;
      }
      if (!filter.empty() && !filter.matches(view.stream_id, view.type)) continue;
    }
    view.position = p;
    STRATA_RETURN_IF_ERROR(reveal_personal(personal_.get(), view, revealed));
    STRATA_RETURN_IF_ERROR(visitor(view));
    ++delivered;
  }
  return LogVisit{p, p > high, removed};
}

Result<LogVisit> RocksEventStoreImpl::visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                                EventVisitor visitor) {
  return visit_log_until(head_position(), from, max_count, filter, visitor);
}

Result<LogSlice> RocksEventStoreImpl::read_log(Position from, std::size_t max_count, const LogFilter& filter) {
  const Position high = head_position();
  LogSlice slice_out;
  if (from != 0 && from <= high) slice_out.events.reserve(std::min<std::size_t>(max_count, high - from + 1));
  STRATA_ASSIGN_OR_RETURN(LogVisit visit,
                          visit_log_until(high, from, max_count, filter, [&](const EventView& e) -> Status {
                            STRATA_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
                            slice_out.events.push_back(std::move(r));
                            return {};
                          }));
  slice_out.next_position = visit.next_position;
  slice_out.end_of_log = visit.end_of_log;
  slice_out.removed = visit.removed;
  return slice_out;
}

Result<std::optional<EventLocation>> RocksEventStoreImpl::lookup_event(const EventId& id) {
  const Position high = head_position();
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), event_ids_, slice(id.as_bytes()), &value);
  if (s.IsNotFound()) return std::optional<EventLocation>();
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, fmt::format("look up event {}", id.to_string())));
  Position position = 0;
  if (!fmtx::decode_event_id_value(view_of(value), position))
    return corrupt(fmt::format("the event-id index entry of {} is damaged", id.to_string()));
  if (position > high) return std::optional<EventLocation>();  // written, not yet acknowledged
  EventLocation location;
  location.position = position;
  STRATA_RETURN_IF_ERROR(committed_event(position, location.stream_id, location.version));
  return std::optional<EventLocation>(std::move(location));
}

Result<Version> RocksEventStoreImpl::stream_head(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(auto record, visible_stream(stream.view(), head_position()));
  return record ? record->head : Version{0};
}

Result<StreamList> RocksEventStoreImpl::list_streams(std::string_view after, std::size_t max_count) {
  const Position high = head_position();
  StreamList list;
  if (max_count == 0) return list;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_));
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(slice(after));
    if (it->Valid() && view_of(it->key()) == after) it->Next();
  }
  for (; it->Valid() && list.streams.size() < max_count; it->Next()) {
    const std::string_view id = view_of(it->key());
    KnownStream state;
    STRATA_ASSIGN_OR_RETURN(bool visible, known_from_record(id, view_of(it->value()), high, state));
    if (!visible) continue;  // created by an append not yet published
    STRATA_RETURN_IF_ERROR(apply_retention(id, state));
    list.streams.push_back(state.info(id));
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), "list streams"));
  if (it->Valid() && !list.streams.empty()) list.next_after = list.streams.back().stream_id;
  return list;
}

}  // namespace strata::detail
