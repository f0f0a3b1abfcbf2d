#include "strata/eventstore/rocks_event_store.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "format.h"
#include "rocks_options.h"
#include "rocks_projection_storage.h"
#include "rocks_slice.h"
#include "rocks_status.h"
#include "strata/core/backend/append_checks.h"
#include "strata/core/backend/metadata_encoding.h"
#include "strata/core/backend/snapshot_encoding.h"
#include "strata/eventstore/testing/file_system.h"

namespace strata {
namespace {

namespace fmtx = detail::format;
using detail::from_rocksdb;

using detail::slice;
using detail::view_of;

// Lookup by std::string_view in maps keyed by std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class RocksEventStoreImpl final : public RocksEventStore, private detail::WriteGate {
 public:
  RocksEventStoreImpl(Options options, std::string path, std::shared_ptr<rocksdb::FileSystem> file_system)
      : options_(std::move(options)), path_(std::move(path)), file_system_(std::move(file_system)) {}
  ~RocksEventStoreImpl() override;

  Status open();

  // EventStore
  [[nodiscard]] Result<AppendResult> append(const StreamId& stream, ExpectedVersion expected,
                                            std::span<const EventData> events) override;
  [[nodiscard]] Result<StreamSlice> read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                std::size_t max_count) override;
  [[nodiscard]] Status visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) override;
  [[nodiscard]] Result<LogSlice> read_log(Position from, std::size_t max_count, const LogFilter& filter) override;
  using EventStore::append;
  [[nodiscard]] Result<LogVisit> visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                           EventVisitor visitor) override;
  [[nodiscard]] Result<Version> stream_head(const StreamId& stream) override;
  [[nodiscard]] Result<StreamList> list_streams(std::string_view after, std::size_t max_count) override;
  Position head_position() const override { return published_.load(std::memory_order_acquire); }
  const Limits& limits() const noexcept override { return options_.limits; }
  SnapshotStore* snapshot_store() noexcept override { return this; }

  // SnapshotStore
  [[nodiscard]] Status save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) override;
  [[nodiscard]] Result<std::optional<SnapshotRecord>> load_snapshot(const StreamId& stream, Version max_version,
                                                                    const SnapshotSchema& schema) override;
  [[nodiscard]] Status retain_snapshots(const StreamId& stream, const SnapshotSchema& schema,
                                        std::size_t keep) override;
  [[nodiscard]] Result<std::vector<Version>> snapshot_versions(const StreamId& stream) override;

  // RocksEventStore
  const std::string& path() const noexcept override { return path_; }
  const Options& options() const noexcept override { return options_; }
  ProjectionStorage& projection_storage() noexcept override { return *projection_storage_; }

 private:
  // WriteGate: the projection storage shares the store's fail-stop.
  Status write_refused() override {
    std::lock_guard lock(mu_);
    return failed_;
  }
  void write_failed(const Status& error) override {
    std::lock_guard lock(mu_);
    fail_stop(error);
  }

  // One append waiting for, or being committed by, the commit step (leveldb's DBImpl::Writer).
  struct Writer {
    Writer(const StreamId& s, ExpectedVersion e, std::span<const EventData> ev) : stream(s), expected(e), events(ev) {
      for (const EventData& x : events) payload_bytes += x.payload.size();
    }
    const StreamId& stream;
    ExpectedVersion expected;
    std::span<const EventData> events;
    std::size_t payload_bytes = 0;
    std::optional<Result<AppendResult>> result;  // set by the head that committed it, before `done`

    // Each writer waits on its own mutex, so that the head wakes it without the woken thread then
    // queueing for the store's mutex (with many writers on few cores that second sleep was most of
    // the cost of a durable append).
    std::mutex m;
    std::condition_variable cv;
    bool done = false;     // GUARDED_BY(m): result is set
    bool is_head = false;  // GUARDED_BY(m): the previous head handed the commit step to this writer

    void signal(bool Writer::*flag) {
      std::lock_guard lock(m);
      this->*flag = true;
      cv.notify_one();
    }
  };

  // Counts the appends inside append(), for wait_for_arrivals.
  class InAppend {
   public:
    explicit InAppend(RocksEventStoreImpl& store) : store_(store) { ++store_.in_append_; }
    ~InAppend() {
      --store_.in_append_;
      if (store_.head_waiting_) {
        std::lock_guard lock(store_.mu_);
        store_.group_cv_.notify_one();
      }
    }
    InAppend(const InAppend&) = delete;
    InAppend& operator=(const InAppend&) = delete;

   private:
    RocksEventStoreImpl& store_;
  };

  // A stream's internal number and its head: the version and position of its last event.
  struct StreamState {
    std::uint64_t number = 0;
    Version head = 0;
    Position head_position = 0;
  };

  // An event id committed by an earlier append of the group being prepared.
  struct PendingId {
    std::string_view stream;
    Version version;
    Position position;
  };

  // The most events one commit group takes; the head's own append always goes in.
  static constexpr std::size_t kMaxGroupEvents = 10'000;
  // The most payload bytes one commit group takes (beyond the head's own append).
  static constexpr std::size_t kMaxGroupBytes = std::size_t{4} << 20;
  // The commit step caches this many stream records at most; past that it starts over (the database
  // holds the truth, so a miss only costs a Get).
  static constexpr std::size_t kMaxCachedStreams = std::size_t{1} << 18;
  // Log reads that start further than this behind the high-water mark are catch-up scans: they bypass
  // the block cache so that they do not evict the blocks that aggregate loads and live readers use.
  static constexpr Position kCatchUpDistance = 1u << 16;

  Timestamp now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }

  Status open_database();
  Status check_format(bool created);
  Status recover();

  void wait_for_arrivals(std::unique_lock<std::mutex>& lock);
  void prepare_group(const std::vector<Writer*>& group);
  void prepare_append(Writer& w, std::size_t first_id);
  Status stage_events(Writer& w, std::uint64_t number, Version head, Position first, Timestamp timestamp);
  void fail_stop(const Status& error);
  Result<StreamState*> cached_stream(const StreamId& stream);
  Status committed_event(Position position, std::string& stream, Version& version);

  // The state of `stream` as readers may see it with high-water mark `high`: its head is its last
  // event at or below `high`. nullopt when no event of it is visible.
  Result<std::optional<StreamState>> visible_stream(std::string_view stream, Position high);
  // The last event of the stream numbered `number` at or below `high`, from the end of its entries
  // in `events`; head 0 when there is none.
  Status find_head(std::string_view stream, Position high, StreamState& state);
  Status visit_versions(const StreamId& stream, std::uint64_t number, Version from, Version last, EventVisitor visitor);
  Result<LogVisit> visit_log_until(Position high, Position from, std::size_t max_count, const LogFilter& filter,
                                   EventVisitor visitor);
  template <class Fn>
  Status walk_snapshots_back(const StreamId& stream, Version max_version, Fn&& fn);
  Status corrupt(std::string_view what) const {
    return Status::corruption(fmt::format("event store \"{}\": {}", path_, what));
  }

  const Options options_;
  const std::string path_;
  const std::shared_ptr<rocksdb::FileSystem> file_system_;  // null: the operating system's

  // Declared before db_, which must be closed first.
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // every family of the database, for closing
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* events_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_ = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_ = nullptr;
  rocksdb::ColumnFamilyHandle* projection_state_ = nullptr;
  rocksdb::ColumnFamilyHandle* projection_rows_ = nullptr;
  rocksdb::ColumnFamilyHandle* projection_parked_ = nullptr;
  rocksdb::WriteOptions write_options_;
  // Uses db_ and the projection families; set once the database is open.
  std::unique_ptr<detail::RocksProjectionStorage> projection_storage_;

  // The committed high-water mark: every position up to it is written and may be read.
  std::atomic<Position> published_{0};

  std::mutex mu_;
  std::deque<Writer*> writers_;  // GUARDED_BY(mu_); the front one is the head, which commits
  // Durable group commit waits briefly for appends already under way to join the group (see
  // wait_for_arrivals): how many appends are inside append(), and a head waiting for them.
  std::atomic<std::size_t> in_append_{0};
  std::atomic<bool> head_waiting_{false};  // written under mu_
  std::condition_variable group_cv_;       // with mu_: a writer queued or left append()
  Status failed_;                          // GUARDED_BY(mu_); set by a failed write: appends are refused

  // Owned by the head of writers_: only the writer at the front touches these, and the queue hands
  // them from one head to the next under mu_.
  Position next_position_ = 1;
  std::uint64_t next_stream_number_ = 1;
  Timestamp last_timestamp_{};
  std::chrono::microseconds write_time_{0};  // moving average of a group's Write
  std::unordered_map<std::string, StreamState, StringHash, std::equal_to<>> streams_cache_;
  std::unordered_map<EventId, PendingId> pending_ids_;
  std::vector<rocksdb::Slice> id_keys_;
  std::vector<rocksdb::PinnableSlice> id_values_;
  std::vector<rocksdb::Status> id_statuses_;
  rocksdb::WriteBatch batch_;
  std::string head_scratch_, body_scratch_, metadata_scratch_, value_scratch_;
};

