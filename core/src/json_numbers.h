// strata's number model, for json.cc: integers that fit in 64 bits (int64 or uint64) and finite
// doubles. The functions scan a number's text; none includes simdjson.
#pragma once

#include <string>
#include <string_view>

#include "strata/core/status.h"

namespace strata::json {

// Said whenever a number is refused for being outside the model.
inline constexpr std::string_view kNumberModel =
    "strata's numbers are integers that fit in 64 bits (int64 or uint64) and finite doubles";

// `text` for a message, shortened if long (a token may be as long as the document).
std::string shown(std::string_view text);

// How the writer spells a non-finite double ("NaN", "Infinity", "-Infinity"): no JSON parser reads it.
std::string_view non_finite_spelling(double value) noexcept;

// Why strata refuses the scalar token `t` as a number, or OK when it does not (it is a valid number in
// the model, a literal, or not number-like at all).
[[nodiscard]] Status refused_number(std::string_view t);

// After a failed full parse: the first number in `bytes` the model refuses, named with the object key
// it is the value of; OK when there is none.
[[nodiscard]] Status refused_number_in(std::string_view bytes);

}  // namespace strata::json
