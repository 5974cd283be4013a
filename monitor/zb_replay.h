/*  zb_replay (monitor side): the ROUTER that agents' journals replay into.

    Bound at monitor/replay (e.g. tcp://0.0.0.0:7403); agents' DEALERs connect out
    (agent/replay) and send "EVENT", topic, JSON for every transition they
    hold that this monitor has not acknowledged. Each is applied through
    zb_monitor_replay, at most once per (host, instance, seq) thanks to a
    unique key in the store; once the pass commits, every one of them is
    answered "ACK", instance, seq (duplicates too). A failed commit sends no
    acks: the agent sends them again.

    Once per beat each agent also reports how far behind this monitor is:
    "STATUS", host, instance, N (decimal: journal entries it has not had
    acknowledged), kept per host by zb_monitor_replay_status. Nothing answers
    it.

    With CURVE (monitor/cert) the ROUTER is secured by the monitor's zb_auth
    exactly like the agents' SUB socket: the same ZAP handler and allow-list
    at the handshake, and every EVENT and STATUS checked with zb_auth_check
    (the key it came with still listed, its host the key's host). Refused
    messages are counted (the monitor's `rejected`) and not acknowledged.

    The agent side is agent/zb_replay.c; this type is zb_replay_server_t so
    the two never clash.
*/
#ifndef ZB_REPLAY_SERVER_H
#define ZB_REPLAY_SERVER_H

#include "zb_auth.h"
#include "zb_monitor.h"

#include <czmq.h>
#include <stdbool.h>

#define ZB_REPLAY_SERVER_BATCH 1000 // messages per pass, one transaction

typedef struct _zb_replay_server_t zb_replay_server_t;

//  Binds a ROUTER on endpoints (comma-separated), secured by auth (which
//  must outlive it), and reads it from loop. Returns NULL (and logs why) on
//  failure.
zb_replay_server_t *zb_replay_server_new(zb_monitor_t *monitor, zloop_t *loop,
                                         const char *endpoints, zb_auth_t *auth);
void zb_replay_server_destroy(zb_replay_server_t **self_p);

#endif
