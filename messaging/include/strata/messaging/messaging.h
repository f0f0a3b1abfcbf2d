// Everything in strata::messaging, in one include: messages, the Transport interface and its in-process
// implementation, the Relay (the log as outbox), the Inbox (idempotent consumers), process managers and
// their SagaRunner (sagas), and the Gateway to third parties. The NATS JetStream transport is in
// strata/messaging/jetstream_transport.h (library strata::jetstream); test support (ProcessScenario,
// FaultyProvider) in strata/messaging/testing/.
#pragma once

#include "strata/messaging/gateway.h"
#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/message.h"
#include "strata/messaging/process_manager.h"
#include "strata/messaging/relay.h"
#include "strata/messaging/saga_runner.h"
#include "strata/messaging/transport.h"
