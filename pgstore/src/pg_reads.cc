// PgEventStore's reads: a stream both ways, the global log with filters, event lookups, stream heads
// and lists, version_as_of. Events come in binary format; a view points into the result.
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "pg_store_impl.h"
#include "strata/core/backend/append_checks.h"

namespace strata {

using pg::ArrayLiteral;
using pg::kPageRows;
using pg::num;
using pg::Param;
using pg::PgPool;
using pg::PgResult;

namespace {

// Row `row` of a binary-format result `r` (the event columns of pg_statements.cc, from column `col`)
// as a view into it: nothing is copied or parsed but the integers.
Result<EventView> to_view(const PgResult& r, int row, int col) {
  EventView v;
  v.position = r.binary_u64(row, col);
  v.stream_id = r.text(row, col + 1);
  v.version = r.binary_u64(row, col + 2);
  auto id = EventId::from_bytes(r.text(row, col + 3));
  if (!id.ok())
    return Status::corruption(fmt::format("postgresql: the event at position {} has a bad id", v.position.value()));
  v.id = *id;
  v.type = r.text(row, col + 4);
  v.timestamp = pg::from_micros(static_cast<std::int64_t>(r.binary_u64(row, col + 5)));
  v.encoded_metadata = r.text(row, col + 6);
  v.payload = r.text(row, col + 7);
  return v;
}

// [from, from + count - 1], saturated at the largest bigint.
std::uint64_t range_end(std::uint64_t from, std::uint64_t count) {
  constexpr std::uint64_t kMax = INT64_MAX;
  if (from > kMax) return kMax;
  return count == 0 ? from - 1 : from + std::min(count - 1, kMax - from);
}

// The most a forward read sends as its start or its count: their sum, computed by the server, stays a
// bigint. No stream has versions that high.
constexpr std::uint64_t kMaxForward = std::uint64_t{1} << 61;

// A stream's state as stored; kCorruption for a value no build writes.
Result<StreamState> state_of(std::uint64_t stored, std::string_view stream) {
  if (stored > static_cast<std::uint64_t>(StreamState::kHardDeleted))
    return Status::corruption(fmt::format("postgresql: stream \"{}\" has a bad state {}", stream, stored));
  return static_cast<StreamState>(stored);
}

// The stream's head and life from columns 0-3 (head, state, first_version, origin) of a stream read's
// binary result. The id is left empty: messages take the StreamId.
Result<StreamInfo> info_of(const PgResult& r, const StreamId& stream) {
  StreamInfo info;
  info.head = r.binary_u64(0, 0);
  STRATA_ASSIGN_OR_RETURN(info.state, state_of(r.binary_u64(0, 1), stream.view()));
  info.first_version = r.binary_u64(0, 2);
  info.origin = r.binary_u64(0, 3);
  return info;
}

constexpr std::string_view kLargestBigint = "9223372036854775807";

// The column where a stream read's event columns start.
constexpr int kStreamEventColumn = 4;

}  // namespace

Status PgEventStore::visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) {
  Impl& i = *impl_;
  std::string revealed;  // an event's payload with its personal fields revealed
  if (to.value() > INT64_MAX) to = Version(INT64_MAX);
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
  // Pages of kPageRows versions; the first says where the stream's readable versions start (retention:
  // asked first).
  bool first = true;
  Version next = from;
  if (const RetentionPolicy* policy = i.options.retention.find(stream.view())) {
    STRATA_ASSIGN_OR_RETURN(auto info, i.retained_info(*c, stream, *policy));
    if (!info) return stream_not_found(stream);
    STRATA_ASSIGN_OR_RETURN(next, readable_from(stream, *info, from));
    first = false;
  }
  const std::string count_text = num(kPageRows), to_text = num(to.value());
  for (;;) {
    const std::string from_text = num(std::min<std::uint64_t>(next.value(), kMaxForward));
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        c->exec_prepared("strata_read_forward", i.sql.read_forward,
                         {Param(stream.view()), Param(from_text), Param(count_text), Param(to_text)}, true));
    if (r.rows() == 0) return stream_not_found(stream);
    if (first) {
      STRATA_ASSIGN_OR_RETURN(StreamInfo info, info_of(r, stream));
      STRATA_ASSIGN_OR_RETURN(next, readable_from(stream, info, from));
      first = false;
    }
    std::size_t rows = 0;
    for (int row = 0; row < r.rows(); ++row) {
      if (r.null(row, kStreamEventColumn)) break;
      STRATA_ASSIGN_OR_RETURN(EventView v, to_view(r, row, kStreamEventColumn));
      STRATA_RETURN_IF_ERROR(reveal_personal(i.personal.get(), v, revealed));
      STRATA_RETURN_IF_ERROR(visitor(v));
      next = v.version + 1;
      ++rows;
    }
    // A short page ended at `to` or at the head.
    if (rows < kPageRows || next > to) return {};
  }
}

