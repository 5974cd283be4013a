/*  zb_fleet: hosts, services, outage rules. See zb_fleet.h. */
#include "zb_fleet.h"
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

struct _zb_fleet_t {
    const zb_fleet_sink_t *sink; // where effects go
    void *arg;                   // the sink's
    zb_table_t *hosts;           // name -> zb_fleet_host_t
    int liveness;                // beats a host may miss
    size_t max_hosts;            // hosts tracked at most
    bool cap_logged;             // the hosts cap was hit and said so
    zb_fleet_counts_t counts;
    uint64_t writes;               // sink writes so far (to see if a message wrote)
    zb_detector_config_t detector; // bounds and phi of the hosts' detectors
    //  Hosts by when they must next be looked at (s_host_deadline): each key
    //  a lower bound, made exact when popped. Hosts that cannot go silent
    //  (silent, stopped) are not in it.
    zb_heap_t *due;
    //  The checkpoint queue (zb_fleet_heard_next), through the hosts.
    zb_fleet_host_t *heard_head;
    zb_fleet_host_t *heard_tail;
};

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
    free(service);
}

static void s_host_free(void *item)
{
    zb_fleet_host_t *host = item;
    zb_table_destroy(&host->services);
    free(host->alert.flaps);
    free(host);
}

static void s_heard_unlink(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (host->heard_prev)
        host->heard_prev->heard_next = host->heard_next;
    else
        self->heard_head = host->heard_next;
    if (host->heard_next)
        host->heard_next->heard_prev = host->heard_prev;
    else
        self->heard_tail = host->heard_prev;
    host->heard_prev = host->heard_next = NULL;
}

static void s_heard_append(zb_fleet_t *self, zb_fleet_host_t *host)
{
    host->heard_prev = self->heard_tail;
    host->heard_next = NULL;
    if (self->heard_tail)
        self->heard_tail->heard_next = host;
    else
        self->heard_head = host;
    self->heard_tail = host;
}

//  A new host goes to the front, unstamped: the next zb_fleet_heard_next
//  stamps it then (at the back it would wait behind every stamped host, a
//  whole period late).
static void s_heard_prepend(zb_fleet_t *self, zb_fleet_host_t *host)
{
    host->heard_prev = NULL;
    host->heard_next = self->heard_head;
    if (self->heard_head)
        self->heard_head->heard_prev = host;
    else
        self->heard_tail = host;
    self->heard_head = host;
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
    s_heard_prepend(self, host);
    return host;
}

static zb_fleet_service_t *s_service_new(zb_fleet_host_t *host, const char *name)
{
    zb_fleet_service_t *service = calloc(1, sizeof(*service));
    if (!service)
        return NULL;
    snprintf(service->name, sizeof(service->name), "%s", name);
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

//  Bounded copy; on the path of every service of every beat, so no
//  snprintf (its format parsing was a tenth of the monitor's CPU).
static void s_copy(char *dst, size_t size, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (len > size - 1)
        len = size - 1;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

//  The beat interval the host announced, or the long one assumed before.
static int64_t s_interval(const zb_fleet_host_t *host)
{
    return host->interval_ms ? host->interval_ms : ZB_FLEET_UNKNOWN_INTERVAL_MS;
}

int64_t zb_fleet_threshold(zb_fleet_t *self, const zb_fleet_host_t *host)
{
    assert(self && host);
    return zb_detector_threshold(&host->detector, &self->detector, s_interval(host));
}

//  When the host goes silent unless heard (strictly past its threshold:
//  the first ms after), INT64_MAX when it cannot.
static int64_t s_silent_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (host->state != ZB_FLEET_ALIVE)
        return INT64_MAX;
    return host->last_seen_mono + zb_fleet_threshold(self, host) + 1;
}

//  When a name conflict ends unless its rival run is heard, INT64_MAX when
//  there is none: the same window as silence.
static int64_t s_rival_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (!host->rival[0])
        return INT64_MAX;
    int64_t interval = host->interval_ms ? host->interval_ms : ZB_FLEET_UNKNOWN_INTERVAL_MS;
    return host->rival_seen_mono + self->liveness * interval + 1;
}

