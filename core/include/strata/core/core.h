// What a user of aggregates and repositories touches, in one include: status codes and results, stream
// and event ids, versions and positions, events and their codecs, upcasters, the EventStore interface
// with its in-memory implementation, aggregates, the repository and its snapshots.
//
// Not included, on purpose: strata/core/testing/ (Scenario, for a user's own tests) and
// strata/core/backend/ (what an EventStore implementation needs: append checks, persisted encodings).
#pragma once

#include "strata/core/aggregate.h"
#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/event_id.h"
#include "strata/core/event_registry.h"
#include "strata/core/event_store.h"
#include "strata/core/expected_version.h"
#include "strata/core/limits.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/position.h"
#include "strata/core/repository.h"
#include "strata/core/repository_options.h"
#include "strata/core/snapshot.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"
#include "strata/core/upcaster.h"
