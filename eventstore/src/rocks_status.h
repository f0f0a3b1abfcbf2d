// The one translation of RocksDB statuses into strata statuses (STYLE: foreign errors are translated in
// exactly one place).
//
// Thread safety: a function of its arguments only.
#pragma once

#include <rocksdb/status.h>

#include <string_view>

#include "strata/core/status.h"

namespace strata::detail {

// OK for OK; otherwise a strata Status whose message is "<context>: <RocksDB's message>":
//   NotFound -> kNotFound; Corruption -> kCorruption; IOError (including no space) -> kIOError;
//   InvalidArgument, NotSupported -> kInvalidArgument;
//   Busy, TimedOut, TryAgain, Aborted, Incomplete, ShutdownInProgress -> kUnavailable;
//   anything else -> kInternal.
Status from_rocksdb(const rocksdb::Status& status, std::string_view context);

// The status of opening the database of the store in directory `path` (rocksdb::DB::Open, the one call
// that takes RocksDB's LOCK file). RocksDB's lock error, the directory held by another open store in
// this process or another, is kUnavailable with a message that names the store and says what to do:
//   event store "<path>" is in use: another process, or another open RocksEventStore in this process,
//   holds its lock; close that one first (or read it through the application that holds it)
// Any other status is as from_rocksdb(status, context).
Status from_rocksdb_open(const rocksdb::Status& status, std::string_view path, std::string_view context);

}  // namespace strata::detail
