// expect: conversion from [^ ]*strata::Position[^ ]* to non-scalar type [^ ]*strata::Version
// A log position is not a stream version: assigning one to the other does not compile, even though both
// are built implicitly from a plain number.
#include <strata/core/memory_event_store.h>

int main() {
  strata::MemoryEventStore store;
  strata::Version last_seen = store.head_position();
  return static_cast<int>(last_seen.value());
}
