// PointLookupMemTableFactory: a RocksDB memtable representation for column families that are only
// ever read by point lookups (Get / MultiGet) of keys that arrive in random order, such as the
// event-id index, whose keys are random UUIDs.
//
// Why: RocksDB's default skip list pays O(log n) cache misses for every insert of a random key, and
// the event-id index takes one such insert per appended event: measured with bench/layout_experiment,
// the commit path spent 10.0 us per event with a skip list against 2.4 us with this (FORMAT.md). This
// representation inserts in O(1) into an open-addressing hash table and sorts once, when the memtable
// is flushed (or when an iterator asks for order), using an 8-byte key prefix so that the sort rarely
// touches the entries themselves. The table doubles when half full: an O(n) step, a few tens of
// milliseconds at a million entries, once per doubling.
//
//   cf_options.memtable_factory = std::make_shared<strata::detail::PointLookupMemTableFactory>();
//   db_options.allow_concurrent_memtable_write = false;   // this representation inserts from one writer
//
// REQUIRES: the column family uses RocksDB's default bytewise comparator (the sort prefix is bytewise)
// and has no prefix extractor (RocksDB then uses this representation's point iterator for Get only).
//
// Thread safety: as RocksDB requires of a memtable representation: one inserting thread at a time
// (RocksDB serializes inserts when concurrent memtable writes are off) concurrently with any number
// of readers; a shared mutex guards the table.
#pragma once

#include <rocksdb/memtablerep.h>
#include <rocksdb/slice.h>

#include <memory>
#include <span>

namespace strata::detail {

struct NewestPointLookupRep;

class PointLookupMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  PointLookupMemTableFactory();
  ~PointLookupMemTableFactory() override;

  // Asks the CPU to fetch the table slots where the newest memtable made by this factory (the family's
  // mutable one) keeps `user_keys`, so that a lookup of those keys that follows waits for their cache
  // misses together instead of one after the other. Only a hint: nothing is read, and a memtable
  // switched in the meantime makes it useless, not wrong. Safe concurrently with everything else.
  void prefetch(std::span<const rocksdb::Slice> user_keys) const;

  static const char* kClassName() { return "StrataPointLookupMemTableFactory"; }
  const char* Name() const override { return kClassName(); }

  using rocksdb::MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& comparator,
                                          rocksdb::Allocator* allocator, const rocksdb::SliceTransform* prefix,
                                          rocksdb::Logger* logger) override;
  bool IsInsertConcurrentlySupported() const override { return false; }

 private:
  std::shared_ptr<NewestPointLookupRep> newest_;
};

}  // namespace strata::detail
