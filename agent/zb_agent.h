/*  zb_agent: the agent daemon: probes, beats, events, signals, reloads.

    Owns the event loop, one PUB socket connected to every monitor endpoint,
    one zb_probe per probed service, one zb_push per push or ttl service,
    and the push listener (zb_listener) when there is any of the latter.
    Publishes a beat (every service's status) every beat interval and an
    event on every state change. SIGINT/SIGTERM publish the host's "stopped"
    event and end zb_agent_run; SIGHUP reloads the configuration file
    (zb_agent_reload; the rules are in docs/config-agent.md).
*/
#ifndef ZB_AGENT_H
#define ZB_AGENT_H

#include "zb_agent_config.h"

#define ZB_AGENT_SNDHWM 10000
#define ZB_AGENT_LINGER_MS 1000 // how long the stop event may take to leave

typedef struct _zb_agent_t zb_agent_t;

//  Takes the configuration (*config_p is NULLed, also on failure); path and
//  overrides are what it was loaded with, kept (copied) for reloads.
//  Signals are taken over here, before the ZeroMQ context starts its
//  threads. Returns NULL (and logs why) on failure.
zb_agent_t *zb_agent_new(zb_agent_config_t **config_p, const char *path,
                         const zb_agent_overrides_t *overrides);
void zb_agent_destroy(zb_agent_t **self_p);

//  Runs until SIGINT or SIGTERM. Returns 0, or -1 when the loop failed.
int zb_agent_run(zb_agent_t *self);

//  Re-reads the configuration file with the same checks as at start-up and
//  applies the difference: services added, removed (an event to "removed"),
//  changed or kept as they are; monitor endpoints, beat and listen. All or
//  nothing: when anything is wrong (a bad file, a changed host name, a
//  listen address that cannot be bound) it logs one error line and the
//  agent carries on with the configuration it had. Returns 0 or -1.
int zb_agent_reload(zb_agent_t *self);

#endif
