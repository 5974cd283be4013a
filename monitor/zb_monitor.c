/*  zb_monitor: the actor around the fleet. It owns the sockets (the agents'
    SUB, the alert PUB, the replay ROUTER through zb_replay), the loop and
    its timers, the transaction of every pass, the stats, checkpoints,
    pruning and live reload.

    What the fleet is and how it changes is zb_fleet's (the outage rules);
    which alerts that makes is zb_policy's. zb_fleet's effects come back
    here through its sink and become zb_store writes in the transaction of
    the current loop pass, state messages queued for the PUB socket, and
    zb_policy's moments. What changes on every message (last seen, sequence
    numbers) stays in memory and is checkpointed every few seconds and at
    exit (zb_heard). Nothing is published, and no delivery is woken, before
    the pass commits. The agents' socket is set up by zb_inlet, the
    counters kept by zb_tally.
*/
#include "zb_monitor.h"
#include "zb_monitor_internal.h"
#include "zb_intake.h"
#include "zb_auth.h"
#include "zb_dispatch.h"
#include "zb_fleet.h"
#include "zb_heard.h"
#include "zb_inlet.h"
#include "zb_log.h"
#include "zb_orders.h"
#include "zb_policy.h"
#include "zb_pulse.h"
#include "zb_record.h"
#include "zb_series.h"
#include "zb_replay.h"
#include "zb_store.h"
#include "zb_stream.h"
#include "zb_tally.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZB_MONITOR_DRAIN 2000         // messages handled per pass, one transaction
#define ZB_MONITOR_DRAIN_MS 10        // ...and input taken for at most this long
#define ZB_MONITOR_PRUNE_MS 3600000   // retention pass period
#define ZB_MONITOR_PRUNE_BATCH 1000   // outages deleted per transaction
#define ZB_MONITOR_ALERT_TICK_MS 1000 // silences re-read, flapping and reminders checked
//  After a pass could not begin its transaction (zb_monitor_begin), input
//  is left unread this long before the next try.
#define ZB_MONITOR_LOCKED_WAIT_MS 1000
//  Another process's write lock is waited for this long (the store's busy
//  timeout) before it is an error, tried again this often: in the loop,
//  never asleep in it.
#define ZB_MONITOR_LOCK_MS 5000
#define ZB_MONITOR_LOCK_RETRY_MS 10

_Static_assert(ZB_MONITOR_MAX_HOSTS == ZB_FLEET_MAX_HOSTS, "one host cap");
_Static_assert(ZB_MONITOR_MAX_SERVICES == ZB_FLEET_MAX_SERVICES, "one service cap");

//  --------------------------------------------------------------------------
//  Input, at the clocks given

//  The policy acts inside the fleet's calls: it gets their clocks first.
static void s_clock(zb_monitor_t *self, int64_t now_mono, int64_t now_wall)
{
    zb_policy_clock(self->policy, now_mono, now_wall);
}

//  msg applied; host is its host as zb_fleet_quiet found it (NULL: new).
static void s_handle(zb_monitor_t *self, const zb_msg_t *msg, zb_fleet_host_t *host,
                     int64_t now_mono, int64_t now_wall)
{
    s_clock(self, now_mono, now_wall);
    zb_fleet_handle(self->fleet, msg, host, now_mono, now_wall);
    //  Round trips for /metrics and the page (the database keeps none). A
    //  thin beat has none: the latest stay those of the last full beat.
    if (!msg->thin)
        zb_series_beat(self->series, msg, now_wall);
}

void zb_monitor_handle(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg);
    s_handle(self, msg, zb_fleet_host(self->fleet, msg->host), now_mono, now_wall);
}

zb_series_t *zb_monitor_series(zb_monitor_t *self)
{
    assert(self);
    return self->series;
}

int zb_monitor_replay(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg && msg->type == ZB_MSG_EVENT);
    s_clock(self, now_mono, now_wall);
    return zb_fleet_replay(self->fleet, msg, now_mono, now_wall);
}

//  When the policy's tick (and the forgetting of old heard keys) is next
//  due: now on the first pass, then every ZB_MONITOR_ALERT_TICK_MS.
static int64_t s_alert_tick_at(zb_monitor_t *self, int64_t now_mono)
{
    return self->alert_tick_mono ? self->alert_tick_mono + ZB_MONITOR_ALERT_TICK_MS : now_mono;
}

