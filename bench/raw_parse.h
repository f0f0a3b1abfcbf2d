// The raw baselines' parse: what a hand-written consumer of the store's bytes does with a payload,
// without the framework. Shared by every benchmark that compares against raw RocksDB + simdjson.
//
//   checksum += strata::bench::parse_every_field(parser, padded, view.payload, "amount");
//
// Thread safety: the parser and buffer belong to the caller's thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::bench {

// Copies `payload` into `padded` with simdjson's padding (as strata's own reader does), parses it with
// On Demand and reads every field: `numeric_key` as a signed integer, the others as strings. Returns a
// checksum of what was read, so the compiler cannot drop the work. Throws simdjson_error on bad input.
inline std::int64_t parse_every_field(simdjson::ondemand::parser& parser, std::string& padded, std::string_view payload,
                                      std::string_view numeric_key) {
  padded.assign(payload);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  auto doc = parser.iterate(padded.data(), payload.size(), padded.size());
  std::int64_t checksum = 0;
  for (auto field : doc.get_object()) {
    std::string_view key = field.unescaped_key();
    if (key == numeric_key) {
      checksum += std::int64_t(field.value());
    } else {
      std::string_view value = field.value();
      checksum += static_cast<std::int64_t>(value.size());
    }
  }
  return checksum;
}

}  // namespace strata::bench
