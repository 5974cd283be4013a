/*  zb_probe: one TCP service over a persistent connection. See zb_probe.h.

    Connection states and what the one timer means in each:
        CLOSED      no socket; timer: when to connect
        RESOLVING   the name is being looked up for a connect; no timer
                    (the resolver has its own timeouts)
        CONNECTING  connect in progress; timer: connect timeout
        IDLE        connected; timer: next ping, or for a held connection-only
                    check of a name, when the answer runs out (else none)
        HANDSHAKE   TLS handshake under way; timer: its timeout
        WAITING     ping sent; timer: reply timeout
        CLOSING     goodbye said (smtp's QUIT), waiting for the server's answer
                    before closing; timer: its timeout

    A name is looked up again beside a held connection when its answer has
    run out (checked at each ping, or by the IDLE timer without pings) or
    its listener refused; the connection moves only if the answer changed.

    Checks are paced by next_check, which advances one interval per ping so
    checks stay on a steady cadence whatever happens in between. While
    down, reconnects follow a capped exponential backoff instead.

    A ping is sent at the first slot boundary (a multiple of a few ms on the
    monotonic clock) at or after next_check, so the probes due within a slot
    send back to back in one pass and the loop's sleeps end on a slot, not
    on a timer at almost every millisecond: a quarter less CPU at 10,000
    probes (docs/benchmarks.md, item 4). A ping is late by less than one
    slot; timeouts are never rounded.
*/
#include "zb_probe.h"
#include "zb_expect.h"
#include "zb_listencheck.h"
#include "zb_stream.h"
#include "zb_target.h"
#include "zb_verdict.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    S_CLOSED,
    S_RESOLVING,
    S_CONNECTING,
    S_HANDSHAKE,
    S_IDLE,
    S_WAITING,
    S_CLOSING
} s_conn_t;

struct _zb_probe_t {
    zb_loop_t *loop;                 // the agent's loop
    const zb_probe_config_t *config; // not owned
    zb_probe_notify_fn *notify;      // state changes go here
    void *notify_arg;                // for notify
    zb_timer_t timer;                // meaning depends on conn
    int fd;                          // the connection, or -1
    s_conn_t conn;                   // connection state
    zb_verdict_t verdict;            // the service's state, failures and cadence
    zb_target_t target;              // where to connect, and the name's lookup
    int64_t started_us;              // connect or ping start, for rtt
    int64_t connected_ms;            // when this connection was set up
    bool proven;                     // a good reply came on this connection
    int64_t quick_ms;                // last at-once reconnect after an unproven close
    zb_tls_ctx_t *tls_ctx;           // tls: the shared context, or NULL (none could be made)
    zb_tls_t *tls;                   // tls: this connection's session, or NULL
    unsigned generation;             // +1 per close: a handler that closed is seen by its caller
    zb_expect_t expect;              // the reply's judge
    bool ping_now;                   // ping as soon as connected (a request the server closed on)
    zb_listencheck_t listen;         // held: a fresh connect to the listener
};

static void s_on_io(zb_loop_t *loop, int fd, int events, void *arg);
static void s_on_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg);
static void s_connect(zb_probe_t *self);
static int s_lookup(zb_probe_t *self);
static void s_on_resolved(void *arg, const zb_resolve_result_t *result);
static void s_on_peer_closed(zb_probe_t *self, int error);

zb_probe_t *zb_probe_new(zb_loop_t *loop, zb_resolver_t *resolver, const zb_probe_config_t *config,
                         zb_probe_notify_fn *notify, void *arg)
{
    assert(loop && config && notify);
    assert(resolver || config->literal);
    assert(config->timeout_ms > 0 && config->timeout_ms < config->interval_ms);
    assert(config->fails >= 1);
    zb_probe_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->loop = loop;
    self->config = config;
    self->notify = notify;
    self->notify_arg = arg;
    self->fd = -1;
    zb_listencheck_init(&self->listen);
    self->conn = S_CLOSED;
    zb_timer_init(&self->timer, s_on_timer, self);
    zb_target_init(&self->target, resolver, config, self->verdict.status.addr,
                   sizeof(self->verdict.status.addr));
    zb_verdict_init(&self->verdict, config);
    //  Far in the past: the first unproven close may reconnect at once.
    self->quick_ms = INT64_MIN / 2;
    //  A context that cannot be made (a CA file gone since the config was
    //  read) leaves the probe down/tls at each connect, with the reason.
    if (zb_expect_init(&self->expect, config) == -1) {
        free(self);
        return NULL;
    }
    if (config->tls) {
        self->tls_ctx =
            zb_tls_ctx_get(config->tls_ca, config->tls_verify, self->verdict.status.error,
                           sizeof(self->verdict.status.error));
        if (!self->tls_ctx)
            zb_log_warning("%s: %s", config->name, self->verdict.status.error);
    }
    return self;
}

