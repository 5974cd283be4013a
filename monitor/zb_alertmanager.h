/*  zb_alertmanager: the alertmanager channel (docs/alerts.md). Turns alert
    JSONs (the outbox payloads) into Alertmanager's API v2 alerts and POSTs
    them to /api/v2/alerts of every member of a cluster.

    An incident is one Alertmanager alert, named by its labels (alertname,
    host, service, severity, zbeat_monitor): its opening alert fires it, a
    reminder or a resend restates it, its recovery resolves it (endsAt).
    Monitors posting the same incident under the same zbeat_monitor post
    the same labels, so Alertmanager's de-duplication pages once.
    zb_alertmanager_post blocks: call it from a delivery thread.
*/
#ifndef ZB_ALERTMANAGER_H
#define ZB_ALERTMANAGER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef struct {
    const char *monitor;   // the zbeat_monitor label
    const char *generator; // generatorURL (the monitor's page), "" = none
    int64_t resend_ms;     // a firing alert is valid for 4 x this unless restated
    int64_t now_ms;        // wall clock
} zb_alertmanager_opts_t;

//  Appends the Alertmanager alerts of one alert JSON to array (a jansson
//  json_t *, passed as void * to keep jansson out of this header). Returns
//  0, or -1 when payload is not an alert JSON.
int zb_alertmanager_add(void *array, const char *payload, const zb_alertmanager_opts_t *opts);

//  The request body for one alert JSON: a heap string, or NULL.
char *zb_alertmanager_body(const char *payload, const zb_alertmanager_opts_t *opts);

//  POSTs body to URL/api/v2/alerts for each URL of the comma-separated
//  list. Returns 0 when at least one member answered 2xx (a cluster shares
//  what one member got); else -1 with every member's error in error. *status
//  is the last HTTP status, or -1.
//  headers: the channel's extra header lines (zb_webhook_post_with), or NULL.
int zb_alertmanager_post(const char *urls, const char *headers, const char *body,
                         int64_t timeout_ms, const atomic_bool *stop, char *error, size_t size,
                         int64_t *status);

void zb_alertmanager_test(bool verbose);

#endif
