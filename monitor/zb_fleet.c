/*  zb_fleet: the fleet, its hosts and services, the outage rules and their
    effects through the sink; live messages (zb_fleet_handle) and the state
    a previous run left. Beats, replay, name conflicts, liveness and the
    checkpoint queue are in files of their own (zb_fleet_internal.h). See
    zb_fleet.h. */
#include "zb_fleet_internal.h"
#include "zb_log.h"
#include "zb_table.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_host_state_names[] = {"alive", "silent", "stopped"};

const char *zb_fleet_host_state_name(zb_fleet_host_state_t state)
{
    return s_host_state_names[state];
}

const char *zb_fleet_host_word(const zb_fleet_host_t *host)
{
    assert(host);
    if (host->rival[0] && host->state == ZB_FLEET_ALIVE)
        return "name-conflict";
    return s_host_state_names[host->state];
}

static void s_service_free(void *item)
{
    zb_fleet_service_t *service = item;
    free(service->alert.flaps);
    free(service->error);
    free(service);
}

static void s_host_free(void *item)
{
    zb_fleet_host_t *host = item;
    zb_table_destroy(&host->services);
    free(host->alert.flaps);
    free(host);
}

static zb_fleet_host_t *s_host_new(zb_fleet_t *self, const char *name)
{
    zb_fleet_host_t *host = calloc(1, sizeof(*host));
    if (!host)
        return NULL;
    snprintf(host->name, sizeof(host->name), "%s", name);
    host->services = zb_table_new(s_service_free);
    if (!host->services || zb_table_insert(self->hosts, host->name, host) != 0) {
        s_host_free(host);
        return NULL;
    }
    zb_fleet_checkpoint_add(self, host);
    return host;
}

static zb_fleet_service_t *s_service_new(zb_fleet_host_t *host, const char *name)
{
    size_t len = strnlen(name, ZB_NAME_MAX);
    zb_fleet_service_t *service = calloc(1, sizeof(*service) + len + 1);
    if (!service)
        return NULL;
    memcpy(service->name, name, len);
    service->state = ZB_STATE_UNKNOWN;
    if (zb_table_insert(host->services, service->name, service) != 0) {
        free(service);
        return NULL;
    }
    return service;
}

//  Agents' texts (reason, error) are free-form: copied for the log with
//  anything that could drive a terminal escaped.
static const char *s_clean(const char *text, char *buf, size_t size)
{
    zb_text_printable(text, strlen(text), buf, size, 0);
    return buf;
}

//  --------------------------------------------------------------------------
//  Effects, through the sink

void zb_fleet_host_write(zb_fleet_t *self, zb_fleet_host_t *host)
{
    self->writes++;
    self->sink->host_put(self->arg, host);
    host->last_seen_written = host->last_seen_wall;
}

void zb_fleet_service_write(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    self->writes++;
    self->sink->service_put(self->arg, host, service);
}

void zb_fleet_instance_write(zb_fleet_t *self, const char *host, const char *instance,
                             int64_t now_wall, uint64_t seq)
{
    self->writes++;
    self->sink->instance_put(self->arg, host, instance, now_wall, seq);
}

//  Returns true when it opened an outage (none was open).
static bool s_outage_open(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                          int64_t started_ms, const char *reason, const char *error)
{
    int64_t id = 0, started = started_ms;
    self->writes++;
    int rc =
        self->sink->outage_open(self->arg, host, service, started_ms, reason, error, &id, &started);
    if (rc < 0)
        return false;
    if (service) {
        service->outage_id = id;
        service->outage_started_ms = started;
    } else {
        host->outage_id = id;
        host->outage_started_ms = started;
    }
    if (rc == 1 && service)
        self->counts.service_outages++;
    else if (rc == 1)
        self->counts.host_outages++;
    char why[ZB_TEXT_PRINTABLE_MAX(ZB_REASON_MAX)], text[ZB_TEXT_PRINTABLE_MAX(ZB_ERROR_MAX)];
    s_clean(reason, why, sizeof(why));
    s_clean(error, text, sizeof(text));
    if (rc == 1 && service)
        zb_log_fields(host->name, service->name, "down", why, "outage opened: %s/%s (%s%s%s)",
                      host->name, service->name, why, *text ? ": " : "", text);
    else if (rc == 1)
        zb_log_fields(host->name, NULL, "silent", why, "outage opened: %s (%s)", host->name, why);
    return rc == 1;
}

