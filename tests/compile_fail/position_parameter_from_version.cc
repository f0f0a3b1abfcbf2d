// expect: convert [^ ]*strata::Version[^ ]* to [^ ]*strata::Position
// A stream version passed where the log expects a position does not compile: reading the log "from
// the stream's version" is a mix-up, not a conversion.
#include <strata/core/memory_event_store.h>

int main() {
  strata::MemoryEventStore store;
  const strata::StreamId id = strata::StreamId::parse("account-1").value();
  strata::Version head = store.stream_head(id).value();
  auto slice = store.read_log(head, 100);
  return slice.ok() ? 0 : 1;
}
