/*  zb_replay: journal replay to monitors until acked. See zb_replay.h. */
#include "zb_replay.h"
#include "zb_log.h"
#include "zb_time.h"
#include "zb_watch.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NO_STATUS UINT64_MAX // no STATUS sent yet

typedef struct {
    zb_replay_t *owner;
    unsigned bit;         // its acked bit in the journal
    char *endpoint;       // for logs
    zsock_t *dealer;      // connected to the monitor's ROUTER
    zb_watch_t *watch;    // the dealer's connection: re-connects after a refused key
    int fd;               // ZMQ_FD, in the loop
    int64_t status_mono;  // last STATUS sent
    uint64_t status_sent; // the count it carried, S_NO_STATUS before the first
    uint64_t cursor;      // first id not acked
    uint64_t sent;        // ids below this (from cursor) are in flight
    int64_t progress;     // monotonic ms of the last send or ack
    bool behind_logged;   // "N transitions to replay" said
    bool synced;          // everything held at start was acked once
} s_peer_t;

struct _zb_replay_t {
    zb_loop_t *loop;
    zb_journal_t *journal;
    s_peer_t peers[ZB_REPLAY_MAX_ENDPOINTS];
    size_t count;
    zb_timer_t timer;                   // retries and STATUS reports
    int64_t beat_ms;                    // STATUS period
    char host[ZB_NAME_MAX + 1];         // this agent's, for STATUS
    char instance[ZB_INSTANCE_LEN + 1]; // this run's, for STATUS
};

static uint64_t s_pending(s_peer_t *p);

