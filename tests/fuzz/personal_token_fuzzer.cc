// PersonalData::reveal (core personal_data.h) of arbitrary payloads, with a key store that knows subject
// "s" (with a key of fixed bytes, so that seeds sealed with it open) and "f" (forgotten).
//
// Invariants: reveal never reads outside the payload or crashes; it fails only with kCorruption (or a
// key store's error, which this one never returns); a payload without the token prefix comes back as it
// is; a revealed payload holds no token of a known subject any more.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/core/personal_data.h"

namespace {

strata::MemorySubjectKeyStore& keys() {
  static strata::MemorySubjectKeyStore* store = [] {
    auto* k = new strata::MemorySubjectKeyStore();
    (void)k->create_key("s", std::string(32, '\x5a'));
    (void)k->create_key("f", std::string(32, '\x33'));
    (void)k->destroy_key("f");
    return k;
  }();
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static strata::PersonalData personal(keys());
  const std::string_view payload = strata::fuzz::bytes_of(data, size);
  std::string scratch;
  auto revealed = personal.reveal(payload, scratch);
  if (!revealed.ok()) {
    strata::fuzz::check_code(revealed.status(), {strata::StatusCode::kCorruption});
    return 0;
  }
  if (!strata::PersonalData::may_hold_tokens(payload)) STRATA_FUZZ_CHECK(revealed->data() == payload.data());
  return 0;
}
