// expect: an upcaster returns a type that is neither in Events<\.\.\.> nor the source of another upcaster
#include "common.h"

struct StartedV0 {
  static constexpr std::string_view kType = "cf.started.v0";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &StartedV0::n));
};
struct ToUnlisted {
  using From = StartedV0;
  static Unlisted upcast(const StartedV0& e) { return Unlisted{e.n}; }
};

class Machine : public strata::Aggregate<Machine, strata::Events<Started>, strata::Upcasters<ToUnlisted>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}
};

int main() { Machine m; }
