/*  zb_series: per-service numbers for /metrics that the database does not
    keep: the latest round trip a beat reported, and the outages opened
    since the monitor started (a Prometheus counter: it starts at 0 with
    the process, which rate() and increase() expect).

    Written by the ingest thread, read by the HTTP server's: every call
    takes the table's lock. service NULL is the host itself (outages only).
*/
#ifndef ZB_SERIES_H
#define ZB_SERIES_H

#include "zb_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zb_series_t zb_series_t;

zb_series_t *zb_series_new(void);
void zb_series_destroy(zb_series_t **self_p);

//  A beat's round trip for the service, in microseconds (-1: none).
void zb_series_rtt(zb_series_t *self, const char *host, const char *service, int64_t rtt_us);
//  A beat's round trips, its services' all at once (one lock per beat).
void zb_series_beat(zb_series_t *self, const char *host, const zb_service_status_t *services,
                    size_t count);
//  An outage of the service (or host) opened.
void zb_series_outage(zb_series_t *self, const char *host, const char *service);

//  What is known of the service (or host): *rtt_us -1 when none. Returns
//  false when nothing is.
bool zb_series_get(zb_series_t *self, const char *host, const char *service, int64_t *rtt_us,
                   uint64_t *outages);

void zb_series_test(bool verbose);

#endif