//  Until when the loop has heard everything: now, or just before the
//  oldest message its input still holds (zb_intake_seen). A host is
//  judged silent as of then, not now: its beat may wait in that backlog
//  (the loop behind a locked database, a checkpoint, a fleet joining
//  faster than it writes), and calling every host silent whose beat waits
//  there would bury the monitor in outages it must then close, deeper
//  behind. A host that is silent is so flagged once the loop has read up
//  to its deadline.
//  Input lost (dropped because its bytes were full, or left unread while
//  the process stood still) is told to the fleet: any message lost may
//  have been any host's beat (zb_fleet_input_lost).
static int64_t s_heard_until(zb_monitor_t *self, int64_t now_mono)
{
    if (!self->intake)
        return now_mono;
    int64_t lost, seen = zb_intake_seen(self->intake, now_mono, &lost);
    zb_fleet_input_lost(self->fleet, lost);
    return seen <= now_mono ? seen - 1 : now_mono;
}

//  The sweep with heard from s_heard_until, which the pass has read once.
static void s_sweep(zb_monitor_t *self, int64_t now_mono, int64_t now_wall, int64_t heard)
{
    s_clock(self, now_mono, now_wall);
    zb_fleet_sweep(self->fleet, heard, now_wall - (now_mono - heard));
    if (s_alert_tick_at(self, now_mono) <= now_mono) {
        self->alert_tick_mono = now_mono;
        zb_heard_forget(&self->record, now_wall);
        zb_policy_tick(self->policy, self->fleet);
    }
}

void zb_monitor_sweep(zb_monitor_t *self, int64_t now_mono, int64_t now_wall)
{
    assert(self);
    s_sweep(self, now_mono, now_wall, s_heard_until(self, now_mono));
}

//  The counters of the fleet, the datagram reader and the input.
static void s_count(zb_monitor_t *self)
{
    zb_tally_count(&self->stats, self->fleet, self->pulse);
    if (self->intake)
        zb_intake_stats(self->intake, &self->stats.input);
}

//  Ends a pass: times the commit when it wrote, and copies the counters
//  where other threads can read them (zb_monitor_snapshot).
static void s_share(zb_monitor_t *self, bool wrote, bool ok, int64_t took_us)
{
    s_count(self);
    if (wrote)
        zb_tally_commit(&self->stats, took_us);
    self->stats.tls_warn_ms = self->config.tls_warn_ms; // a reload may change it
    self->stats.db_begins = zb_store_begins(self->store);
    zb_tally_share(&self->shared, &self->stats, wrote && ok, zb_store_kept(self->store),
                   self->lock_told);
}

static int s_on_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int s_on_pass(zloop_t *loop, int timer_id, void *arg);

//  The next sweep pass at the nearest deadline: a host going silent, the
//  policy's tick, or (locked out) the retry. Only ever brought forward
//  here; a pass that finds nothing due sets the next one.
static void s_schedule(zb_monitor_t *self)
{
    if (!self->loop)
        return;
    int64_t now = zb_time_mono_ms();
    int64_t wake = self->retry_mono;
    if (!self->locked_out) {
        wake = zb_fleet_deadline(self->fleet, now);
        int64_t tick = s_alert_tick_at(self, now);
        if (tick < wake)
            wake = tick;
    }
    if (self->pass_timer != -1 && self->pass_mono <= wake)
        return;
    if (self->pass_timer != -1)
        zloop_timer_end(self->loop, self->pass_timer);
    self->pass_mono = wake;
    self->pass_timer =
        zloop_timer(self->loop, wake > now ? (size_t)(wake - now) : 0, 1, s_on_pass, self);
}

//  Input waits in its queues (the intake's, the agents' journals) while
//  the database cannot be written; polling it then would spin the loop.
static void s_pause(zb_monitor_t *self, bool pause)
{
    if (!self->loop || !self->intake || self->paused == pause)
        return;
    self->paused = pause;
    zmq_pollitem_t input = {NULL, zb_intake_fd(self->intake), ZMQ_POLLIN, 0};
    if (pause)
        zloop_poller_end(self->loop, &input);
    else if (zloop_poller(self->loop, &input, s_on_readable, self) != 0)
        zb_log_error("cannot read input again: out of memory");
    if (self->replay)
        zb_replay_server_pause(self->replay, pause);
}

