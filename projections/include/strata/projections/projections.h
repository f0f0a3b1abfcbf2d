// Everything in strata::projections, in one include: Projection and ReadModel (the read side of CQRS),
// the Projector that runs them on Boost.Asio, event sinks for read models kept elsewhere, the
// ProjectionStorage contract and its in-memory implementation, and strata::core's user API.
//
// Not included: strata/projections/backend/ (the persisted records a storage implementation writes)
// and strata/projections/testing/ (crash simulation).
#pragma once

#include "strata/core/core.h"
#include "strata/projections/event_sink.h"
#include "strata/projections/memory_projection_storage.h"
#include "strata/projections/projection.h"
#include "strata/projections/projection_storage.h"
#include "strata/projections/projector.h"
#include "strata/projections/read_model.h"
