/*  zb_monitor: state of every host and service, outages, silent hosts.

    State lives in memory (hosts by name, each with its services by name) and
    every transition is written through zb_store in the transaction of the
    current loop pass. What changes on every message (last seen, sequence
    numbers) stays in memory and is checkpointed once a minute and at exit.

    Outage rules (docs/operations.md has the user's version):
    - service down (event or beat) opens a service outage unless one is open;
      up closes it ("up"), stopped closes it ("stopped"), removal closes it
      ("removed"); unknown changes nothing.
    - a host quiet for liveness x its beat interval is silent: one host
      outage from the time it was last heard, its services unknown (their
      open outages stay open). Any new message closes it ("back").
    - a planned stop (host event to stopped) makes it stopped: no outage.

    Alert rules (docs/alerts.md): an outage that opens makes one alert (down
    or silent), held when a silence matches; one that closes makes a
    recovered alert when its opening alert went out. A service changing
    state more than flap-threshold times in flap-window is flapping: one
    alert, then nothing until it kept one state for flap-quiet ("stable").
    Alert rows are written in the transaction of the change; they are
    published on the PUB socket and handed to the delivery threads after it
    commits, never before.
*/
#include "zb_monitor.h"
#include "zb_replay.h"
#include "zb_alert.h"
#include "zb_auth.h"
#include "zb_dispatch.h"
#include "zb_log.h"
#include "zb_store.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#define ZB_MONITOR_DRAIN 2000       // messages handled per pass, one transaction
#define ZB_MONITOR_RCVHWM 100000    // queued messages before ZeroMQ drops
#define ZB_MONITOR_SWEEP_MS 100     // silence check period
#define ZB_MONITOR_PRUNE_MS 3600000 // retention pass period
#define ZB_MONITOR_PRUNE_BATCH 1000 // outages deleted per transaction
#define ZB_MONITOR_ERROR_LOG_MS 10000
//  Before a host announces its interval (its first beat was lost), assume a
//  long one: a false "silent" is worse than a late one.
#define ZB_MONITOR_UNKNOWN_INTERVAL_MS 60000
#define ZB_MONITOR_ALERT_TICK_MS 1000 // silences re-read, flapping and reminders checked
#define ZB_MONITOR_SILENCES_MAX 10000
#define ZB_MONITOR_PUB_HWM 100000
#define ZB_MONITOR_HEARTBEAT_IVL_MS 5000
#define ZB_MONITOR_HEARTBEAT_TIMEOUT_MS 30000
//  The monitor's row (its own liveness) and hosts' last-seen times and
//  replay reports are written this often (schema 5, docs/operations.md).
#define ZB_MONITOR_ALIVE_MS 5000
//  Least time a pass that cannot begin its transaction waits (zb_monitor_begin).
#define ZB_MONITOR_LOCKED_WAIT_MS 1000

typedef enum { S_ALIVE, S_SILENT, S_STOPPED } s_host_state_t;

static const char *const s_host_state_names[] = {"alive", "silent", "stopped"};

typedef struct {
    char name[ZB_NAME_MAX + 1];
    char kind[ZB_KIND_MAX + 1];
    zb_state_t state;
    int64_t since_ms;
    char reason[ZB_REASON_MAX + 1];
    char error[ZB_ERROR_MAX + 1];
    int64_t outage_id;         // open service outage, 0 when none
    int64_t outage_started_ms; // its start
    bool notified;             // the outage's opening alert went out
    bool held;                 // the outage's opening alert is held by a silence
    int64_t reminded;          // reminders made for the outage (see s_remind)
    bool listed;               // seen in the beat being reconciled
    int64_t *flaps;            // ring of the last flap_threshold + 1 transition times (mono)
    int flap_count;            // entries in the ring
    int flap_next;             // where the next goes
    bool flapping;             // one flapping alert made; quiet until stable
    bool flap_notified;        // that alert went out (not held)
    int64_t flap_id;           // wall ms when the flapping began: names the episode
    int64_t changed_mono;      // last transition between up and down
    int64_t tls_expires;       // TLS probes: the certificate's notAfter (Unix s); 0 none
} s_service_t;

typedef struct {
    char name[ZB_NAME_MAX + 1];
    char instance[ZB_INSTANCE_LEN + 1]; // agent run last heard, "" when none
    uint64_t last_seq;                  // 0: unknown (no gap counted)
    int64_t interval_ms;                // announced beat interval, 0 when not yet
    int64_t last_seen_mono;             // deadline base
    int64_t last_seen_wall;             // host outage start when it goes silent
    int64_t last_seen_written;          // last_seen_wall as the database has it
    s_host_state_t state;
    int64_t since_ms;
    int64_t outage_id;         // open host outage, 0 when none
    int64_t outage_started_ms; // its start
    bool notified;             // its silent alert went out
    bool held;                 // its silent alert is held by a silence
    int64_t reminded;          // reminders made for the outage
    zhashx_t *services;        // name -> s_service_t
    bool cap_logged;           // the services cap was hit and said so
    bool replay_known;         // its agent reported over replay (zb_monitor_replay_status)
    uint64_t replay_pending;   // the last report: journal entries not acknowledged
    int64_t replay_wall;       // when it came
    char replay_instance[ZB_INSTANCE_LEN + 1]; // the agent run that made it
    bool replay_dirty;                         // not written since
} s_host_t;

struct _zb_monitor_t {
    zb_monitor_config_t config; // a copy: the caller's may go away
    zb_store_t *store;          // the database
    zb_auth_t *auth;            // while running: who may report for which host
    zhashx_t *hosts;            // name -> s_host_t
    zb_monitor_stats_t stats;   // counters, logged at exit
    uint64_t writes;            // store writes so far (to see if a message wrote)
    bool locked_out;            // zb_monitor_begin failed and has not succeeded since
    bool cap_logged;            // the hosts cap was hit and said so
    int64_t error_log_mono;     // when a malformed message was last logged
    uint64_t errors_unlogged;   // malformed messages since then
    zloop_t *loop;              // while running
    zsock_t *sub;               // while running
    int prune_timer;            // one-shot timer for the next prune batch, or -1
    int64_t now_mono;           // clocks of the message or sweep being handled
    int64_t now_wall;
    zb_store_silence_t *silences; // active and future silences (strings owned)
    size_t silence_count;
    int64_t alert_tick_mono;      // when silences, flapping, reminders were last checked
    bool alert_walk;              // something held or flapping: walk the services at the tick
    zlistx_t *publish;            // "topic\0payload" to publish once the pass commits
    bool poke;                    // the pass made deliveries: wake the delivery threads
    zsock_t *pub;                 // while running, when monitor/publish is set
    zb_dispatch_t *dispatch;      // while running
    zb_replay_server_t *replay;   // while running, when monitor/replay is set
    int64_t started_wall;         // when zb_monitor_run began: the monitor row's
    int hangup_fd;                // SIGHUP's signalfd (zb_reload), or -1
    zb_monitor_hangup_fn *hangup; // called when it is readable
    void *hangup_arg;

    //  For other threads (the HTTP server): stats copied at every pass.
    pthread_mutex_t shared_lock; // guards shared
    zb_monitor_stats_t shared;   // stats as of the last pass
};

static void s_service_destroy(void **item)
{
    s_service_t *service = *item;
    if (service)
        free(service->flaps);
    free(service);
    *item = NULL;
}

static void s_host_destroy(void **item)
{
    s_host_t *host = *item;
    if (host) {
        zhashx_destroy(&host->services);
        free(host);
    }
    *item = NULL;
}

static s_host_t *s_host_new(zb_monitor_t *self, const char *name)
{
    s_host_t *host = calloc(1, sizeof(*host));
    if (!host)
        return NULL;
    snprintf(host->name, sizeof(host->name), "%s", name);
    host->services = zhashx_new();
    if (!host->services) {
        free(host);
        return NULL;
    }
    zhashx_set_destructor(host->services, s_service_destroy);
    if (zhashx_insert(self->hosts, name, host) != 0) {
        s_host_destroy((void **)&host);
        return NULL;
    }
    return host;
}

static s_service_t *s_service_new(s_host_t *host, const char *name)
{
    s_service_t *service = calloc(1, sizeof(*service));
    if (!service)
        return NULL;
    snprintf(service->name, sizeof(service->name), "%s", name);
    service->state = ZB_STATE_UNKNOWN;
    if (zhashx_insert(host->services, name, service) != 0) {
        free(service);
        return NULL;
    }
    return service;
}

//  --------------------------------------------------------------------------
//  Writes. A failed write is counted and logged; the in-memory state goes
//  on (the commit of the pass reports the loss).

static void s_write_result(zb_monitor_t *self, int rc)
{
    self->writes++;
    if (rc < 0) {
        self->stats.db_errors++;
        zb_log_error("database: %s", zb_store_error(self->store));
    }
}

//  --------------------------------------------------------------------------
//  Alerts

//  Queues a message for the PUB socket; sent when the pass commits.
static void s_publish(zb_monitor_t *self, const char *topic, const char *payload)
{
    if (!self->publish)
        return;
    size_t tlen = strlen(topic), plen = strlen(payload);
    char *item = malloc(tlen + plen + 2);
    if (!item)
        return;
    memcpy(item, topic, tlen + 1);
    memcpy(item + tlen + 1, payload, plen + 1);
    if (!zlistx_add_end(self->publish, item))
        free(item);
}

//  A state change on the PUB stream: state.<host>[.<service>].
static void s_publish_state(zb_monitor_t *self, const char *host, const char *service,
                            const char *from, const char *to, int64_t at_ms, const char *reason)
{
    if (!self->pub)
        return;
    char topic[ZB_NAME_MAX * 2 + 16];
    if (service)
        snprintf(topic, sizeof(topic), "state.%s.%s", host, service);
    else
        snprintf(topic, sizeof(topic), "state.%s", host);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s?, s:s, s:s, s:I, s:s}", "v", 1, "type", "state",
                          "host", host, "service", service, "from", from, "to", to, "at_ms",
                          (json_int_t)at_ms, "reason", reason ? reason : "");
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text)
        s_publish(self, topic, text);
    free(text);
    json_decref(o);
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

static bool s_silenced(zb_monitor_t *self, const char *host, const char *service)
{
    for (size_t i = 0; i < self->silence_count; i++)
        if (s_silence_matches(&self->silences[i], host, service, self->now_wall))
            return true;
    return false;
}

