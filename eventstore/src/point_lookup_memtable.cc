#include "point_lookup_memtable.h"

#include <rocksdb/version.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <vector>

// This representation relies on how RocksDB 7.8 calls a memtable (see GetDynamicPrefixIterator and
// iterator_storage below): MemTableRep::Get asks for a point iterator without an arena and never deletes
// it. Another RocksDB may call it differently, which would corrupt memory silently; check each new
// version's memtable.cc (MemTable::Get, MemTableRep::Get) before widening this range, and the version
// range of find_package(RocksDB) in the top-level CMakeLists.txt with it.
static_assert(ROCKSDB_MAJOR == 7 && ROCKSDB_MINOR == 8,
              "strata: PointLookupMemTableFactory is written against RocksDB 7.8's memtable calls; check "
              "MemTableRep::Get of this RocksDB before allowing it (see the comment above)");

namespace strata::detail {
namespace {

using rocksdb::MemTableRep;
using rocksdb::Slice;

// An entry is what RocksDB allocated through MemTableRep::Allocate:
//   varint32 internal_key_length | user_key | 8-byte sequence and type | varint32 value_length | value
// The comparator's decode_key() returns the internal key; the user key is all of it but the last 8 bytes.

// The first 8 bytes of `user_key` as a big-endian number, zero-padded: comparing two prefixes orders
// the keys as the bytewise comparator does, except that equal prefixes need a full comparison.
std::uint64_t sort_prefix(Slice user_key) noexcept {
  unsigned char bytes[8] = {};
  std::memcpy(bytes, user_key.data(), std::min<std::size_t>(user_key.size(), 8));
  std::uint64_t v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  return v;
}

class PointLookupRep;

}  // namespace

// The newest representation a factory made, for prefetch(); each representation clears it when it is
// destroyed, under the same mutex.
struct NewestPointLookupRep {
  std::mutex mu;
  PointLookupRep* rep = nullptr;  // GUARDED_BY(mu)
};

namespace {

class PointLookupRep final : public MemTableRep {
 public:
  PointLookupRep(const KeyComparator& comparator, rocksdb::Allocator* allocator,
                 std::shared_ptr<NewestPointLookupRep> newest)
      : MemTableRep(allocator),
        comparator_(comparator),
        slots_(kInitialSlots, Slot{0, nullptr}),
        newest_(std::move(newest)) {
    update_memory_usage();
    std::lock_guard lock(newest_->mu);
    newest_->rep = this;
  }

  ~PointLookupRep() override {
    std::lock_guard lock(newest_->mu);
    if (newest_->rep == this) newest_->rep = nullptr;
  }

  void prefetch(std::span<const Slice> user_keys) const {
    std::shared_lock lock(mu_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slice& key : user_keys) __builtin_prefetch(&slots_[hash(key) & mask]);
  }

  void Insert(rocksdb::KeyHandle handle) override {
    const char* entry = static_cast<const char*>(handle);
    const std::size_t h = hash(user_key_of(comparator_.decode_key(entry)));
    std::unique_lock lock(mu_);
    if ((count_ + 1) * 2 > slots_.size()) grow();
    place(slots_, Slot{h, entry});
    ++count_;
    update_memory_usage();
  }

  bool Contains(const char* key) const override {
    std::shared_lock lock(mu_);
    const Slice internal_key = comparator_.decode_key(key);
    bool found = false;
    for_each_with_user_key(user_key_of(internal_key), [&](const char* entry) {
      if (comparator_(entry, internal_key) == 0) found = true;
    });
    return found;
  }

  void MarkReadOnly() override {
    std::unique_lock lock(mu_);
    read_only_ = true;
  }

  std::size_t ApproximateMemoryUsage() override { return memory_usage_.load(std::memory_order_relaxed); }

  // Full iteration (flush, and DB iterators over the family): a sorted view of every entry.
  Iterator* GetIterator(rocksdb::Arena* arena) override {
    auto sorted = sorted_entries();
    if (arena == nullptr) return new SortedIterator(std::move(sorted), comparator_);
    return new (iterator_storage(sizeof(SortedIterator))) SortedIterator(std::move(sorted), comparator_);
  }

  // Point iteration: what RocksDB's MemTableRep::Get uses. RocksDB 7.8's Get neither passes an arena
  // nor deletes the iterator it gets, so the iterator lives in a per-thread buffer, owns no memory,
  // and has a no-op operator delete, which keeps it correct whether or not a later RocksDB deletes it.
  Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override {
    if (arena == nullptr) {
      alignas(PointIterator) thread_local unsigned char buffer[sizeof(PointIterator)];
      return new (buffer) PointIterator(*this);
    }
    return new (iterator_storage(sizeof(PointIterator))) PointIterator(*this);
  }

