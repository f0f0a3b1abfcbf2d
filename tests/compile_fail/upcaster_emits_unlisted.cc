// expect: an upcaster produces an event type that is neither in Events<\.\.\.> nor the source of another upcaster
#include "common.h"

struct StartedV0 {
  static constexpr std::string_view kType = "cf.started.v0";
  int n = 0;
  static constexpr auto kFields = strata::fields(strata::field("n", &StartedV0::n));
};
struct SplitToUnlisted {
  using From = StartedV0;
  template <class Emit>
  static void upcast(const StartedV0& e, Emit& emit) {
    emit(Started{e.n});
    emit(Unlisted{e.n});
  }
};

class Machine : public strata::Aggregate<Machine, strata::Events<Started>, strata::Upcasters<SplitToUnlisted>> {
 private:
  friend Aggregate;
  void apply(const Started&) {}
};

// Loading instantiates the dispatch of stored records, where emitted types are checked.
int main() {
  strata::Fold<Machine> fold;
  strata::EventView view;
  return fold.apply(view).ok() ? 0 : 1;
}
