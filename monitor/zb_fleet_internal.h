/*  zb_fleet_internal: what the fleet state machine's files share. Not for
    the rest of the monitor: zb_fleet.h is the public face.

    zb_fleet.c            the fleet, hosts and services, the effects through
                          the sink, live messages (zb_fleet_handle), loading
    zb_fleet_beat.c       beats: a full one reconciled, a thin one's digest
    zb_fleet_replay.c     transitions replayed from agents' journals
    zb_fleet_conflict.c   two agent runs claiming one name
    zb_fleet_liveness.c   silence deadlines (the heap, the detector), the
                          sweep, liveness datagrams
    zb_fleet_checkpoint.c the queue of last-heard checkpoints

    Only zb_fleet.c creates, frees and writes hosts and services; the others
    change their fields and write through it.
*/
#ifndef ZB_FLEET_INTERNAL_H
#define ZB_FLEET_INTERNAL_H

#include "zb_fleet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    //  Hosts by when they must next be looked at (zb_fleet_liveness.c):
    //  each key its host's deadline, or earlier where a change made the
    //  deadline later without zb_fleet_deadline_set (made exact when it
    //  tops). Hosts that cannot go silent (silent, stopped) are not in it.
    zb_heap_t *due;
    int64_t lost_mono; // when the owner's input last dropped messages (zb_fleet_input_lost)
    //  The checkpoint queue (zb_fleet_heard_next), through the hosts.
    zb_fleet_host_t *heard_head;
    zb_fleet_host_t *heard_tail;
};

//  Bounded copy; on the path of every service of every beat, so no
//  snprintf (its format parsing was a tenth of the monitor's CPU).
static inline void zb_fleet_copy(char *dst, size_t size, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (len > size - 1)
        len = size - 1;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

//  The beat interval the host announced, or the long one assumed before.
static inline int64_t zb_fleet_interval(const zb_fleet_host_t *host)
{
    return host->interval_ms ? host->interval_ms : ZB_FLEET_UNKNOWN_INTERVAL_MS;
}

//  zb_fleet.c: hosts, services and their effects.
//  The host by name, made (alive, *created) when new and under the cap;
//  NULL over the cap or out of memory (counted or logged).
zb_fleet_host_t *zb_fleet_host_get(zb_fleet_t *self, const char *name, int64_t now_wall,
                                   bool *created);
//  The service by name, made (unknown) when new; NULL as above.
zb_fleet_service_t *zb_fleet_service_get(zb_fleet_t *self, zb_fleet_host_t *host, const char *name);
//  Moves a service to `to` (removed: drops it, its outage ends), as an
//  event or a beat reported it: outages, flips and the state change out.
void zb_fleet_service_apply(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                            zb_state_t to, int64_t at_ms, const char *kind, const char *reason,
                            const char *error);
//  One event (a service's transition, or a host's stop) applied.
void zb_fleet_event(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg);
//  The host quiet for its threshold: its outage opens, it goes silent.
void zb_fleet_host_silent(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono);
//  Rows out, through the sink (counted in self->writes).
void zb_fleet_host_write(zb_fleet_t *self, zb_fleet_host_t *host);
void zb_fleet_service_write(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service);
void zb_fleet_instance_write(zb_fleet_t *self, const char *host, const char *instance,
                             int64_t now_wall, uint64_t seq);

//  zb_fleet_beat.c: a beat applied to its host; true when the host's row
//  is to be written (its interval changed).
bool zb_fleet_beat(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg);

//  zb_fleet_conflict.c.
//  A message of a run other than the authoritative one: true when it is
//  dropped (a conflict's rival, or the displaced run's late queue).
bool zb_fleet_rival(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg, int64_t now_mono,
                    int64_t now_wall);
//  When the host's conflict (proven, or left by a previous run) must be
//  looked at, INT64_MAX when there is none.
int64_t zb_fleet_conflict_at(zb_fleet_t *self, zb_fleet_host_t *host);
//  The sweep's part: a conflict ends, or its rival takes over.
void zb_fleet_conflict_sweep(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono,
                             int64_t now_wall);

//  zb_fleet_liveness.c.
//  When the host goes silent unless heard, INT64_MAX when it cannot.
int64_t zb_fleet_silent_at(zb_fleet_t *self, zb_fleet_host_t *host);
//  The host's place in the heap of deadlines: its deadline, at once
//  (zb_fleet_liveness.c says why not lazily).
void zb_fleet_deadline_set(zb_fleet_t *self, zb_fleet_host_t *host);

//  zb_fleet_checkpoint.c: a new host joins the checkpoint queue (at the
//  front, unstamped); a forgotten one leaves it.
void zb_fleet_checkpoint_add(zb_fleet_t *self, zb_fleet_host_t *host);
void zb_fleet_checkpoint_remove(zb_fleet_t *self, zb_fleet_host_t *host);

#endif
