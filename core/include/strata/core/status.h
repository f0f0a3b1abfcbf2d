// Status and Result<T>: how every fallible strata function reports failure.
//
// A Status is either OK or carries a StatusCode, a lower-case message that names the object and both
// sides of any mismatch, and, for kWrongExpectedVersion, the two versions as data. Result<T> holds a T
// or a non-OK Status. No exception crosses the strata API; Result<T>::value() on an error throws
// StatusError, which is meant for samples and tests.
//
//   strata::Result<strata::StreamId> id = strata::StreamId::parse("account-42");
//   if (!id.ok()) return id.status();                 // propagate
//   STRATA_ASSIGN_OR_RETURN(auto head, store.stream_head(*id));
//
// Thread safety: Status and Result are values; distinct objects may be used from distinct threads, and
// a const object may be shared. An OK Status allocates nothing; an error shares its immutable state
// between copies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/core/expected_version.h"

namespace strata {

// The typed failure codes. Each says how the caller should react. Persisted nowhere; still, never
// renumber them: tools print the numbers.
enum class StatusCode : std::uint8_t {
  kOk = 0,
  // The input is wrong (bad stream id, oversized or malformed event, limit exceeded). Fix the input;
  // retrying the same call fails the same way. Nothing was written.
  kInvalidArgument = 1,
  // The stream, snapshot or record does not exist. Create it, or treat absence as a normal answer.
  kNotFound = 2,
  // Optimistic concurrency: the stream is not at the expected version. Reload, re-decide, retry.
  // status.version_conflict() carries both versions.
  kWrongExpectedVersion = 3,
  // Some, but not all, of the event ids of an append were already committed, or were committed to a
  // different stream. A client bug: retries must resend exactly the original append.
  kIdempotencyConflict = 4,
  // A command was refused by a business rule (insufficient funds). Report it to the user.
  kRejected = 5,
  // A stored event's type is not known to the code reading it. Deploy code that knows it, or
  // register an upcaster.
  kUnknownEventType = 6,
  // Stored data is damaged or not in a format this build understands. Operator attention needed.
  kCorruption = 7,
  // The disk or the file system failed. Writes are refused until the store is reopened.
  kIOError = 8,
  // The service is not available now (store closed, fail-stopped, broker down). Retry later, with
  // the same event ids so that the retry is idempotent.
  kUnavailable = 9,
  // The operation was cancelled (shutdown). Not an error of the data.
  kCancelled = 10,
  // A bug in strata or in a user handler (an exception escaped). Report it.
  kInternal = 11,
  // The stream was deleted (EventStore::delete_stream): its events are not readable, and appends are
  // refused (a soft-deleted stream is recreated only by an append expecting no_stream()).
  kStreamDeleted = 12,
  // The versions asked for were removed by a truncation or by retention (EventStore::truncate_stream);
  // the stream's events from StreamInfo::first_version on are still there. Load from a snapshot at or
  // above that version, or read from there.
  kStreamTruncated = 13,
};

// The enumerator's name without the leading k, in lower case with spaces: "wrong expected version".
std::string_view status_code_name(StatusCode code) noexcept;

// The two sides of an optimistic-concurrency conflict, as data.
struct VersionConflict {
  std::string stream;
  // What the append expected of the stream's head.
  ExpectedVersion expected = ExpectedVersion::any();
  // The head it found; 0 means the stream does not exist.
  Version actual_version = 0;
};

class [[nodiscard]] Status {
 public:
  // OK.
  Status() noexcept = default;
  Status(StatusCode code, std::string message);

