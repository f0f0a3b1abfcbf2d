// Retention in RocksEventStore: the compaction filters and the registry of retained streams
// (rocks_retention.h), and the store's side of it: what readers see, what the commit step publishes
// and what open records.
#include "rocks_retention.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "format.h"
#include "rocks_event_store_impl.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "stream_entries.h"

namespace strata::detail {

namespace fmtx = format;

void RetainedStreams::note(std::uint64_t number, std::string_view id, const RetentionPolicy* policy, Version head) {
  std::unique_lock lock(mu_);
  Entry& e = by_number_[number];
  e.policy = policy;
  e.head = std::max(e.head, head);
  Version& h = head_by_id_[std::string(id)];
  h = std::max(h, head);
}

std::optional<RetainedStreams::Entry> RetainedStreams::by_number(std::uint64_t number) const {
  std::shared_lock lock(mu_);
  auto it = by_number_.find(number);
  if (it == by_number_.end()) return std::nullopt;
  return it->second;
}

Version RetainedStreams::head_of(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = head_by_id_.find(std::string(id));
  return it == head_by_id_.end() ? Version{0} : it->second;
}

namespace {

using Decision = rocksdb::CompactionFilter::Decision;

class LogRetentionFilter final : public rocksdb::CompactionFilter {
 public:
  LogRetentionFilter(const Retention& retention, const RetainedStreams& streams, Timestamp now)
      : retention_(retention), streams_(streams), now_(now) {}

  Decision FilterV2(int /*level*/, const rocksdb::Slice& /*key*/, ValueType type, const rocksdb::Slice& value,
                    std::string* new_value, std::string* /*skip_until*/) const override {
    if (type != ValueType::kValue) return Decision::kKeep;
    EventView view;
    // Tombstones and anything that does not decode stay as they are (verify reports the latter).
    if (!fmtx::decode_log_record(view_of(value), view)) return Decision::kKeep;
    const RetentionPolicy* policy = retention_.find(view.stream_id);
    if (policy == nullptr) return Decision::kKeep;
    const bool removed =
        retention_expired(*policy, view.timestamp, now_) ||
        (policy->max_count != 0 && view.version < retention_count_floor(*policy, streams_.head_of(view.stream_id)));
    if (!removed) return Decision::kKeep;
    new_value->clear();
    fmtx::encode_log_tombstone(view.stream_id, view.version, view.id, *new_value);
    return Decision::kChangeValue;
  }
  const char* Name() const override { return "strata.retention.log"; }

 private:
  const Retention& retention_;
  const RetainedStreams& streams_;
  const Timestamp now_;
};

class EventsRetentionFilter final : public rocksdb::CompactionFilter {
 public:
  EventsRetentionFilter(const RetainedStreams& streams, Timestamp now) : streams_(streams), now_(now) {}

  Decision FilterV2(int /*level*/, const rocksdb::Slice& key, ValueType type, const rocksdb::Slice& value,
                    std::string* new_value, std::string* /*skip_until*/) const override {
    if (type != ValueType::kValue) return Decision::kKeep;
    std::uint64_t number = 0;
    Version first = 0;
    fmtx::EventsEntry entry;
    if (!fmtx::decode_events_key(view_of(key), number, first) || !fmtx::decode_events_entry(view_of(value), entry))
      return Decision::kKeep;
    const auto stream = streams_.by_number(number);
    if (!stream || stream->policy == nullptr) return Decision::kKeep;
    const Version last = entry.last_version(first);
    bool removed = last < retention_count_floor(*stream->policy, stream->head);
    if (!removed && entry.kind == fmtx::kEventCopy) {
      EventView copy;
      removed = fmtx::decode_body(entry.body, copy) && retention_expired(*stream->policy, copy.timestamp, now_);
    }
    if (!removed) return Decision::kKeep;
    if (last < stream->head) return Decision::kRemove;
    // The head's entry keeps the head for recovery; a run of one event holds none of its bytes.
    if (entry.kind != fmtx::kEventCopy) return Decision::kKeep;
    new_value->clear();
    fmtx::encode_run(entry.position, 1, *new_value);
    return Decision::kChangeValue;
  }
  const char* Name() const override { return "strata.retention.events"; }