// ---------------------------------------------------------------------------------------------------
// Opening and recovery

RocksEventStoreImpl::~RocksEventStoreImpl() {
  projection_storage_.reset();
  if (db_ == nullptr) return;
  // The write buffers go to table files now, so that the next open starts from them instead of
  // replaying the write-ahead log into memory. Skipped after a failed write (the store is fail-stopped),
  // and a failure here loses nothing: the log still holds every acknowledged write.
  bool healthy;
  {
    std::lock_guard lock(mu_);
    healthy = failed_.ok();
  }
  if (healthy) {
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    (void)db_->Flush(flush, handles_);
  }
  for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  // Close() reports trouble flushing nothing the store depends on: every acknowledged append is in
  // the write-ahead log already.
  (void)db_->Close();
  db_.reset();
}

Status RocksEventStoreImpl::open() {
  if (file_system_ != nullptr) env_ = rocksdb::NewCompositeEnv(file_system_);
  block_cache_ = detail::rocks_block_cache(options_);
  write_options_.sync = options_.sync;
  STRATA_RETURN_IF_ERROR(open_database());
  STRATA_RETURN_IF_ERROR(recover());
  projection_storage_ = std::make_unique<detail::RocksProjectionStorage>(
      *db_, detail::RocksProjectionStorage::Families{projection_state_, projection_rows_, projection_parked_},
      write_options_, path_, static_cast<detail::WriteGate&>(*this));
  return {};
}

