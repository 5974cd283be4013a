/*  zb_alert: what an alert says, in every shape it leaves the monitor.

    The monitor decides when to alert (zb_monitor) and fills a zb_alert_t;
    this module turns it into the stable id receivers de-duplicate on, the
    alert JSON (docs/alerts.md, stored as the outbox payload), and, from
    that payload, a webhook body per template and the ZBEAT_* environment of
    an exec hook. Pure functions: no I/O, no clock.
*/
#ifndef ZB_ALERT_H
#define ZB_ALERT_H

#include "zb_monitor_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_ALERT_VERSION 1
#define ZB_ALERT_ID_MAX 200

typedef enum {
    ZB_ALERT_DOWN,      // a service is down (the agent confirmed it)
    ZB_ALERT_SILENT,    // a host stopped beating
    ZB_ALERT_RECOVERED, // an outage that was alerted ended
    ZB_ALERT_FLAPPING,  // a service changes state too often: one alert, then quiet
    ZB_ALERT_STABLE,    // a flapping service kept one state for the quiet period
    ZB_ALERT_REMINDER,  // an alerted outage is still open (monitor/repeat)
    ZB_ALERT_CONFLICT,  // two live agent runs claim one host name
    ZB_ALERT_STOPPED,   // a host stopped (planned) longer than monitor/stopped-alert
    ZB_ALERT_CERT,      // a service's certificate expires within monitor/tls-warn
    ZB_ALERT_RESOLVED   // a stopped or cert-expiring episode is over
} zb_trigger_t;

typedef struct {
    zb_trigger_t trigger;
    const char *host;
    const char *service;   // NULL for a host alert
    const char *state;     // the state now: down, up, silent, alive, stopped, removed
    const char *reason;    // why (for recovered: how the outage ended)
    const char *error;     // the agent's error text, may be ""
    int64_t outage_id;     // 0 when not about one outage
    int64_t started_at_ms; // the outage's start, -1 when none
    int64_t ended_at_ms;   // recovered: the outage's end, else -1
    int64_t created_at_ms; // now
    int transitions;       // flapping: state changes counted in the window
    int64_t window_ms;     // flapping: that window
    int64_t flap_id;       // flapping, stable, name-conflict, stopped: when the episode began
    int reminder;          // reminder: 1, 2, ...
    int64_t not_after_ms;  // cert-expiring (and its resolved): the certificate's notAfter
    zb_trigger_t resolves; // resolved: ZB_ALERT_STOPPED or ZB_ALERT_CERT
} zb_alert_t;

const char *zb_alert_trigger_name(zb_trigger_t trigger);

//  "web-1/redis/42/down", "web-1/-/43/silent", "web-1/redis/flap-<ms>/stable",
//  "web-1/redis/42/reminder-2", "web-1/-/conflict-<ms>/name-conflict",
//  "web-1/-/stop-<ms>/stopped", "web-1/web/cert-<notAfter ms>/cert-expiring";
//  an episode's end: "web-1/-/stop-<ms>/resolved", "web-1/web/cert-<ms>/resolved".
void zb_alert_id(const zb_alert_t *self, char *buf, size_t size);

//  The alert JSON, a heap string; NULL when out of memory.
char *zb_alert_json(const zb_alert_t *self);

//  A webhook body for the template, from an alert JSON; a heap string, or
//  NULL when the payload is not an alert JSON.
char *zb_alert_render(const char *payload, zb_template_t template);

//  The ZBEAT_* variables of an exec hook ("NAME=value" heap strings, a
//  NULL-terminated heap array), appended to base (the inherited
//  environment, whose ZBEAT_* entries are left out). NULL on a bad payload
//  or out of memory. zb_alert_env_free releases it.
char **zb_alert_env(const char *payload, const char *channel, int attempt, char *const *base);
void zb_alert_env_free(char ***env_p);

//  True when name matches one of the comma-separated glob patterns ("" or
//  NULL matches everything).
bool zb_alert_match(const char *patterns, const char *name);

void zb_alert_test(bool verbose);

#endif
