// A saga's stream as strata folds it (messaging/include/strata/messaging/saga_records.h): SagaState::fold
// of records of arbitrary types and payloads. The input is one record per line, `type payload`.
//
// Invariants: folding fails only with kInvalidArgument (a payload that does not decode) or
// kUnknownEventType (a type strata does not know); whatever was folded, the state stays consistent:
// at most one pending command per step and kind, no more pending deadlines than were ever scheduled.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "strata/messaging/saga_records.h"

namespace {

void check_state(const strata::SagaState& s) {
  STRATA_FUZZ_CHECK(s.deadlines.size() <= s.deadlines_scheduled);
  for (std::size_t i = 0; i < s.commands.size(); ++i)
    for (std::size_t j = i + 1; j < s.commands.size(); ++j)
      STRATA_FUZZ_CHECK(s.commands[i].step != s.commands[j].step ||
                        s.commands[i].compensation != s.commands[j].compensation);
  STRATA_FUZZ_CHECK(strata::saga_phase_name(s.phase) != "unknown");
  STRATA_FUZZ_CHECK(s.phase != strata::SagaPhase::kNew);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::StatusCode;
  std::string_view in = strata::fuzz::bytes_of(data, size);
  strata::SagaState state;
  while (!in.empty()) {
    const std::size_t end = in.find('\n');
    std::string_view line = in.substr(0, end);
    in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
    const std::size_t space = line.find(' ');
    const std::string_view type = line.substr(0, space);
    const std::string_view payload = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    strata::Status s = state.fold(type, payload);
    strata::fuzz::check_code(s, {StatusCode::kInvalidArgument, StatusCode::kUnknownEventType});
    check_state(state);
  }
  return 0;
}
