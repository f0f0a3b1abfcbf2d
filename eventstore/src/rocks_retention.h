// Retention in RocksEventStore (core retention.h). Readers apply the policies themselves, so an event
// stops being read the moment a policy removes it (rocks_reads.cc); its bytes go in RocksDB's own
// background compactions, through the compaction filters made here:
//
//   - `log`: a record that a policy removes becomes a tombstone (the position stays; readers pass over
//     it and count it, as for a hard delete);
//   - `events`: a copy or run that a policy removes is dropped, except the entry of a stream's head,
//     which keeps the head (recovery reads it there) and becomes a run of one event, holding no bytes of
//     the event.
//
// A filter removes only what readers no longer see: by age from the commit time in the entry (the
// `log` record's own, a copy's own), by count from the head the commit step last published for the
// stream (RetainedStreams). A stream the registry does not know yet keeps its `events` entries until it
// does; its `log` records still go by age. Runs (appends of 16 events or more) go by count only: they
// hold no event bytes.
//
// The categories that ever had a policy are recorded in `default` (kRetainedCategoriesKey), so that
// verify and open accept the removals of a policy that is gone.
//
// Thread safety: RetainedStreams is internally synchronized; filters run on RocksDB's threads.
#pragma once

#include <rocksdb/compaction_filter.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "strata/core/position.h"
#include "strata/core/retention.h"

namespace strata::detail {

// The streams of retained categories that the store knows, by number, with the head the commit step
// last wrote for each.
class RetainedStreams {
 public:
  struct Entry {
    const RetentionPolicy* policy = nullptr;
    Version head = 0;
  };

  // Records that stream `id`, numbered `number` and covered by `policy`, has reached `head`.
  void note(std::uint64_t number, std::string_view id, const RetentionPolicy* policy, Version head);
  // The stream numbered `number`, when known.
  std::optional<Entry> by_number(std::uint64_t number) const;
  // The head of stream `id`, or 0 when unknown.
  Version head_of(std::string_view id) const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::uint64_t, Entry> by_number_;   // GUARDED_BY(mu_)
  std::unordered_map<std::string, Version> head_by_id_;  // GUARDED_BY(mu_)
};

// The compaction filter factory of the `log` family (for_log) or the `events` family.
std::shared_ptr<rocksdb::CompactionFilterFactory> retention_filter_factory(bool for_log, const Retention* retention,
                                                                           const RetainedStreams* streams,
                                                                           std::function<Timestamp()> now);

// The record of the categories that ever had a policy: sorted, one per line.
std::string encode_retained_categories(const std::set<std::string, std::less<>>& categories);
std::set<std::string, std::less<>> decode_retained_categories(std::string_view value);
// Whether stream `id` is of one of `categories`.
bool in_retained_category(const std::set<std::string, std::less<>>& categories, std::string_view id);

}  // namespace strata::detail
