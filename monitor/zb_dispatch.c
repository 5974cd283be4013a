/*  zb_dispatch: delivery threads, one per channel. See zb_dispatch.h. */
#include "zb_dispatch.h"
#include "zb_alert.h"
#include "zb_alertmanager.h"
#include "zb_email.h"
#include "zb_hook.h"
#include "zb_log.h"
#include "zb_store.h"
#include "zb_time.h"
#include "zb_webhook.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZB_DISPATCH_RECHECK_MS 1000 // longest sleep: clock changes, lost pokes
#define ZB_DISPATCH_BACKOFF_MS 1000 // first retry delay
#define ZB_DISPATCH_HANDOFF_MS 20   // a successor's look at its predecessor

extern char **environ;

//  What a channel's thread owns: a copy of its configuration and the
//  shared stop flag (set before the threads are told to end, so that an
//  attempt in progress is abandoned quickly).
//  Hands a channel's queue from a thread retired on reload to its
//  successor (the channel changed): the successor starts work only once
//  the old thread has finished its attempt, so no delivery goes out twice.
typedef struct {
    atomic_bool ended; // the retired thread has stopped working
    int refs;          // couriers holding it; changed on the caller's thread only
    bool claimed;      // a successor holds it
} s_baton_t;

typedef struct {
    zb_channel_config_t channel;
    char db[4096];
    const atomic_bool *stop;
    atomic_bool retired; // reload: end after the attempt in progress
    s_baton_t *after;    // work only once this has ended, or NULL
    s_baton_t *handoff;  // set when retired: ended when this thread is done, or NULL
    zactor_t *actor;     // the thread
    char page[320];      // alertmanager: generatorURL, the monitor's page, or ""
    int64_t resend_at;   // alertmanager: when firing alerts are restated next (mono ms)
} s_courier_t;

struct _zb_dispatch_t {
    atomic_bool stop;   // abandon attempts in progress
    zlistx_t *couriers; // s_courier_t, one per configured channel
    zlistx_t *retired;  // s_courier_t told to end on reload, not yet reaped
    char db[4096];      // for the threads started on reload
    char page[320];     // the monitor's page (generatorURL), or ""
    bool curl;          // zb_webhook_init was called
};

//  The head of the channel's queue, copied out of the row.
typedef struct {
    bool found;
    char alert_id[ZB_ALERT_ID_MAX + 1];
    char *payload;
    int attempts;
    int64_t next_attempt_at_ms;
    int64_t queued_at_ms;
    char last_error[256];
} s_head_t;

static int s_take_head(const zb_store_delivery_t *delivery, void *arg)
{
    s_head_t *head = arg;
    head->found = true;
    snprintf(head->alert_id, sizeof(head->alert_id), "%s", delivery->alert->id);
    head->payload = strdup(delivery->alert->payload);
    head->attempts = delivery->attempts;
    head->next_attempt_at_ms = delivery->next_attempt_at_ms;
    head->queued_at_ms = delivery->queued_at_ms;
    snprintf(head->last_error, sizeof(head->last_error), "%s",
             delivery->last_error ? delivery->last_error : "");
    return 0;
}

