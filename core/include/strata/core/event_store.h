// EventStore: the append-only store of event streams and of the global log, behind which every backend
// (MemoryEventStore, RocksEventStore, ...) sits. It knows nothing of aggregates; Repository builds
// load and save on top of it.
//
// Every append names one stream and what it expects of that stream's head (optimistic concurrency), and
// is atomic: all of its events are committed, with consecutive stream versions and consecutive global
// positions, or none is. The global log has no gaps: a reader that has seen position p has seen every
// position below p. Appends are idempotent by event id: resending an append whose events were all
// committed (or a consecutive part of it) returns where they were committed and writes nothing.
//
//   auto r = store.append(id, strata::ExpectedVersion::no_stream(), events);
//   if (!r.ok() && r.status().code() == strata::StatusCode::kWrongExpectedVersion) { /* reload, retry */ }
//   auto slice = store.read_stream(id, strata::ReadDirection::kForward, 1, 100);
//   auto page = store.read_log(/*from=*/1, /*max_count=*/1000);
//
// Thread safety: every method may be called concurrently from any thread. Visitors run on the calling
// thread; a visitor must not call back into the same store (a backend may hold a read lock or an
// iterator across the calls).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/event.h"
#include "strata/core/expected_version.h"
#include "strata/core/function_ref.h"
#include "strata/core/limits.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

class SnapshotStore;
class PersonalData;

// "Up to the end of the stream" / "from the end, backwards".
inline constexpr Version kEndOfStream{~std::uint64_t{0}};
// "Up to the end of the log".
inline constexpr Position kEndOfLog{~std::uint64_t{0}};

struct AppendResult {
  // The stream's new head: the version of the last event appended.
  Version stream_version = 0;
  // Global positions of the first and last event appended (consecutive in between).
  Position first_position = 0;
  Position last_position = 0;

  friend bool operator==(const AppendResult&, const AppendResult&) = default;
};

// One stream's part of a multi-stream append (EventStore::append_multi).
struct StreamAppend {
  StreamId stream;
  ExpectedVersion expected = ExpectedVersion::any();
  std::span<const EventData> events;
};

struct MultiAppendResult {
  // One per StreamAppend, in the order given.
  std::vector<AppendResult> streams;
  // The positions of the first and last event of the whole append (consecutive in between).
  Position first_position = 0;
  Position last_position = 0;

  friend bool operator==(const MultiAppendResult&, const MultiAppendResult&) = default;
};

// How delete_stream() deletes.
enum class DeleteMode : std::uint8_t {
  // The stream reads as deleted (kStreamDeleted); its events stay in the global log. An append that
  // expects no_stream() recreates it, its versions going on after the deleted ones (which stay hidden).
  kSoft,
  // The stream's events are removed for good; their positions stay in the global log as tombstones that
  // readers pass over. The stream can never be appended to again.
  kHard,
};

// Where a stream is in its life.
enum class StreamState : std::uint8_t { kLive = 0, kDeleted = 1, kHardDeleted = 2 };
// "live", "deleted" or "hard deleted".
std::string_view stream_state_name(StreamState state) noexcept;

enum class ReadDirection : std::uint8_t { kForward, kBackward };

struct StreamSlice {
  std::vector<RecordedEvent> events;
  // Where the next read in the same direction starts; 0 when a backward read reached version 1.
  Version next_version = 0;
  // True when no further event exists in the direction read (as of this read).
  bool end_of_stream = false;
  // The stream's first version still there (1 unless truncated or soft-deleted and recreated).
  Version first_version = 1;
};

// Which events of the log a reader wants. Empty lists mean "all". An event passes when its type is in
// `event_types` (or that list is empty) and its stream's category is in `categories` (or that list is
// empty).
struct LogFilter {
  std::vector<std::string> event_types;
  std::vector<std::string> categories;

  bool empty() const noexcept { return event_types.empty() && categories.empty(); }
  bool matches(std::string_view stream_id, std::string_view type) const noexcept;
};

struct LogSlice {
  std::vector<RecordedEvent> events;
  // The position to read from next: one past the last position examined (filtered-out events count as
  // examined).
  Position next_position = 1;
  // True when the read reached the committed end of the log.
  bool end_of_log = false;
  // Positions examined whose events were removed (hard delete, truncation, retention): passed over, so
  // the reader neither stalls nor sees them. A reader that keeps a model of every event counts them
  // (a projector reports them in its status).
  std::uint64_t removed = 0;
};

// What visit_log() examined.
struct LogVisit {
  // The position to visit from next: one past the last position examined (filtered-out events count as
  // examined).
  Position next_position = 1;
  // True when the visit reached the committed end of the log: next_position is one past the high-water
  // mark the visit read, so a reader that goes on from there misses nothing and reads nothing twice.
  bool end_of_log = false;
  // Positions examined whose events were removed, as LogSlice::removed.
  std::uint64_t removed = 0;
};

// Where a committed event is.
struct EventLocation {
  std::string stream_id;
  Version version = 0;
  Position position = 0;
  friend bool operator==(const EventLocation&, const EventLocation&) = default;
};