 private:
  // 128 KiB: RocksDB requires a new memtable to be under its write buffer size (small in tests).
  static constexpr std::size_t kInitialSlots = std::size_t{1} << 13;

  // A slot keeps the hash of its entry's user key beside it, so that probing (a lookup of a new id
  // walks past one or two taken slots) and growing read the table only, not the entries: each entry
  // read is a cache miss into the arena. Keeping only pointers cost about a fifth of the commit
  // thread's time on 100-event appends (perf, bench_append).
  struct Slot {
    std::size_t hash;
    const char* entry;  // nullptr: free
  };

  // Iterates the entries of one user key, in arbitrary order, without a lock (the caller holds one).
  template <class F>
  void for_each_with_user_key(Slice user_key, F&& f) const {
    const std::size_t mask = slots_.size() - 1;
    const std::size_t h = hash(user_key);
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.entry == nullptr) return;
      if (slot.hash == h && user_key_of(comparator_.decode_key(slot.entry)) == user_key) f(slot.entry);
    }
  }

  static Slice user_key_of(Slice internal_key) noexcept { return Slice(internal_key.data(), internal_key.size() - 8); }
  static std::size_t hash(Slice user_key) noexcept {
    return std::hash<std::string_view>{}(std::string_view(user_key.data(), user_key.size()));
  }

  static void place(std::vector<Slot>& slots, Slot slot) {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = slot.hash & mask;
    while (slots[i].entry != nullptr) i = (i + 1) & mask;
    slots[i] = slot;
  }

  void grow() {
    std::vector<Slot> bigger(slots_.size() * 2, Slot{0, nullptr});
    for (const Slot& slot : slots_)
      if (slot.entry != nullptr) place(bigger, slot);
    slots_.swap(bigger);
  }

  // Only the table counts: RocksDB requires an immutable memtable's usage never to grow, so the
  // sorted view made at flush time (transient, and smaller than the table) is left out.
  void update_memory_usage() { memory_usage_.store(slots_.capacity() * sizeof(Slot), std::memory_order_relaxed); }

  struct Keyed {
    std::uint64_t prefix;
    const char* entry;
  };

  // Every entry in internal-key order. Once the memtable is read-only the order is computed once and
  // shared by every iterator; before that each iterator gets its own copy (rare: only DB iterators
  // over this family see a mutable memtable, and the store never makes one).
  std::shared_ptr<const std::vector<const char*>> sorted_entries() {
    {
      std::shared_lock lock(mu_);
      if (sorted_) return sorted_;
    }
    std::unique_lock lock(mu_);
    if (sorted_) return sorted_;
    std::vector<Keyed> keyed;
    keyed.reserve(count_);
    for (const Slot& slot : slots_)
      if (slot.entry != nullptr)
        keyed.push_back({sort_prefix(user_key_of(comparator_.decode_key(slot.entry))), slot.entry});
    std::sort(keyed.begin(), keyed.end(), [this](const Keyed& a, const Keyed& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return comparator_(a.entry, b.entry) < 0;
    });
    auto sorted = std::make_shared<std::vector<const char*>>();
    sorted->reserve(keyed.size());
    for (const Keyed& k : keyed) sorted->push_back(k.entry);
    if (!read_only_) return sorted;
    sorted_ = std::move(sorted);
    return sorted_;
  }

  // Storage for iterators RocksDB asked to place in its arena: Arena is not part of RocksDB's public
  // API, so they are placed in memory this rep owns instead. RocksDB destroys such an iterator without
  // freeing it; the bytes go when the memtable does. Few are made: one per flush, and one per DB
  // iterator over this family.
  void* iterator_storage(std::size_t size) {
    std::lock_guard lock(storage_mu_);
    storage_.push_back(
        std::make_unique<std::max_align_t[]>((size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)));
    return storage_.back().get();
  }

  class SortedIterator final : public Iterator {
   public:
    SortedIterator(std::shared_ptr<const std::vector<const char*>> entries, const KeyComparator& comparator)
        : entries_(std::move(entries)), comparator_(comparator), i_(entries_->size()) {}