//  A name conflict a previous run left, not proven again: over after the
//  liveness window from the load.
static int64_t s_loaded_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (!host->conflict_loaded || host->rival[0])
        return INT64_MAX;
    int64_t interval = host->interval_ms ? host->interval_ms : ZB_FLEET_UNKNOWN_INTERVAL_MS;
    return host->loaded_mono + self->liveness * interval + 1;
}

//  The nearest of the three: the sweep must look at the host then.
static int64_t s_host_deadline(zb_fleet_t *self, zb_fleet_host_t *host)
{
    int64_t at = s_silent_at(self, host), rival = s_rival_at(self, host),
            loaded = s_loaded_at(self, host);
    if (rival < at)
        at = rival;
    return loaded < at ? loaded : at;
}

//  A host heard, back or new: its place in the heap, exact. Out of memory
//  it stays out of the heap and is logged (it cannot go silent then, which
//  is the lesser harm than a false silence).
static void s_deadline_set(zb_fleet_t *self, zb_fleet_host_t *host)
{
    int64_t at = s_host_deadline(self, host);
    if (at == INT64_MAX)
        zb_heap_remove(self->due, &host->due);
    else if (zb_heap_set(self->due, &host->due, at) != 0)
        zb_log_error("host %s: out of memory for its deadline", host->name);
}

//  --------------------------------------------------------------------------
//  Effects, through the sink

static void s_host_write(zb_fleet_t *self, zb_fleet_host_t *host)
{
    self->writes++;
    self->sink->host_put(self->arg, host);
    host->last_seen_written = host->last_seen_wall;
}

static void s_service_write(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service)
{
    self->writes++;
    self->sink->service_put(self->arg, host, service);
}

static void s_instance_write(zb_fleet_t *self, const char *host, const char *instance,
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

//  Moves a service to `to`, as an event or a beat reported it.
static void s_service_apply(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
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
        s_copy(service->kind, sizeof(service->kind), kind);
    s_copy(service->reason, sizeof(service->reason), reason);
    s_copy(service->error, sizeof(service->error), error);
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
    s_service_write(self, host, service);
    self->sink->state(self->arg, host, service, zb_state_name(from), zb_state_name(to),
                      service->since_ms, reason);
}

static zb_fleet_service_t *s_service_get(zb_fleet_t *self, zb_fleet_host_t *host, const char *name)
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
    //  The services are unknown now, whatever the agent's table says.
    host->digest_known = false;
    for (zb_fleet_service_t *service = zb_table_first(host->services); service;
         service = zb_table_next(host->services)) {
        if (service->state == ZB_STATE_UNKNOWN)
            continue;
        service->state = ZB_STATE_UNKNOWN;
        service->since_ms = since_ms;
        s_copy(service->reason, sizeof(service->reason), s_host_state_names[state]);
        service->error[0] = '\0';
        s_service_write(self, host, service);
    }
    s_host_write(self, host);
}

static void s_host_silent(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono)
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

static zb_fleet_host_t *s_host_get(zb_fleet_t *self, const char *name, int64_t now_wall,
                                   bool *created)
{
    *created = false;
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name);
    if (host)
        return host;
    if (zb_table_size(self->hosts) >= self->max_hosts) {
        self->counts.dropped++;
        if (!self->cap_logged)
            zb_log_warning("more than %zu hosts, ignoring new ones", self->max_hosts);
        self->cap_logged = true;
        return NULL;
    }
    host = s_host_new(self, name);
    if (!host) {
        zb_log_error("%s: out of memory", name);
        return NULL;
    }
    host->state = ZB_FLEET_ALIVE;
    host->since_ms = now_wall;
    *created = true;
    zb_log_info("host new: %s", name);
    return host;
}