Status RocksEventStoreImpl::open_database() {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  rocksdb::DBOptions db_options = detail::rocks_db_options(options_, env_.get());

  // An existing database must be opened with every family it has; a new one gets strata's.
  std::vector<std::string> names;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, path_, &names);
  const bool exists = listed.ok();
  if (!exists) {
    // No CURRENT file: nothing is there yet (RocksDB says so as an IOError or PathNotFound).
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(path_) / "CURRENT", ec)) return from_rocksdb(listed, context);
    if (!options_.create_if_missing)
      return Status::not_found(fmt::format("{}: no store there, and create_if_missing is off", context));
    // RocksDB creates the store's own directory only, not its parents.
    std::filesystem::create_directories(path_, ec);
    if (ec) return Status::io_error(fmt::format("{}: cannot create the directory: {}", context, ec.message()));
    names = {rocksdb::kDefaultColumnFamilyName};
  } else {
    const bool has_log = std::find(names.begin(), names.end(), fmtx::kLogFamily) != names.end();
    if (!has_log && names.size() > 1)
      return Status::corruption(
          fmt::format("{}: the directory holds a RocksDB database that is not a strata store "
                      "(no \"{}\" column family)",
                      context, fmtx::kLogFamily));
  }
  // Families missing from an existing store are created (create_missing_column_families): the
  // projection families came after format version 1, and a store without them has no projections.
  for (std::string_view family :
       {fmtx::kStreamsFamily, fmtx::kEventsFamily, fmtx::kLogFamily, fmtx::kEventIdsFamily, fmtx::kSnapshotsFamily,
        fmtx::kProjectionStateFamily, fmtx::kProjectionRowsFamily, fmtx::kProjectionParkedFamily})
    if (std::find(names.begin(), names.end(), family) == names.end()) names.emplace_back(family);

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names)
    descriptors.emplace_back(name, detail::rocks_family_options(name, options_, block_cache_));
  rocksdb::DB* db = nullptr;
  STRATA_RETURN_IF_ERROR(from_rocksdb(rocksdb::DB::Open(db_options, path_, descriptors, &handles_, &db), context));
  db_.reset(db);
  for (std::size_t i = 0; i < names.size(); ++i) {
    rocksdb::ColumnFamilyHandle* h = handles_[i];
    if (names[i] == rocksdb::kDefaultColumnFamilyName) default_ = h;
    if (names[i] == fmtx::kStreamsFamily) streams_ = h;
    if (names[i] == fmtx::kEventsFamily) events_ = h;
    if (names[i] == fmtx::kLogFamily) log_ = h;
    if (names[i] == fmtx::kEventIdsFamily) event_ids_ = h;
    if (names[i] == fmtx::kSnapshotsFamily) snapshots_ = h;
    if (names[i] == fmtx::kProjectionStateFamily) projection_state_ = h;
    if (names[i] == fmtx::kProjectionRowsFamily) projection_rows_ = h;
    if (names[i] == fmtx::kProjectionParkedFamily) projection_parked_ = h;
  }
  return check_format(!exists);
}

Status RocksEventStoreImpl::check_format(bool created) {
  const std::string context = fmt::format("open event store \"{}\"", path_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_, slice(fmtx::kFormatVersionKey), &value);
  if (s.IsNotFound()) {
    // A store is created empty and stamped before anything else is written, so an existing database
    // without a stamp is either a creation interrupted by a crash (empty: safe to finish) or not ours.
    if (!created) {
      std::unique_ptr<rocksdb::Iterator> data(db_->NewIterator(rocksdb::ReadOptions(), default_));
      data->SeekToFirst();
      if (data->Valid())
        return Status::corruption(
            fmt::format("{}: the directory holds a RocksDB database that is not a strata store", context));
      std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), log_));
      log->SeekToFirst();
      if (log->Valid())
        return Status::corruption(fmt::format("{}: the database has events but no format version", context));
    }
    char stamp[4];
    fmtx::put_be(stamp, kFormatVersion, 4);
    rocksdb::WriteOptions durable;
    durable.sync = true;
    return from_rocksdb(db_->Put(durable, default_, slice(fmtx::kFormatVersionKey), rocksdb::Slice(stamp, 4)), context);
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, context));
  if (value.size() != 4) return Status::corruption(fmt::format("{}: the format version is damaged", context));
  const auto version = static_cast<std::uint32_t>(fmtx::get_be(value.data(), 4));
  if (version > kFormatVersion)
    return Status::corruption(fmt::format(
        "{}: the store has format version {}, newer than the {} this build reads; open it with a newer strata", context,
        version, kFormatVersion));
  if (version == 0) return Status::corruption(fmt::format("{}: the format version is damaged (0)", context));
  return {};
}

