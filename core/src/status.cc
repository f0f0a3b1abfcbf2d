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
    case StatusCode::kStreamDeleted:
      return "stream deleted";
    case StatusCode::kStreamTruncated:
      return "stream truncated";
  }
  return "unknown status code";
}

Status::Status(StatusCode code, std::string message) {
  if (code == StatusCode::kOk) return;
  rep_ = std::make_shared<const Rep>(Rep{code, std::move(message), {}});
}

namespace {
// "\"account-42\": expected 3, actual 5"
std::string conflict_text(const VersionConflict& c) {
  return "\"" + c.stream + "\": expected " + c.expected.to_string() + ", actual " +
         (c.actual_version == 0 ? std::string("no stream") : strata::to_string(c.actual_version));
}
}  // namespace

Status Status::wrong_expected_version(VersionConflict conflict) {
  std::vector<VersionConflict> conflicts;
  conflicts.push_back(std::move(conflict));
  return wrong_expected_versions(std::move(conflicts));
}

Status Status::wrong_expected_versions(std::vector<VersionConflict> conflicts) {
  std::string message =
      conflicts.size() == 1 ? "wrong expected version for stream " : "wrong expected version for streams ";
  for (std::size_t i = 0; i < conflicts.size(); ++i) {
    if (i > 0) message += "; ";
    message += conflict_text(conflicts[i]);
  }
  Status s;
  s.rep_ =
      std::make_shared<const Rep>(Rep{StatusCode::kWrongExpectedVersion, std::move(message), std::move(conflicts)});
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
  s.rep_ = std::make_shared<const Rep>(Rep{rep_->code, std::move(message), rep_->conflicts});
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
