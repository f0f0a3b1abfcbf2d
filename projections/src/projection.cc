#include "strata/projections/projection.h"

#include <fmt/format.h>

#include <exception>

#include "strata/core/backend/metadata_encoding.h"
#include "strata/projections/event_sink.h"
#include "strata/projections/read_model.h"

namespace strata {

ProjectionHandler::~ProjectionHandler() = default;
EventSink::~EventSink() = default;

Result<std::reference_wrapper<const Metadata>> EventContext::metadata() const {
  if (!metadata_) {
    Metadata m;
    Status s = decode_metadata(event_->encoded_metadata, m);
    if (!s.ok())
      return s.with_context(fmt::format("metadata of event {}@{} (position {})", event_->stream_id,
                                        event_->version.value(), event_->position.value()));
    metadata_ = std::move(m);
  }
  return std::cref(*metadata_);
}

namespace detail {

// Exceptions thrown by user code stop here. Nothing else in the projector catches: code that cannot
// throw other than by running out of memory is not wrapped.
Status guarded_call(FunctionRef<Status()> fn, std::string_view what) noexcept {
  try {
    return fn();
  } catch (const std::exception& e) {
    try {
      return Status::internal(fmt::format("{} threw an exception: {}", what, e.what()));
    } catch (...) {
      return Status(StatusCode::kInternal, std::string());
    }
  } catch (...) {
    try {
      return Status::internal(fmt::format("{} threw an exception that is not a std::exception", what));
    } catch (...) {
      return Status(StatusCode::kInternal, std::string());
    }
  }
}

Status in_handler(const Status& status, const EventView& event) {
  return status.with_context(fmt::format("handling {} {}@{} (position {})", event.type, event.stream_id,
                                         event.version.value(), event.position.value()));
}

Status missing_upcaster(std::string_view projection, std::string_view stored, std::string_view handled) {
  return Status::unknown_event_type(
      fmt::format("projection \"{}\" handles \"{}\" but cannot read the stored \"{}\", another version of it: list an "
                  "upcaster from it in the projection's strata::Upcasters<...>, or retire the type with "
                  "strata::Retired<\"{}\">",
                  projection, handled, stored, stored));
}

const Limits& read_model_row_limits() noexcept {
  static const Limits limits = [] {
    Limits l;
    l.max_payload_bytes = std::size_t{64} << 20;
    return l;
  }();
  return limits;
}

Status undecodable_row(const Status& status, std::string_view model, std::string_view key) {
  return Status::corruption(
      fmt::format("read model \"{}\", row \"{}\" does not decode: {}", model, key, status.to_string()));
}

}  // namespace detail

namespace {
Status check_model(std::string_view model) {
  if (model.empty() || model.size() > kMaxReadModelNameBytes)
    return Status::invalid_argument(
        fmt::format("read-model name has {} bytes, expected 1 to {}", model.size(), kMaxReadModelNameBytes));
  return {};
}

class SinkHandler final : public ProjectionHandler {
 public:
  SinkHandler(EventSink& sink, std::string name) : sink_(sink), name_(std::move(name)) {}
  std::string_view name() const noexcept override { return name_; }
  bool knows(std::string_view type) const noexcept override { return sink_.wants(type); }
  Status apply(const EventView& event, ReadModelTx&, const Limits&) override {
    Status s = detail::guarded_call([&] { return sink_.deliver(event); }, "event sink");
    return s.ok() ? s : detail::in_handler(s, event);
  }
  Status flush() override {
    Status s = detail::guarded_call([&] { return sink_.acknowledge(); }, "event sink");
    return s.ok() ? s : s.with_context(fmt::format("sink of projection \"{}\" did not acknowledge", name_));
  }
  bool has_read_models() const noexcept override { return false; }

 private:
  EventSink& sink_;
  std::string name_;
};
}  // namespace

std::unique_ptr<ProjectionHandler> make_sink_handler(EventSink& sink, std::string name) {
  return std::make_unique<SinkHandler>(sink, std::move(name));
}

Result<std::optional<std::string>> ReadModelTx::get(std::string_view model, std::string_view key) const {
  STRATA_RETURN_IF_ERROR(check_model(model));
  return batch_.get(storage_, generation_, model, key);
}

Status ReadModelTx::scan(std::string_view model, std::string_view prefix, const ScanOptions& options,
                         RowVisitor visitor) const {
  STRATA_RETURN_IF_ERROR(check_model(model));
  return batch_.scan(storage_, generation_, model, prefix, options, visitor);
}

Status ReadModelTx::put(std::string_view model, std::string_view key, std::string_view value) {
  STRATA_RETURN_IF_ERROR(check_model(model));
  batch_.put(generation_, model, key, value);
  return {};
}

Status ReadModelTx::erase(std::string_view model, std::string_view key) {
  STRATA_RETURN_IF_ERROR(check_model(model));
  batch_.erase(generation_, model, key);
  return {};
}

ProjectionWriteBatch::ObjectLookup ReadModelTx::find_object(std::string_view model, std::string_view key) const {
  if (!check_model(model).ok()) return {};
  return batch_.find_object(generation_, model, key);
}

Status ReadModelTx::put_object(std::string_view model, std::string_view key, std::unique_ptr<RowObject> row) {
  STRATA_RETURN_IF_ERROR(check_model(model));
  batch_.put_object(generation_, model, key, std::move(row));
  return {};
}

void ReadModelTx::cache_object(std::string_view model, std::string_view key, std::unique_ptr<RowObject> row) {
  batch_.cache_object(generation_, model, key, std::move(row));
}

Result<std::optional<std::string>> ReadModelReader::get(std::string_view model, std::string_view key) const {
  STRATA_RETURN_IF_ERROR(check_model(model));
  return storage_->get(projection_, generation_, model, key);
}

Status ReadModelReader::scan(std::string_view model, std::string_view prefix, const ScanOptions& options,
                             RowVisitor visitor) const {
  STRATA_RETURN_IF_ERROR(check_model(model));
  // The storage holds a lock while it visits; copy the page out so the visitor may read again.
  std::vector<std::pair<std::string, std::string>> rows;
  STRATA_RETURN_IF_ERROR(storage_->scan(projection_, generation_, model, prefix, options,
                                        [&](std::string_view k, std::string_view v) -> Status {
                                          rows.emplace_back(k, v);
                                          return {};
                                        }));
  for (const auto& [k, v] : rows) STRATA_RETURN_IF_ERROR(visitor(k, v));
  return {};
}

}  // namespace strata
