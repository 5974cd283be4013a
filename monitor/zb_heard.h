/*  zb_heard: what the monitor keeps in memory between checkpoints, written
    to the store: hosts' last-heard times and agent runs' sequence numbers,
    replay reports, the detector's thresholds, the monitor's own row, and
    hosts `zbeat hosts forget` left.

    Every write goes into the caller's transaction through zb_record (a
    failed one is counted and logged there); nothing here begins or
    commits.
*/
#ifndef ZB_HEARD_H
#define ZB_HEARD_H

#include "zb_fleet.h"
#include "zb_record.h"

#include <stdbool.h>
#include <stdint.h>

//  The host's last-heard time and replay report, now.
void zb_heard_write(zb_record_t *record, zb_fleet_host_t *host);

//  The host's detector threshold and loss estimate, when they moved enough
//  to matter (not every jitter of the estimate); every host's: a walk in
//  memory, a row only for a host whose threshold moved.
void zb_heard_detector(zb_record_t *record, zb_fleet_host_t *host);
void zb_heard_detectors(zb_record_t *record);

//  The host's detector values, last-heard and sequence number, when they
//  moved. Returns true when it wrote a last-heard row.
bool zb_heard_checkpoint(zb_record_t *record, zb_fleet_host_t *host);

//  The monitor's row: running since started_wall, alive now, announcing a
//  heartbeat every heartbeat_ms; stopped_ms -1 while running.
void zb_heard_alive(zb_record_t *record, int64_t started_wall, int64_t heartbeat_ms,
                    int64_t stopped_ms);

//  Drops hosts `zbeat hosts forget` marked from the fleet, and from the
//  database again (what this monitor wrote of them since must not bring
//  them back).
void zb_heard_forget(zb_record_t *record, int64_t now_wall);

#endif