  static Status invalid_argument(std::string message) { return {StatusCode::kInvalidArgument, std::move(message)}; }
  static Status not_found(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
  static Status idempotency_conflict(std::string message) {
    return {StatusCode::kIdempotencyConflict, std::move(message)};
  }
  static Status rejected(std::string message) { return {StatusCode::kRejected, std::move(message)}; }
  static Status unknown_event_type(std::string message) { return {StatusCode::kUnknownEventType, std::move(message)}; }
  static Status corruption(std::string message) { return {StatusCode::kCorruption, std::move(message)}; }
  static Status io_error(std::string message) { return {StatusCode::kIOError, std::move(message)}; }
  static Status unavailable(std::string message) { return {StatusCode::kUnavailable, std::move(message)}; }
  static Status cancelled(std::string message) { return {StatusCode::kCancelled, std::move(message)}; }
  static Status internal(std::string message) { return {StatusCode::kInternal, std::move(message)}; }
  // kWrongExpectedVersion with the message
  //   wrong expected version for stream "account-42": expected 3, actual 5
  static Status wrong_expected_version(VersionConflict conflict);
  // kWrongExpectedVersion naming every stream of a multi-stream append whose expectation failed:
  //   wrong expected version for streams "a-1": expected 3, actual 5; "b-2": expected no stream, actual 1
  // One conflict gives the same status as wrong_expected_version(). REQUIRES: conflicts not empty.
  static Status wrong_expected_versions(std::vector<VersionConflict> conflicts);

  bool ok() const noexcept { return rep_ == nullptr; }
  explicit operator bool() const noexcept { return ok(); }
  StatusCode code() const noexcept { return rep_ ? rep_->code : StatusCode::kOk; }
  // The message without the code; empty for OK.
  std::string_view message() const noexcept { return rep_ ? std::string_view(rep_->message) : std::string_view(); }
  // Set only for kWrongExpectedVersion: the (first) stream whose expectation failed.
  const VersionConflict* version_conflict() const noexcept {
    return rep_ && !rep_->conflicts.empty() ? &rep_->conflicts.front() : nullptr;
  }
  // Every stream whose expectation failed (one for a single-stream append); empty unless
  // kWrongExpectedVersion.
  std::span<const VersionConflict> version_conflicts() const noexcept {
    return rep_ ? std::span<const VersionConflict>(rep_->conflicts) : std::span<const VersionConflict>();
  }
  // "ok", or "<code name>: <message>" (just the message when it starts with the code name).
  std::string to_string() const;

  // A copy whose message is "<context>: <message>"; OK stays OK. Keeps code and conflict.
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::vector<VersionConflict> conflicts;
  };
  std::shared_ptr<const Rep> rep_;
};

// Thrown only by Result<T>::value() and Status-checking helpers meant for samples and tests.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(Status status);
  const Status& status() const noexcept { return status_; }

 private:
  Status status_;
};

// Throws StatusError when `status` is not OK. For samples and tests.
void throw_if_error(const Status& status);

template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "strata: Result<T> holds values; use Result<std::reference_wrapper<T>>");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "strata: Result<Status> is meaningless; use Status");

 public:
  // REQUIRES: !status.ok(). An OK status without a value becomes kInternal.
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status::internal("result constructed from an ok status without a value");
  }
  Result(const T& value) : value_(value) {}        // NOLINT(google-explicit-constructor)
  Result(T&& value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  template <class U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
           !std::is_same_v<std::remove_cvref_t<U>, Status> && !std::is_same_v<std::remove_cvref_t<U>, Result>)
      Result(U&& value)
      : value_(std::forward<U>(value)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  // OK when a value is held. On a temporary it returns a copy, so that
  // STRATA_RETURN_IF_ERROR(repo.save(a).status()) never holds a reference into a dead Result.
  const Status& status() const& noexcept { return status_; }
  Status status() && noexcept { return std::move(status_); }

  // The value; throws StatusError on an error.
  T& value() & {
    if (!ok()) throw StatusError(status_);
    return *value_;
  }
  const T& value() const& {
    if (!ok()) throw StatusError(status_);
    return *value_;
  }
  T&& value() && {
    if (!ok()) throw StatusError(status_);
    return std::move(*value_);
  }
  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

  // REQUIRES: ok().
  T& operator*() & noexcept { return *value_; }
  const T& operator*() const& noexcept { return *value_; }
  T&& operator*() && noexcept { return std::move(*value_); }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

namespace detail {
inline Status to_status(const Status& s) { return s; }
inline Status to_status(Status&& s) { return std::move(s); }
template <class T>
Status to_status(const Result<T>& r) {
  return r.status();
}
}  // namespace detail

}  // namespace strata

#define STRATA_CONCAT_INNER_(a, b) a##b
#define STRATA_CONCAT_(a, b) STRATA_CONCAT_INNER_(a, b)

// Returns the Status of `expr` (a Status or a Result) from the enclosing function when it is an error.
// Nests: `expr` may hold a lambda that uses the macro again (each use names its own variable).
#define STRATA_RETURN_IF_ERROR(expr) \
  STRATA_RETURN_IF_ERROR_IMPL_(STRATA_CONCAT_(strata_status_or_result_, __COUNTER__), expr)
#define STRATA_RETURN_IF_ERROR_IMPL_(tmp, expr)             \
  do {                                                      \
    auto&& tmp = (expr);                                    \
    if (!tmp.ok()) return ::strata::detail::to_status(tmp); \
  } while (false)

// `lhs` = the value of the Result `expr`, or return its Status from the enclosing function.
#define STRATA_ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_ASSIGN_OR_RETURN_IMPL_(STRATA_CONCAT_(strata_result_, __COUNTER__), lhs, expr)
#define STRATA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(*tmp)
