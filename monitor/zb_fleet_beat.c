/*  zb_fleet_beat: beats. A full beat is a snapshot of the agent's services
    and repairs whatever was missed; a thin one (protocol v2) is liveness
    only, its digest saying whether what is held is the agent's table. See
    zb_fleet.h. */
#include "zb_fleet_internal.h"

#include <stddef.h>
#include <stdlib.h>

//  A beat is a full snapshot: it repairs whatever events were lost, and a
//  service it no longer lists is gone.
static void s_reconcile(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
{
    for (zb_fleet_service_t *service = zb_table_first(host->services); service;
         service = zb_table_next(host->services))
        service->listed = false;
    for (size_t i = 0; i < msg->service_count; i++) {
        const zb_service_status_t *status = &msg->services[i];
        zb_fleet_service_t *service = zb_fleet_service_get(self, host, status->name);
        if (!service)
            continue;
        service->listed = true;
        zb_fleet_service_apply(self, host, service, status->state, status->since_ms, status->kind,
                               status->reason, status->error);
        //  A certificate's expiry changes rarely (a renewal): written when it does.
        if (service->tls_expires != status->tls_expires) {
            service->tls_expires = status->tls_expires;
            self->counts.certs++;
            zb_fleet_service_write(self, host, service);
        }
    }
    //  Collected first: deleting while walking a table is not allowed.
    zb_fleet_service_t **gone = NULL;
    size_t count = 0;
    for (zb_fleet_service_t *service = zb_table_first(host->services); service;
         service = zb_table_next(host->services)) {
        if (service->listed)
            continue;
        if (!gone)
            gone = malloc(zb_table_size(host->services) * sizeof(*gone));
        if (gone)
            gone[count++] = service;
    }
    //  Removed: dropped, its outage ends ("removed").
    for (size_t i = 0; i < count; i++)
        zb_fleet_service_apply(self, host, gone[i], ZB_STATE_REMOVED, msg->time_ms, NULL, NULL,
                               NULL);
    free(gone);
}

//  A thin beat has no services: it must not invent any state. Its digest
//  tells whether what is held is the agent's table (nothing to do) or not
//  (counted; the next full beat, at most full-every beats away, repairs it).
static void s_thin(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
{
    self->counts.thin++;
    if (!host->digest_known || host->digest != msg->digest)
        self->counts.thin_unsynced++;
}

bool zb_fleet_beat(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg)
{
    bool dirty = msg->interval_ms != host->interval_ms;
    host->interval_ms = msg->interval_ms;
    if (msg->thin)
        s_thin(self, host, msg);
    else {
        s_reconcile(self, host, msg);
        host->digest = msg->digest;
        host->digest_known = msg->has_digest;
    }
    return dirty;
}