// Everything the commit step needs comes from the families: the high-water mark and the last commit
// timestamp from the last log record, the next stream number from the last key of `events` (numbers
// are assigned in order, and every stream has an event). A stream's head is found when first needed,
// as its last entry in `events` (find_head).
Status RocksEventStoreImpl::recover() {
  const std::string context = fmt::format("recover event store \"{}\"", path_);
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_));
    it->SeekToLast();
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
    if (it->Valid()) {
      Position last = 0;
      EventView view;
      if (!fmtx::decode_position_key(view_of(it->key()), last) || !fmtx::decode_log_record(view_of(it->value()), view))
        return corrupt("the last log record is damaged");
      published_.store(last, std::memory_order_release);
      next_position_ = last + 1;
      last_timestamp_ = view.timestamp;
    }
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_));
    it->SeekToLast();
    STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), context));
    if (it->Valid()) {
      std::uint64_t number = 0;
      Version version = 0;
      if (!fmtx::decode_events_key(view_of(it->key()), number, version))
        return corrupt("the last key of the events family is damaged");
      next_stream_number_ = number + 1;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------
// The commit path: leveldb's DBImpl::Write. Appends queue up; the one at the front (the head) takes
// the appends queued behind it, decides each against the stream heads and the committed event ids,
// writes all of their events in one WriteBatch, and only then publishes the new high-water mark and
// completes them. While it writes, new appends queue behind it and form the next group.

Result<AppendResult> RocksEventStoreImpl::append(const StreamId& stream, ExpectedVersion expected,
                                                 std::span<const EventData> events) {
  InAppend in_append(*this);
  STRATA_RETURN_IF_ERROR(check_append(stream, events, options_.limits));
  Writer w(stream, expected, events);
  std::unique_lock lock(mu_);
  writers_.push_back(&w);
  if (head_waiting_) group_cv_.notify_one();
  if (writers_.front() != &w) {
    lock.unlock();
    {
      std::unique_lock own(w.m);
      w.cv.wait(own, [&] { return w.done || w.is_head; });
      if (w.done) return std::move(*w.result);
    }
    lock.lock();
  }

  // This writer is the head: it commits itself and the appends queued behind it, and no other thread
  // touches the head's state (batch_, the caches, next_position_) until it hands over below.
  std::vector<Writer*> group;
  if (!failed_.ok()) {
    w.result = failed_;
    group.push_back(&w);
  } else {
    if (write_options_.sync) wait_for_arrivals(lock);
    std::size_t group_events = 0, group_bytes = 0;
    for (Writer* x : writers_) {
      if (!group.empty() &&
          (group_events + x->events.size() > kMaxGroupEvents || group_bytes + x->payload_bytes > kMaxGroupBytes))
        break;
      group.push_back(x);
      group_events += x->events.size();
      group_bytes += x->payload_bytes;
    }
    lock.unlock();

    prepare_group(group);
    rocksdb::Status written;
    const bool wrote = batch_.Count() > 0;
    if (wrote) {
      const auto started = std::chrono::steady_clock::now();
      written = db_->Write(write_options_, &batch_);
      const auto took =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
      write_time_ = (write_time_ * 7 + took) / 8;
    }
    const Position high = next_position_ - 1;
    if (!written.ok()) {
      const Status error = from_rocksdb(written, fmt::format("event store \"{}\": write", path_));
      for (Writer* x : group)
        x->result = Status::io_error(fmt::format(
            "append to stream \"{}\" failed, nothing was acknowledged (the store now refuses appends until it is "
            "reopened): {}",
            x->stream.str(), error.message()));
      lock.lock();
      fail_stop(error);
    } else {
      if (wrote) {
        published_.store(high, std::memory_order_release);
        // Still the head, so listeners hear high-water marks in order.
        publish_commit(high);
      }
      lock.lock();
    }
  }
  // Hand over: take the group off the queue and wake the next head first, so that it starts gathering
  // while this one wakes the group.
  writers_.erase(writers_.begin(), writers_.begin() + static_cast<std::ptrdiff_t>(group.size()));
  Writer* next = writers_.empty() ? nullptr : writers_.front();
  lock.unlock();
  if (next != nullptr) next->signal(&Writer::is_head);
  for (Writer* x : group)
    if (x != &w) x->signal(&Writer::done);
  return std::move(*w.result);
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
  for (const Writer* w : group)
    for (const EventData& e : w->events) id_keys_.push_back(slice(e.id.as_bytes()));
  id_values_.resize(std::max(id_values_.size(), id_keys_.size()));
  id_statuses_.resize(std::max(id_statuses_.size(), id_keys_.size()));
  db_->MultiGet(rocksdb::ReadOptions(), event_ids_, id_keys_.size(), id_keys_.data(), id_values_.data(),
                id_statuses_.data());

  std::size_t first_id = 0;
  for (Writer* w : group) {
    prepare_append(*w, first_id);
    first_id += w->events.size();
  }
  for (std::size_t i = 0; i < id_keys_.size(); ++i) id_values_[i].Reset();
}

void RocksEventStoreImpl::prepare_append(Writer& w, std::size_t first_id) {
  const std::span<const EventData> events = w.events;
  auto context = [&] { return fmt::format("append to stream \"{}\"", w.stream.str()); };

  // Idempotency first: a retry of a committed append succeeds whatever its expected version says.
  IdempotencyCheck idem(w.stream, events.size());
  std::string committed_stream;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (auto it = pending_ids_.find(events[i].id); it != pending_ids_.end()) {
      idem.found(i, it->second.stream, it->second.version, it->second.position);
      continue;
    }
    const rocksdb::Status& s = id_statuses_[first_id + i];
    if (s.IsNotFound()) {
      idem.missing(i);
      continue;
    }
    if (!s.ok()) {
      w.result = from_rocksdb(s, context());
      return;
    }
    std::string_view value = view_of(id_values_[first_id + i]);
    Position position = 0;
    if (!fmtx::get_varint(value, position) || !value.empty()) {
      w.result = corrupt(fmt::format("the event-id index entry of {} is damaged", events[i].id.to_string()));
      return;
    }
    Version version = 0;
    if (Status st = committed_event(position, committed_stream, version); !st.ok()) {
      w.result = st;
      return;
    }
    idem.found(i, committed_stream, version, position);
  }
  if (auto verdict = idem.verdict(); verdict.has_value()) {
    w.result = *std::move(verdict);
    return;
  }

  auto cached = cached_stream(w.stream);
  if (!cached.ok()) {
    w.result = cached.status();
    return;
  }
  StreamState* record = *cached;
  const Version head = record == nullptr ? 0 : record->head;
  if (!w.expected.matches(head)) {
    w.result = Status::wrong_expected_version(VersionConflict{w.stream.str(), w.expected, head});
    return;
  }

  const std::uint64_t number = record == nullptr ? next_stream_number_ : record->number;
  const Timestamp timestamp = std::max(now(), last_timestamp_);
  const Position first = next_position_;
  if (Status st = stage_events(w, number, head, first, timestamp); !st.ok()) {
    w.result = st.with_context(context());
    return;
  }

  // Staged: now the group's view of the world moves on.
  if (record == nullptr) {
    record = &streams_cache_.emplace(w.stream.str(), StreamState{number, 0, 0}).first->second;
    ++next_stream_number_;
  }
  const std::size_t n = events.size();
  record->head = head + n;
  record->head_position = first + n - 1;
  last_timestamp_ = timestamp;
  next_position_ = first + n;
  for (std::size_t i = 0; i < n; ++i)
    pending_ids_.emplace(events[i].id, PendingId{w.stream.view(), head + i + 1, first + i});
  w.result = AppendResult{head + n, first, first + n - 1};
}