//  One attempt. Returns 0 when delivered; fills error and result (exit or
//  HTTP status, -1 when none). *abandoned when the stop flag cut it short.
static int s_attempt(s_courier_t *self, s_head_t *head, int attempt, char *error, size_t size,
                     int64_t *result, bool *abandoned)
{
    const zb_channel_config_t *channel = &self->channel;
    *result = -1;
    *abandoned = false;
    int rc = -1;
    if (channel->exec[0]) {
        char **env = zb_alert_env(head->payload, channel->name, attempt, environ);
        size_t len = strlen(head->payload);
        char *input = malloc(len + 2);
        zb_hook_result_t hook;
        if (!env || !input)
            snprintf(error, size, "%s", env ? "out of memory" : "not an alert JSON");
        else {
            memcpy(input, head->payload, len);
            memcpy(input + len, "\n", 2);
            if (zb_hook_run(channel->exec, input, env, channel->timeout_ms, self->stop, &hook) != 0)
                snprintf(error, size, "%s", hook.output);
            else if (hook.interrupted)
                *abandoned = true;
            else if (hook.timed_out) {
                char took[32];
                zb_time_format_duration(channel->timeout_ms, took, sizeof(took));
                snprintf(error, size, "killed at the timeout (%s)%s%s", took,
                         *hook.output ? ": " : "", hook.output);
            } else if (hook.signal)
                snprintf(error, size, "killed by signal %d%s%s", hook.signal,
                         *hook.output ? ": " : "", hook.output);
            else if (hook.exit_status != 0) {
                *result = hook.exit_status;
                snprintf(error, size, "exit %d%s%s", hook.exit_status, *hook.output ? ": " : "",
                         hook.output);
            } else {
                *result = 0;
                rc = 0;
            }
        }
        free(input);
        zb_alert_env_free(&env);
    } else if (channel->email[0]) {
        char *mail =
            zb_email_message(head->payload, channel->from, channel->email, zb_time_wall_ms());
        if (!mail)
            snprintf(error, size, "not an alert JSON");
        else {
            rc = zb_email_send(channel->smtp, channel->from, channel->email, mail,
                               channel->timeout_ms, self->stop, error, size);
            *abandoned = rc != 0 && atomic_load(self->stop);
        }
        free(mail);
    } else if (channel->alertmanager[0]) {
        char *body = zb_alertmanager_body(
            head->payload, &(zb_alertmanager_opts_t){.monitor = channel->monitor_name,
                                                     .generator = self->page,
                                                     .resend_ms = channel->resend_ms,
                                                     .now_ms = zb_time_wall_ms()});
        if (!body)
            snprintf(error, size, "not an alert JSON");
        else {
            rc = zb_alertmanager_post(channel->alertmanager, channel->headers, body,
                                      channel->timeout_ms, self->stop, error, size, result);
            *abandoned = rc != 0 && atomic_load(self->stop);
        }
        free(body);
    } else {
        char *body = zb_alert_render(head->payload, channel->template);
        zb_webhook_result_t web;
        if (!body)
            snprintf(error, size, "not an alert JSON");
        else {
            rc = zb_webhook_post_with(channel->webhook, body, channel->headers, channel->timeout_ms,
                                      self->stop, &web);
            *result = web.http_status > 0 ? web.http_status : -1;
            if (rc != 0)
                snprintf(error, size, "%s", web.error);
            *abandoned = rc != 0 && atomic_load(self->stop);
        }
        free(body);
    }
    return rc;
}

static int s_take_firing(const zb_store_delivery_t *delivery, void *arg)
{
    void **args = arg; // {array, opts}
    if (zb_alertmanager_add(args[0], delivery->alert->payload, args[1]) != 0)
        zb_log_warning("alert %s: not an alert JSON", delivery->alert->id);
    return 0;
}

