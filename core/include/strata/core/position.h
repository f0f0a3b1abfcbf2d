// Where an event stands: its version in its stream, its position in the global log, and its commit time.
//
// A stream's first event has version 1; version 0 means "no events" (the stream does not exist). The
// global log's first event has position 1; position 0 means "before the first event". Commit
// timestamps are microseconds since the Unix epoch, assigned by the store's commit path and
// non-decreasing along the log.
//
//   strata::Version v = 3;                                   // the third event of a stream
//   strata::Position p = slice.next_position;                // where a log reader goes on
//   strata::Timestamp t = strata::to_timestamp(std::chrono::system_clock::now());
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>

namespace strata {

// A stream version: 1 for the first event of a stream, 0 for "no events".
using Version = std::uint64_t;
// A position in the global log: 1 for the first event ever committed, 0 for "before the first".
using Position = std::uint64_t;
// Commit timestamps: microseconds since the Unix epoch.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// Any system-clock time point as a Timestamp, rounded down to the microsecond: what
// Repository::load_as_of and EventStore::version_as_of take.
//   accounts.load_as_of(id, strata::to_timestamp(std::chrono::system_clock::now()));
template <class Duration>
constexpr Timestamp to_timestamp(std::chrono::sys_time<Duration> t) noexcept {
  return std::chrono::floor<std::chrono::microseconds>(t);
}

}  // namespace strata
