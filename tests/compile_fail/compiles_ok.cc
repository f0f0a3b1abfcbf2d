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

// With its state's field table public, an aggregate gets snapshots.
class Counted : public strata::Aggregate<Counted, strata::Events<Started>> {
  friend Aggregate;
  void apply(const Started&) { ++count_; }
  std::int32_t count_ = 0;

 public:
  static constexpr auto kFields = strata::fields(strata::field("count", &Counted::count_));
};
static_assert(strata::Snapshottable<Counted>);
static_assert(!strata::Snapshottable<Machine>);

int main() {
  strata::MemoryEventStore store;
  strata::Repository<Counted> counted(store);
  Machine m;
  m.start();
  return strata::Scenario<Machine>().given(Started{1}).when([](Machine& x) { x.start(); }).then(Started{1}) ? 0 : 1;
}
