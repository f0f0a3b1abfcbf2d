// expect: have the same kType; persisted names must be unique
#include "common.h"

struct StartedAgain {
  static constexpr std::string_view kType = "cf.started.v1";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &StartedAgain::n));
};

class Machine : public strata::Aggregate<Machine, strata::Events<Started, StartedAgain>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}
  void apply(const StartedAgain&) {}
};

int main() { Machine m; }
