/*  zb_policy: the alerting policy. See zb_policy.h. */
#include "zb_policy.h"
#include "zb_alert.h"
#include "zb_episodes.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZB_POLICY_SILENCES_MAX 10000

struct _zb_policy_t {
    const zb_monitor_config_t *config; // the owner's, kept current by reloads
    zb_store_t *store;                 // the owner's
    const zb_policy_io_t *io;          // the owner's
    void *arg;                         // io's
    int64_t now_mono;                  // clocks of the message or tick being handled
    int64_t now_wall;
    zb_store_silence_t *silences; // active and future silences (strings owned)
    size_t silence_count;
    bool alert_walk;             // something held or flapping: walk the services at the tick
    bool poke;                   // the pass made deliveries: wake the delivery threads
    zb_episodes_plan_t episodes; // when zb_episodes' walks are next needed
};

static void s_wrote(zb_policy_t *self, int rc)
{
    self->io->wrote(self->arg, rc);
}

static void s_publish(zb_policy_t *self, const char *topic, const char *payload)
{
    self->io->publish(self->arg, topic, payload);
}

static bool s_silence_matches(const zb_store_silence_t *silence, const char *host,
                              const char *service, int64_t now_wall)
{
    if (now_wall < silence->starts_at_ms || now_wall >= silence->ends_at_ms)
        return false;
    if (fnmatch(silence->host, host, 0) != 0)
        return false;
    //  No service: the host's own alerts and all of its services'. A
    //  service pattern: only matching services, not the host's alerts.
    if (!silence->service)
        return true;
    return service && fnmatch(silence->service, service, 0) == 0;
}

static bool s_silenced(zb_policy_t *self, const char *host, const char *service)
{
    for (size_t i = 0; i < self->silence_count; i++)
        if (s_silence_matches(&self->silences[i], host, service, self->now_wall))
            return true;
    return false;
}

//  Reminder periods of monitor/repeat since an outage started.
static int64_t s_period(zb_policy_t *self, int64_t started_ms)
{
    if (self->config->repeat_ms <= 0 || self->now_wall <= started_ms)
        return 0;
    return (self->now_wall - started_ms) / self->config->repeat_ms;
}

//  A services filter does not keep host alerts out: a host gone silent
//  concerns every service on it.
static bool s_channel_matches(const zb_channel_config_t *channel, const zb_alert_t *alert)
{
    return zb_alert_match(channel->hosts, alert->host) &&
           (!alert->service || zb_alert_match(channel->services, alert->service));
}

//  Makes an alert: its outbox row and one delivery per matching channel
//  (but those skip[i] marks), in this pass's transaction; held deliveries
//  wait for the silence to end. An opening alert is due on each channel
//  after that channel's grace (alert/NAME/after), counted from the outage's
//  start: a host found silent after `liveness` beats has waited that long
//  already. Unless held, it is published after the commit.
static void s_alert_to(zb_policy_t *self, zb_alert_t *alert, bool held, const bool *skip)
{
    alert->created_at_ms = self->now_wall;
    char id[ZB_ALERT_ID_MAX + 1];
    zb_alert_id(alert, id, sizeof(id));
    char *payload = zb_alert_json(alert);
    if (!payload) {
        zb_log_error("alert %s: out of memory", id);
        return;
    }
    const char *channels[ZB_MONITOR_CHANNELS_MAX];
    int64_t delays[ZB_MONITOR_CHANNELS_MAX];
    bool opening = alert->trigger == ZB_ALERT_DOWN || alert->trigger == ZB_ALERT_SILENT;
    size_t count = 0;
    for (size_t i = 0; i < self->config->channel_count; i++) {
        const zb_channel_config_t *channel = &self->config->channels[i];
        if (s_channel_matches(channel, alert) && !(skip && skip[i])) {
            int64_t due = alert->started_at_ms + channel->after_ms;
            delays[count] = opening && due > self->now_wall ? due - self->now_wall : 0;
            channels[count++] = channel->name;
        }
    }
    zb_store_alert_t row = {
        .id = id,
        .created_at_ms = alert->created_at_ms,
        .trigger = zb_alert_trigger_name(alert->trigger),
        .host = alert->host,
        .service = alert->service,
        .outage_id = alert->outage_id,
        .payload = payload,
    };
    int rc = zb_store_alert_add_due(self->store, &row, channels, delays, count, held);
    s_wrote(self, rc);
    if (rc == 1) {
        zb_log_info("alert %s%s", id, held ? " (held by a silence)" : "");
        if (!held) {
            char topic[ZB_NAME_MAX * 2 + 16];
            if (alert->service)
                snprintf(topic, sizeof(topic), "alert.%s.%s", alert->host, alert->service);
            else
                snprintf(topic, sizeof(topic), "alert.%s", alert->host);
            s_publish(self, topic, payload);
            self->poke = self->poke || count > 0;
        }
    }
    free(payload);
}

