// expect: kFields .*is private or protected
// An aggregate whose state field table is private would silently get no snapshots.
#include "common.h"

class Hidden : public strata::Aggregate<Hidden, strata::Events<Started>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}
  std::int64_t balance_ = 0;
  static constexpr auto kFields = strata::fields(strata::field("balance", &Hidden::balance_));
};

int main() {
  strata::MemoryEventStore store;
  strata::Repository<Hidden> repo(store);
  return 0;
}
