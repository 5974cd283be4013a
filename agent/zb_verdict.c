/*  zb_verdict: a probe's service state from its checks. See zb_verdict.h. */
#include "zb_verdict.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define ZB_VERDICT_BACKOFF_MIN_MS 100
#define ZB_VERDICT_SLOT_MAX_MS 10 // ping slot; a twentieth of shorter intervals

void zb_verdict_init(zb_verdict_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    snprintf(self->status.name, sizeof(self->status.name), "%s", config->name);
    snprintf(self->status.kind, sizeof(self->status.kind), "probe");
    self->status.state = ZB_STATE_UNKNOWN;
    self->status.since_ms = zb_time_wall_ms();
    self->status.rtt_us = -1;
    self->backoff_ms = ZB_VERDICT_BACKOFF_MIN_MS;
}

static bool s_set_state(zb_verdict_t *self, const zb_probe_config_t *config, zb_state_t to,
                        const char *reason)
{
    zb_state_t from = self->status.state;
    if (strcmp(self->status.reason, reason) != 0) // "ok" again, most of the time
        snprintf(self->status.reason, sizeof(self->status.reason), "%s", reason);
    if (from == to)
        return false; // while down, reason and error follow the latest failure
    self->status.state = to;
    self->status.since_ms = zb_time_wall_ms();
    if (to == ZB_STATE_DOWN)
        self->backoff_ms = ZB_VERDICT_BACKOFF_MIN_MS < config->interval_ms
                               ? ZB_VERDICT_BACKOFF_MIN_MS
                               : config->interval_ms;
    return true;
}

bool zb_verdict_good(zb_verdict_t *self, const zb_probe_config_t *config, int64_t rtt_us)
{
    assert(self && config);
    self->failures = 0;
    self->status.rtt_us = rtt_us;
    self->status.error[0] = '\0';
    return s_set_state(self, config, ZB_STATE_UP, "ok");
}

bool zb_verdict_failure(zb_verdict_t *self, const zb_probe_config_t *config, const char *reason)
{
    assert(self && config && reason);
    if (self->failures < config->fails)
        self->failures++;
    if (self->status.state == ZB_STATE_DOWN || self->failures >= config->fails)
        return s_set_state(self, config, ZB_STATE_DOWN, reason);
    zb_log_debug("%s: check failed (%d of %d): %s", config->name, self->failures, config->fails,
                 self->status.error);
    return false;
}

bool zb_verdict_down(zb_verdict_t *self, const zb_probe_config_t *config, const char *reason)
{
    assert(self && config && reason);
    self->failures = config->fails;
    return s_set_state(self, config, ZB_STATE_DOWN, reason);
}

void zb_verdict_take(zb_verdict_t *self, const zb_probe_config_t *config,
                     const zb_service_status_t *status)
{
    assert(self && config && status);
    self->status.state = status->state;
    self->status.since_ms = status->since_ms;
    snprintf(self->status.reason, sizeof(self->status.reason), "%s", status->reason);
    snprintf(self->status.error, sizeof(self->status.error), "%s", status->error);
    //  Down stays down until a good check, as if this probe had failed.
    if (status->state == ZB_STATE_DOWN)
        self->failures = config->fails;
}

void zb_verdict_consume(zb_verdict_t *self, const zb_probe_config_t *config, int64_t now)
{
    assert(self && config);
    if (self->next_check <= now) {
        self->next_check += config->interval_ms;
        if (self->next_check <= now)
            self->next_check = now + config->interval_ms;
    }
}

int64_t zb_verdict_ping_at(const zb_verdict_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    int64_t slot = config->interval_ms / 20;
    if (slot > ZB_VERDICT_SLOT_MAX_MS)
        slot = ZB_VERDICT_SLOT_MAX_MS;
    if (slot <= 1)
        return self->next_check;
    return (self->next_check + slot - 1) / slot * slot;
}

int64_t zb_verdict_reconnect_at(zb_verdict_t *self, const zb_probe_config_t *config, int64_t now)
{
    assert(self && config);
    if (self->status.state != ZB_STATE_DOWN)
        return self->next_check > now ? self->next_check : now;
    int64_t deadline = now + self->backoff_ms;
    self->backoff_ms *= 2;
    if (self->backoff_ms > config->interval_ms)
        self->backoff_ms = config->interval_ms;
    return deadline;
}

void zb_verdict_set_config(zb_verdict_t *self, const zb_probe_config_t *config, int64_t now)
{
    assert(self && config);
    if (self->failures > config->fails)
        self->failures = config->fails;
    if (self->backoff_ms > config->interval_ms)
        self->backoff_ms = config->interval_ms;
    //  The check planned on the old cadence stays, unless the new interval
    //  wants one sooner; from then on the new interval paces the checks.
    if (self->next_check > now + config->interval_ms)
        self->next_check = now + config->interval_ms;
}