static void s_outage_close(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                           int64_t ended_ms, const char *end_reason)
{
    int64_t *id = service ? &service->outage_id : &host->outage_id;
    if (*id == 0)
        return;
    int64_t closed = *id;
    self->writes++;
    int rc = self->sink->outage_close(self->arg, *id, ended_ms, end_reason);
    *id = 0;
    int64_t started = service ? service->outage_started_ms : host->outage_started_ms;
    if (rc == 1)
        self->sink->closed(self->arg, host, service, closed, started, ended_ms, end_reason);
    if (rc == 1 && service) {
        char duration[32];
        zb_time_format_duration(ended_ms > started ? ended_ms - started : 0, duration,
                                sizeof(duration));
        zb_log_fields(host->name, service->name, "up", end_reason,
                      "outage closed: %s/%s after %s (%s)", host->name, service->name, duration,
                      end_reason);
    }
}

//  --------------------------------------------------------------------------
//  Services

//  Drops a service from state: its outage ends as "removed".
static void s_service_remove(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                             int64_t at_ms)
{
    s_outage_close(self, host, service, at_ms, "removed");
    self->writes++;
    self->sink->service_delete(self->arg, host, service);
    zb_log_info("service removed: %s/%s", host->name, service->name);
    zb_table_delete(host->services, service->name);
}

//  A service's error, at most ZB_ERROR_MAX bytes. Every beat repeats it:
//  the same text is neither freed nor copied. Out of memory the service
//  keeps none; its state and reason, which outages follow, stand.
static void s_error_set(zb_fleet_service_t *service, const char *error)
{
    size_t len = error ? strnlen(error, ZB_ERROR_MAX) : 0;
    if (service->error && len && strncmp(service->error, error, len) == 0 &&
        service->error[len] == '\0')
        return;
    free(service->error);
    service->error = len ? malloc(len + 1) : NULL;
    if (service->error) {
        memcpy(service->error, error, len);
        service->error[len] = '\0';
    }
}

//  Moves a service to `to`, as an event or a beat reported it.
void zb_fleet_service_apply(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                            zb_state_t to, int64_t at_ms, const char *kind, const char *reason,
                            const char *error)
{
    if (to == ZB_STATE_REMOVED) {
        s_service_remove(self, host, service, at_ms);
        return;
    }
    zb_state_t from = service->state;
    bool changed = from != to;
    //  Reason and error follow every report; only a change of state is
    //  written (they ride along then).
    if (kind && *kind)
        zb_fleet_copy(service->kind, sizeof(service->kind), kind);
    zb_fleet_copy(service->reason, sizeof(service->reason), reason);
    s_error_set(service, error);
    //  Flapping counts changes between up and down only: unknown (a host
    //  silent, an agent restarting) is not the service changing its mind.
    if ((from == ZB_STATE_UP && to == ZB_STATE_DOWN) ||
        (from == ZB_STATE_DOWN && to == ZB_STATE_UP))
        self->sink->flip(self->arg, host, service, to, reason, error);
    if (to == ZB_STATE_DOWN && service->outage_id == 0) {
        if (s_outage_open(self, host, service, at_ms, reason, error))
            self->sink->opened(self->arg, host, service);
    } else if (to == ZB_STATE_UP)
        s_outage_close(self, host, service, at_ms, "up");
    else if (to == ZB_STATE_STOPPED)
        s_outage_close(self, host, service, at_ms, "stopped");
    if (!changed)
        return;
    char why[ZB_TEXT_PRINTABLE_MAX(ZB_REASON_MAX)];
    zb_log_debug("%s/%s: %s -> %s (%s)", host->name, service->name, zb_state_name(from),
                 zb_state_name(to), s_clean(reason, why, sizeof(why)));
    service->state = to;
    //  Down since the outage began, even when reports arrive later.
    service->since_ms =
        to == ZB_STATE_DOWN && service->outage_id ? service->outage_started_ms : at_ms;
    zb_fleet_service_write(self, host, service);
    self->sink->state(self->arg, host, service, zb_state_name(from), zb_state_name(to),
                      service->since_ms, reason);
}

