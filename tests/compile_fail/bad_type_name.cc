// expect: an event's kType must be 1 to 256 characters of
#include "common.h"

struct Spaced {
  static constexpr std::string_view kType = "has spaces.v1";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &Spaced::n));
};

int main() { return static_cast<int>(strata::to_event_data(Spaced{}).payload.size()); }