int zb_monitor_begin(zb_monitor_t *self)
{
    assert(self);
    int64_t start = zb_time_mono_ms();
    //  In the loop, a lock held by another process is not slept through
    //  (the busy timeout would): it fails at once and is tried again by a
    //  timer, input left unread, until it has lasted as long as the busy
    //  timeout. Stopping (or outside the loop) it may wait.
    int rc = self->loop && !self->stopping ? zb_store_try_begin(self->store)
                                           : zb_store_begin(self->store);
    if (rc == 0) {
        if (self->lock_told)
            zb_log_warning("database writable again: reading input");
        self->locked_out = self->lock_told = false;
        self->lock_since = 0;
        s_pause(self, false);
        return 0;
    }
    if (rc == -2 && !self->lock_since)
        self->lock_since = start;
    if (rc == -2 && !self->lock_told && start - self->lock_since < ZB_MONITOR_LOCK_MS) {
        self->locked_out = true;
        self->retry_mono = start + ZB_MONITOR_LOCK_RETRY_MS;
        s_pause(self, true);
        s_schedule(self);
        return -1;
    }
    if (!self->lock_told)
        zb_log_error("database: %s; input waits in the queues until it can be written",
                     zb_store_error(self->store));
    self->locked_out = self->lock_told = true;
    self->stats.db_errors++;
    s_share(self, false, false, 0);
    //  An error that fails at once (a read-only file) must not make the
    //  loop spin on input it leaves unread: input is not read until a timer
    //  tries again.
    self->retry_mono = start + ZB_MONITOR_LOCKED_WAIT_MS;
    s_pause(self, true);
    s_schedule(self);
    return -1;
}

