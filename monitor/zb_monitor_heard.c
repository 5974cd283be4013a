/*  zb_monitor_heard: the monitor's checkpoints of what it keeps in memory
    (hosts' last-heard times, replay reports, detectors; zb_heard writes
    them) and its own row, in their own transactions. See
    zb_monitor_internal.h.
*/
#include "zb_monitor_internal.h"
#include "zb_heard.h"
#include "zb_time.h"

#include <assert.h>

//  One host's last-heard (and its agent run's sequence number), if it
//  moved (zb_heard), counted.
static void s_host_checkpoint(zb_monitor_t *self, zb_fleet_host_t *host)
{
    if (zb_heard_checkpoint(&self->record, host))
        self->stats.heard_rows++;
}

//  Every host, committed: when the monitor stops. Not counted in the
//  heard_* stats, which are the running cost.
void zb_monitor_checkpoint(zb_monitor_t *self)
{
    uint64_t rows = self->stats.heard_rows;
    for (zb_fleet_host_t *host = zb_fleet_first(self->fleet); host;
         host = zb_fleet_next(self->fleet))
        s_host_checkpoint(self, host);
    self->stats.heard_rows = rows;
    zb_monitor_commit(self);
}

//  The hosts checkpointed ZB_MONITOR_HEARD_MS ago or longer, from the
//  fleet's queue (no walk over every host), at most twice the fleet's
//  share of a tick: the hosts a restart stamped all at once spread out.
//  Skipped while commits fail, as s_alive is.
//  Twice as late while the monitor is behind its input: last-heard times
//  matter to a restart only, and a batch costs as much as thousands of
//  beats (fleets joining four shards on two cores put them further behind,
//  docs/benchmarks.md). While it is, hosts written a minute ago are due.
static void s_checkpoint_batch(zb_monitor_t *self)
{
    if (zb_store_kept(self->store) > 0 || zb_monitor_begin(self) != 0)
        return;
    int64_t start_us = zb_time_mono_us(), now = zb_time_mono_ms(), lost;
    bool behind =
        self->intake && zb_intake_seen(self->intake, now, &lost) < now - ZB_MONITOR_BEHIND_MS;
    int64_t before = now - (behind ? 2 : 1) * ZB_MONITOR_HEARD_MS;
    uint64_t rows = self->stats.heard_rows;
    size_t most =
        2 * zb_fleet_size(self->fleet) * ZB_MONITOR_HEARD_TICK_MS / ZB_MONITOR_HEARD_MS + 16;
    zb_fleet_host_t *host;
    for (size_t i = 0; i < most && (host = zb_fleet_heard_next(self->fleet, before, now)); i++)
        s_host_checkpoint(self, host);
    if (now >= self->detector_due) { // sooner than last-heard: operators look for bad links
        self->detector_due = now + ZB_MONITOR_DETECTOR_MS;
        zb_heard_detectors(&self->record);
    }
    zb_monitor_commit(self);
    zb_tally_heard(&self->stats, rows, start_us);
}

int zb_monitor_on_heard(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_checkpoint_batch(arg);
    return 0;
}

//  Writes the monitor's row (stopped_ms -1 while running) and, stopping,
//  what moved of hosts' last-seen times and replay reports. Skipped while commits fail:
//  the kept writes must not grow with every pass, and a row that ages is
//  the truth for readers (the monitor is not getting anything written).
void zb_monitor_alive(zb_monitor_t *self, int64_t stopped_ms)
{
    if (!self->started_wall || zb_store_kept(self->store) > 0 || zb_monitor_begin(self) != 0)
        return;
    zb_heard_alive(&self->record, self->started_wall, ZB_MONITOR_ALIVE_MS, stopped_ms);
    //  Stopping: every last-heard that moved; running, the batches do it.
    if (stopped_ms >= 0)
        zb_monitor_checkpoint(self);
    else
        zb_monitor_commit(self);
}

int zb_monitor_on_alive(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zb_monitor_t *self = arg;
    zb_monitor_alive(self, -1);
    zb_tally_count(&self->stats, self->fleet, self->pulse);
    zb_tally_log_debug(&self->stats);
    return 0;
}