static void s_alert(zb_policy_t *self, zb_alert_t *alert, bool held)
{
    s_alert_to(self, alert, held, NULL);
}

//  The opening alert of an open outage: down for a service, silent for a
//  host; held when a silence matches. A flapping service gets none (its
//  flapping alert said it).
static void s_alert_opened(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    if (service && service->alert.flapping)
        return;
    int64_t id = service ? service->outage_id : host->outage_id;
    bool held = s_silenced(self, host->name, service ? service->name : NULL);
    zb_alert_t alert = {
        .trigger = service ? ZB_ALERT_DOWN : ZB_ALERT_SILENT,
        .host = host->name,
        .service = service ? service->name : NULL,
        .state = service ? "down" : "silent",
        .reason = service ? service->reason : "silent",
        .error = service ? zb_fleet_service_error(service) : "",
        .outage_id = id,
        .started_at_ms = service ? service->outage_started_ms : host->outage_started_ms,
        .ended_at_ms = -1,
    };
    s_alert(self, &alert, held);
    if (service) {
        service->alert.notified = !held;
        service->alert.held = held;
        service->alert.reminded = s_period(self, alert.started_at_ms);
    } else {
        host->alert.notified = !held;
        host->alert.held = held;
        host->alert.reminded = s_period(self, alert.started_at_ms);
    }
    if (held)
        self->alert_walk = true;
    s_wrote(self, zb_store_outage_flag(self->store, id, !held, held));
}

//  An outage over within a channel's grace (alert/NAME/after): its opening
//  alert, not yet due there, is held back for good, and that channel gets
//  no recovery either (skip). The outage itself stays recorded, and
//  `zbeat alerts` shows the delivery held with the reason.
static void s_grace(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                    int64_t id, int64_t lasted_ms, bool *skip)
{
    zb_alert_t opening = {
        .trigger = service ? ZB_ALERT_DOWN : ZB_ALERT_SILENT,
        .host = host->name,
        .service = service ? service->name : NULL,
        .outage_id = id,
    };
    char alert_id[ZB_ALERT_ID_MAX + 1];
    zb_alert_id(&opening, alert_id, sizeof(alert_id));
    for (size_t i = 0; i < self->config->channel_count; i++) {
        const zb_channel_config_t *channel = &self->config->channels[i];
        if (channel->after_ms <= 0 || !s_channel_matches(channel, &opening))
            continue;
        char after[32], lasted[32], why[128];
        zb_time_format_duration(channel->after_ms, after, sizeof(after));
        zb_time_format_duration(lasted_ms > 0 ? lasted_ms : 0, lasted, sizeof(lasted));
        snprintf(why, sizeof(why), "held back: over in %s, within after = %s", lasted, after);
        int rc =
            zb_store_delivery_withhold(self->store, alert_id, channel->name, self->now_wall, why);
        s_wrote(self, rc < 0 ? rc : 0);
        if (rc == 1) {
            skip[i] = true;
            zb_log_info("alert %s to %s %s", alert_id, channel->name, why);
        }
    }
}

