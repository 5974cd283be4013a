/*  zb_fleet_conflict: two agent runs claiming one host's name (a cloned
    VM). See zb_fleet.h for the rule. */
#include "zb_fleet_internal.h"
#include "zb_log.h"

#include <stdint.h>
#include <string.h>

//  When a name conflict ends unless its rival run is heard, INT64_MAX when
//  there is none: the same window as silence.
static int64_t s_rival_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (!host->rival[0])
        return INT64_MAX;
    return host->rival_seen_mono + self->liveness * zb_fleet_interval(host) + 1;
}

//  A name conflict a previous run left, not proven again: over after the
//  liveness window from the load.
static int64_t s_loaded_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    if (!host->conflict_loaded || host->rival[0])
        return INT64_MAX;
    return host->loaded_mono + self->liveness * zb_fleet_interval(host) + 1;
}

static void s_conflict_end(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono,
                           int64_t now_wall, const char *why)
{
    const char *before = zb_fleet_host_word(host);
    zb_log_fields(host->name, NULL, zb_fleet_host_state_name(host->state), "conflict over",
                  "name conflict over: %s (%s)", host->name, why);
    //  Still the displaced run: heard again a beat interval from now, it
    //  proves a conflict anew.
    zb_fleet_copy(host->displaced, sizeof(host->displaced), host->rival);
    host->displaced_mono = now_mono;
    host->displaced_interval_ms = host->interval_ms;
    host->rival[0] = '\0';
    host->conflict_loaded = false;
    const char *after = zb_fleet_host_word(host);
    if (strcmp(before, after) != 0)
        self->sink->state(self->arg, host, NULL, before, after, now_wall, "conflict over");
    zb_fleet_host_write(self, host);
    if (self->sink->conflict)
        self->sink->conflict(self->arg, host, false);
}

//  The authoritative run went quiet while its rival is still heard: the
//  rival takes over as a restart would, without a silent host in between.
//  Its sequence numbers are not known yet (no gap counted).
static void s_conflict_swap(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono,
                            int64_t now_wall)
{
    char quiet[ZB_INSTANCE_LEN + 1];
    zb_fleet_copy(quiet, sizeof(quiet), host->instance);
    zb_log_info("host restarted: %s (instance %s went quiet, %s takes over)", host->name, quiet,
                host->rival);
    zb_fleet_copy(host->instance, sizeof(host->instance), host->rival);
    host->last_seq = 0;
    zb_detector_restart(&host->detector);
    host->last_seen_wall = now_wall - (now_mono - host->rival_seen_mono);
    host->last_seen_mono = host->rival_seen_mono;
    zb_fleet_copy(host->rival, sizeof(host->rival), quiet);
    s_conflict_end(self, host, now_mono, now_wall, "the authoritative run went quiet");
    zb_fleet_instance_write(self, host->name, host->instance, now_wall, 0);
}

//  A message of a run other than the authoritative one. True when it is
//  dropped: the rival of a proven conflict, or a late message of the run
//  just displaced (a crashed agent's queue drains within milliseconds of
//  its successor's first message; only a run heard again a full beat
//  interval after it was displaced is alive, and proves the conflict).
//  False: a new run takes over (a restart), also when the authoritative
//  run of a conflict has been quiet for the liveness window.
bool zb_fleet_rival(zb_fleet_t *self, zb_fleet_host_t *host, const zb_msg_t *msg, int64_t now_mono,
                    int64_t now_wall)
{
    if (host->rival[0]) {
        if (now_mono >= zb_fleet_silent_at(self, host) || host->state != ZB_FLEET_ALIVE) {
            s_conflict_end(self, host, now_mono, now_wall, "the authoritative run went quiet");
            return false;
        }
        //  Any other run is the rival (one of the two restarted).
        zb_fleet_copy(host->rival, sizeof(host->rival), msg->instance);
        host->rival_seen_mono = now_mono;
        self->counts.conflicts++;
        return true;
    }
    if (!host->displaced[0] || strcmp(host->displaced, msg->instance) != 0)
        return false;
    //  The displaced run's interval; when it had not beaten yet (a clone
    //  started within its first beat), its successor's once that is known:
    //  runs under one name share a configuration.
    int64_t interval = host->displaced_interval_ms ? host->displaced_interval_ms
                       : host->interval_ms         ? host->interval_ms
                                                   : ZB_FLEET_UNKNOWN_INTERVAL_MS;
    if (now_mono - host->displaced_mono < interval) {
        self->counts.stale++;
        return true;
    }
    zb_fleet_copy(host->rival, sizeof(host->rival), msg->instance);
    host->rival_seen_mono = now_mono;
    host->conflict_ms = now_wall;
    self->counts.conflicts++;
    zb_log_fields(host->name, NULL, "name-conflict", "name-conflict",
                  "name conflict: %s (agent runs %s and %s both alive; %s stays authoritative, "
                  "the other's messages are dropped)",
                  host->name, host->instance, host->rival, host->instance);
    if (host->state == ZB_FLEET_ALIVE)
        self->sink->state(self->arg, host, NULL, "alive", "name-conflict", now_wall,
                          "name-conflict");
    zb_fleet_host_write(self, host);
    //  The conflict a previous run of the monitor proved and alerted: the
    //  same one, proven again after the restart.
    if (self->sink->conflict && !host->conflict_loaded)
        self->sink->conflict(self->arg, host, true);
    host->conflict_loaded = false;
    zb_fleet_deadline_set(self, host);
    return true;
}

int64_t zb_fleet_conflict_at(zb_fleet_t *self, zb_fleet_host_t *host)
{
    int64_t rival = s_rival_at(self, host), loaded = s_loaded_at(self, host);
    return loaded < rival ? loaded : rival;
}

void zb_fleet_conflict_sweep(zb_fleet_t *self, zb_fleet_host_t *host, int64_t now_mono,
                             int64_t now_wall)
{
    //  A conflict left by the previous run and not proven again within
    //  the liveness window is over: the row says so.
    if (now_mono >= s_loaded_at(self, host)) {
        host->conflict_loaded = false;
        zb_fleet_host_write(self, host);
    }
    if (now_mono >= s_rival_at(self, host))
        s_conflict_end(self, host, now_mono, now_wall, "the other run went quiet");
    else if (host->rival[0] && now_mono >= zb_fleet_silent_at(self, host))
        s_conflict_swap(self, host, now_mono, now_wall);
}
