/*  zb_agent_reload: SIGHUP. What a reload does is prepared first (every
    step that may fail), then applied (nothing fails); the rules are in
    docs/config-agent.md. Part of zb_agent (zb_agent_internal.h).
*/
#include "zb_agent_internal.h"
#include "zb_endpoints.h"
#include "zb_log.h"
#include "zb_plan.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Reload

//  What a reload will do, prepared before anything running is touched.
typedef struct {
    zb_agent_config_t *config;    // the new configuration
    zb_agent_service_t *services; // in the new config's order
    zb_plan_t *diff;              // which services carry on, restart, come and go
    size_t probe_count;           // in the new config
    zhashx_t *pushes;             // over services
    zb_listener_t *listener;      // newly bound (listen changed, or the first push service)
    bool monitors_connected;      // endpoints new in config->monitor are connected
    zb_replay_t *replay;          // to the new replay endpoints
    zb_journal_t *journal;        // in memory, when replay begins without a journal before
} s_plan_t;

//  Undoes a plan that will not be applied: everything it made is destroyed
//  (running objects it would have kept are left alone).
static void s_plan_abandon(zb_agent_t *self, s_plan_t *plan)
{
    if (plan->monitors_connected)
        zb_endpoints_disconnect(self->pub, plan->config->monitor, self->config->monitor);
    zb_replay_destroy(&plan->replay); // before the journal it reads
    zb_journal_destroy(&plan->journal);
    zb_listener_destroy(&plan->listener);
    zhashx_destroy(&plan->pushes);
    if (plan->services && plan->diff)
        for (size_t i = 0; i < plan->config->service_count; i++)
            if (!zb_plan_keeps(plan->diff->action[i]))
                zb_agent_service_destroy(&plan->services[i]);
    free(plan->services);
    zb_plan_destroy(&plan->diff);
    zb_agent_config_destroy(&plan->config);
}

//  Everything that may fail: the new services' objects, the listener's
//  bind, the new monitor connections. Returns 0, or -1 with err set.
static int s_plan_make(zb_agent_t *self, s_plan_t *plan, char *err, size_t errsize)
{
    zb_agent_config_t *config = plan->config;
    size_t count = config->service_count;
    plan->services = calloc(count ? count : 1, sizeof(*plan->services));
    plan->diff = zb_plan_new(self->config, config);
    int rc = -1;
    if (!plan->services || !plan->diff) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const zb_service_config_t *service = &config->services[i];
        if (zb_plan_keeps(plan->diff->action[i]))
            plan->services[i] = self->services[plan->diff->old_index[i]];
        else if (zb_agent_service_make(self, service, &plan->services[i]) == -1) {
            snprintf(err, errsize, "out of memory");
            goto done;
        }
        if (service->probed)
            plan->probe_count++;
    }
    plan->pushes = zb_agent_pushes_new(plan->services, count);
    if (!plan->pushes) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    if (config->push_count > 0 &&
        (!self->listener || strcmp(config->listen, self->config->listen) != 0)) {
        char why[512];
        plan->listener = zb_agent_listener_new(self, config, plan->probe_count, why, sizeof(why));
        if (!plan->listener) {
            snprintf(err, errsize, "push listener: %s", why);
            goto done;
        }
    }
    if (zb_endpoints_connect(self->pub, config->monitor, self->config->monitor) == -1) {
        snprintf(err, errsize, "agent/monitor: cannot connect (see above)");
        goto done;
    }
    plan->monitors_connected = true;
    //  New replay endpoints: a new replay offers the whole journal to each
    //  (acks are in memory; monitors ignore what they already have).
    if (plan->diff->replay_changed && config->replay) {
        zb_journal_t *journal = self->journal;
        if (!journal) {
            char why[512];
            journal = plan->journal = zb_journal_new(NULL, 0, why, sizeof(why));
            if (!journal) {
                snprintf(err, errsize, "journal: %s", why);
                goto done;
            }
        }
        plan->replay = zb_replay_new(self->loop, journal, config->replay, config->beat_ms,
                                     &config->curve, config->name, self->instance);
        if (!plan->replay) {
            snprintf(err, errsize, "agent/replay: cannot connect (see above)");
            goto done;
        }
    }
    rc = 0;
done:
    return rc;
}

//  Publishes a service's removal and forgets it.
static void s_service_remove(zb_agent_t *self, zb_agent_service_t *service)
{
    const zb_service_status_t *status = zb_agent_service_status(service);
    if (service->push && self->listener)
        zb_listener_drop(self->listener, status->name, "removed");
    zb_agent_publish_removed(self, status);
    zb_agent_service_destroy(service);
}

