/*  zb_fleet_checkpoint: the owner's checkpoint queue of last-heard times
    (zb_fleet_heard_next), a list through the hosts, oldest checkpoint
    first. See zb_fleet.h. */
#include "zb_fleet_internal.h"

#include <assert.h>
#include <stddef.h>

void zb_fleet_checkpoint_remove(zb_fleet_t *self, zb_fleet_host_t *host)
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
void zb_fleet_checkpoint_add(zb_fleet_t *self, zb_fleet_host_t *host)
{
    host->heard_prev = NULL;
    host->heard_next = self->heard_head;
    if (self->heard_head)
        self->heard_head->heard_prev = host;
    else
        self->heard_tail = host;
    self->heard_head = host;
}

zb_fleet_host_t *zb_fleet_heard_next(zb_fleet_t *self, int64_t due_mono, int64_t now_mono)
{
    assert(self);
    //  New hosts wait at the front unstamped; each is stamped once here.
    zb_fleet_host_t *host = self->heard_head;
    while (host && host->heard_mono == 0) {
        host->heard_mono = now_mono ? now_mono : 1;
        zb_fleet_checkpoint_remove(self, host);
        s_heard_append(self, host);
        host = self->heard_head;
    }
    if (!host || host->heard_mono > due_mono)
        return NULL;
    host->heard_mono = now_mono ? now_mono : 1;
    zb_fleet_checkpoint_remove(self, host);
    s_heard_append(self, host);
    return host;
}
