/*  zb_episodes: the alerts that fire until resolved (docs/alerts.md): a host
    stopped longer than monitor/stopped-alert, a certificate within
    monitor/tls-warn of its expiry. Each is an episode in the store (schema
    8), so that a restarted monitor knows the alert was made; once over (the
    host back or forgotten, the certificate renewed, replaced or gone) a
    resolved alert follows and the episode stops firing.

    Split out of zb_policy, which calls zb_episodes_tick on its tick and lends
    its silences, its alerts and its count of writes through io. Nothing is
    kept between ticks but the fleet's marks (stop_alerted, cert_ms), the
    store's episodes and the plan: when the walks over hosts and services
    are next needed. A walk of 100,000 hosts' services every second would
    cost more than their beats; so a walk is made only when the fleet says
    a stop began or a certificate changed (its counts), when a setting
    moved, or when the nearest stop or certificate it left waiting is due.
*/
#ifndef ZB_EPISODES_H
#define ZB_EPISODES_H

#include "zb_alert.h"
#include "zb_fleet.h"
#include "zb_monitor_config.h"
#include "zb_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    //  Whether a silence matches host (service NULL: the host itself).
    bool (*silenced)(void *arg, const char *host, const char *service);
    //  An alert made (never held: nothing of an episode waits for a silence).
    void (*alert)(void *arg, zb_alert_t *alert);
    //  The result of every store write.
    void (*wrote)(void *arg, int rc);
} zb_episodes_io_t;

//  The owner's, zeroed at first (the first tick walks), kept between ticks.
typedef struct {
    uint64_t stops, certs;                 // the fleet's counts at the last walks
    int64_t stops_due_ms, certs_due_ms;    // wall clock: the walks are due again
    int64_t stopped_alert_ms, tls_warn_ms; // the settings of the last walks
} zb_episodes_plan_t;

typedef struct {
    const zb_monitor_config_t *config; // stopped_alert_ms, tls_warn_ms
    zb_episodes_plan_t *plan;          // the owner's
    zb_store_t *store;                 // written in the owner's transaction
    int64_t now_wall;                  // the tick's clock
    const zb_episodes_io_t *io;
    void *arg; // io's
} zb_episodes_t;

//  Once a second: stops that went on too long alerted, episodes that are
//  over resolved, certificates expiring alerted.
void zb_episodes_tick(const zb_episodes_t *self, zb_fleet_t *fleet);

#endif
