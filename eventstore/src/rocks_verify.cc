#include "rocks_verify.h"

#include <fmt/format.h>
#include <rocksdb/iterator.h>

#include <memory>

#include "format.h"
#include "rocks_retention.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/eventstore/rocks_event_store.h"

namespace strata::detail {

namespace fmtx = format;

Status damaged_store(std::string_view context, std::string_view what) {
  return Status::corruption(fmt::format(
      "{}: the store is damaged: {}; nothing was changed. Restore the store from a backup, or repair a copy "
      "(RocksEventStore::repair_copy), which keeps what can still be read and may lose events",
      context, what));
}

Status check_format_version(std::string_view value, std::string_view context) {
  if (value.size() != 4) return Status::corruption(fmt::format("{}: the format version is damaged", context));
  const auto version = static_cast<std::uint32_t>(fmtx::get_be(value.data(), 4));
  if (version > RocksEventStore::kFormatVersion)
    return Status::corruption(fmt::format(
        "{}: the store has format version {}, newer than the {} this build reads; open it with a newer strata", context,
        version, RocksEventStore::kFormatVersion));
  if (version == 0) return Status::corruption(fmt::format("{}: the format version is damaged (0)", context));
  return {};
}

StoreFamilies store_families(rocksdb::DB& db, const std::vector<std::string>& names,
                             const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  StoreFamilies f{db};
  for (std::size_t i = 0; i < names.size(); ++i) {
    rocksdb::ColumnFamilyHandle* h = handles[i];
    const std::string& name = names[i];
    if (name == rocksdb::kDefaultColumnFamilyName) f.default_family = h;
    if (name == fmtx::kStreamsFamily) f.streams = h;
    if (name == fmtx::kEventsFamily) f.events = h;
    if (name == fmtx::kLogFamily) f.log = h;
    if (name == fmtx::kEventIdsFamily) f.event_ids = h;
    if (name == fmtx::kSnapshotsFamily) f.snapshots = h;
    if (name == fmtx::kProjectionStateFamily) f.projection_state = h;
    if (name == fmtx::kProjectionRowsFamily) f.projection_rows = h;
    if (name == fmtx::kProjectionParkedFamily) f.projection_parked = h;
    if (name == fmtx::kSubjectKeysFamily) f.subject_keys = h;
  }
  return f;
}

namespace {

// The last event of the log is the last event of its stream (no later event of it exists), so its
// stream's record, its last entry in `events` and its event id must all point at it: a family that
// recovered to an older state than `log` fails this.
Status check_last_event(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* streams, rocksdb::ColumnFamilyHandle* events,
                        rocksdb::ColumnFamilyHandle* event_ids, const EventView& last, bool removed,
                        std::string_view context) {
  auto disagree = [&](std::string_view family_name) {
    return damaged_store(context,
                         fmt::format("the {} family does not have the log's last event (stream \"{}\" "
                                     "version {}, position {}): the families recovered to different states",
                                     family_name, last.stream_id, last.version.value(), last.position.value()));
  };
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), streams, slice(last.stream_id), &value);
  if (s.IsNotFound()) return disagree("streams");
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  fmtx::StreamRecord record;
  if (!fmtx::decode_stream_record(value, record)) return damaged_store(context, "a stream record is damaged");
  // A removed last event must be explained: by its stream's record (a delete or truncation at or past
  // it), or by retention, whose compactions keep the head's entry in `events` (rocks_retention.h).
  const bool life_explains = (record.flags & fmtx::kHasLife) != 0 && record.head >= last.version.value();
  if (!removed || !life_explains) {
    if (removed) {
      std::string categories;
      s = db.Get(rocksdb::ReadOptions(), db.DefaultColumnFamily(), slice(fmtx::kRetainedCategoriesKey), &categories);
      if (!s.IsNotFound()) STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
      if (!s.ok() || !in_retained_category(decode_retained_categories(categories), last.stream_id))
        return disagree("streams");
    }
    const auto upper = fmtx::events_key(record.number + 1, 0);
    rocksdb::Slice upper_bound = slice(upper);
    rocksdb::ReadOptions bounded;
    bounded.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(bounded, events));
    it->SeekToLast();
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
    std::uint64_t number = 0;
    Version first = 0;
    fmtx::EventsEntry entry;
    if (!it->Valid() || !fmtx::decode_events_key(view_of(it->key()), number, first) || number != record.number ||
        !fmtx::decode_events_entry(view_of(it->value()), entry) || entry.last_version(first) != last.version ||
        entry.position_of(first, last.version) != last.position)
      return disagree("events");
  }

  s = db.Get(rocksdb::ReadOptions(), event_ids, slice(last.id.as_bytes()), &value);
  Position at = 0;
  if (s.IsNotFound()) return disagree("event_ids");
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  if (!fmtx::decode_event_id_value(value, at) || at != last.position) return disagree("event_ids");
  return {};
}

}  // namespace

Status verify_recovered_database(rocksdb::DB& db, const std::vector<std::string>& names,
                                 const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                                 const std::optional<StoreMarker>& marker, std::string_view context) {
  const StoreFamilies f = store_families(db, names, handles);
  rocksdb::ColumnFamilyHandle* log = f.log;
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), f.default_family, slice(fmtx::kFormatVersionKey), &value);
  if (s.IsNotFound()) {
    if (marker)
      return damaged_store(context,
                           "its format version record is missing: the database recovered to an empty or older state");
    return Status::corruption(fmt::format(
        "{}: the directory holds a RocksDB database without strata's format version: not a strata store, or one "
        "whose creation was interrupted or whose files were lost; nothing was changed (delete the directory if it "
        "never held events, otherwise restore it from a backup)",
        context));
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  STRATA_RETURN_IF_ERROR(check_format_version(value, context));
  if (log == nullptr)
    return Status::corruption(
        fmt::format("{}: the database has a format version but no \"{}\" column family", context, fmtx::kLogFamily));

  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), log));
  it->SeekToLast();
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
  Position high_water = 0;
  EventView last;
  bool removed = false;  // the last event is a tombstone
  if (it->Valid()) {
    if (!fmtx::decode_position_key(view_of(it->key()), high_water) ||
        !fmtx::decode_log_identity(view_of(it->value()), last))
      return damaged_store(context, "the last log record is damaged");
    last.position = high_water;
    removed = fmtx::is_log_tombstone(view_of(it->value()));
  }
  if (marker && high_water.value() < marker->high_water)
    return damaged_store(context, fmt::format("it held {} events when it was last opened or closed, but only {} "
                                              "can be recovered (files of it were lost or replaced by older ones)",
                                              marker->high_water, high_water.value()));
  if (high_water == 0 || f.streams == nullptr || f.events == nullptr || f.event_ids == nullptr) return {};
  return check_last_event(db, f.streams, f.events, f.event_ids, last, removed, context);
}

}  // namespace strata::detail