//  Reminder periods of monitor/repeat since an outage started.
static int64_t s_period(zb_monitor_t *self, int64_t started_ms)
{
    if (self->config.repeat_ms <= 0 || self->now_wall <= started_ms)
        return 0;
    return (self->now_wall - started_ms) / self->config.repeat_ms;
}

//  Makes an alert: its outbox row and one delivery per matching channel,
//  in this pass's transaction; held deliveries wait for the silence to end.
//  Unless held, it is published after the commit.
static void s_alert(zb_monitor_t *self, zb_alert_t *alert, bool held)
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
    size_t count = 0;
    for (size_t i = 0; i < self->config.channel_count; i++) {
        const zb_channel_config_t *channel = &self->config.channels[i];
        //  A services filter does not keep host alerts out: a host gone
        //  silent concerns every service on it.
        if (zb_alert_match(channel->hosts, alert->host) &&
            (!alert->service || zb_alert_match(channel->services, alert->service)))
            channels[count++] = channel->name;
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
    int rc = zb_store_alert_add(self->store, &row, channels, count, held);
    s_write_result(self, rc);
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

//  The opening alert of an open outage: down for a service, silent for a
//  host; held when a silence matches. A flapping service gets none (its
//  flapping alert said it).
static void s_alert_opened(zb_monitor_t *self, s_host_t *host, s_service_t *service)
{
    if (service && service->flapping)
        return;
    int64_t id = service ? service->outage_id : host->outage_id;
    bool held = s_silenced(self, host->name, service ? service->name : NULL);
    zb_alert_t alert = {
        .trigger = service ? ZB_ALERT_DOWN : ZB_ALERT_SILENT,
        .host = host->name,
        .service = service ? service->name : NULL,
        .state = service ? "down" : "silent",
        .reason = service ? service->reason : "silent",
        .error = service ? service->error : "",
        .outage_id = id,
        .started_at_ms = service ? service->outage_started_ms : host->outage_started_ms,
        .ended_at_ms = -1,
    };
    s_alert(self, &alert, held);
    if (service) {
        service->notified = !held;
        service->held = held;
        service->reminded = s_period(self, alert.started_at_ms);
    } else {
        host->notified = !held;
        host->held = held;
        host->reminded = s_period(self, alert.started_at_ms);
    }
    if (held)
        self->alert_walk = true;
    s_write_result(self, zb_store_outage_flag(self->store, id, !held, held));
}

//  An outage closed: a recovery notice when its opening alert went out.
static void s_alert_closed(zb_monitor_t *self, s_host_t *host, s_service_t *service, int64_t id,
                           int64_t started_ms, int64_t ended_ms, const char *end_reason)
{
    bool notified = service ? service->notified : host->notified;
    if (service) {
        service->notified = service->held = false;
        service->reminded = 0;
    } else {
        host->notified = host->held = false;
        host->reminded = 0;
    }
    //  While flapping (and the flapping alert went out), the stable notice
    //  will say how it ended.
    if (!notified || (service && service->flapping && service->flap_notified))
        return;
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
    s_alert(self, &alert, false);
}

//  Notes a transition between up and down; returns true when it makes the
//  service flapping (more than flap-threshold in flap-window).
static bool s_flap_note(zb_monitor_t *self, s_service_t *service)
{
    service->changed_mono = self->now_mono;
    int size = self->config.flap_threshold + 1;
    if (self->config.flap_threshold == 0 || service->flapping)
        return false;
    if (!service->flaps) {
        service->flaps = calloc((size_t)size, sizeof(int64_t));
        if (!service->flaps)
            return false;
    }
    service->flaps[service->flap_next] = self->now_mono;
    service->flap_next = (service->flap_next + 1) % size;
    if (service->flap_count < size)
        service->flap_count++;
    //  Full ring: flap_next is now the oldest of the last `size`.
    return service->flap_count == size &&
           self->now_mono - service->flaps[service->flap_next] <= self->config.flap_window_ms;
}

static void s_flap_start(zb_monitor_t *self, s_host_t *host, s_service_t *service, zb_state_t to,
                         const char *reason, const char *error)
{
    bool held = s_silenced(self, host->name, service->name);
    service->flapping = true;
    service->flap_notified = !held;
    service->flap_id = self->now_wall;
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
        .transitions = service->flap_count,
        .window_ms = self->config.flap_window_ms,
        .flap_id = service->flap_id,
    };
    s_alert(self, &alert, held);
}

//  A flapping service quiet for flap-quiet: the episode ends with a stable
//  notice of where it settled (when the flapping alert went out), and an
//  open outage is treated as alerted from here.
static void s_flap_end(zb_monitor_t *self, s_host_t *host, s_service_t *service)
{
    service->flapping = false;
    service->flap_count = 0;
    service->flap_next = 0;
    bool settled = service->state == ZB_STATE_UP || service->state == ZB_STATE_DOWN;
    if (!settled || host->state != S_ALIVE)
        return; // the host's own alert covers what happened since
    if (!service->flap_notified) {
        //  Nobody was told of the flapping: say it is down, as usual.
        if (service->outage_id && !service->notified)
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
        .error = service->error,
        .outage_id = down ? service->outage_id : 0,
        .started_at_ms = down ? service->outage_started_ms : -1,
        .ended_at_ms = -1,
        .flap_id = service->flap_id,
    };
    s_alert(self, &alert, false);
    if (down) {
        service->notified = true;
        s_write_result(self, zb_store_outage_flag(self->store, service->outage_id, true, false));
    }
}

static int s_publish_row(const zb_store_delivery_t *row, void *arg)
{
    zb_monitor_t *self = arg;
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
static void s_release(zb_monitor_t *self, s_host_t *host, s_service_t *service)
{
    int64_t started = service ? service->outage_started_ms : host->outage_started_ms;
    if (service)
        service->reminded = s_period(self, started);
    else
        host->reminded = s_period(self, started);
    zb_alert_t alert = {
        .trigger = service ? ZB_ALERT_DOWN : ZB_ALERT_SILENT,
        .host = host->name,
        .service = service ? service->name : NULL,
        .outage_id = service ? service->outage_id : host->outage_id,
    };
    char id[ZB_ALERT_ID_MAX + 1];
    zb_alert_id(&alert, id, sizeof(id));
    int rc = zb_store_alert_release(self->store, id, self->now_wall);
    s_write_result(self, rc);
    if (rc < 0)
        return;
    s_write_result(self, zb_store_outage_flag(self->store, alert.outage_id, true, true));
    if (service) {
        service->held = false;
        service->notified = true;
    } else {
        host->held = false;
        host->notified = true;
    }
    zb_log_info("alert %s released (its silence ended)", id);
    self->poke = self->poke || rc > 0;
    //  The stream gets it now, as it was made.
    if (self->pub && zb_store_alert_get(self->store, id, s_publish_row, self) < 0)
        s_write_result(self, -1);
}

//  Reminders at the outage's start + k x repeat, k = 1, 2, ...: numbered
//  by k, so ids stay unique across restarts; a restarted monitor does not
//  make up the periods it missed (s_load_outage).
static void s_remind(zb_monitor_t *self, s_host_t *host, s_service_t *service)
{
    int64_t started = service ? service->outage_started_ms : host->outage_started_ms;
    int64_t *reminded = service ? &service->reminded : &host->reminded;
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
        .error = service ? service->error : "",
        .outage_id = service ? service->outage_id : host->outage_id,
        .started_at_ms = started,
        .ended_at_ms = -1,
        .reminder = (int)k,
    };
    s_alert(self, &alert, false);
}

static void s_host_write(zb_monitor_t *self, s_host_t *host)
{
    zb_store_host_t row = {
        .name = host->name,
        .state = s_host_state_names[host->state],
        .since_ms = host->since_ms,
        .instance = host->instance,
        .interval_ms = host->interval_ms,
        .last_seen_ms = host->last_seen_wall,
    };
    s_write_result(self, zb_store_host_put(self->store, &row));
    host->last_seen_written = host->last_seen_wall;
}

static void s_service_write(zb_monitor_t *self, s_host_t *host, s_service_t *service)
{
    zb_store_service_t row = {
        .host = host->name,
        .name = service->name,
        .kind = service->kind,
        .state = zb_state_name(service->state),
        .since_ms = service->since_ms,
        .reason = service->reason,
        .error = service->error,
        .tls_expires_ms = service->tls_expires * 1000,
    };
    s_write_result(self, zb_store_service_put(self->store, &row));
}

//  Returns true when it opened an outage (none was open).
static bool s_outage_open(zb_monitor_t *self, s_host_t *host, s_service_t *service,
                          int64_t started_ms, const char *reason, const char *error)
{
    zb_store_outage_t row = {
        .kind = service ? "service" : "host",
        .host = host->name,
        .service = service ? service->name : NULL,
        .started_at_ms = started_ms,
        .reason = reason,
        .error = error,
        .instance = host->instance,
    };
    int64_t id = 0, started = started_ms;
    int rc = zb_store_outage_open(self->store, &row, &id, &started);
    s_write_result(self, rc);
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
        self->stats.service_outages++;
    else if (rc == 1)
        self->stats.host_outages++;
    //  Agents' texts are free-form: nothing in them may drive a terminal.
    char why[ZB_TEXT_PRINTABLE_MAX(ZB_REASON_MAX)], text[ZB_TEXT_PRINTABLE_MAX(ZB_ERROR_MAX)];
    zb_text_printable(reason, strlen(reason), why, sizeof(why), 0);
    zb_text_printable(error, strlen(error), text, sizeof(text), 0);
    if (rc == 1 && service)
        zb_log_fields(host->name, service->name, "down", why, "outage opened: %s/%s (%s%s%s)",
                      host->name, service->name, why, *text ? ": " : "", text);
    else if (rc == 1)
        zb_log_fields(host->name, NULL, "silent", why, "outage opened: %s (%s)", host->name, why);
    return rc == 1;
}

static void s_outage_close(zb_monitor_t *self, s_host_t *host, s_service_t *service,
                           int64_t ended_ms, const char *end_reason)
{
    int64_t *id = service ? &service->outage_id : &host->outage_id;
    if (*id == 0)
        return;
    int64_t closed = *id;
    int rc = zb_store_outage_close(self->store, *id, ended_ms, end_reason);
    s_write_result(self, rc);
    *id = 0;
    if (rc == 1)
        s_alert_closed(self, host, service, closed,
                       service ? service->outage_started_ms : host->outage_started_ms, ended_ms,
                       end_reason);
    if (rc == 1 && service) {
        char duration[32];
        int64_t started = service->outage_started_ms;
        zb_time_format_duration(ended_ms > started ? ended_ms - started : 0, duration,
                                sizeof(duration));
        zb_log_fields(host->name, service->name, "up", end_reason,
                      "outage closed: %s/%s after %s (%s)", host->name, service->name, duration,
                      end_reason);
    }
}

