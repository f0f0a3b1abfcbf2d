// expect: an upcaster's source \(From\) is not a declared event type
#include "common.h"

struct Raw {
  int n = 0;
};  // no kType, no field table
struct FromRaw {
  using From = Raw;
  static Started upcast(const Raw& r) { return Started{r.n}; }
};

class Machine : public strata::Aggregate<Machine, strata::Events<Started>, strata::Upcasters<FromRaw>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}
};

int main() { Machine m; }
