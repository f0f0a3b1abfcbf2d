// RocksEventStore::verify: a full read of the store, on one consistent view, checking every invariant
// of FORMAT.md. Unlike the checks open() makes (rocks_verify.cc, the log's last event only), it reads
// every record of every family, so it costs a scan of the store plus two point lookups per event.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_retention.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "rocks_verify.h"
#include "strata/core/backend/snapshot_encoding.h"
#include "strata/core/stream_id.h"
#include "strata/projections/backend/projection_records.h"

namespace strata::detail {

namespace fmtx = format;

namespace {

// A stream as the streams family records it and the other families confirm it.
struct VerifiedStream {
  std::string id;
  // The last version of its entries in `events`, 0 while none was seen.
  Version events_head = 0;
  // The version of its last record in `log`, 0 while none was seen.
  Version log_head = 0;
  // Its record's life (format.h, kHasLife), when it has one: deleted or truncated streams.
  bool has_life = false;
  std::uint64_t state = 0;
  Version head = 0, first_version = 1, origin = 1;
  // Its category has had a retention policy: compactions may have removed any of its events but the
  // head (rocks_retention.h).
  bool retained = false;
  // Versions in [origin, first_version) of a live stream were removed: they must be tombstones.
  bool must_be_removed(Version v) const noexcept { return has_life && state == 0 && v >= origin && v < first_version; }
};

class Verifier {
 public:
  Verifier(const StoreFamilies& families, const rocksdb::Snapshot* snapshot, RocksEventStore::VerifyReport& report)
      : f_(families), report_(report) {
    read_.snapshot = snapshot;
    read_.fill_cache = false;
  }

  Status run() {
    STRATA_RETURN_IF_ERROR(check_format_version());
    STRATA_RETURN_IF_ERROR(find_log_end());
    STRATA_RETURN_IF_ERROR(check_streams());
    STRATA_RETURN_IF_ERROR(check_events());
    STRATA_RETURN_IF_ERROR(check_log());
    STRATA_RETURN_IF_ERROR(check_event_ids());
    STRATA_RETURN_IF_ERROR(check_snapshots());
    STRATA_RETURN_IF_ERROR(check_projections());
    return check_checksums();
  }

 private:
  template <typename... Args>
  void problem(fmt::format_string<Args...> format, Args&&... args) {
    ++report_.problem_count;
    if (report_.problems.size() < RocksEventStore::VerifyReport::kMaxListed)
      report_.problems.push_back(fmt::format(format, std::forward<Args>(args)...));
  }

  // An iterator over `family` on the view; nullptr (and a problem) when the family is missing.
  std::unique_ptr<rocksdb::Iterator> scan(rocksdb::ColumnFamilyHandle* family, std::string_view name) {
    if (family == nullptr) {
      problem("{}: the column family is missing", name);
      return nullptr;
    }
    return std::unique_ptr<rocksdb::Iterator>(f_.db.NewIterator(read_, family));
  }

  // The end of a scan: RocksDB's own corruption reports are problems of the store; other failures
  // (I/O) stop the verification.
  Status finish(const rocksdb::Iterator& it, std::string_view name) {
    const rocksdb::Status& s = it.status();
    if (s.ok()) return {};
    if (s.IsCorruption()) {
      problem("{}: RocksDB cannot read the family: {}", name, s.ToString());
      return {};
    }
    return from_rocksdb(s, fmt::format("verify the {} family", name));
  }

  Status check_format_version() {
    if (f_.default_family == nullptr) {
      problem("default: the column family is missing");
      return {};
    }
    std::string value;
    rocksdb::Status s = f_.db.Get(read_, f_.default_family, slice(fmtx::kFormatVersionKey), &value);
    if (s.IsNotFound()) {
      problem("default: the format version record is missing");
      return {};
    }
    STRATA_RETURN_IF_ERROR(from_rocksdb(s, "verify the format version"));
    if (Status version = detail::check_format_version(value, "the format version record"); !version.ok())
      problem("default: {}", version.message());
    s = f_.db.Get(read_, f_.default_family, slice(fmtx::kRetainedCategoriesKey), &value);
    if (!s.IsNotFound()) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(s, "verify the retained categories"));
      retained_categories_ = decode_retained_categories(value);
    }
    return {};
  }