//  An outage closed: a recovery notice when its opening alert went out.
static void s_alert_closed(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                           int64_t id, int64_t started_ms, int64_t ended_ms, const char *end_reason)
{
    bool notified = service ? service->alert.notified : host->alert.notified;
    if (service) {
        service->alert.notified = service->alert.held = false;
        service->alert.reminded = 0;
    } else {
        host->alert.notified = host->alert.held = false;
        host->alert.reminded = 0;
    }
    //  While flapping (and the flapping alert went out), the stable notice
    //  will say how it ended.
    if (!notified || (service && service->alert.flapping && service->alert.flap_notified))
        return;
    bool skip[ZB_MONITOR_CHANNELS_MAX] = {false};
    s_grace(self, host, service, id, ended_ms - started_ms, skip);
    zb_alert_t alert = {
        .trigger = ZB_ALERT_RECOVERED,
        .host = host->name,
        .service = service ? service->name : NULL,
        .state = !service                             ? "alive"
                 : strcmp(end_reason, "up") == 0      ? "up"
                 : strcmp(end_reason, "removed") == 0 ? "removed"
                                                      : "stopped",
        .reason = end_reason,
        .error = "",
        .outage_id = id,
        .started_at_ms = started_ms,
        .ended_at_ms = ended_ms > started_ms ? ended_ms : started_ms,
    };
    s_alert_to(self, &alert, false, skip);
}

//  Notes a transition between up and down; returns true when it makes the
//  service flapping (more than flap-threshold in flap-window).
static bool s_flap_note(zb_policy_t *self, zb_fleet_service_t *service)
{
    service->alert.changed_mono = self->now_mono;
    int size = self->config->flap_threshold + 1;
    if (self->config->flap_threshold == 0 || service->alert.flapping)
        return false;
    if (!service->alert.flaps) {
        service->alert.flaps = calloc((size_t)size, sizeof(int64_t));
        if (!service->alert.flaps)
            return false;
    }
    service->alert.flaps[service->alert.flap_next] = self->now_mono;
    service->alert.flap_next = (service->alert.flap_next + 1) % size;
    if (service->alert.flap_count < size)
        service->alert.flap_count++;
    //  Full ring: flap_next is now the oldest of the last `size`.
    return service->alert.flap_count == size &&
           self->now_mono - service->alert.flaps[service->alert.flap_next] <=
               self->config->flap_window_ms;
}

static void s_flap_start(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                         zb_state_t to, const char *reason, const char *error)
{
    bool held = s_silenced(self, host->name, service->name);
    service->alert.flapping = true;
    service->alert.flap_notified = !held;
    service->alert.flap_id = self->now_wall;
    self->alert_walk = true;
    zb_alert_t alert = {
        .trigger = ZB_ALERT_FLAPPING,
        .host = host->name,
        .service = service->name,
        .state = zb_state_name(to),
        .reason = reason,
        .error = error,
        .started_at_ms = -1,
        .ended_at_ms = -1,
        .transitions = service->alert.flap_count,
        .window_ms = self->config->flap_window_ms,
        .flap_id = service->alert.flap_id,
    };
    s_alert(self, &alert, held);
}

//  A flapping service quiet for flap-quiet: the episode ends with a stable
//  notice of where it settled (when the flapping alert went out), and an
//  open outage is treated as alerted from here.
static void s_flap_end(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    service->alert.flapping = false;
    service->alert.flap_count = 0;
    service->alert.flap_next = 0;
    bool settled = service->state == ZB_STATE_UP || service->state == ZB_STATE_DOWN;
    if (!settled || host->state != ZB_FLEET_ALIVE)
        return; // the host's own alert covers what happened since
    if (!service->alert.flap_notified) {
        //  Nobody was told of the flapping: say it is down, as usual.
        if (service->outage_id && !service->alert.notified)
            s_alert_opened(self, host, service);
        return;
    }
    bool down = service->state == ZB_STATE_DOWN && service->outage_id;
    zb_alert_t alert = {
        .trigger = ZB_ALERT_STABLE,
        .host = host->name,
        .service = service->name,
        .state = zb_state_name(service->state),
        .reason = service->reason,
        .error = zb_fleet_service_error(service),
        .outage_id = down ? service->outage_id : 0,
        .started_at_ms = down ? service->outage_started_ms : -1,
        .ended_at_ms = -1,
        .flap_id = service->alert.flap_id,
    };
    s_alert(self, &alert, false);
    if (down) {
        service->alert.notified = true;
        s_wrote(self, zb_store_outage_flag(self->store, service->outage_id, true, false));
    }
}