static void s_close(zb_probe_t *self)
{
    zb_listencheck_end(&self->listen, self->loop);
    self->generation++;
    zb_stream_close(self->loop, &self->fd, &self->tls);
    zb_loop_timer_cancel(self->loop, &self->timer);
    self->conn = S_CLOSED;
}

//  Ends a connection after a check without holding it (hold = no), with
//  a FIN rather than a reset (zb_stream_drain).
static void s_close_gracefully(zb_probe_t *self)
{
    zb_stream_drain(self->fd, self->tls);
    s_close(self);
}

void zb_probe_destroy(zb_probe_t **self_p)
{
    assert(self_p);
    zb_probe_t *self = *self_p;
    if (!self)
        return;
    s_close(self);
    zb_target_fini(&self->target);
    zb_tls_ctx_release(&self->tls_ctx);
    zb_expect_fini(&self->expect);
    free(self);
    *self_p = NULL;
}

void zb_probe_start(zb_probe_t *self, int64_t delay_ms)
{
    assert(self);
    assert(self->conn == S_CLOSED && self->fd == -1);
    self->verdict.next_check = zb_time_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    zb_loop_timer_set(self->loop, &self->timer, self->verdict.next_check);
}

void zb_probe_set_config(zb_probe_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    assert(strcmp(config->name, self->config->name) == 0);
    assert(config->send_len == self->config->send_len);
    assert(config->expect_len == self->config->expect_len);
    assert(config->hold == self->config->hold && config->literal == self->config->literal);
    assert(config->reply == self->config->reply);
    assert(config->tls == self->config->tls && config->tls_verify == self->config->tls_verify);
    assert(!config->tls || (strcmp(config->tls_ca, self->config->tls_ca) == 0 &&
                            strcmp(config->tls_name, self->config->tls_name) == 0));
    assert(config->reply != ZB_PROBE_REPLY_HTTP ||
           strcmp(config->expect_status, self->config->expect_status) == 0);
    assert(config->timeout_ms > 0 && config->timeout_ms < config->interval_ms);
    const zb_probe_config_t *old = self->config;
    self->config = config;
    if (config->interval_ms == old->interval_ms && config->timeout_ms == old->timeout_ms &&
        config->fails == old->fails)
        return; // unchanged: not even the timer is touched
    int64_t now = zb_time_mono_ms();
    zb_verdict_set_config(&self->verdict, config, now);
    switch (self->conn) {
    case S_CLOSED:
        //  Waiting to reconnect (next check, or backoff while down).
        if (zb_timer_armed(&self->timer) && self->timer.node.key > now + config->interval_ms)
            zb_loop_timer_set(self->loop, &self->timer, now + config->interval_ms);
        break;
    case S_IDLE:
        if (config->send_len > 0)
            zb_loop_timer_set(self->loop, &self->timer,
                              zb_verdict_ping_at(&self->verdict, self->config));
        break;
    case S_CONNECTING:
    case S_HANDSHAKE:
    case S_WAITING:
        //  The attempt under way gets the new timeout, counted from its
        //  start (a deadline already past fires on the next pass).
        zb_loop_timer_set(self->loop, &self->timer, self->started_us / 1000 + config->timeout_ms);
        break;
    case S_RESOLVING:
    case S_CLOSING:
        break; // the connect that follows uses the new timeout
    }
}

void zb_probe_take_state(zb_probe_t *self, const zb_service_status_t *status)
{
    assert(self && status);
    assert(self->conn == S_CLOSED && !zb_timer_armed(&self->timer));
    zb_verdict_take(&self->verdict, self->config, status);
}