zb_fleet_service_t *zb_fleet_service_get(zb_fleet_t *self, zb_fleet_host_t *host, const char *name)
{
    zb_fleet_service_t *service = zb_table_lookup(host->services, name);
    if (service)
        return service;
    if (zb_table_size(host->services) >= ZB_FLEET_MAX_SERVICES) {
        self->counts.dropped++;
        if (!host->cap_logged)
            zb_log_warning("%s: more than %d services, ignoring the rest", host->name,
                           ZB_FLEET_MAX_SERVICES);
        host->cap_logged = true;
        return NULL;
    }
    service = s_service_new(host, name);
    if (!service)
        zb_log_error("%s/%s: out of memory", host->name, name);
    return service;
}

//  --------------------------------------------------------------------------
//  Hosts

//  Silent or stopped: nothing is known about the services any more.
static void s_host_quiet(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_host_state_t state,
                         int64_t since_ms)
{
    self->sink->state(self->arg, host, NULL, s_host_state_names[host->state],
                      s_host_state_names[state], since_ms,
                      state == ZB_FLEET_SILENT ? "silent" : "stopped");
    host->state = state;
    host->since_ms = since_ms;
    if (state == ZB_FLEET_STOPPED)
        self->counts.stops++;
    //  The services are unknown now, whatever the agent's table says.
    host->digest_known = false;
    bool changed = false;
    for (zb_fleet_service_t *service = zb_table_first(host->services); service;
         service = zb_table_next(host->services)) {
        if (service->state == ZB_STATE_UNKNOWN)
            continue;
        service->state = ZB_STATE_UNKNOWN;
        service->since_ms = since_ms;
        zb_fleet_copy(service->reason, sizeof(service->reason), s_host_state_names[state]);
        s_error_set(service, NULL);
        changed = true;
    }
    if (changed) {
        self->writes++;
        self->sink->services_quiet(self->arg, host, since_ms, s_host_state_names[state]);
    }
    zb_fleet_host_write(self, host);
}

void zb_fleet_host_silent(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono)
{
    char ago[32];
    zb_time_format_duration(now_mono - host->last_seen_mono, ago, sizeof(ago));
    zb_log_fields(host->name, NULL, "silent", NULL, "host silent: %s (last heard %s ago)",
                  host->name, ago);
    bool opened = s_outage_open(self, host, NULL, host->last_seen_wall, "silent", "");
    s_host_quiet(self, host, ZB_FLEET_SILENT, host->last_seen_wall);
    if (opened)
        self->sink->opened(self->arg, host, NULL);
}

//  A host not listed yet, alive since now_wall; NULL over the cap or out of
//  memory (counted or logged).
static zb_fleet_host_t *s_host_add(zb_fleet_t *self, const char *name, int64_t now_wall)
{
    if (zb_table_size(self->hosts) >= self->max_hosts) {
        self->counts.dropped++;
        if (!self->cap_logged)
            zb_log_warning("more than %zu hosts, ignoring new ones", self->max_hosts);
        self->cap_logged = true;
        return NULL;
    }
    zb_fleet_host_t *host = s_host_new(self, name);
    if (!host) {
        zb_log_error("%s: out of memory", name);
        return NULL;
    }
    host->state = ZB_FLEET_ALIVE;
    host->since_ms = now_wall;
    zb_log_info("host new: %s", name);
    return host;
}

zb_fleet_host_t *zb_fleet_host_get(zb_fleet_t *self, const char *name, int64_t now_wall,
                                   bool *created)
{
    *created = false;
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name);
    if (host)
        return host;
    host = s_host_add(self, name, now_wall);
    *created = host != NULL;
    return host;
}

//  --------------------------------------------------------------------------
//  Events