//  Applies a plan; nothing here can fail.
static void s_plan_apply(zb_agent_t *self, s_plan_t *plan)
{
    zb_agent_config_t *config = plan->config;
    const zb_plan_t *diff = plan->diff;

    //  First, so that the transitions below go to the new replay too.
    if (diff->replay_changed) {
        zb_replay_destroy(&self->replay);
        self->replay = plan->replay;
        plan->replay = NULL;
        if (plan->journal) {
            self->journal = plan->journal;
            plan->journal = NULL;
        }
        zb_log_info("replay to %s", config->replay ? config->replay : "no monitor");
    }

    //  Liveness datagrams: started over with the new targets, interval or
    //  keys (the sequence restarts too; monitors take that in their stride).
    const zb_agent_config_t *was = self->config;
    if ((was->udp == NULL) != (config->udp == NULL) ||
        (config->udp && strcmp(was->udp, config->udp) != 0) ||
        was->udp_beat_ms != config->udp_beat_ms || !zb_curve_same(&was->curve, &config->curve)) {
        zb_alive_destroy(&self->alive);
        if (config->udp)
            self->alive = zb_alive_new(self->loop, self->resolver, config->udp, config->udp_beat_ms,
                                       &config->curve, config->name, self->instance);
        zb_log_info("udp: %s", self->alive ? config->udp : "off");
    }

    //  Removed services: announced, so monitors close their outages as
    //  "removed" instead of waiting for them.
    for (size_t j = 0; j < self->service_count; j++)
        if (diff->removed[j])
            s_service_remove(self, &self->services[j]);
    for (size_t i = 0; i < config->service_count; i++) {
        size_t j = diff->old_index[i];
        const zb_service_config_t *service = &config->services[i];
        if (diff->action[i] == ZB_PLAN_ADD)
            continue;
        zb_agent_service_t *old = &self->services[j];
        if (zb_plan_keeps(diff->action[i])) {
            //  Same object, new configuration: points into the new config
            //  before the old one is freed.
            if (old->probe)
                zb_probe_set_config(old->probe, &service->probe);
            else
                zb_push_set_config(old->push, &service->push);
            continue;
        }
        //  A new address, conversation or kind: a new object, which keeps
        //  the verdict until its own first one. A push client connected for
        //  the old kind must say HELLO again.
        const zb_service_status_t *status = zb_agent_service_status(old);
        if (plan->services[i].probe)
            zb_probe_take_state(plan->services[i].probe, status);
        else
            zb_push_take_state(plan->services[i].push, status);
        if (old->push && self->listener)
            zb_listener_drop(self->listener, status->name, "reconfigured");
        zb_log_info("%s: configuration changed: restarting its check", status->name);
        zb_agent_service_destroy(old);
    }
    free(self->services);
    self->services = plan->services;
    self->service_count = config->service_count;
    self->probe_count = plan->probe_count;
    plan->services = NULL;
    zhashx_destroy(&self->pushes);
    self->pushes = plan->pushes;
    plan->pushes = NULL;

    //  The listener: rebound when listen changed, closed when no push or
    //  ttl service is left. Clients of a closed listener are told to go.
    bool moved = plan->listener || config->push_count == 0;
    if (self->listener && moved) {
        for (size_t i = 0; i < self->service_count; i++)
            if (self->services[i].push)
                zb_listener_drop(self->listener, zb_push_config(self->services[i].push)->name,
                                 "reconfigured");
        zb_listener_destroy(&self->listener);
    }
    if (plan->listener) {
        self->listener = plan->listener;
        plan->listener = NULL;
        zb_log_info("push listener on %s (port %d)", config->listen,
                    zb_listener_port(self->listener));
    } else if (self->listener)
        zb_listener_set_max_conns(self->listener,
                                  zb_agent_listener_max_conns(config, self->probe_count));

    zb_endpoints_disconnect(self->pub, self->config->monitor, config->monitor);
    plan->monitors_connected = false;

    //  A new beat interval counts from the last beat.
    if (config->beat_ms != self->config->beat_ms) {
        int64_t now = zb_time_mono_ms();
        self->next_beat += config->beat_ms - self->config->beat_ms;
        if (self->next_beat < now)
            self->next_beat = now;
        zb_loop_timer_set(self->loop, &self->beat_timer, self->next_beat);
    }

    zb_agent_config_destroy(&self->config);
    self->config = config;
    plan->config = NULL;

    size_t fresh = 0, probe_index = 0;
    for (size_t i = 0; i < config->service_count; i++)
        if (!zb_plan_keeps(diff->action[i]) && config->services[i].probed)
            fresh++;
    for (size_t i = 0; i < config->service_count; i++)
        if (!zb_plan_keeps(diff->action[i]))
            zb_agent_service_start(&self->services[i], self->services[i].probe ? probe_index++ : 0,
                                   fresh);
    zb_log_info("reloaded %s: %zu services: %zu added, %zu removed, %zu changed (%zu restarted), "
                "%zu unchanged",
                self->path, config->service_count, diff->added, diff->removed_count,
                diff->retimed + diff->restarted, diff->restarted, diff->unchanged);
}

int zb_agent_reload(zb_agent_t *self)
{
    assert(self);
    zb_log_info("reloading %s", self->path);
    char err[1024];
    s_plan_t plan;
    memset(&plan, 0, sizeof(plan));
    plan.config = zb_agent_config_load(self->path, &self->overrides, err, sizeof(err));
    if (!plan.config)
        goto rejected;
    if (zb_plan_check(self->config, plan.config, self->path, err, sizeof(err)) == -1)
        goto rejected;
    if (s_plan_make(self, &plan, err, sizeof(err)) == -1)
        goto rejected;
    s_plan_apply(self, &plan);
    s_plan_abandon(self, &plan); // frees what is left of it
    return 0;
rejected:
    zb_log_error("reload rejected: %s; carrying on with the previous configuration", err);
    if (plan.config)
        s_plan_abandon(self, &plan);
    return -1;
}
