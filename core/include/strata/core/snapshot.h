// Snapshots: a cache of an aggregate's state at a version, so that loading does not replay the whole
// stream. Never the truth: a snapshot that does not match the code reading it (schema fingerprint or
// snapshot version), fails its checksum, or does not decode, is ignored and the state is rebuilt from
// events.
//
// An aggregate opts in by giving its state a field table, the same mechanism as events, and may set a
// snapshot version to bump by hand when the meaning of its state changes without its shape changing:
//
//   class Account : public strata::Aggregate<Account, strata::Events<...>> {
//     ...
//     std::int64_t balance_ = 0;
//    public:
//     static constexpr std::uint32_t kSnapshotVersion = 1;                  // optional, default 1
//     static constexpr auto kFields = strata::fields(strata::field("balance", &Account::balance_));
//   };
//
// SnapshotStore is the storage contract; stores that keep snapshots (MemoryEventStore, RocksEventStore)
// return theirs from EventStore::snapshot_store(). Repository<A> reads and writes them (repository.h).
//
// Thread safety: SnapshotStore methods may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "strata/core/codec.h"
#include "strata/core/position.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"

namespace strata {

// What a snapshot's state was written as: the writer's schema_fingerprint<A>() and A::kSnapshotVersion.
// Snapshots of different schemas coexist, so that two builds running side by side (a rolling
// deployment) each load and write their own and never replace each other's.
struct SnapshotSchema {
  std::uint64_t fingerprint = 0;
  std::uint32_t snapshot_version = 0;

  friend bool operator==(const SnapshotSchema&, const SnapshotSchema&) = default;
};

struct SnapshotRecord {
  // The aggregate version the state reflects: every event up to and including it is folded in.
  Version version = 0;
  // schema_fingerprint<A>() of the code that wrote it.
  std::uint64_t schema_fingerprint = 0;
  // A::kSnapshotVersion of the code that wrote it.
  std::uint32_t snapshot_version = 0;
  // The state as JSON.
  std::string payload;

  SnapshotSchema schema() const noexcept { return {schema_fingerprint, snapshot_version}; }
  friend bool operator==(const SnapshotRecord&, const SnapshotRecord&) = default;
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // Stores `snapshot` for `stream`, replacing only one at the same version with the same schema:
  // snapshots of other schemas stay. kIOError / kUnavailable from the storage; kInvalidArgument when
  // snapshot.version is 0.
  [[nodiscard]] virtual Status save_snapshot(const StreamId& stream, const SnapshotRecord& snapshot) = 0;

  // The snapshot of `stream` written as `schema` with the highest version <= max_version, or nullopt
  // when there is none (snapshots of other schemas are passed over). kCorruption when that snapshot's
  // stored bytes fail their checksum or framing, or do not match their key (the caller ignores it and
  // replays); kIOError from the storage.
  [[nodiscard]] virtual Result<std::optional<SnapshotRecord>> load_snapshot(const StreamId& stream, Version max_version,
                                                                            const SnapshotSchema& schema) = 0;

  // Deletes all but the `keep` newest snapshots of `stream` written as `schema` (keep = 0 deletes all of
  // them), and the snapshots of other schemas older than the oldest one kept (they can no longer be the
  // newest of anything current: a build still writing its own schema writes newer ones).
  [[nodiscard]] virtual Status retain_snapshots(const StreamId& stream, const SnapshotSchema& schema,
                                                std::size_t keep) = 0;

  // The versions of `stream`'s snapshots of every schema, ascending (a version appears once per schema
  // that has a snapshot at it). For tools and tests.
  [[nodiscard]] virtual Result<std::vector<Version>> snapshot_versions(const StreamId& stream) = 0;
};

namespace detail {
constexpr std::uint64_t fnv1a(std::uint64_t h, std::string_view s) noexcept {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// The compiler's spelling of T, at compile time.
template <class T>
constexpr std::string_view type_spelling() noexcept {
  return __PRETTY_FUNCTION__;
}

template <class T>
constexpr std::uint64_t fingerprint_of(std::uint64_t h) noexcept;

template <class Def>
constexpr std::uint64_t fingerprint_field(std::uint64_t h, const Def& def) noexcept {
  using M = typename Def::member_type;
  h = fnv1a(h, def.name);
  h = fnv1a(h, ":");
  return fingerprint_of<M>(h);
}

template <class T>
constexpr std::uint64_t fingerprint_of(std::uint64_t h) noexcept {
  if constexpr (HasFieldTable<T>) {
    h = fnv1a(h, "{");
    h = std::apply(
        [&](const auto&... def) {
          std::uint64_t x = h;
          ((x = fingerprint_field(x, def), x = fnv1a(x, ",")), ...);
          return x;
        },
        T::kFields);
    return fnv1a(h, "}");
  } else {
    return fnv1a(h, type_spelling<T>());
  }
}
}  // namespace detail

// A hash of T's field table: field names, order and types, recursively through nested field tables.
// It changes whenever the table changes, so a snapshot written by other code is recognised and ignored.
template <class T>
constexpr std::uint64_t schema_fingerprint() noexcept {
  return detail::fingerprint_of<T>(0xcbf29ce484222325ull);
}

// A type whose state can be snapshotted: it has a field table.
template <class A>
concept Snapshottable = HasFieldTable<A>;

// A::kSnapshotVersion, or 1.
template <class A>
constexpr std::uint32_t snapshot_version_of() noexcept {
  if constexpr (requires { A::kSnapshotVersion; }) {
    return static_cast<std::uint32_t>(A::kSnapshotVersion);
  } else {
    return 1;
  }
}

namespace detail {
// Evaluated once, at compile time: every load compares against it.
template <class A>
inline constexpr SnapshotSchema kSnapshotSchema{schema_fingerprint<A>(), snapshot_version_of<A>()};
}  // namespace detail

// The schema the snapshots of A are written as.
template <class A>
constexpr SnapshotSchema snapshot_schema_of() noexcept {
  return detail::kSnapshotSchema<A>;
}

}  // namespace strata