struct StreamInfo {
  std::string stream_id;
  // The version of the stream's last event ever appended (deleted and truncated ones included).
  Version head = 0;
  StreamState state = StreamState::kLive;
  // The first version still readable: 1, or the version a truncation kept from, or head + 1 after a
  // delete (and the first version appended after it when a soft-deleted stream was recreated).
  Version first_version = 1;
  // The version the stream's present life began at: 1, or the first version appended after the soft
  // delete that recreated it. A read from below `origin` starts there; a read from at or above it but
  // below first_version (versions a truncation removed) fails with kStreamTruncated.
  Version origin = 1;
  friend bool operator==(const StreamInfo&, const StreamInfo&) = default;
};

// What delete_stream() and truncate_stream() did.
struct LifecycleResult {
  // The stream's head at the time (unchanged by either operation).
  Version head = 0;
  // Events removed by this call (0 for a soft delete and for a retry).
  std::uint64_t removed = 0;
  friend bool operator==(const LifecycleResult&, const LifecycleResult&) = default;
};

struct StreamList {
  // In byte order of the stream id.
  std::vector<StreamInfo> streams;
  // Pass as `after` to get the next page; empty when there is no further page.
  std::string next_after;
};

using EventVisitor = FunctionRef<Status(const EventView&)>;

namespace detail {
class CommitHub;
}

// Keeps a commit listener registered; destroying or reset()ting it unregisters the listener, after which
// it is never called again (reset waits for a call in progress on another thread to return).
class CommitSubscription {
 public:
  CommitSubscription() = default;
  CommitSubscription(std::shared_ptr<detail::CommitHub> hub, std::uint64_t id) : hub_(std::move(hub)), id_(id) {}
  CommitSubscription(CommitSubscription&& other) noexcept : hub_(std::move(other.hub_)), id_(other.id_) {}
  CommitSubscription& operator=(CommitSubscription&& other) noexcept;
  CommitSubscription(const CommitSubscription&) = delete;
  CommitSubscription& operator=(const CommitSubscription&) = delete;
  ~CommitSubscription() { reset(); }
  void reset() noexcept;
  bool active() const noexcept { return hub_ != nullptr; }

 private:
  std::shared_ptr<detail::CommitHub> hub_;
  std::uint64_t id_ = 0;
};

class EventStore {
 public:
  virtual ~EventStore();
  EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Appends `events` to `stream` when its head satisfies `expected`, atomically.
  // Returns the new head version and the global positions of the first and last event.
  // Fails with:
  //   kInvalidArgument       no events, too many events, or an event that validate_event() rejects, or
  //                          the same event id twice in one append;
  //   kWrongExpectedVersion  the head does not satisfy `expected` (status.version_conflict() has both);
  //   kIdempotencyConflict   some but not all event ids were committed before, or they were committed
  //                          to another stream, in another order or not one after another;
  //   kIOError / kUnavailable the store failed or was closed; nothing is acknowledged that is not durable.
  // When every event id was committed before to this stream, in this order, at consecutive versions and
  // positions (a whole earlier append, or a consecutive run of one or of several, as KurrentDB accepts),
  // the AppendResult of those events is returned and nothing is written, whatever `expected` says.
  [[nodiscard]] virtual Result<AppendResult> append(const StreamId& stream, ExpectedVersion expected,
                                                    std::span<const EventData> events) = 0;
  // The same for one event, or a braced list of them: store.append(id, expected, event).
  [[nodiscard]] Result<AppendResult> append(const StreamId& stream, ExpectedVersion expected, const EventData& event) {
    return append(stream, expected, std::span<const EventData>(&event, 1));
  }
  [[nodiscard]] Result<AppendResult> append(const StreamId& stream, ExpectedVersion expected,
                                            std::initializer_list<EventData> events) {
    return append(stream, expected, std::span<const EventData>(events.begin(), events.size()));
  }

  // Appends to several streams atomically: every part's expectation is checked, and either all events
  // of all parts are committed, with consecutive global positions in the order of `appends`, or none.
  // Idempotent by event ids as append() is: when every event id of every part was committed before,
  // each as the same part, the original result comes back and nothing is written.
  // Fails as append() does, and with:
  //   kInvalidArgument       no parts, a part without events, the same stream twice, or more than
  //                          limits().max_events_per_append events in all;
  //   kWrongExpectedVersion  naming every stream whose expectation failed (status.version_conflicts());
  //   kStreamDeleted         a part's stream was deleted (nothing was written).
  [[nodiscard]] virtual Result<MultiAppendResult> append_multi(std::span<const StreamAppend> appends) = 0;

  // Deletes `stream` when its head satisfies `expected` (DeleteMode says how). Idempotent: deleting a
  // deleted stream again succeeds and changes nothing (a soft-deleted one may still be hard-deleted;
  // a hard-deleted one stays so). kNotFound when the stream never had events; kWrongExpectedVersion.
  [[nodiscard]] virtual Result<LifecycleResult> delete_stream(const StreamId& stream, ExpectedVersion expected,
                                                              DeleteMode mode) = 0;