const zb_probe_config_t *zb_probe_config(zb_probe_t *self)
{
    assert(self);
    return self->config;
}

const zb_service_status_t *zb_probe_status(zb_probe_t *self)
{
    assert(self);
    return &self->verdict.status;
}

//  State and verdicts

static void s_set_error(zb_probe_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void s_set_error(zb_probe_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->verdict.status.error, sizeof(self->verdict.status.error), format, args);
    va_end(args);
}

//  zb_verdict keeps the state; a verdict that changed it is told to the
//  agent.

static void s_good(zb_probe_t *self, int64_t rtt_us)
{
    zb_state_t from = self->verdict.status.state;
    if (zb_verdict_good(&self->verdict, self->config, rtt_us))
        self->notify(self, from, self->notify_arg);
}

//  One failed check (the error text is set already): down after `fails` in
//  a row.
static void s_failure(zb_probe_t *self, const char *reason)
{
    self->target.stale = true; // the service may have moved: look it up again
    zb_state_t from = self->verdict.status.state;
    if (zb_verdict_failure(&self->verdict, self->config, reason))
        self->notify(self, from, self->notify_arg);
}

//  A failure that needs no confirmation: nothing listens, or no route.
static void s_down_now(zb_probe_t *self, const char *reason)
{
    self->target.stale = true;
    zb_state_t from = self->verdict.status.state;
    if (zb_verdict_down(&self->verdict, self->config, reason))
        self->notify(self, from, self->notify_arg);
}

//  Scheduling

//  Connects again later: after the backoff while down, else at the next
//  check.
static void s_reconnect_later(zb_probe_t *self)
{
    assert(self->conn == S_CLOSED);
    zb_loop_timer_set(self->loop, &self->timer,
                      zb_verdict_reconnect_at(&self->verdict, self->config, zb_time_mono_ms()));
}

//  After a failed ping the connection is dropped, so a late reply can never
//  be taken for the answer to the next ping. Reconnect at once: a watched
//  connection is what lets us see a crash the moment it happens.
static void s_reconnect_after_failure(zb_probe_t *self)
{
    if (self->verdict.status.state == ZB_STATE_DOWN)
        s_reconnect_later(self);
    else
        s_connect(self);
}

//  Connection

static void s_connect_failed(zb_probe_t *self, int error, const char *what)
{
    s_close(self);
    if (!zb_target_connect_failed(&self->target, self->config)) {
        s_connect(self); // the name may have moved: after a lookup
        return;
    }
    s_set_error(self, "%s: %s", what, strerror(error));
    s_down_now(self, zb_net_connect_reason(error));
    s_reconnect_later(self);
}

//  The fresh connect was refused while the held connection still works:
//  the service closed its listener and is draining its connections (a
//  graceful shutdown: nginx -s quit with a stream proxy, pgbouncer's
//  SHUTDOWN WAIT_FOR_CLIENTS, any server that stops accepting first). It
//  is down now, and the held connection is let go so the drain is not
//  kept waiting for it.
static void s_listener_closed(zb_probe_t *self, int error)
{
    s_close(self);
    s_set_error(self,
                "connect: %s (a new connection; the held one was still open: the service "
                "stopped accepting)",
                strerror(error));
    s_down_now(self, zb_net_connect_reason(error));
    s_reconnect_later(self);
}

static void s_on_listen_io(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    zb_probe_t *self = arg;
    assert(fd == self->listen.fd);
    if (zb_listencheck_answered(&self->listen, self->loop, &self->target.addr) == -1 &&
        zb_target_listener_refused(&self->target, self->config, s_on_resolved, self))
        s_listener_closed(self, ECONNREFUSED);
}

//  Beside its pings a held probe also checks that the service still
//  accepts (zb_listencheck). Returns -1 when no ping follows: refused (the
//  probe closed), or a name looked up again first (zb_target; no ping to
//  an old server that may be closing the connection).
static int s_listen_check(zb_probe_t *self, int64_t now)
{
    const zb_probe_config_t *config = self->config;
    zb_listencheck_end(&self->listen, self->loop); // unanswered for an interval: not a verdict
    if (!config->hold || !config->listener_check)
        return 0;
    if (!self->target.doubted &&
        zb_listencheck_run(&self->listen, self->loop, &self->target.addr, self->connected_ms,
                           config->interval_ms, now, s_on_listen_io, self) == 0)
        return 0;
    if (zb_target_listener_refused(&self->target, config, s_on_resolved, self))
        s_listener_closed(self, ECONNREFUSED);
    else
        zb_loop_timer_set(self->loop, &self->timer, zb_verdict_ping_at(&self->verdict, config));
    return -1;
}