//  Restates what fires (every resend), as Prometheus does: an alert that
//  Alertmanager lost (a restart without storage, a member that joined)
//  comes back, and two monitors posting the same labels page once.
static void s_resend(s_courier_t *self, zb_store_t *store)
{
    const zb_channel_config_t *channel = &self->channel;
    zb_alertmanager_opts_t opts = {.monitor = channel->monitor_name,
                                   .generator = self->page,
                                   .resend_ms = channel->resend_ms,
                                   .now_ms = zb_time_wall_ms()};
    json_t *array = json_array();
    void *args[] = {array, &opts};
    char *body = NULL;
    if (!array || zb_store_firing(store, channel->name, s_take_firing, args) < 0)
        zb_log_error("alert channel %s: %s", channel->name, zb_store_error(store));
    else if (json_array_size(array) > 0)
        body = json_dumps(array, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(array);
    char error[512];
    int64_t status;
    if (body &&
        zb_alertmanager_post(channel->alertmanager, channel->headers, body, channel->timeout_ms,
                             self->stop, error, sizeof(error), &status) != 0 &&
        !atomic_load(self->stop))
        zb_log_warning("alert channel %s: restating firing alerts: %s", channel->name, error);
    free(body);
}

//  Delivers the head if it is due. Returns how long to sleep (ms) before
//  looking again; 0 to look at once.
static int64_t s_work(s_courier_t *self, zb_store_t *store)
{
    const zb_channel_config_t *channel = &self->channel;
    if (channel->alertmanager[0] && zb_time_mono_ms() >= self->resend_at) {
        s_resend(self, store);
        self->resend_at = zb_time_mono_ms() + channel->resend_ms;
    }
    s_head_t head = {0};
    if (zb_store_delivery_next(store, channel->name, s_take_head, &head) != 0) {
        zb_log_error("alert channel %s: %s", channel->name, zb_store_error(store));
        free(head.payload);
        return ZB_DISPATCH_RECHECK_MS;
    }
    if (!head.found)
        return ZB_DISPATCH_RECHECK_MS;
    int64_t now = zb_time_wall_ms();
    int64_t sleep = 0;
    zb_store_delivery_t update = {.result = -1, .sent_at_ms = -1};
    char error[512] = "";
    if (!head.payload) {
        sleep = ZB_DISPATCH_RECHECK_MS;
        goto done;
    }
    if (head.next_attempt_at_ms > now) {
        int64_t wait = head.next_attempt_at_ms - now;
        sleep = wait < ZB_DISPATCH_RECHECK_MS ? wait : ZB_DISPATCH_RECHECK_MS;
        goto done;
    }
    update.attempts = head.attempts;
    if (now - head.queued_at_ms > channel->retry_for_ms && head.attempts > 0) {
        char age[32];
        zb_time_format_duration(channel->retry_for_ms, age, sizeof(age));
        snprintf(error, sizeof(error), "gave up after %d attempts in %s: %s", head.attempts, age,
                 head.last_error);
        update.status = "failed";
        update.last_error = error;
        zb_log_error("alert %s to %s: %s", head.alert_id, channel->name, error);
    } else {
        int attempt = head.attempts + 1;
        bool abandoned = false;
        int rc = s_attempt(self, &head, attempt, error, sizeof(error), &update.result, &abandoned);
        if (abandoned) {
            //  Stopping: not an attempt; the next run retries it.
            sleep = ZB_DISPATCH_RECHECK_MS;
            goto done;
        }
        update.attempts = attempt;
        update.last_error = error;
        now = zb_time_wall_ms();
        if (rc == 0) {
            update.status = "sent";
            update.sent_at_ms = now;
            update.next_attempt_at_ms = now;
            zb_log_info("alert %s sent to %s", head.alert_id, channel->name);
        } else {
            int64_t backoff = ZB_DISPATCH_BACKOFF_MS;
            for (int i = 1; i < attempt && backoff < channel->backoff_max_ms; i++)
                backoff *= 2;
            if (backoff > channel->backoff_max_ms)
                backoff = channel->backoff_max_ms;
            update.status = "pending";
            update.next_attempt_at_ms = now + backoff;
            char wait[32];
            zb_time_format_duration(backoff, wait, sizeof(wait));
            zb_log_warning("alert %s to %s failed (attempt %d): %s; retrying in %s", head.alert_id,
                           channel->name, attempt, error, wait);
        }
    }
    if (zb_store_delivery_update(store, head.alert_id, channel->name, &update) != 0) {
        //  Not recorded: the next look retries it (at-least-once).
        zb_log_error("alert channel %s: %s", channel->name, zb_store_error(store));
        sleep = ZB_DISPATCH_RECHECK_MS;
    }
done:
    free(head.payload);
    return sleep;
}

static void s_courier(zsock_t *pipe, void *args)
{
    s_courier_t *self = args;
    char err[600];
    zb_store_t *store = zb_store_open(self->db, err, sizeof(err));
    if (!store)
        zb_log_error("alert channel %s: %s", self->channel.name, err);
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    //  SIGINT/SIGTERM are the ingest loop's business: this thread ends on
    //  $TERM only, which zactor_destroy sends.
    if (poller)
        zpoller_set_nonstop(poller, true);
    int64_t sleep = 0;
    bool running = poller != NULL;
    while (running) {
        if (self->after && !atomic_load(&self->after->ended))
            sleep = ZB_DISPATCH_HANDOFF_MS;
        else if (store && !atomic_load(self->stop) && !atomic_load(&self->retired))
            sleep = s_work(self, store);
        else
            sleep = ZB_DISPATCH_RECHECK_MS;
        if (sleep == 0)
            continue;
        if (zpoller_wait(poller, (int)sleep) != pipe)
            continue;
        //  Drain every poke; any of them may be $TERM.
        while (running && (zsock_events(pipe) & ZMQ_POLLIN)) {
            char *command = zstr_recv(pipe);
            if (!command || strcmp(command, "$TERM") == 0)
                running = false;
            zstr_free(&command);
        }
    }
    if (!poller) {
        //  Cannot wait: still obey $TERM.
        char *command = NULL;
        while ((command = zstr_recv(pipe)) && strcmp(command, "$TERM") != 0)
            zstr_free(&command);
        zstr_free(&command);
    }
    //  A successor of ours that is retired in turn still keeps the order.
    while (self->after && !atomic_load(&self->after->ended))
        zclock_sleep(ZB_DISPATCH_HANDOFF_MS);
    if (self->handoff)
        atomic_store(&self->handoff->ended, true);
    zpoller_destroy(&poller);
    zb_store_destroy(&store);
}

static void s_courier_destroy(s_courier_t **courier_p)
{
    s_courier_t *courier = *courier_p;
    if (!courier)
        return;
    zactor_destroy(&courier->actor);
    s_baton_t *batons[] = {courier->after, courier->handoff};
    for (size_t i = 0; i < 2; i++)
        if (batons[i] && --batons[i]->refs == 0)
            free(batons[i]);
    free(courier);
    *courier_p = NULL;
}

//  The monitor's page (monitor/http = HOST:PORT) as others reach it: a
//  wildcard address is this machine's name.
static void s_page(const char *http, char *page, size_t size)
{
    page[0] = '\0';
    const char *colon = strrchr(http, ':');
    if (!*http || !colon)
        return;
    char host[256];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - http), http);
    if (!*host || !strcmp(host, "*") || !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]")) {
        if (gethostname(host, sizeof(host)) != 0)
            return;
        host[sizeof(host) - 1] = '\0';
    }
    snprintf(page, size, "http://%s%s/", host, colon);
}

