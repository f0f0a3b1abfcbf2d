#include "rocks_status.h"

#include <fmt/format.h>

#include <string>

namespace strata::detail {
namespace {

// RocksDB reports a held LOCK file as an IOError; these are the phrases of its two cases: another
// process holds the lock ("While lock file: <dir>/LOCK: Resource temporarily unavailable"), or this
// process does ("lock hold by current process").
bool is_lock_error(const rocksdb::Status& s) {
  if (!s.IsIOError()) return false;
  const std::string text = s.ToString();
  return text.find("While lock file") != std::string::npos ||
         text.find("lock hold by current process") != std::string::npos;
}

}  // namespace

Status from_rocksdb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return {};
  std::string message = fmt::format("{}: {}", context, s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return Status::not_found(std::move(message));
    case rocksdb::Status::kCorruption:
      return Status::corruption(std::move(message));
    case rocksdb::Status::kIOError:
      return Status::io_error(std::move(message));
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return Status::invalid_argument(std::move(message));
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kAborted:
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress:
      return Status::unavailable(std::move(message));
    default:
      return Status::internal(std::move(message));
  }
}

// RocksDB's text names the LOCK file and the errno, neither of which tells the user what to do; the
// message names the store and both kinds of holder instead.
Status from_rocksdb_open(const rocksdb::Status& s, std::string_view path, std::string_view context) {
  if (is_lock_error(s))
    return Status::unavailable(
        fmt::format("event store \"{}\" is in use: another process, or another open RocksEventStore in this process, "
                    "holds its lock; close that one first (or read it through the application that holds it)",
                    path));
  return from_rocksdb(s, context);
}

}  // namespace strata::detail
