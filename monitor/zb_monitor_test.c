/*  zb_monitor's self-test: the actor with its store, driven with explicit
    clocks (zb_monitor_handle, zb_monitor_sweep), checked in the database.
    The rules alone are zb_fleet's self-test (zb_fleet_test.c).
*/
#include "zb_monitor.h"
#include "zb_log.h"
#include "zb_monitor_internal.h"
#include "zb_store.h"
#include "zb_time.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

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

//  A monitor with the default settings on dir/name (config: its copy).
static zb_monitor_t *s_monitor_at(zb_monitor_config_t *config, const char *dir, const char *name)
{
    zb_monitor_config_defaults(config);
    snprintf(config->db, sizeof(config->db), "%s/%s", dir, name);
    char err[512];
    zb_monitor_t *monitor = zb_monitor_new(config, err, sizeof(err));
    assert(monitor);
    return monitor;
}

//  Removes a test's database and its WAL files.
static void s_db_remove(const char *db)
{
    char path[PATH_MAX + 8];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
        unlink(path);
    }
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
        snprintf(tmp, sizeof(tmp), "%.2000s;%.2000s", item, reversed);
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
    s_db_remove(config.db);
}

static int s_last_seen(const zb_store_host_t *host, void *arg)
{
    *(int64_t *)arg = host->last_seen_ms;
    return 0;
}

//  A pass that writes nothing begins no transaction: a thin beat of a
//  known host changes memory alone (zb_monitor_take); its last-heard is
//  written by the checkpoint, here the one of zb_monitor_close.
static void s_test_lazy(const char *dir)
{
    zb_monitor_config_t config;
    zb_monitor_t *monitor = s_monitor_at(&config, dir, "lazy.db");
    char err[512];
    zb_monitor_stats_t stats;
    zb_monitor_stats(monitor, &stats);
    uint64_t begun = stats.db_begins;
    zb_msg_t *msg = s_beat("db-1", S_INSTANCE_A, 1, T0 + 1000, "pg=up@500");
    assert(zb_monitor_take(monitor, msg, 1000, T0 + 1000) == 0);
    zb_msg_destroy(&msg);
    assert(zb_monitor_commit(monitor) == 0);
    zb_monitor_stats(monitor, &stats);
    assert(stats.db_begins == begun + 1 && stats.db_commits == 1);
    for (uint64_t seq = 2; seq <= 4; seq++) {
        msg = s_beat("db-1", S_INSTANCE_A, seq, T0 + (int64_t)seq * 1000, "");
        msg->thin = true;
        assert(zb_monitor_take(monitor, msg, (int64_t)seq * 1000, T0 + (int64_t)seq * 1000) == 0);
        zb_msg_destroy(&msg);
        assert(zb_monitor_commit(monitor) == 0);
    }
    zb_monitor_stats(monitor, &stats);
    assert(stats.db_begins == begun + 1 && stats.db_commits == 1 && stats.messages == 4);
    //  A thin beat at another interval may write (the host's row): begun.
    msg = s_beat("db-1", S_INSTANCE_A, 5, T0 + 5000, "");
    msg->thin = true;
    msg->interval_ms = 2000;
    assert(zb_monitor_take(monitor, msg, 5000, T0 + 5000) == 0);
    zb_msg_destroy(&msg);
    assert(zb_monitor_commit(monitor) == 0);
    zb_monitor_stats(monitor, &stats);
    assert(stats.db_begins == begun + 2 && stats.db_commits == 2);
    msg = s_beat("db-1", S_INSTANCE_A, 6, T0 + 6000, "");
    msg->thin = true;
    msg->interval_ms = 2000;
    assert(zb_monitor_take(monitor, msg, 6000, T0 + 6000) == 0);
    zb_msg_destroy(&msg);
    zb_monitor_close(monitor);
    zb_monitor_destroy(&monitor);
    zb_store_t *store = zb_store_open_readonly(config.db, err, sizeof(err));
    assert(store);
    int64_t seen = 0;
    assert(zb_store_host_get(store, "db-1", s_last_seen, &seen) == 0 && seen == T0 + 6000);
    zb_store_destroy(&store);
    s_db_remove(config.db);
}

