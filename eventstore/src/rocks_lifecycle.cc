// Deletes and truncations of RocksEventStore. They go through the commit queue like appends, each in a
// group of its own (so that everything before it is in the database when it reads the stream), and
// write in one WriteBatch: the removed events' log records replaced by tombstones (the positions stay,
// so the log keeps no gaps), their `events` entries deleted (a run that reaches past the removed
// versions stays: it holds no event bytes), the stream record with the stream's new life, and for a
// hard delete the stream's snapshots. FORMAT.md, "Deleted and truncated streams", has the layout.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <memory>
#include <string>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/core/backend/append_checks.h"
#include "stream_entries.h"

namespace strata::detail {

namespace fmtx = format;

void RocksEventStoreImpl::prepare_lifecycle(Writer& w) {
  auto cached = cached_stream(w.stream);
  if (!cached.ok()) {
    w.life_result = cached.status();
    return;
  }
  KnownStream* record = *cached;
  const StreamInfo info = record == nullptr ? StreamInfo{} : record->info(w.stream.view());
  const StreamInfo* known = record == nullptr ? nullptr : &info;
  const LifecycleChange c = w.op == Op::kDelete ? decide_delete(w.stream, known, w.expected, w.mode)
                                                : decide_truncate(w.stream, known, w.expected, w.before);
  if (!c.refused.ok()) {
    w.life_result = c.refused;
    return;
  }
  LifecycleResult result{info.head, 0};
  if (c.unchanged) {
    w.life_result = result;
    return;
  }
  KnownStream after = *record;
  after.has_life = true;
  after.state = c.after.state;
  after.first_version = c.after.first_version;
  batch_.SetSavePoint();
  Status st = stage_removal(w.stream, *record, c.remove_from, c.remove_to, result.removed);
  if (st.ok()) st = stage_stream_record(w.stream.view(), after);
  if (st.ok() && after.state == StreamState::kHardDeleted)
    st = from_rocksdb(batch_.DeleteRange(snapshots_, slice(fmtx::snapshot_key_prefix(w.stream.view(), 0)),
                                         slice(fmtx::snapshot_key_end(w.stream.view()))),
                      "stage the write");
  if (st.ok()) {
    char floor[8];
    encoding::put_be(floor, next_stream_number_, 8);
    st = from_rocksdb(batch_.Put(default_, slice(fmtx::kStreamNumberFloorKey), rocksdb::Slice(floor, 8)),
                      "stage the write");
  }
  if (!st.ok()) {
    (void)batch_.RollbackToSavePoint();
    w.life_result =
        st.with_context(fmt::format("{} stream \"{}\"", w.op == Op::kDelete ? "delete" : "truncate", w.stream.str()));
    return;
  }
  (void)batch_.PopSavePoint();
  *record = after;
  w.life_result = result;
}

// Stages the removal of versions [from, to) of the stream: tombstones for their log records that are
// not tombstones yet (counted in `removed`), and the deletion of every `events` entry wholly below `to`.
// Reads the database: REQUIRES every earlier group written (a lifecycle writer commits alone).
Status RocksEventStoreImpl::stage_removal(const StreamId& stream, const KnownStream& known, Version from, Version to,
                                          std::uint64_t& removed) {
  auto context = [&] { return fmt::format("remove events of stream \"{}\"", stream.str()); };
  const StreamEntries it(*db_, events_, known.number, to);
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), log_));
  EventView view;
  std::string tombstone;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::uint64_t number = 0;
    Version first = 0;
    fmtx::EventsEntry entry;
    if (!fmtx::decode_events_key(view_of(it->key()), number, first) || number != known.number ||
        !fmtx::decode_events_entry(view_of(it->value()), entry))
      return corrupt(fmt::format("the events of stream \"{}\" are damaged", stream.str()));
    const Version last = entry.last_version(first);
    const Version begin = std::max(first, from);
    const Version end = std::min<Version>(last, to - 1);
    if (begin <= end) {
      Position p = entry.position_of(first, begin);
      log->Seek(slice(fmtx::position_key(p)));
      for (Version v = begin; v <= end; ++v, p = p + 1, log->Next()) {
        Position key = 0;
        if (!log->Valid() || !fmtx::decode_position_key(view_of(log->key()), key) || key != p) {
          STRATA_RETURN_IF_ERROR(from_rocksdb(log->status(), context()));
          return corrupt(fmt::format("log position {} is missing", p.value()));
        }
        const std::string_view value = view_of(log->value());
        if (fmtx::is_log_tombstone(value)) continue;
        if (!fmtx::decode_log_record(value, view) || view.stream_id != stream.view() || view.version != v)
          return corrupt(fmt::format("log position {} is damaged", p.value()));
        tombstone.clear();
        fmtx::encode_log_tombstone(stream.view(), v, view.id, tombstone);
        STRATA_RETURN_IF_ERROR(
            from_rocksdb(batch_.Put(log_, slice(fmtx::position_key(p)), slice(tombstone)), "stage the write"));
        ++removed;
      }
    }
    if (last < to) STRATA_RETURN_IF_ERROR(from_rocksdb(batch_.Delete(events_, it->key()), "stage the write"));
  }
  return from_rocksdb(it->status(), context());
}

Status RocksEventStoreImpl::stage_stream_record(std::string_view stream, const KnownStream& known) {
  fmtx::StreamRecord r;
  r.number = known.number;
  r.flags = fmtx::kHasLife;
  r.state = static_cast<std::uint64_t>(known.state);
  r.head = known.head.value();
  r.first_version = known.first_version.value();
  r.origin = known.origin.value();
  value_scratch_.clear();
  fmtx::encode_stream_record(r, value_scratch_);
  return from_rocksdb(batch_.Put(streams_, slice(stream), slice(value_scratch_)), "stage the write");
}

}  // namespace strata::detail
