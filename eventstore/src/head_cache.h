// HeadCache: the readers' cache of stream states (a stream's number, head and lifecycle), so that a
// read of a stream that has not changed since the last read costs a hash lookup instead of a Get of
// its record and a seek to the end of its entries (find_head).
//
//   HeadCache<KnownStream>::Ticket ticket;
//   if (auto hit = heads.find(stream, high, ticket)) return *hit;
//   KnownStream state = ...;                            // from the database, as of `high`
//   if (head_position() == high) heads.fill(stream, ticket, state, high);
//
// The commit step brackets every write that changes streams: begin_change(stream) before the write,
// end_change(stream) once its high-water mark is published. Why a hit is never stale:
//   - begin_change drops the stream's entry, and no entry of its shard is filled until every change
//     begun in the shard has ended;
//   - a fill is refused when a change began or ended in the shard since the reader's ticket; with the
//     reader's high-water mark read after the ticket (the caller checks it did not move), every change
//     that ended before the ticket is published at or below `high`, so the state read is current;
//   - an entry serves only reads whose high-water mark is at or above the one it was read at.
// A miss only costs the database read it replaces. The cache holds at most kShards * kMaxPerShard
// entries; a full shard starts over.
//
// Thread safety: every member may be called from any thread; each shard has its own mutex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "strata/core/position.h"

namespace strata::detail {

template <class State>
class HeadCache {
 public:
  // What a reader saw of its shard when it missed: a fill is refused when the shard changed since.
  struct Ticket {
    std::uint64_t generation = 0;
  };

  static constexpr std::size_t kShards = 64;
  static constexpr std::size_t kMaxPerShard = 2048;

  // The cached state of `stream` when it is valid for a read with high-water mark `high`; otherwise
  // nullopt, and `ticket` is set for fill.
  std::optional<State> find(std::string_view stream, Position high, Ticket& ticket) {
    Shard& s = shard(stream);
    std::lock_guard lock(s.mu);
    ticket.generation = s.generation;
    auto it = s.map.find(stream);
    if (it != s.map.end() && it->second.read_at <= high) return it->second.state;
    return std::nullopt;
  }

  // Caches `state`, read from the database as of `high` after a miss that set `ticket`, unless the
  // shard changed since. REQUIRES: the caller read `high` after find set `ticket`.
  void fill(std::string_view stream, const Ticket& ticket, const State& state, Position high) {
    Shard& s = shard(stream);
    std::lock_guard lock(s.mu);
    if (s.generation != ticket.generation || s.changing != 0) return;
    if (s.map.size() >= kMaxPerShard) s.map.clear();
    auto it = s.map.find(stream);
    if (it == s.map.end()) {
      s.map.emplace(std::string(stream), Entry{state, high});
    } else {
      it->second = Entry{state, high};
    }
  }

  // The commit step, before a write that changes `stream` (called once per change: a stream written
  // twice by one group is begun and ended twice).
  void begin_change(std::string_view stream) {
    Shard& s = shard(stream);
    std::lock_guard lock(s.mu);
    ++s.generation;
    ++s.changing;
    auto it = s.map.find(stream);
    if (it != s.map.end()) s.map.erase(it);
  }

  // The commit step, once the write begun for `stream` is published, or has failed.
  void end_change(std::string_view stream) {
    Shard& s = shard(stream);
    std::lock_guard lock(s.mu);
    ++s.generation;
    --s.changing;
  }

 private:
  struct Entry {
    State state;
    Position read_at = 0;  // the high-water mark it was read at
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    std::mutex mu;
    std::uint64_t generation = 0;  // GUARDED_BY(mu): moved by every begin_change and end_change
    std::uint32_t changing = 0;    // GUARDED_BY(mu): changes begun and not yet ended
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map;  // GUARDED_BY(mu)
  };

  Shard& shard(std::string_view stream) {
    // The map hashes the whole name; the shard takes other bits of the same hash.
    return shards_[(std::hash<std::string_view>{}(stream) >> 20) % kShards];
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace strata::detail