// Writes the events of `w` into batch_ as versions head+1.. at positions first..: the log records,
// the event-id entries, the stream's events entries, and the stream's record when the append creates
// it. All or nothing: on failure the batch is as it was.
Status RocksEventStoreImpl::stage_events(Writer& w, std::uint64_t number, Version head, Position first,
                                         Timestamp timestamp) {
  const std::size_t n = w.events.size();
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
    const EventData& e = w.events[i];
    const Version version = head + i + 1;
    const Position position = first + i;
    metadata_scratch_.clear();
    encode_metadata(e.metadata, metadata_scratch_);
    body_scratch_.clear();
    fmtx::encode_body_head(e.id, timestamp, e.type, metadata_scratch_, body_scratch_);
    head_scratch_.clear();
    fmtx::encode_log_head(w.stream.view(), version, head_scratch_);
    const auto position_key = fmtx::position_key(position);
    s = put(log_, slice(position_key), head_scratch_, body_scratch_, e.payload);
    if (s.ok() && copy) {
      head_scratch_.clear();
      fmtx::encode_copy_head(position, head_scratch_);
      s = put(events_, slice(fmtx::events_key(number, version)), head_scratch_, body_scratch_, e.payload);
    }
    if (s.ok()) {
      value_scratch_.clear();
      fmtx::put_varint(value_scratch_, position);
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
    s = batch_.Put(streams_, slice(w.stream.view()), slice(value_scratch_));
  }
  if (!s.ok()) {
    (void)batch_.RollbackToSavePoint();
    return from_rocksdb(s, "stage the write");
  }
  return from_rocksdb(batch_.PopSavePoint(), "stage the write");
}

