/*  zb_series: per-service numbers kept in memory. See zb_series.h. */
#include "zb_series.h"

#include <assert.h>
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t minute; // minutes since the epoch, or 0 for an empty bucket
    uint32_t count; // round trips in it
    uint64_t sum_us;
} s_bucket_t;

typedef struct {
    int64_t last_us;     // the latest beat's round trip, -1 when none
    int64_t last_minute; // of the latest round trip, 0 when none
    uint64_t outages;    // opened since start
    s_bucket_t *hour;    // ZB_SERIES_MINUTES by minute % ZB_SERIES_MINUTES, or NULL
} s_entry_t;

struct _zb_series_t {
    pthread_mutex_t lock;
    zhashx_t *entries; // "host\tservice" (or "host") -> s_entry_t
    size_t hours;      // entries with an hour
};

static void s_entry_free(void **item)
{
    s_entry_t *entry = *item;
    if (entry)
        free(entry->hour);
    free(entry);
    *item = NULL;
}

zb_series_t *zb_series_new(void)
{
    zb_series_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->entries = zhashx_new();
    if (!self->entries) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->entries, s_entry_free);
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void zb_series_destroy(zb_series_t **self_p)
{
    assert(self_p);
    zb_series_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->entries);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static void s_key(const char *host, const char *service, char *key, size_t size)
{
    snprintf(key, size, "%s%s%s", host, service ? "\t" : "", service ? service : "");
}

//  The entry, created when absent and create is set; NULL when absent or
//  out of memory. Under the lock.
static s_entry_t *s_entry(zb_series_t *self, const char *host, const char *service, bool create)
{
    char key[2 * ZB_NAME_MAX + 4];
    s_key(host, service, key, sizeof(key));
    s_entry_t *entry = zhashx_lookup(self->entries, key);
    if (entry || !create)
        return entry;
    entry = malloc(sizeof(*entry));
    if (!entry)
        return NULL;
    *entry = (s_entry_t){.last_us = -1};
    if (zhashx_insert(self->entries, key, entry) != 0) {
        free(entry);
        return NULL;
    }
    return entry;
}

//  Counts a round trip into its minute. The hour's buckets come with the
//  first round trip while fewer than ZB_SERIES_HOURS_MAX services have one.
static void s_minute_add(zb_series_t *self, s_entry_t *entry, int64_t minute, int64_t rtt_us)
{
    if (!entry->hour && self->hours < ZB_SERIES_HOURS_MAX &&
        (entry->hour = calloc(ZB_SERIES_MINUTES, sizeof(*entry->hour))))
        self->hours++;
    if (!entry->hour)
        return;
    s_bucket_t *b = &entry->hour[minute % ZB_SERIES_MINUTES];
    if (b->minute != minute)
        *b = (s_bucket_t){.minute = minute};
    b->count++;
    b->sum_us += (uint64_t)rtt_us;
}

void zb_series_beat(zb_series_t *self, const zb_msg_t *msg, int64_t now_wall_ms)
{
    assert(self && msg);
    if (msg->type != ZB_MSG_BEAT)
        return;
    int64_t minute = now_wall_ms / 60000;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < msg->service_count; i++) {
        const zb_service_status_t *s = &msg->services[i];
        //  A service without a round trip (pushed, or down) gets no entry
        //  of its own; one it has says "none" from now on.
        s_entry_t *entry = s_entry(self, msg->host, s->name, s->rtt_us >= 0);
        if (!entry)
            continue;
        entry->last_us = s->rtt_us;
        if (s->rtt_us < 0)
            continue;
        entry->last_minute = minute;
        s_minute_add(self, entry, minute, s->rtt_us);
    }
    pthread_mutex_unlock(&self->lock);
}

void zb_series_outage(zb_series_t *self, const char *host, const char *service)
{
    assert(self && host);
    pthread_mutex_lock(&self->lock);
    s_entry_t *entry = s_entry(self, host, service, true);
    if (entry)
        entry->outages++;
    pthread_mutex_unlock(&self->lock);
}

bool zb_series_get(zb_series_t *self, const char *host, const char *service, int64_t *rtt_us,
                   uint64_t *outages)
{
    assert(self && host && rtt_us && outages);
    pthread_mutex_lock(&self->lock);
    s_entry_t *entry = s_entry(self, host, service, false);
    *rtt_us = entry ? entry->last_us : -1;
    *outages = entry ? entry->outages : 0;
    pthread_mutex_unlock(&self->lock);
    return entry != NULL;
}

//  Copies the entry's hour ending at minute; false when the key names a
//  host (no hour) or does not match the host asked for.
static bool s_copy(const char *key, const s_entry_t *entry, const char *host, int64_t minute,
                   zb_series_hour_t *out)
{
    const char *tab = strchr(key, '\t');
    size_t host_len = tab ? (size_t)(tab - key) : 0;
    if (!tab || host_len > ZB_NAME_MAX ||
        (host && (strlen(host) != host_len || memcmp(host, key, host_len) != 0)))
        return false;
    memcpy(out->host, key, host_len);
    out->host[host_len] = '\0';
    snprintf(out->service, sizeof(out->service), "%s", tab + 1);
    out->first_minute = minute - ZB_SERIES_MINUTES + 1;
    out->last_us = entry->last_us;
    for (int64_t i = 0; i < ZB_SERIES_MINUTES; i++) {
        int64_t m = out->first_minute + i;
        const s_bucket_t *b = &entry->hour[m % ZB_SERIES_MINUTES];
        out->mean_us[i] = b->minute == m && b->count ? (int64_t)(b->sum_us / b->count) : -1;
    }
    return true;
}