static int s_publish_row(const zb_store_delivery_t *row, void *arg)
{
    zb_policy_t *self = arg;
    const zb_store_alert_t *alert = row->alert;
    char topic[ZB_NAME_MAX * 2 + 16];
    if (alert->service)
        snprintf(topic, sizeof(topic), "alert.%s.%s", alert->host, alert->service);
    else
        snprintf(topic, sizeof(topic), "alert.%s", alert->host);
    s_publish(self, topic, alert->payload);
    return 0;
}

//  A held opening alert whose silence is over goes out now.
static void s_release(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    int64_t started = service ? service->outage_started_ms : host->outage_started_ms;
    if (service)
        service->alert.reminded = s_period(self, started);
    else
        host->alert.reminded = s_period(self, started);
    zb_alert_t alert = {
        .trigger = service ? ZB_ALERT_DOWN : ZB_ALERT_SILENT,
        .host = host->name,
        .service = service ? service->name : NULL,
        .outage_id = service ? service->outage_id : host->outage_id,
    };
    char id[ZB_ALERT_ID_MAX + 1];
    zb_alert_id(&alert, id, sizeof(id));
    int rc = zb_store_alert_release(self->store, id, self->now_wall);
    s_wrote(self, rc);
    if (rc < 0)
        return;
    s_wrote(self, zb_store_outage_flag(self->store, alert.outage_id, true, true));
    if (service) {
        service->alert.held = false;
        service->alert.notified = true;
    } else {
        host->alert.held = false;
        host->alert.notified = true;
    }
    zb_log_info("alert %s released (its silence ended)", id);
    self->poke = self->poke || rc > 0;
    //  The stream gets it now, as it was made.
    if (self->io->publishing(self->arg) &&
        zb_store_alert_get(self->store, id, s_publish_row, self) < 0)
        s_wrote(self, -1);
}

//  Reminders at the outage's start + k x repeat, k = 1, 2, ...: numbered
//  by k, so ids stay unique across restarts; a restarted monitor does not
//  make up the periods it missed (s_load_outage).
static void s_remind(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    int64_t started = service ? service->outage_started_ms : host->outage_started_ms;
    int64_t *reminded = service ? &service->alert.reminded : &host->alert.reminded;
    int64_t k = s_period(self, started);
    if (k <= *reminded)
        return;
    *reminded = k;
    //  A silence that began after the outage's alert: no reminders during it.
    if (s_silenced(self, host->name, service ? service->name : NULL))
        return;
    zb_alert_t alert = {
        .trigger = ZB_ALERT_REMINDER,
        .host = host->name,
        .service = service ? service->name : NULL,
        .state = service ? "down" : "silent",
        .reason = service ? service->reason : "silent",
        .error = service ? zb_fleet_service_error(service) : "",
        .outage_id = service ? service->outage_id : host->outage_id,
        .started_at_ms = started,
        .ended_at_ms = -1,
        .reminder = (int)k,
    };
    s_alert(self, &alert, false);
}

static int s_load_silence(const zb_store_silence_t *row, void *arg)
{
    zb_policy_t *self = arg;
    if (self->silence_count == ZB_POLICY_SILENCES_MAX)
        return 1;
    zb_store_silence_t *silence = &self->silences[self->silence_count];
    *silence = *row;
    silence->host = strdup(row->host);
    silence->service = row->service ? strdup(row->service) : NULL;
    silence->reason = NULL; // not needed here
    if (!silence->host || (row->service && !silence->service)) {
        free((char *)silence->host);
        free((char *)silence->service);
        return -1;
    }
    self->silence_count++;
    return 0;
}