//  Starts a channel's thread. Returns NULL with the reason in err.
static s_courier_t *s_courier_start(zb_dispatch_t *self, const zb_channel_config_t *channel,
                                    s_baton_t *after, char *err, size_t errsize)
{
    if (!self->curl) {
        if (zb_webhook_init() != 0) {
            snprintf(err, errsize, "libcurl: global init failed");
            return NULL;
        }
        self->curl = true;
    }
    s_courier_t *courier = calloc(1, sizeof(*courier));
    if (!courier) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    courier->channel = *channel;
    snprintf(courier->db, sizeof(courier->db), "%s", self->db);
    snprintf(courier->page, sizeof(courier->page), "%s", self->page);
    //  The first restatement a resend after start: what fired before a
    //  restart is restated then, and a fresh alert is not posted twice.
    courier->resend_at = zb_time_mono_ms() + channel->resend_ms;
    courier->stop = &self->stop;
    atomic_init(&courier->retired, false);
    if (after) {
        after->claimed = true;
        after->refs++;
        courier->after = after;
    }
    courier->actor = zactor_new(s_courier, courier);
    if (!courier->actor || !zlistx_add_end(self->couriers, courier)) {
        snprintf(err, errsize, "alert channel %s: cannot start its thread", channel->name);
        s_courier_destroy(&courier);
    }
    return courier;
}

