#include "strata/core/status.h"

#include <doctest/doctest.h>

#include <string>

#include "strata/core/expected_version.h"

using strata::Result;
using strata::Status;
using strata::StatusCode;
using strata::StatusError;
using strata::VersionConflict;

namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Status::invalid_argument(std::string("not a digit: '") + c + "'");
  return c - '0';
}

Result<int> sum_of_digits(char a, char b) {
  STRATA_ASSIGN_OR_RETURN(int x, parse_digit(a));
  STRATA_ASSIGN_OR_RETURN(int y, parse_digit(b));
  return x + y;
}

Status check_digits(char a, char b, int& calls) {
  ++calls;
  STRATA_RETURN_IF_ERROR(parse_digit(a));
  ++calls;
  STRATA_RETURN_IF_ERROR(parse_digit(b).status().with_context("second"));
  ++calls;
  return {};
}

}  // namespace

TEST_CASE("a default status is ok and renders as ok") {
  Status s;
  CHECK(s.ok());
  CHECK(static_cast<bool>(s));
  CHECK(s.code() == StatusCode::kOk);
  CHECK(s.message().empty());
  CHECK(s.to_string() == "ok");
  CHECK(s.version_conflict() == nullptr);
  CHECK(Status(StatusCode::kOk, "ignored") == Status());
}

TEST_CASE("each factory makes its code and renders as code name and message") {
  CHECK(Status::invalid_argument("bad id").to_string() == "invalid argument: bad id");
  CHECK(Status::not_found("stream \"a-1\" not found").to_string() == "not found: stream \"a-1\" not found");
  CHECK(Status::idempotency_conflict("x").to_string() == "idempotency conflict: x");
  CHECK(Status::rejected("insufficient funds").to_string() == "rejected: insufficient funds");
  CHECK(Status::unknown_event_type("x").to_string() == "unknown event type: x");
  CHECK(Status::corruption("x").to_string() == "corruption: x");
  CHECK(Status::io_error("x").to_string() == "io error: x");
  CHECK(Status::unavailable("x").to_string() == "unavailable: x");
  CHECK(Status::cancelled("x").to_string() == "cancelled: x");
  CHECK(Status::internal("x").to_string() == "internal: x");
  Status s = Status::rejected("no");
  CHECK_FALSE(s.ok());
  CHECK_FALSE(static_cast<bool>(s));
  CHECK(s.code() == StatusCode::kRejected);
  CHECK(s.message() == "no");
}

TEST_CASE("status code names are lower case words and the numbers are stable") {
  CHECK(strata::status_code_name(StatusCode::kWrongExpectedVersion) == "wrong expected version");
  CHECK(strata::status_code_name(static_cast<StatusCode>(200)) == "unknown status code");
  CHECK(static_cast<int>(StatusCode::kInvalidArgument) == 1);
  CHECK(static_cast<int>(StatusCode::kInternal) == 11);
}

TEST_CASE("statuses compare by code and message, and copies share the error") {
  Status a = Status::not_found("x");
  Status b = a;
  CHECK(a == b);
  CHECK(b.message().data() == a.message().data());
  CHECK(a == Status::not_found("x"));
  CHECK_FALSE(a == Status::not_found("y"));
  CHECK_FALSE(a == Status::corruption("x"));
}

TEST_CASE("with_context prefixes the message and keeps the code, and ok stays ok") {
  Status s = Status::not_found("stream \"a-1\" not found").with_context("loading account").with_context("transfer");
  CHECK(s.to_string() == "not found: transfer: loading account: stream \"a-1\" not found");
  CHECK(Status().with_context("anything").ok());
  Status original = Status::io_error("disk");
  (void)original.with_context("ctx");
  CHECK(original.message() == "disk");
}