// The stream's state as the commit step knows it (every earlier group is written), or nullptr when the
// stream does not exist.
Result<RocksEventStoreImpl::StreamState*> RocksEventStoreImpl::cached_stream(const StreamId& stream) {
  if (auto it = streams_cache_.find(stream.view()); it != streams_cache_.end()) return &it->second;
  STRATA_ASSIGN_OR_RETURN(auto state, visible_stream(stream.view(), kEndOfLog));
  if (!state) return static_cast<StreamState*>(nullptr);
  return &streams_cache_.emplace(stream.str(), *state).first->second;
}

// The stream and version of the committed event at `position`.
Status RocksEventStoreImpl::committed_event(Position position, std::string& stream, Version& version) {
  rocksdb::PinnableSlice value;
  const auto key = fmtx::position_key(position);
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), log_, slice(key), &value);
  if (s.IsNotFound())
    return corrupt(fmt::format("the event-id index points at position {}, which is not in the log", position));
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, fmt::format("read log position {}", position)));
  EventView view;
  if (!fmtx::decode_log_record(view_of(value), view))
    return corrupt(fmt::format("log position {} is damaged", position));
  stream.assign(view.stream_id);
  version = view.version;
  return {};
}

// ---------------------------------------------------------------------------------------------------
// Reads. Each read takes the high-water mark once and never returns an event above it; the families
// are append-only, so what lies at or below it cannot change under the read.

Result<std::optional<RocksEventStoreImpl::StreamState>> RocksEventStoreImpl::visible_stream(std::string_view stream,
                                                                                            Position high) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), streams_, slice(stream), &value);
  if (s.IsNotFound()) return std::optional<StreamState>();
  STRATA_RETURN_IF_ERROR(from_rocksdb(s, fmt::format("read stream \"{}\"", stream)));
  fmtx::StreamRecord record;
  if (!fmtx::decode_stream_record(view_of(value), record))
    return corrupt(fmt::format("the record of stream \"{}\" is damaged", stream));
  StreamState state{record.number, 0, 0};
  STRATA_RETURN_IF_ERROR(find_head(stream, high, state));
  if (state.head == 0) return std::optional<StreamState>();
  return std::optional<StreamState>(state);
}

Status RocksEventStoreImpl::find_head(std::string_view stream, Position high, StreamState& state) {
  const auto lower = fmtx::events_key(state.number, 1);
  const auto upper = fmtx::events_key(state.number + 1, 0);
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, events_));
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
      state.head = version + visible - 1;
      state.head_position = entry.position + visible - 1;
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
  const auto lower = fmtx::events_key(number, 1);
  const auto upper = fmtx::events_key(number, last + 1);
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, events_));
  std::unique_ptr<rocksdb::Iterator> log;  // opened at the first run

  auto damaged = [&](Version v) {
    return corrupt(fmt::format("stream \"{}\" has no readable event at version {}", stream.str(), v));
  };
  // `from` may lie inside a run that starts before it.
  it->SeekForPrev(slice(fmtx::events_key(number, from)));
  if (!it->Valid()) it->Seek(slice(fmtx::events_key(number, from)));
  EventView view;
  view.stream_id = stream.view();
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
    if (version + entry.count <= next) {  // wholly before `next`
      it->Next();
      continue;
    }
    if (entry.kind == fmtx::kEventCopy) {
      view.version = version;
      view.position = entry.position;
      if (!fmtx::decode_body(entry.body, view)) return damaged(next);
      STRATA_RETURN_IF_ERROR(visitor(view));
      ++next;
    } else {
      if (log == nullptr) log.reset(db_->NewIterator(rocksdb::ReadOptions(), log_));
      const Version run_last = std::min<Version>(last, version + entry.count - 1);
      Position position = entry.position + (next - version);
      log->Seek(slice(fmtx::position_key(position)));
      for (; next <= run_last; ++next, ++position, log->Next()) {
        Position key_position = 0;
        if (!log->Valid() || !fmtx::decode_position_key(view_of(log->key()), key_position) ||
            key_position != position || !fmtx::decode_log_record(view_of(log->value()), view) || view.version != next ||
            view.stream_id != stream.view()) {
          STRATA_RETURN_IF_ERROR(from_rocksdb(log->status(), context()));
          return damaged(next);
        }
        view.position = position;
        STRATA_RETURN_IF_ERROR(visitor(view));
      }
      view.stream_id = stream.view();
    }
    it->Next();
  }
  return {};
}