zb_dispatch_t *zb_dispatch_new(const zb_monitor_config_t *config, char *err, size_t errsize)
{
    assert(config && err);
    zb_dispatch_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    atomic_init(&self->stop, false);
    snprintf(self->db, sizeof(self->db), "%s", config->db);
    s_page(config->http, self->page, sizeof(self->page));
    self->couriers = zlistx_new();
    self->retired = zlistx_new();
    if (!self->couriers || !self->retired) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    for (size_t i = 0; i < config->channel_count; i++)
        if (!s_courier_start(self, &config->channels[i], NULL, err, errsize))
            goto failed;
    return self;

failed:
    zb_dispatch_destroy(&self);
    return NULL;
}

static void s_list_destroy(zlistx_t **list_p)
{
    if (!*list_p)
        return;
    s_courier_t *courier;
    while ((courier = zlistx_detach(*list_p, NULL)))
        s_courier_destroy(&courier);
    zlistx_destroy(list_p);
}

void zb_dispatch_destroy(zb_dispatch_t **self_p)
{
    assert(self_p);
    zb_dispatch_t *self = *self_p;
    if (!self)
        return;
    atomic_store(&self->stop, true);
    s_list_destroy(&self->couriers);
    s_list_destroy(&self->retired);
    if (self->curl)
        zb_webhook_cleanup();
    free(self);
    *self_p = NULL;
}

//  Retired threads that have ended are joined; the others are left to
//  finish their attempt (never waited for: that would stall ingest).
static void s_reap(zb_dispatch_t *self)
{
    for (s_courier_t *courier = zlistx_first(self->retired); courier;
         courier = zlistx_next(self->retired)) {
        //  The actor's only message after start-up is its exit signal.
        if (zsock_events(courier->actor) & ZMQ_POLLIN) {
            zlistx_detach_cur(self->retired);
            s_courier_destroy(&courier); // the $TERM it sends cannot block (sndtimeo 0)
        }
    }
}

static bool s_channel_same(const zb_channel_config_t *a, const zb_channel_config_t *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->exec, b->exec) == 0 &&
           strcmp(a->webhook, b->webhook) == 0 && a->template == b->template &&
           strcmp(a->hosts, b->hosts) == 0 && strcmp(a->services, b->services) == 0 &&
           a->timeout_ms == b->timeout_ms && a->retry_for_ms == b->retry_for_ms &&
           a->backoff_max_ms == b->backoff_max_ms && a->after_ms == b->after_ms &&
           strcmp(a->alertmanager, b->alertmanager) == 0 && a->resend_ms == b->resend_ms &&
           strcmp(a->monitor_name, b->monitor_name) == 0 && strcmp(a->headers, b->headers) == 0 &&
           strcmp(a->email, b->email) == 0 && strcmp(a->smtp, b->smtp) == 0 &&
           strcmp(a->from, b->from) == 0;
}