//  Sends from p->sent while the window and the socket allow.
static void s_send(s_peer_t *p)
{
    zb_journal_t *journal = p->owner->journal;
    uint64_t end = zb_journal_end(journal);
    if (p->cursor < zb_journal_first(journal))
        p->cursor = zb_journal_first(journal);
    if (p->sent < p->cursor)
        p->sent = p->cursor;
    void *handle = zsock_resolve(p->dealer);
    while (p->sent < end && p->sent - p->cursor < ZB_REPLAY_WINDOW) {
        if (zb_journal_acked(journal, p->sent, p->bit)) {
            p->sent++;
            continue;
        }
        const char *topic = zb_journal_topic(journal, p->sent);
        const char *json = zb_journal_json(journal, p->sent);
        size_t topic_len = (size_t)(json - 1 - topic);
        //  ZMQ_IMMEDIATE: EAGAIN while not connected; the retry timer
        //  tries again.
        if (zmq_send(handle, "EVENT", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
            break;
        zmq_send(handle, topic, topic_len, ZMQ_SNDMORE);
        zmq_send(handle, json, strlen(json), 0);
        p->sent++;
        p->progress = zb_time_mono_ms();
    }
}

static void s_advance(s_peer_t *p)
{
    zb_journal_t *journal = p->owner->journal;
    uint64_t end = zb_journal_end(journal);
    if (p->cursor < zb_journal_first(journal))
        p->cursor = zb_journal_first(journal);
    while (p->cursor < end && zb_journal_acked(journal, p->cursor, p->bit))
        p->cursor++;
    if (p->cursor == end && !p->synced) {
        zb_log_info("replay %s: journal of %" PRIu64 " transitions acknowledged", p->endpoint,
                    end - zb_journal_first(journal));
        p->synced = true;
    }
    if (p->cursor == end && p->behind_logged) {
        zb_log_info("replay %s: monitor caught up", p->endpoint);
        p->behind_logged = false;
    }
}

static void s_on_ack(s_peer_t *p, const char *instance, uint64_t seq)
{
    zb_journal_t *journal = p->owner->journal;
    uint64_t end = zb_journal_end(journal);
    if (p->cursor < zb_journal_first(journal))
        p->cursor = zb_journal_first(journal);
    //  Acks come in order, mostly for the oldest entry in flight.
    for (uint64_t id = p->cursor; id < end && id < p->sent; id++)
        if (zb_journal_seq(journal, id) == seq &&
            strcmp(zb_journal_instance(journal, id), instance) == 0) {
            zb_journal_set_acked(journal, id, p->bit);
            p->progress = zb_time_mono_ms();
            break;
        }
    s_advance(p);
}

static void s_drain(s_peer_t *p)
{
    for (int i = 0; i < ZB_REPLAY_WINDOW; i++) {
        zmsg_t *msg = zmsg_recv_nowait(p->dealer);
        if (!msg)
            break;
        char *kind = zmsg_popstr(msg);
        char *instance = zmsg_popstr(msg);
        char *seq = zmsg_popstr(msg);
        if (kind && instance && seq && strcmp(kind, "ACK") == 0 &&
            strlen(instance) == ZB_INSTANCE_LEN) {
            s_on_ack(p, instance, strtoull(seq, NULL, 10));
        }
        free(kind);
        free(instance);
        free(seq);
        zmsg_destroy(&msg);
    }
}

//  "STATUS", host, instance, pending: how far behind this monitor is.
//  Dropped when not connected (ZMQ_IMMEDIATE); the next beat says it again.
static void s_status(s_peer_t *p, int64_t now)
{
    zb_replay_t *self = p->owner;
    uint64_t pending = s_pending(p);
    char count[24];
    snprintf(count, sizeof(count), "%" PRIu64, pending);
    void *handle = zsock_resolve(p->dealer);
    if (zmq_send(handle, "STATUS", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return;
    zmq_send(handle, self->host, strlen(self->host), ZMQ_SNDMORE);
    zmq_send(handle, self->instance, strlen(self->instance), ZMQ_SNDMORE);
    zmq_send(handle, count, strlen(count), 0);
    p->status_mono = now;
    p->status_sent = pending;
}

//  Sends and reads acks until nothing is readable. ZMQ_FD is edge-like:
//  any send may consume its wake-up, so ZMQ_EVENTS is checked after each
//  round; a backlog beyond the rounds is picked up by the timer.
static void s_pump(s_peer_t *p)
{
    for (int round = 0; round < 64; round++) {
        s_send(p);
        if (!(zsock_events(p->dealer) & ZMQ_POLLIN))
            break;
        s_drain(p);
    }
    //  Caught up: say so at once, not at the next beat.
    if (p->status_sent != 0 && p->status_sent != S_NO_STATUS && s_pending(p) == 0) {
        s_status(p, zb_time_mono_ms());
        //  The send may have consumed ZMQ_FD's wake-up: reading
        //  ZMQ_EVENTS re-arms it.
        zsock_events(p->dealer);
    }
}

static void s_on_readable(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    s_pump(arg);
}

static void s_on_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    zb_replay_t *self = arg;
    int64_t now = zb_loop_now(loop);
    for (size_t i = 0; i < self->count; i++) {
        s_peer_t *p = &self->peers[i];
        s_advance(p);
        uint64_t behind = zb_journal_end(self->journal) - p->cursor;
        if (behind && now - p->progress >= ZB_REPLAY_RETRY_MS) {
            //  Nothing acked for a while: the monitor lost them (restart,
            //  cut) or is away; offer everything unacked again.
            if (!p->behind_logged)
                zb_log_info("replay %s: %" PRIu64 " transitions not yet acknowledged, resending",
                            p->endpoint, behind);
            p->behind_logged = true;
            p->sent = p->cursor;
            p->progress = now;
        }
        if (now - p->status_mono >= self->beat_ms)
            s_status(p, now);
        s_pump(p);
    }
    int64_t period = ZB_REPLAY_RETRY_MS / 4;
    if (self->beat_ms < period)
        period = self->beat_ms;
    zb_loop_timer_set(loop, timer, now + period);
}

zb_replay_t *zb_replay_new(zb_loop_t *loop, zb_journal_t *journal, const char *endpoints,
                           int64_t beat_ms, const zb_curve_keys_t *keys, const char *host,
                           const char *instance)
{
    assert(loop && journal && endpoints && keys && host && instance && beat_ms > 0);
    zb_replay_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zb_log_error("replay: out of memory");
        return NULL;
    }
    self->loop = loop;
    self->journal = journal;
    self->beat_ms = beat_ms;
    snprintf(self->host, sizeof(self->host), "%s", host);
    snprintf(self->instance, sizeof(self->instance), "%s", instance);
    zb_timer_init(&self->timer, s_on_timer, self);
    char *list = strdup(endpoints);
    char *save = NULL;
    if (!list) {
        zb_log_error("replay: out of memory");
        goto failed;
    }
    for (char *item = strtok_r(list, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
        if (self->count == ZB_REPLAY_MAX_ENDPOINTS) {
            zb_log_error("replay: more than %d endpoints", ZB_REPLAY_MAX_ENDPOINTS);
            goto failed;
        }
        s_peer_t *p = &self->peers[self->count];
        p->owner = self;
        p->bit = (unsigned)self->count;
        p->fd = -1;
        p->cursor = zb_journal_first(journal);
        p->sent = p->cursor;
        p->status_sent = S_NO_STATUS;
        p->endpoint = strdup(item);
        p->dealer = zsock_new(ZMQ_DEALER);
        self->count++;
        if (!p->endpoint || !p->dealer) {
            zb_log_error("replay: out of memory");
            goto failed;
        }
        zsock_set_immediate(p->dealer, 1);
        zsock_set_linger(p->dealer, 0);
        zsock_set_sndhwm(p->dealer, ZB_REPLAY_WINDOW * 2);
        //  Before connecting: keys, heartbeats and the watch apply to
        //  connections made afterwards.
        zb_curve_apply(keys, p->dealer);
        zb_watch_heartbeats(p->dealer, beat_ms);
        p->watch = zb_watch_new(loop, p->dealer);
        if (!p->watch)
            goto failed;
        //  Its connection changes are the PUB socket's to log; a refused
        //  key is said here too.
        zb_watch_set_label(p->watch, "monitor (replay)", true);
        if (zsock_connect(p->dealer, "%s", item) == -1) {
            zb_log_error("replay: cannot connect to %s: %s", item, zmq_strerror(zmq_errno()));
            goto failed;
        }
        p->fd = zsock_fd(p->dealer);
        if (zb_loop_add_fd(loop, p->fd, ZB_LOOP_READ, s_on_readable, p) == -1) {
            p->fd = -1;
            zb_log_error("replay: %s", strerror(errno));
            goto failed;
        }
        s_on_readable(loop, p->fd, ZB_LOOP_READ, p); // re-arms ZMQ_FD
    }
    free(list);
    zb_loop_timer_set(loop, &self->timer, zb_time_mono_ms());
    return self;
failed:
    free(list);
    zb_replay_destroy(&self);
    return NULL;
}

void zb_replay_destroy(zb_replay_t **self_p)
{
    assert(self_p);
    zb_replay_t *self = *self_p;
    if (!self)
        return;
    zb_loop_timer_cancel(self->loop, &self->timer);
    for (size_t i = 0; i < self->count; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->fd != -1)
            zb_loop_del_fd(self->loop, p->fd);
        zb_watch_destroy(&p->watch); // before the socket it watches
        zsock_destroy(&p->dealer);
        free(p->endpoint);
    }
    free(self);
    *self_p = NULL;
}

void zb_replay_kick(zb_replay_t *self)
{
    assert(self);
    for (size_t i = 0; i < self->count; i++)
        s_pump(&self->peers[i]);
}

static uint64_t s_pending(s_peer_t *p)
{
    s_advance(p);
    return zb_journal_end(p->owner->journal) - p->cursor;
}

uint64_t zb_replay_pending(zb_replay_t *self, size_t index)
{
    assert(self && index < self->count);
    return s_pending(&self->peers[index]);
}