  // The last position of the log, which bounds the positions that entries of `events` may name.
  Status find_log_end() {
    if (f_.log == nullptr) return {};
    std::unique_ptr<rocksdb::Iterator> it(f_.db.NewIterator(read_, f_.log));
    it->SeekToLast();
    if (it->Valid() && !fmtx::decode_position_key(view_of(it->key()), log_end_)) log_end_ = 0;
    return finish(*it, fmtx::kLogFamily);
  }

  // streams: each record decodes, its id is a valid stream id and its number is used once.
  Status check_streams() {
    auto it = scan(f_.streams, fmtx::kStreamsFamily);
    if (it == nullptr) return {};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++report_.streams;
      const std::string_view id = view_of(it->key());
      fmtx::StreamRecord record;
      if (!StreamId::is_valid(id)) problem("streams: {:?} is not a valid stream id", id);
      if (!fmtx::decode_stream_record(view_of(it->value()), record)) {
        problem("streams: the record of stream \"{}\" is damaged", id);
        continue;
      }
      VerifiedStream verified{std::string(id)};
      verified.retained = in_retained_category(retained_categories_, id);
      if ((record.flags & fmtx::kHasLife) != 0) {
        verified.has_life = true;
        verified.state = record.state;
        verified.head = record.head;
        verified.first_version = record.first_version;
        verified.origin = record.origin;
      }
      auto [at, inserted] = by_number_.try_emplace(record.number, std::move(verified));
      if (!inserted)
        problem("streams: streams \"{}\" and \"{}\" have the same number {}", at->second.id, id, record.number);
      else
        number_of_.emplace(at->second.id, record.number);
    }
    return finish(*it, fmtx::kStreamsFamily);
  }

  // events: per stream number, entries cover versions 1, 2, ... without gap or overlap, and each version
  // is the log position that holds that stream's event at that version (a copy holds the same body).
  Status check_events() {
    auto it = scan(f_.events, fmtx::kEventsFamily);
    if (it == nullptr) return {};
    std::string record;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::uint64_t number = 0;
      Version first = 0;
      fmtx::EventsEntry entry;
      if (!fmtx::decode_events_key(view_of(it->key()), number, first) || first == 0) {
        problem("events: a key is damaged");
        continue;
      }
      auto stream = by_number_.find(number);
      if (stream == by_number_.end()) {
        problem("events: stream number {} version {} belongs to no stream record", number, first.value());
        continue;
      }
      VerifiedStream& s = stream->second;
      if (!fmtx::decode_events_entry(view_of(it->value()), entry)) {
        problem("events: the entry of stream \"{}\" version {} is damaged", s.id, first.value());
        continue;
      }
      // A deleted or truncated stream's entries below its first version are gone (a run reaching past
      // it stays), so its first entry may start anywhere.
      const bool first_after_removal = s.has_life && s.events_head == 0;
      // Retention's compactions remove entries of a retained stream in any order.
      const bool after_retention = s.retained && first > s.events_head;
      if (first != s.events_head + 1 && !first_after_removal && !after_retention)
        problem("events: stream \"{}\" has an entry at version {} after version {}", s.id, first.value(),
                s.events_head.value());
      s.events_head = entry.last_version(first);
      if (entry.count > log_end_.value() || entry.position.value() > log_end_.value() - (entry.count - 1)) {
        problem("events: stream \"{}\" versions {} to {} are at positions {} to {}, beyond the log's last {}", s.id,
                first.value(), s.events_head.value(), entry.position.value(), entry.position.value() + entry.count - 1,
                log_end_.value());
        continue;
      }
      EventView copy;
      if (entry.kind == fmtx::kEventCopy && !fmtx::decode_body(entry.body, copy)) {
        problem("events: the copy of stream \"{}\" version {} is damaged", s.id, first.value());
        continue;
      }
      for (Version v = first; v <= s.events_head; ++v) {
        const Position position = entry.position_of(first, v);
        rocksdb::Status got = f_.db.Get(read_, f_.log, slice(fmtx::position_key(position)), &record);
        if (got.IsNotFound()) {
          problem("events: stream \"{}\" version {} is at position {}, which the log does not hold", s.id, v.value(),
                  position.value());
          continue;
        }
        STRATA_RETURN_IF_ERROR(from_rocksdb(got, "verify the events family"));
        EventView event;
        if (!fmtx::decode_log_identity(record, event)) continue;  // reported by the log's scan
        if (fmtx::is_log_tombstone(record) && v >= s.first_version && !s.retained)
          problem("events: stream \"{}\" version {} is at position {}, whose event was removed", s.id, v.value(),
                  position.value());
        else if (event.stream_id != s.id || event.version != v)
          problem("events: stream \"{}\" version {} points at position {}, which holds stream \"{}\" version {}", s.id,
                  v.value(), position.value(), event.stream_id, event.version.value());
        else if (entry.kind == fmtx::kEventCopy && !fmtx::is_log_tombstone(record) &&
                 (copy.id != event.id || copy.timestamp != event.timestamp || copy.type != event.type ||
                  copy.encoded_metadata != event.encoded_metadata || copy.payload != event.payload))
          problem("events: the copy of stream \"{}\" version {} differs from the log record at position {}", s.id,
                  v.value(), position.value());
      }
    }
    return finish(*it, fmtx::kEventsFamily);
  }

  // log: positions 1, 2, ... without gaps; each record decodes, belongs to a stream record, follows its
  // stream's previous version, is not older than the record before it, and its event id leads back to it.
  Status check_log() {
    auto it = scan(f_.log, fmtx::kLogFamily);
    if (it == nullptr) return {};
    Timestamp previous_time{};
    std::string value;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      Position position = 0;
      if (!fmtx::decode_position_key(view_of(it->key()), position)) {
        problem("log: a key is damaged");
        continue;
      }
      ++report_.events;
      if (position != report_.high_water + 1)
        problem("log: position {} follows position {}: positions {} to {} are missing", position.value(),
                report_.high_water.value(), report_.high_water.value() + 1, position.value() - 1);
      report_.high_water = position;
      EventView event;
      const bool removed = fmtx::is_log_tombstone(view_of(it->value()));
      if (!fmtx::decode_log_identity(view_of(it->value()), event)) {
        problem("log: the record at position {} is damaged", position.value());
        continue;
      }
      if (removed) {
        ++report_.removed;
      } else {
        if (event.timestamp < previous_time)
          problem("log: the commit time of position {} is before that of the position before it", position.value());
        previous_time = event.timestamp;
      }
      auto number = number_of_.find(std::string(event.stream_id));
      if (number == number_of_.end()) {
        problem("log: position {} is an event of stream \"{}\", which has no stream record", position.value(),
                event.stream_id);
      } else {
        VerifiedStream& s = by_number_[number->second];
        if (removed && !s.has_life && !s.retained)
          problem("log: position {} is a removed event of stream \"{}\", whose record says nothing was removed",
                  position.value(), s.id);
        else if (!removed && (s.state == 2 || s.must_be_removed(event.version)))
          problem("log: position {} is version {} of stream \"{}\", which its record says was removed",
                  position.value(), event.version.value(), s.id);
        if (event.version != s.log_head + 1)
          problem("log: position {} is version {} of stream \"{}\", whose previous event is version {}",
                  position.value(), event.version.value(), s.id, s.log_head.value());
        s.log_head = event.version;
      }
      rocksdb::Status got = f_.db.Get(read_, f_.event_ids, slice(event.id.as_bytes()), &value);
      Position indexed = 0;
      if (got.IsNotFound()) {
        problem("event_ids: the id of the event at position {} is missing", position.value());
        continue;
      }
      STRATA_RETURN_IF_ERROR(from_rocksdb(got, "verify the event_ids family"));
      if (!fmtx::decode_event_id_value(value, indexed))
        problem("event_ids: the entry of the event at position {} is damaged", position.value());
      else if (indexed != position)
        problem("event_ids: the id of the event at position {} leads to position {}", position.value(),
                indexed.value());
    }
    STRATA_RETURN_IF_ERROR(finish(*it, fmtx::kLogFamily));
    for (const auto& [number, s] : by_number_) {
      if (s.log_head == 0 && s.events_head == 0)
        problem("streams: stream \"{}\" has no event", s.id);
      else if (s.has_life && s.head > s.log_head)
        problem("streams: the record of stream \"{}\" says its head is version {}, but the log ends at version {}",
                s.id, s.head.value(), s.log_head.value());
      else if (s.has_life && s.events_head < s.log_head && s.log_head < s.first_version)
        continue;  // every event of it was removed
      else if (s.log_head != s.events_head)
        problem("streams: stream \"{}\" ends at version {} in the log but at version {} in events", s.id,
                s.log_head.value(), s.events_head.value());
    }
    return {};
  }

  // event_ids: one entry per log record (each record's entry was checked above), none pointing past the log.
  Status check_event_ids() {
    auto it = scan(f_.event_ids, fmtx::kEventIdsFamily);
    if (it == nullptr) return {};
    std::uint64_t beyond = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++report_.event_ids;
      Position position = 0;
      if (it->key().size() != 16 || !fmtx::decode_event_id_value(view_of(it->value()), position))
        problem("event_ids: an entry is damaged");
      else if (position == 0 || position > report_.high_water)
        ++beyond;
    }
    STRATA_RETURN_IF_ERROR(finish(*it, fmtx::kEventIdsFamily));
    if (beyond != 0) problem("event_ids: {} entries lead to positions the log does not hold", beyond);
    if (report_.event_ids != report_.events)
      problem("event_ids: {} entries for the log's {} events", report_.event_ids, report_.events);
    return {};
  }

  // snapshots: each readable, and what its key says (SnapshotStore takes snapshots of any stream and
  // version: that they match the stream is the repository's business).
  Status check_snapshots() {
    auto it = scan(f_.snapshots, fmtx::kSnapshotsFamily);
    if (it == nullptr) return {};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = view_of(it->key());
      const std::size_t end = key.find('\0');
      if (end == std::string_view::npos) {
        ++report_.snapshots;
        problem("snapshots: a key is damaged");
        continue;
      }
      const std::string_view stream = key.substr(0, end);
      Version version = 0;
      std::uint64_t fingerprint = 0;
      std::uint32_t snapshot_version = 0;
      if (fmtx::decode_snapshot_latest_key(key, stream.size(), fingerprint, snapshot_version)) {
        // The copy of the newest snapshot of a schema: readable, of that schema.
        auto copy = decode_snapshot(view_of(it->value()));
        if (!copy.ok())
          problem("snapshots: the copy of the newest snapshot of stream \"{}\" is damaged: {}", stream,
                  copy.status().message());
        else if (copy->schema_fingerprint != fingerprint || copy->snapshot_version != snapshot_version)
          problem("snapshots: the copy of the newest snapshot of stream \"{}\" differs from its key", stream);
        continue;
      }
      ++report_.snapshots;
      if (key.size() == end + 1 + 8) continue;  // the first layout: passed over by reads (FORMAT.md)
      if (!fmtx::decode_snapshot_key(key, stream.size(), version, fingerprint, snapshot_version)) {
        problem("snapshots: a key of stream \"{}\" is damaged", stream);
        continue;
      }
      auto decoded = decode_snapshot(view_of(it->value()));
      if (!decoded.ok())
        problem("snapshots: the snapshot of stream \"{}\" at version {} is damaged: {}", stream, version.value(),
                decoded.status().message());
      else if (decoded->version != version || decoded->schema_fingerprint != fingerprint ||
               decoded->snapshot_version != snapshot_version)
        problem("snapshots: the snapshot of stream \"{}\" at version {} differs from its key", stream, version.value());
    }
    return finish(*it, fmtx::kSnapshotsFamily);
  }

  // The three projection families: every record decodes; rows and parked events belong to a projection
  // with a state, and to one of its live generations.
  Status check_projections() {
    std::unordered_map<std::string, ProjectionState> states;
    if (auto it = scan(f_.projection_state, fmtx::kProjectionStateFamily)) {
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        ++report_.projections;
        const std::string name(view_of(it->key()));
        auto state = decode_projection_state(view_of(it->value()));
        if (!state.ok())
          problem("projection_state: the state of projection \"{}\" is damaged: {}", name, state.status().message());
        else
          states.emplace(name, *state);
      }
      STRATA_RETURN_IF_ERROR(finish(*it, fmtx::kProjectionStateFamily));
    }
    // A key of rows and parked events: u8(name length) name rest.
    auto split = [](std::string_view key, std::string_view& name, std::string_view& rest) {
      if (key.empty()) return false;
      const auto length = static_cast<std::uint8_t>(key[0]);
      if (length == 0 || key.size() < 1u + length) return false;
      name = key.substr(1, length);
      rest = key.substr(1 + length);
      return true;
    };
    auto live = [&](std::string_view name, Generation generation) {
      auto state = states.find(std::string(name));
      return state != states.end() &&
             (generation == state->second.generation ||
              (state->second.shadow_generation != 0 && generation == state->second.shadow_generation));
    };
    if (auto it = scan(f_.projection_rows, fmtx::kProjectionRowsFamily)) {
      std::uint64_t orphans = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        ++report_.projection_rows;
        std::string_view name, rest;
        if (!split(view_of(it->key()), name, rest)) {
          problem("projection_rows: a key is damaged");
          continue;
        }
        auto row = decode_row_key(rest);
        if (!row.ok())
          problem("projection_rows: a row key of projection \"{}\" is damaged", name);
        else if (!live(name, row->generation))
          ++orphans;
      }
      STRATA_RETURN_IF_ERROR(finish(*it, fmtx::kProjectionRowsFamily));
      if (orphans != 0)
        problem("projection_rows: {} rows belong to no live generation of a projection with a state", orphans);
    }
    if (auto it = scan(f_.projection_parked, fmtx::kProjectionParkedFamily)) {
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        ++report_.parked;
        std::string_view name, rest;
        auto parked = decode_parked_event(view_of(it->value()));
        if (!split(view_of(it->key()), name, rest) || rest.size() != 16)
          problem("projection_parked: a key is damaged");
        else if (!parked.ok())
          problem("projection_parked: a parked event of projection \"{}\" is damaged: {}", name,
                  parked.status().message());
        else if (parked->event.position > report_.high_water)
          problem("projection_parked: projection \"{}\" parked position {}, beyond the log", name,
                  parked->event.position.value());
      }
      STRATA_RETURN_IF_ERROR(finish(*it, fmtx::kProjectionParkedFamily));
    }
    return {};
  }

  // RocksDB's block checksums of every table file, including blocks no scan above needed (filters,
  // index blocks of families read by point lookups).
  Status check_checksums() {
    rocksdb::Status s = f_.db.VerifyChecksum(read_);
    if (s.ok()) return {};
    if (s.IsCorruption()) {
      problem("table files: {}", s.ToString());
      return {};
    }
    return from_rocksdb(s, "verify the table files' checksums");
  }

  const StoreFamilies& f_;
  RocksEventStore::VerifyReport& report_;
  rocksdb::ReadOptions read_;
  Position log_end_ = 0;
  std::unordered_map<std::uint64_t, VerifiedStream> by_number_;
  std::unordered_map<std::string, std::uint64_t> number_of_;
  std::set<std::string, std::less<>> retained_categories_;
};

}  // namespace

Result<RocksEventStore::VerifyReport> RocksEventStoreImpl::verify() {
  const StoreFamilies families{*db_,       default_,   streams_,          events_,          log_,
                               event_ids_, snapshots_, projection_state_, projection_rows_, projection_parked_};
  VerifyReport report;
  Status verified;
  if (read_only_) {
    // A secondary instance has no snapshots, but its view changes only when it catches up.
    std::lock_guard lock(refresh_mu_);
    verified = verify_store(families, nullptr, report);
  } else {
    const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
    verified = verify_store(families, snapshot, report);
    db_->ReleaseSnapshot(snapshot);
  }
  if (!verified.ok()) return verified.with_context(fmt::format("verify event store \"{}\"", path_));
  return report;
}

Status verify_store(const StoreFamilies& families, const rocksdb::Snapshot* snapshot,
                    RocksEventStore::VerifyReport& report) {
  return Verifier(families, snapshot, report).run();
}

}  // namespace strata::detail