//  --------------------------------------------------------------------------
//  Two agent runs, one name

static void s_conflict_end(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono,
                           int64_t now_wall, const char *why)
{
    const char *before = zb_fleet_host_word(host);
    zb_log_fields(host->name, NULL, s_host_state_names[host->state], "conflict over",
                  "name conflict over: %s (%s)", host->name, why);
    //  Still the displaced run: heard again a beat interval from now, it
    //  proves a conflict anew.
    s_copy(host->displaced, sizeof(host->displaced), host->rival);
    host->displaced_mono = now_mono;
    host->displaced_interval_ms = host->interval_ms;
    host->rival[0] = '\0';
    host->conflict_loaded = false;
    const char *after = zb_fleet_host_word(host);
    if (strcmp(before, after) != 0)
        self->sink->state(self->arg, host, NULL, before, after, now_wall, "conflict over");
    s_host_write(self, host);
    if (self->sink->conflict)
        self->sink->conflict(self->arg, host, false);
}

//  The authoritative run went quiet while its rival is still heard: the
//  rival takes over as a restart would, without a silent host in between.
//  Its sequence numbers are not known yet (no gap counted).
static void s_conflict_swap(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono,
                            int64_t now_wall)
{
    char quiet[ZB_INSTANCE_LEN + 1];
    s_copy(quiet, sizeof(quiet), host->instance);
    zb_log_info("host restarted: %s (instance %s went quiet, %s takes over)", host->name, quiet,
                host->rival);
    s_copy(host->instance, sizeof(host->instance), host->rival);
    host->last_seq = 0;
    zb_detector_restart(&host->detector);
    host->last_seen_wall = now_wall - (now_mono - host->rival_seen_mono);
    host->last_seen_mono = host->rival_seen_mono;
    s_copy(host->rival, sizeof(host->rival), quiet);
    s_conflict_end(self, host, now_mono, now_wall, "the authoritative run went quiet");
    s_instance_write(self, host->name, host->instance, now_wall, 0);
}

//  A message of a run other than the authoritative one. True when it is
//  dropped: the rival of a proven conflict, or a late message of the run
//  just displaced (a crashed agent's queue drains within milliseconds of
//  its successor's first message; only a run heard again a full beat
//  interval after it was displaced is alive, and proves the conflict).
//  False: a new run takes over (a restart), also when the authoritative
//  run of a conflict has been quiet for the liveness window.
static bool s_rival(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg, int64_t now_mono,
                    int64_t now_wall)
{
    if (host->rival[0]) {
        if (now_mono >= s_silent_at(self, host) || host->state != ZB_FLEET_ALIVE) {
            s_conflict_end(self, host, now_mono, now_wall, "the authoritative run went quiet");
            return false;
        }
        //  Any other run is the rival (one of the two restarted).
        s_copy(host->rival, sizeof(host->rival), msg->instance);
        host->rival_seen_mono = now_mono;
        self->counts.conflicts++;
        return true;
    }
    if (!host->displaced[0] || strcmp(host->displaced, msg->instance) != 0)
        return false;
    int64_t interval =
        host->displaced_interval_ms ? host->displaced_interval_ms : ZB_FLEET_UNKNOWN_INTERVAL_MS;
    if (now_mono - host->displaced_mono < interval) {
        self->counts.stale++;
        return true;
    }
    s_copy(host->rival, sizeof(host->rival), msg->instance);
    host->rival_seen_mono = now_mono;
    host->conflict_ms = now_wall;
    self->counts.conflicts++;
    zb_log_fields(host->name, NULL, "name-conflict", "name-conflict",
                  "name conflict: %s (agent runs %s and %s both alive; %s stays authoritative, "
                  "the other's messages are dropped)",
                  host->name, host->instance, host->rival, host->instance);
    if (host->state == ZB_FLEET_ALIVE)
        self->sink->state(self->arg, host, NULL, "alive", "name-conflict", now_wall,
                          "name-conflict");
    s_host_write(self, host);
    //  The conflict a previous run of the monitor proved and alerted: the
    //  same one, proven again after the restart.
    if (self->sink->conflict && !host->conflict_loaded)
        self->sink->conflict(self->arg, host, true);
    host->conflict_loaded = false;
    s_deadline_set(self, host);
    return true;
}

