/*  zb_latency: the last hour of each service's round trips, in 1-minute
    rollups, for the status page's sparklines (GET /api/v1/latency).

    The monitor's loop adds every beat's services (zb_monitor_handle); the
    HTTP server's threads read copies (zb_latency_each, zb_latency_last).
    One lock guards it all; the loop holds it only to add one beat's
    services, a reader only to copy one series at a time.

    Memory: ZB_LATENCY_MINUTES buckets of 16 bytes per service (~1 KB), at
    most ZB_LATENCY_SERIES_MAX services (others are not kept). A service
    not heard for an hour is forgotten at the next add that finds it.
*/
#ifndef ZB_LATENCY_H
#define ZB_LATENCY_H

#include "zb_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_LATENCY_MINUTES 60        // one hour of 1-minute buckets
#define ZB_LATENCY_SERIES_MAX 100000 // services followed, at most

typedef struct _zb_latency_t zb_latency_t;

//  One service's last hour: mean_us[i] is the mean round trip of the
//  minute first_minute + i (minutes since the Unix epoch), -1 when no beat
//  of that minute carried one. last_us is the latest round trip, -1 if none.
typedef struct {
    const char *host;
    const char *service;
    int64_t first_minute;
    int64_t mean_us[ZB_LATENCY_MINUTES];
    int64_t last_us;
} zb_latency_series_t;

zb_latency_t *zb_latency_new(void);
void zb_latency_destroy(zb_latency_t **self_p);

//  Adds a beat's services (others messages are ignored) at wall time now.
void zb_latency_add(zb_latency_t *self, const zb_msg_t *msg, int64_t now_wall_ms);

//  Calls fn with a copy of every series, ending at the minute of now; fn's
//  return != 0 stops. Holds the lock while walking: fn must be quick (it
//  copies into its answer). host may be NULL (every host).
typedef int(zb_latency_fn)(const zb_latency_series_t *series, void *arg);
void zb_latency_each(zb_latency_t *self, const char *host, int64_t now_wall_ms, zb_latency_fn *fn,
                     void *arg);

//  The latest round trip of host/service, for /metrics. Returns 0, or -1
//  when none is known.
int zb_latency_last(zb_latency_t *self, const char *host, const char *service, int64_t *rtt_us);

void zb_latency_test(bool verbose);

#endif