Result<StreamSlice> PgEventStore::read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                              std::size_t max_count) {
  Impl& i = *impl_;
  std::string revealed;
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
  const bool forward = direction == ReadDirection::kForward;
  // Retention: the first version kept, asked first; a forward read then starts there.
  std::optional<StreamInfo> retained;
  if (const RetentionPolicy* policy = i.options.retention.find(stream.view())) {
    STRATA_ASSIGN_OR_RETURN(retained, i.retained_info(*c, stream, *policy));
    if (!retained) return stream_not_found(stream);
    if (retained->state != StreamState::kLive) return stream_deleted(stream, *retained);
    if (forward) {
      STRATA_ASSIGN_OR_RETURN(from, readable_from(stream, *retained, from));
    }
  }
  // Forward: from, count, up to the largest bigint. Backward: from (kEndOfStream: the head), count.
  const std::uint64_t most = forward ? kMaxForward : std::uint64_t{INT64_MAX};
  const std::string from_text = num(std::min<std::uint64_t>(from.value(), most));
  const std::string count_text = num(std::min<std::uint64_t>(max_count, most));
  std::vector<Param> params{Param(stream.view()), Param(from_text), Param(count_text)};
  if (forward) params.emplace_back(kLargestBigint);
  STRATA_ASSIGN_OR_RETURN(PgResult r,
                          c->exec_prepared(forward ? "strata_read_forward" : "strata_read_backward",
                                           forward ? i.sql.read_forward : i.sql.read_backward, params, true));
  if (r.rows() == 0) return stream_not_found(stream);
  STRATA_ASSIGN_OR_RETURN(StreamInfo info, info_of(r, stream));
  if (info.state != StreamState::kLive) return stream_deleted(stream, info);
  if (retained) info.first_version = std::max(info.first_version, retained->first_version);
  Version start = from;
  if (forward) {
    STRATA_ASSIGN_OR_RETURN(start, readable_from(stream, info, from));
  }
  StreamSlice slice;
  slice.first_version = info.first_version;
  for (int row = 0; row < r.rows(); ++row) {
    if (r.null(row, kStreamEventColumn)) break;
    STRATA_ASSIGN_OR_RETURN(EventView v, to_view(r, row, kStreamEventColumn));
    if (v.version < info.first_version) break;  // backward, below what retention keeps
    STRATA_RETURN_IF_ERROR(reveal_personal(i.personal.get(), v, revealed));
    STRATA_ASSIGN_OR_RETURN(RecordedEvent e, v.to_recorded());
    slice.events.push_back(std::move(e));
  }
  if (forward) {
    Version v = slice.events.empty() ? start : slice.events.back().version + 1;
    slice.next_version = v;
    slice.end_of_stream = v > info.head;
  } else {
    Version v = slice.events.empty() ? std::min(from, info.head) : slice.events.back().version - 1;
    const bool end = v < info.first_version;
    slice.next_version = end ? Version{0} : v;
    slice.end_of_stream = end;
  }
  return slice;
}

