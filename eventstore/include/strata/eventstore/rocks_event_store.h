// RocksEventStore: the embedded, durable EventStore, on RocksDB in one directory owned by one process.
//
// It implements the whole EventStore contract (optimistic concurrency, atomic appends, a gap-free global
// log, idempotent retries by event id) with the semantics and messages of MemoryEventStore, and keeps
// snapshots (SnapshotStore) and projections' read models and checkpoints (projection_storage()).
// Appends from any number of threads go through one commit step with group commit: the writer at the
// head of the queue commits the appends queued behind it in one atomic RocksDB WriteBatch, durably
// (fsync) unless Options::sync is false. An append is acknowledged only after its batch is written;
// readers never see past the last acknowledged position. After a failed write the store refuses appends
// (and projection commits) until it is reopened (fail-stop): it never acknowledges what it could
// not write. The on-disk format is described in eventstore/FORMAT.md.
//
//   strata::RocksEventStore::Options options;                 // durable, 1 GiB block cache, LZ4
//   STRATA_ASSIGN_OR_RETURN(auto store, strata::RocksEventStore::open(options, "/var/lib/bank/events"));
//   auto r = store->append(id, strata::ExpectedVersion::no_stream(), events);
//   strata::Repository<Account> accounts(*store);
//
// Thread safety: every method may be called concurrently from any thread, as EventStore says. Destroy
// the store only when no call is in progress.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/event_store.h"
#include "strata/core/limits.h"
#include "strata/core/metrics.h"
#include "strata/core/position.h"
#include "strata/core/retention.h"
#include "strata/core/snapshot.h"
#include "strata/core/status.h"
#include "strata/projections/projection_storage.h"

namespace strata {

class RocksEventStore : public EventStore, public SnapshotStore {
 public:
  enum class Compression : std::uint8_t {
    kNone,
    // Fast enough that reading compressed blocks costs about what reading uncompressed ones does;
    // JSON payloads shrink to about half.
    kLZ4,
    // Smaller than LZ4, slower to write and read.
    kZstd,
  };

  struct Options {
    // Whether each commit is fsynced before it is acknowledged. true: an acknowledged append survives a
    // power loss. false: it survives a crash of the process, not of the machine; appends are then several
    // times faster for one writer (group commit narrows the gap when many threads append).
    bool sync = true;
    // The RocksDB block cache shared by the store's column families. It holds uncompressed blocks, so
    // replaying a stream that was read recently costs no decompression. Memory is taken as blocks are
    // read, up to this size.
    std::size_t block_cache_bytes = std::size_t{1} << 30;
    // Compression of table files (the write-ahead log is never compressed).
    Compression compression = Compression::kLZ4;
    // RocksDB's in-memory write buffer per column family. Appends are limited by it, not by the
    // write-ahead log: 64 MiB measured best (256 MiB was 25 % slower for appends spread over many streams).
    // At least 256 KiB (open() refuses less with kInvalidArgument).
    std::size_t write_buffer_bytes = std::size_t{64} << 20;
    // The limits enforced on appends (event size, events per append, ...), see limits.h.
    Limits limits;
    // Returns "now" for commit timestamps; the store keeps them non-decreasing whatever it returns,
    // across restarts too. Empty: the system clock. For tests.
    std::function<Timestamp()> clock;
    // Create the store when `path` holds none. false: opening a missing store is kNotFound.
    bool create_if_missing = true;
    // Where the store's metrics go (strata_store_*, labelled store="<path>": appends, events and bytes
    // appended, commit latency, commit groups and their appends, write and fsync time, errors by code;
    // and, read at each scrape, the head position, RocksDB's pending compaction bytes, write stalls and
    // table and memtable sizes). Empty: none are kept, and the commit path counts nothing.
    std::shared_ptr<MetricsRegistry> metrics;
    // With metrics: also keep RocksDB's statistics (tickers only), for the block cache's hits and misses
    // and the time writes waited on stalls. RocksDB then counts on every read and write, which costs
    // more than strata's own metrics (bench_metrics measures both).
    bool rocksdb_statistics = false;
    // Retention policies by category (core retention.h). Readers stop seeing what a policy removes at
    // once; RocksDB's compactions delete its bytes in the background, leaving tombstones in the log
    // (FORMAT.md, "Retention").
    Retention retention;
  };

  // The format version this build writes, stored in every store it creates (see FORMAT.md).
  static constexpr std::uint32_t kFormatVersion = 1;

