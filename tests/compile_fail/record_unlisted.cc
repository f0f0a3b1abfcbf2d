// expect: record\(\) was given an event type that is not in this aggregate's Events<\.\.\.> list
#include "common.h"

class Machine : public strata::Aggregate<Machine, strata::Events<Started, Stopped>> {
 public:
  void oops() { record(Unlisted{}); }

 private:
  friend Aggregate;
  void apply(const Started&) {}
  void apply(const Stopped&) {}
};

int main() {
  Machine m;
  m.oops();
}
