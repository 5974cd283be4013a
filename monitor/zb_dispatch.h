/*  zb_dispatch: delivers the alert outbox, off the ingest loop.

    One thread (a zactor) per channel, each with its own SQLite connection:
    it takes the channel's oldest pending delivery, waits until it is due,
    runs the exec hook or posts the webhook, and records the result. A slow
    or dead receiver, or a hook that hangs, delays only its own channel,
    never ingest, detection, or the other channels.

    Per channel, alerts go out in the order they were made; a failed attempt
    is retried with exponential backoff (1 s doubling up to backoff-max) and
    holds back the alerts behind it, so a receiver never sees a recovery
    before its down alert. A delivery still failing retry-for after it was
    queued is given up (failed). Everything is in the database, so a
    restarted monitor resumes where the last one stopped.
*/
#ifndef ZB_DISPATCH_H
#define ZB_DISPATCH_H

#include "zb_monitor_config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct _zb_dispatch_t zb_dispatch_t;

//  Starts one delivery thread per configured channel (none: a valid,
//  idle dispatcher). The database must exist with the current schema.
//  Returns NULL with a one-line reason in err.
zb_dispatch_t *zb_dispatch_new(const zb_monitor_config_t *config, char *err, size_t errsize);

//  Stops the threads, abandoning attempts in progress (their deliveries
//  stay pending and are retried by the next run).
void zb_dispatch_destroy(zb_dispatch_t **self_p);

//  New deliveries were committed: wake the threads. Never blocks.
void zb_dispatch_poke(zb_dispatch_t *self);

//  Reload: the threads of channels that changed or went away end after the
//  attempt in progress (never waited for); new and changed channels get a
//  thread. A removed channel's pending deliveries stay in the database as
//  they are. Returns 0, or -1 when a thread could not start (logged).
int zb_dispatch_reload(zb_dispatch_t *self, const zb_monitor_config_t *config);

void zb_dispatch_test(bool verbose);

#endif