 private:
  const RetainedStreams& streams_;
  const Timestamp now_;
};

class RetentionFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  RetentionFilterFactory(bool for_log, const Retention* retention, const RetainedStreams* streams,
                         std::function<Timestamp()> now)
      : for_log_(for_log), retention_(retention), streams_(streams), now_(std::move(now)) {}

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    if (for_log_) return std::make_unique<LogRetentionFilter>(*retention_, *streams_, now_());
    return std::make_unique<EventsRetentionFilter>(*streams_, now_());
  }
  const char* Name() const override { return for_log_ ? "strata.retention.log" : "strata.retention.events"; }

 private:
  const bool for_log_;
  const Retention* retention_;
  const RetainedStreams* streams_;
  std::function<Timestamp()> now_;
};

}  // namespace

std::shared_ptr<rocksdb::CompactionFilterFactory> retention_filter_factory(bool for_log, const Retention* retention,
                                                                           const RetainedStreams* streams,
                                                                           std::function<Timestamp()> now) {
  return std::make_shared<RetentionFilterFactory>(for_log, retention, streams, std::move(now));
}

std::string encode_retained_categories(const std::set<std::string, std::less<>>& categories) {
  std::string out;
  for (const auto& c : categories) {
    out += c;
    out += '\n';
  }
  return out;
}

std::set<std::string, std::less<>> decode_retained_categories(std::string_view value) {
  std::set<std::string, std::less<>> out;
  while (!value.empty()) {
    const auto end = value.find('\n');
    const std::string_view c = value.substr(0, end);
    if (!c.empty()) out.emplace(c);
    if (end == std::string_view::npos) break;
    value.remove_prefix(end + 1);
  }
  return out;
}

bool in_retained_category(const std::set<std::string, std::less<>>& categories, std::string_view id) {
  if (categories.empty()) return false;
  const auto dash = id.find('-');
  return categories.find(dash == std::string_view::npos ? id : id.substr(0, dash)) != categories.end();
}

// ---- the store's side ----

Status RocksEventStoreImpl::start_retention() {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  // The categories that ever had a policy: their streams may miss versions that no policy explains now.
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kRetainedCategoriesKey), &value);
  if (!s.IsNotFound()) STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  if (s.ok()) retained_categories_ = decode_retained_categories(value);
  if (options_.retention.empty() || read_only_) return {};
  auto categories = retained_categories_;
  const std::size_t before = categories.size();
  for (const auto& [category, policy] : options_.retention.policies()) categories.insert(category);
  if (categories.size() != before) {
    rocksdb::WriteOptions synced;
    synced.sync = true;
    STRATA_RETURN_IF_ERROR(from_rocksdb(
        db_->Put(synced, default_, slice(fmtx::kRetainedCategoriesKey), slice(encode_retained_categories(categories))),
        context));
    retained_categories_ = std::move(categories);
  }
  // The streams of each retained category, with their heads, for the `events` filter: [c, c + '.')
  // holds the stream "c" and every "c-..." ('-' sorts just before '.').
  const Position high = head_position();
  for (const auto& [category, policy] : options_.retention.policies()) {
    const std::string lower = category, upper = category + '.';
    rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_bound;
    options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, streams_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view id = view_of(it->key());
      KnownStream state;
      STRATA_ASSIGN_OR_RETURN(bool visible, known_from_record(id, view_of(it->value()), high, state));
      if (visible && state.state != StreamState::kHardDeleted) retained_.note(state.number, id, &policy, state.head);
    }
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
  }
  return {};
}

void RocksEventStoreImpl::publish_retained() {
  for (const auto& r : retained_pending_) retained_.note(r.number, r.stream, r.policy, r.head);
  retained_pending_.clear();
}

Result<std::optional<RocksEventStoreImpl::KnownStream>> RocksEventStoreImpl::readable_stream(std::string_view stream,
                                                                                             Position high) {
  // A stream no retention applies to changes only through the commit step, which keeps heads_ right.
  // Open for writing, retained_categories_ holds every category with a policy (start_retention).
  if (!read_only_ && !in_retained_category(retained_categories_, stream)) {
    HeadCache<KnownStream>::Ticket ticket;
    if (auto hit = heads_.find(stream, high, ticket)) return std::optional<KnownStream>(*hit);
    STRATA_ASSIGN_OR_RETURN(auto state, visible_stream(stream, high));
    if (state && head_position() == high) heads_.fill(stream, ticket, *state, high);
    return state;
  }
  STRATA_ASSIGN_OR_RETURN(auto state, visible_stream(stream, high));
  if (state) STRATA_RETURN_IF_ERROR(apply_retention(stream, *state));
  return state;
}