Result<LogVisit> PgEventStore::visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                         EventVisitor visitor) {
  Impl& i = *impl_;
  std::string revealed;
  if (from == 0) from = 1;
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, i.pool.acquire());
  ArrayLiteral types, categories;
  for (const auto& t : filter.event_types) types.add(t);
  for (const auto& k : filter.categories) categories.add(k);
  const bool filtered = !filter.empty();
  std::size_t delivered = 0;
  std::uint64_t removed = 0;
  const std::string types_text = types.finish(), categories_text = categories.finish();
  // Retention: what a policy removes is passed over and counted, as its tombstone will be; the heads of
  // the streams met (for counts) are read once.
  const bool retaining = !i.options.retention.empty();
  const Timestamp now = retaining ? i.now() : Timestamp{};
  std::unordered_map<std::string, Version, pg::StringHash, std::equal_to<>> heads;
  auto retention_removes_event = [&](const EventView& v) -> Result<bool> {
    const RetentionPolicy* policy = i.options.retention.find(v.stream_id);
    if (policy == nullptr) return false;
    if (retention_expired(*policy, v.timestamp, now)) return true;
    if (policy->max_count == 0) return false;
    auto it = heads.find(v.stream_id);
    if (it == heads.end()) {
      STRATA_ASSIGN_OR_RETURN(PgResult h,
                              c->exec_prepared("strata_stream_head", i.sql.stream_head, {Param(v.stream_id)}, false));
      it = heads.emplace(std::string(v.stream_id), h.rows() == 0 ? Version{0} : Version{h.u64(0, 0)}).first;
    }
    return v.version < retention_count_floor(*policy, it->second);
  };
  for (;;) {
    if (delivered >= max_count) return LogVisit{from, false, removed};
    const std::uint64_t hi = range_end(std::min<std::uint64_t>(from.value(), INT64_MAX), kPageRows);
    const std::size_t limit = max_count - delivered;
    const std::string from_text = num(from.value()), hi_text = num(hi), limit_text = num(limit);
    std::vector<Param> params{Param(from_text), Param(hi_text), Param(limit_text)};
    if (filtered) {
      params.emplace_back(types_text);
      params.emplace_back(categories_text);
    }
    STRATA_ASSIGN_OR_RETURN(PgResult r,
                            c->exec_prepared(filtered ? "strata_visit_log_filtered" : "strata_visit_log",
                                             filtered ? i.sql.visit_log_filtered : i.sql.visit_log, params, true));
    if (r.rows() == 0) return Status::corruption("postgresql: the log_head row is missing");
    const Position high = r.binary_u64(0, 0);
    removed += r.binary_u64(0, 1);
    int rows = 0;
    std::size_t delivered_now = 0;
    for (int row = 0; row < r.rows(); ++row) {
      if (r.null(row, 2)) break;
      STRATA_ASSIGN_OR_RETURN(EventView v, to_view(r, row, 2));
      ++rows;
      if (retaining) {
        STRATA_ASSIGN_OR_RETURN(bool gone, retention_removes_event(v));
        if (gone) {
          ++removed;
          continue;
        }
      }
      STRATA_RETURN_IF_ERROR(reveal_personal(i.personal.get(), v, revealed));
      STRATA_RETURN_IF_ERROR(visitor(v));
      ++delivered_now;
    }
    delivered += delivered_now;
    if (static_cast<std::size_t>(rows) == limit) {
      // The LIMIT cut the window short: examined up to the last event returned.
      const Position next = Position(r.binary_u64(rows - 1, 2) + 1);
      if (delivered >= max_count || next > high) return LogVisit{next, next > high, removed};
      from = next;
      continue;
    }
    // The whole window was examined.
    const Position examined_to = std::min<Position>(Position(hi), high);
    if (examined_to >= high) return LogVisit{std::max<Position>(from, high + 1), true, removed};
    from = examined_to + 1;
  }
}

