/*  zb_latency: 1-minute rollups of round trips. See zb_latency.h. */
#include "zb_latency.h"

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
    char host[ZB_NAME_MAX + 1];
    char service[ZB_NAME_MAX + 1];
    int64_t last_minute; // of the latest round trip
    int64_t last_us;
    s_bucket_t buckets[ZB_LATENCY_MINUTES]; // by minute % ZB_LATENCY_MINUTES
} s_series_t;

struct _zb_latency_t {
    pthread_mutex_t lock;
    zhashx_t *series; // "host/service" -> s_series_t (owned)
};

static void s_series_free(void **item)
{
    free(*item);
    *item = NULL;
}

zb_latency_t *zb_latency_new(void)
{
    zb_latency_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->series = zhashx_new();
    if (!self->series) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->series, s_series_free);
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void zb_latency_destroy(zb_latency_t **self_p)
{
    assert(self_p);
    zb_latency_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->series);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void zb_latency_add(zb_latency_t *self, const zb_msg_t *msg, int64_t now_wall_ms)
{
    assert(self && msg);
    if (msg->type != ZB_MSG_BEAT)
        return;
    int64_t minute = now_wall_ms / 60000;
    char key[2 * ZB_NAME_MAX + 2];
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < msg->service_count; i++) {
        const zb_service_status_t *s = &msg->services[i];
        if (s->rtt_us < 0)
            continue;
        snprintf(key, sizeof(key), "%s/%s", msg->host, s->name);
        s_series_t *series = zhashx_lookup(self->series, key);
        if (!series) {
            if (zhashx_size(self->series) >= ZB_LATENCY_SERIES_MAX ||
                !(series = calloc(1, sizeof(*series))))
                continue;
            snprintf(series->host, sizeof(series->host), "%s", msg->host);
            snprintf(series->service, sizeof(series->service), "%s", s->name);
            zhashx_insert(self->series, key, series);
        }
        s_bucket_t *b = &series->buckets[minute % ZB_LATENCY_MINUTES];
        if (b->minute != minute)
            *b = (s_bucket_t){.minute = minute};
        b->count++;
        b->sum_us += (uint64_t)s->rtt_us;
        series->last_minute = minute;
        series->last_us = s->rtt_us;
    }
    pthread_mutex_unlock(&self->lock);
}

static void s_copy(const s_series_t *series, int64_t minute, zb_latency_series_t *out)
{
    out->host = series->host;
    out->service = series->service;
    out->first_minute = minute - ZB_LATENCY_MINUTES + 1;
    out->last_us = series->last_us;
    for (int64_t i = 0; i < ZB_LATENCY_MINUTES; i++) {
        int64_t m = out->first_minute + i;
        const s_bucket_t *b = &series->buckets[m % ZB_LATENCY_MINUTES];
        out->mean_us[i] = b->minute == m && b->count ? (int64_t)(b->sum_us / b->count) : -1;
    }
}

void zb_latency_each(zb_latency_t *self, const char *host, int64_t now_wall_ms, zb_latency_fn *fn,
                     void *arg)
{
    assert(self && fn);
    int64_t minute = now_wall_ms / 60000;
    zb_latency_series_t copy;
    pthread_mutex_lock(&self->lock);
    for (s_series_t *series = zhashx_first(self->series); series;
         series = zhashx_next(self->series)) {
        //  Not heard for the whole hour: nothing to draw.
        if (series->last_minute <= minute - ZB_LATENCY_MINUTES)
            continue;
        if (host && strcmp(host, series->host) != 0)
            continue;
        s_copy(series, minute, &copy);
        if (fn(&copy, arg) != 0)
            break;
    }
    pthread_mutex_unlock(&self->lock);
}

int zb_latency_last(zb_latency_t *self, const char *host, const char *service, int64_t *rtt_us)
{
    assert(self && host && service && rtt_us);
    char key[2 * ZB_NAME_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s", host, service);
    pthread_mutex_lock(&self->lock);
    s_series_t *series = zhashx_lookup(self->series, key);
    int rc = series ? 0 : -1;
    if (series)
        *rtt_us = series->last_us;
    pthread_mutex_unlock(&self->lock);
    return rc;
}

static int s_collect(const zb_latency_series_t *series, void *arg)
{
    zb_latency_series_t *out = arg;
    if (strcmp(series->service, "redis") == 0)
        *out = *series;
    return 0;
}

void zb_latency_test(bool verbose)
{
    (void)verbose;
    zb_latency_t *latency = zb_latency_new();
    assert(latency);
    zb_service_status_t services[2] = {{.name = "redis", .rtt_us = 100},
                                       {.name = "push", .rtt_us = -1}};
    zb_msg_t beat = {
        .type = ZB_MSG_BEAT, .host = "web-1", .service_count = 2, .services = services};
    int64_t t0 = 1000LL * 60000; // minute 1000
    zb_latency_add(latency, &beat, t0);
    services[0].rtt_us = 300;
    zb_latency_add(latency, &beat, t0 + 30000);
    services[0].rtt_us = 50;
    zb_latency_add(latency, &beat, t0 + 120000); // minute 1002
    int64_t rtt = 0;
    assert(zb_latency_last(latency, "web-1", "redis", &rtt) == 0 && rtt == 50);
    assert(zb_latency_last(latency, "web-1", "push", &rtt) == -1); // never had one
    zb_latency_series_t got = {0};
    zb_latency_each(latency, NULL, t0 + 120000, s_collect, &got);
    assert(got.host && strcmp(got.host, "web-1") == 0);
    assert(got.first_minute == 1002 - ZB_LATENCY_MINUTES + 1);
    assert(got.mean_us[ZB_LATENCY_MINUTES - 1] == 50);
    assert(got.mean_us[ZB_LATENCY_MINUTES - 2] == -1);
    assert(got.mean_us[ZB_LATENCY_MINUTES - 3] == 200); // (100 + 300) / 2
    //  An hour on, the old minutes are gone; the bucket is reused.
    services[0].rtt_us = 7;
    zb_latency_add(latency, &beat, t0 + 60 * 60000);
    got = (zb_latency_series_t){0};
    zb_latency_each(latency, "web-1", t0 + 60 * 60000, s_collect, &got);
    assert(got.mean_us[ZB_LATENCY_MINUTES - 1] == 7);
    for (int i = 0; i < ZB_LATENCY_MINUTES - 1; i++)
        assert(got.mean_us[i] == -1 || got.first_minute + i == 1002);
    //  Silent for an hour: not listed.
    got = (zb_latency_series_t){0};
    zb_latency_each(latency, NULL, t0 + 200 * 60000, s_collect, &got);
    assert(got.host == NULL);
    got = (zb_latency_series_t){0};
    zb_latency_each(latency, "db-1", t0 + 60 * 60000, s_collect, &got);
    assert(got.host == NULL);
    zb_latency_destroy(&latency);
    zb_latency_destroy(&latency);
}