void zb_fleet_event(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
{
    //  The state moved past the last full beat: only the next one (which
    //  the agent sends on every change) says what the table is.
    host->digest_known = false;
    if (!msg->service[0]) {
        //  The decoder admits only "to stopped" for a host event.
        if (msg->to == ZB_STATE_STOPPED && host->state != ZB_FLEET_STOPPED) {
            char why[ZB_TEXT_PRINTABLE_MAX(ZB_REASON_MAX)];
            zb_log_info("host stopped: %s (%s)", host->name,
                        s_clean(msg->reason, why, sizeof(why)));
            s_host_quiet(self, host, ZB_FLEET_STOPPED, msg->at_ms);
        }
        return;
    }
    zb_fleet_service_t *service = zb_table_lookup(host->services, msg->service);
    if (!service && msg->to == ZB_STATE_REMOVED)
        return;
    if (!service)
        service = zb_fleet_service_get(self, host, msg->service);
    if (service)
        zb_fleet_service_apply(self, host, service, msg->to, msg->at_ms, NULL, msg->reason,
                               msg->error);
}

//  --------------------------------------------------------------------------
//  Input

bool zb_fleet_quiet(zb_fleet_t *self, const zb_msg_t *msg, zb_fleet_host_t **host_p)
{
    assert(self && msg && host_p);
    //  The one lookup of the message: zb_fleet_handle takes what it found.
    zb_fleet_host_t *host = *host_p = zb_table_lookup(self->hosts, msg->host);
    if (msg->type != ZB_MSG_BEAT || !host || host->state != ZB_FLEET_ALIVE ||
        host->interval_ms != msg->interval_ms || strcmp(host->instance, msg->instance) != 0)
        return false;
    //  A thin beat never writes. A full one whose digest is the held one
    //  repeats the table the services already follow: digest_known is
    //  cleared by whatever moves them away from it (an event, a silence, a
    //  stop, a replay, a new agent run).
    return msg->thin || (msg->has_digest && host->digest_known && host->digest == msg->digest);
}

void zb_fleet_handle(zb_fleet_t *self, const zb_msg_t *msg, zb_fleet_host_t *host, int64_t now_mono,
                     int64_t now_wall)
{
    assert(self && msg);
    //  The decoder checked the names; a bad one here is a bug upstream.
    assert(zb_name_valid(msg->host));
    //  host is what zb_fleet_quiet found: checked by name, which is on a
    //  line read next anyway, not by the second lookup this call saves.
    assert(!host || strcmp(host->name, msg->host) == 0);
    bool dirty = !host; // a new host's row is written
    if (!host)
        host = s_host_add(self, msg->host, now_wall);
    if (!host)
        return;
    if (strcmp(host->instance, msg->instance) == 0) {
        if (host->last_seq && msg->seq <= host->last_seq) {
            self->counts.stale++;
            return;
        }
        if (host->last_seq && msg->seq > host->last_seq + 1)
            self->counts.seq_gaps += msg->seq - host->last_seq - 1;
    } else {
        if (!dirty && zb_fleet_rival(self, host, msg, now_mono, now_wall))
            return;
        //  A new agent run: sequence numbers start over, nothing is missed.
        if (host->instance[0]) {
            zb_log_info("host restarted: %s (instance %s -> %s)", host->name, host->instance,
                        msg->instance);
            zb_fleet_copy(host->displaced, sizeof(host->displaced), host->instance);
            host->displaced_mono = now_mono;
            host->displaced_interval_ms = host->interval_ms;
        }
        zb_fleet_copy(host->instance, sizeof(host->instance), msg->instance);
        zb_fleet_instance_write(self, host->name, host->instance, now_wall, msg->seq);
        host->digest_known = false;
        //  Its datagrams count from 1 again.
        zb_detector_restart(&host->detector);
        dirty = true;
    }
    uint64_t writes = self->writes;
    self->counts.messages++;
    host->last_seq = msg->seq;
    host->last_seen_wall = now_wall;
    //  When the message proves the host alive (zb_detector_message: a late
    //  one, while datagrams flow, proves less than its arrival).
    int64_t alive =
        zb_detector_message(&host->detector, &self->detector, zb_fleet_interval(host), now_mono,
                            msg->time_ms > 0 ? now_wall - msg->time_ms : INT64_MIN);
    if (alive == now_mono || host->state != ZB_FLEET_ALIVE)
        host->last_seen_mono = now_mono;
    else if (alive > host->last_seen_mono)
        host->last_seen_mono = alive;

    if (host->state == ZB_FLEET_SILENT) {
        char duration[32];
        zb_time_format_duration(now_wall - host->since_ms, duration, sizeof(duration));
        zb_log_fields(host->name, NULL, "alive", "back", "host back: %s (silent for %s)",
                      host->name, duration);
        s_outage_close(self, host, NULL, now_wall, "back");
        self->sink->state(self->arg, host, NULL, "silent", "alive", now_wall, "back");
        host->state = ZB_FLEET_ALIVE;
        host->since_ms = now_wall;
        dirty = true;
    } else if (host->state == ZB_FLEET_STOPPED &&
               !(msg->type == ZB_MSG_EVENT && !msg->service[0])) {
        zb_log_fields(host->name, NULL, "alive", "back", "host back: %s (after a stop)",
                      host->name);
        self->sink->state(self->arg, host, NULL, "stopped", "alive", now_wall, "back");
        host->state = ZB_FLEET_ALIVE;
        host->since_ms = now_wall;
        dirty = true;
    }
    if (msg->type == ZB_MSG_BEAT) {
        if (zb_fleet_beat(self, host, msg))
            dirty = true;
    } else
        zb_fleet_event(self, host, msg);
    if (dirty)
        zb_fleet_host_write(self, host);
    //  The instance row carries the last sequence number whose effects are
    //  committed with it.
    if (self->writes != writes)
        zb_fleet_instance_write(self, host->name, host->instance, now_wall, host->last_seq);
    zb_fleet_deadline_set(self, host);
}

//  --------------------------------------------------------------------------
//  Loading the state a previous run left

zb_fleet_host_t *zb_fleet_load_host(zb_fleet_t *self, const char *name, const char *state,
                                    int64_t since_ms, const char *instance, int64_t interval_ms,
                                    int64_t last_seen_wall, uint64_t last_seq, int64_t now_mono,
                                    bool *failed)
{
    assert(self && failed);
    *failed = false;
    if (!zb_name_valid(name))
        return NULL;
    zb_fleet_host_t *host = s_host_new(self, name);
    if (!host) {
        *failed = true;
        return NULL;
    }
    host->state = strcmp(state, "silent") == 0    ? ZB_FLEET_SILENT
                  : strcmp(state, "stopped") == 0 ? ZB_FLEET_STOPPED
                                                  : ZB_FLEET_ALIVE;
    host->since_ms = since_ms;
    if (host->state == ZB_FLEET_STOPPED)
        self->counts.stops++;
    host->conflict_loaded = strcmp(state, "name-conflict") == 0;
    host->loaded_mono = now_mono;
    zb_fleet_copy(host->instance, sizeof(host->instance), instance);
    host->interval_ms = interval_ms;
    host->last_seen_wall = last_seen_wall;
    host->last_seen_written = last_seen_wall;
    //  A fresh grace period: the host was not silent; we were away.
    host->last_seen_mono = now_mono;
    //  Messages of this agent run up to what is committed are stale: a beat
    //  queued in the agent while we were down must not undo a transition
    //  the previous run recorded (or that replay brought).
    host->last_seq = last_seq;
    zb_fleet_deadline_set(self, host);
    return host;
}

zb_fleet_service_t *zb_fleet_load_service(zb_fleet_t *self, const char *name_host, const char *name,
                                          const char *state, int64_t since_ms, const char *kind,
                                          const char *reason, const char *error,
                                          int64_t tls_expires, bool *failed)
{
    assert(self && failed);
    *failed = false;
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name_host);
    if (!host || !zb_name_valid(name))
        return NULL;
    zb_fleet_service_t *service = s_service_new(host, name);
    if (!service) {
        *failed = true;
        return NULL;
    }
    zb_state_parse(state, &service->state);
    service->since_ms = since_ms;
    zb_fleet_copy(service->kind, sizeof(service->kind), kind);
    zb_fleet_copy(service->reason, sizeof(service->reason), reason);
    s_error_set(service, error);
    //  Known before its first beat, so a certificate alert survives a restart.
    service->tls_expires = tls_expires;
    if (tls_expires)
        self->counts.certs++;
    return service;
}