Status RocksEventStoreImpl::visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) {
  const Position high = head_position();
  STRATA_ASSIGN_OR_RETURN(auto record, visible_stream(stream.view(), high));
  if (!record) return stream_not_found(stream);
  if (from == 0) from = 1;
  const Version last = std::min(to, record->head);
  if (from > last) return {};
  return visit_versions(stream, record->number, from, last, visitor);
}

Result<StreamSlice> RocksEventStoreImpl::read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                     std::size_t max_count) {
  const Position high = head_position();
  STRATA_ASSIGN_OR_RETURN(auto record, visible_stream(stream.view(), high));
  if (!record) return stream_not_found(stream);
  const Version head = record->head;
  StreamSlice slice_out;
  auto take = [&](Version first, Version last) -> Status {
    slice_out.events.reserve(static_cast<std::size_t>(last - first + 1));
    return visit_versions(stream, record->number, first, last, [&](const EventView& e) -> Status {
      STRATA_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
      slice_out.events.push_back(std::move(r));
      return {};
    });
  };
  if (direction == ReadDirection::kForward) {
    if (from == 0) from = 1;
    Version next = from;
    if (from <= head && max_count > 0) {
      const Version last = head - from + 1 <= max_count ? head : from + max_count - 1;
      STRATA_RETURN_IF_ERROR(take(from, last));
      next = last + 1;
    }
    slice_out.next_version = next;
    slice_out.end_of_stream = next > head;
  } else {
    Version next = std::min(from, head);
    if (next >= 1 && max_count > 0) {
      const Version first = next >= max_count ? next - max_count + 1 : 1;
      STRATA_RETURN_IF_ERROR(take(first, next));
      std::reverse(slice_out.events.begin(), slice_out.events.end());
      next = first - 1;
    }
    slice_out.next_version = next;
    slice_out.end_of_stream = next == 0;
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
  Position p = from;
  EventView view;
  for (; p <= high && delivered < max_count; ++p, it->Next()) {
    Position key_position = 0;
    if (!it->Valid() || !fmtx::decode_position_key(view_of(it->key()), key_position) || key_position != p) {
      STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), "read the log"));
      return corrupt(fmt::format("log position {} is missing", p));
    }
    const std::string_view value = view_of(it->value());
    if (!filter.empty()) {
      std::string_view stream, type;
      if (!fmtx::peek_log_record(value, stream, type)) return corrupt(fmt::format("log position {} is damaged", p));
      if (!filter.matches(stream, type)) continue;
    }
    if (!fmtx::decode_log_record(value, view)) return corrupt(fmt::format("log position {} is damaged", p));
    view.position = p;
    STRATA_RETURN_IF_ERROR(visitor(view));
    ++delivered;
  }
  return LogVisit{p, p > high};
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
  return slice_out;
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
    fmtx::StreamRecord record;
    if (!fmtx::decode_stream_record(view_of(it->value()), record))
      return corrupt(fmt::format("the record of stream \"{}\" is damaged", id));
    StreamState state{record.number, 0, 0};
    STRATA_RETURN_IF_ERROR(find_head(id, high, state));
    if (state.head == 0) continue;  // created by an append not yet published
    list.streams.push_back(StreamInfo{std::string(id), state.head});
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), "list streams"));
  if (it->Valid() && !list.streams.empty()) list.next_after = list.streams.back().stream_id;
  return list;
}

// ---------------------------------------------------------------------------------------------------
// Snapshots: a cache, so written without fsync (a later synced commit makes them durable too, and
// losing one only costs a replay).

Status RocksEventStoreImpl::save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) {
  if (snapshot.version == 0)
    return Status::invalid_argument(fmt::format("snapshot of stream \"{}\": version 0 holds no events", stream.str()));
  const std::string bytes = encode_snapshot(snapshot);
  const std::string key =
      fmtx::snapshot_key(stream.view(), snapshot.version, snapshot.schema_fingerprint, snapshot.snapshot_version);
  Status s = from_rocksdb(db_->Put(rocksdb::WriteOptions(), snapshots_, slice(key), slice(bytes)),
                          fmt::format("save snapshot of stream \"{}\" at version {}", stream.str(), snapshot.version));
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    fail_stop(s);
  }
  return s;
}