static void s_silences_clear(zb_policy_t *self)
{
    for (size_t i = 0; i < self->silence_count; i++) {
        free((char *)self->silences[i].host);
        free((char *)self->silences[i].service);
    }
    self->silence_count = 0;
}

static bool s_silence_listed(const zb_store_silence_t *list, size_t count, int64_t id)
{
    for (size_t i = 0; i < count; i++)
        if (list[i].id == id)
            return true;
    return false;
}

//  Silences are re-read every tick: `zbeat silence` writes them from
//  another process, and this is cheap (only those not yet ended). Changes
//  are logged, so an operator sees the monitor took them up.
static void s_silences_load(zb_policy_t *self)
{
    if (!self->silences) {
        self->silences = calloc(2 * ZB_POLICY_SILENCES_MAX, sizeof(zb_store_silence_t));
        if (!self->silences)
            return;
    }
    //  The previous set moves to the second half, for comparison.
    zb_store_silence_t *before = self->silences + ZB_POLICY_SILENCES_MAX;
    size_t before_count = self->silence_count;
    memcpy(before, self->silences, before_count * sizeof(zb_store_silence_t));
    self->silence_count = 0;
    int rc = zb_store_silences(self->store, self->now_wall, s_load_silence, self);
    if (rc < 0) {
        //  Keep the previous set rather than dropping every silence.
        zb_log_error("silences: %s", zb_store_error(self->store));
        s_silences_clear(self);
        memcpy(self->silences, before, before_count * sizeof(zb_store_silence_t));
        self->silence_count = before_count;
        return;
    }
    if (rc == 1)
        zb_log_warning("more than %d silences: the rest are ignored", ZB_POLICY_SILENCES_MAX);
    for (size_t i = 0; i < self->silence_count; i++) {
        const zb_store_silence_t *silence = &self->silences[i];
        if (!s_silence_listed(before, before_count, silence->id)) {
            char until[40];
            zb_time_format_rfc3339(silence->ends_at_ms, until, sizeof(until));
            zb_log_info("silence %" PRId64 " taken up: %s/%s until %s", silence->id, silence->host,
                        silence->service ? silence->service : "*", until);
        }
    }
    for (size_t i = 0; i < before_count; i++) {
        if (!s_silence_listed(self->silences, self->silence_count, before[i].id))
            zb_log_info("silence %" PRId64 " ended", before[i].id);
        free((char *)before[i].host);
        free((char *)before[i].service);
    }
}

//  zb_episodes' hands: the policy's silences, alerts and write results.
static bool s_episodes_silenced(void *arg, const char *host, const char *service)
{
    return s_silenced(arg, host, service);
}

static void s_episodes_alert(void *arg, zb_alert_t *alert)
{
    s_alert(arg, alert, false);
}

static void s_episodes_wrote(void *arg, int rc)
{
    s_wrote(arg, rc);
}

//  Once a second: silences re-read, held alerts released when their
//  silence is over, flapping services that calmed down, reminders.
void zb_policy_tick(zb_policy_t *self, zb_fleet_t *fleet)
{
    s_silences_load(self);
    static const zb_episodes_io_t io = {
        .silenced = s_episodes_silenced, .alert = s_episodes_alert, .wrote = s_episodes_wrote};
    zb_episodes_t episodes = {.config = self->config,
                              .plan = &self->episodes,
                              .store = self->store,
                              .now_wall = self->now_wall,
                              .io = &io,
                              .arg = self};
    zb_episodes_tick(&episodes, fleet);
    if (!self->alert_walk && self->config->repeat_ms == 0)
        return;
    bool walk = false;
    for (zb_fleet_host_t *host = zb_fleet_first(fleet); host; host = zb_fleet_next(fleet)) {
        if (host->outage_id && host->alert.held && !s_silenced(self, host->name, NULL))
            s_release(self, host, NULL);
        walk = walk || host->alert.held;
        if (host->outage_id && host->alert.notified && self->config->repeat_ms)
            s_remind(self, host, NULL);
        //  One alert per incident: while the host is silent or stopped, its
        //  services wait (and are looked at again once it is back).
        bool alive = host->state == ZB_FLEET_ALIVE;
        for (zb_fleet_service_t *service = zb_fleet_service_first(host); service;
             service = zb_fleet_service_next(host)) {
            if (!alive) {
                walk = walk || service->alert.held || service->alert.flapping;
                continue;
            }
            if (service->alert.flapping &&
                self->now_mono - service->alert.changed_mono >= self->config->flap_quiet_ms)
                s_flap_end(self, host, service);
            if (service->outage_id && service->alert.held && !service->alert.flapping &&
                !s_silenced(self, host->name, service->name))
                s_release(self, host, service);
            if (service->outage_id && service->alert.notified && !service->alert.flapping &&
                self->config->repeat_ms)
                s_remind(self, host, service);
            walk = walk || service->alert.held || service->alert.flapping;
        }
    }
    self->alert_walk = walk;
}