int zb_fleet_load_outage(zb_fleet_t *self, const char *name_host, const char *name, int64_t id,
                         int64_t started_ms, int64_t now_mono, zb_fleet_host_t **host_p,
                         zb_fleet_service_t **service_p)
{
    assert(self && host_p && service_p);
    *host_p = NULL;
    *service_p = NULL;
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name_host);
    if (!host && zb_name_valid(name_host)) {
        host = s_host_new(self, name_host);
        if (!host)
            return -1;
        host->state = ZB_FLEET_ALIVE;
        host->last_seen_mono = now_mono;
        host->last_seen_wall = started_ms;
        zb_fleet_deadline_set(self, host);
    }
    if (!host)
        return 0;
    if (!name) {
        host->outage_id = id;
        host->outage_started_ms = started_ms;
        host->state = ZB_FLEET_SILENT;
        *host_p = host;
        return 0;
    }
    zb_fleet_service_t *service = zb_table_lookup(host->services, name);
    //  An open outage of a service the table lost: keep it closable.
    if (!service && zb_name_valid(name))
        service = s_service_new(host, name);
    if (!service)
        return 0;
    service->outage_id = id;
    service->outage_started_ms = started_ms;
    *host_p = host;
    *service_p = service;
    return 0;
}

//  --------------------------------------------------------------------------
//  The fleet: lifecycle, settings, lookups