int zb_monitor_commit(zb_monitor_t *self)
{
    assert(self);
    bool wrote = zb_store_pending(self->store);
    int64_t start_us = zb_time_mono_us();
    bool ok = zb_store_commit(self->store) == 0;
    if (!ok)
        self->stats.db_errors++;
    s_share(self, wrote, ok, zb_time_mono_us() - start_us);
    //  Only what is committed leaves the monitor: a rolled-back alert was
    //  never made.
    zb_stream_flush(self->stream, ok);
    if (zb_policy_poked(self->policy) && ok && self->dispatch)
        zb_dispatch_poke(self->dispatch);
    s_schedule(self);
    return ok ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  The monitor's own liveness, and how far behind agents' replay it is

void zb_monitor_rejected(zb_monitor_t *self)
{
    assert(self);
    self->stats.rejected++;
}

bool zb_monitor_owns(zb_monitor_t *self, const char *host)
{
    assert(self && host);
    return zb_inlet_owns(self->config.hosts, host, &self->stats.foreign);
}

int zb_monitor_replay_status(zb_monitor_t *self, const char *name, const char *instance,
                             uint64_t pending, int64_t now_wall)
{
    assert(self && name && instance);
    //  Written at once when it changes (the CLI sees "behind" and "caught
    //  up" promptly) or is the first since this monitor started; otherwise
    //  only its time moves, written by the next s_alive pass. While commits
    //  fail, nothing new is queued: s_alive writes it once they succeed.
    int changed =
        zb_fleet_replay_status(self->fleet, name, instance, pending, now_wall, self->started_wall);
    if (changed < 0)
        return -1;
    if (changed && zb_store_kept(self->store) == 0)
        zb_heard_write(&self->record, zb_fleet_host(self->fleet, name));
    return 0;
}

void zb_monitor_stats(zb_monitor_t *self, zb_monitor_stats_t *stats)
{
    assert(self && stats);
    s_count(self);
    if (self->store)
        self->stats.db_begins = zb_store_begins(self->store);
    *stats = self->stats;
}

zb_orders_t *zb_monitor_orders(zb_monitor_t *self)
{
    assert(self);
    return self->orders;
}

//  The transaction of a pass, for zb_orders_pass and zb_replay.
static int s_begin(void *arg)
{
    return zb_monitor_begin(arg);
}

static int s_commit(void *arg)
{
    return zb_monitor_commit(arg);
}

//  Admin orders from the HTTP server, in a pass of their own.
static void s_orders_pass(zb_monitor_t *self)
{
    zb_orders_pass(self->orders, self->store, self->fleet, s_begin, s_commit, self);
}

//  Woken by a submitter; locked out, the orders wait for a pass that can
//  begin (s_on_pass tries them after its own).
static int s_on_orders(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    zb_monitor_t *self = arg;
    zb_orders_clear(self->orders);
    if (!self->locked_out)
        s_orders_pass(self);
    return 0;
}

void zb_monitor_snapshot(zb_monitor_t *self, zb_monitor_stats_t *stats)
{
    assert(self && stats);
    zb_tally_shared_read(&self->shared, stats);
}

//  --------------------------------------------------------------------------
//  Loading the state a previous run left

zb_monitor_t *zb_monitor_new(const zb_monitor_config_t *config, char *err, size_t errsize)
{
    assert(config && err);
    zb_monitor_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->hangup_fd = -1;
    self->pass_timer = -1;
    self->stats.db_ok = true;
    self->stats.tls_warn_ms = config->tls_warn_ms;
    zb_tally_shared_init(&self->shared, &self->stats);
    self->prune_timer = -1;
    self->malformed.count = &self->stats.decode_errors;
    self->stream = zb_stream_new();
    self->series = zb_series_new();
    self->fleet = zb_fleet_new(&zb_record_sink, &self->record, config->liveness);
    if (self->fleet) {
        zb_fleet_set_max_hosts(self->fleet, (size_t)config->max_hosts);
        zb_fleet_set_detector(self->fleet, config->liveness_min_ms, config->liveness_max_ms,
                              config->phi);
    }
    self->orders = zb_orders_new();
    if (!self->stream || !self->fleet || !self->series || !self->orders) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    self->store = zb_store_open(config->db, err, errsize);
    if (!self->store)
        goto failed;
    self->policy = zb_policy_new(&self->config, self->store, &zb_record_policy_io, &self->record);
    if (!self->policy) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    self->record = (zb_record_t){.store = self->store,
                                 .fleet = self->fleet,
                                 .policy = self->policy,
                                 .stream = self->stream,
                                 .series = self->series,
                                 .db_errors = &self->stats.db_errors};
    s_clock(self, zb_time_mono_ms(), zb_time_wall_ms());
    if (zb_record_load(&self->record) != 0) {
        snprintf(err, errsize, "%s", zb_store_error(self->store));
        goto failed;
    }
    return self;

failed:
    zb_monitor_destroy(&self);
    return NULL;
}

void zb_monitor_close(zb_monitor_t *self)
{
    assert(self && !self->loop);
    if (self->store && self->policy)
        zb_monitor_checkpoint(self);
    zb_policy_destroy(&self->policy);
    zb_store_destroy(&self->store);
}

void zb_monitor_destroy(zb_monitor_t **self_p)
{
    assert(self_p);
    zb_monitor_t *self = *self_p;
    if (!self)
        return;
    zb_monitor_close(self);
    zb_fleet_destroy(&self->fleet);
    zb_msg_destroy(&self->held);
    zb_stream_destroy(&self->stream);
    zb_series_destroy(&self->series);
    zb_orders_destroy(&self->orders);
    zb_tally_shared_destroy(&self->shared);
    free(self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  The loop

int zb_monitor_take(zb_monitor_t *self, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    assert(self && msg);
    //  A message that writes nothing is let in without a transaction.
    //  Its host is looked up once, here, and handed on.
    zb_fleet_host_t *host;
    bool quiet = zb_fleet_quiet(self->fleet, msg, &host);
    if (!quiet && zb_monitor_begin(self) != 0)
        return -1;
    uint64_t writes = zb_store_writes(self->store);
    s_handle(self, msg, host, now_mono, now_wall);
    //  A message let in without a transaction wrote nothing (checked
    //  wherever asserts are on, the suite's builds among them; the fleet's
    //  self-test checks the same at the sink).
    assert(!quiet || zb_store_writes(self->store) == writes);
    (void)writes;
    return 0;
}

//  Handles what the SUB socket holds, up to ZB_MONITOR_DRAIN messages,
//  in the pass's transaction, begun at the first message that may write
//  (the caller commits it, if begun). A message that could not begin one
//  is held, and handled first when the database can be written.
static void s_take_input(zb_monitor_t *self)
{
    //  A pass ends after ZB_MONITOR_DRAIN_MS too: under a flood of large
    //  frames, what was taken is committed (and alerted) without waiting
    //  for thousands more. That clock read is the message's time as well.
    int64_t now = zb_time_mono_ms(), until = now + ZB_MONITOR_DRAIN_MS;
    for (int i = 0; i < ZB_MONITOR_DRAIN && now < until; i++, now = zb_time_mono_ms()) {
        zb_msg_t *msg = self->held; // passed the checks below when taken
        self->held = NULL;
        if (!msg) {
            char why[256] = "", user_id[64] = "";
            int rc = zb_intake_take(self->intake, &msg, user_id, sizeof(user_id), why, sizeof(why));
            if (rc == -2)
                break;
            if (rc == -1) {
                zb_inlet_malformed(&self->malformed, why);
                continue;
            }
            //  A shard subscribes to its hosts' prefixes only, but a prefix of
            //  a name matches longer names, and a relay or agent may send more.
            if (!zb_monitor_owns(self, msg->host)) {
                zb_msg_destroy(&msg);
                continue;
            }
            //  Only the host bound to the sender's key (CURVE; zb_auth logs).
            if (zb_auth_check(self->auth, user_id, msg->host) != 0) {
                self->stats.rejected++;
                zb_msg_destroy(&msg);
                continue;
            }
        }
        if (zb_monitor_take(self, msg, now, zb_time_wall_ms()) != 0) {
            self->held = msg;
            break;
        }
        zb_msg_destroy(&msg);
    }
}

//  One pass of input alone.
static void s_drain(zb_monitor_t *self)
{
    if (!self->intake)
        return;
    s_take_input(self);
    zb_monitor_commit(self);
}

static int s_on_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_drain(arg);
    return 0;
}

//  The sweep pass, at the nearest deadline (s_schedule). Locked out, it is
//  the retry: input is read again and this pass tries to begin.
static int s_on_pass(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zb_monitor_t *self = arg;
    self->pass_timer = -1;
    //  Locked out, this pass is the retry: it begins before anything else.
    if (self->locked_out && zb_monitor_begin(self) != 0)
        return 0;
    //  What is already queued counts before anyone is called silent: after
    //  a stall of the monitor itself, every host would look quiet.
    s_take_input(self);
    if (self->held)
        return 0; // could not begin: the retry is scheduled
    if (self->pulse)
        zb_pulse_read(self->pulse); // no transaction: moves deadlines alone
    //  The sweep writes only when a host is due or the policy's tick is: a
    //  pass that finds nothing due (a host heard since) begins nothing.
    int64_t now = zb_time_mono_ms(), heard = s_heard_until(self, now);
    bool due = zb_fleet_deadline(self->fleet, now) <= heard || s_alert_tick_at(self, now) <= now;
    if (due && zb_monitor_begin(self) != 0)
        return 0;
    s_sweep(self, now, zb_time_wall_ms(), heard);
    zb_monitor_commit(self);
    s_orders_pass(self);
    return 0;
}

//  One batch per call, so a large backlog never stalls ingest; the next
//  batch is scheduled right after until the backlog is gone.
static int s_on_prune(zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    zb_monitor_t *self = arg;
    self->prune_timer = -1;
    if (zb_monitor_begin(self) != 0) {
        //  Locked by another process, most often for moments (a CLI's
        //  write): tried again soon, not a retention period later.
        self->prune_timer = zloop_timer(loop, ZB_MONITOR_LOCKED_WAIT_MS, 1, s_on_prune, self);
        return 0;
    }
    int64_t before = zb_time_wall_ms() - self->config.retention_ms;
    int deleted = zb_store_prune(self->store, before, ZB_MONITOR_PRUNE_BATCH);
    if (deleted < 0)
        zb_record_result(&self->record, deleted); // counted and logged there
    zb_monitor_commit(self);
    if (deleted > 0)
        zb_log_info("pruned %d outages and alerts older than the retention period", deleted);
    if (deleted >= ZB_MONITOR_PRUNE_BATCH)
        self->prune_timer = zloop_timer(loop, 10, 1, s_on_prune, self);
    return 0;
}

static int s_on_prune_period(zloop_t *loop, int timer_id, void *arg)
{
    zb_monitor_t *self = arg;
    if (self->prune_timer == -1)
        s_on_prune(loop, timer_id, arg);
    return 0;
}

void zb_monitor_set_hangup(zb_monitor_t *self, int fd, zb_monitor_hangup_fn *fn, void *arg)
{
    assert(self && fd >= 0 && fn && !self->loop);
    self->hangup_fd = fd;
    self->hangup = fn;
    self->hangup_arg = arg;
}

static int s_on_hangup(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    zb_monitor_t *self = arg;
    self->hangup(self->hangup_arg);
    return 0;
}

static int s_hangup_attach(zb_monitor_t *self)
{
    if (self->hangup_fd == -1)
        return 0;
    zmq_pollitem_t item = {NULL, self->hangup_fd, ZMQ_POLLIN, 0};
    if (zloop_poller(self->loop, &item, s_on_hangup, self) != 0) {
        zb_log_error("cannot watch for SIGHUP");
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Live reload (zb_reload calls zb_monitor_apply from the loop).

int zb_monitor_apply(zb_monitor_t *self, const zb_monitor_config_t *config, char *err,
                     size_t errsize)
{
    assert(self && config && err && self->loop);
    zb_monitor_config_t *old = &self->config;
    if (zb_monitor_config_reloadable(old, config, err, errsize) != 0)
        return -1;
    if (strcmp(old->publish, config->publish) != 0) {
        if (zb_stream_rebind(self->stream, config->publish, err, errsize) != 0)
            return -1;
        zb_log_info("reload: publish %s", *config->publish ? config->publish : "off");
    }
    //  Nothing below fails the reload.
    zb_monitor_config_log_changes(old, config);
    bool flap_threshold_changed = old->flap_threshold != config->flap_threshold;
    bool prune = old->retention_ms != config->retention_ms;
    if (self->dispatch && zb_dispatch_reload(self->dispatch, config) != 0)
        zb_log_error("reload: some alert channels did not start; their deliveries wait");
    *old = *config;
    zb_fleet_set_liveness(self->fleet, config->liveness);
    zb_fleet_set_max_hosts(self->fleet, (size_t)config->max_hosts);
    zb_fleet_set_detector(self->fleet, config->liveness_min_ms, config->liveness_max_ms,
                          config->phi);
    //  Deliveries are made with the new channels from the next alert on.
    if (prune && self->prune_timer == -1)
        self->prune_timer = zloop_timer(self->loop, 1, 1, s_on_prune, self);
    zb_policy_reloaded(self->policy, self->fleet, flap_threshold_changed);
    s_schedule(self); // a shorter liveness may make hosts due now
    return 0;
}

//  zb_pulse's way in: an authentic, new datagram. No transaction: it only
//  moves a deadline of a host that is alive (zb_fleet_heard).
static int s_pulse_heard(void *arg, const zb_datagram_t *dg)
{
    zb_monitor_t *self = arg;
    return zb_fleet_heard(self->fleet, dg->host, dg->instance, dg->seq, dg->interval_ms,
                          zb_time_mono_ms(), zb_time_wall_ms());
}

static int s_on_datagrams(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    zb_monitor_t *self = arg;
    zb_pulse_read(self->pulse);
    s_schedule(self); // a host's threshold may have shrunk
    return 0;
}

//  zb_replay's way in: the same passes and rules as live input.
static int s_intake_apply(void *arg, const zb_msg_t *msg, int64_t now_mono, int64_t now_wall)
{
    return zb_monitor_replay(arg, msg, now_mono, now_wall);
}

static int s_intake_status(void *arg, const char *host, const char *instance, uint64_t pending,
                           int64_t now_wall)
{
    return zb_monitor_replay_status(arg, host, instance, pending, now_wall);
}

static void s_intake_rejected(void *arg)
{
    zb_monitor_rejected(arg);
}

static bool s_intake_owns(void *arg, const char *host)
{
    return zb_monitor_owns(arg, host);
}

static const zb_replay_intake_t s_intake = {
    .begin = s_begin,
    .commit = s_commit,
    .apply = s_intake_apply,
    .status = s_intake_status,
    .rejected = s_intake_rejected,
    .owns = s_intake_owns,
};

int zb_monitor_run(zb_monitor_t *self)
{
    assert(self);
    int rc = -1;
    self->sub = zb_inlet_new(self->config.max_services, self->config.hosts);
    self->loop = zloop_new();
    if (!self->sub || !self->loop) {
        zb_log_error("cannot create the socket or loop");
        goto done;
    }
    //  Authentication first: binding without it would admit anyone.
    char why[600];
    self->auth = zb_auth_new(self->sub, self->config.cert, self->config.agents, self->config.bind,
                             why, sizeof(why));
    if (!self->auth) {
        zb_log_error("%s", why);
        goto done;
    }
    if (zb_inlet_bind(self->sub, self->config.bind, "listening") != 0)
        goto done;
    if (self->config.publish[0] && zb_stream_bind(self->stream, self->config.publish) != 0)
        goto done;
    char err[600];
    self->dispatch = zb_dispatch_new(&self->config, err, sizeof(err));
    if (!self->dispatch) {
        zb_log_error("%s", err);
        goto done;
    }
    if (self->config.channel_count)
        zb_log_info("alerting to %zu channel%s", self->config.channel_count,
                    self->config.channel_count == 1 ? "" : "s");
    zb_log_info("monitor started: db %s, liveness %d, %zu hosts known", self->config.db,
                self->config.liveness, zb_fleet_size(self->fleet));
    //  From here on the intake's thread alone reads the socket.
    self->intake = zb_intake_new(self->sub, 0, 0);
    zmq_pollitem_t input = {NULL, self->intake ? zb_intake_fd(self->intake) : -1, ZMQ_POLLIN, 0};
    if (!self->intake || zloop_poller(self->loop, &input, s_on_readable, self) != 0) {
        zb_log_error("cannot start reading input");
        goto done;
    }
    if (zb_auth_attach(self->auth, self->loop) != 0) {
        zb_log_error("cannot watch the allow-list");
        goto done;
    }
    if (self->config.replay[0]) {
        self->replay =
            zb_replay_server_new(&s_intake, self, self->loop, self->config.replay, self->auth);
        if (!self->replay)
            goto done;
    }
    if (self->config.udp[0]) {
        self->pulse =
            zb_pulse_new(self->config.udp, self->auth, s_pulse_heard, self, why, sizeof(why));
        zmq_pollitem_t datagrams = {NULL, self->pulse ? zb_pulse_fd(self->pulse) : -1, ZMQ_POLLIN,
                                    0};
        if (!self->pulse || zloop_poller(self->loop, &datagrams, s_on_datagrams, self) != 0) {
            zb_log_error("%s", self->pulse ? "cannot read liveness datagrams" : why);
            goto done;
        }
        zb_log_info("liveness datagrams on udp %s (port %d)%s", self->config.udp,
                    zb_pulse_port(self->pulse),
                    zb_auth_enabled(self->auth) ? ", sealed (CURVE)" : "");
    }
    if (s_hangup_attach(self) != 0)
        goto done;
    zmq_pollitem_t orders = {NULL, zb_orders_fd(self->orders), ZMQ_POLLIN, 0};
    if (zloop_poller(self->loop, &orders, s_on_orders, self) != 0) {
        zb_log_error("cannot watch for admin orders");
        goto done;
    }
    s_schedule(self);
    zloop_timer(self->loop, ZB_MONITOR_ALIVE_MS, 0, zb_monitor_on_alive, self);
    zloop_timer(self->loop, ZB_MONITOR_HEARD_TICK_MS, 0, zb_monitor_on_heard, self);
    self->started_wall = zb_time_wall_ms();
    zb_monitor_alive(self, -1);
    zloop_timer(self->loop, ZB_MONITOR_PRUNE_MS, 0, s_on_prune_period, self);
    self->prune_timer = zloop_timer(self->loop, 1, 1, s_on_prune, self);
    //  Returns on SIGINT/SIGTERM (czmq's handler sets zsys_interrupted).
    zloop_start(self->loop);
    self->stopping = true;
    s_drain(self);
    zb_monitor_alive(self, zb_time_wall_ms());
    s_count(self);
    zb_tally_log_stop(&self->stats, self->pulse != NULL);
    rc = 0;
done:
    zb_replay_server_destroy(&self->replay);
    zb_dispatch_destroy(&self->dispatch);
    if (self->pulse) {
        zb_tally_count(&self->stats, self->fleet,
                       self->pulse); // its counters, for the stats read after the run
        zb_pulse_destroy(&self->pulse);
    }
    zb_stream_close(self->stream);
    zloop_destroy(&self->loop);
    zb_intake_destroy(&self->intake); // the socket is this thread's again
    zb_auth_destroy(&self->auth);     // stops watching the socket: before it goes
    zsock_destroy(&self->sub);
    return rc;
}