static void s_ping(zb_probe_t *self)
{
    assert(self->conn == S_IDLE);
    const zb_probe_config_t *config = self->config;
    self->started_us = zb_time_mono_us();
    int64_t now = self->started_us / 1000;
    zb_verdict_consume(&self->verdict, self->config, now);
    if (s_listen_check(self, now) == -1)
        return;
    zb_expect_begin(&self->expect, config);
    self->ping_now = false;
    //  A held connection's name is looked up again beside it when the
    //  answer has run out (the result comes later, from the loop).
    if (!config->literal && !self->target.lookup && now >= self->target.resolve_at &&
        s_lookup(self) == -1)
        zb_log_debug("%s: no memory to look %s up again", config->name, config->host);
    const char *reason =
        zb_stream_send(self->fd, self->tls, zb_expect_ping(&self->expect, config), config->send_len,
                       self->verdict.status.error, sizeof(self->verdict.status.error));
    if (!reason) {
        self->conn = S_WAITING;
        zb_loop_timer_set(self->loop, &self->timer, now + config->timeout_ms);
        return;
    }
    s_close(self);
    s_failure(self, reason);
    s_reconnect_after_failure(self);
}

//  The connection is set up (and through TLS when asked): check.
static void s_on_ready(zb_probe_t *self)
{
    int64_t now = zb_time_mono_ms();
    self->conn = S_IDLE;
    zb_loop_timer_cancel(self->loop, &self->timer);
    if (zb_loop_mod_fd(self->loop, self->fd, ZB_LOOP_READ) == -1) {
        int error = errno;
        s_close(self);
        s_set_error(self, "epoll: %s", strerror(error));
        s_failure(self, "error");
        s_reconnect_later(self);
        return;
    }
    if (self->config->reply == ZB_PROBE_REPLY_GREETING ||
        self->config->reply == ZB_PROBE_REPLY_MYSQL) {
        //  The server speaks first: its greeting is the reply.
        zb_verdict_consume(&self->verdict, self->config, now);
        self->started_us = zb_time_mono_us();
        zb_expect_begin(&self->expect, self->config);
        self->conn = S_WAITING;
        zb_loop_timer_set(self->loop, &self->timer, now + self->config->timeout_ms);
        return;
    }
    if (self->config->send_len == 0) {
        //  The connect is the check: the next one is an interval away, so
        //  a service that accepts and closes cannot spin the reconnects.
        zb_verdict_consume(&self->verdict, self->config, now);
        s_good(self, zb_time_mono_us() - self->started_us);
        if (!self->config->hold) {
            s_close_gracefully(self);
            s_reconnect_later(self);
        } else if (!self->config->literal)
            zb_loop_timer_set(self->loop, &self->timer, self->target.resolve_at);
    } else if (self->verdict.status.state == ZB_STATE_DOWN || now >= self->verdict.next_check ||
               self->ping_now)
        s_ping(self); // while down, every accepted reconnect is a chance to recover
    else
        zb_loop_timer_set(self->loop, &self->timer,
                          zb_verdict_ping_at(&self->verdict, self->config));
}

//  A certificate refused, or a handshake that failed, is down at once
//  with the library's words: retrying will not change the certificate.
static void s_handshake(zb_probe_t *self)
{
    char err[ZB_ERROR_MAX + 1];
    switch (zb_stream_handshake(self->loop, self->fd, self->tls, &self->verdict.status.tls_expires,
                                err, sizeof(err))) {
    case ZB_STREAM_SECURE:
        s_on_ready(self);
        break;
    case ZB_STREAM_HANDSHAKE:
        break; // s_on_io calls again
    case ZB_STREAM_CLOSED:
        //  A server going away (or refusing us) between accept and
        //  handshake: a closed connection like any other.
        s_on_peer_closed(self, 0);
        break;
    case ZB_STREAM_FAILED:
        s_close(self);
        s_set_error(self, "%s", err);
        s_down_now(self, "tls");
        s_reconnect_later(self);
        break;
    }
}

