/*  zb_series: numbers for /metrics kept in memory. See zb_series.h. */
#include "zb_series.h"

#include <assert.h>
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int64_t rtt_us;   // latest, -1 when none
    uint64_t outages; // opened since start
} s_entry_t;

struct _zb_series_t {
    pthread_mutex_t lock; // guards entries
    zhashx_t *entries;    // "host\tservice" (or "host") -> s_entry_t
};

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
    zhashx_set_destructor(self->entries, (zhashx_destructor_fn *)zstr_free);
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

//  The entry, created when absent; NULL when out of memory. Under the lock.
static s_entry_t *s_entry(zb_series_t *self, const char *host, const char *service)
{
    char key[2 * ZB_NAME_MAX + 4];
    s_key(host, service, key, sizeof(key));
    s_entry_t *entry = zhashx_lookup(self->entries, key);
    if (entry)
        return entry;
    entry = malloc(sizeof(*entry));
    if (!entry)
        return NULL;
    *entry = (s_entry_t){.rtt_us = -1};
    if (zhashx_insert(self->entries, key, entry) != 0) {
        free(entry);
        return NULL;
    }
    return entry;
}

void zb_series_rtt(zb_series_t *self, const char *host, const char *service, int64_t rtt_us)
{
    assert(self && host && service);
    pthread_mutex_lock(&self->lock);
    s_entry_t *entry = s_entry(self, host, service);
    if (entry)
        entry->rtt_us = rtt_us;
    pthread_mutex_unlock(&self->lock);
}

void zb_series_beat(zb_series_t *self, const char *host, const zb_service_status_t *services,
                    size_t count)
{
    assert(self && host && (services || count == 0));
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < count; i++) {
        s_entry_t *entry = s_entry(self, host, services[i].name);
        if (entry)
            entry->rtt_us = services[i].rtt_us;
    }
    pthread_mutex_unlock(&self->lock);
}

void zb_series_outage(zb_series_t *self, const char *host, const char *service)
{
    assert(self && host);
    pthread_mutex_lock(&self->lock);
    s_entry_t *entry = s_entry(self, host, service);
    if (entry)
        entry->outages++;
    pthread_mutex_unlock(&self->lock);
}

bool zb_series_get(zb_series_t *self, const char *host, const char *service, int64_t *rtt_us,
                   uint64_t *outages)
{
    assert(self && host && rtt_us && outages);
    char key[2 * ZB_NAME_MAX + 4];
    s_key(host, service, key, sizeof(key));
    pthread_mutex_lock(&self->lock);
    s_entry_t *entry = zhashx_lookup(self->entries, key);
    *rtt_us = entry ? entry->rtt_us : -1;
    *outages = entry ? entry->outages : 0;
    pthread_mutex_unlock(&self->lock);
    return entry != NULL;
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
    zb_series_rtt(series, "web-1", "redis", 180);
    zb_series_rtt(series, "web-1", "redis", 250); // the latest counts
    zb_series_outage(series, "web-1", "redis");
    zb_series_outage(series, "web-1", "redis");
    zb_service_status_t beat[2] = {{.name = "ssh", .rtt_us = 90}, {.name = "web", .rtt_us = -1}};
    zb_series_beat(series, "web-2", beat, 2);
    assert(zb_series_get(series, "web-2", "ssh", &rtt, &outages) && rtt == 90 && outages == 0);
    assert(zb_series_get(series, "web-2", "web", &rtt, &outages) && rtt == -1);
    zb_series_outage(series, "web-1", NULL); // the host's own
    assert(zb_series_get(series, "web-1", "redis", &rtt, &outages));
    assert(rtt == 250 && outages == 2);
    assert(zb_series_get(series, "web-1", NULL, &rtt, &outages));
    assert(rtt == -1 && outages == 1);
    //  A host and a service do not collide.
    assert(!zb_series_get(series, "web-1", "", &rtt, &outages) || outages == 0);
    zb_series_destroy(&series);
    zb_series_destroy(&series); // harmless on NULL
}
