/*  zb_watch: watches the watcher. The agent's PUB socket gets ZMTP
    heartbeats, so a monitor that is frozen, gone without a FIN, or behind a
    changed address is dropped within the heartbeat timeout instead of
    staying half-open for minutes (PUB never reads, so without heartbeats
    nothing on our side would ever notice). The socket's monitor events are
    read from the agent's loop and logged once per change and endpoint:

        monitor unreachable: tcp://10.0.0.1:7400 (heartbeat lost or closed)
        monitor back: tcp://10.0.0.1:7400 (after 12s)

    "Reachable" means a ZMTP handshake completed, not merely that TCP
    connected: a frozen monitor's kernel still accepts connections.

    A monitor that refuses our key (CURVE, ZAP status 400) gets it again:
    libzmq 4.3 ends such a connection for good instead of reconnecting, so
    an agent admitted to the allow-list later would stay out until
    restarted. The watch re-connects that endpoint after ZB_WATCH_RETRY_MS,
    doubling up to ZB_WATCH_RETRY_MAX_MS while it is refused, and says so
    once per refusal streak:

        monitor refused our key: tcp://10.0.0.1:7400 (...); trying again every 5s..30s
        monitor admitted our key: tcp://10.0.0.1:7400 (after 3 attempts)
*/
#ifndef ZB_WATCH_H
#define ZB_WATCH_H

#include "zb_loop.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  Heartbeats: one PING per interval (the beat, within these bounds) and the
//  connection is dropped when nothing came back for ZB_WATCH_TIMEOUT_FACTOR
//  intervals, never sooner than ZB_WATCH_TIMEOUT_MIN_MS: TCP retransmits on
//  a lossy link (200 ms, 400 ms, 800 ms, ...) must not look like a dead
//  monitor, because a reconnect loses what PUB sends meanwhile.
#define ZB_WATCH_IVL_MIN_MS 500
#define ZB_WATCH_IVL_MAX_MS 10000
#define ZB_WATCH_TIMEOUT_FACTOR 5
#define ZB_WATCH_TIMEOUT_MIN_MS 5000
//  Re-connects after our key was refused: the first after this long, then
//  twice as long each time, never more than the maximum.
#define ZB_WATCH_RETRY_MS 5000
#define ZB_WATCH_RETRY_MAX_MS 30000

typedef struct _zb_watch_t zb_watch_t;

//  Sets the heartbeat options on sock for a beat interval. Call before
//  connecting: ZeroMQ applies them to connections made afterwards. Returns
//  the heartbeat timeout in ms.
int zb_watch_heartbeats(zsock_t *sock, int64_t beat_ms);

//  Starts watching sock's connections (before connecting it, or the first
//  events are missed); events are handled inside loop. Returns NULL (and
//  logs why) on failure. The watch must be destroyed before the socket.
zb_watch_t *zb_watch_new(zb_loop_t *loop, zsock_t *sock);
void zb_watch_destroy(zb_watch_t **self_p);

//  Names the socket's peers in log lines ("monitor" by default, e.g.
//  "replay"); quiet: only key refusals and re-admissions are logged, not
//  every connection change (for a side channel next to a logged one).
void zb_watch_set_label(zb_watch_t *self, const char *label, bool quiet);

//  The refusal backoff (tests): first retry after first_ms, at most max_ms.
void zb_watch_set_retry(zb_watch_t *self, int64_t first_ms, int64_t max_ms);

//  Endpoints whose last connection completed a handshake and is still up.
size_t zb_watch_reachable(zb_watch_t *self);

void zb_watch_test(bool verbose);

#endif