int zb_dispatch_reload(zb_dispatch_t *self, const zb_monitor_config_t *config)
{
    assert(self && config);
    int rc = 0;
    s_reap(self);
    //  Changed or removed: told to end after the attempt in progress.
    s_courier_t *courier;
    for (courier = zlistx_first(self->couriers); courier; courier = zlistx_next(self->couriers)) {
        bool keep = false;
        for (size_t i = 0; i < config->channel_count && !keep; i++)
            keep = s_channel_same(&courier->channel, &config->channels[i]);
        if (!keep) {
            zlistx_detach_cur(self->couriers);
            atomic_store(&courier->retired, true);
            //  Before $TERM: the thread reads it when it ends.
            courier->handoff = calloc(1, sizeof(s_baton_t));
            if (courier->handoff) {
                atomic_init(&courier->handoff->ended, false);
                courier->handoff->refs = 1;
            }
            zsock_set_sndtimeo(courier->actor, 0);
            zstr_send(courier->actor, "$TERM");
            if (!zlistx_add_end(self->retired, courier)) {
                zb_log_error("alert channel %s: out of memory", courier->channel.name);
                s_courier_destroy(&courier); // waits for it: rare enough
            } else
                zb_log_info("alert channel %s: stopping after the attempt in progress",
                            courier->channel.name);
        }
    }
    //  New or changed: a thread of their own.
    for (size_t i = 0; i < config->channel_count; i++) {
        const zb_channel_config_t *channel = &config->channels[i];
        bool running = false;
        for (courier = zlistx_first(self->couriers); courier && !running;
             courier = zlistx_next(self->couriers))
            running = strcmp(courier->channel.name, channel->name) == 0;
        if (running)
            continue;
        //  A changed channel: after its retired thread (the latest one).
        s_baton_t *after = NULL;
        for (courier = zlistx_first(self->retired); courier; courier = zlistx_next(self->retired))
            if (strcmp(courier->channel.name, channel->name) == 0 && courier->handoff &&
                !courier->handoff->claimed)
                after = courier->handoff;
        char err[600];
        if (!s_courier_start(self, channel, after, err, sizeof(err))) {
            zb_log_error("%s", err);
            rc = -1;
        } else
            zb_log_info("alert channel %s started", channel->name);
    }
    return rc;
}

void zb_dispatch_poke(zb_dispatch_t *self)
{
    assert(self);
    s_reap(self);
    for (s_courier_t *courier = zlistx_first(self->couriers); courier;
         courier = zlistx_next(self->couriers)) {
        //  A full pipe means pokes are waiting already: dropping is fine.
        void *sock = zsock_resolve(zactor_sock(courier->actor));
        zmq_send(sock, "POKE", 4, ZMQ_DONTWAIT);
    }
}

//  --------------------------------------------------------------------------
//  Self-test: an exec channel delivering through a real hook, a failing
//  one retried, order kept, everything recorded.

typedef struct {
    int count;
    char text[2048];
} s_rows_t;

static int s_delivery_text(const zb_store_delivery_t *delivery, void *arg)
{
    s_rows_t *rows = arg;
    size_t len = strlen(rows->text);
    snprintf(rows->text + len, sizeof(rows->text) - len, "%s@%s=%s/%d;", delivery->alert->id,
             delivery->channel ? delivery->channel : "-", delivery->status ? delivery->status : "-",
             delivery->attempts);
    rows->count++;
    return 0;
}

static void s_rows(const char *db, s_rows_t *rows)
{
    char err[256];
    memset(rows, 0, sizeof(*rows));
    zb_store_t *store = zb_store_open_readonly(db, err, sizeof(err));
    assert(store);
    assert(zb_store_deliveries(store, 0, 0, s_delivery_text, rows) == 0);
    zb_store_destroy(&store);
}

