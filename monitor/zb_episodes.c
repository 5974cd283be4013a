/*  zb_episodes: alerts that fire until resolved. See zb_episodes.h. */
#include "zb_episodes.h"
#include "zb_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  The plan's next walk at the nearest of what it left waiting (a wall
//  time; the walk happens on the first tick at or after it).
static void s_due(int64_t *due_ms, int64_t at_ms)
{
    if (at_ms < *due_ms)
        *due_ms = at_ms;
}

//  Records that an episode's alert (stopped, cert-expiring) is made: it
//  fires until resolved (s_episodes_walk), restated by alertmanager
//  channels meanwhile. False when it was recorded before (a restarted
//  monitor) or the write failed: nothing to alert.
static bool s_episode_add(const zb_episodes_t *self, const zb_alert_t *alert, const char *kind,
                          int64_t key_ms)
{
    char id[ZB_ALERT_ID_MAX + 1];
    zb_alert_id(alert, id, sizeof(id));
    zb_store_episode_t episode = {
        .alert_id = id,
        .kind = kind,
        .host = alert->host,
        .service = alert->service,
        .key_ms = key_ms,
        .fired_at_ms = self->now_wall,
    };
    int rc = zb_store_episode_add(self->store, &episode);
    self->io->wrote(self->arg, rc < 0 ? rc : 0);
    return rc == 1;
}

//  Hosts stopped (planned) longer than monitor/stopped-alert: one alert per
//  stop, named by when it began, so a restarted monitor that walks again
//  finds the alert made (the store ignores a known id) and says nothing.
//  A silence matching the host drops it: a stop is not an outage, there is
//  nothing to release later.
static void s_stopped_walk(const zb_episodes_t *self, zb_fleet_t *fleet,
                           const zb_fleet_counts_t *counts)
{
    int64_t after = self->config->stopped_alert_ms;
    zb_episodes_plan_t *plan = self->plan;
    if (after <= 0 || (counts->stops == plan->stops && after == plan->stopped_alert_ms &&
                       self->now_wall < plan->stops_due_ms))
        return;
    plan->stops = counts->stops;
    plan->stopped_alert_ms = after;
    plan->stops_due_ms = INT64_MAX;
    for (zb_fleet_host_t *host = zb_fleet_first(fleet); host; host = zb_fleet_next(fleet)) {
        if (host->state != ZB_FLEET_STOPPED || host->alert.stop_alerted == host->since_ms)
            continue;
        if (self->now_wall - host->since_ms < after) {
            s_due(&plan->stops_due_ms, host->since_ms + after);
            continue;
        }
        host->alert.stop_alerted = host->since_ms;
        if (self->io->silenced(self->arg, host->name, NULL))
            continue;
        zb_alert_t alert = {
            .trigger = ZB_ALERT_STOPPED,
            .host = host->name,
            .state = "stopped",
            .reason = "stopped",
            .error = "",
            .started_at_ms = host->since_ms,
            .ended_at_ms = -1,
            .flap_id = host->since_ms,
        };
        //  A stop alerted before schema 8 gets its episode now (and the
        //  store ignores the alert's known id).
        s_episode_add(self, &alert, "stopped", host->since_ms);
        self->io->alert(self->arg, &alert);
    }
}

//  Certificates within monitor/tls-warn of their notAfter: one
//  cert-expiring alert per certificate (named by its notAfter), an episode
//  so that a restarted monitor knows it was made. A silence matching the
//  service postpones it: nothing is recorded, and it fires when the
//  silence is over if the certificate is still the one expiring.
static void s_cert_walk(const zb_episodes_t *self, zb_fleet_t *fleet,
                        const zb_fleet_counts_t *counts)
{
    int64_t warn = self->config->tls_warn_ms;
    zb_episodes_plan_t *plan = self->plan;
    if (warn <= 0 || (counts->certs == plan->certs && warn == plan->tls_warn_ms &&
                      self->now_wall < plan->certs_due_ms))
        return;
    plan->certs = counts->certs;
    plan->tls_warn_ms = warn;
    plan->certs_due_ms = INT64_MAX;
    for (zb_fleet_host_t *host = zb_fleet_first(fleet); host; host = zb_fleet_next(fleet))
        for (zb_fleet_service_t *service = zb_fleet_service_first(host); service;
             service = zb_fleet_service_next(host)) {
            int64_t not_after = service->tls_expires * 1000;
            if (!service->tls_expires || service->alert.cert_ms == not_after)
                continue;
            if (not_after - self->now_wall > warn) {
                s_due(&plan->certs_due_ms, not_after - warn);
                continue;
            }
            //  Postponed while silenced: looked at again every tick.
            if (self->io->silenced(self->arg, host->name, service->name)) {
                s_due(&plan->certs_due_ms, self->now_wall);
                continue;
            }
            service->alert.cert_ms = not_after;
            bool expired = not_after <= self->now_wall;
            zb_alert_t alert = {
                .trigger = ZB_ALERT_CERT,
                .host = host->name,
                .service = service->name,
                .state = zb_state_name(service->state),
                .reason = expired ? "expired" : "expiring",
                .error = "",
                .started_at_ms = self->now_wall,
                .ended_at_ms = -1,
                .not_after_ms = not_after,
            };
            if (s_episode_add(self, &alert, "cert", not_after))
                self->io->alert(self->arg, &alert);
        }
}