//  --------------------------------------------------------------------------
//  Services

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

//  Drops a service from state: its outage ends as "removed".
static void s_service_remove(zb_monitor_t *self, s_host_t *host, s_service_t *service,
                             int64_t at_ms)
{
    s_outage_close(self, host, service, at_ms, "removed");
    s_write_result(self, zb_store_service_delete(self->store, host->name, service->name));
    zb_log_info("service removed: %s/%s", host->name, service->name);
    zhashx_delete(host->services, service->name);
}

//  Moves a service to `to`, as an event or a beat reported it.
static void s_service_apply(zb_monitor_t *self, s_host_t *host, s_service_t *service, zb_state_t to,
                            int64_t at_ms, const char *kind, const char *reason, const char *error)
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
    bool flap = (from == ZB_STATE_UP && to == ZB_STATE_DOWN) ||
                (from == ZB_STATE_DOWN && to == ZB_STATE_UP);
    if (flap && s_flap_note(self, service))
        s_flap_start(self, host, service, to, reason, error);
    if (to == ZB_STATE_DOWN && service->outage_id == 0) {
        if (s_outage_open(self, host, service, at_ms, reason, error))
            s_alert_opened(self, host, service);
    } else if (to == ZB_STATE_UP)
        s_outage_close(self, host, service, at_ms, "up");
    else if (to == ZB_STATE_STOPPED)
        s_outage_close(self, host, service, at_ms, "stopped");
    if (!changed)
        return;
    char why[ZB_TEXT_PRINTABLE_MAX(ZB_REASON_MAX)];
    zb_text_printable(reason, strlen(reason), why, sizeof(why), 0);
    zb_log_debug("%s/%s: %s -> %s (%s)", host->name, service->name, zb_state_name(from),
                 zb_state_name(to), why);
    service->state = to;
    //  Down since the outage began, even when reports arrive later.
    service->since_ms =
        to == ZB_STATE_DOWN && service->outage_id ? service->outage_started_ms : at_ms;
    s_service_write(self, host, service);
    s_publish_state(self, host->name, service->name, zb_state_name(from), zb_state_name(to),
                    service->since_ms, reason);
}

