/*  zb_plan: what a reload does to the running services. See zb_plan.h. */
#include "zb_plan.h"
#include "zb_curve.h"

#include <assert.h>
#include <czmq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Two optional settings are the same (both unset, or equal).
static bool s_same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

//  Whether a running service can take the new configuration in place
//  (zb_probe_set_config, zb_push_set_config): the same kind and, for a
//  probe, the same address and conversation; only timings differ.
static bool s_service_compatible(const zb_service_config_t *a, const zb_service_config_t *b)
{
    if (a->probed != b->probed)
        return false;
    if (!a->probed)
        return a->push.kind == b->push.kind;
    const zb_probe_config_t *x = &a->probe, *y = &b->probe;
    //  The same target text is the same literal address, or the same name
    //  (which the running probe keeps looking up).
    return strcmp(x->target, y->target) == 0 && x->hold == y->hold &&
           x->listener_check == y->listener_check && x->reply == y->reply &&
           x->resolve_ms == y->resolve_ms && x->send_len == y->send_len &&
           memcmp(x->send, y->send, x->send_len) == 0 && x->expect_len == y->expect_len &&
           memcmp(x->expect, y->expect, x->expect_len) == 0 && x->tls == y->tls &&
           x->tls_verify == y->tls_verify &&
           strcmp(x->tls_ca ? x->tls_ca : "", y->tls_ca ? y->tls_ca : "") == 0 &&
           strcmp(x->tls_name ? x->tls_name : "", y->tls_name ? y->tls_name : "") == 0 &&
           (x->reply != ZB_PROBE_REPLY_HTTP || strcmp(x->expect_status, y->expect_status) == 0);
}

static bool s_service_same(const zb_service_config_t *a, const zb_service_config_t *b)
{
    if (!s_service_compatible(a, b))
        return false;
    if (!a->probed)
        return a->push.period_ms == b->push.period_ms && a->push.deadline_ms == b->push.deadline_ms;
    return a->probe.interval_ms == b->probe.interval_ms &&
           a->probe.timeout_ms == b->probe.timeout_ms && a->probe.fails == b->probe.fails;
}

static const char *s_service_config_name(const zb_service_config_t *config)
{
    return config->probed ? config->probe.name : config->push.name;
}

int zb_plan_check(const zb_agent_config_t *old, const zb_agent_config_t *config, const char *path,
                  char *err, size_t errsize)
{
    assert(old && config && path);
    //  The host name is the identity monitors keep state under: a new one
    //  is a different host, which a restart (a new instance) expresses.
    if (strcmp(config->name, old->name) != 0)
        snprintf(err, errsize,
                 "%s: agent/name cannot change on reload (\"%s\" -> \"%s\"): restart the agent",
                 path, old->name, config->name);
    //  The journal file is read once, at start: what it holds would have
    //  to be merged with what is in memory.
    else if (!s_same_text(config->journal, old->journal))
        snprintf(err, errsize, "%s: agent/journal cannot change on reload: restart the agent",
                 path);
    //  Keys belong to the socket, whose connections would all have to be
    //  remade: a restart does that more simply.
    else if (!zb_curve_same(&config->curve, &old->curve))
        snprintf(err, errsize,
                 "%s: agent/cert and agent/monitor-cert cannot change on reload: restart the "
                 "agent",
                 path);
    //  The Docker reader's session belongs to these; a restart remakes it.
    else if (config->discover_docker != old->discover_docker ||
             strcmp(config->docker, old->docker) != 0 ||
             !s_same_text(config->discover_filter, old->discover_filter))
        snprintf(err, errsize,
                 "%s: agent/discover, agent/docker and agent/discover-filter cannot change on "
                 "reload: restart the agent",
                 path);
    else
        return 0;
    return -1;
}

zb_plan_t *zb_plan_new(const zb_agent_config_t *old, const zb_agent_config_t *config)
{
    assert(old && config);
    size_t count = config->service_count;
    zb_plan_t *self = calloc(1, sizeof(*self));
    zhashx_t *running = zhashx_new(); // name -> index + 1 of a running service
    if (!self || !running)
        goto failed;
    self->count = count;
    self->old_count = old->service_count;
    self->action = calloc(count ? count : 1, sizeof(*self->action));
    self->old_index = calloc(count ? count : 1, sizeof(*self->old_index));
    self->removed = calloc(old->service_count ? old->service_count : 1, sizeof(*self->removed));
    if (!self->action || !self->old_index || !self->removed)
        goto failed;
    for (size_t j = 0; j < old->service_count; j++) {
        self->removed[j] = true;
        if (zhashx_insert(running, s_service_config_name(&old->services[j]),
                          (void *)(uintptr_t)(j + 1)) == -1)
            goto failed;
    }
    for (size_t i = 0; i < count; i++) {
        const zb_service_config_t *service = &config->services[i];
        uintptr_t found = (uintptr_t)zhashx_lookup(running, s_service_config_name(service));
        self->old_index[i] = found ? found - 1 : SIZE_MAX;
        if (!found) {
            self->action[i] = ZB_PLAN_ADD;
            self->added++;
            continue;
        }
        const zb_service_config_t *before = &old->services[found - 1];
        self->removed[found - 1] = false;
        if (!s_service_compatible(before, service)) {
            self->action[i] = ZB_PLAN_RESTART;
            self->restarted++;
        } else if (s_service_same(before, service)) {
            self->action[i] = ZB_PLAN_UNCHANGED;
            self->unchanged++;
        } else {
            self->action[i] = ZB_PLAN_RETIME;
            self->retimed++;
        }
    }
    for (size_t j = 0; j < old->service_count; j++)
        if (self->removed[j])
            self->removed_count++;
    self->replay_changed = !s_same_text(config->replay, old->replay);
    zhashx_destroy(&running);
    return self;
failed:
    zhashx_destroy(&running);
    zb_plan_destroy(&self);
    return NULL;
}

void zb_plan_destroy(zb_plan_t **self_p)
{
    assert(self_p);
    zb_plan_t *self = *self_p;
    if (!self)
        return;
    free(self->action);
    free(self->old_index);
    free(self->removed);
    free(self);
    *self_p = NULL;
}

bool zb_plan_keeps(zb_plan_action_t action)
{
    return action == ZB_PLAN_UNCHANGED || action == ZB_PLAN_RETIME;
}
