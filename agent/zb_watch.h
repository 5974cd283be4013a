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

//  Endpoints whose last connection completed a handshake and is still up.
size_t zb_watch_reachable(zb_watch_t *self);

void zb_watch_test(bool verbose);

#endif