static s_service_t *s_service_get(zb_monitor_t *self, s_host_t *host, const char *name)
{
    s_service_t *service = zhashx_lookup(host->services, name);
    if (service)
        return service;
    if (zhashx_size(host->services) >= ZB_MONITOR_MAX_SERVICES) {
        self->stats.dropped++;
        if (!host->cap_logged)
            zb_log_warning("%s: more than %d services, ignoring the rest", host->name,
                           ZB_MONITOR_MAX_SERVICES);
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
static void s_host_quiet(zb_monitor_t *self, s_host_t *host, s_host_state_t state, int64_t since_ms)
{
    s_publish_state(self, host->name, NULL, s_host_state_names[host->state],
                    s_host_state_names[state], since_ms, state == S_SILENT ? "silent" : "stopped");
    host->state = state;
    host->since_ms = since_ms;
    for (s_service_t *service = zhashx_first(host->services); service;
         service = zhashx_next(host->services)) {
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

static void s_host_silent(zb_monitor_t *self, s_host_t *host, int64_t now_mono)
{
    char ago[32];
    zb_time_format_duration(now_mono - host->last_seen_mono, ago, sizeof(ago));
    zb_log_fields(host->name, NULL, "silent", NULL, "host silent: %s (last heard %s ago)",
                  host->name, ago);
    bool opened = s_outage_open(self, host, NULL, host->last_seen_wall, "silent", "");
    s_host_quiet(self, host, S_SILENT, host->last_seen_wall);
    if (opened)
        s_alert_opened(self, host, NULL);
}

static s_host_t *s_host_get(zb_monitor_t *self, const char *name, int64_t now_wall, bool *created)
{
    *created = false;
    s_host_t *host = zhashx_lookup(self->hosts, name);
    if (host)
        return host;
    if (zhashx_size(self->hosts) >= ZB_MONITOR_MAX_HOSTS) {
        self->stats.dropped++;
        if (!self->cap_logged)
            zb_log_warning("more than %d hosts, ignoring new ones", ZB_MONITOR_MAX_HOSTS);
        self->cap_logged = true;
        return NULL;
    }
    host = s_host_new(self, name);
    if (!host) {
        zb_log_error("%s: out of memory", name);
        return NULL;
    }
    host->state = S_ALIVE;
    host->since_ms = now_wall;
    *created = true;
    zb_log_info("host new: %s", name);
    return host;
}

//  A beat is a full snapshot: it repairs whatever events were lost, and a
//  service it no longer lists is gone.
static void s_reconcile(zb_monitor_t *self, s_host_t *host, const zb_msg_t *msg)
{
    for (s_service_t *service = zhashx_first(host->services); service;
         service = zhashx_next(host->services))
        service->listed = false;
    for (size_t i = 0; i < msg->service_count; i++) {
        const zb_service_status_t *status = &msg->services[i];
        s_service_t *service = s_service_get(self, host, status->name);
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
    zlistx_t *gone = NULL;
    for (s_service_t *service = zhashx_first(host->services); service;
         service = zhashx_next(host->services)) {
        if (service->listed)
            continue;
        //  Collected first: deleting while iterating a zhashx is not allowed.
        if (!gone)
            gone = zlistx_new();
        if (gone)
            zlistx_add_end(gone, service);
    }
    if (!gone)
        return;
    for (s_service_t *service = zlistx_first(gone); service; service = zlistx_next(gone))
        s_service_remove(self, host, service, msg->time_ms);
    zlistx_destroy(&gone);
}

static void s_event(zb_monitor_t *self, s_host_t *host, const zb_msg_t *msg);

int zb_monitor_replay(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg && msg->type == ZB_MSG_EVENT);
    self->now_mono = now_mono;
    self->now_wall = now_wall;
    int rc = zb_store_replay_key(self->store, msg->host, msg->instance, msg->seq, now_wall);
    s_write_result(self, rc);
    //  Committed with its effects, so that the next run of this monitor
    //  also knows live messages of that agent run up to here are stale
    //  (the agent's PUB queue delivers what it held while we were down).
    if (rc == 1)
        s_write_result(
            self, zb_store_instance_put(self->store, msg->host, msg->instance, now_wall, msg->seq));
    if (rc == 0) {
        //  Seen before; still, live messages of that run up to it are stale.
        s_host_t *known = zhashx_lookup(self->hosts, msg->host);
        if (known && strcmp(known->instance, msg->instance) == 0 && msg->seq > known->last_seq)
            known->last_seq = msg->seq;
    }
    //  A host's stop only matters live: the host is heard again by now.
    if (rc != 1 || !msg->service[0])
        return rc;
    bool created = false;
    s_host_t *host = s_host_get(self, msg->host, now_wall, &created);
    if (!host)
        return -1;
    if (created) {
        //  First heard through its replay: that is hearing it (the silence
        //  deadline starts now, not at the epoch).
        host->last_seen_mono = now_mono;
        host->last_seen_wall = now_wall;
        s_host_write(self, host);
    }
    //  The two channels race: a beat still queued on the SUB socket may be
    //  older than this transition. Live messages of this agent run up to
    //  its sequence number are stale from now on (events among them come
    //  through here anyway).
    if (strcmp(host->instance, msg->instance) == 0 && msg->seq > host->last_seq)
        host->last_seq = msg->seq;
    //  A down already on record (heard live, or replayed to a previous run
    //  of this monitor whose ack was lost) changes nothing.
    if (msg->to == ZB_STATE_DOWN) {
        int covered = zb_store_replay_covered(self->store, msg->host, msg->service, msg->at_ms);
        s_write_result(self, covered);
        if (covered != 0)
            return covered == 1 ? 1 : -1;
    }
    s_service_t *service = zhashx_lookup(host->services, msg->service);
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
        if (msg->to != ZB_STATE_DOWN && msg->to != ZB_STATE_UNKNOWN)
            s_write_result(self, zb_store_replay_end(self->store, msg->host, msg->service,
                                                     msg->at_ms, zb_state_name(msg->to)));
        return 1;
    }
    //  Behind the current state (a beat told us where the service is now):
    //  history only, bounded by when the current state began.
    if (msg->to == ZB_STATE_DOWN) {
        zb_store_outage_t outage = {.kind = "service",
                                    .host = msg->host,
                                    .service = msg->service,
                                    .started_at_ms = msg->at_ms,
                                    .reason = msg->reason,
                                    .error = msg->error,
                                    .instance = msg->instance};
        int64_t bound = service->since_ms;
        if (service->outage_id && service->outage_started_ms < bound)
            bound = service->outage_started_ms;
        s_write_result(self, zb_store_replay_down(self->store, &outage, bound));
    } else if (msg->to != ZB_STATE_UNKNOWN)
        s_write_result(self, zb_store_replay_end(self->store, msg->host, msg->service, msg->at_ms,
                                                 zb_state_name(msg->to)));
    return 1;
}

static void s_event(zb_monitor_t *self, s_host_t *host, const zb_msg_t *msg)
{
    if (!msg->service[0]) {
        //  The decoder admits only "to stopped" for a host event.
        if (msg->to == ZB_STATE_STOPPED && host->state != S_STOPPED) {
            char why[ZB_TEXT_PRINTABLE_MAX(ZB_REASON_MAX)];
            zb_text_printable(msg->reason, strlen(msg->reason), why, sizeof(why), 0);
            zb_log_info("host stopped: %s (%s)", host->name, why);
            s_host_quiet(self, host, S_STOPPED, msg->at_ms);
        }
        return;
    }
    s_service_t *service = zhashx_lookup(host->services, msg->service);
    if (!service && msg->to == ZB_STATE_REMOVED)
        return;
    if (!service)
        service = s_service_get(self, host, msg->service);
    if (service)
        s_service_apply(self, host, service, msg->to, msg->at_ms, NULL, msg->reason, msg->error);
}

void zb_monitor_handle(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg);
    //  The decoder checked the names; a bad one here is a bug upstream.
    assert(zb_name_valid(msg->host));
    self->now_mono = now_mono;
    self->now_wall = now_wall;
    bool dirty = false;
    s_host_t *host = s_host_get(self, msg->host, now_wall, &dirty);
    if (!host)
        return;
    if (strcmp(host->instance, msg->instance) == 0) {
        if (host->last_seq && msg->seq <= host->last_seq) {
            self->stats.stale++;
            return;
        }
        if (host->last_seq && msg->seq > host->last_seq + 1)
            self->stats.seq_gaps += msg->seq - host->last_seq - 1;
    } else {
        //  A new agent run: sequence numbers start over, nothing is missed.
        if (host->instance[0])
            zb_log_info("host restarted: %s (instance %s -> %s)", host->name, host->instance,
                        msg->instance);
        s_copy(host->instance, sizeof(host->instance), msg->instance);
        s_write_result(self, zb_store_instance_put(self->store, host->name, host->instance,
                                                   now_wall, msg->seq));
        dirty = true;
    }
    uint64_t writes = self->writes;
    self->stats.messages++;
    host->last_seq = msg->seq;
    host->last_seen_mono = now_mono;
    host->last_seen_wall = now_wall;

    if (host->state == S_SILENT) {
        char duration[32];
        zb_time_format_duration(now_wall - host->since_ms, duration, sizeof(duration));
        zb_log_fields(host->name, NULL, "alive", "back", "host back: %s (silent for %s)",
                      host->name, duration);
        s_outage_close(self, host, NULL, now_wall, "back");
        s_publish_state(self, host->name, NULL, "silent", "alive", now_wall, "back");
        host->state = S_ALIVE;
        host->since_ms = now_wall;
        dirty = true;
    } else if (host->state == S_STOPPED && !(msg->type == ZB_MSG_EVENT && !msg->service[0])) {
        zb_log_fields(host->name, NULL, "alive", "back", "host back: %s (after a stop)",
                      host->name);
        s_publish_state(self, host->name, NULL, "stopped", "alive", now_wall, "back");
        host->state = S_ALIVE;
        host->since_ms = now_wall;
        dirty = true;
    }
    if (msg->type == ZB_MSG_BEAT) {
        if (msg->interval_ms != host->interval_ms)
            dirty = true;
        host->interval_ms = msg->interval_ms;
        s_reconcile(self, host, msg);
    } else
        s_event(self, host, msg);
    if (dirty)
        s_host_write(self, host);
    //  The instance row carries the last sequence number whose effects are
    //  committed with it.
    if (self->writes != writes)
        s_write_result(self, zb_store_instance_put(self->store, host->name, host->instance,
                                                   now_wall, host->last_seq));
}

static int s_load_silence(const zb_store_silence_t *row, void *arg)
{
    zb_monitor_t *self = arg;
    if (self->silence_count == ZB_MONITOR_SILENCES_MAX)
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

static void s_silences_clear(zb_monitor_t *self)
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
static void s_silences_load(zb_monitor_t *self)
{
    if (!self->silences) {
        self->silences = calloc(2 * ZB_MONITOR_SILENCES_MAX, sizeof(zb_store_silence_t));
        if (!self->silences)
            return;
    }
    //  The previous set moves to the second half, for comparison.
    zb_store_silence_t *before = self->silences + ZB_MONITOR_SILENCES_MAX;
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
        zb_log_warning("more than %d silences: the rest are ignored", ZB_MONITOR_SILENCES_MAX);
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

//  Once a second: silences re-read, held alerts released when their
//  silence is over, flapping services that calmed down, reminders.
static void s_alert_tick(zb_monitor_t *self)
{
    s_silences_load(self);
    if (!self->alert_walk && self->config.repeat_ms == 0)
        return;
    bool walk = false;
    for (s_host_t *host = zhashx_first(self->hosts); host; host = zhashx_next(self->hosts)) {
        if (host->outage_id && host->held && !s_silenced(self, host->name, NULL))
            s_release(self, host, NULL);
        walk = walk || host->held;
        if (host->outage_id && host->notified && self->config.repeat_ms)
            s_remind(self, host, NULL);
        //  One alert per incident: while the host is silent or stopped, its
        //  services wait (and are looked at again once it is back).
        bool alive = host->state == S_ALIVE;
        for (s_service_t *service = zhashx_first(host->services); service;
             service = zhashx_next(host->services)) {
            if (!alive) {
                walk = walk || service->held || service->flapping;
                continue;
            }
            if (service->flapping &&
                self->now_mono - service->changed_mono >= self->config.flap_quiet_ms)
                s_flap_end(self, host, service);
            if (service->outage_id && service->held && !service->flapping &&
                !s_silenced(self, host->name, service->name))
                s_release(self, host, service);
            if (service->outage_id && service->notified && !service->flapping &&
                self->config.repeat_ms)
                s_remind(self, host, service);
            walk = walk || service->held || service->flapping;
        }
    }
    self->alert_walk = walk;
}

void zb_monitor_sweep(zb_monitor_t *self, int64_t now_mono, int64_t now_wall)
{
    assert(self);
    self->now_mono = now_mono;
    self->now_wall = now_wall;
    for (s_host_t *host = zhashx_first(self->hosts); host; host = zhashx_next(self->hosts)) {
        if (host->state != S_ALIVE)
            continue;
        int64_t interval = host->interval_ms ? host->interval_ms : ZB_MONITOR_UNKNOWN_INTERVAL_MS;
        if (now_mono - host->last_seen_mono > self->config.liveness * interval)
            s_host_silent(self, host, now_mono);
    }
    if (self->alert_tick_mono == 0 ||
        now_mono - self->alert_tick_mono >= ZB_MONITOR_ALERT_TICK_MS) {
        self->alert_tick_mono = now_mono;
        s_alert_tick(self);
    }
}

static void s_publish_flush(zb_monitor_t *self, bool send)
{
    void *sock = self->pub ? zsock_resolve(self->pub) : NULL;
    char *item;
    while ((item = zlistx_detach(self->publish, NULL))) {
        if (send && sock) {
            //  PUB never blocks: at its high-water mark it drops.
            size_t tlen = strlen(item);
            zmq_send(sock, item, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(sock, item + tlen + 1, strlen(item + tlen + 1), ZMQ_DONTWAIT);
        }
        free(item);
    }
}

//  Ends a pass: times the commit when it wrote, and copies the counters
//  where other threads can read them (zb_monitor_snapshot).
static void s_share(zb_monitor_t *self, bool wrote, bool ok, int64_t took_us)
{
    static const int64_t bounds[] = ZB_MONITOR_COMMIT_BOUNDS_US;
    if (wrote) {
        size_t i = 0;
        while (i + 1 < ZB_MONITOR_COMMIT_BUCKETS && took_us > bounds[i])
            i++;
        self->stats.db_commit_buckets[i]++;
        self->stats.db_commits++;
        self->stats.db_commit_us += (uint64_t)took_us;
    }
    //  A write or the commit of this pass failed (counted), or it wrote.
    if (self->stats.db_errors != self->shared.db_errors)
        self->stats.db_ok = false;
    else if (wrote && ok)
        self->stats.db_ok = true;
    self->stats.pass_mono = zb_time_mono_ms();
    pthread_mutex_lock(&self->shared_lock);
    self->shared = self->stats;
    pthread_mutex_unlock(&self->shared_lock);
}

int zb_monitor_begin(zb_monitor_t *self)
{
    assert(self);
    int64_t start = zb_time_mono_ms();
    if (zb_store_begin(self->store) == 0) {
        if (self->locked_out)
            zb_log_warning("database writable again: reading input");
        self->locked_out = false;
        return 0;
    }
    if (!self->locked_out)
        zb_log_error("database: %s; input waits in the queues until it can be written",
                     zb_store_error(self->store));
    self->locked_out = true;
    self->stats.db_errors++;
    s_share(self, false, false, 0);
    //  A lock held by another process fails after the busy timeout; an
    //  error that fails at once (a read-only file) must not make the loop
    //  spin on input it leaves unread: this waits, as the busy timeout would.
    int64_t left = start + ZB_MONITOR_LOCKED_WAIT_MS - zb_time_mono_ms();
    if (left > 0)
        zclock_sleep((int)left);
    return -1;
}

int zb_monitor_commit(zb_monitor_t *self)
{
    assert(self);
    bool wrote = zb_store_pending(self->store);
    int64_t start_us = zb_time_mono_us();
    bool ok = zb_store_commit(self->store) == 0;
    if (!ok)
        self->stats.db_errors++;
    self->stats.kept_writes = zb_store_kept(self->store);
    s_share(self, wrote, ok, zb_time_mono_us() - start_us);
    //  Only what is committed leaves the monitor: a rolled-back alert was
    //  never made.
    s_publish_flush(self, ok);
    if (ok && self->poke && self->dispatch)
        zb_dispatch_poke(self->dispatch);
    self->poke = false;
    return ok ? 0 : -1;
}

//  Last-seen times and replay reports are kept in memory; this writes
//  those that moved (with the sequence number heard, so a restart knows
//  what is stale), so a crash loses at most one ZB_MONITOR_ALIVE_MS of them.
static void s_host_heard_write(zb_monitor_t *self, s_host_t *host)
{
    s_write_result(self,
                   zb_store_host_heard(self->store, host->name, host->last_seen_wall,
                                       host->replay_known ? (int64_t)host->replay_pending : -1,
                                       host->replay_wall, host->replay_instance));
    host->replay_dirty = false;
}

static void s_checkpoint(zb_monitor_t *self)
{
    for (s_host_t *host = zhashx_first(self->hosts); host; host = zhashx_next(self->hosts)) {
        bool moved = host->last_seen_wall != host->last_seen_written;
        if (!moved && !host->replay_dirty)
            continue;
        s_host_heard_write(self, host);
        if (moved && host->instance[0])
            s_write_result(self, zb_store_instance_put(self->store, host->name, host->instance,
                                                       host->last_seen_wall, host->last_seq));
        host->last_seen_written = host->last_seen_wall;
    }
    zb_monitor_commit(self);
}

//  --------------------------------------------------------------------------
//  The monitor's own liveness, and how far behind agents' replay it is

void zb_monitor_rejected(zb_monitor_t *self)
{
    assert(self);
    self->stats.rejected++;
}

int zb_monitor_replay_status(zb_monitor_t *self, const char *name, const char *instance,
                             uint64_t pending, int64_t now_wall)
{
    assert(self && name && instance);
    s_host_t *host = zhashx_lookup(self->hosts, name);
    if (!host)
        return -1;
    //  Written at once when it changes (the CLI sees "behind" and "caught
    //  up" promptly) or is the first since this monitor started; otherwise
    //  only its time moves, written by the next s_alive pass. While commits
    //  fail, nothing new is queued: s_alive writes it once they succeed.
    bool changed = !host->replay_known || host->replay_pending != pending ||
                   host->replay_wall < self->started_wall ||
                   strcmp(host->replay_instance, instance) != 0;
    s_copy(host->replay_instance, sizeof(host->replay_instance), instance);
    host->replay_known = true;
    host->replay_pending = pending;
    host->replay_wall = now_wall;
    host->replay_dirty = true;
    if (changed && zb_store_kept(self->store) == 0)
        s_host_heard_write(self, host);
    return 0;
}

//  Writes the monitor's row (stopped_ms -1 while running) and what moved of
//  hosts' last-seen times and replay reports. Skipped while commits fail:
//  the kept writes must not grow with every pass, and a row that ages is
//  the truth for readers (the monitor is not getting anything written).
static void s_alive(zb_monitor_t *self, int64_t stopped_ms)
{
    if (!self->started_wall || zb_store_kept(self->store) > 0 || zb_monitor_begin(self) != 0)
        return;
    int64_t now = zb_time_wall_ms();
    char hostname[256] = "";
    if (gethostname(hostname, sizeof(hostname) - 1) != 0)
        hostname[0] = '\0';
    zb_store_monitor_t row = {.pid = getpid(),
                              .hostname = hostname,
                              .version = ZB_VERSION,
                              .started_at_ms = self->started_wall,
                              .heartbeat_at_ms = now,
                              .heartbeat_ms = ZB_MONITOR_ALIVE_MS,
                              .stopped_at_ms = stopped_ms};
    s_write_result(self, zb_store_monitor_put(self->store, &row));
    s_checkpoint(self);
}

static int s_on_alive(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zb_monitor_t *self = arg;
    s_alive(self, -1);
    zb_log_debug("stats: messages=%" PRIu64 " decode_errors=%" PRIu64 " seq_gaps=%" PRIu64
                 " stale=%" PRIu64 " dropped=%" PRIu64 " db_errors=%" PRIu64,
                 self->stats.messages, self->stats.decode_errors, self->stats.seq_gaps,
                 self->stats.stale, self->stats.dropped, self->stats.db_errors);
    return 0;
}

void zb_monitor_stats(zb_monitor_t *self, zb_monitor_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
}

void zb_monitor_snapshot(zb_monitor_t *self, zb_monitor_stats_t *stats)
{
    assert(self && stats);
    pthread_mutex_lock(&self->shared_lock);
    *stats = self->shared;
    pthread_mutex_unlock(&self->shared_lock);
}

//  --------------------------------------------------------------------------
//  Loading the state a previous run left

static int s_load_host(const zb_store_host_t *row, void *arg)
{
    zb_monitor_t *self = arg;
    if (!zb_name_valid(row->name))
        return 0;
    s_host_t *host = s_host_new(self, row->name);
    if (!host)
        return -1;
    host->state = strcmp(row->state, "silent") == 0    ? S_SILENT
                  : strcmp(row->state, "stopped") == 0 ? S_STOPPED
                                                       : S_ALIVE;
    host->since_ms = row->since_ms;
    s_copy(host->instance, sizeof(host->instance), row->instance);
    host->interval_ms = row->interval_ms;
    host->last_seen_wall = row->last_seen_ms;
    host->last_seen_written = row->last_seen_ms;
    //  A fresh grace period: the host was not silent; we were away.
    host->last_seen_mono = zb_time_mono_ms();
    //  Messages of this agent run up to what is committed are stale: a beat
    //  queued in the agent while we were down must not undo a transition
    //  the previous run recorded (or that replay brought).
    if (row->instance && row->instance[0] &&
        zb_store_instance_seq(self->store, row->name, row->instance, &host->last_seq) != 0)
        host->last_seq = 0;
    return 0;
}

static int s_load_service(const zb_store_service_t *row, void *arg)
{
    zb_monitor_t *self = arg;
    s_host_t *host = zhashx_lookup(self->hosts, row->host);
    if (!host || !zb_name_valid(row->name))
        return 0;
    s_service_t *service = s_service_new(host, row->name);
    if (!service)
        return -1;
    zb_state_parse(row->state, &service->state);
    service->since_ms = row->since_ms;
    s_copy(service->kind, sizeof(service->kind), row->kind);
    s_copy(service->reason, sizeof(service->reason), row->reason);
    s_copy(service->error, sizeof(service->error), row->error);
    return 0;
}

static int s_load_outage(const zb_store_outage_t *row, void *arg)
{
    zb_monitor_t *self = arg;
    s_host_t *host = zhashx_lookup(self->hosts, row->host);
    if (!host && zb_name_valid(row->host)) {
        host = s_host_new(self, row->host);
        if (!host)
            return -1;
        host->state = S_ALIVE;
        host->last_seen_mono = zb_time_mono_ms();
        host->last_seen_wall = row->started_at_ms;
    }
    if (!host)
        return 0;
    if (!row->service) {
        host->outage_id = row->id;
        host->outage_started_ms = row->started_at_ms;
        host->state = S_SILENT;
        host->notified = row->notified;
        host->held = row->silenced && !row->notified;
        host->reminded = s_period(self, row->started_at_ms);
        self->alert_walk = self->alert_walk || host->held;
        return 0;
    }
    s_service_t *service = zhashx_lookup(host->services, row->service);
    //  An open outage of a service the table lost: keep it closable.
    if (!service && zb_name_valid(row->service))
        service = s_service_new(host, row->service);
    if (!service)
        return 0;
    service->outage_id = row->id;
    service->outage_started_ms = row->started_at_ms;
    service->notified = row->notified;
    service->held = row->silenced && !row->notified;
    //  Periods missed while no monitor ran are not made up.
    service->reminded = s_period(self, row->started_at_ms);
    self->alert_walk = self->alert_walk || service->held;
    return 0;
}

zb_monitor_t *zb_monitor_new(const zb_monitor_config_t *config, char *err, size_t errsize)
{
    assert(config && err);
    zb_monitor_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->hangup_fd = -1;
    pthread_mutex_init(&self->shared_lock, NULL);
    self->stats.db_ok = true;
    self->shared = self->stats;
    self->prune_timer = -1;
    self->now_mono = zb_time_mono_ms();
    self->now_wall = zb_time_wall_ms();
    self->hosts = zhashx_new();
    self->publish = zlistx_new();
    if (!self->hosts || !self->publish) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    zhashx_set_destructor(self->hosts, s_host_destroy);
    self->store = zb_store_open(config->db, err, errsize);
    if (!self->store)
        goto failed;
    if (zb_store_hosts(self->store, s_load_host, self) != 0 ||
        zb_store_services(self->store, s_load_service, self) != 0 ||
        zb_store_open_outages(self->store, s_load_outage, self) != 0) {
        snprintf(err, errsize, "%s", zb_store_error(self->store));
        goto failed;
    }
    return self;

failed:
    zb_monitor_destroy(&self);
    return NULL;
}

void zb_monitor_destroy(zb_monitor_t **self_p)
{
    assert(self_p);
    zb_monitor_t *self = *self_p;
    if (!self)
        return;
    if (self->store) {
        s_checkpoint(self);
        zb_store_destroy(&self->store);
    }
    zhashx_destroy(&self->hosts);
    if (self->publish)
        s_publish_flush(self, false);
    zlistx_destroy(&self->publish);
    s_silences_clear(self);
    free(self->silences);
    pthread_mutex_destroy(&self->shared_lock);
    free(self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  The loop

static void s_malformed(zb_monitor_t *self, const char *reason)
{
    self->stats.decode_errors++;
    self->errors_unlogged++;
    //  Decoder messages may quote the input: never let it reach a terminal raw.
    char why[ZB_TEXT_PRINTABLE_MAX(256)];
    zb_text_printable(reason, strlen(reason), why, sizeof(why), 0);
    zb_log_debug("malformed message: %s", why);
    int64_t now = zb_time_mono_ms();
    if (self->error_log_mono && now - self->error_log_mono < ZB_MONITOR_ERROR_LOG_MS)
        return;
    zb_log_warning("dropped malformed message: %s (%" PRIu64 " dropped since last report, "
                   "%" PRIu64 " in all)",
                   why, self->errors_unlogged, self->stats.decode_errors);
    self->error_log_mono = now;
    self->errors_unlogged = 0;
}

//  Handles what the SUB socket holds, up to ZB_MONITOR_DRAIN messages,
//  inside the pass's transaction (the caller begins and commits it).
static void s_take_input(zb_monitor_t *self)
{
    for (int i = 0; i < ZB_MONITOR_DRAIN; i++) {
        zb_msg_t *msg = NULL;
        char why[256] = "", user_id[64] = "";
        int rc =
            zb_msg_recv_nowait_user(self->sub, &msg, user_id, sizeof(user_id), why, sizeof(why));
        if (rc == -2)
            break;
        if (rc == -1) {
            s_malformed(self, why);
            continue;
        }
        //  Only the host bound to the sender's key (CURVE; zb_auth logs).
        if (zb_auth_check(self->auth, user_id, msg->host) != 0) {
            self->stats.rejected++;
            zb_msg_destroy(&msg);
            continue;
        }
        zb_monitor_handle(self, msg, zb_time_mono_ms(), zb_time_wall_ms());
        zb_msg_destroy(&msg);
    }
}

//  One pass of input alone.
static void s_drain(zb_monitor_t *self)
{
    if (zb_monitor_begin(self) != 0)
        return;
    s_take_input(self);
    zb_monitor_commit(self);
}

static int s_on_readable(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    s_drain(arg);
    return 0;
}

static int s_on_sweep(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zb_monitor_t *self = arg;
    //  What is already queued counts before anyone is called silent: after
    //  a stall of the monitor itself, every host would look quiet.
    if (zb_monitor_begin(self) != 0)
        return 0;
    s_take_input(self);
    zb_monitor_sweep(self, zb_time_mono_ms(), zb_time_wall_ms());
    zb_monitor_commit(self);
    return 0;
}

//  One batch per call, so a large backlog never stalls ingest; the next
//  batch is scheduled right after until the backlog is gone.
static int s_on_prune(zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    zb_monitor_t *self = arg;
    self->prune_timer = -1;
    if (zb_monitor_begin(self) != 0)
        return 0; // the next period's prune tries again
    int64_t before = zb_time_wall_ms() - self->config.retention_ms;
    int deleted = zb_store_prune(self->store, before, ZB_MONITOR_PRUNE_BATCH);
    if (deleted < 0)
        s_write_result(self, deleted);
    zb_monitor_commit(self);
    if (deleted > 0)
        zb_log_info("pruned %d outages and alerts older than the retention period", deleted);
    if (deleted >= ZB_MONITOR_PRUNE_BATCH)
        self->prune_timer = zloop_timer(loop, 10, 1, s_on_prune, self);
    return 0;
}

static int s_on_prune_period(zloop_t *loop, int timer_id, void *arg)
{
    zb_monitor_t *self = arg;
    if (self->prune_timer == -1)
        s_on_prune(loop, timer_id, arg);
    return 0;
}

static int s_bind(zsock_t *sock, const char *list, const char *what)
{
    char *endpoints = strdup(list);
    int rc = endpoints ? 0 : -1;
    char *save = NULL;
    for (char *ep = endpoints ? strtok_r(endpoints, ",", &save) : NULL; ep && rc == 0;
         ep = strtok_r(NULL, ",", &save)) {
        if (zsock_bind(sock, "%s", ep) == -1) {
            zb_log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            rc = -1;
        } else
            zb_log_info("%s on %s", what, zsock_endpoint(sock));
    }
    free(endpoints);
    return rc;
}

void zb_monitor_set_hangup(zb_monitor_t *self, int fd, zb_monitor_hangup_fn *fn, void *arg)
{
    assert(self && fd >= 0 && fn && !self->loop);
    self->hangup_fd = fd;
    self->hangup = fn;
    self->hangup_arg = arg;
}

static int s_on_hangup(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    zb_monitor_t *self = arg;
    self->hangup(self->hangup_arg);
    return 0;
}

static int s_hangup_attach(zb_monitor_t *self)
{
    if (self->hangup_fd == -1)
        return 0;
    zmq_pollitem_t item = {NULL, self->hangup_fd, ZMQ_POLLIN, 0};
    if (zloop_poller(self->loop, &item, s_on_hangup, self) != 0) {
        zb_log_error("cannot watch for SIGHUP");
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Live reload (zb_reload calls zb_monitor_apply from the loop).

//  What a reload cannot change in a running monitor: the store is open,
//  and bind/cert/agents/replay are wired into sockets and zb_auth.
static int s_apply_check(const zb_monitor_config_t *old, const zb_monitor_config_t *fresh,
                         char *err, size_t errsize)
{
    static const struct {
        const char *key;
        size_t offset;
    } fixed[] = {
        {"db", offsetof(zb_monitor_config_t, db)},
        {"bind", offsetof(zb_monitor_config_t, bind)},
        {"cert", offsetof(zb_monitor_config_t, cert)},
        {"agents", offsetof(zb_monitor_config_t, agents)},
        {"replay", offsetof(zb_monitor_config_t, replay)},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp((const char *)old + fixed[i].offset, (const char *)fresh + fixed[i].offset)) {
            snprintf(err, errsize, "monitor/%s: cannot change on reload; restart", fixed[i].key);
            return -1;
        }
    return 0;
}

//  A PUB socket bound on every endpoint, or NULL (logged when `quiet` is
//  false). `tries` > 1 retries every 10 ms: a socket just closed frees its
//  port only when the I/O thread gets to it.
static zsock_t *s_pub_open(const char *endpoints, int tries, bool quiet)
{
    char *list = strdup(endpoints);
    zsock_t *pub = NULL;
    for (int attempt = 1; list && attempt <= tries && !pub; attempt++) {
        if (attempt > 1)
            zclock_sleep(10);
        strcpy(list, endpoints);
        pub = zsock_new(ZMQ_PUB);
        if (!pub)
            break;
        zsock_set_sndhwm(pub, ZB_MONITOR_PUB_HWM);
        char *save = NULL;
        for (char *ep = strtok_r(list, ",", &save); ep && pub; ep = strtok_r(NULL, ",", &save))
            if (zsock_bind(pub, "%s", ep) == -1) {
                if (attempt == tries && !quiet)
                    zb_log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
                zsock_destroy(&pub);
            }
    }
    if (pub)
        zb_log_info("publishing alerts on %s", endpoints);
    free(list);
    return pub;
}

//  The PUB socket on its new endpoints. The new one is bound first, so a
//  failure keeps the old one; only when that fails (most often: the same
//  port) does the old one go first, and comes back if the new one still
//  fails. That path may hold the loop for up to 1 s; messages queue
//  meanwhile and are drained before any sweep.
static int s_apply_publish(zb_monitor_t *self, const char *endpoints, char *err, size_t errsize)
{
    zsock_t *pub = NULL;
    if (*endpoints) {
        pub = s_pub_open(endpoints, 1, self->pub != NULL);
        if (!pub && self->pub) {
            zsock_destroy(&self->pub);
            pub = s_pub_open(endpoints, 50, false);
            if (!pub)
                self->pub = s_pub_open(self->config.publish, 50, false);
        }
        if (!pub) {
            snprintf(err, errsize, "monitor/publish: cannot bind %s", endpoints);
            return -1;
        }
    }
    zsock_destroy(&self->pub);
    self->pub = pub;
    return 0;
}

int zb_monitor_apply(zb_monitor_t *self, const zb_monitor_config_t *config, char *err,
                     size_t errsize)
{
    assert(self && config && err && self->loop);
    zb_monitor_config_t *old = &self->config;
    if (s_apply_check(old, config, err, errsize) != 0)
        return -1;
    if (strcmp(old->publish, config->publish) != 0) {
        if (s_apply_publish(self, config->publish, err, errsize) != 0)
            return -1;
        zb_log_info("reload: publish %s", *config->publish ? config->publish : "off");
    }
    //  Nothing below fails the reload.
    if (old->liveness != config->liveness)
        zb_log_info("reload: liveness %d -> %d", old->liveness, config->liveness);
    if (old->flap_threshold != config->flap_threshold) {
        //  The rings are sized by the threshold: start them afresh.
        for (s_host_t *host = zhashx_first(self->hosts); host; host = zhashx_next(self->hosts))
            for (s_service_t *service = zhashx_first(host->services); service;
                 service = zhashx_next(host->services)) {
                free(service->flaps);
                service->flaps = NULL;
                service->flap_count = service->flap_next = 0;
            }
    }
    if (self->dispatch && zb_dispatch_reload(self->dispatch, config) != 0)
        zb_log_error("reload: some alert channels did not start; their deliveries wait");
    bool prune = old->retention_ms != config->retention_ms;
    if (prune) {
        char was[32], now[32];
        zb_time_format_duration(old->retention_ms, was, sizeof(was));
        zb_time_format_duration(config->retention_ms, now, sizeof(now));
        zb_log_info("reload: retention %s -> %s", was, now);
    }
    *old = *config;
    //  Deliveries are made with the new channels from the next alert on.
    if (prune && self->prune_timer == -1)
        self->prune_timer = zloop_timer(self->loop, 1, 1, s_on_prune, self);
    self->alert_walk = true;
    return 0;
}

int zb_monitor_run(zb_monitor_t *self)
{
    assert(self);
    int rc = -1;
    self->sub = zsock_new(ZMQ_SUB);
    self->loop = zloop_new();
    if (!self->sub || !self->loop) {
        zb_log_error("cannot create the socket or loop");
        goto done;
    }
    //  A frame over the limit makes ZeroMQ drop the sender's connection: a
    //  peer sending junk that large is not an agent.
    zsock_set_maxmsgsize(self->sub, ZB_PROTO_MAX_BYTES + 64 * 1024);
    zsock_set_rcvhwm(self->sub, ZB_MONITOR_RCVHWM);
    zsock_set_subscribe(self->sub, "");
    //  ZMTP heartbeats drop an agent's connection that went half-open (its
    //  host died without a FIN); agents ask for the same from their side.
    zsock_set_heartbeat_ivl(self->sub, ZB_MONITOR_HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout(self->sub, ZB_MONITOR_HEARTBEAT_TIMEOUT_MS);
    //  Authentication first: binding without it would admit anyone.
    char why[600];
    self->auth = zb_auth_new(self->sub, self->config.cert, self->config.agents, self->config.bind,
                             why, sizeof(why));
    if (!self->auth) {
        zb_log_error("%s", why);
        goto done;
    }
    if (s_bind(self->sub, self->config.bind, "listening") != 0)
        goto done;
    if (self->config.publish[0]) {
        self->pub = zsock_new(ZMQ_PUB);
        if (!self->pub) {
            zb_log_error("cannot create the publish socket");
            goto done;
        }
        zsock_set_sndhwm(self->pub, ZB_MONITOR_PUB_HWM);
        if (s_bind(self->pub, self->config.publish, "publishing alerts") != 0)
            goto done;
    }
    char err[600];
    self->dispatch = zb_dispatch_new(&self->config, err, sizeof(err));
    if (!self->dispatch) {
        zb_log_error("%s", err);
        goto done;
    }
    if (self->config.channel_count)
        zb_log_info("alerting to %zu channel%s", self->config.channel_count,
                    self->config.channel_count == 1 ? "" : "s");
    zb_log_info("monitor started: db %s, liveness %d, %zu hosts known", self->config.db,
                self->config.liveness, zhashx_size(self->hosts));
    zloop_reader(self->loop, self->sub, s_on_readable, self);
    if (zb_auth_attach(self->auth, self->loop) != 0) {
        zb_log_error("cannot watch the allow-list");
        goto done;
    }
    if (self->config.replay[0]) {
        self->replay = zb_replay_server_new(self, self->loop, self->config.replay, self->auth);
        if (!self->replay)
            goto done;
    }
    if (s_hangup_attach(self) != 0)
        goto done;
    zloop_timer(self->loop, ZB_MONITOR_SWEEP_MS, 0, s_on_sweep, self);
    zloop_timer(self->loop, ZB_MONITOR_ALIVE_MS, 0, s_on_alive, self);
    self->started_wall = zb_time_wall_ms();
    s_alive(self, -1);
    zloop_timer(self->loop, ZB_MONITOR_PRUNE_MS, 0, s_on_prune_period, self);
    self->prune_timer = zloop_timer(self->loop, 1, 1, s_on_prune, self);
    //  Returns on SIGINT/SIGTERM (czmq's handler sets zsys_interrupted).
    zloop_start(self->loop);
    s_drain(self);
    s_alive(self, zb_time_wall_ms());
    zb_log_info("monitor stopping: messages=%" PRIu64 " decode_errors=%" PRIu64 " seq_gaps=%" PRIu64
                " stale=%" PRIu64 " dropped=%" PRIu64 " db_errors=%" PRIu64 " rejected=%" PRIu64,
                self->stats.messages, self->stats.decode_errors, self->stats.seq_gaps,
                self->stats.stale, self->stats.dropped, self->stats.db_errors,
                self->stats.rejected);
    rc = 0;
done:
    zb_replay_server_destroy(&self->replay);
    zb_dispatch_destroy(&self->dispatch);
    zsock_destroy(&self->pub);
    zloop_destroy(&self->loop);
    zb_auth_destroy(&self->auth); // stops watching the socket: before it goes
    zsock_destroy(&self->sub);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self-test: the state machine, driven with explicit clocks.

#define T0 1800000000000LL // wall clock base
#define S_INSTANCE_A "00000000000000aa"
#define S_INSTANCE_B "00000000000000bb"

static zb_msg_t *s_beat(const char *host, const char *instance, uint64_t seq, int64_t time_ms,
                        const char *services)
{
    //  services: "name=state@since,..." e.g. "redis=up@1000"
    zb_msg_t *msg = zb_msg_new(ZB_MSG_BEAT);
    assert(msg);
    s_copy(msg->host, sizeof(msg->host), host);
    s_copy(msg->instance, sizeof(msg->instance), instance);
    msg->seq = seq;
    msg->time_ms = time_ms;
    msg->interval_ms = 1000;
    char *list = strdup(services);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        zb_service_status_t status = {.rtt_us = -1};
        char state[16];
        long long since;
        assert(sscanf(item, "%64[^=]=%15[^@]@%lld", status.name, state, &since) == 3);
        assert(zb_state_parse(state, &status.state) == 0);
        status.since_ms = T0 + since;
        s_copy(status.kind, sizeof(status.kind), "probe");
        s_copy(status.reason, sizeof(status.reason),
               status.state == ZB_STATE_DOWN ? "refused" : "ok");
        assert(zb_msg_add_service(msg, &status) == 0);
    }
    free(list);
    return msg;
}

static zb_msg_t *s_event_msg(const char *host, const char *instance, uint64_t seq,
                             const char *service, zb_state_t to, int64_t at_ms, const char *reason)
{
    zb_msg_t *msg = zb_msg_new(ZB_MSG_EVENT);
    assert(msg);
    s_copy(msg->host, sizeof(msg->host), host);
    s_copy(msg->instance, sizeof(msg->instance), instance);
    msg->seq = seq;
    msg->time_ms = at_ms;
    s_copy(msg->service, sizeof(msg->service), service);
    msg->from = ZB_STATE_UNKNOWN;
    msg->to = to;
    msg->at_ms = at_ms;
    s_copy(msg->reason, sizeof(msg->reason), reason);
    return msg;
}

static void s_feed(zb_monitor_t *self, zb_msg_t *msg, int64_t mono)
{
    zb_monitor_handle(self, msg, mono, T0 + mono);
    zb_msg_destroy(&msg);
    assert(zb_monitor_commit(self) == 0);
}

typedef struct {
    int count;
    char text[4096];
} s_rows_t;

static int s_outage_text(const zb_store_outage_t *outage, void *arg)
{
    s_rows_t *rows = arg;
    size_t len = strlen(rows->text);
    char ended[32] = "open";
    if (outage->ended_at_ms >= 0)
        snprintf(ended, sizeof(ended), "%lld", (long long)(outage->ended_at_ms - T0));
    snprintf(rows->text + len, sizeof(rows->text) - len, "%s/%s:%lld-%s:%s:%s;", outage->host,
             outage->service ? outage->service : "-", (long long)(outage->started_at_ms - T0),
             ended, outage->reason, outage->end_reason ? outage->end_reason : "");
    rows->count++;
    return 0;
}

static int s_status_text(const zb_store_status_t *row, void *arg)
{
    s_rows_t *rows = arg;
    size_t len = strlen(rows->text);
    snprintf(rows->text + len, sizeof(rows->text) - len, "%s/%s=%s;", row->host,
             row->service ? row->service : "-", row->state);
    rows->count++;
    return 0;
}

//  Outages oldest first, as "host/service:start-end:reason:end_reason;".
static void s_expect_outages(const char *db, const char *expect)
{
    char err[256];
    zb_store_t *store = zb_store_open_readonly(db, err, sizeof(err));
    assert(store);
    s_rows_t rows = {0};
    zb_store_query_t query;
    zb_store_query_init(&query);
    assert(zb_store_outages(store, &query, s_outage_text, &rows) == 0);
    zb_store_destroy(&store);
    //  The store lists newest first; reverse the ';'-separated items.
    char reversed[4096] = "";
    char *save = NULL;
    for (char *item = strtok_r(rows.text, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s;%s", item, reversed);
        snprintf(reversed, sizeof(reversed), "%s", tmp);
    }
    if (strcmp(reversed, expect) != 0) {
        fprintf(stderr, "\noutages: %s\nexpected: %s\n", reversed, expect);
        assert(false);
    }
}

static void s_expect_status(const char *db, const char *expect)
{
    char err[256];
    zb_store_t *store = zb_store_open_readonly(db, err, sizeof(err));
    assert(store);
    s_rows_t rows = {0};
    assert(zb_store_status(store, s_status_text, &rows) == 0);
    zb_store_destroy(&store);
    if (strcmp(rows.text, expect) != 0) {
        fprintf(stderr, "\nstatus: %s\nexpected: %s\n", rows.text, expect);
        assert(false);
    }
}

static int s_alert_text(const zb_store_delivery_t *row, void *arg)
{
    s_rows_t *rows = arg;
    size_t len = strlen(rows->text);
    char item[256];
    snprintf(item, sizeof(item), "%s@%s=%s;", row->alert->id, row->channel ? row->channel : "-",
             row->status ? row->status : "-");
    //  Newest first from the store: prepend, for oldest first.
    if (len + strlen(item) + 1 < sizeof(rows->text)) {
        memmove(rows->text + strlen(item), rows->text, len + 1);
        memcpy(rows->text, item, strlen(item));
    }
    rows->count++;
    return 0;
}

static void s_expect_alerts(const char *db, const char *expect)
{
    char err[256];
    zb_store_t *store = zb_store_open_readonly(db, err, sizeof(err));
    assert(store);
    s_rows_t rows = {0};
    assert(zb_store_deliveries(store, 0, 0, s_alert_text, &rows) == 0);
    zb_store_destroy(&store);
    if (strcmp(rows.text, expect) != 0) {
        fprintf(stderr, "\nalerts: %s\nexpected: %s\n", rows.text, expect);
        assert(false);
    }
}

static void s_sweep(zb_monitor_t *self, int64_t mono)
{
    zb_monitor_sweep(self, mono, T0 + mono);
    assert(zb_monitor_commit(self) == 0);
}

//  The alert rules, driven with explicit clocks: one alert per incident,
//  flapping, silences held and released, reminders, a restart.
static void s_test_alerts(const char *dir)
{
    zb_monitor_config_t config;
    zb_monitor_config_defaults(&config);
    snprintf(config.db, sizeof(config.db), "%s/alerts.db", dir);
    config.flap_threshold = 2;
    config.flap_window_ms = 10000;
    config.flap_quiet_ms = 5000;
    config.repeat_ms = 60000;
    config.channel_count = 2;
    memset(config.channels, 0, 2 * sizeof(config.channels[0]));
    snprintf(config.channels[0].name, sizeof(config.channels[0].name), "x");
    snprintf(config.channels[0].hosts, sizeof(config.channels[0].hosts), "web-*");
    snprintf(config.channels[1].name, sizeof(config.channels[1].name), "y");
    snprintf(config.channels[1].hosts, sizeof(config.channels[1].hosts), "db-*");
    char err[512];
    zb_monitor_t *monitor = zb_monitor_new(&config, err, sizeof(err));
    assert(monitor);

    //  Down, then up: one alert each, to the channel whose filter matches.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 1, T0 + 1000, "redis=up@500,ssh=up@500"), 1000);
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_A, 2, "redis", ZB_STATE_DOWN, T0 + 2000, "refused"),
           2000);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 3, T0 + 2100, "redis=down@2000,ssh=up@500"),
           2100);
    s_feed(monitor, s_event_msg("web-1", S_INSTANCE_A, 4, "redis", ZB_STATE_UP, T0 + 3000, "ok"),
           3000);
    s_expect_alerts(config.db, "web-1/redis/1/down@x=pending;web-1/redis/1/recovered@x=pending;");

    //  A third change within the window is flapping: one alert, then
    //  nothing until quiet for flap_quiet; it settled down: "stable".
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_A, 5, "redis", ZB_STATE_DOWN, T0 + 4000, "refused"),
           4000);
    s_feed(monitor, s_event_msg("web-1", S_INSTANCE_A, 6, "redis", ZB_STATE_UP, T0 + 4500, "ok"),
           4500);
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_A, 7, "redis", ZB_STATE_DOWN, T0 + 5000, "refused"),
           5000);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 8, T0 + 7000, "redis=down@5000,ssh=up@500"),
           7000);
    s_sweep(monitor, 7001);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 9, T0 + 9999, "redis=down@5000,ssh=up@500"),
           9999);
    s_sweep(monitor, 10001);
    s_feed(monitor, s_event_msg("web-1", S_INSTANCE_A, 10, "redis", ZB_STATE_UP, T0 + 11000, "ok"),
           11000);
    s_expect_alerts(config.db, "web-1/redis/1/down@x=pending;web-1/redis/1/recovered@x=pending;"
                               "web-1/redis/flap-1800000004000/flapping@x=pending;"
                               "web-1/redis/flap-1800000004000/stable@x=pending;"
                               "web-1/redis/3/recovered@x=pending;");

    //  A silence holds ssh's alert; the outage is recorded all the same.
    char path[sizeof(config.db) + 8];
    snprintf(path, sizeof(path), "%s", config.db);
    zb_store_t *cli = zb_store_open_existing(path, err, sizeof(err));
    assert(cli);
    zb_store_silence_t silence = {.host = "web-?",
                                  .service = "ssh",
                                  .starts_at_ms = T0,
                                  .ends_at_ms = T0 + 100000,
                                  .created_at_ms = T0};
    int64_t silence_id = 0;
    assert(zb_store_silence_add(cli, &silence, &silence_id) == 0 && zb_store_commit(cli) == 0);
    s_sweep(monitor, 11500);
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_A, 11, "ssh", ZB_STATE_DOWN, T0 + 12000, "timeout"),
           12000);
    s_expect_alerts(config.db, "web-1/redis/1/down@x=pending;web-1/redis/1/recovered@x=pending;"
                               "web-1/redis/flap-1800000004000/flapping@x=pending;"
                               "web-1/redis/flap-1800000004000/stable@x=pending;"
                               "web-1/redis/3/recovered@x=pending;web-1/ssh/4/down@x=held;");
    //  Ended early: the alert goes out as ssh is still down.
    assert(zb_store_silence_end(cli, silence_id, T0 + 12500) == 1 && zb_store_commit(cli) == 0);
    zb_store_destroy(&cli);
    s_sweep(monitor, 12600);
    //  A reminder one repeat period after the start.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 12, T0 + 71000, "redis=up@11000,ssh=down@12000"),
           71000);
    s_sweep(monitor, 71001);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 13, T0 + 72000, "redis=up@11000,ssh=down@12000"),
           72000);
    s_sweep(monitor, 72001);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 14, T0 + 73000, "redis=up@11000,ssh=down@12000"),
           73000);
    s_sweep(monitor, 73001); // not twice
    //  Silent: one host alert, nothing for its services.
    s_sweep(monitor, 80000);
    s_expect_alerts(config.db, "web-1/redis/1/down@x=pending;web-1/redis/1/recovered@x=pending;"
                               "web-1/redis/flap-1800000004000/flapping@x=pending;"
                               "web-1/redis/flap-1800000004000/stable@x=pending;"
                               "web-1/redis/3/recovered@x=pending;web-1/ssh/4/down@x=pending;"
                               "web-1/ssh/4/reminder-1@x=pending;web-1/-/5/silent@x=pending;");

    //  Restart: what was alerted is known, so the recoveries follow.
    zb_monitor_destroy(&monitor);
    monitor = zb_monitor_new(&config, err, sizeof(err));
    assert(monitor);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 15, T0 + 90000, "redis=up@11000,ssh=up@89000"),
           90000);
    //  Other hosts go to other channels; a host with none gets no delivery.
    s_feed(monitor,
           s_event_msg("db-1", S_INSTANCE_B, 1, "pg", ZB_STATE_DOWN, T0 + 91000, "refused"), 91000);
    s_feed(monitor,
           s_event_msg("app-1", S_INSTANCE_B, 1, "x", ZB_STATE_DOWN, T0 + 91000, "refused"), 91000);
    s_expect_alerts(config.db, "web-1/redis/1/down@x=pending;web-1/redis/1/recovered@x=pending;"
                               "web-1/redis/flap-1800000004000/flapping@x=pending;"
                               "web-1/redis/flap-1800000004000/stable@x=pending;"
                               "web-1/redis/3/recovered@x=pending;web-1/ssh/4/down@x=pending;"
                               "web-1/ssh/4/reminder-1@x=pending;web-1/-/5/silent@x=pending;"
                               "web-1/-/5/recovered@x=pending;web-1/ssh/4/recovered@x=pending;"
                               "db-1/pg/6/down@y=pending;app-1/x/7/down@-=-;");
    zb_monitor_destroy(&monitor);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", config.db, suffixes[i]);
        unlink(path);
    }
}