//  An episode still firing, copied out of the store's walk (which must be
//  over before anything is written).
typedef struct {
    char *alert_id;
    bool cert;
    char *host;
    char *service;
    int64_t key_ms;
    int64_t fired_at_ms;
} s_episode_t;

typedef struct {
    s_episode_t *list;
    size_t count;
    size_t alloc;
} s_episodes_t;

static int s_episode_take(const zb_store_episode_t *row, void *arg)
{
    s_episodes_t *episodes = arg;
    if (episodes->count == episodes->alloc) {
        size_t alloc = episodes->alloc ? episodes->alloc * 2 : 16;
        s_episode_t *list = realloc(episodes->list, alloc * sizeof(*list));
        if (!list)
            return -1;
        episodes->list = list;
        episodes->alloc = alloc;
    }
    s_episode_t *episode = &episodes->list[episodes->count];
    *episode = (s_episode_t){
        .alert_id = strdup(row->alert_id),
        .cert = strcmp(row->kind, "cert") == 0,
        .host = strdup(row->host),
        .service = row->service ? strdup(row->service) : NULL,
        .key_ms = row->key_ms,
        .fired_at_ms = row->fired_at_ms,
    };
    episodes->count++;
    if (!episode->alert_id || !episode->host || (row->service && !episode->service))
        return -1;
    return 0;
}

//  Why a firing episode is over, or NULL while it goes on. A stop ends when
//  the host is no longer in that stop (back, or forgotten). A certificate's
//  expiry ends when its service, up, presents another one (renewed, or
//  replaced: that one gets its own alert) or none, when the service or its
//  host is gone, or when tls-warn is turned off. A service down or unknown
//  says nothing of its certificate: the alert goes on.
static const char *s_episode_over(const zb_episodes_t *self, zb_fleet_t *fleet,
                                  const s_episode_t *episode, const char **state)
{
    zb_fleet_host_t *host = zb_fleet_host(fleet, episode->host);
    *state = "removed";
    if (!host)
        return episode->cert ? "removed" : "forgotten";
    if (!episode->cert) {
        *state = zb_fleet_host_state_name(host->state);
        return host->state != ZB_FLEET_STOPPED || host->since_ms != episode->key_ms ? "back" : NULL;
    }
    zb_fleet_service_t *service =
        episode->service ? zb_table_lookup(host->services, episode->service) : NULL;
    if (!service)
        return "removed";
    *state = zb_state_name(service->state);
    if (self->config->tls_warn_ms <= 0)
        return "tls-warn off";
    int64_t not_after = service->tls_expires * 1000;
    if (service->state != ZB_STATE_UP || not_after == episode->key_ms)
        return NULL;
    if (!service->tls_expires)
        return "no certificate";
    return not_after - self->now_wall > self->config->tls_warn_ms ? "renewed" : "replaced";
}

//  Episodes that are over: a resolved alert each (an alertmanager channel
//  resolves the alert it restated), and the episode stops firing.
static void s_episodes_walk(const zb_episodes_t *self, zb_fleet_t *fleet)
{
    s_episodes_t episodes = {0};
    if (zb_store_episodes_firing(self->store, s_episode_take, &episodes) != 0)
        self->io->wrote(self->arg, -1);
    for (size_t i = 0; i < episodes.count; i++) {
        s_episode_t *episode = &episodes.list[i];
        const char *state = NULL;
        const char *why = episode->alert_id && episode->host
                              ? s_episode_over(self, fleet, episode, &state)
                              : NULL;
        if (why) {
            zb_alert_t alert = {
                .trigger = ZB_ALERT_RESOLVED,
                .resolves = episode->cert ? ZB_ALERT_CERT : ZB_ALERT_STOPPED,
                .host = episode->host,
                .service = episode->service,
                .state = state,
                .reason = why,
                .error = "",
                .started_at_ms = episode->cert ? episode->fired_at_ms : episode->key_ms,
                .ended_at_ms = self->now_wall,
                .flap_id = episode->key_ms,
                .not_after_ms = episode->key_ms,
            };
            int rc = zb_store_episode_resolve(self->store, episode->alert_id, self->now_wall);
            self->io->wrote(self->arg, rc < 0 ? rc : 0);
            if (rc == 1)
                self->io->alert(self->arg, &alert);
        }
        free(episode->alert_id);
        free(episode->host);
        free(episode->service);
    }
    free(episodes.list);
}

//  In this order: a stop alerted before schema 8 gets its episode before
//  the walk of episodes looks at it; a certificate's episode resolved
//  (replaced) before its successor's alert.
void zb_episodes_tick(const zb_episodes_t *self, zb_fleet_t *fleet)
{
    zb_fleet_counts_t counts;
    zb_fleet_counts(fleet, &counts);
    s_stopped_walk(self, fleet, &counts);
    s_episodes_walk(self, fleet);
    s_cert_walk(self, fleet, &counts);
}