void zb_dispatch_test(bool verbose)
{
    if (!verbose)
        zb_log_init("zb_dispatch_test", false);
    char dir[] = "/tmp/zb_dispatch_test.XXXXXX";
    assert(mkdtemp(dir));
    zb_monitor_config_t config;
    zb_monitor_config_defaults(&config);
    snprintf(config.db, sizeof(config.db), "%s/d.db", dir);
    char err[512];
    zb_store_t *store = zb_store_open(config.db, err, sizeof(err));
    assert(store);

    //  "ok" appends each alert's id to a file; "bad" fails until a flag
    //  file exists.
    char log[300], flag[300];
    snprintf(log, sizeof(log), "%s/hook.log", dir);
    snprintf(flag, sizeof(flag), "%s/flag", dir);
    config.channel_count = 2;
    zb_channel_config_t *ok = &config.channels[0], *bad = &config.channels[1];
    memset(ok, 0, sizeof(*ok));
    snprintf(ok->name, sizeof(ok->name), "ok");
    snprintf(ok->exec, sizeof(ok->exec), "echo \"$ZBEAT_ALERT_ID\" >> %s", log);
    ok->timeout_ms = 5000;
    ok->retry_for_ms = 60000;
    ok->backoff_max_ms = 100;
    *bad = *ok;
    snprintf(bad->name, sizeof(bad->name), "bad");
    snprintf(bad->exec, sizeof(bad->exec), "test -e %s || { echo nope; exit 4; }", flag);

    //  Two alerts, queued before the threads start (as after a restart).
    const char *channels[] = {"ok", "bad"};
    for (int i = 1; i <= 2; i++) {
        zb_alert_t alert = {.trigger = i == 1 ? ZB_ALERT_DOWN : ZB_ALERT_RECOVERED,
                            .host = "web-1",
                            .service = "redis",
                            .state = "down",
                            .reason = "refused",
                            .error = "",
                            .outage_id = 7,
                            .started_at_ms = 1000,
                            .ended_at_ms = i == 2 ? 2000 : -1,
                            .created_at_ms = zb_time_wall_ms()};
        char id[ZB_ALERT_ID_MAX + 1];
        zb_alert_id(&alert, id, sizeof(id));
        char *payload = zb_alert_json(&alert);
        zb_store_alert_t row = {.id = id,
                                .created_at_ms = alert.created_at_ms,
                                .trigger = zb_alert_trigger_name(alert.trigger),
                                .host = "web-1",
                                .service = "redis",
                                .outage_id = 7,
                                .payload = payload};
        assert(zb_store_alert_add(store, &row, channels, 2, false) == 1);
        assert(zb_store_alert_add(store, &row, channels, 2, false) == 0); // once only
        free(payload);
    }
    assert(zb_store_commit(store) == 0);

    zb_dispatch_t *dispatch = zb_dispatch_new(&config, err, sizeof(err));
    assert(dispatch);
    zb_dispatch_poke(dispatch);
    s_rows_t rows;
    int64_t deadline = zb_time_mono_ms() + 10000;
    while (true) {
        s_rows(config.db, &rows);
        if (strstr(rows.text, "web-1/redis/7/recovered@ok=sent/1") &&
            strstr(rows.text, "web-1/redis/7/down@bad=pending/2"))
            break;
        assert(zb_time_mono_ms() < deadline);
        zclock_sleep(20);
    }
    //  The failing channel holds back the recovery behind its down alert.
    assert(strstr(rows.text, "web-1/redis/7/recovered@bad=pending/0"));
    FILE *file = fopen(flag, "w");
    assert(file);
    fclose(file);
    while (true) {
        s_rows(config.db, &rows);
        if (strstr(rows.text, "web-1/redis/7/recovered@bad=sent/1"))
            break;
        assert(zb_time_mono_ms() < deadline);
        zclock_sleep(20);
    }
    assert(strstr(rows.text, "web-1/redis/7/down@bad=sent/"));
    zb_dispatch_destroy(&dispatch);
    assert(!dispatch);
    zb_dispatch_destroy(&dispatch);

    //  Delivered once each, in order.
    file = fopen(log, "r");
    assert(file);
    char text[256] = "";
    size_t n = fread(text, 1, sizeof(text) - 1, file);
    text[n] = '\0';
    fclose(file);
    assert(strcmp(text, "web-1/redis/7/down\nweb-1/redis/7/recovered\n") == 0);

    zb_store_destroy(&store);
    char path[600];
    const char *files[] = {"d.db", "d.db-wal", "d.db-shm", "hook.log", "flag"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    assert(rmdir(dir) == 0);
}