  // Opens the store in directory `path`, creating it when the directory is missing or holds none of a
  // store's files (RocksDB's or strata's; other files are left alone) and options.create_if_missing,
  // and recovers its stream heads and high-water mark. An existing store is checked before anything
  // in it is written (see "Opening" in FORMAT.md): a store that cannot be opened whole is refused and
  // every file is left as it was.
  // Fails with:
  //   kUnavailable      the directory is in use by another open store, in this process or another;
  //   kCorruption       the store is damaged: its CURRENT file or MANIFEST is missing or cut short, a
  //                     table file or an older write-ahead log is missing or cut short, its log was
  //                     lost after a crash, it recovers fewer events than it held when last opened or
  //                     closed, or its families disagree about the last event. The message names the
  //                     damage; restore a backup, or repair a copy (repair_copy). Also: the directory
  //                     holds a store of a newer format version than kFormatVersion, or a RocksDB
  //                     database that is not a strata store;
  //   kNotFound         no store at `path` and !options.create_if_missing;
  //   kInvalidArgument  options out of their ranges (Limits: validate_limits), or options RocksDB refuses;
  //   kIOError          the file system failed.
  [[nodiscard]] static Result<std::unique_ptr<RocksEventStore>> open(const Options& options, std::string_view path);

  // Copies the store directory `damaged` into the new directory `copy` and repairs the copy with
  // RocksDB's RepairDB, which rebuilds the MANIFEST from the table files and logs it finds; `damaged`
  // is only read. Open the copy to see what it kept: repair keeps what can still be read and may lose
  // events (a lost log stays lost), and open still refuses a copy whose families disagree.
  // Fails with kInvalidArgument when `copy` exists, kIOError when copying fails, and kCorruption when
  // RepairDB fails. REQUIRES: no store is open on `damaged`.
  [[nodiscard]] static Status repair_copy(const Options& options, std::string_view damaged, std::string_view copy);

  // What verify() read and found.
  struct VerifyReport {
    // The last position of the log (0: no event).
    Position high_water = 0;
    // Records read: log records (events), stream records, event-id entries, snapshots, projection
    // states, read-model rows and parked events.
    std::uint64_t events = 0;
    std::uint64_t streams = 0;
    std::uint64_t event_ids = 0;
    std::uint64_t snapshots = 0;
    std::uint64_t projections = 0;
    std::uint64_t projection_rows = 0;
    std::uint64_t parked = 0;
    // Of `events`, the tombstones of removed events (deleted or truncated streams).
    std::uint64_t removed = 0;
    // How many problems were found, and the first kMaxListed of them, one line each naming the family,
    // the record and what is wrong, e.g.
    //   log: position 17 is version 3 of stream "account-1", whose previous event is version 1
    std::uint64_t problem_count = 0;
    std::vector<std::string> problems;
    static constexpr std::size_t kMaxListed = 100;

    bool ok() const noexcept { return problem_count == 0; }
  };

  // Reads the whole store on one consistent view (a RocksDB snapshot, so appends may go on meanwhile;
  // on a read-only store, its view as of the last refresh(), which waits for verify() to end) and
  // checks every invariant of FORMAT.md: the format version; log positions 1..high_water without gaps,
  // each record readable, commit times non-decreasing, each stream's versions 1, 2, ... in log order;
  // every stream record valid with a number of its own, and its entries in `events` covering exactly
  // the versions the log has, each pointing at the log record of that version (a copy holding the same
  // event); one event-id entry per event, leading to its position; snapshots readable and matching their
  // keys; projection states, rows and parked events
  // readable, rows only of live generations; and RocksDB's checksums of every block of every table file.
  // It costs a scan of every family and two point lookups per event (about 1 s per million events).
  // Fails only when the store cannot be read (kIOError); damage is reported in the VerifyReport.
  [[nodiscard]] virtual Result<VerifyReport> verify() = 0;

  // The same for the store in directory `path`, which no process has open (a backup, a stopped
  // service's store): first the checks open() makes, then verify() on the database opened read-only.
  // Nothing in the directory is written. Fails with kCorruption when open() would refuse the store
  // (the message names the damage), kNotFound when there is no store, kUnavailable when a process has
  // it open, kIOError when it cannot be read.
  [[nodiscard]] static Result<VerifyReport> verify(const Options& options, std::string_view path);

