// RocksDB's info log (its diagnostic messages: flushes, compactions, options) for a store: a file that
// never grows past a bound and whose own failures are swallowed. RocksDB's default logger asserts
// that each write succeeded, and Debian's librocksdb keeps its assertions, so a full disk aborted the
// process from the LOG file before the store could report kIOError; the store's data files report
// their failures through RocksDB statuses, and diagnostics must never cost the application.
//
//   db_options.info_log = open_store_info_log(path);     // <path>/LOG, then LOG.old
//   db_options.info_log = std::make_shared<DiscardingInfoLog>();
//
// Thread safety: RocksDB logs from any of its threads; both loggers are safe for that.
#pragma once

#include <rocksdb/env.h>

#include <cstdarg>
#include <cstddef>
#include <memory>
#include <string>

namespace strata::detail {

// Writes RocksDB's messages to <directory>/LOG, moving a full one to LOG.old (replacing the previous
// LOG.old) once it passes `max_bytes`: the two files take at most about 2 × max_bytes. A write,
// rename or open that fails loses its message and nothing else.
std::shared_ptr<rocksdb::Logger> open_store_info_log(const std::string& directory,
                                                     std::size_t max_bytes = std::size_t{8} << 20);

// Drops every message: for the read-only open that checks a store before it is opened for writing,
// which must leave every file as it was.
class DiscardingInfoLog final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

}  // namespace strata::detail