TEST_CASE("wrong_expected_version names the stream and both versions and carries them as data") {
  Status s = Status::wrong_expected_version(VersionConflict{"account-42", strata::ExpectedVersion::exact(3), 5});
  CHECK(s.code() == StatusCode::kWrongExpectedVersion);
  CHECK(s.to_string() == "wrong expected version for stream \"account-42\": expected 3, actual 5");
  REQUIRE(s.version_conflict() != nullptr);
  CHECK(s.version_conflict()->stream == "account-42");
  CHECK(s.version_conflict()->expected == strata::ExpectedVersion::exact(3));
  CHECK(s.version_conflict()->actual_version == 5);

  auto message = [](strata::ExpectedVersion expected, std::uint64_t actual) {
    return std::string(Status::wrong_expected_version(VersionConflict{"s", expected, actual}).message());
  };
  CHECK(message(strata::ExpectedVersion::any(), 2) ==
        "wrong expected version for stream \"s\": expected any, actual 2");
  CHECK(message(strata::ExpectedVersion::no_stream(), 7) ==
        "wrong expected version for stream \"s\": expected no stream, actual 7");
  CHECK(message(strata::ExpectedVersion::stream_exists(), 0) ==
        "wrong expected version for stream \"s\": expected stream exists, actual no stream");
}

TEST_CASE("with_context keeps the version conflict") {
  Status s = Status::wrong_expected_version(VersionConflict{"a-1", strata::ExpectedVersion::exact(1), 2})
                 .with_context("saving");
  CHECK(s.message() == "saving: wrong expected version for stream \"a-1\": expected 1, actual 2");
  REQUIRE(s.version_conflict() != nullptr);
  CHECK(s.version_conflict()->actual_version == 2);
}

TEST_CASE("a result holds a value or an error") {
  Result<std::string> good = std::string("abc");
  CHECK(good.ok());
  CHECK(good.status().ok());
  CHECK(*good == "abc");
  CHECK(good->size() == 3);
  CHECK(good.value() == "abc");
  CHECK(good.value_or("zzz") == "abc");

  Result<std::string> bad = Status::not_found("nothing here");
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.status().to_string() == "not found: nothing here");
  CHECK(bad.value_or("fallback") == "fallback");

  Result<std::string> converted = "from a literal";
  CHECK(converted.value() == "from a literal");
  std::string moved = std::move(converted).value();
  CHECK(moved == "from a literal");
}

TEST_CASE("a result made from an ok status is kInternal, not a value") {
  Result<int> r = Status();
  CHECK(r.status().code() == StatusCode::kInternal);
  CHECK(r.status().message() == "result constructed from an ok status without a value");
}

TEST_CASE("value() on an error throws StatusError carrying the status") {
  Result<int> r = Status::rejected("insufficient funds");
  try {
    (void)r.value();
    FAIL("value() did not throw");
  } catch (const StatusError& e) {
    CHECK(e.status() == Status::rejected("insufficient funds"));
    CHECK(std::string(e.what()) == "rejected: insufficient funds");
  }
  const Result<int>& cr = r;
  CHECK_THROWS_AS((void)cr.value(), StatusError);
  CHECK_THROWS_AS((void)std::move(r).value(), StatusError);
  CHECK_THROWS_WITH_AS(strata::throw_if_error(Status::corruption("bad bytes")), "corruption: bad bytes", StatusError);
  CHECK_NOTHROW(strata::throw_if_error(Status()));
}

TEST_CASE("STRATA_ASSIGN_OR_RETURN assigns values and returns the first error") {
  CHECK(sum_of_digits('3', '4').value() == 7);
  CHECK(sum_of_digits('x', '4').status().to_string() == "invalid argument: not a digit: 'x'");
  CHECK(sum_of_digits('3', 'y').status().to_string() == "invalid argument: not a digit: 'y'");
}

TEST_CASE("STRATA_RETURN_IF_ERROR returns the status of a failed Status or Result and goes on otherwise") {
  int calls = 0;
  CHECK(check_digits('1', '2', calls).ok());
  CHECK(calls == 3);
  calls = 0;
  CHECK(check_digits('a', '2', calls).to_string() == "invalid argument: not a digit: 'a'");
  CHECK(calls == 1);
  calls = 0;
  CHECK(check_digits('1', 'b', calls).to_string() == "invalid argument: second: not a digit: 'b'");
  CHECK(calls == 2);
}