    bool Valid() const override { return i_ < entries_->size(); }
    const char* key() const override { return (*entries_)[i_]; }
    void Next() override { ++i_; }
    void Prev() override { i_ = i_ == 0 ? entries_->size() : i_ - 1; }
    void Seek(const Slice& internal_key, const char*) override {
      auto it = std::lower_bound(entries_->begin(), entries_->end(), internal_key,
                                 [this](const char* e, const Slice& k) { return comparator_(e, k) < 0; });
      i_ = static_cast<std::size_t>(it - entries_->begin());
    }
    void SeekForPrev(const Slice& internal_key, const char*) override {
      auto it = std::upper_bound(entries_->begin(), entries_->end(), internal_key,
                                 [this](const Slice& k, const char* e) { return comparator_(e, k) > 0; });
      i_ = it == entries_->begin() ? entries_->size() : static_cast<std::size_t>(it - entries_->begin()) - 1;
    }
    void SeekToFirst() override { i_ = 0; }
    void SeekToLast() override { i_ = entries_->empty() ? 0 : entries_->size() - 1; }

   private:
    std::shared_ptr<const std::vector<const char*>> entries_;
    const KeyComparator& comparator_;
    std::size_t i_;
  };

  // Walks the entries of one user key in internal-key order (newest sequence first). It owns no
  // memory (see GetDynamicPrefixIterator); each step rescans the key's short probe chain.
  class PointIterator final : public Iterator {
   public:
    explicit PointIterator(const PointLookupRep& rep) : rep_(rep) {}
    static void operator delete(void*) noexcept {}

    bool Valid() const override { return current_ != nullptr; }
    const char* key() const override { return current_; }
    void Seek(const Slice& internal_key, const char*) override {
      current_ = nearest(
          user_key_of(internal_key), [&](const char* e) { return rep_.comparator_(e, internal_key) >= 0; },
          /*smallest=*/true);
    }
    void Next() override {
      const char* from = current_;
      current_ = nearest(
          user_key(from), [&](const char* e) { return rep_.comparator_(e, from) > 0; }, true);
    }
    void SeekForPrev(const Slice& internal_key, const char*) override {
      current_ = nearest(
          user_key_of(internal_key), [&](const char* e) { return rep_.comparator_(e, internal_key) <= 0; },
          /*smallest=*/false);
    }
    void Prev() override {
      const char* from = current_;
      current_ = nearest(
          user_key(from), [&](const char* e) { return rep_.comparator_(e, from) < 0; }, false);
    }
    // Positioning without a key has no meaning for a point lookup; RocksDB never asks it of the
    // iterator it uses for Get.
    void SeekToFirst() override { current_ = nullptr; }
    void SeekToLast() override { current_ = nullptr; }

   private:
    Slice user_key(const char* entry) const { return user_key_of(rep_.comparator_.decode_key(entry)); }

    // Among the entries with `key` that pass `pass`, the smallest (or largest) in internal-key order.
    template <class Pass>
    const char* nearest(Slice key, Pass&& pass, bool smallest) const {
      std::shared_lock lock(rep_.mu_);
      const char* best = nullptr;
      rep_.for_each_with_user_key(key, [&](const char* e) {
        if (!pass(e)) return;
        if (best == nullptr || (smallest ? rep_.comparator_(e, best) < 0 : rep_.comparator_(e, best) > 0)) best = e;
      });
      return best;
    }

    const PointLookupRep& rep_;
    const char* current_ = nullptr;
  };

  const KeyComparator& comparator_;
  mutable std::shared_mutex mu_;
  std::vector<Slot> slots_;                                 // GUARDED_BY(mu_); open addressing, a power of two
  std::size_t count_ = 0;                                   // GUARDED_BY(mu_)
  bool read_only_ = false;                                  // GUARDED_BY(mu_)
  std::shared_ptr<const std::vector<const char*>> sorted_;  // GUARDED_BY(mu_); set once read-only
  std::atomic<std::size_t> memory_usage_{0};
  std::mutex storage_mu_;
  std::vector<std::unique_ptr<std::max_align_t[]>> storage_;  // GUARDED_BY(storage_mu_)
  const std::shared_ptr<NewestPointLookupRep> newest_;
};

}  // namespace

PointLookupMemTableFactory::PointLookupMemTableFactory() : newest_(std::make_shared<NewestPointLookupRep>()) {}
PointLookupMemTableFactory::~PointLookupMemTableFactory() = default;

rocksdb::MemTableRep* PointLookupMemTableFactory::CreateMemTableRep(
    const rocksdb::MemTableRep::KeyComparator& comparator, rocksdb::Allocator* allocator,
    const rocksdb::SliceTransform*, rocksdb::Logger*) {
  return new PointLookupRep(comparator, allocator, newest_);
}

void PointLookupMemTableFactory::prefetch(std::span<const rocksdb::Slice> user_keys) const {
  std::lock_guard lock(newest_->mu);
  if (newest_->rep != nullptr) newest_->rep->prefetch(user_keys);
}

}  // namespace strata::detail
