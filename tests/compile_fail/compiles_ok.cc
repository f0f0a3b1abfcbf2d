// expect-success
// The control case: the same harness compiles a correct aggregate, so the failures below fail for the
// reason their message names and not because the harness is broken.
#include "common.h"

class Machine : public strata::Aggregate<Machine, strata::Events<Started, Stopped>> {
 public:
  void start() { record(Started{1}); }

 private:
  friend Aggregate;
  void apply(const Started&) {}
  void apply(const Stopped&) {}
};

int main() {
  Machine m;
  m.start();
  return strata::Scenario<Machine>().given(Started{1}).when([](Machine& x) { x.start(); }).then(Started{1}) ? 0 : 1;
}