static void s_on_connected(zb_probe_t *self)
{
    self->connected_ms = zb_time_mono_ms();
    self->proven = false;
    if (!self->config->tls) {
        s_on_ready(self);
        return;
    }
    if (!self->tls_ctx) {
        s_close(self);
        self->tls_ctx =
            zb_tls_ctx_get(self->config->tls_ca, self->config->tls_verify,
                           self->verdict.status.error, sizeof(self->verdict.status.error));
        if (!self->tls_ctx) {
            s_down_now(self, "tls");
            s_reconnect_later(self);
            return;
        }
        s_connect(self); // the context is there now: start again
        return;
    }
    const char *name = self->config->tls_name[0] ? self->config->tls_name : self->config->host;
    self->tls = zb_tls_new(self->tls_ctx, self->fd, name);
    if (!self->tls) {
        s_close(self);
        s_set_error(self, "tls: out of memory");
        s_failure(self, "error");
        s_reconnect_later(self);
        return;
    }
    self->conn = S_HANDSHAKE;
    zb_loop_timer_set(self->loop, &self->timer, zb_time_mono_ms() + self->config->timeout_ms);
    s_handshake(self);
}

static void s_connect_addr(zb_probe_t *self)
{
    assert(self->fd == -1 && self->target.known);
    self->conn = S_CLOSED;
    self->started_us = zb_time_mono_us();
    zb_target_connecting(&self->target);
    int fd;
    int rc = zb_net_connect(&self->target.addr, &fd);
    if (rc == -1) {
        s_connect_failed(self, errno, "connect");
        return;
    }
    if (zb_loop_add_fd(self->loop, fd, ZB_LOOP_WRITE, s_on_io, self) == -1) {
        int error = errno;
        close(fd);
        s_connect_failed(self, error, "epoll");
        return;
    }
    self->fd = fd;
    if (rc == 0) {
        s_on_connected(self);
        return;
    }
    self->conn = S_CONNECTING;
    zb_loop_timer_set(self->loop, &self->timer, zb_time_mono_ms() + self->config->timeout_ms);
}

//  Names

static int s_lookup(zb_probe_t *self)
{
    return zb_target_lookup(&self->target, self->config, s_on_resolved, self);
}

//  Connects, after looking the name up when the address is not known, may
//  be out of date (after a failure), or has run out.
static void s_connect(zb_probe_t *self)
{
    assert(self->fd == -1);
    self->conn = S_CLOSED;
    if (zb_target_ready(&self->target, self->config, zb_time_mono_ms())) {
        s_connect_addr(self);
        return;
    }
    self->conn = S_RESOLVING;
    self->started_us = zb_time_mono_us();
    if (self->target.lookup || s_lookup(self) == 0)
        return; // s_on_resolved carries on
    self->conn = S_CLOSED;
    s_set_error(self, "cannot resolve \"%s\": out of memory", self->config->host);
    zb_verdict_consume(&self->verdict, self->config, zb_time_mono_ms());
    s_failure(self, "dns");
    s_reconnect_later(self);
}

static void s_on_resolved(void *arg, const zb_resolve_result_t *result)
{
    zb_probe_t *self = arg;
    int64_t now = zb_time_mono_ms();
    bool connected = self->conn == S_CONNECTING || self->conn == S_HANDSHAKE ||
                     self->conn == S_IDLE || self->conn == S_WAITING;
    switch (zb_target_resolved(&self->target, self->config, result, now, self->conn == S_RESOLVING,
                               connected, self->verdict.status.addr,
                               sizeof(self->verdict.status.addr))) {
    case ZB_TARGET_CONNECT:
        s_close(self); // whatever answers at an old address is not this service
        s_connect_addr(self);
        break;
    case ZB_TARGET_REFUSED:
        s_listener_closed(self, ECONNREFUSED); // still its address: it stopped accepting
        break;
    case ZB_TARGET_DNS:
        s_close(self); // whatever still answers at the old address is not this service
        s_set_error(self, "%s", result->error);
        zb_verdict_consume(&self->verdict, self->config, now);
        if (result->status == ZB_RESOLVE_NOTFOUND)
            s_down_now(self, "dns");
        else
            s_failure(self, "dns");
        s_reconnect_later(self);
        break;
    case ZB_TARGET_CARRY_ON:
        if (self->conn == S_IDLE && self->config->send_len == 0)
            zb_loop_timer_set(self->loop, &self->timer, self->target.resolve_at);
        break;
    }
}

