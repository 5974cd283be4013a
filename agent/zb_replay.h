/*  zb_replay: hands every journaled transition to every monitor until that
    monitor acknowledges it, over a side channel next to PUB/SUB.

    One DEALER per monitor replay endpoint (agents connect out: NAT and
    compose friendly). For each, entries of the journal not yet acked are
    sent in order, at most ZB_REPLAY_WINDOW in flight, as three frames
    "EVENT", topic, JSON (the event exactly as published). The monitor
    answers "ACK", instance, seq once the event's effects are committed (a
    duplicate is acked too); whatever is not acked within ZB_REPLAY_RETRY_MS
    is sent again. Acks live in memory: after an agent restart the whole
    journal is offered again and the monitor's unique key (host, instance,
    seq) makes that harmless.

    Once per beat, and at once when it drops to 0, each DEALER also tells
    its monitor how far behind it is: "STATUS", host, instance, N (decimal,
    the entries that monitor has not acknowledged; `zbeat status` shows it).

    With agent/cert and agent/monitor-cert every DEALER is a CURVE client
    with this agent's key, admitted by the monitor like its PUB socket; a
    refused key is retried (zb_watch) so that admitting it later needs no
    restart.
*/
#ifndef ZB_REPLAY_H
#define ZB_REPLAY_H

#include "zb_curve.h"
#include "zb_journal.h"
#include "zb_loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_REPLAY_WINDOW 256
#define ZB_REPLAY_RETRY_MS 2000
#define ZB_REPLAY_MAX_ENDPOINTS 32

typedef struct _zb_replay_t zb_replay_t;

//  endpoints: comma-separated, one per monitor (its monitor/replay). The
//  journal must outlive the replay. keys (copied; keys->on false for
//  plaintext) secure the DEALERs; host and instance name this agent run in
//  STATUS reports. Returns NULL (and logs why) on failure.
zb_replay_t *zb_replay_new(zb_loop_t *loop, zb_journal_t *journal, const char *endpoints,
                           int64_t beat_ms, const zb_curve_keys_t *keys, const char *host,
                           const char *instance);
void zb_replay_destroy(zb_replay_t **self_p);

//  Something was appended to the journal: send it now.
void zb_replay_kick(zb_replay_t *self);

//  Entries not yet acked by the endpoint at index (config order).
uint64_t zb_replay_pending(zb_replay_t *self, size_t index);

#endif
