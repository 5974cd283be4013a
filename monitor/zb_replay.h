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

    It reaches the monitor only through the intake below (zb_monitor
    passes its begin, commit, replay, replay_status and rejected), so this
    module does not know the monitor's struct.

    The agent side is agent/zb_replay.c; this type is zb_replay_server_t so
    the two never clash.
*/
#ifndef ZB_REPLAY_SERVER_H
#define ZB_REPLAY_SERVER_H

#include "zb_auth.h"
#include "zb_proto.h"

#include <czmq.h>
#include <stdbool.h>

#define ZB_REPLAY_SERVER_BATCH 1000 // messages per pass, one transaction

typedef struct _zb_replay_server_t zb_replay_server_t;

//  Where replayed input goes; every call gets the arg given to _new.
typedef struct {
    //  Starts a pass (one transaction): -1 when the database cannot be
    //  written now (the input stays unread).
    int (*begin)(void *arg);
    //  Ends it: 0 when committed (then, and only then, acks go out).
    int (*commit)(void *arg);
    //  One replayed transition: 1 applied, 0 seen before, -1 not applied.
    int (*apply)(void *arg, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall);
    //  An agent's STATUS report (pending journal entries).
    int (*status)(void *arg, const char *host, const char *instance, uint64_t pending,
                  int64_t now_wall);
    //  A message refused by zb_auth.
    void (*rejected)(void *arg);
    //  Whether host is this monitor's (a shard's, monitor/hosts; NULL: every
    //  host). Another host's events are acknowledged and not applied: they
    //  are another shard's, and the agent must not hold them for this one.
    bool (*owns)(void *arg, const char *host);
} zb_replay_intake_t;

//  Binds a ROUTER on endpoints (comma-separated), secured by auth, and
//  reads it from loop into intake (intake, arg and auth must outlive it).
//  Returns NULL (and logs why) on failure.
zb_replay_server_t *zb_replay_server_new(const zb_replay_intake_t *intake, void *arg, zloop_t *loop,
                                         const char *endpoints, zb_auth_t *auth);
void zb_replay_server_destroy(zb_replay_server_t **self_p);

//  Stops reading the ROUTER (pause true: the database cannot be written,
//  so what agents send waits in the socket) or starts again.
void zb_replay_server_pause(zb_replay_server_t *self, bool pause);

#endif