//  The peer closed or reset the connection. If the connection had proved
//  itself (a good reply, or held open for a while), this is a service that
//  closed an idle connection or just died: reconnect at once, and the
//  reconnect tells which. An unproven connection that closes (a service
//  accepting and dropping connections) gets at most one at-once reconnect
//  per interval, so it cannot spin the loop.
static void s_on_peer_closed(zb_probe_t *self, int error)
{
    const zb_probe_config_t *config = self->config;
    bool waiting = self->conn == S_WAITING;
    int64_t now = zb_time_mono_ms();
    bool proven =
        self->proven || (config->send_len == 0 && now - self->connected_ms >= config->timeout_ms);
    s_close(self);
    self->target.stale = true; // a service that went away may come back elsewhere
    if (waiting || (!proven && config->send_len > 0)) {
        s_set_error(self, "%s%s", error ? strerror(error) : "connection closed by peer",
                    waiting ? " while waiting for a reply" : " before any reply");
        s_failure(self, "closed");
    } else
        zb_log_debug("%s: connection closed by peer (%s); reconnecting", config->name,
                     error ? strerror(error) : "EOF");
    if (self->verdict.status.state == ZB_STATE_DOWN)
        s_reconnect_later(self);
    else if (proven || now - self->quick_ms >= config->interval_ms) {
        if (!proven)
            self->quick_ms = now;
        s_connect(self);
    } else
        s_reconnect_later(self);
}

//  Replies

static void s_reply_good(zb_probe_t *self)
{
    self->proven = true;
    self->conn = S_IDLE;
    s_good(self, zb_time_mono_us() - self->started_us);
    if (self->config->reply == ZB_PROBE_REPLY_GREETING && self->config->send_len > 0) {
        //  The protocol's goodbye (smtp: QUIT), and its answer waited for
        //  (within the timeout) before the close, so the server sees a clean
        //  end of session rather than a connection lost.
        char err[ZB_ERROR_MAX + 1];
        if (!zb_stream_send(self->fd, self->tls, self->config->send, self->config->send_len, err,
                            sizeof(err))) {
            self->conn = S_CLOSING;
            zb_loop_timer_set(self->loop, &self->timer,
                              zb_time_mono_ms() + self->config->timeout_ms);
            return;
        }
    }
    if (self->config->hold)
        zb_loop_timer_set(self->loop, &self->timer,
                          zb_verdict_ping_at(&self->verdict, self->config));
    else {
        s_close_gracefully(self);
        s_reconnect_later(self);
    }
}

//  What zb_expect made of the reply so far (a WRONG one's error is in the
//  status already). An HTTP server that said it closes the connection
//  (nginx after keepalive_requests), or closed it, gets a new one at once,
//  no failure counted.
static void s_on_verdict(zb_probe_t *self, zb_expect_result_t rc, bool closed)
{
    if (rc == ZB_EXPECT_WRONG) {
        s_close(self);
        s_failure(self, "bad-response");
        s_reconnect_after_failure(self);
        return;
    }
    if (rc != ZB_EXPECT_GOOD)
        return;
    bool reconnect = self->config->hold && (closed || zb_expect_closing(&self->expect));
    unsigned generation = self->generation;
    s_reply_good(self);
    if (reconnect && self->generation == generation) {
        s_close_gracefully(self);
        s_connect(self);
    }
}

//  n bytes of the service's (n > 0).
static void s_on_data(zb_probe_t *self, const char *buf, ssize_t n)
{
    //  Outside a ping (banners, the tail of a reply) bytes are discarded.
    if (self->conn != S_WAITING)
        return;
    s_on_verdict(self,
                 zb_expect_feed(&self->expect, self->config, buf, (size_t)n,
                                self->verdict.status.error, sizeof(self->verdict.status.error)),
                 false);
}