//  A beat is a full snapshot: it repairs whatever events were lost, and a
//  service it no longer lists is gone.
static void s_reconcile(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
{
    for (zb_fleet_service_t *service = zb_table_first(host->services); service;
         service = zb_table_next(host->services))
        service->listed = false;
    for (size_t i = 0; i < msg->service_count; i++) {
        const zb_service_status_t *status = &msg->services[i];
        zb_fleet_service_t *service = s_service_get(self, host, status->name);
        if (!service)
            continue;
        service->listed = true;
        s_service_apply(self, host, service, status->state, status->since_ms, status->kind,
                        status->reason, status->error);
        //  A certificate's expiry changes rarely (a renewal): written when it does.
        if (service->tls_expires != status->tls_expires) {
            service->tls_expires = status->tls_expires;
            s_service_write(self, host, service);
        }
    }
    //  Collected first: deleting while walking a table is not allowed.
    zb_fleet_service_t **gone = NULL;
    size_t count = 0;
    for (zb_fleet_service_t *service = zb_table_first(host->services); service;
         service = zb_table_next(host->services)) {
        if (service->listed)
            continue;
        if (!gone)
            gone = malloc(zb_table_size(host->services) * sizeof(*gone));
        if (gone)
            gone[count++] = service;
    }
    for (size_t i = 0; i < count; i++)
        s_service_remove(self, host, gone[i], msg->time_ms);
    free(gone);
}

static void s_event(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
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
        service = s_service_get(self, host, msg->service);
    if (service)
        s_service_apply(self, host, service, msg->to, msg->at_ms, NULL, msg->reason, msg->error);
}

//  A thin beat has no services: it must not invent any state. Its digest
//  tells whether what is held is the agent's table (nothing to do) or not
//  (counted; the next full beat, at most full-every beats away, repairs it).
static void s_thin(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
{
    self->counts.thin++;
    if (!host->digest_known || host->digest != msg->digest)
        self->counts.thin_unsynced++;
}

//  --------------------------------------------------------------------------
//  Input

void zb_fleet_handle(zb_fleet_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg);
    //  The decoder checked the names; a bad one here is a bug upstream.
    assert(zb_name_valid(msg->host));
    bool dirty = false;
    zb_fleet_host_t *host = s_host_get(self, msg->host, now_wall, &dirty);
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
        if (!dirty && s_rival(self, host, msg, now_mono, now_wall))
            return;
        //  A new agent run: sequence numbers start over, nothing is missed.
        if (host->instance[0]) {
            zb_log_info("host restarted: %s (instance %s -> %s)", host->name, host->instance,
                        msg->instance);
            s_copy(host->displaced, sizeof(host->displaced), host->instance);
            host->displaced_mono = now_mono;
            host->displaced_interval_ms = host->interval_ms;
        }
        s_copy(host->instance, sizeof(host->instance), msg->instance);
        s_instance_write(self, host->name, host->instance, now_wall, msg->seq);
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
        zb_detector_message(&host->detector, &self->detector, s_interval(host), now_mono,
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
        if (msg->interval_ms != host->interval_ms)
            dirty = true;
        host->interval_ms = msg->interval_ms;
        if (msg->thin)
            s_thin(self, host, msg);
        else {
            s_reconcile(self, host, msg);
            host->digest = msg->digest;
            host->digest_known = msg->has_digest;
        }
    } else
        s_event(self, host, msg);
    if (dirty)
        s_host_write(self, host);
    //  The instance row carries the last sequence number whose effects are
    //  committed with it.
    if (self->writes != writes)
        s_instance_write(self, host->name, host->instance, now_wall, host->last_seq);
    s_deadline_set(self, host);
}

//  A replayed down that came from up (or stopped) inside an outage that
//  began earlier: the outage merged two, its up and this down were missed
//  live. Entries can be replayed out of the journal's order (those in
//  flight to a killed monitor come again later), so the up that ends the
//  first part may only come after this: the store cuts the outage here
//  and the up moves the cut to its true end. When the outage split was
//  the service's open one, its second part is open now.
static void s_replay_split(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                           const zb_msg_t *msg)
{
    int64_t cut_id = 0, new_id = 0;
    self->writes++;
    if (self->sink->replay_split(self->arg, msg, &cut_id, &new_id) != 1)
        return;
    char at[40];
    zb_time_format_rfc3339_ms(msg->at_ms, at, sizeof(at));
    zb_log_info("replay: %s/%s: an outage merged two; split at %s", host->name, msg->service, at);
    if (service && service->outage_id && service->outage_id == cut_id) {
        service->outage_id = new_id;
        service->outage_started_ms = msg->at_ms;
        if (service->state == ZB_STATE_DOWN) {
            service->since_ms = msg->at_ms;
            s_service_write(self, host, service);
        }
    }
}

//  A host no agent run has been heard from live (first heard through its
//  replay, or a previous monitor run heard only that): the replayed run is
//  the one known. Without it, the run's messages queued in its PUB socket
//  while no monitor ran would look like a new run when they arrive, and
//  the transitions replay just applied would be applied again.
//  Returns true when it adopted it (the host's row is then to be written).
static bool s_replay_adopt(zb_fleet_host_t *host, const zb_msg_t *msg)
{
    if (host->instance[0])
        return false;
    s_copy(host->instance, sizeof(host->instance), msg->instance);
    host->last_seq = 0;
    return true;
}

int zb_fleet_replay(zb_fleet_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg && msg->type == ZB_MSG_EVENT);
    //  A conflict's rival must not write its journal into the host's
    //  history either.
    zb_fleet_host_t *claimed = zb_table_lookup(self->hosts, msg->host);
    if (claimed && claimed->rival[0] && strcmp(claimed->rival, msg->instance) == 0) {
        self->counts.conflicts++;
        return 0;
    }
    self->writes++;
    int rc = self->sink->replay_key(self->arg, msg, now_wall);
    //  Committed with its effects, so that the next run of the monitor
    //  also knows live messages of that agent run up to here are stale
    //  (the agent's PUB queue delivers what it held while it was down).
    if (rc == 1)
        s_instance_write(self, msg->host, msg->instance, now_wall, msg->seq);
    if (rc == 0) {
        //  Seen before; still, live messages of that run up to it are stale.
        zb_fleet_host_t *known = zb_table_lookup(self->hosts, msg->host);
        if (known && s_replay_adopt(known, msg))
            s_host_write(self, known);
        if (known && strcmp(known->instance, msg->instance) == 0 && msg->seq > known->last_seq)
            known->last_seq = msg->seq;
    }
    //  A host's stop only matters live: the host is heard again by now.
    if (rc != 1 || !msg->service[0])
        return rc;
    bool created = false;
    zb_fleet_host_t *host = s_host_get(self, msg->host, now_wall, &created);
    if (!host)
        return -1;
    bool adopted = s_replay_adopt(host, msg);
    //  Replay may move state (or its history) past the last full beat.
    host->digest_known = false;
    if (created) {
        //  First heard through its replay: that is hearing it (the silence
        //  deadline starts now, not at the epoch).
        host->last_seen_mono = now_mono;
        host->last_seen_wall = now_wall;
        s_host_write(self, host);
        s_deadline_set(self, host);
    } else if (adopted)
        s_host_write(self, host);
    //  The two channels race: a beat still queued on the SUB socket may be
    //  older than this transition. Live messages of this agent run up to
    //  its sequence number are stale from now on (events among them come
    //  through here anyway).
    if (strcmp(host->instance, msg->instance) == 0 && msg->seq > host->last_seq)
        host->last_seq = msg->seq;
    zb_fleet_service_t *service = zb_table_lookup(host->services, msg->service);
    //  A down already on record (heard live, or replayed to a previous run
    //  of the monitor whose ack was lost) changes nothing.
    if (msg->to == ZB_STATE_DOWN) {
        self->writes++;
        int covered = self->sink->replay_covered(self->arg, msg);
        if (covered == 1 && (msg->from == ZB_STATE_UP || msg->from == ZB_STATE_STOPPED))
            s_replay_split(self, host, service, msg);
        if (covered != 0)
            return covered == 1 ? 1 : -1;
    }
    //  Replays come in the agent's order: newer than what we know (or we
    //  know nothing, e.g. while the host was silent), the transition is
    //  applied as if heard live, alerts included.
    //  Never older than an open outage, though: the two channels race, and
    //  an old "up" must not end the outage a newer "down" began.
    bool newer =
        !service || ((service->state == ZB_STATE_UNKNOWN || msg->at_ms >= service->since_ms) &&
                     (!service->outage_id || msg->at_ms >= service->outage_started_ms));
    if (newer) {
        s_event(self, host, msg);
        //  A beat may have brought this state first: then the history row
        //  replay bounded at that moment ends here, and says why.
        if (msg->to != ZB_STATE_DOWN && msg->to != ZB_STATE_UNKNOWN) {
            self->writes++;
            self->sink->replay_end(self->arg, msg);
        }
        return 1;
    }
    //  Behind the current state (a beat told us where the service is now):
    //  history only, bounded by when the current state began. This is what
    //  keeps a beat's "up since" after an unseen up/down pair from merging
    //  two outages: the journal's down and up split them again.
    self->writes++;
    if (msg->to == ZB_STATE_DOWN) {
        int64_t bound = service->since_ms;
        if (service->outage_id && service->outage_started_ms < bound)
            bound = service->outage_started_ms;
        self->sink->replay_down(self->arg, msg, bound);
    } else if (msg->to != ZB_STATE_UNKNOWN)
        self->sink->replay_end(self->arg, msg);
    return 1;
}