// Walks `stream`'s snapshot keys from the newest at or below `max_version` back to the oldest, calling
// fn(key, version, fingerprint, snapshot_version, iterator) for each key of the current layout until fn
// returns false.
template <class Fn>
Status RocksEventStoreImpl::walk_snapshots_back(const StreamId& stream, Version max_version, Fn&& fn) {
  const std::string lower = fmtx::snapshot_key_prefix(stream.view(), 0);
  const std::string upper =
      fmtx::snapshot_key_prefix(stream.view(), max_version == kEndOfStream ? max_version : max_version + 1);
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  if (max_version != kEndOfStream) options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, snapshots_));
  if (max_version == kEndOfStream) {
    it->SeekForPrev(slice(fmtx::snapshot_key(stream.view(), kEndOfStream, ~std::uint64_t{0}, ~std::uint32_t{0})));
  } else {
    it->SeekToLast();
  }
  for (; it->Valid(); it->Prev()) {
    Version version = 0;
    std::uint64_t fingerprint = 0;
    std::uint32_t snapshot_version = 0;
    if (!fmtx::decode_snapshot_key(view_of(it->key()), stream.view().size(), version, fingerprint, snapshot_version))
      continue;
    if (!fn(version, fingerprint, snapshot_version, *it)) break;
  }
  return from_rocksdb(it->status(), fmt::format("read the snapshots of stream \"{}\"", stream.str()));
}

Result<std::optional<SnapshotRecord>> RocksEventStoreImpl::load_snapshot(const StreamId& stream, Version max_version,
                                                                         const SnapshotSchema& schema) {
  std::optional<Result<SnapshotRecord>> found;
  Version found_version = 0;
  STRATA_RETURN_IF_ERROR(walk_snapshots_back(
      stream, max_version,
      [&](Version version, std::uint64_t fingerprint, std::uint32_t snapshot_version, rocksdb::Iterator& it) {
        if (fingerprint != schema.fingerprint || snapshot_version != schema.snapshot_version) return true;
        found = decode_snapshot(view_of(it.value()));
        found_version = version;
        return false;
      }));
  if (!found) return std::optional<SnapshotRecord>();
  const std::string context = fmt::format("snapshot of stream \"{}\" at version {}", stream.str(), found_version);
  if (!found->ok()) return found->status().with_context(context);
  if ((*found)->version != found_version || (*found)->schema() != schema)
    return Status::corruption(context + ": the snapshot does not match its key");
  return std::optional<SnapshotRecord>(std::move(**found));
}

Result<std::vector<Version>> RocksEventStoreImpl::snapshot_versions(const StreamId& stream) {
  std::vector<Version> versions;
  STRATA_RETURN_IF_ERROR(
      walk_snapshots_back(stream, kEndOfStream, [&](Version version, std::uint64_t, std::uint32_t, rocksdb::Iterator&) {
        versions.push_back(version);
        return true;
      }));
  std::reverse(versions.begin(), versions.end());
  return versions;
}

Status RocksEventStoreImpl::retain_snapshots(const StreamId& stream, const SnapshotSchema& schema, std::size_t keep) {
  std::vector<std::string> keys;  // in key order: by version
  std::vector<StoredSnapshot> entries;
  const std::string lower = fmtx::snapshot_key_prefix(stream.view(), 0), upper = fmtx::snapshot_key_end(stream.view());
  rocksdb::Slice lower_bound = slice(lower), upper_bound = slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, snapshots_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    StoredSnapshot e;
    std::uint64_t fingerprint = 0;
    std::uint32_t snapshot_version = 0;
    e.readable =
        fmtx::decode_snapshot_key(view_of(it->key()), stream.view().size(), e.version, fingerprint, snapshot_version);
    e.of_schema = e.readable && fingerprint == schema.fingerprint && snapshot_version == schema.snapshot_version;
    keys.emplace_back(view_of(it->key()));
    entries.push_back(e);
  }
  STRATA_RETURN_IF_ERROR(from_rocksdb(it->status(), fmt::format("list snapshots of stream \"{}\"", stream.str())));
  const std::vector<bool> drop = snapshots_to_drop(entries, keep);
  rocksdb::WriteBatch batch;
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (drop[i])
      STRATA_RETURN_IF_ERROR(from_rocksdb(batch.Delete(snapshots_, slice(keys[i])), "stage snapshot deletion"));
  if (batch.Count() == 0) return {};
  Status s = from_rocksdb(db_->Write(rocksdb::WriteOptions(), &batch),
                          fmt::format("delete old snapshots of stream \"{}\"", stream.str()));
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    fail_stop(s);
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<RocksEventStore>> RocksEventStore::open(const Options& options, std::string_view path) {
  auto store = std::make_unique<RocksEventStoreImpl>(options, std::string(path), nullptr);
  STRATA_RETURN_IF_ERROR(store->open());
  return std::unique_ptr<RocksEventStore>(std::move(store));
}

Result<std::unique_ptr<RocksEventStore>> testing::open_with_file_system(
    const RocksEventStore::Options& options, std::string_view path, std::shared_ptr<rocksdb::FileSystem> file_system) {
  auto store = std::make_unique<RocksEventStoreImpl>(options, std::string(path), std::move(file_system));
  STRATA_RETURN_IF_ERROR(store->open());
  return std::unique_ptr<RocksEventStore>(std::move(store));
}

}  // namespace strata
