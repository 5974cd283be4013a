/*  zb_stream: the monitor's PUB stream (monitor/publish, docs/alerts.md).

    Alerts and state changes are queued while a pass runs and sent only once
    its transaction commits (zb_stream_flush): what the database did not
    get was never said. Topics are alert.<host>[.<service>] and
    state.<host>[.<service>]; a PUB never blocks (at its high-water mark it
    drops).
*/
#ifndef ZB_STREAM_H
#define ZB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zb_stream_t zb_stream_t;

//  A stream with no socket yet: messages queue and are dropped at flush.
zb_stream_t *zb_stream_new(void);
void zb_stream_destroy(zb_stream_t **self_p);

//  Binds the socket on endpoints (comma-separated). Returns 0, or -1
//  (logged) with no socket.
int zb_stream_bind(zb_stream_t *self, const char *endpoints);

//  A reload's new endpoints ("" for none). The new socket is bound first,
//  so a failure keeps the old one; only when that fails (most often: the
//  same port) does the old one go first, and comes back if the new one
//  still fails. That path may hold the caller for up to 1 s. Returns 0, or
//  -1 with one line in err.
int zb_stream_rebind(zb_stream_t *self, const char *endpoints, char *err, size_t errsize);

//  Closes the socket (queued messages stay queued).
void zb_stream_close(zb_stream_t *self);

//  True when a socket is bound.
bool zb_stream_active(zb_stream_t *self);

//  Queues a message, sent at the next flush.
void zb_stream_queue(zb_stream_t *self, const char *topic, const char *payload);

//  Queues a state change (service NULL: the host's), when a socket is bound.
void zb_stream_state(zb_stream_t *self, const char *host, const char *service, const char *from,
                     const char *to, int64_t at_ms, const char *reason);

//  Sends (send true: the pass committed) or drops what is queued.
void zb_stream_flush(zb_stream_t *self, bool send);

#endif