void zb_fleet_sweep(zb_fleet_t *self, int64_t now_mono, int64_t now_wall)
{
    assert(self);
    for (zb_heap_node_t *top = zb_heap_top(self->due); top && top->key <= now_mono;
         top = zb_heap_top(self->due)) {
        zb_fleet_host_t *host = (zb_fleet_host_t *)((char *)top - offsetof(zb_fleet_host_t, due));
        //  A conflict left by the previous run and not proven again within
        //  the liveness window is over: the row says so.
        if (now_mono >= s_loaded_at(self, host)) {
            host->conflict_loaded = false;
            s_host_write(self, host);
        }
        if (now_mono >= s_rival_at(self, host))
            s_conflict_end(self, host, now_mono, now_wall, "the other run went quiet");
        else if (host->rival[0] && now_mono >= s_silent_at(self, host))
            s_conflict_swap(self, host, now_mono, now_wall);
        if (now_mono >= s_silent_at(self, host))
            s_host_silent(self, host, now_mono);
        //  Exact now: later than now_mono, or out of the heap.
        s_deadline_set(self, host);
    }
}

int64_t zb_fleet_deadline(zb_fleet_t *self, int64_t now_mono)
{
    assert(self);
    int64_t day = now_mono + 86400000;
    zb_heap_node_t *top = zb_heap_top(self->due);
    return top && top->key < day ? top->key : day;
}

