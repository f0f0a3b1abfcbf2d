// Everything in strata::eventstore, in one include: RocksEventStore, the embedded durable EventStore
// (with its snapshots and its projection storage), and strata::core's user API.
//
// Not included: strata/eventstore/testing/ (opening a store over a fault-injecting file system).
#pragma once

#include "strata/core/core.h"
#include "strata/eventstore/rocks_event_store.h"