  // Removes the events of `stream` below version `before` (they become tombstones in the global log,
  // as hard-deleted events do); the versions go on, and a read from below `before` fails with
  // kStreamTruncated. `before` past head + 1 is taken as head + 1 (every event removed, the stream
  // still live). Idempotent: a truncation at or below the current first version changes nothing.
  // kNotFound, kStreamDeleted, kWrongExpectedVersion.
  [[nodiscard]] virtual Result<LifecycleResult> truncate_stream(const StreamId& stream, ExpectedVersion expected,
                                                                Version before) = 0;

  // The stream's head, state and first readable version; kNotFound when it never had events.
  [[nodiscard]] virtual Result<StreamInfo> stream_info(const StreamId& stream) = 0;

  // Up to `max_count` events of `stream`: forward from version `from` (0 is read as the first version
  // still there), or backward from `from` (kEndOfStream = from the head). kNotFound when the stream has
  // no events; kStreamDeleted when it was deleted; kStreamTruncated when a forward read asks for a
  // version a truncation removed (StreamInfo::origin says which versions those are).
  [[nodiscard]] virtual Result<StreamSlice> read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                        std::size_t max_count) = 0;

  // Calls `visitor` for each event of `stream` with version in [from, to], in version order, without
  // copying. Stops at the first non-OK status a visitor returns and returns it. kNotFound when the
  // stream has no events; OK with no calls when `from` is past the head; kStreamDeleted when it was
  // deleted; kStreamTruncated when `from` is a version a truncation removed (0 reads from the first
  // version still there; a version below StreamInfo::origin, from the stream's present life).
  [[nodiscard]] virtual Status visit_stream(const StreamId& stream, Version from, Version to, EventVisitor visitor) = 0;

  // Up to `max_count` events of the global log that pass `filter`, from position `from` (0 is read as 1),
  // in position order, never past the committed high-water mark.
  [[nodiscard]] virtual Result<LogSlice> read_log(Position from, std::size_t max_count,
                                                  const LogFilter& filter = {}) = 0;

  // Calls `visitor` for up to `max_count` events of the log that pass `filter`, from `from`, without
  // copying, never past the committed high-water mark. Returns where to continue from and whether the
  // end of the log was reached (as read_log() does), or the first non-OK status a visitor returned.
  [[nodiscard]] virtual Result<LogVisit> visit_log(Position from, std::size_t max_count, const LogFilter& filter,
                                                   EventVisitor visitor) = 0;

  // Where the event with id `id` is, or std::nullopt when no event with that id is committed (as of the
  // committed high-water mark). Fails with the store's kIOError / kCorruption / kUnavailable. Inboxes
  // use it to tell a redelivered message whose effect was appended (under an id derived from the
  // message) from a new one.
  [[nodiscard]] virtual Result<std::optional<EventLocation>> lookup_event(const EventId& id) = 0;

  // The version of the stream's last event; 0 when the stream has no events. A deleted stream's head
  // is the version of its last event before the deletion (stream_info() says it was deleted).
  [[nodiscard]] virtual Result<Version> stream_head(const StreamId& stream) = 0;

  // Up to `max_count` streams whose ids sort after `after` (empty = from the first), deleted ones
  // included (with their state).
  [[nodiscard]] virtual Result<StreamList> list_streams(std::string_view after, std::size_t max_count) = 0;

  // The committed high-water mark: the position of the last event readers may see (0 = empty log).
  virtual Position head_position() const = 0;

  // The limits this store enforces on appends.
  virtual const Limits& limits() const noexcept = 0;

  // The version of the last event of `stream` committed at or before `at` (commit timestamps do not
  // decrease along a stream, so this is a search, not a scan); 0 when the stream's first event is later.
  // kNotFound when the stream has no events. The default binary-searches with read_stream.
  [[nodiscard]] virtual Result<Version> version_as_of(const StreamId& stream, Timestamp at);

  // The store's snapshot storage, or nullptr when it keeps none. Owned by the store.
  virtual SnapshotStore* snapshot_store() noexcept { return nullptr; }

  // The store's personal data (personal_data.h): it seals the personal fields of typed events on their
  // way in (Repository::save), reveals them on every read, and forget(subject) makes a subject's fields
  // read as redacted everywhere. nullptr when the store keeps no subject keys. Owned by the store.
  virtual PersonalData* personal_data() noexcept { return nullptr; }

  // Registers `listener`, called with the new high-water mark after each commit becomes visible to
  // readers (on the committing thread: it must be quick and must not throw; post work elsewhere).
  // Several commits may be reported by one call. Log followers use it to follow live appends without
  // polling.
  [[nodiscard]] CommitSubscription subscribe_commits(std::function<void(Position high_water)> listener);

 protected:
  // Backends call this after publishing a new high-water mark.
  void publish_commit(Position high_water) noexcept;

 private:
  std::shared_ptr<detail::CommitHub> commit_hub_;
};

}  // namespace strata
