// EventStore: the append-only store of event streams and of the global log, behind which every backend
// (MemoryEventStore, RocksEventStore, ...) sits. It knows nothing of aggregates; Repository builds
// load and save on top of it.
//
// Every append names one stream and what it expects of that stream's head (optimistic concurrency), and
// is atomic: all of its events are committed, with consecutive stream versions and consecutive global
// positions, or none is. The global log has no gaps: a reader that has seen position p has seen every
// position below p. Appends are idempotent by event id: resending an append whose events were all
// committed returns the original result and writes nothing.
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

enum class ReadDirection : std::uint8_t { kForward, kBackward };

struct StreamSlice {
  std::vector<RecordedEvent> events;
  // Where the next read in the same direction starts; 0 when a backward read reached version 1.
  Version next_version = 0;
  // True when no further event exists in the direction read (as of this read).
  bool end_of_stream = false;
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
};

// What visit_log() examined.
struct LogVisit {
  // The position to visit from next: one past the last position examined (filtered-out events count as
  // examined).
  Position next_position = 1;
  // True when the visit reached the committed end of the log: next_position is one past the high-water
  // mark the visit read, so a reader that goes on from there misses nothing and reads nothing twice.
  bool end_of_log = false;
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
  Version head = 0;
  friend bool operator==(const StreamInfo&, const StreamInfo&) = default;
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
  //                          to another stream or in another order;
  //   kIOError / kUnavailable the store failed or was closed; nothing is acknowledged that is not durable.
  // When every event id was committed before, by one append of exactly these ids to this stream, the
  // original AppendResult is returned and nothing is written, whatever `expected` says.
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

  // Up to `max_count` events of `stream`: forward from version `from` (0 is read as 1), or backward
  // from `from` (kEndOfStream = from the head). kNotFound when the stream has no events.
  [[nodiscard]] virtual Result<StreamSlice> read_stream(const StreamId& stream, ReadDirection direction, Version from,
                                                        std::size_t max_count) = 0;

  // Calls `visitor` for each event of `stream` with version in [from, to], in version order, without
  // copying. Stops at the first non-OK status a visitor returns and returns it. kNotFound when the
  // stream has no events; OK with no calls when `from` is past the head.
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

  // The version of the stream's last event; 0 when the stream has no events.
  [[nodiscard]] virtual Result<Version> stream_head(const StreamId& stream) = 0;

  // Up to `max_count` streams whose ids sort after `after` (empty = from the first).
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
