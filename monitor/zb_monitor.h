/*  zb_monitor: subscribes to every agent, keeps the current state of every
    host and service, records outages through zb_store, flags silent hosts.

    The actor: sockets, loop, transactions, stats. The rules are zb_fleet's
    (hosts, services, outages) and zb_policy's (alerts); zb_monitor_handle,
    zb_monitor_replay and zb_monitor_sweep feed them with the clocks as
    arguments, so the self-test drives them deterministically against a
    real store; the loop (zb_monitor_run) feeds them from a bound SUB
    socket, the replay ROUTER (zb_replay) and one timer set to the nearest
    deadline.
*/
#ifndef ZB_MONITOR_H
#define ZB_MONITOR_H

#include "zb_monitor_config.h"
#include "zb_tally.h"
#include "zb_series.h"
#include "zb_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Limits on what one monitor tracks; beyond them messages are dropped (and
//  logged once), so hostile input cannot exhaust memory. The same as
//  zb_fleet's (checked where both are seen).
#define ZB_MONITOR_MAX_SERVICES 10000 // per host

typedef struct _zb_monitor_t zb_monitor_t;

//  Opens the store named in config (creating it) and loads the state it
//  holds. Returns NULL with a one-line reason in err.
zb_monitor_t *zb_monitor_new(const zb_monitor_config_t *config, char *err, size_t errsize);

//  Writes what is kept only in memory (last seen times), closes the store.
//  After it only memory is left: zb_monitor_destroy frees it (a process
//  about to exit may leave that to the system, see main.c).
void zb_monitor_close(zb_monitor_t *self);

//  zb_monitor_close, then frees everything.
void zb_monitor_destroy(zb_monitor_t **self_p);

//  Binds and runs until SIGINT/SIGTERM. Returns 0, or -1 when the socket
//  could not be set up (logged).
int zb_monitor_run(zb_monitor_t *self);

//  One decoded message, received at the given clocks.
void zb_monitor_handle(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall);

//  One transition replayed from an agent's journal (zb_replay), applied at
//  most once per (host, instance, seq): newer than what the monitor knows
//  of the service (or the service unknown), it is applied as if heard live;
//  older, it only fills the outage history behind the current state.
//  Returns 1 when applied, 0 when seen before, -1 on error (not applied).
int zb_monitor_replay(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall);

//  An agent's report over its replay channel (zb_replay): pending journal
//  entries its run `instance` has not had acknowledged by this monitor.
//  Kept per host and written to the database (hosts.replay_pending).
//  Returns 0, or -1 for a host this monitor does not track (ignored).
int zb_monitor_replay_status(zb_monitor_t *self, const char *host, const char *instance,
                             uint64_t pending, int64_t now_wall);

//  Counts a message refused by zb_auth outside the SUB socket (`rejected`).
void zb_monitor_rejected(zb_monitor_t *self);

//  True when host is one of this monitor's (monitor/hosts; every host when
//  unset); otherwise counts it (`foreign`, the first one logged).
bool zb_monitor_owns(zb_monitor_t *self, const char *host);

//  Flags hosts silent for liveness x their interval; runs the alerting
//  policy's tick when a second has passed since the last.
void zb_monitor_sweep(zb_monitor_t *self, int64_t now_mono, int64_t now_wall);

//  Starts the transaction of a pass before its first change in memory that
//  may write (a pass that writes nothing begins none): -1 when the
//  database cannot be written now (another process holds its write lock,
//  or an error). The pass must then leave its input where it is (the
//  queues, the agents' journals), so that no change is made in memory that
//  the database would not get; the running monitor stops reading input and
//  tries again from a timer (it never sleeps), and says so once the lock
//  has lasted the busy timeout (5 s). Begun already, it returns 0 at once.
int zb_monitor_begin(zb_monitor_t *self);

//  One message of a pass: zb_monitor_handle, after zb_monitor_begin unless
//  the message changes memory alone (zb_fleet_quiet: a thin beat of a known
//  host, or a full one repeating its table), with one lookup of its host.
//  -1 when it could not begin: the message was not handled.
int zb_monitor_take(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall);

//  Commits the writes of this pass, if it began a transaction. Returns 0
//  or -1.
int zb_monitor_commit(zb_monitor_t *self);

void zb_monitor_stats(zb_monitor_t *self, zb_monitor_stats_t *stats);

//  Live reload (zb_reload): fn(arg) is called from the loop whenever fd is
//  readable (a signalfd for SIGHUP). Set before zb_monitor_run.
typedef void(zb_monitor_hangup_fn)(void *arg);
void zb_monitor_set_hangup(zb_monitor_t *self, int fd, zb_monitor_hangup_fn *fn, void *arg);

//  Applies new settings to the running monitor, from the loop: liveness,
//  retention (pruning re-run), flapping, repeat, alert channels and their
//  filters, the publish endpoint. Refuses them (-1, one line in err, the
//  old settings stay whole) when db, bind, replay, cert or agents differ,
//  or the new publish endpoint cannot be bound.
int zb_monitor_apply(zb_monitor_t *self, const zb_monitor_config_t *config, char *err,
                     size_t errsize);

//  The same from any thread: a copy taken at the end of the last loop pass.
void zb_monitor_snapshot(zb_monitor_t *self, zb_monitor_stats_t *stats);

//  Latest round trips and outage counts (zb_series: safe from any thread).
zb_series_t *zb_monitor_series(zb_monitor_t *self);

//  Admin orders from the HTTP server (zb_orders.h: submit from any thread;
//  the loop carries them out).
typedef struct _zb_orders_t zb_orders_t;
zb_orders_t *zb_monitor_orders(zb_monitor_t *self);

void zb_monitor_test(bool verbose);

#endif
