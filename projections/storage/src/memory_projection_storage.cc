#include "strata/projections/memory_projection_storage.h"

#include "strata/projections/backend/projection_commit.h"
#include "strata/projections/backend/projection_records.h"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <shared_mutex>

namespace strata {

// Everything is kept in its persisted encoding, as a durable storage keeps it, so the encodings are
// exercised by every test that uses this storage.
struct MemoryProjectionStorage::Impl {
  struct Projection {
    std::optional<std::string> state;                               // encode_projection_state
    std::map<std::string, std::string, std::less<>> rows;           // encode_row_key -> value
    std::map<std::pair<Generation, Position>, std::string> parked;  // encode_parked_event
  };

  // The generation a read names: kServingGeneration resolves to the stored state's; nullopt when the
  // projection has no state to resolve it from.
  static Result<std::optional<Generation>> resolve(const Projection& p, Generation generation) {
    if (generation != kServingGeneration) return std::optional<Generation>(generation);
    if (!p.state) return std::optional<Generation>();
    STRATA_ASSIGN_OR_RETURN(ProjectionState s, decode_projection_state(*p.state));
    return std::optional<Generation>(s.generation);
  }

  mutable std::shared_mutex mu;
  std::map<std::string, Projection, std::less<>> projections;  // GUARDED_BY(mu)
};

MemoryProjectionStorage::MemoryProjectionStorage() : impl_(std::make_unique<Impl>()) {}
MemoryProjectionStorage::~MemoryProjectionStorage() = default;

Result<std::optional<ProjectionState>> MemoryProjectionStorage::load_state(std::string_view projection) {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->projections.find(projection);
  if (it == impl_->projections.end() || !it->second.state) return std::optional<ProjectionState>();
  STRATA_ASSIGN_OR_RETURN(ProjectionState s, decode_projection_state(*it->second.state));
  return std::optional<ProjectionState>(s);
}

Status MemoryProjectionStorage::commit(const ProjectionWriteBatch& batch) {
  STRATA_RETURN_IF_ERROR(validate_batch(batch));
  std::unique_lock lock(impl_->mu);
  auto pit = impl_->projections.find(batch.projection());
  // Check everything that can fail before changing anything: the commit is all or nothing.
  if (const auto& change = batch.state_change(); change) {
    std::optional<ProjectionState> actual;
    if (pit != impl_->projections.end() && pit->second.state) {
      STRATA_ASSIGN_OR_RETURN(ProjectionState s, decode_projection_state(*pit->second.state));
      actual = s;
    }
    if (actual != change->expected) return projection_state_conflict(batch.projection(), change->expected, actual);
  }
  if (batch.empty()) return {};
  if (pit == impl_->projections.end()) pit = impl_->projections.emplace(batch.projection(), Impl::Projection{}).first;
  Impl::Projection& p = pit->second;

  for (Generation g : batch.dropped_generations()) {
    const std::string prefix = encode_generation_prefix(g);
    p.rows.erase(p.rows.lower_bound(prefix), p.rows.lower_bound(encode_generation_prefix(g + 1)));
    p.parked.erase(p.parked.lower_bound({g, 0}), p.parked.lower_bound({g + 1, 0}));
  }
  for (const auto& [key, value] : batch.rows()) {
    if (value) {
      p.rows.insert_or_assign(key, *value);
    } else {
      p.rows.erase(key);
    }
  }
  for (const auto& [key, parked] : batch.parked()) {
    if (parked) {
      p.parked.insert_or_assign(key, encode_parked_event(*parked));
    } else {
      p.parked.erase(key);
    }
  }
  if (const auto& change = batch.state_change(); change) p.state = encode_projection_state(change->next);
  return {};
}

Result<std::optional<std::string>> MemoryProjectionStorage::get(std::string_view projection, Generation generation,
                                                                std::string_view model, std::string_view key) {
  std::shared_lock lock(impl_->mu);
  auto pit = impl_->projections.find(projection);
  if (pit == impl_->projections.end()) return std::optional<std::string>();
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, Impl::resolve(pit->second, generation));
  if (!g) return std::optional<std::string>();
  thread_local std::string encoded;
  encode_row_key(encoded, *g, model, key);
  auto it = pit->second.rows.find(encoded);
  if (it == pit->second.rows.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryProjectionStorage::scan(std::string_view projection, Generation generation, std::string_view model,
                                     std::string_view prefix, const ScanOptions& options, RowVisitor visitor) {
  std::shared_lock lock(impl_->mu);
  auto pit = impl_->projections.find(projection);
  if (pit == impl_->projections.end()) return {};
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, Impl::resolve(pit->second, generation));
  if (!g) return {};
  const auto& rows = pit->second.rows;
  const std::string low = encode_row_prefix(*g, model, prefix);
  const std::size_t header = low.size() - prefix.size();
  auto it = rows.lower_bound(low);
  if (!options.start_after.empty()) {
    const std::string after = encode_row_key(*g, model, options.start_after);
    if (after >= low) it = rows.upper_bound(after);
  }
  std::size_t delivered = 0;
  for (; it != rows.end() && delivered < options.max_count && it->first.starts_with(low); ++it, ++delivered)
    STRATA_RETURN_IF_ERROR(visitor(std::string_view(it->first).substr(header), it->second));
  return {};
}

Result<std::vector<ParkedEvent>> MemoryProjectionStorage::list_parked(std::string_view projection,
                                                                      Generation generation, Position after,
                                                                      std::size_t max_count) {
  std::shared_lock lock(impl_->mu);
  std::vector<ParkedEvent> out;
  auto pit = impl_->projections.find(projection);
  if (pit == impl_->projections.end()) return out;
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, Impl::resolve(pit->second, generation));
  if (!g) return out;
  const auto& parked = pit->second.parked;
  for (auto it = parked.upper_bound({*g, after}); it != parked.end() && it->first.first == *g && out.size() < max_count;
       ++it) {
    STRATA_ASSIGN_OR_RETURN(ParkedEvent p, decode_parked_event(it->second));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::optional<ParkedEvent>> MemoryProjectionStorage::get_parked(std::string_view projection,
                                                                       Generation generation, Position position) {
  std::shared_lock lock(impl_->mu);
  auto pit = impl_->projections.find(projection);
  if (pit == impl_->projections.end()) return std::optional<ParkedEvent>();
  STRATA_ASSIGN_OR_RETURN(std::optional<Generation> g, Impl::resolve(pit->second, generation));
  if (!g) return std::optional<ParkedEvent>();
  auto it = pit->second.parked.find({*g, position});
  if (it == pit->second.parked.end()) return std::optional<ParkedEvent>();
  STRATA_ASSIGN_OR_RETURN(ParkedEvent p, decode_parked_event(it->second));
  return std::optional<ParkedEvent>(std::move(p));
}

Result<std::vector<std::string>> MemoryProjectionStorage::list_projections() {
  std::shared_lock lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, p] : impl_->projections)
    if (p.state) out.push_back(name);
  return out;
}

Status MemoryProjectionStorage::drop_projection(std::string_view projection) {
  std::unique_lock lock(impl_->mu);
  if (auto it = impl_->projections.find(projection); it != impl_->projections.end()) impl_->projections.erase(it);
  return {};
}

}  // namespace strata