int zb_fleet_replay_status(zb_fleet_t *self, const char *name, const char *instance,
                           uint64_t pending, int64_t now_wall, int64_t started_wall)
{
    assert(self && name && instance);
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name);
    if (!host)
        return -1;
    //  A name conflict's rival: its backlog is not this host's.
    if (host->rival[0] && strcmp(host->rival, instance) == 0)
        return 0;
    bool changed = !host->replay_known || host->replay_pending != pending ||
                   host->replay_wall < started_wall || strcmp(host->replay_instance, instance) != 0;
    s_copy(host->replay_instance, sizeof(host->replay_instance), instance);
    host->replay_known = true;
    host->replay_pending = pending;
    host->replay_wall = now_wall;
    host->replay_dirty = true;
    return changed ? 1 : 0;
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
    host->conflict_loaded = strcmp(state, "name-conflict") == 0;
    host->loaded_mono = now_mono;
    s_copy(host->instance, sizeof(host->instance), instance);
    host->interval_ms = interval_ms;
    host->last_seen_wall = last_seen_wall;
    host->last_seen_written = last_seen_wall;
    //  A fresh grace period: the host was not silent; we were away.
    host->last_seen_mono = now_mono;
    //  Messages of this agent run up to what is committed are stale: a beat
    //  queued in the agent while we were down must not undo a transition
    //  the previous run recorded (or that replay brought).
    host->last_seq = last_seq;
    s_deadline_set(self, host);
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
    s_copy(service->kind, sizeof(service->kind), kind);
    s_copy(service->reason, sizeof(service->reason), reason);
    s_copy(service->error, sizeof(service->error), error);
    //  Known before its first beat, so a certificate alert survives a restart.
    service->tls_expires = tls_expires;
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
        s_deadline_set(self, host);
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

