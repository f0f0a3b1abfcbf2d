// Everything in strata::core: status codes, ids, events and codecs, the EventStore interface with its
// in-memory implementation, aggregates, the repository and the given/when/then Scenario.
#pragma once

#include "strata/core/aggregate.h"
#include "strata/core/append_checks.h"
#include "strata/core/codec.h"
#include "strata/core/event.h"
#include "strata/core/event_dispatch.h"
#include "strata/core/event_registry.h"
#include "strata/core/event_id.h"
#include "strata/core/event_store.h"
#include "strata/core/json.h"
#include "strata/core/limits.h"
#include "strata/core/memory_event_store.h"
#include "strata/core/repository.h"
#include "strata/core/scenario.h"
#include "strata/core/snapshot.h"
#include "strata/core/snapshot_policy.h"
#include "strata/core/status.h"
#include "strata/core/stream_id.h"
#include "strata/core/upcaster.h"
#include "strata/core/version.h"
