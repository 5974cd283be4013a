/*  zb_fleet_replay: transitions replayed from agents' journals, and the
    agents' replay reports. See zb_fleet.h (zb_fleet_replay). */
#include "zb_fleet_internal.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

//  A replayed down that came from up (or stopped) inside an outage that
//  began earlier: the outage merged two, its up and this down were missed
//  live. Entries can be replayed out of the journal's order (those in
//  flight to a killed monitor come again later), so the up that ends the
//  first part may only come after this: the store cuts the outage here
//  and the up moves the cut to its true end. When the outage split was
//  the service's open one, its second part is open now.
static void s_replay_split(zb_fleet_t *self, zb_fleet_host_t *host, zb_fleet_service_t *service,
                           const zb_msg_t *msg)
{
    int64_t cut_id = 0, new_id = 0;
    self->writes++;
    if (self->sink->replay_split(self->arg, msg, &cut_id, &new_id) != 1)
        return;
    char at[40];
    zb_time_format_rfc3339_ms(msg->at_ms, at, sizeof(at));
    zb_log_info("replay: %s/%s: an outage merged two; split at %s", host->name, msg->service, at);
    if (service && service->outage_id && service->outage_id == cut_id) {
        service->outage_id = new_id;
        service->outage_started_ms = msg->at_ms;
        if (service->state == ZB_STATE_DOWN) {
            service->since_ms = msg->at_ms;
            zb_fleet_service_write(self, host, service);
        }
    }
}

//  A host no agent run has been heard from live (first heard through its
//  replay, or a previous monitor run heard only that): the replayed run is
//  the one known. Without it, the run's messages queued in its PUB socket
//  while no monitor ran would look like a new run when they arrive, and
//  the transitions replay just applied would be applied again.
//  Returns true when it adopted it (the host's row is then to be written).
static bool s_replay_adopt(zb_fleet_host_t *host, const zb_msg_t *msg)
{
    if (host->instance[0])
        return false;
    zb_fleet_copy(host->instance, sizeof(host->instance), msg->instance);
    host->last_seq = 0;
    return true;
}

int zb_fleet_replay(zb_fleet_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg && msg->type == ZB_MSG_EVENT);
    //  A conflict's rival must not write its journal into the host's
    //  history either.
    zb_fleet_host_t *claimed = zb_table_lookup(self->hosts, msg->host);
    if (claimed && claimed->rival[0] && strcmp(claimed->rival, msg->instance) == 0) {
        self->counts.conflicts++;
        return 0;
    }
    self->writes++;
    int rc = self->sink->replay_key(self->arg, msg, now_wall);
    //  Committed with its effects, so that the next run of the monitor
    //  also knows live messages of that agent run up to here are stale
    //  (the agent's PUB queue delivers what it held while it was down).
    if (rc == 1)
        zb_fleet_instance_write(self, msg->host, msg->instance, now_wall, msg->seq);
    if (rc == 0) {
        //  Seen before; still, live messages of that run up to it are stale.
        zb_fleet_host_t *known = zb_table_lookup(self->hosts, msg->host);
        if (known && s_replay_adopt(known, msg))
            zb_fleet_host_write(self, known);
        if (known && strcmp(known->instance, msg->instance) == 0 && msg->seq > known->last_seq)
            known->last_seq = msg->seq;
    }
    //  A host's stop only matters live: the host is heard again by now.
    if (rc != 1 || !msg->service[0])
        return rc;
    bool created = false;
    zb_fleet_host_t *host = zb_fleet_host_get(self, msg->host, now_wall, &created);
    if (!host)
        return -1;
    bool adopted = s_replay_adopt(host, msg);
    //  Replay may move state (or its history) past the last full beat.
    host->digest_known = false;
    if (created) {
        //  First heard through its replay: that is hearing it (the silence
        //  deadline starts now, not at the epoch).
        host->last_seen_mono = now_mono;
        host->last_seen_wall = now_wall;
        zb_fleet_host_write(self, host);
        zb_fleet_deadline_set(self, host);
    } else if (adopted)
        zb_fleet_host_write(self, host);
    //  The two channels race: a beat still queued on the SUB socket may be
    //  older than this transition. Live messages of this agent run up to
    //  its sequence number are stale from now on (events among them come
    //  through here anyway).
    if (strcmp(host->instance, msg->instance) == 0 && msg->seq > host->last_seq)
        host->last_seq = msg->seq;
    zb_fleet_service_t *service = zb_table_lookup(host->services, msg->service);
    //  A down already on record (heard live, or replayed to a previous run
    //  of the monitor whose ack was lost) changes nothing.
    if (msg->to == ZB_STATE_DOWN) {
        self->writes++;
        int covered = self->sink->replay_covered(self->arg, msg);
        if (covered == 1 && (msg->from == ZB_STATE_UP || msg->from == ZB_STATE_STOPPED))
            s_replay_split(self, host, service, msg);
        if (covered != 0)
            return covered == 1 ? 1 : -1;
    }
    //  Replays come in the agent's order: newer than what we know (or we
    //  know nothing, e.g. while the host was silent), the transition is
    //  applied as if heard live, alerts included.
    //  Never older than an open outage, though: the two channels race, and
    //  an old "up" must not end the outage a newer "down" began.
    bool newer =
        !service || ((service->state == ZB_STATE_UNKNOWN || msg->at_ms >= service->since_ms) &&
                     (!service->outage_id || msg->at_ms >= service->outage_started_ms));
    if (newer) {
        zb_fleet_event(self, host, msg);
        //  A beat may have brought this state first: then the history row
        //  replay bounded at that moment ends here, and says why.
        if (msg->to != ZB_STATE_DOWN && msg->to != ZB_STATE_UNKNOWN) {
            self->writes++;
            self->sink->replay_end(self->arg, msg);
        }
        return 1;
    }
    //  Behind the current state (a beat told us where the service is now):
    //  history only, bounded by when the current state began. This is what
    //  keeps a beat's "up since" after an unseen up/down pair from merging
    //  two outages: the journal's down and up split them again.
    self->writes++;
    if (msg->to == ZB_STATE_DOWN) {
        int64_t bound = service->since_ms;
        if (service->outage_id && service->outage_started_ms < bound)
            bound = service->outage_started_ms;
        self->sink->replay_down(self->arg, msg, bound);
    } else if (msg->to != ZB_STATE_UNKNOWN)
        self->sink->replay_end(self->arg, msg);
    return 1;
}

int zb_fleet_replay_status(zb_fleet_t *self, const char *name, const char *instance,
                           uint64_t pending, int64_t now_wall, int64_t started_wall)
{
    assert(self && name && instance);
    zb_fleet_host_t *host = zb_table_lookup(self->hosts, name);
    if (!host)
        return -1;
    //  A name conflict's rival: its backlog is not this host's.
    if (host->rival[0] && strcmp(host->rival, instance) == 0)
        return 0;
    bool changed = !host->replay_known || host->replay_pending != pending ||
                   host->replay_wall < started_wall || strcmp(host->replay_instance, instance) != 0;
    zb_fleet_copy(host->replay_instance, sizeof(host->replay_instance), instance);
    host->replay_known = true;
    host->replay_pending = pending;
    host->replay_wall = now_wall;
    host->replay_dirty = true;
    return changed ? 1 : 0;
}