Result<LogSlice> PgEventStore::read_log(Position from, std::size_t max_count, const LogFilter& filter) {
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

Result<std::optional<EventLocation>> PgEventStore::lookup_event(const EventId& id) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string id_text = id.to_string();
  STRATA_ASSIGN_OR_RETURN(PgResult r,
                          c->exec_prepared("strata_lookup_event", impl_->sql.lookup_event, {Param(id_text)}, false));
  if (r.rows() == 0) return std::optional<EventLocation>();
  return std::optional<EventLocation>(EventLocation{std::string(r.text(0, 0)), r.u64(0, 1), r.u64(0, 2)});
}

Result<Version> PgEventStore::stream_head(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  STRATA_ASSIGN_OR_RETURN(
      PgResult r, c->exec_prepared("strata_stream_head", impl_->sql.stream_head, {Param(stream.view())}, false));
  return r.rows() == 0 ? Version{0} : Version{r.u64(0, 0)};
}

Result<StreamInfo> PgEventStore::stream_info(const StreamId& stream) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  if (const RetentionPolicy* policy = impl_->options.retention.find(stream.view())) {
    STRATA_ASSIGN_OR_RETURN(auto info, impl_->retained_info(*c, stream, *policy));
    if (!info) return stream_not_found(stream);
    return *std::move(info);
  }
  STRATA_ASSIGN_OR_RETURN(
      PgResult r, c->exec_prepared("strata_stream_info", impl_->sql.stream_info, {Param(stream.view())}, false));
  if (r.rows() == 0) return stream_not_found(stream);
  STRATA_ASSIGN_OR_RETURN(StreamState state, state_of(r.u64(0, 1), stream.view()));
  return StreamInfo{stream.str(), r.u64(0, 0), state, r.u64(0, 2), r.u64(0, 3)};
}

Result<StreamList> PgEventStore::list_streams(std::string_view after, std::size_t max_count) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string limit_text = num(std::min<std::size_t>(max_count, INT64_MAX) + 1);
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec(impl_->sql.list_streams, {Param(after), Param(limit_text)}));
  StreamList list;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(r.rows()), max_count);
  for (std::size_t k = 0; k < n; ++k) {
    const int row = static_cast<int>(k);
    STRATA_ASSIGN_OR_RETURN(StreamState state, state_of(r.u64(row, 2), r.text(row, 0)));
    list.streams.push_back(StreamInfo{std::string(r.text(row, 0)), r.u64(row, 1), state, r.u64(row, 3), r.u64(row, 4)});
    const RetentionPolicy* policy = impl_->options.retention.find(list.streams.back().stream_id);
    if (policy != nullptr && state == StreamState::kLive) {
      STRATA_ASSIGN_OR_RETURN(StreamId id, StreamId::parse(list.streams.back().stream_id));
      STRATA_ASSIGN_OR_RETURN(auto info, impl_->retained_info(*c, id, *policy));
      if (info) list.streams.back().first_version = info->first_version;
    }
  }
  if (static_cast<std::size_t>(r.rows()) > max_count && !list.streams.empty())
    list.next_after = list.streams.back().stream_id;
  return list;
}

Result<Version> PgEventStore::version_as_of(const StreamId& stream, Timestamp at) {
  STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, impl_->pool.acquire());
  const std::string at_text = std::to_string(at.time_since_epoch().count());
  STRATA_ASSIGN_OR_RETURN(PgResult r, c->exec(impl_->sql.version_as_of, {Param(stream.view()), Param(at_text)}));
  if (r.rows() == 0) return stream_not_found(stream);
  STRATA_ASSIGN_OR_RETURN(StreamState state, state_of(r.u64(0, 1), stream.view()));
  if (state != StreamState::kLive) return stream_deleted(stream, StreamInfo{stream.str(), r.u64(0, 0), state});
  return r.null(0, 2) ? Version{0} : Version{r.u64(0, 2)};
}

}  // namespace strata
