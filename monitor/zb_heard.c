/*  zb_heard: the monitor's in-memory state, checkpointed. See zb_heard.h. */
#include "zb_heard.h"
#include "zb_proto.h"
#include "zb_store.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <unistd.h>

//  Last-seen times and replay reports are kept in memory; this writes
//  them (with the sequence number heard, so a restart knows what is
//  stale), so a crash loses at most one checkpoint period of them.
void zb_heard_write(zb_record_t *record, zb_fleet_host_t *host)
{
    assert(record && host);
    zb_record_result(record,
                     zb_store_host_heard(record->store, host->name, host->last_seen_wall,
                                         host->replay_known ? (int64_t)host->replay_pending : -1,
                                         host->replay_wall, host->replay_instance));
    host->replay_dirty = false;
}

//  The detector's threshold and loss, for `zbeat hosts` and /metrics, when
//  they moved enough to matter (not every jitter of the estimate).
void zb_heard_detector(zb_record_t *record, zb_fleet_host_t *host)
{
    assert(record && host);
    int64_t threshold = zb_fleet_threshold(record->fleet, host);
    double loss = zb_detector_loss(&host->detector);
    int64_t moved = threshold - host->threshold_written;
    double loss_moved = loss - host->loss_written;
    if (host->threshold_written && moved > -50 && moved < 50 && loss_moved > -0.005 &&
        loss_moved < 0.005 && (loss < 0) == (host->loss_written < 0))
        return;
    zb_record_result(record, zb_store_host_detector(record->store, host->name, threshold, loss));
    host->threshold_written = threshold;
    host->loss_written = loss;
}

void zb_heard_detectors(zb_record_t *record)
{
    assert(record);
    for (zb_fleet_host_t *host = zb_fleet_first(record->fleet); host;
         host = zb_fleet_next(record->fleet))
        zb_heard_detector(record, host);
}

//  One host's last-heard (and its agent run's sequence number), if it moved.
bool zb_heard_checkpoint(zb_record_t *record, zb_fleet_host_t *host)
{
    assert(record && host);
    zb_heard_detector(record, host);
    bool moved = host->last_seen_wall != host->last_seen_written;
    if (!moved && !host->replay_dirty)
        return false;
    zb_heard_write(record, host);
    if (moved && host->instance[0])
        zb_record_result(record, zb_store_instance_put(record->store, host->name, host->instance,
                                                       host->last_seen_wall, host->last_seq));
    host->last_seen_written = host->last_seen_wall;
    return true;
}

void zb_heard_alive(zb_record_t *record, int64_t started_wall, int64_t heartbeat_ms,
                    int64_t stopped_ms)
{
    assert(record);
    char hostname[256] = "";
    if (gethostname(hostname, sizeof(hostname) - 1) != 0)
        hostname[0] = '\0';
    zb_store_monitor_t row = {.pid = getpid(),
                              .hostname = hostname,
                              .version = ZB_VERSION,
                              .started_at_ms = started_wall,
                              .heartbeat_at_ms = zb_time_wall_ms(),
                              .heartbeat_ms = heartbeat_ms,
                              .stopped_at_ms = stopped_ms};
    zb_record_result(record, zb_store_monitor_put(record->store, &row));
}

//  Hosts `zbeat hosts forget` left in the database (it wrote there, as
//  `silence add` does): collected first (no writes while walking).
typedef struct {
    char names[64][ZB_NAME_MAX + 1];
    size_t count;
} s_forgotten_t;

static int s_forgotten_row(const char *host, void *arg)
{
    s_forgotten_t *list = arg;
    if (list->count == sizeof(list->names) / sizeof(list->names[0]))
        return 1; // the rest next second
    snprintf(list->names[list->count++], sizeof(list->names[0]), "%s", host);
    return 0;
}

//  A host heard after this is new.
void zb_heard_forget(zb_record_t *record, int64_t now_wall)
{
    assert(record);
    s_forgotten_t list = {.count = 0};
    if (zb_store_forgotten(record->store, s_forgotten_row, &list) < 0) {
        zb_record_result(record, -1);
        return;
    }
    for (size_t i = 0; i < list.count; i++) {
        zb_fleet_forget(record->fleet, list.names[i]);
        zb_record_result(record, zb_store_host_forget(record->store, list.names[i], now_wall));
        zb_record_result(record, zb_store_forget_done(record->store, list.names[i]));
    }
}
