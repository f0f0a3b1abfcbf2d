// strata's number model — integers that fit in 64 bits and finite doubles — and the reasons a number
// outside it is refused, by scanning its text: simdjson refuses such numbers as merely malformed, and
// these say which number and why. Only on error paths, and when writing a non-finite double.
#include "json_numbers.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace strata::json {

std::string shown(std::string_view text) {
  if (text.size() > 40) return fmt::format("{}...", text.substr(0, 40));
  return std::string(text);
}

std::string_view non_finite_spelling(double value) noexcept {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "Infinity" : "-Infinity";
}

namespace {

// Whether `t` is a number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) noexcept {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

// The power of ten of the first significant digit of JSON number `t` (1e400: 400, 0.001: -3, 12e-5: -4),
// clamped to about ±2^40: its sign tells an overflowing number from an underflowing one.
std::int64_t decimal_magnitude(std::string_view t) noexcept {
  constexpr std::int64_t kClamp = std::int64_t{1} << 40;
  std::size_t i = !t.empty() && t.front() == '-' ? 1 : 0;
  std::int64_t integer_digits = 0;  // significant digits before the point
  std::int64_t leading_zeros = 0;   // zeros after the point before the first significant digit
  bool significant = false;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
    significant = significant || t[i] != '0';
    if (significant) integer_digits = std::min(integer_digits + 1, kClamp);
  }
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      if (integer_digits > 0 || significant) continue;
      if (t[i] == '0') {
        leading_zeros = std::min(leading_zeros + 1, kClamp);
      } else {
        significant = true;
      }
    }
  }
  if (!significant) return -kClamp;  // zero never overflows
  std::int64_t exponent = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    const bool negative = i < t.size() && t[i] == '-';
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) exponent = std::min(exponent * 10 + (t[i] - '0'), kClamp);
    if (negative) exponent = -exponent;
  }
  return (integer_digits > 0 ? integer_digits - 1 : -(leading_zeros + 1)) + exponent;
}

bool equals_lower(std::string_view text, std::string_view lower) noexcept {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))) != lower[i]) return false;
  return true;
}

}  // namespace

// Why strata refuses the scalar token `t` as a number, or OK when it does not (it is a valid number in
// the model, a literal, or not number-like at all).
Status refused_number(std::string_view t) {
  std::string_view body = t;
  if (!body.empty() && (body.front() == '-' || body.front() == '+')) body.remove_prefix(1);
  if (equals_lower(body, "nan") || equals_lower(body, "inf") || equals_lower(body, "infinity"))
    return Status::invalid_argument(fmt::format("non-finite number {}: {}", shown(t), kNumberModel));
  if (!is_json_number(t)) return {};
  if (t.find_first_of(".eE") == std::string_view::npos) {
    std::int64_t i;
    std::uint64_t u;
    bool fits = t.front() == '-' ? std::from_chars(t.data(), t.data() + t.size(), i).ec == std::errc()
                                 : std::from_chars(t.data(), t.data() + t.size(), u).ec == std::errc();
    if (!fits)
      return Status::invalid_argument(
          fmt::format("number out of range: {} is an integer beyond 64 bits; {}", shown(t), kNumberModel));
    return {};
  }
  // Underflow reads as zero (or a subnormal), as simdjson reads it; only overflow is refused.
  double d;
  if (std::from_chars(t.data(), t.data() + t.size(), d).ec == std::errc::result_out_of_range &&
      decimal_magnitude(t) > 0)
    return Status::invalid_argument(
        fmt::format("number out of range: {} is beyond the range of a double; {}", shown(t), kNumberModel));
  return {};
}

// After a failed full parse: the first number in `bytes` that strata's number model refuses (a spelling
// of NaN or infinity, an integer beyond 64 bits, a double that overflows), named with the object key it
// is the value of (or inside), so that such a document is refused for what it is rather than as
// malformed. OK when there is none: the document is malformed in some other way. Strings are skipped
// with their escapes; only called on the error path.
Status refused_number_in(std::string_view bytes) {
  std::string_view key;
  std::size_t i = 0;
  while (i < bytes.size()) {
    const char c = bytes[i];
    if (c == '"') {
      std::size_t end = i + 1;
      while (end < bytes.size() && bytes[end] != '"') end += bytes[end] == '\\' ? 2 : 1;
      end = std::min(end, bytes.size());
      const std::size_t next = bytes.find_first_not_of(" \t\r\n", end + 1 < bytes.size() ? end + 1 : bytes.size());
      if (next != std::string_view::npos && bytes[next] == ':') key = bytes.substr(i + 1, end - i - 1);
      i = end + 1;
      continue;
    }
    if (c == '-' || c == '+' || c == '.' || std::isalnum(static_cast<unsigned char>(c))) {
      std::size_t end = bytes.find_first_of(" \t\r\n,:[]{}\"", i);
      if (end == std::string_view::npos) end = bytes.size();
      Status s = refused_number(bytes.substr(i, end - i));
      if (!s.ok()) return key.empty() ? s : s.with_context(fmt::format("field \"{}\"", shown(key)));
      i = end;
      continue;
    }
    ++i;
  }
  return {};
}

}  // namespace strata::json

namespace strata::detail {
Status non_finite_number(double value) {
  return Status::invalid_argument(
      fmt::format("non-finite number {}: {}", json::non_finite_spelling(value), json::kNumberModel));
}
}  // namespace strata::detail