Status RocksEventStoreImpl::apply_retention(std::string_view stream, KnownStream& state) {
  const RetentionPolicy* policy = options_.retention.find(stream);
  if (policy == nullptr || state.state != StreamState::kLive) return {};
  Version first = std::max(state.first_version, retention_count_floor(*policy, state.head));
  if (policy->max_age.count() > 0 && first <= state.head) {
    STRATA_ASSIGN_OR_RETURN(first, first_unexpired(stream, state, first, *policy, now()));
  }
  state.first_version = first;
  return {};
}

// The first version from `from` on that `policy` keeps by age at `now` (head + 1 when none): the events
// from `from` on are read until one is young enough. Entries a compaction removed are passed over.
Result<Version> RocksEventStoreImpl::first_unexpired(std::string_view stream, const KnownStream& state, Version from,
                                                     const RetentionPolicy& policy, Timestamp now) {
  auto context = [&] { return fmt::format("read stream \"{}\"", stream); };
  const StreamEntries it(*db_, events_, state.number);
  std::unique_ptr<rocksdb::Iterator> log;
  it->SeekForPrev(slice(fmtx::events_key(state.number, from)));
  if (!it->Valid()) it->Seek(slice(fmtx::events_key(state.number, from)));
  Version next = from;
  for (; it->Valid() && next <= state.head; it->Next()) {
    std::uint64_t number = 0;
    Version first = 0;
    fmtx::EventsEntry entry;
    if (!fmtx::decode_events_key(view_of(it->key()), number, first) || number != state.number ||
        !fmtx::decode_events_entry(view_of(it->value()), entry))
      return corrupt(fmt::format("the events of stream \"{}\" are damaged", stream));
    const Version last = std::min(entry.last_version(first), state.head);
    if (last < next) continue;
    next = std::max(next, first);
    if (entry.kind == fmtx::kEventCopy) {
      EventView copy;
      if (!fmtx::decode_body(entry.body, copy))
        return corrupt(fmt::format("the events of stream \"{}\" are damaged", stream));
      if (!retention_expired(policy, copy.timestamp, now)) return next;
      ++next;
      continue;
    }
    if (log == nullptr) log.reset(db_->NewIterator(rocksdb::ReadOptions(), log_));
    Position p = entry.position_of(first, next);
    log->Seek(slice(fmtx::position_key(p)));
    for (; next <= last; ++next, ++p, log->Next()) {
      Position key = 0;
      if (!log->Valid() || !fmtx::decode_position_key(view_of(log->key()), key) || key != p) {
        STRATA_RETURN_IF_ERROR(from_rocksdb(log->status(), context()));
        return corrupt(fmt::format("log position {} is missing", p.value()));
      }
      const std::string_view value = view_of(log->value());
      if (fmtx::is_log_tombstone(value)) continue;
      EventView view;
      if (!fmtx::decode_log_record(value, view)) return corrupt(fmt::format("log position {} is damaged", p.value()));
      if (!retention_expired(policy, view.timestamp, now)) return next;
    }
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context()));
  return state.head + 1;
}

bool RocksEventStoreImpl::LogRetention::removes(const EventView& e) {
  const RetentionPolicy* policy = store.options_.retention.find(e.stream_id);
  if (policy == nullptr) return false;
  if (retention_expired(*policy, e.timestamp, now)) return true;
  if (policy->max_count == 0) return false;
  auto it = heads.find(e.stream_id);
  if (it == heads.end()) {
    // The head readers see; a stream that cannot be read is left to the read that fails on it.
    Version head = 0;
    auto state = store.visible_stream(e.stream_id, high);
    if (state.ok() && state->has_value()) head = (*state)->head;
    it = heads.emplace(std::string(e.stream_id), head).first;
  }
  return e.version < retention_count_floor(*policy, it->second);
}

}  // namespace strata::detail