void zb_monitor_test(bool verbose)
{
    if (!verbose)
        zb_log_init("zb_monitor_test", false);
    char dir[] = "/tmp/zb_monitor_test.XXXXXX";
    assert(mkdtemp(dir));
    zb_monitor_config_t config;
    zb_monitor_config_defaults(&config);
    snprintf(config.db, sizeof(config.db), "%s/m.db", dir);
    config.liveness = 3; // the timings below are written for it
    char err[512];
    zb_monitor_t *monitor = zb_monitor_new(&config, err, sizeof(err));
    assert(monitor);
    zb_monitor_stats_t stats;

    //  First contact, then a service goes down (event) and up again.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 1, T0 + 1000, "redis=up@500,ssh=up@500"), 1000);
    s_expect_status(config.db, "web-1/-=alive;web-1/redis=up;web-1/ssh=up;");
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_A, 2, "redis", ZB_STATE_DOWN, T0 + 1500, "refused"),
           1500);
    //  A beat repeating the down state changes nothing.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 3, T0 + 2000, "redis=down@1500,ssh=up@500"),
           2000);
    s_expect_outages(config.db, "web-1/redis:1500-open:refused:;");
    s_expect_status(config.db, "web-1/-=alive;web-1/redis=down;web-1/ssh=up;");
    s_feed(monitor, s_event_msg("web-1", S_INSTANCE_A, 4, "redis", ZB_STATE_UP, T0 + 2500, "ok"),
           2500);
    s_expect_outages(config.db, "web-1/redis:1500-2500:refused:up;");

    //  Lost events: the beat shows ssh down (outage from its since), then up.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 7, T0 + 3000, "redis=up@2500,ssh=down@2800"),
           3000);
    zb_monitor_stats(monitor, &stats);
    assert(stats.seq_gaps == 2 && stats.messages == 5);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 8, T0 + 4000, "redis=up@2500,ssh=up@3900"), 4000);
    s_expect_outages(config.db, "web-1/redis:1500-2500:refused:up;web-1/ssh:2800-3900:refused:up;");
    //  Stale and duplicate messages are counted and ignored.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 8, T0 + 4000, "redis=down@4000"), 4100);
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 3, T0 + 4000, "redis=down@4000"), 4100);
    zb_monitor_stats(monitor, &stats);
    assert(stats.stale == 2 && stats.messages == 6);

    //  Silence: no message for liveness x interval.
    zb_monitor_sweep(monitor, 4000 + 3000, T0 + 7000);
    assert(zb_monitor_commit(monitor) == 0);
    s_expect_status(config.db, "web-1/-=alive;web-1/redis=up;web-1/ssh=up;");
    zb_monitor_sweep(monitor, 4000 + 3001, T0 + 7001);
    assert(zb_monitor_commit(monitor) == 0);
    s_expect_status(config.db, "web-1/-=silent;web-1/redis=unknown;web-1/ssh=unknown;");
    zb_monitor_sweep(monitor, 9000, T0 + 9000); // still one outage
    s_feed(monitor, s_beat("web-1", S_INSTANCE_A, 9, T0 + 12000, "redis=up@2500,ssh=up@3900"),
           12000);
    s_expect_status(config.db, "web-1/-=alive;web-1/redis=up;web-1/ssh=up;");
    s_expect_outages(config.db, "web-1/redis:1500-2500:refused:up;web-1/ssh:2800-3900:refused:up;"
                                "web-1/-:4000-12000:silent:back;");

    //  A planned stop: stopped, services unknown, no outage, no silence.
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_A, 10, "", ZB_STATE_STOPPED, T0 + 13000, "planned-stop"),
           13000);
    zb_monitor_sweep(monitor, 60000, T0 + 60000);
    assert(zb_monitor_commit(monitor) == 0);
    s_expect_status(config.db, "web-1/-=stopped;web-1/redis=unknown;web-1/ssh=unknown;");

    //  A new instance: no gap counted, no phantom outage; a service it no
    //  longer lists is removed.
    s_feed(monitor, s_beat("web-1", S_INSTANCE_B, 5, T0 + 61000, "redis=unknown@61000"), 61000);
    zb_monitor_stats(monitor, &stats);
    assert(stats.seq_gaps == 2);
    s_expect_status(config.db, "web-1/-=alive;web-1/redis=unknown;");
    s_feed(monitor,
           s_event_msg("web-1", S_INSTANCE_B, 6, "redis", ZB_STATE_DOWN, T0 + 61500, "timeout"),
           61500);
    s_expect_outages(config.db, "web-1/redis:1500-2500:refused:up;web-1/ssh:2800-3900:refused:up;"
                                "web-1/-:4000-12000:silent:back;web-1/redis:61500-open:timeout:;");

    //  Monitor restart while redis is down: the same outage continues.
    zb_monitor_destroy(&monitor);
    assert(!monitor);
    monitor = zb_monitor_new(&config, err, sizeof(err));
    assert(monitor);
    //  The agent restarted meanwhile and still finds redis down: kept.
    s_feed(
        monitor,
        s_event_msg("web-1", "00000000000000cc", 1, "redis", ZB_STATE_DOWN, T0 + 70000, "refused"),
        1000);
    s_expect_outages(config.db, "web-1/redis:1500-2500:refused:up;web-1/ssh:2800-3900:refused:up;"
                                "web-1/-:4000-12000:silent:back;web-1/redis:61500-open:timeout:;");
    s_feed(monitor,
           s_event_msg("web-1", "00000000000000cc", 2, "redis", ZB_STATE_UP, T0 + 71000, "ok"),
           1100);
    //  Removed by event: the outage ends as "removed".
    s_feed(
        monitor,
        s_event_msg("web-1", "00000000000000cc", 3, "redis", ZB_STATE_DOWN, T0 + 72000, "refused"),
        1200);
    s_feed(monitor,
           s_event_msg("web-1", "00000000000000cc", 4, "redis", ZB_STATE_REMOVED, T0 + 73000,
                       "removed"),
           1300);
    s_expect_status(config.db, "web-1/-=alive;");
    s_expect_outages(config.db, "web-1/redis:1500-2500:refused:up;web-1/ssh:2800-3900:refused:up;"
                                "web-1/-:4000-12000:silent:back;web-1/redis:61500-71000:timeout:up;"
                                "web-1/redis:72000-73000:refused:removed;");

    //  A host that never beat gets a long grace period (no false silence);
    //  web-1, beating every second, is silent by then.
    s_feed(monitor, s_event_msg("db-1", S_INSTANCE_A, 1, "pg", ZB_STATE_UP, T0 + 1300, "ok"), 1300);
    zb_monitor_sweep(monitor, 1300 + 30000, T0 + 31300);
    assert(zb_monitor_commit(monitor) == 0);
    s_expect_status(config.db, "db-1/-=alive;db-1/pg=up;web-1/-=silent;");

    //  Caps: hosts beyond the limit are dropped, not tracked.
    zb_monitor_stats(monitor, &stats);
    uint64_t dropped = stats.dropped;
    for (int i = 0; i < ZB_MONITOR_MAX_HOSTS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "h%d", i);
        zb_msg_t *msg = s_beat(name, S_INSTANCE_A, 1, T0 + 2000, "");
        zb_monitor_handle(monitor, msg, 2000, T0 + 2000);
        zb_msg_destroy(&msg);
    }
    assert(zb_monitor_commit(monitor) == 0);
    zb_monitor_stats(monitor, &stats);
    assert(stats.dropped == dropped + 2); // two hosts known already
    zb_monitor_destroy(&monitor);
    s_test_alerts(dir);

    char path[sizeof(config.db) + 8];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", config.db, suffixes[i]);
        unlink(path);
    }
    assert(rmdir(dir) == 0);
}
