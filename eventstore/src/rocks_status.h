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
//   RocksDB's lock error (the directory is held by another open store) -> kUnavailable, saying so;
//   NotFound -> kNotFound; Corruption -> kCorruption; IOError (including no space) -> kIOError;
//   InvalidArgument, NotSupported -> kInvalidArgument;
//   Busy, TimedOut, TryAgain, Aborted, Incomplete, ShutdownInProgress -> kUnavailable;
//   anything else -> kInternal.
Status from_rocksdb(const rocksdb::Status& status, std::string_view context);

}  // namespace strata::detail