//  The connection closed while a reply was due: an HTTP response may end
//  with it, or a kept-alive connection the server closed just as the
//  request went out is asked again on a new one (zb_expect_eof). Returns
//  whether it was handled; else it is a close like any other.
static bool s_on_eof(zb_probe_t *self)
{
    zb_expect_result_t rc =
        zb_expect_eof(&self->expect, self->config, self->proven, self->verdict.status.error,
                      sizeof(self->verdict.status.error));
    if (rc == ZB_EXPECT_CLOSED)
        return false;
    if (rc == ZB_EXPECT_RETRY) {
        zb_log_debug("%s: the server closed the kept-alive connection; asking again on a new one",
                     self->config->name);
        s_close(self);
        self->target.stale = true;
        self->ping_now = true;
        s_connect(self);
        return true;
    }
    s_on_verdict(self, rc, true);
    return true;
}

//  Reads what the socket announced (zb_stream), until a handler closed
//  the connection.
static void s_read(zb_probe_t *self)
{
    char buf[4096];
    unsigned generation = self->generation;
    for (int reads = 0; self->generation == generation && zb_stream_read_more(self->tls, reads);
         reads++) {
        size_t got;
        int error;
        char err[ZB_ERROR_MAX + 1];
        zb_stream_result_t rc =
            zb_stream_read(self->fd, self->tls, buf, sizeof(buf), &got, &error, err, sizeof(err));
        if (rc == ZB_STREAM_DATA)
            s_on_data(self, buf, (ssize_t)got);
        else if (rc == ZB_STREAM_EOF || rc == ZB_STREAM_BROKEN) {
            if (rc == ZB_STREAM_BROKEN || !(self->conn == S_WAITING && s_on_eof(self)))
                s_on_peer_closed(self, error);
            return;
        } else if (rc == ZB_STREAM_TLS_ERROR) {
            s_close(self);
            s_set_error(self, "%s", err);
            s_failure(self, "tls");
            s_reconnect_after_failure(self);
        } else
            return;
    }
}

//  Loop callbacks

static void s_on_io(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)events;
    zb_probe_t *self = arg;
    assert(fd == self->fd);
    if (self->conn == S_CONNECTING) {
        int error = zb_net_connect_result(fd);
        if (error)
            s_connect_failed(self, error, "connect");
        else
            s_on_connected(self);
    } else if (self->conn == S_HANDSHAKE)
        s_handshake(self);
    else if (self->conn == S_CLOSING) {
        //  The answer to the goodbye, or the server's close: done either way.
        s_close_gracefully(self);
        s_reconnect_later(self);
    } else if (self->conn == S_IDLE || self->conn == S_WAITING)
        s_read(self);
}

static void s_on_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    zb_probe_t *self = arg;
    char text[32];
    switch (self->conn) {
    case S_CLOSED:
        s_connect(self);
        break;
    case S_CONNECTING:
        zb_time_format_duration(self->config->timeout_ms, text, sizeof(text));
        s_set_error(self, "connect: no answer within %s", text);
        s_close(self);
        zb_verdict_consume(&self->verdict, self->config, zb_time_mono_ms());
        s_failure(self, "timeout");
        s_reconnect_later(self);
        break;
    case S_HANDSHAKE:
        zb_time_format_duration(self->config->timeout_ms, text, sizeof(text));
        s_set_error(self, "tls: handshake: no answer within %s", text);
        s_close(self);
        zb_verdict_consume(&self->verdict, self->config, zb_time_mono_ms());
        s_failure(self, "timeout");
        s_reconnect_later(self);
        break;
    case S_CLOSING:
        s_close_gracefully(self); // no answer to the goodbye: closed all the same
        s_reconnect_later(self);
        break;
    case S_RESOLVING:
        break; // no timer while resolving
    case S_IDLE:
        if (self->config->send_len > 0)
            s_ping(self);
        else if (!self->target.lookup && s_lookup(self) == -1) // a held connection's name ran out
            zb_loop_timer_set(self->loop, &self->timer,
                              zb_time_mono_ms() + self->config->interval_ms);
        break;
    case S_WAITING:
        zb_time_format_duration(self->config->timeout_ms, text, sizeof(text));
        s_set_error(self, "no reply within %s", text);
        s_close(self);
        s_failure(self, "timeout");
        s_reconnect_after_failure(self);
        break;
    }
}
