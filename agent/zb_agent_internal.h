/*  zb_agent_internal: the agent's state, shared by zb_agent.c (start,
    beats, events, services) and zb_agent_reload.c (SIGHUP: plan, then
    apply). Not for other modules.
*/
#ifndef ZB_AGENT_INTERNAL_H
#define ZB_AGENT_INTERNAL_H

#include "zb_agent.h"
#include "zb_alive.h"
#include "zb_discover.h"
#include "zb_journal.h"
#include "zb_listener.h"
#include "zb_loop.h"
#include "zb_probe.h"
#include "zb_push.h"
#include "zb_replay.h"
#include "zb_resolver.h"
#include "zb_watch.h"

#include <czmq.h>

//  One configured service: exactly one of the two is set.
typedef struct {
    zb_probe_t *probe; // the agent probes it
    zb_push_t *push;   // it heartbeats the agent (push, ttl)
} zb_agent_service_t;

struct _zb_agent_t {
    zb_agent_config_t *config;          // owned; replaced by a reload
    char *path;                         // the configuration file, for reloads
    zb_agent_overrides_t overrides;     // flags and environment (strings owned)
    zb_loop_t *loop;                    // everything runs here
    zb_resolver_t *resolver;            // the probes' names, looked up in loop
    zsock_t *pub;                       // connected to every monitor
    zb_watch_t *watch;                  // heartbeats and reachability of pub's monitors
    zb_journal_t *journal;              // recent events, when journal or replay is set
    zb_replay_t *replay;                // replays the journal to monitors until acked
    zb_alive_t *alive;                  // liveness datagrams (agent/udp), or NULL
    zb_agent_service_t *services;       // config order
    size_t service_count;               // services made
    size_t probe_count;                 // of which probed
    zhashx_t *pushes;                   // name -> zb_push_t, for the listener
    zb_listener_t *listener;            // when there are push or ttl services
    zb_discover_t *discover;            // services from Docker labels (discover = docker)
    zb_timer_t beat_timer;              // next beat
    int64_t next_beat;                  // monotonic ms
    char instance[ZB_INSTANCE_LEN + 1]; // random per start
    uint64_t seq;                       // last sequence number used
    uint64_t dropped;                   // messages refused at the HWM
    uint64_t dropped_logged;            // dropped when last logged
    zb_msg_t *beat;                     // reused for every beat
    uint64_t full_digest;               // the table the last full beat carried
    int64_t thin_run;                   // thin beats sent since that full beat, -1 none yet
    zb_msg_t *event;                    // reused for every event
};

//  A service's status, wherever it lives.
const zb_service_status_t *zb_agent_service_status(const zb_agent_service_t *service);

//  Makes the probe or push object for config (not started). Returns 0 or -1.
int zb_agent_service_make(zb_agent_t *self, const zb_service_config_t *config,
                          zb_agent_service_t *service);

void zb_agent_service_destroy(zb_agent_service_t *service);

//  Starts a service, the index-th of count new ones (first checks spread).
void zb_agent_service_start(const zb_agent_service_t *service, size_t index, size_t count);

//  Binds the push listener for config (which declares push or ttl services).
zb_listener_t *zb_agent_listener_new(zb_agent_t *self, const zb_agent_config_t *config,
                                     size_t probe_count, char *err, size_t errsize);

//  How many connections the push listener may hold: what the open file
//  limit leaves over after probes and ZeroMQ.
size_t zb_agent_listener_max_conns(const zb_agent_config_t *config, size_t probe_count);

//  The listener's name -> zb_push_t index over services.
zhashx_t *zb_agent_pushes_new(const zb_agent_service_t *services, size_t count);

//  Publishes that a service is no longer watched.
void zb_agent_publish_removed(zb_agent_t *self, const zb_service_status_t *status);

#endif
