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
    char *name;          // the service's
} s_entry_t;

//  A host's services in the order its last beat listed them: a beat in the
//  same order as the one before (every agent's, while its table stands)
//  finds each service at its own index with one compare, so a beat costs
//  one hash lookup, not one per service.
typedef struct {
    s_entry_t *services;
    size_t count, size;
    uint64_t outages; // the host's own (silent)
    bool known;       // an outage of the host itself was counted
} s_host_t;

struct _zb_series_t {
    pthread_mutex_t lock;
    zhashx_t *hosts; // host name -> s_host_t
    size_t hours;    // entries with an hour
};

static void s_host_free(void **item)
{
    s_host_t *host = *item;
    if (host) {
        for (size_t i = 0; i < host->count; i++) {
            free(host->services[i].hour);
            free(host->services[i].name);
        }
        free(host->services);
    }
    free(host);
    *item = NULL;
}

zb_series_t *zb_series_new(void)
{
    zb_series_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->hosts = zhashx_new();
    if (!self->hosts) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->hosts, s_host_free);
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void zb_series_destroy(zb_series_t **self_p)
{
    assert(self_p);
    zb_series_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->hosts);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

//  The host's record, created when absent and create is set. Under the lock.
static s_host_t *s_host(zb_series_t *self, const char *name, bool create)
{
    s_host_t *host = zhashx_lookup(self->hosts, name);
    if (host || !create)
        return host;
    host = calloc(1, sizeof(*host));
    if (host && zhashx_insert(self->hosts, name, host) != 0) {
        free(host);
        host = NULL;
    }
    return host;
}

//  The service's entry, looked for at hint first (its index in the last
//  beat), created when absent and create is set; NULL when absent or out
//  of memory. Under the lock. A new entry may move the others: entries are
//  not kept across calls.
static s_entry_t *s_entry(s_host_t *host, const char *name, size_t hint, bool create)
{
    if (hint < host->count && strcmp(host->services[hint].name, name) == 0)
        return &host->services[hint];
    for (size_t i = 0; i < host->count; i++)
        if (strcmp(host->services[i].name, name) == 0)
            return &host->services[i];
    if (!create)
        return NULL;
    if (host->count == host->size) {
        size_t size = host->size ? host->size * 2 : 4;
        s_entry_t *grown = realloc(host->services, size * sizeof(*grown));
        if (!grown)
            return NULL;
        host->services = grown;
        host->size = size;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    s_entry_t *entry = &host->services[host->count++];
    *entry = (s_entry_t){.last_us = -1, .name = copy};
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
    if (msg->type != ZB_MSG_BEAT || msg->service_count == 0)
        return;
    int64_t minute = now_wall_ms / 60000;
    pthread_mutex_lock(&self->lock);
    s_host_t *host = s_host(self, msg->host, true);
    for (size_t i = 0; host && i < msg->service_count; i++) {
        const zb_service_status_t *s = &msg->services[i];
        //  A service without a round trip (pushed, or down) gets no entry
        //  of its own; one it has says "none" from now on.
        s_entry_t *entry = s_entry(host, s->name, i, s->rtt_us >= 0);
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
    s_host_t *record = s_host(self, host, true);
    if (record && !service) {
        record->outages++;
        record->known = true;
    }
    s_entry_t *entry = record && service ? s_entry(record, service, 0, true) : NULL;
    if (entry)
        entry->outages++;
    pthread_mutex_unlock(&self->lock);
}

bool zb_series_get(zb_series_t *self, const char *host, const char *service, int64_t *rtt_us,
                   uint64_t *outages)
{
    assert(self && host && rtt_us && outages);
    *rtt_us = -1;
    *outages = 0;
    pthread_mutex_lock(&self->lock);
    s_host_t *record = s_host(self, host, false);
    bool known = false;
    if (record && !service) {
        *outages = record->outages;
        known = record->known;
    }
    s_entry_t *entry = record && service ? s_entry(record, service, 0, false) : NULL;
    if (entry) {
        *rtt_us = entry->last_us;
        *outages = entry->outages;
        known = true;
    }
    pthread_mutex_unlock(&self->lock);
    return known;
}

//  Copies the entry's hour ending at minute.
static void s_copy(const char *host, const s_entry_t *entry, int64_t minute, zb_series_hour_t *out)
{
    snprintf(out->host, sizeof(out->host), "%s", host);
    snprintf(out->service, sizeof(out->service), "%s", entry->name);
    out->first_minute = minute - ZB_SERIES_MINUTES + 1;
    out->last_us = entry->last_us;
    for (int64_t i = 0; i < ZB_SERIES_MINUTES; i++) {
        int64_t m = out->first_minute + i;
        const s_bucket_t *b = &entry->hour[m % ZB_SERIES_MINUTES];
        out->mean_us[i] = b->minute == m && b->count ? (int64_t)(b->sum_us / b->count) : -1;
    }
}

//  Calls fn for the host's services heard within the hour; != 0 stops.
static int s_each_service(const char *name, const s_host_t *host, int64_t minute,
                          zb_series_hour_t *copy, zb_series_fn *fn, void *arg)
{
    for (size_t i = 0; i < host->count; i++) {
        const s_entry_t *entry = &host->services[i];
        //  Not heard for the whole hour: nothing to draw.
        if (!entry->hour || entry->last_minute <= minute - ZB_SERIES_MINUTES)
            continue;
        s_copy(name, entry, minute, copy);
        if (fn(copy, arg) != 0)
            return -1;
    }
    return 0;
}

void zb_series_each(zb_series_t *self, const char *host, int64_t now_wall_ms, zb_series_fn *fn,
                    void *arg)
{
    assert(self && fn);
    int64_t minute = now_wall_ms / 60000;
    zb_series_hour_t copy;
    pthread_mutex_lock(&self->lock);
    if (host) {
        s_host_t *record = s_host(self, host, false);
        if (record)
            s_each_service(host, record, minute, &copy, fn, arg);
    } else
        for (s_host_t *record = zhashx_first(self->hosts); record;
             record = zhashx_next(self->hosts))
            if (s_each_service(zhashx_cursor(self->hosts), record, minute, &copy, fn, arg) != 0)
                break;
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

    //  Another order finds the same entries (each beat's order is a hint).
    zb_service_status_t swapped[3] = {{.name = "push", .rtt_us = -1},
                                      {.name = "pg", .rtt_us = 9},
                                      {.name = "redis", .rtt_us = 8}};
    zb_msg_t other = {
        .type = ZB_MSG_BEAT, .host = "web-1", .service_count = 3, .services = swapped};
    zb_series_beat(series, &other, t0 + 60 * 60000);
    assert(zb_series_get(series, "web-1", "redis", &rtt, &outages) && rtt == 8);
    assert(zb_series_get(series, "web-1", "pg", &rtt, &outages) && rtt == 9);
    zb_series_beat(series, &beat, t0 + 60 * 60000);
    assert(zb_series_get(series, "web-1", "redis", &rtt, &outages) && rtt == 7);
    assert(zb_series_get(series, "web-1", "pg", &rtt, &outages) && rtt == 9);

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
