/*  zb_monitor's state and what its files share: zb_monitor.c (the loop,
    the passes and their transaction) and zb_monitor_heard.c (checkpoints
    of what is kept in memory, the monitor's own row). Not for other modules.
*/
#ifndef ZB_MONITOR_INTERNAL_H
#define ZB_MONITOR_INTERNAL_H

#include "zb_monitor.h"
#include "zb_auth.h"
#include "zb_dispatch.h"
#include "zb_fleet.h"
#include "zb_inlet.h"
#include "zb_intake.h"
#include "zb_orders.h"
#include "zb_policy.h"
#include "zb_pulse.h"
#include "zb_record.h"
#include "zb_replay.h"
#include "zb_series.h"
#include "zb_store.h"
#include "zb_stream.h"
#include "zb_tally.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  The monitor's row (its own liveness) is written this often (schema 5,
//  docs/operations.md).
#define ZB_MONITOR_ALIVE_MS 5000
//  Hosts' last-heard times and replay reports live in memory; each host's
//  is written at most this late (a crash loses at most this much of them),
//  in batches every tick, of at most twice the fleet's share per tick:
//  at 100,000 hosts one pass over all of them was a stall of seconds.
#define ZB_MONITOR_HEARD_MS 30000
#define ZB_MONITOR_HEARD_TICK_MS 1000
//  Behind its input by this much (the oldest message held), the monitor
//  writes last-heard times twice as late (zb_monitor_heard.c).
#define ZB_MONITOR_BEHIND_MS 1000
#define ZB_MONITOR_DETECTOR_MS 5000 // detectors' thresholds written, when they moved

struct _zb_monitor_t {
    zb_monitor_config_t config;  // a copy: the caller's may go away
    zb_store_t *store;           // the database
    zb_fleet_t *fleet;           // hosts, services, outage rules
    zb_policy_t *policy;         // alerts
    zb_series_t *series;         // round trips and outage counts (read by the HTTP server)
    zb_auth_t *auth;             // while running: who may report for which host
    zb_monitor_stats_t stats;    // counters, logged at exit
    bool locked_out;             // zb_monitor_begin failed and has not succeeded since
    bool lock_told;              // ...and said so (the lock outlasted ZB_MONITOR_LOCK_MS)
    int64_t lock_since;          // when the lock was first met, 0 when not waiting for it
    bool stopping;               // the loop has ended: begins may wait for a lock
    zb_msg_t *held;              // taken, to handle first once a transaction can begin
    bool paused;                 // input not read (locked out) until the retry
    int64_t retry_mono;          // when a locked-out monitor tries again
    int pass_timer;              // one-shot timer of the next sweep pass, or -1
    int64_t pass_mono;           // when it fires
    zb_inlet_errors_t malformed; // malformed input counted (stats.decode_errors) and logged
    zloop_t *loop;               // while running
    zsock_t *sub;                // while running
    zb_intake_t *intake;         // reads sub in its own thread (bounded bytes)
    int prune_timer;             // one-shot timer for the next prune batch, or -1
    int64_t alert_tick_mono;     // when zb_policy_tick last ran
    zb_stream_t *stream;        // the PUB stream (bound while running, when monitor/publish is set)
    zb_record_t record;         // the fleet's sink: store, policy, stream
    zb_dispatch_t *dispatch;    // while running
    zb_replay_server_t *replay; // while running, when monitor/replay is set
    zb_pulse_t *pulse;          // while running, when monitor/udp is set: liveness datagrams
    int64_t detector_due;       // monotonic: the next walk over the detectors
    int64_t started_wall;       // when zb_monitor_run began: the monitor row's
    int hangup_fd;              // SIGHUP's signalfd (zb_reload), or -1
    zb_monitor_hangup_fn *hangup; // called when it is readable
    void *hangup_arg;

    zb_orders_t *orders; // admin orders from the HTTP server, carried out in the loop

    zb_tally_shared_t shared; // for other threads (the HTTP server): stats as of the last pass
};

//  Every host whose last-heard moved, committed: when the monitor stops.
void zb_monitor_checkpoint(zb_monitor_t *self);

//  The monitor's row (stopped_ms -1 while running); stopping, with the
//  final checkpoint.
void zb_monitor_alive(zb_monitor_t *self, int64_t stopped_ms);

//  The timers of the checkpoint batches and of the monitor's row.
int zb_monitor_on_heard(zloop_t *loop, int timer_id, void *arg);
int zb_monitor_on_alive(zloop_t *loop, int timer_id, void *arg);

#endif