  // Opens the store in directory `path` for reading only, as a RocksDB secondary instance: it works
  // while another process has the store open and appends to it (and on a closed store), and writes
  // nothing in `path`. It sees the store as it was when opened; refresh() catches up with the writer.
  // Appends, snapshot saves and projection commits fail with kInvalidArgument. A read-only open does
  // not make open()'s checks of a damaged store (it cannot change one); verify() does.
  // Fails with kNotFound when there is no store, kCorruption when it cannot be read, kIOError.
  [[nodiscard]] static Result<std::unique_ptr<RocksEventStore>> open_read_only(const Options& options,
                                                                               std::string_view path);

  // Read-only: catches up with the process that writes the store, so that head_position() and every
  // read see its commits up to now. Opened for writing: does nothing.
  [[nodiscard]] virtual Status refresh() = 0;

  // Whether the store was opened with open_read_only().
  virtual bool read_only() const noexcept = 0;

  // The store as RocksDB holds it, for operators (`strata info`).
  struct FamilyInfo {
    std::string name;
    // RocksDB's estimate of the family's keys (exact for a family without deletions, once flushed).
    std::uint64_t keys_estimate = 0;
    // Bytes of its table files, and of its write buffers in memory.
    std::uint64_t table_bytes = 0;
    std::uint64_t memory_bytes = 0;
    // Table files per LSM level (L0 first).
    std::vector<std::uint64_t> files_per_level;
  };
  struct StoreInfo {
    std::uint32_t format_version = 0;
    Position head = 0;
    // RocksDB's estimate of the number of streams (keys of the `streams` family).
    std::uint64_t streams_estimate = 0;
    // Bytes of every file in the store's directory (table files, logs, MANIFEST, ...).
    std::uint64_t disk_bytes = 0;
    // Bytes of table files waiting to be compacted, and whether writes are being slowed or stopped.
    std::uint64_t pending_compaction_bytes = 0;
    bool write_stalled = false;
    std::vector<FamilyInfo> families;
  };
  [[nodiscard]] virtual Result<StoreInfo> info() = 0;

  // Compacts the table files of every column family into the fewest (RocksDB's CompactRange), e.g.
  // after deleting much; reads and appends go on meanwhile. kIOError when writing fails.
  [[nodiscard]] virtual Status compact() = 0;

  // One backup in a backup directory.
  struct BackupInfo {
    // 1, 2, ... in order of creation within the directory.
    std::uint32_t id = 0;
    // When it was made (to the second).
    Timestamp created{};
    // Bytes and files it holds (table files it shares with other backups of the directory count in each).
    std::uint64_t bytes = 0;
    std::uint32_t files = 0;
    // The store's high-water mark when the backup began: it holds at least the log up to here.
    Position high_water = 0;
  };

  // Adds a backup of the store to directory `backup_dir` (created when missing) while appends go on
  // (RocksDB's BackupEngine): a consistent image holding every append acknowledged before the call.
  // Table files already in the directory from earlier backups are not copied again. Not on a
  // read-only store (kInvalidArgument). kIOError when writing the backup fails (the store is unharmed).
  [[nodiscard]] virtual Result<BackupInfo> backup(std::string_view backup_dir) = 0;

  // The backups in `backup_dir`, oldest first. kNotFound when the directory holds none.
  [[nodiscard]] static Result<std::vector<BackupInfo>> list_backups(std::string_view backup_dir);

  // Checks backup `id` of `backup_dir`: every file is there with the size and checksum it was written
  // with. kNotFound for an unknown id, kCorruption naming the file that differs.
  [[nodiscard]] static Status verify_backup(std::string_view backup_dir, std::uint32_t id);

  // Restores backup `id` (0: the newest) of `backup_dir` into directory `path`, which must be missing or
  // empty (kInvalidArgument otherwise: a restore never overwrites a store). Open the restored store, or
  // verify(options, path) it, to check what it holds.
  [[nodiscard]] static Status restore(std::string_view backup_dir, std::uint32_t id, std::string_view path);

  // The directory the store lives in.
  virtual const std::string& path() const noexcept = 0;

  // The options the store was opened with.
  virtual const Options& options() const noexcept = 0;

  // Where projections keep their state, read-model rows and parked events: the store's own database
  // (column families projection_state, projection_rows, projection_parked; see FORMAT.md). Each commit
  // is one atomic RocksDB write with the store's durability (Options::sync). A failed write stops the
  // whole store: appends and projection commits are refused until it is reopened. Lives as long as the
  // store.
  //
  //   strata::Projector projector(*store, store->projection_storage(), Balances{});
  virtual ProjectionStorage& projection_storage() noexcept = 0;
};

}  // namespace strata
