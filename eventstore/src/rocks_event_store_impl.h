// RocksEventStoreImpl: the RocksEventStore behind RocksEventStore::open, shared by the sources that
// define it, each with one job: rocks_open.cc opens and recovers the database, rocks_commit.cc is the
// commit path (group commit), rocks_reads.cc the reads of streams and the log, rocks_snapshots.cc the
// snapshots. Here are its state and which mutex guards which member; the column families and their
// encodings are in format.h and FORMAT.md.
//
//   auto store = std::make_unique<detail::RocksEventStoreImpl>(options, path, /*file_system=*/nullptr);
//   STRATA_RETURN_IF_ERROR(store->open());
//
// Thread safety: as RocksEventStore. The commit step's own state is touched only by the head of the
// writers' queue, as the members below say.
#pragma once

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/slice.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "head_cache.h"
#include "point_lookup_memtable.h"
#include "rocks_metrics.h"
#include "rocks_projection_storage.h"
#include "rocks_retention.h"
#include "rocks_verify.h"
#include "store_directory.h"
#include "strata/core/personal_data.h"
#include "strata/eventstore/rocks_event_store.h"

namespace strata::detail {

// Lookup by std::string_view in maps keyed by std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class RocksEventStoreImpl final : public RocksEventStore, private WriteGate {
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
  [[nodiscard]] Result<MultiAppendResult> append_multi(std::span<const StreamAppend> appends) override;
  [[nodiscard]] Result<LifecycleResult> delete_stream(const StreamId& stream, ExpectedVersion expected,
                                                      DeleteMode mode) override;
  [[nodiscard]] Result<LifecycleResult> truncate_stream(const StreamId& stream, ExpectedVersion expected,
                                                        Version before) override;
  [[nodiscard]] Result<StreamInfo> stream_info(const StreamId& stream) override;
  [[nodiscard]] Result<LogVisit> visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                           EventVisitor visitor) override;
  [[nodiscard]] Result<std::optional<EventLocation>> lookup_event(const EventId& id) override;
  [[nodiscard]] Result<Version> stream_head(const StreamId& stream) override;
  [[nodiscard]] Result<StreamList> list_streams(std::string_view after, std::size_t max_count) override;
  Position head_position() const override { return published_.load(std::memory_order_acquire); }
  const Limits& limits() const noexcept override { return options_.limits; }
  SnapshotStore* snapshot_store() noexcept override { return this; }
  PersonalData* personal_data() noexcept override { return personal_.get(); }

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
  [[nodiscard]] Result<VerifyReport> verify() override;
  [[nodiscard]] Status refresh() override;
  bool read_only() const noexcept override { return read_only_; }
  [[nodiscard]] Result<StoreInfo> info() override;
  [[nodiscard]] Status compact() override;
  [[nodiscard]] Result<BackupInfo> backup(std::string_view backup_dir) override;

  // Opens the store as a RocksDB secondary instance instead (open_read_only).
  Status open_secondary();

  // RocksEventStore::verify(options, path) on this (never opened) store's directory.
  Result<VerifyReport> verify_closed();

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

  // What a writer asks of the commit step.
  enum class Op : std::uint8_t { kAppend, kAppendMulti, kDelete, kTruncate };

  // One append (or delete, or truncation) waiting for, or being committed by, the commit step
  // (leveldb's DBImpl::Writer). Deletes and truncations go through the same queue, so that the commit
  // step decides every change to a stream in order, against the heads it caches.
  struct Writer {
    Writer(const StreamId& s, ExpectedVersion e, std::span<const EventData> ev) : stream(s), expected(e), events(ev) {
      for (const EventData& x : events) payload_bytes += x.payload.size();
    }
    Op op = Op::kAppend;
    const StreamId& stream;
    ExpectedVersion expected;
    std::span<const EventData> events;    // kAppend
    std::span<const StreamAppend> parts;  // kAppendMulti
    DeleteMode mode = DeleteMode::kSoft;  // kDelete
    Version before = 0;                   // kTruncate
    std::size_t event_count() const noexcept { return op == Op::kAppendMulti ? multi_events : events.size(); }
    std::size_t multi_events = 0;
    std::size_t payload_bytes = 0;
    std::optional<Result<AppendResult>> result;             // set by the head that committed it, before `done`
    std::optional<Result<MultiAppendResult>> multi_result;  // kAppendMulti
    std::optional<Result<LifecycleResult>> life_result;     // kDelete, kTruncate
    std::chrono::steady_clock::time_point started;          // when metrics are kept

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

  // A stream's internal number, its head (the version and position of its last event; the position
  // is 0 when a delete or truncation removed it) and its life.
  struct KnownStream {
    std::uint64_t number = 0;
    Version head = 0;
    Position head_position = 0;
    bool has_life = false;  // the record carries the fields below (format.h, kHasLife)
    StreamState state = StreamState::kLive;
    Version first_version = 1;
    Version origin = 1;
    StreamInfo info(std::string_view id) const {
      return StreamInfo{std::string(id), head, state, first_version, origin};
    }
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

  // Opening and recovery: rocks_open.cc.
  Status open_database();
  // Sets the family handles (default_, streams_, ...) from handles_ and their `names`.
  void assign_families(const std::vector<std::string>& names);
  // The status of a write refused by a read-only store.
  Status refused_read_only(std::string_view what) const;
  // The checks of an existing store before RocksDB may write to it; `names` gets its column families.
  // `then`, when given, runs on the database opened read-only once the checks passed.
  Status verify_existing(const StoreDirectory& dir, std::vector<std::string>& names, std::string_view context,
                         const std::function<Status(const StoreFamilies&)>& then = {});
  Status check_format(bool created);
  Status recover();

  // The commit path: rocks_commit.cc.
  // Creates metrics_ when options_.metrics is set; the database is open.
  void start_metrics();
  bool join_queue(Writer& w, std::unique_lock<std::mutex>& lock);
  std::vector<Writer*> commit_group(Writer& w, std::unique_lock<std::mutex>& lock);
  std::vector<Writer*> take_group();
  Status write_group(const std::vector<Writer*>& group);
  void hand_over(const Writer& head, const std::vector<Writer*>& group, std::unique_lock<std::mutex>& lock);
  void wait_for_arrivals(std::unique_lock<std::mutex>& lock);
  void prepare_group(const std::vector<Writer*>& group);
  void lookup_event_ids();
  void prepare_append(Writer& w, std::size_t first_id);
  std::optional<Result<AppendResult>> idempotency_verdict(const StreamId& stream, std::span<const EventData> events,
                                                          std::size_t first_id);
  Status stage_events(const StreamId& stream, std::span<const EventData> events, std::uint64_t number, Version head,
                      Position first, Timestamp timestamp);
  // The parts of a multi-stream append: decided together, staged together or not at all.
  void prepare_multi(Writer& w, std::size_t first_id);
  // Deletes and truncations: rocks_lifecycle.cc.
  void prepare_lifecycle(Writer& w);
  Status stage_removal(const StreamId& stream, const KnownStream& known, Version from, Version to,
                       std::uint64_t& removed);
  Status stage_stream_record(std::string_view stream, const KnownStream& known);
  Result<LifecycleResult> run_lifecycle(Writer& w);
  // The decision of one part of an append against the group's view: the idempotency verdict, or the
  // refusal, or go ahead (nullopt) with the stream's record (nullptr: new) and whether it recreates it.
  std::optional<Result<AppendResult>> decide_part(const StreamId& stream, ExpectedVersion expected,
                                                  std::span<const EventData> events, std::size_t first_id,
                                                  KnownStream*& record, bool& recreate,
                                                  std::optional<VersionConflict>& conflict);
  // Stages part `events` of `stream` after decide_part, and moves the group's view on.
  Result<AppendResult> commit_part(const StreamId& stream, std::span<const EventData> events, KnownStream* record,
                                   bool recreate, Timestamp timestamp);
  void fail_stop(const Status& error);
  template <class Fn>
  static void for_each_stream(const std::vector<Writer*>& group, Fn&& fn);
  Result<KnownStream*> cached_stream(const StreamId& stream);
  Status committed_event(Position position, std::string& stream, Version& version);

  // Personal data: rocks_personal_data.cc. Sets subject_key_store_ and personal_ once the database is
  // open (a store from before subject_keys opened read-only keeps none).
  void start_personal_data();
  // Snapshots: rocks_snapshots.cc. Gives the snapshots of a store from before the copies of the newest
  // theirs, once, and sets snapshot_copies_; on an error the store opens without it.
  Status start_snapshot_copies();

  // Retention: rocks_retention.cc. Records the retained categories and registers their streams, once
  // the database is open for writing.
  Status start_retention();
  // Hands the heads of retained streams that the last group wrote to the compaction filters.
  void publish_retained();
  // visible_stream, with what retention removes read as truncated (readers' view; the commit step
  // uses visible_stream).
  Result<std::optional<KnownStream>> readable_stream(std::string_view stream, Position high);
  Status apply_retention(std::string_view stream, KnownStream& state);
  Result<Version> first_unexpired(std::string_view stream, const KnownStream& state, Version from,
                                  const RetentionPolicy& policy, Timestamp now);
  // What retention removes from a read of the log (the heads of the streams it met, looked up once).
  struct LogRetention {
    RocksEventStoreImpl& store;
    Position high;
    Timestamp now;
    std::unordered_map<std::string, Version, StringHash, std::equal_to<>> heads;
    bool removes(const EventView& e);
  };

  // Reads: rocks_reads.cc.
  // The state of `stream` as readers may see it with high-water mark `high`: its head is its last
  // event at or below `high`. nullopt when no event of it is visible.
  Result<std::optional<KnownStream>> visible_stream(std::string_view stream, Position high);
  // The last event of the stream numbered `number` at or below `high`, from the end of its entries
  // in `events`; head 0 when there is none.
  Status find_head(std::string_view stream, Position high, KnownStream& state);
  // Sets `state` from a decoded stream record and find_head; false when no event of it is visible.
  Result<bool> known_from_record(std::string_view stream, std::string_view record, Position high, KnownStream& state);
  // After a read found versions missing: the refusal the stream's present state explains it with
  // (deleted, truncated past `version`), or the corruption.
  Status missing_version(const StreamId& stream, Version version);
  Status visit_versions(const StreamId& stream, std::uint64_t number, Version from, Version last, EventVisitor visitor);
  Status visit_run(const StreamId& stream, Position position, Version& next, Version run_last,
                   std::unique_ptr<rocksdb::Iterator>& log, EventVisitor visitor);
  Result<LogVisit> visit_log_until(Position high, Position from, std::size_t max_count, const LogFilter& filter,
                                   EventVisitor visitor);

  // Snapshots: rocks_snapshots.cc.
  template <class Fn>
  Status walk_snapshots_back(const StreamId& stream, Version max_version, Fn&& fn);

  Status corrupt(std::string_view what) const {
    return Status::corruption(fmt::format("event store \"{}\": {}", path_, what));
  }

  const Options options_;
  const std::string path_;
  const std::shared_ptr<rocksdb::FileSystem> file_system_;  // null: the operating system's
  // The file system strata's marker file is written through: the one RocksDB uses.
  rocksdb::FileSystem& marker_file_system() const {
    return file_system_ != nullptr ? *file_system_ : *rocksdb::FileSystem::Default();
  }

  // Read by the compaction filters: declared before db_, which must be closed first.
  RetainedStreams retained_;
  // The categories that ever had a retention policy (set at open).
  std::set<std::string, std::less<>> retained_categories_;
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // every family of the database, for closing
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* events_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_ = nullptr;
  // The event-id family's memtable factory, whose prefetch() the commit step calls before looking the
  // group's ids up (null if the family has another representation).
  std::shared_ptr<PointLookupMemTableFactory> id_memtables_;
  rocksdb::ColumnFamilyHandle* snapshots_ = nullptr;
  rocksdb::ColumnFamilyHandle* projection_state_ = nullptr;
  rocksdb::ColumnFamilyHandle* projection_rows_ = nullptr;
  rocksdb::ColumnFamilyHandle* projection_parked_ = nullptr;
  rocksdb::ColumnFamilyHandle* subject_keys_ = nullptr;  // null in a store opened read-only from before it
  rocksdb::WriteOptions write_options_;
  // Subjects' keys in subject_keys_ (rocks_personal_data.cc), and the personal data sealed with them.
  std::unique_ptr<SubjectKeyStore> subject_key_store_;
  std::unique_ptr<PersonalData> personal_;
  // Set when options_.metrics is; removed first when the store closes.
  std::unique_ptr<RocksStoreMetrics> metrics_;
  // Opened with open_read_only: a secondary instance keeping its own files in secondary_dir_.
  bool read_only_ = false;
  std::string secondary_dir_;
  // Held by save_snapshot from the read of the newest snapshot's copy to the write that replaces it.
  std::mutex snapshot_mu_;
  // Every snapshot has its copy of the newest (format.h, kSnapshotCopiesKey): set at open.
  bool snapshot_copies_ = false;
  // Read-only: held by refresh() and verify(), which must not see the view change under it.
  std::mutex refresh_mu_;
  // The write-ahead log RocksDB started when the store was opened, recorded in the marker.
  std::uint64_t wal_at_open_ = 0;
  // Uses db_ and the projection families; set once the database is open.
  std::unique_ptr<RocksProjectionStorage> projection_storage_;

  // The committed high-water mark: every position up to it is written and may be read.
  std::atomic<Position> published_{0};
  // Readers' cache of stream states (head_cache.h), for streams no retention applies to, in a store
  // open for writing; the commit step brackets its writes with begin_change and end_change.
  HeadCache<KnownStream> heads_;

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
  std::chrono::microseconds write_time_{0};           // moving average of a group's Write
  std::chrono::steady_clock::time_point written_at_;  // when the last group's Write returned
  std::unordered_map<std::string, KnownStream, StringHash, std::equal_to<>> streams_cache_;
  std::unordered_map<EventId, PendingId> pending_ids_;
  // The retained streams the group being written moves on, for publish_retained.
  struct PendingRetained {
    std::uint64_t number;
    std::string stream;
    const RetentionPolicy* policy;
    Version head;
  };
  std::vector<PendingRetained> retained_pending_;
  // The group's event ids in queue order (id_keys_), and in key order for the MultiGet (sorted_id_keys_,
  // whose results id_values_ and id_statuses_ follow); id_order_ is key order, id_slot_[i] the place
  // of id_keys_[i] in it.
  struct IdOrder {
    std::uint64_t hi, lo;  // the id as two big-endian words
    std::uint32_t index;   // in id_keys_
  };
  std::vector<rocksdb::Slice> id_keys_;
  std::vector<rocksdb::Slice> sorted_id_keys_;
  std::vector<IdOrder> id_order_;
  std::vector<std::uint32_t> id_slot_;
  std::vector<rocksdb::PinnableSlice> id_values_;
  std::vector<rocksdb::Status> id_statuses_;
  rocksdb::WriteBatch batch_;
  std::string head_scratch_, body_scratch_, metadata_scratch_, value_scratch_;
};

}  // namespace strata::detail
