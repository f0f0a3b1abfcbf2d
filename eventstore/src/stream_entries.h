// StreamEntries: an iterator over one stream's entries in the `events` family (format.h), keeping the
// bounds it iterates within alive as long as it is.
//
//   StreamEntries entries(*db_, events_, number);           // every entry of the stream
//   StreamEntries below(*db_, events_, number, to);          // the entries of versions below `to`
//   for (entries->SeekToFirst(); entries->Valid(); entries->Next()) ...
//
// Thread safety: as a rocksdb::Iterator (one thread at a time).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <cstdint>
#include <memory>

#include "format.h"
#include "rocks_slice.h"

namespace strata::detail {

class StreamEntries {
 public:
  // Every entry of the stream numbered `number`.
  StreamEntries(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events, std::uint64_t number)
      : StreamEntries(db, events, format::events_key(number, 1), format::events_key(number + 1, 0)) {}
  // The entries of the stream numbered `number` whose key version is below `end` (none when `end` <= 1).
  StreamEntries(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events, std::uint64_t number, Version end)
      : StreamEntries(db, events, format::events_key(number, 1), format::events_key(number, end)) {}
  StreamEntries(const StreamEntries&) = delete;
  StreamEntries& operator=(const StreamEntries&) = delete;

  rocksdb::Iterator* operator->() const noexcept { return it_.get(); }
  rocksdb::Iterator& operator*() const noexcept { return *it_; }

 private:
  StreamEntries(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events, format::StreamVersionKey lower,
                format::StreamVersionKey upper)
      : lower_(lower), upper_(upper), lower_bound_(slice(lower_)), upper_bound_(slice(upper_)) {
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_bound_;
    options.iterate_upper_bound = &upper_bound_;
    it_.reset(db.NewIterator(options, events));
  }

  const format::StreamVersionKey lower_, upper_;
  const rocksdb::Slice lower_bound_, upper_bound_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace strata::detail
