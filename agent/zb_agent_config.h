/*  zb_agent_config: the agent's configuration file (docs/config-agent.md).

    Reads the ZPL file through zb_config, checks every key (unknown keys and
    sections are errors), resolves every probe address once, and applies the
    command-line and environment overrides. Errors are one line for the
    user: "FILE: service/redis/timeout: "5x" is not a duration".
*/
#ifndef ZB_AGENT_CONFIG_H
#define ZB_AGENT_CONFIG_H

#include "zb_curve.h"
#include "zb_probe.h"
#include "zb_proto.h"
#include "zb_push.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZB_AGENT_MONITOR_DEFAULT "tcp://127.0.0.1:7400"
#define ZB_AGENT_BEAT_DEFAULT_MS 1000
//  agent/full-every: a monitor that missed a change waits at most this many
//  beats for the table; more would leave it guessing for too long.
#define ZB_AGENT_FULL_EVERY_MAX 3600
//  Every service goes into every beat, and one beat must fit the protocol's
//  frame limit (ZB_PROTO_MAX_BYTES) even when each service carries a long
//  error text: about 8192 x 400 bytes of JSON.
#define ZB_AGENT_MAX_SERVICES 8192
//  What check = NAME takes, and what a host or service name may be: both
//  go into error messages.
#define ZB_AGENT_CHECKS "tcp, redis, memcached, postgres, http, https, ssh, smtp, mysql"
#define ZB_NAME_RULE "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"

//  A service is either probed by the agent or heartbeats it (push, ttl):
//  one of the two, so they share the memory (thousands per agent).
typedef struct {
    bool probed; // probe holds it; else push does
    union {
        zb_probe_config_t probe; // `probe = host:port`
        zb_push_config_t push;   // `push = DURATION` or `ttl = DURATION`
    };
} zb_service_config_t;

typedef struct {
    char name[ZB_NAME_MAX + 1]; // host name in messages
    char *monitor;              // comma-separated endpoints the PUB connects to
    int64_t beat_ms;            // beat interval
    int64_t full_every;         // agent/full-every: a full beat at least every N (1: all full)
    char *listen;               // the push listener's endpoint (default set)
    char *journal;              // agent/journal: transitions file, NULL = memory only
    char *replay;               // agent/replay: monitors' replay endpoints, NULL = none
    char *udp;                  // agent/udp: monitors' liveness datagram ports, NULL = none
    int64_t udp_beat_ms;        // agent/udp-beat: their interval
    zb_curve_keys_t curve;      // agent/cert and agent/monitor-cert (curve.on)
    bool discover_docker;       // agent/discover = docker
    char *docker;               // agent/docker: the engine's API, unix:///path
    char *discover_filter;      // agent/discover-filter, NULL = every container
    zb_service_config_t *services;
    size_t service_count;
    void *texts;       // owned: where the probes' name, target, send and expect live
    size_t push_count; // push and ttl services: the listener runs if any
} zb_agent_config_t;

//  Values from flags or the environment, which win over the file. A source
//  names where a value came from, for errors ("--name", "ZBEAT_HOST").
typedef struct {
    const char *name;
    const char *name_source;
    const char *monitor;
    const char *monitor_source;
} zb_agent_overrides_t;

//  Loads and checks FILE, then applies overrides (may be NULL). Returns NULL
//  with one line in err: "FILE:LINE: message", "FILE: path: message", or
//  "SOURCE: message" for a bad override.
zb_agent_config_t *zb_agent_config_load(const char *path, const zb_agent_overrides_t *overrides,
                                        char *err, size_t errsize);

void zb_agent_config_destroy(zb_agent_config_t **self_p);

//  One probed service from keys and values (a discovered container's
//  labels), checked as service/NAME in a file would be. Returns a config
//  holding just that service, or NULL with one line in err, naming source
//  and the key as a label ("SOURCE: label zbeat.interval: ...").
zb_agent_config_t *zb_agent_config_service(const char *source, const char *name,
                                           const char *const *keys, const char *const *values,
                                           size_t count, char *err, size_t errsize);

//  Most options zb_agent_config_flags takes.
#define ZB_AGENT_FLAGS_MAX 32

//  --probe-once HOST:PORT: a probe of no service (name "") at target from
//  the per-service keys given as flags (check, send, expect, timeout, tls,
//  http, expect-status ...), checked exactly as a file's service/NAME
//  would be. Returns a config holding that one service, or NULL with one
//  line in err naming the flag ("--tls-verify: ...", "--probe-once: ...").
zb_agent_config_t *zb_agent_config_flags(const char *target, const char *const *keys,
                                         const char *const *values, size_t count, char *err,
                                         size_t errsize);

//  Prints the docs' cells of every directive, one line each
//  ("SECTION\tKEY\tTYPE\tDEFAULT\tBOUNDS"; sections agent, service, push,
//  ttl): `zbeat-agent --config-table`, for scripts/config_docs.py.
void zb_agent_config_print_table(FILE *out);

void zb_agent_config_test(bool verbose);

#endif