//  Sets every host's last checkpoint ago_ms back, after a beat that moved
//  its last-heard (at mono: something to write).
static void s_heard_ago(zb_monitor_t *monitor, const char *hosts[], int count, uint64_t seq,
                        int64_t ago_ms)
{
    int64_t now = zb_time_mono_ms();
    for (int i = 0; i < count; i++) {
        s_feed(monitor, s_beat(hosts[i], S_INSTANCE_A, seq, T0 + (int64_t)seq * 1000, "s=up@500"),
               (int64_t)seq * 1000);
        zb_fleet_host(monitor->fleet, hosts[i])->heard_mono = now - ago_ms;
    }
}

//  The rows one checkpoint batch writes.
static uint64_t s_heard_batch(zb_monitor_t *monitor)
{
    zb_monitor_stats_t stats;
    zb_monitor_stats(monitor, &stats);
    uint64_t rows = stats.heard_rows;
    zb_monitor_on_heard(NULL, 0, monitor);
    zb_monitor_stats(monitor, &stats);
    return stats.heard_rows - rows;
}

//  Behind its input (a message held over ZB_MONITOR_BEHIND_MS), the
//  monitor writes last-heard times twice as late: hosts written 45 s ago
//  wait, hosts written 65 s ago do not; caught up, 45 s is due.
static void s_test_heard_behind(const char *dir)
{
    zb_monitor_config_t config;
    zb_monitor_t *monitor = s_monitor_at(&config, dir, "behind.db");
    char err[512];
    const char *hosts[] = {"h-1", "h-2", "h-3"};
    for (int i = 0; i < 3; i++)
        s_feed(monitor, s_beat(hosts[i], S_INSTANCE_A, 1, T0 + 1000, "s=up@500"), 1000);
    zb_monitor_on_heard(NULL, 0, monitor); // the new hosts take their place in the queue
    //  One message held for over ZB_MONITOR_BEHIND_MS: the monitor is behind.
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert(sub);
    zsock_set_subscribe(sub, "");
    int port = zsock_bind(sub, "tcp://127.0.0.1:*");
    assert(port > 0);
    zb_intake_t *intake = zb_intake_new(sub, 0, 0);
    zsock_t *pub = zsock_new(ZMQ_XPUB);
    assert(intake && pub && zsock_connect(pub, "tcp://127.0.0.1:%d", port) == 0);
    zsock_set_rcvtimeo(pub, 5000);
    zframe_t *subscription = zframe_recv(pub); // sent before it is subscribed, it is lost
    assert(subscription);
    zframe_destroy(&subscription);
    zstr_sendx(pub, "beat.h-1", "{}", NULL);
    int64_t lost, until = zb_time_mono_ms() + 10000;
    while (zb_intake_seen(intake, zb_time_mono_ms(), &lost) >=
           zb_time_mono_ms() - ZB_MONITOR_BEHIND_MS) {
        assert(zb_time_mono_ms() < until);
        zclock_sleep(10);
    }
    monitor->intake = intake;
    s_heard_ago(monitor, hosts, 3, 2, 45000);
    assert(s_heard_batch(monitor) == 0);
    s_heard_ago(monitor, hosts, 3, 3, 65000);
    assert(s_heard_batch(monitor) == 3);
    //  Caught up: 45 s ago is due again.
    zb_msg_t *msg = NULL;
    assert(zb_intake_take(intake, &msg, NULL, 0, err, sizeof(err)) == -1); // "{}" is no message
    assert(zb_intake_seen(intake, zb_time_mono_ms(), &lost) == INT64_MAX);
    s_heard_ago(monitor, hosts, 3, 4, 45000);
    assert(s_heard_batch(monitor) == 3);
    monitor->intake = NULL;
    zb_intake_destroy(&intake);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
    zb_monitor_destroy(&monitor);
    s_db_remove(config.db);
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
    s_test_lazy(dir);
    s_test_heard_behind(dir);

    s_db_remove(config.db);
    assert(rmdir(dir) == 0);
}
