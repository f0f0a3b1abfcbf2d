// What the fuzz targets assert. A failed check prints the condition and aborts, so that libFuzzer keeps
// the input as a crash; assert() would be compiled out of the RelWithDebInfo build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

#include "strata/core/status.h"

#define STRATA_FUZZ_CHECK(cond)                                                          \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace strata::fuzz {

inline std::string_view bytes_of(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts unless `status` is OK or carries one of `codes`: decoders fail with typed, documented codes.
inline void check_code(const Status& status, std::initializer_list<StatusCode> codes) {
  if (status.ok()) return;
  for (StatusCode code : codes)
    if (status.code() == code) return;
  std::fprintf(stderr, "fuzz check failed: unexpected status %s\n", status.to_string().c_str());
  std::abort();
}

}  // namespace strata::fuzz
