/*  zb_series: per-service numbers the database does not keep, in memory:
    the latest round trip a beat reported, the outages opened since the
    monitor started (a Prometheus counter: it starts at 0 with the process,
    which rate() and increase() expect), and the last hour of round trips in
    1-minute means for the status page's sparklines (GET /api/v1/latency).

    The monitor's loop adds beats (zb_monitor_handle) and outages
    (zb_record); the HTTP server's threads read copies. One lock guards it
    all; a writer holds it for one beat, a reader for one copy. Services are
    kept per host in the order of its last beat, so a beat costs one hash
    lookup (its host), not one per service.

    Memory: about 60 bytes per service, and the hour's ZB_SERIES_MINUTES
    buckets (~1 KB) for at most ZB_SERIES_HOURS_MAX services with round
    trips (others have no sparkline). service NULL is the host itself
    (outages only).
*/
#ifndef ZB_SERIES_H
#define ZB_SERIES_H

#include "zb_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_SERIES_MINUTES 60       // one hour of 1-minute buckets
#define ZB_SERIES_HOURS_MAX 100000 // services with an hour kept, at most

typedef struct _zb_series_t zb_series_t;

//  One service's last hour: mean_us[i] is the mean round trip of the
//  minute first_minute + i (minutes since the Unix epoch), -1 when no beat
//  of that minute carried one. last_us is the latest round trip, -1 if none.
typedef struct {
    char host[ZB_NAME_MAX + 1];
    char service[ZB_NAME_MAX + 1];
    int64_t first_minute;
    int64_t mean_us[ZB_SERIES_MINUTES];
    int64_t last_us;
} zb_series_hour_t;

zb_series_t *zb_series_new(void);
void zb_series_destroy(zb_series_t **self_p);

//  Adds a beat's round trips (other messages are ignored) at wall time now.
void zb_series_beat(zb_series_t *self, const zb_msg_t *msg, int64_t now_wall_ms);

//  An outage of the service (or host) opened.
void zb_series_outage(zb_series_t *self, const char *host, const char *service);

//  What is known of the service (or host): *rtt_us -1 when none. Returns
//  false when nothing is.
bool zb_series_get(zb_series_t *self, const char *host, const char *service, int64_t *rtt_us,
                   uint64_t *outages);

//  Calls fn with a copy of the hour of every service heard within it,
//  ending at the minute of now; fn's return != 0 stops. Holds the lock
//  while walking: fn must be quick (it copies into its answer). host may be
//  NULL (every host).
typedef int(zb_series_fn)(const zb_series_hour_t *hour, void *arg);
void zb_series_each(zb_series_t *self, const char *host, int64_t now_wall_ms, zb_series_fn *fn,
                    void *arg);

void zb_series_test(bool verbose);

#endif
