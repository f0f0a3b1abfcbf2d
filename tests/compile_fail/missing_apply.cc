// expect: the aggregate has no apply\(const E&\) for an event in its Events<\.\.\.> list
#include "common.h"

class Machine : public strata::Aggregate<Machine, strata::Events<Started, Stopped>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}  // no apply(const Stopped&)
};

int main() { Machine m; }
