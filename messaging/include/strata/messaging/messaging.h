// Everything in strata::messaging, in one include: messages, the Transport interface and its in-process
// implementation, the Relay (the log as outbox) and the Inbox (idempotent consumers). The NATS
// JetStream transport is in strata/messaging/jetstream_transport.h (library strata::jetstream).
#pragma once

#include "strata/messaging/in_process_transport.h"
#include "strata/messaging/inbox.h"
#include "strata/messaging/message.h"
#include "strata/messaging/relay.h"
#include "strata/messaging/transport.h"
