#include "strata/core/status.h"

#include <string>

#include "strata/core/expected_version.h"

namespace strata {

std::string_view status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kWrongExpectedVersion:
      return "wrong expected version";
    case StatusCode::kIdempotencyConflict:
      return "idempotency conflict";
    case StatusCode::kRejected:
      return "rejected";
    case StatusCode::kUnknownEventType:
      return "unknown event type";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kIOError:
      return "io error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown status code";
}

Status::Status(StatusCode code, std::string message) {
  if (code == StatusCode::kOk) return;
  rep_ = std::make_shared<const Rep>(Rep{code, std::move(message), std::nullopt});
}

namespace {
std::string expected_text(const VersionConflict& c) { return c.expected.to_string(); }
}  // namespace

Status Status::wrong_expected_version(VersionConflict conflict) {
  std::string message =
      "wrong expected version for stream \"" + conflict.stream + "\": expected " + expected_text(conflict) +
      ", actual " +
      (conflict.actual_version == 0 ? std::string("no stream") : strata::to_string(conflict.actual_version));
  Status s;
  s.rep_ = std::make_shared<const Rep>(Rep{StatusCode::kWrongExpectedVersion, std::move(message), std::move(conflict)});
  return s;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  // Some messages already start with their code's name ("wrong expected version for stream ...").
  if (message().starts_with(status_code_name(code()))) return std::string(message());
  std::string s(status_code_name(code()));
  s += ": ";
  s += message();
  return s;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += rep_->message;
  Status s;
  s.rep_ = std::make_shared<const Rep>(Rep{rep_->code, std::move(message), rep_->conflict});
  return s;
}

StatusError::StatusError(Status status) : std::runtime_error(status.to_string()), status_(std::move(status)) {}

void throw_if_error(const Status& status) {
  if (!status.ok()) throw StatusError(status);
}

std::string ExpectedVersion::to_string() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no stream";
    case Kind::kStreamExists:
      return "stream exists";
    case Kind::kExact:
      break;
  }
  return strata::to_string(version_);
}

}  // namespace strata
