/*  zb_relay: zbeat-relay, a tier of ZeroMQ proxies between agents and
    shard monitors (docs/config-relay.md, docs/operations.md "Growing past
    one monitor").

    Agents' PUB sockets connect to the relay's XSUB (relay/bind); the
    relay's XPUB connects to every monitor's SUB (relay/monitor). Each
    shard monitor subscribes to its hosts' prefixes (monitor/hosts); XPUB
    hands those subscriptions up, XSUB passes them on to the agents, and
    libzmq's own filtering sends every shard its hosts only. Nothing is
    decoded, queued or stored here.

    The relay runs zmq_proxy's loop itself (subscriptions from XPUB to
    XSUB, messages from XSUB to XPUB), for two reasons a proxy cannot meet.
    With CURVE (relay/cert) it checks every message on the way: the
    agent's key, admitted by zb_auth exactly as a monitor admits it, must
    be bound to the host in the message's topic (zmq_proxy moves frames
    without their metadata). And it takes agents' messages in rounds while
    they come fast (zb_pace), so each monitor's connection carries a
    round's messages in one write: libzmq 4.3's proxy polls once a message,
    and a fleet's beats arrive one at a time (docs/benchmarks.md).
    The monitors admit the relay's own key for the hosts its certificate
    in their allow-list names (the `relay` metadata), and check the body's
    host against the topic as they always do. docs/security.md.
*/
#ifndef ZB_RELAY_H
#define ZB_RELAY_H

#include "zb_relay_config.h"

#include <stdbool.h>
#include <stdint.h>

#define ZB_RELAY_HWM 200000   // messages queued per peer, each way
#define ZB_RELAY_BATCH 1000   // messages moved between two looks at the rest
#define ZB_RELAY_LOG_MS 10000 // refusals logged at most this often

typedef struct _zb_relay_t zb_relay_t;

typedef struct {
    uint64_t forwarded;     // messages passed to the monitors
    uint64_t refused;       // CURVE: a topic's host not bound to the sender's key, dropped
    uint64_t malformed;     // CURVE: not two frames, or a topic with no valid host, dropped
    uint64_t subscriptions; // subscription messages passed up to the agents
} zb_relay_stats_t;

//  Creates the sockets, secures and binds/connects them. NULL with one line
//  in err.
zb_relay_t *zb_relay_new(const zb_relay_config_t *config, char *err, size_t errsize);
void zb_relay_destroy(zb_relay_t **self_p);

//  Relays until SIGINT or SIGTERM, which the caller blocked in every thread
//  (zb_relay_block, before zb_relay_new). Returns 0, or -1 on a failure.
int zb_relay_run(zb_relay_t *self);

//  Blocks SIGINT and SIGTERM in this thread and those it starts: the relay
//  reads them through a signalfd.
void zb_relay_block(void);

void zb_relay_stats(zb_relay_t *self, zb_relay_stats_t *stats);

#endif