//  Every host's deadline again (a reload: they may all have moved).
static void s_deadlines_all(zb_fleet_t *self)
{
    for (zb_fleet_host_t *host = zb_table_first(self->hosts); host;
         host = zb_table_next(self->hosts))
        s_deadline_set(self, host);
}

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
    self->detector =
        (zb_detector_config_t){.min_ms = 1000, .max_ms = 10000, .phi = 8, .liveness = liveness};
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

void zb_fleet_set_liveness(zb_fleet_t *self, int liveness)
{
    assert(self);
    self->liveness = liveness;
    self->detector.liveness = liveness;
    s_deadlines_all(self);
}

void zb_fleet_set_detector(zb_fleet_t *self, int64_t min_ms, int64_t max_ms, double phi)
{
    assert(self && min_ms > 0 && max_ms >= min_ms && phi > 0);
    self->detector.min_ms = min_ms;
    self->detector.max_ms = max_ms;
    self->detector.phi = phi;
    s_deadlines_all(self);
}

int zb_fleet_heard(zb_fleet_t *self, const char *name, const char *instance, uint64_t seq,
                   int64_t interval_ms, int64_t now_mono, int64_t now_wall)
{
    assert(self && name && instance);
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name);
    if (!host || host->state != ZB_FLEET_ALIVE || strcmp(host->instance, instance) != 0)
        return -1;
    host->datagrams++;
    host->last_seen_mono = now_mono;
    host->last_seen_wall = now_wall;
    zb_detector_datagram(&host->detector, &self->detector, s_interval(host), seq, interval_ms,
                         now_mono);
    s_deadline_set(self, host);
    return 0;
}

zb_fleet_host_t *zb_fleet_heard_next(zb_fleet_t *self, int64_t due_mono, int64_t now_mono)
{
    assert(self);
    //  New hosts wait at the front unstamped; each is stamped once here.
    zb_fleet_host_t *host = self->heard_head;
    while (host && host->heard_mono == 0) {
        host->heard_mono = now_mono ? now_mono : 1;
        s_heard_unlink(self, host);
        s_heard_append(self, host);
        host = self->heard_head;
    }
    if (!host || host->heard_mono > due_mono)
        return NULL;
    host->heard_mono = now_mono ? now_mono : 1;
    s_heard_unlink(self, host);
    s_heard_append(self, host);
    return host;
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
    s_heard_unlink(self, host);
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
