// expect: no match for .*operator==.*operand types are .*strata::Version.* and .*strata::Position
// A version and a position are not comparable: equal numbers mean nothing across a stream and the log.
#include <strata/core/event.h>

bool at_its_own_position(const strata::RecordedEvent& e) { return e.version == e.position; }

int main() { return at_its_own_position(strata::RecordedEvent{}) ? 1 : 0; }