zb_policy_t *zb_policy_new(const zb_monitor_config_t *config, zb_store_t *store,
                           const zb_policy_io_t *io, void *arg)
{
    assert(config && store && io);
    zb_policy_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->config = config;
    self->store = store;
    self->io = io;
    self->arg = arg;
    return self;
}

void zb_policy_destroy(zb_policy_t **self_p)
{
    assert(self_p);
    zb_policy_t *self = *self_p;
    if (!self)
        return;
    s_silences_clear(self);
    free(self->silences);
    free(self);
    *self_p = NULL;
}

void zb_policy_clock(zb_policy_t *self, int64_t now_mono, int64_t now_wall)
{
    assert(self);
    self->now_mono = now_mono;
    self->now_wall = now_wall;
}

void zb_policy_flip(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                    zb_state_t to, const char *reason, const char *error)
{
    assert(self && host && service);
    if (s_flap_note(self, service))
        s_flap_start(self, host, service, to, reason, error);
}

void zb_policy_opened(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    assert(self && host);
    s_alert_opened(self, host, service);
}

void zb_policy_closed(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                      int64_t id, int64_t started_ms, int64_t ended_ms, const char *end_reason)
{
    assert(self && host);
    s_alert_closed(self, host, service, id, started_ms, ended_ms, end_reason);
}

void zb_policy_conflict(zb_policy_t *self, zb_fleet_host_t *host)
{
    assert(self && host);
    //  Not an outage: nothing to hold and release, so a silence drops it.
    if (s_silenced(self, host->name, NULL))
        return;
    zb_alert_t alert = {
        .trigger = ZB_ALERT_CONFLICT,
        .host = host->name,
        .state = "name-conflict",
        .reason = "name-conflict",
        .error = "",
        .started_at_ms = -1,
        .ended_at_ms = -1,
        .flap_id = host->conflict_ms,
    };
    s_alert(self, &alert, false);
}

void zb_policy_loaded(zb_policy_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                      bool notified, bool silenced, int64_t started_ms)
{
    assert(self && host);
    zb_fleet_marks_t *marks = service ? &service->alert : &host->alert;
    marks->notified = notified;
    marks->held = silenced && !notified;
    //  Periods missed while no monitor ran are not made up.
    marks->reminded = s_period(self, started_ms);
    self->alert_walk = self->alert_walk || marks->held;
}

void zb_policy_reloaded(zb_policy_t *self, zb_fleet_t *fleet, bool flap_threshold_changed)
{
    assert(self && fleet);
    //  The rings are sized by the threshold: start them afresh.
    for (zb_fleet_host_t *host = zb_fleet_first(fleet); host && flap_threshold_changed;
         host = zb_fleet_next(fleet))
        for (zb_fleet_service_t *service = zb_fleet_service_first(host); service;
             service = zb_fleet_service_next(host)) {
            free(service->alert.flaps);
            service->alert.flaps = NULL;
            service->alert.flap_count = service->alert.flap_next = 0;
        }
    self->alert_walk = true;
}

bool zb_policy_poked(zb_policy_t *self)
{
    assert(self);
    bool poke = self->poke;
    self->poke = false;
    return poke;
}
