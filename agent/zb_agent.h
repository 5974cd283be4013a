/*  zb_agent: the agent daemon: probes, beats, events, signals.

    Owns the event loop, one PUB socket connected to every monitor endpoint,
    one zb_probe per probed service, one zb_push per push or ttl service,
    and the push listener (zb_listener) when there is any of the latter. Publishes a beat (every
    service's status) every beat interval and an event on every state
    change. SIGINT/SIGTERM publish the host's "stopped" event and end
    zb_agent_run; SIGHUP is logged and ignored (reload comes later).
*/
#ifndef ZB_AGENT_H
#define ZB_AGENT_H

#include "zb_agent_config.h"

#define ZB_AGENT_SNDHWM 10000
#define ZB_AGENT_LINGER_MS 1000 // how long the stop event may take to leave

typedef struct _zb_agent_t zb_agent_t;

//  config must outlive the agent. Signals are taken over here, before the
//  ZeroMQ context starts its threads. Returns NULL (and logs why) on
//  failure.
zb_agent_t *zb_agent_new(const zb_agent_config_t *config);
void zb_agent_destroy(zb_agent_t **self_p);

//  Runs until SIGINT or SIGTERM. Returns 0, or -1 when the loop failed.
int zb_agent_run(zb_agent_t *self);

#endif
