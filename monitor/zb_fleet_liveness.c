/*  zb_fleet_liveness: when hosts go silent. Each host's silence threshold
    comes from its detector (zb_detector); its deadline sits in the fleet's
    heap, so the sweep looks only at the hosts that are due. Liveness
    datagrams (zb_fleet_heard) keep an alive host alive. See zb_fleet.h. */
#include "zb_fleet_internal.h"
#include "zb_log.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int64_t zb_fleet_threshold(zb_fleet_t *self, const zb_fleet_host_t *host)
{
    assert(self && host);
    return zb_detector_threshold(&host->detector, &self->detector, zb_fleet_interval(host));
}

//  When the host goes silent unless heard (strictly past its threshold:
//  the first ms after), INT64_MAX when it cannot. Input dropped since it
//  was last heard counts as heard then: it may have been the host's.
int64_t zb_fleet_silent_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (host->state != ZB_FLEET_ALIVE)
        return INT64_MAX;
    int64_t heard = host->last_seen_mono > self->lost_mono ? host->last_seen_mono : self->lost_mono;
    return heard + zb_fleet_threshold(self, host) + 1;
}

//  Every alive host's deadline moves later; the heap's keys, now early, are
//  made exact as they come to its top (s_top_exact), as after any change
//  that makes a deadline later.
void zb_fleet_input_lost(zb_fleet_t *self, int64_t at_mono)
{
    assert(self);
    if (at_mono > self->lost_mono)
        self->lost_mono = at_mono;
}

//  The nearest of its silence and its name conflict's deadlines: the sweep
//  must look at the host then.
static int64_t s_host_deadline(zb_fleet_t *self, zb_fleet_host_t *host)
{
    int64_t at = zb_fleet_silent_at(self, host), conflict = zb_fleet_conflict_at(self, host);
    return conflict < at ? conflict : at;
}

//  The host's place in the heap. Out of memory it stays out of the heap
//  and is logged (it cannot go silent then, which is the lesser harm than
//  a false silence).
static void s_deadline_put(zb_fleet_t *self, zb_fleet_host_t *host, int64_t at)
{
    if (at == INT64_MAX)
        zb_heap_remove(self->due, &host->due);
    else if (zb_heap_set(self->due, &host->due, at) != 0)
        zb_log_error("host %s: out of memory for its deadline", host->name);
}

//  A host heard, back, new or reconfigured: put at its deadline at once.
//  Not lazily (a key left early and made exact when it came to the top,
//  as this did before): a host beating steadily has an early key nearly
//  all the time, so the owner's zb_fleet_deadline put every host in the
//  heap again about once a beat anyway, each time from the top down
//  through all its levels and reading a cold host; at 100,000 hosts that
//  moved four times the entries of a move at every beat (about 8 against
//  1.9 a message in zb_fleet's heap), which only moves the host from where
//  it is to the bottom, a level or two. Keys stay exact but for the few
//  changes that make a deadline later elsewhere (s_top_exact).
void zb_fleet_deadline_set(zb_fleet_t *self, zb_fleet_host_t *host)
{
    int64_t at = s_host_deadline(self, host);
    if (host->due.index && host->due.key == at)
        return;
    s_deadline_put(self, host, at);
}

//  Every host's deadline again (a reload: they may all have moved).
static void s_deadlines_all(zb_fleet_t *self)
{
    for (zb_fleet_host_t *host = zb_table_first(self->hosts); host;
         host = zb_table_next(self->hosts))
        zb_fleet_deadline_set(self, host);
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
    zb_detector_config_phi(&self->detector, phi);
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
    zb_detector_datagram(&host->detector, &self->detector, zb_fleet_interval(host), seq,
                         interval_ms, now_mono);
    zb_fleet_deadline_set(self, host);
    return 0;
}

static zb_fleet_host_t *s_host_of(zb_heap_node_t *node)
{
    return (zb_fleet_host_t *)((char *)node - offsetof(zb_fleet_host_t, due));
}

//  The heap's top with its key made exact: nodes left early (a deadline
//  made later without zb_fleet_deadline_set, as a loaded host outage does)
//  are put at their deadlines until the top's key is its host's deadline.
//  NULL when no host has one.
static zb_heap_node_t *s_top_exact(zb_fleet_t *self)
{
    zb_heap_node_t *top;
    while ((top = zb_heap_top(self->due))) {
        int64_t at = s_host_deadline(self, s_host_of(top));
        if (at == top->key)
            break;
        s_deadline_put(self, s_host_of(top), at); // later, or out of the heap
    }
    return top;
}

void zb_fleet_sweep(zb_fleet_t *self, int64_t now_mono, int64_t now_wall)
{
    assert(self);
    for (zb_heap_node_t *top = s_top_exact(self); top && top->key <= now_mono;
         top = s_top_exact(self)) {
        zb_fleet_host_t *host = s_host_of(top);
        zb_fleet_conflict_sweep(self, host, now_mono, now_wall);
        if (now_mono >= zb_fleet_silent_at(self, host))
            zb_fleet_host_silent(self, host, now_mono);
        //  Exact now: later than now_mono, or out of the heap.
        s_deadline_put(self, host, s_host_deadline(self, host));
    }
}

int64_t zb_fleet_deadline(zb_fleet_t *self, int64_t now_mono)
{
    assert(self);
    int64_t day = now_mono + 86400000;
    zb_heap_node_t *top = s_top_exact(self);
    return top && top->key < day ? top->key : day;
}