void zb_series_each(zb_series_t *self, const char *host, int64_t now_wall_ms, zb_series_fn *fn,
                    void *arg)
{
    assert(self && fn);
    int64_t minute = now_wall_ms / 60000;
    zb_series_hour_t copy;
    pthread_mutex_lock(&self->lock);
    for (s_entry_t *entry = zhashx_first(self->entries); entry;
         entry = zhashx_next(self->entries)) {
        //  Not heard for the whole hour: nothing to draw.
        if (!entry->hour || entry->last_minute <= minute - ZB_SERIES_MINUTES)
            continue;
        if (s_copy(zhashx_cursor(self->entries), entry, host, minute, &copy) && fn(&copy, arg) != 0)
            break;
    }
    pthread_mutex_unlock(&self->lock);
}

static int s_collect(const zb_series_hour_t *hour, void *arg)
{
    zb_series_hour_t *out = arg;
    if (strcmp(hour->service, "redis") == 0)
        *out = *hour;
    return 0;
}

void zb_series_test(bool verbose)
{
    (void)verbose;
    zb_series_t *series = zb_series_new();
    assert(series);
    int64_t rtt;
    uint64_t outages;
    assert(!zb_series_get(series, "web-1", "redis", &rtt, &outages));
    assert(rtt == -1 && outages == 0);

    //  Round trips: the latest, and each minute's mean.
    zb_service_status_t services[2] = {{.name = "redis", .rtt_us = 100},
                                       {.name = "push", .rtt_us = -1}};
    zb_msg_t beat = {
        .type = ZB_MSG_BEAT, .host = "web-1", .service_count = 2, .services = services};
    int64_t t0 = 1000LL * 60000; // minute 1000
    zb_series_beat(series, &beat, t0);
    services[0].rtt_us = 300;
    zb_series_beat(series, &beat, t0 + 30000);
    services[0].rtt_us = 50;
    zb_series_beat(series, &beat, t0 + 120000); // minute 1002
    assert(zb_series_get(series, "web-1", "redis", &rtt, &outages) && rtt == 50);
    assert(!zb_series_get(series, "web-1", "push", &rtt, &outages)); // never had one
    zb_series_hour_t got = {0};
    zb_series_each(series, NULL, t0 + 120000, s_collect, &got);
    assert(strcmp(got.host, "web-1") == 0);
    assert(got.first_minute == 1002 - ZB_SERIES_MINUTES + 1);
    assert(got.last_us == 50);
    assert(got.mean_us[ZB_SERIES_MINUTES - 1] == 50);
    assert(got.mean_us[ZB_SERIES_MINUTES - 2] == -1);
    assert(got.mean_us[ZB_SERIES_MINUTES - 3] == 200); // (100 + 300) / 2

    //  An hour on, the old minutes are gone; the bucket is reused.
    services[0].rtt_us = 7;
    zb_series_beat(series, &beat, t0 + 60 * 60000);
    got = (zb_series_hour_t){0};
    zb_series_each(series, "web-1", t0 + 60 * 60000, s_collect, &got);
    assert(got.mean_us[ZB_SERIES_MINUTES - 1] == 7);
    for (int i = 0; i < ZB_SERIES_MINUTES - 1; i++)
        assert(got.mean_us[i] == -1 || got.first_minute + i == 1002);
    //  Silent for an hour, or another host's: not listed.
    got = (zb_series_hour_t){0};
    zb_series_each(series, NULL, t0 + 200 * 60000, s_collect, &got);
    assert(got.host[0] == '\0');
    zb_series_each(series, "web-", t0 + 60 * 60000, s_collect, &got);
    zb_series_each(series, "db-1", t0 + 60 * 60000, s_collect, &got);
    assert(got.host[0] == '\0');

    //  A service gone down says "no round trip" to /metrics.
    services[0].rtt_us = -1;
    zb_series_beat(series, &beat, t0 + 61 * 60000);
    assert(zb_series_get(series, "web-1", "redis", &rtt, &outages) && rtt == -1);

    //  Outages: counted per service and per host; a host and a service do
    //  not collide, and a host has no hour.
    zb_series_outage(series, "web-1", "redis");
    zb_series_outage(series, "web-1", "redis");
    zb_series_outage(series, "web-1", NULL);
    assert(zb_series_get(series, "web-1", "redis", &rtt, &outages) && outages == 2);
    assert(zb_series_get(series, "web-1", NULL, &rtt, &outages));
    assert(rtt == -1 && outages == 1);
    assert(!zb_series_get(series, "web-1", "", &rtt, &outages) || outages == 0);
    zb_series_destroy(&series);
    zb_series_destroy(&series); // harmless on NULL
}
