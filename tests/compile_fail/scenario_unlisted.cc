// expect: given\(\) was passed an event type that is not in the aggregate's Events<\.\.\.> list
#include "common.h"

class Machine : public strata::Aggregate<Machine, strata::Events<Started>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}
};

int main() { strata::Scenario<Machine>().given(Unlisted{}); }
