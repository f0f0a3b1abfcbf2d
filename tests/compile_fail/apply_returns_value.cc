// expect: apply\(\) must return void
#include "common.h"

class Machine : public strata::Aggregate<Machine, strata::Events<Started>> {
 private:
  friend Aggregate;
  bool apply(const Started&) { return true; }
};

int main() { Machine m; }