zb_fleet_t *zb_fleet_new(const zb_fleet_sink_t *sink, void *arg, int liveness)
{
    assert(sink);
    zb_fleet_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->sink = sink;
    self->arg = arg;
    self->liveness = liveness;
    self->max_hosts = ZB_FLEET_MAX_HOSTS;
    self->detector = (zb_detector_config_t){.min_ms = 1000, .max_ms = 10000, .liveness = liveness};
    zb_detector_config_phi(&self->detector, 8);
    self->hosts = zb_table_new(s_host_free);
    self->due = zb_heap_new();
    if (!self->hosts || !self->due) {
        zb_table_destroy(&self->hosts);
        zb_heap_destroy(&self->due);
        free(self);
        return NULL;
    }
    return self;
}

void zb_fleet_destroy(zb_fleet_t **self_p)
{
    assert(self_p);
    zb_fleet_t *self = *self_p;
    if (!self)
        return;
    zb_heap_destroy(&self->due); // before the hosts its nodes live in
    zb_table_destroy(&self->hosts);
    free(self);
    *self_p = NULL;
}

void zb_fleet_set_max_hosts(zb_fleet_t *self, size_t max_hosts)
{
    assert(self && max_hosts > 0);
    self->max_hosts = max_hosts;
    self->cap_logged = false;
}

bool zb_fleet_forget(zb_fleet_t *self, const char *name)
{
    assert(self && name);
    if (!zb_table_lookup(self->hosts, name))
        return false;
    zb_log_info("host forgotten: %s", name);
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name);
    zb_fleet_checkpoint_remove(self, host);
    zb_heap_remove(self->due, &host->due);
    zb_table_delete(self->hosts, name);
    return true;
}

zb_fleet_host_t *zb_fleet_host(zb_fleet_t *self, const char *name)
{
    assert(self);
    return zb_table_lookup(self->hosts, name);
}

size_t zb_fleet_size(zb_fleet_t *self)
{
    assert(self);
    return zb_table_size(self->hosts);
}

zb_fleet_host_t *zb_fleet_first(zb_fleet_t *self)
{
    assert(self);
    return zb_table_first(self->hosts);
}

zb_fleet_host_t *zb_fleet_next(zb_fleet_t *self)
{
    assert(self);
    return zb_table_next(self->hosts);
}

zb_fleet_service_t *zb_fleet_service_first(zb_fleet_host_t *host)
{
    assert(host);
    return zb_table_first(host->services);
}

zb_fleet_service_t *zb_fleet_service_next(zb_fleet_host_t *host)
{
    assert(host);
    return zb_table_next(host->services);
}

void zb_fleet_counts(zb_fleet_t *self, zb_fleet_counts_t *counts)
{
    assert(self && counts);
    *counts = self->counts;
}
