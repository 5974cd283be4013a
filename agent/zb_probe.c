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
    run out (checked at each ping, or by the IDLE timer without pings); the
    connection moves only if the answer changed.

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
#include "zb_log.h"
#include "zb_mysql.h"
#include "zb_portcheck.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ZB_PROBE_BACKOFF_MIN_MS 100
#define ZB_PROBE_SLOT_MAX_MS 10 // ping slot; a twentieth of shorter intervals
//  How long an answer is kept without `resolve`: its TTL, within these
//  bounds. /etc/hosts answers have no TTL: a name moved there is seen
//  within the minimum, or at once when the connection breaks.
#define ZB_PROBE_RESOLVE_MIN_MS 5000
#define ZB_PROBE_RESOLVE_MAX_MS (3600 * 1000)
#define ZB_PROBE_DRAIN_MAX 65536 // bytes read before a close, so it is a FIN

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
    zb_service_status_t status;      // what beats report
    int failures;                    // consecutive failed checks
    int64_t next_check;              // monotonic ms of the next ping
    int64_t backoff_ms;              // next reconnect delay while down
    int64_t started_us;              // connect or ping start, for rtt
    int64_t connected_ms;            // when this connection was set up
    bool proven;                     // a good reply came on this connection
    int64_t quick_ms;                // last at-once reconnect after an unproven close
    size_t matched;                  // reply bytes matched against expect
    zb_resolver_t *resolver;         // for names; not owned
    zb_lookup_t *lookup;             // a lookup under way, or NULL
    zb_net_addr_t addr;              // where to connect (have_addr)
    bool have_addr;                  // a name resolved at least once, or a literal
    bool stale;                      // look the name up before the next connect
    int64_t resolve_at;              // monotonic ms: the answer runs out
    bool pg_gss;                     // check = postgres: TLS is on, ask with GSSENCRequest
    zb_tls_ctx_t *tls_ctx;           // tls: the shared context, or NULL (none could be made)
    zb_tls_t *tls;                   // tls: this connection's session, or NULL
    unsigned generation;             // +1 per close: a handler that closed is seen by its caller
    zb_http_reply_t *http;           // HTTP checks: the response being parsed; else NULL
    bool ping_now;                   // ping as soon as connected (a request the server closed on)
    int listen_fd;                   // held: a fresh connect to the listener under way, or -1
};

//  PostgreSQL with TLS on answers an SSLRequest with S and logs "could not
//  accept SSL connection: EOF detected" when the probe then closes. A
//  GSSENCRequest (PostgreSQL 12 and later) is answered G or N, and closing
//  after either logs nothing; so after an S the probe asks this way.
static const char s_pg_gss_request[8] = {0, 0, 0, 8, 0x04, (char)0xd2, 0x16, 0x30};

static void s_on_io(zb_loop_t *loop, int fd, int events, void *arg);
static void s_on_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg);
static void s_connect(zb_probe_t *self);
static int s_lookup(zb_probe_t *self);
static int64_t s_ping_slot(const zb_probe_t *self);
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
    self->listen_fd = -1;
    self->conn = S_CLOSED;
    self->resolver = resolver;
    zb_timer_init(&self->timer, s_on_timer, self);
    if (config->literal) {
        self->addr = config->addr;
        self->have_addr = true;
        zb_net_addr_format(&self->addr, self->status.addr, sizeof(self->status.addr));
    }
    snprintf(self->status.name, sizeof(self->status.name), "%s", config->name);
    snprintf(self->status.kind, sizeof(self->status.kind), "probe");
    self->status.state = ZB_STATE_UNKNOWN;
    self->status.since_ms = zb_time_wall_ms();
    self->status.rtt_us = -1;
    self->backoff_ms = ZB_PROBE_BACKOFF_MIN_MS;
    //  Far in the past: the first unproven close may reconnect at once.
    self->quick_ms = INT64_MIN / 2;
    //  A context that cannot be made (a CA file gone since the config was
    //  read) leaves the probe down/tls at each connect, with the reason.
    if (config->reply == ZB_PROBE_REPLY_HTTP) {
        self->http = calloc(1, sizeof(*self->http));
        if (!self->http) {
            free(self);
            return NULL;
        }
    }
    if (config->tls) {
        self->tls_ctx = zb_tls_ctx_get(config->tls_ca, config->tls_verify, self->status.error,
                                       sizeof(self->status.error));
        if (!self->tls_ctx)
            zb_log_warning("%s: %s", config->name, self->status.error);
    }
    return self;
}

//  Ends the fresh connect beside a held connection with a plain close (a
//  FIN), as a connection-only check ends: a reset would reach the server
//  as an accepted connection already broken, which servers log or trip
//  over. It leaves this side a TIME_WAIT socket per check, a few per
//  address a second at most (zb_portcheck shares the checks).
static void s_listen_check_end(zb_probe_t *self)
{
    if (self->listen_fd == -1)
        return;
    zb_loop_del_fd(self->loop, self->listen_fd);
    close(self->listen_fd);
    self->listen_fd = -1;
}

static void s_close(zb_probe_t *self)
{
    s_listen_check_end(self);
    zb_tls_destroy(&self->tls);
    self->generation++;
    if (self->fd != -1) {
        zb_loop_del_fd(self->loop, self->fd);
        close(self->fd);
        self->fd = -1;
    }
    zb_loop_timer_cancel(self->loop, &self->timer);
    self->conn = S_CLOSED;
}

//  Ends a connection after a check without holding it (hold = no). What
//  the server sent and we did not need (a banner, the rest of a reply) is
//  read first: closing a socket with unread data sends a reset instead of
//  a FIN, and servers log resets.
static void s_close_gracefully(zb_probe_t *self)
{
    char buf[4096];
    for (size_t total = 0; self->fd != -1 && total < ZB_PROBE_DRAIN_MAX;) {
        ssize_t n;
        if (self->tls) {
            char err[ZB_ERROR_MAX + 1];
            size_t got;
            n = zb_tls_read(self->tls, buf, sizeof(buf), &got, err, sizeof(err)) == ZB_TLS_OK
                    ? (ssize_t)got
                    : 0;
        } else
            n = recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    if (self->tls)
        zb_tls_shutdown(self->tls); // close_notify: a TLS server logs a close without one
    s_close(self);
}

void zb_probe_destroy(zb_probe_t **self_p)
{
    assert(self_p);
    zb_probe_t *self = *self_p;
    if (!self)
        return;
    s_close(self);
    zb_lookup_cancel(&self->lookup);
    zb_tls_ctx_release(&self->tls_ctx);
    free(self->http);
    free(self);
    *self_p = NULL;
}

void zb_probe_start(zb_probe_t *self, int64_t delay_ms)
{
    assert(self);
    assert(self->conn == S_CLOSED && self->fd == -1);
    self->next_check = zb_time_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    zb_loop_timer_set(self->loop, &self->timer, self->next_check);
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
    if (self->failures > config->fails)
        self->failures = config->fails;
    if (self->backoff_ms > config->interval_ms)
        self->backoff_ms = config->interval_ms;
    //  The check planned on the old cadence stays, unless the new interval
    //  wants one sooner; from then on the new interval paces the checks.
    if (self->next_check > now + config->interval_ms)
        self->next_check = now + config->interval_ms;
    switch (self->conn) {
    case S_CLOSED:
        //  Waiting to reconnect (next check, or backoff while down).
        if (zb_timer_armed(&self->timer) && self->timer.deadline > now + config->interval_ms)
            zb_loop_timer_set(self->loop, &self->timer, now + config->interval_ms);
        break;
    case S_IDLE:
        if (config->send_len > 0)
            zb_loop_timer_set(self->loop, &self->timer, s_ping_slot(self));
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
    self->status.state = status->state;
    self->status.since_ms = status->since_ms;
    snprintf(self->status.reason, sizeof(self->status.reason), "%s", status->reason);
    snprintf(self->status.error, sizeof(self->status.error), "%s", status->error);
    //  Down stays down until a good check, as if this probe had failed.
    if (status->state == ZB_STATE_DOWN)
        self->failures = self->config->fails;
}

const zb_probe_config_t *zb_probe_config(zb_probe_t *self)
{
    assert(self);
    return self->config;
}

const zb_service_status_t *zb_probe_status(zb_probe_t *self)
{
    assert(self);
    return &self->status;
}

//  State and verdicts

static void s_set_error(zb_probe_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void s_set_error(zb_probe_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->status.error, sizeof(self->status.error), format, args);
    va_end(args);
}

static void s_set_state(zb_probe_t *self, zb_state_t to, const char *reason)
{
    zb_state_t from = self->status.state;
    if (strcmp(self->status.reason, reason) != 0) // "ok" again, most of the time
        snprintf(self->status.reason, sizeof(self->status.reason), "%s", reason);
    if (from == to)
        return; // while down, reason and error follow the latest failure
    self->status.state = to;
    self->status.since_ms = zb_time_wall_ms();
    if (to == ZB_STATE_DOWN)
        self->backoff_ms = ZB_PROBE_BACKOFF_MIN_MS < self->config->interval_ms
                               ? ZB_PROBE_BACKOFF_MIN_MS
                               : self->config->interval_ms;
    self->notify(self, from, self->notify_arg);
}

static void s_good(zb_probe_t *self, int64_t rtt_us)
{
    self->failures = 0;
    self->status.rtt_us = rtt_us;
    self->status.error[0] = '\0';
    s_set_state(self, ZB_STATE_UP, "ok");
}

//  One failed check (the error text is set already): down after `fails` in
//  a row.
static void s_failure(zb_probe_t *self, const char *reason)
{
    self->stale = true; // the service may have moved: look it up again
    if (self->failures < self->config->fails)
        self->failures++;
    if (self->status.state == ZB_STATE_DOWN || self->failures >= self->config->fails)
        s_set_state(self, ZB_STATE_DOWN, reason);
    else
        zb_log_debug("%s: check failed (%d of %d): %s", self->config->name, self->failures,
                     self->config->fails, self->status.error);
}

//  A failure that needs no confirmation: nothing listens, or no route.
static void s_down_now(zb_probe_t *self, const char *reason)
{
    self->stale = true;
    self->failures = self->config->fails;
    s_set_state(self, ZB_STATE_DOWN, reason);
}

//  Scheduling

//  The ping due now is being made: the next one is an interval later (or an
//  interval from now, after a stall, rather than a burst of catch-up pings).
static void s_consume_check(zb_probe_t *self, int64_t now)
{
    if (self->next_check <= now) {
        self->next_check += self->config->interval_ms;
        if (self->next_check <= now)
            self->next_check = now + self->config->interval_ms;
    }
}

//  When the ping due at next_check is sent: the slot boundary at or after it.
static int64_t s_ping_slot(const zb_probe_t *self)
{
    int64_t slot = self->config->interval_ms / 20;
    if (slot > ZB_PROBE_SLOT_MAX_MS)
        slot = ZB_PROBE_SLOT_MAX_MS;
    if (slot <= 1)
        return self->next_check;
    return (self->next_check + slot - 1) / slot * slot;
}

//  Connects again later: after the backoff while down, else at the next
//  check.
static void s_reconnect_later(zb_probe_t *self)
{
    assert(self->conn == S_CLOSED);
    int64_t now = zb_time_mono_ms();
    int64_t deadline;
    if (self->status.state == ZB_STATE_DOWN) {
        deadline = now + self->backoff_ms;
        self->backoff_ms *= 2;
        if (self->backoff_ms > self->config->interval_ms)
            self->backoff_ms = self->config->interval_ms;
    } else
        deadline = self->next_check > now ? self->next_check : now;
    zb_loop_timer_set(self->loop, &self->timer, deadline);
}

//  After a failed ping the connection is dropped, so a late reply can never
//  be taken for the answer to the next ping. Reconnect at once: a watched
//  connection is what lets us see a crash the moment it happens.
static void s_reconnect_after_failure(zb_probe_t *self)
{
    if (self->status.state == ZB_STATE_DOWN)
        s_reconnect_later(self);
    else
        s_connect(self);
}

//  Connection

static void s_connect_failed(zb_probe_t *self, int error, const char *what)
{
    s_close(self);
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
    assert(fd == self->listen_fd);
    int error = zb_net_connect_result(fd);
    s_listen_check_end(self);
    zb_portcheck_t *shared = zb_portcheck_get(&self->addr);
    if (shared && error == 0)
        shared->accepted_ms = zb_time_mono_ms();
    if (error != ECONNREFUSED)
        return;
    if (shared)
        shared->refused_ms = zb_time_mono_ms();
    s_listener_closed(self, error);
}

//  A held connection says nothing about the listener: a service shutting
//  down gracefully may stop accepting and still serve the connections it
//  has, for as long as they last. So beside its pings a held probe also
//  connects afresh (and closes that connection at once); a refused connect
//  is down. Anything else (no answer yet, no route) is left to the ping to
//  judge. Probes of one address share this (zb_portcheck): one connect per
//  address per half interval, and a refusal any of them saw since their own
//  connection was made is down for each. Not needed when the held
//  connection itself was made within the last interval. Returns -1 when
//  the probe was closed (refused).
static int s_listen_check(zb_probe_t *self, int64_t now)
{
    const zb_probe_config_t *config = self->config;
    s_listen_check_end(self); // unanswered for an interval: not a verdict
    if (!config->hold || !config->listener_check)
        return 0;
    zb_portcheck_t *shared = zb_portcheck_get(&self->addr); // NULL: no memory, alone
    //  Another probe's connect was refused since this connection was made,
    //  and none accepted since: the listener is gone for this one too.
    if (shared && shared->refused_ms > self->connected_ms &&
        shared->refused_ms > shared->accepted_ms) {
        s_listener_closed(self, ECONNREFUSED);
        return -1;
    }
    if (now - self->connected_ms < config->interval_ms)
        return 0; // this connection's own connect was the check
    //  Every half interval, so a probe that learns of a refusal from
    //  another's check (at its next ping) is still down within two
    //  intervals of the listener closing.
    if (shared && now - shared->checked_ms < config->interval_ms / 2)
        return 0; // another probe of this address checked it
    if (shared)
        shared->checked_ms = now;
    int fd;
    int rc = zb_net_connect(&self->addr, &fd);
    if (rc == -1) {
        if (errno != ECONNREFUSED)
            return 0;
        if (shared)
            shared->refused_ms = now;
        s_listener_closed(self, ECONNREFUSED);
        return -1;
    }
    if (rc == 0 && shared)
        shared->accepted_ms = now;
    if (rc == 0 || zb_loop_add_fd(self->loop, fd, ZB_LOOP_WRITE, s_on_listen_io, self) == -1)
        close(fd); // accepted at once (or no room to wait): nothing more to learn
    else
        self->listen_fd = fd;
    return 0;
}

static void s_ping(zb_probe_t *self)
{
    assert(self->conn == S_IDLE);
    const zb_probe_config_t *config = self->config;
    self->started_us = zb_time_mono_us();
    int64_t now = self->started_us / 1000;
    s_consume_check(self, now);
    if (s_listen_check(self, now) == -1)
        return;
    self->matched = 0;
    self->ping_now = false;
    if (self->http)
        zb_http_reply_start(self->http, config->http_head, config->expect, config->expect_len,
                            config->expect_fail);
    //  A held connection's name is looked up again beside it when the
    //  answer has run out (the result comes later, from the loop).
    if (!config->literal && !self->lookup && now >= self->resolve_at && s_lookup(self) == -1)
        zb_log_debug("%s: no memory to look %s up again", config->name, config->host);
    const char *ping = config->send;
    if (config->reply == ZB_PROBE_REPLY_PG_SSL && self->pg_gss)
        ping = s_pg_gss_request;
    if (self->tls) {
        zb_tls_status_t rc = zb_tls_write(self->tls, ping, config->send_len, self->status.error,
                                          sizeof(self->status.error));
        if (rc == ZB_TLS_OK) {
            self->conn = S_WAITING;
            zb_loop_timer_set(self->loop, &self->timer, now + config->timeout_ms);
            return;
        }
        if (rc == ZB_TLS_WANT_READ || rc == ZB_TLS_WANT_WRITE)
            s_set_error(self, "tls: write: the connection is not ready for a %zu-byte ping",
                        config->send_len);
        else if (rc == ZB_TLS_CLOSED)
            s_set_error(self, "send: connection closed by peer");
        s_close(self);
        s_failure(self, rc == ZB_TLS_CLOSED ? "closed" : "tls");
        s_reconnect_after_failure(self);
        return;
    }
    ssize_t n = send(self->fd, ping, config->send_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)config->send_len) {
        self->conn = S_WAITING;
        zb_loop_timer_set(self->loop, &self->timer, now + config->timeout_ms);
        return;
    }
    if (n == -1)
        s_set_error(self, "send: %s", strerror(errno));
    else
        s_set_error(self, "send: only %zd of %zu bytes fit", n, config->send_len);
    const char *reason = n == -1 && (errno == EPIPE || errno == ECONNRESET) ? "closed" : "error";
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
        s_consume_check(self, now);
        self->started_us = zb_time_mono_us();
        self->matched = 0;
        self->conn = S_WAITING;
        zb_loop_timer_set(self->loop, &self->timer, now + self->config->timeout_ms);
        return;
    }
    if (self->config->send_len == 0) {
        //  The connect is the check: the next one is an interval away, so
        //  a service that accepts and closes cannot spin the reconnects.
        s_consume_check(self, now);
        s_good(self, zb_time_mono_us() - self->started_us);
        if (!self->config->hold) {
            s_close_gracefully(self);
            s_reconnect_later(self);
        } else if (!self->config->literal)
            zb_loop_timer_set(self->loop, &self->timer, self->resolve_at);
    } else if (self->status.state == ZB_STATE_DOWN || now >= self->next_check || self->ping_now)
        s_ping(self); // while down, every accepted reconnect is a chance to recover
    else
        zb_loop_timer_set(self->loop, &self->timer, s_ping_slot(self));
}

//  A certificate refused, or a handshake that failed, is down at once
//  with the library's words: retrying will not change the certificate.
static void s_handshake(zb_probe_t *self)
{
    bool refused;
    char err[ZB_ERROR_MAX + 1];
    zb_tls_status_t rc = zb_tls_handshake(self->tls, &refused, err, sizeof(err));
    int64_t expires = zb_tls_expires(self->tls);
    if (expires)
        self->status.tls_expires = expires; // an expired certificate shows when it expired
    if (rc == ZB_TLS_OK) {
        s_on_ready(self);
        return;
    }
    if (rc == ZB_TLS_WANT_READ || rc == ZB_TLS_WANT_WRITE) {
        if (zb_loop_mod_fd(self->loop, self->fd,
                           rc == ZB_TLS_WANT_READ ? ZB_LOOP_READ : ZB_LOOP_WRITE) == 0)
            return;
        snprintf(err, sizeof(err), "epoll: %s", strerror(errno));
    }
    if (rc == ZB_TLS_CLOSED) {
        //  A server going away (or refusing us) between accept and
        //  handshake: a closed connection like any other.
        s_on_peer_closed(self, 0);
        return;
    }
    s_close(self);
    s_set_error(self, "%s", err);
    s_down_now(self, "tls");
    s_reconnect_later(self);
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
        self->tls_ctx = zb_tls_ctx_get(self->config->tls_ca, self->config->tls_verify,
                                       self->status.error, sizeof(self->status.error));
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
    assert(self->fd == -1 && self->have_addr);
    self->conn = S_CLOSED;
    self->started_us = zb_time_mono_us();
    int fd;
    int rc = zb_net_connect(&self->addr, &fd);
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

static void s_on_resolved(void *arg, const zb_resolve_result_t *result);

static int s_lookup(zb_probe_t *self)
{
    assert(!self->lookup && !self->config->literal);
    self->lookup = zb_resolver_lookup(self->resolver, self->config->host, self->config->port,
                                      s_on_resolved, self);
    return self->lookup ? 0 : -1;
}

//  Connects, after looking the name up when the address is not known, may
//  be out of date (after a failure), or has run out.
static void s_connect(zb_probe_t *self)
{
    assert(self->fd == -1);
    self->conn = S_CLOSED;
    if (self->config->literal || (!self->lookup && self->have_addr && !self->stale &&
                                  zb_time_mono_ms() < self->resolve_at)) {
        s_connect_addr(self);
        return;
    }
    self->conn = S_RESOLVING;
    self->started_us = zb_time_mono_us();
    if (self->lookup || s_lookup(self) == 0)
        return; // s_on_resolved carries on
    self->conn = S_CLOSED;
    s_set_error(self, "cannot resolve \"%s\": out of memory", self->config->host);
    s_consume_check(self, zb_time_mono_ms());
    s_failure(self, "dns");
    s_reconnect_later(self);
}

static void s_on_resolved(void *arg, const zb_resolve_result_t *result)
{
    zb_probe_t *self = arg;
    const zb_probe_config_t *config = self->config;
    self->lookup = NULL;
    int64_t now = zb_time_mono_ms();
    bool connected = self->conn == S_CONNECTING || self->conn == S_HANDSHAKE ||
                     self->conn == S_IDLE || self->conn == S_WAITING;
    if (result->status == ZB_RESOLVE_OK) {
        bool moved = self->have_addr && !zb_net_addr_equal(&self->addr, &result->addr);
        char was[ZB_ADDR_MAX + 1];
        snprintf(was, sizeof(was), "%s", self->status.addr);
        self->addr = result->addr;
        self->have_addr = true;
        self->stale = false;
        zb_net_addr_format(&self->addr, self->status.addr, sizeof(self->status.addr));
        int64_t keep = config->resolve_ms;
        if (!keep) {
            keep = result->ttl_ms;
            keep = keep < ZB_PROBE_RESOLVE_MIN_MS   ? ZB_PROBE_RESOLVE_MIN_MS
                   : keep > ZB_PROBE_RESOLVE_MAX_MS ? ZB_PROBE_RESOLVE_MAX_MS
                                                    : keep;
        }
        self->resolve_at = now + keep;
        if (moved)
            zb_log_info("%s: %s moved from %s to %s", config->name, config->host, was,
                        self->status.addr);
        if (self->conn == S_RESOLVING)
            s_connect_addr(self);
        else if (connected && moved) {
            //  Whatever answers at the old address is not this service.
            s_close(self);
            s_connect_addr(self);
        } else if (self->conn == S_IDLE && config->send_len == 0)
            zb_loop_timer_set(self->loop, &self->timer, self->resolve_at);
        return;
    }
    self->stale = true;
    if (self->conn == S_RESOLVING || (connected && result->status == ZB_RESOLVE_NOTFOUND)) {
        //  No address to connect to, or the name is gone: whatever still
        //  answers at the old address is not this service any more.
        s_close(self);
        s_set_error(self, "%s", result->error);
        s_consume_check(self, now);
        if (result->status == ZB_RESOLVE_NOTFOUND)
            s_down_now(self, "dns");
        else
            s_failure(self, "dns");
        s_reconnect_later(self);
        return;
    }
    //  No answer while the connection works: it carries on, and the
    //  lookup is tried again an interval later.
    zb_log_debug("%s: %s", config->name, result->error);
    self->resolve_at = now + config->interval_ms;
    if (self->conn == S_IDLE && config->send_len == 0)
        zb_loop_timer_set(self->loop, &self->timer, self->resolve_at);
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
    self->stale = true; // a service that went away may come back elsewhere
    if (waiting || (!proven && config->send_len > 0)) {
        s_set_error(self, "%s%s", error ? strerror(error) : "connection closed by peer",
                    waiting ? " while waiting for a reply" : " before any reply");
        s_failure(self, "closed");
    } else
        zb_log_debug("%s: connection closed by peer (%s); reconnecting", config->name,
                     error ? strerror(error) : "EOF");
    if (self->status.state == ZB_STATE_DOWN)
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
        bool said = self->tls
                        ? zb_tls_write(self->tls, self->config->send, self->config->send_len, err,
                                       sizeof(err)) == ZB_TLS_OK
                        : send(self->fd, self->config->send, self->config->send_len,
                               MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)self->config->send_len;
        if (said) {
            self->conn = S_CLOSING;
            zb_loop_timer_set(self->loop, &self->timer,
                              zb_time_mono_ms() + self->config->timeout_ms);
            return;
        }
    }
    if (self->config->hold)
        zb_loop_timer_set(self->loop, &self->timer, s_ping_slot(self));
    else {
        s_close_gracefully(self);
        s_reconnect_later(self);
    }
}

static void s_reply_bad(zb_probe_t *self, const char *data, size_t len)
{
    //  What came: the part that matched, then the rest of this read.
    char got[ZB_PROBE_EXPECT_MAX + 64], text[200];
    size_t have = self->matched < sizeof(got) ? self->matched : sizeof(got);
    memcpy(got, self->config->expect, have);
    size_t more = len < sizeof(got) - have ? len : sizeof(got) - have;
    memcpy(got + have, data, more);
    //  Up to 40 bytes of it, quoted.
    zb_text_printable(got, have + more < 40 ? have + more : 40, text, sizeof(text),
                      ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
    s_set_error(self, "bad response \"%s\"", text);
    s_close(self);
    s_failure(self, "bad-response");
    s_reconnect_after_failure(self);
}

//  A reply that is not what the check wants, said in error.
static void s_reply_wrong(zb_probe_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void s_reply_wrong(zb_probe_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->status.error, sizeof(self->status.error), format, args);
    va_end(args);
    s_close(self);
    s_failure(self, "bad-response");
    s_reconnect_after_failure(self);
}

//  A complete HTTP response: judged by its status and body. A server that
//  said it closes the connection (nginx after keepalive_requests) gets a
//  new one at once, no failure counted.
static void s_http_judge(zb_probe_t *self, bool closed)
{
    const zb_probe_config_t *config = self->config;
    const zb_http_reply_t *http = self->http;
    const char *spec = config->expect_status;
    if (!zb_http_status_match(spec, http->status)) {
        s_reply_wrong(self, "http: status %d, expected %s", http->status, spec);
        return;
    }
    if (!http->body_found) {
        char text[ZB_PROBE_EXPECT_MAX * 4 + 8];
        zb_text_printable(config->expect, config->expect_len < 40 ? config->expect_len : 40, text,
                          sizeof(text), ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        s_reply_wrong(self, "http: status %d, but \"%s\" is not in the body's first 64 KiB",
                      http->status, text);
        return;
    }
    bool reconnect = config->hold && (closed || http->close);
    unsigned generation = self->generation;
    s_reply_good(self);
    if (reconnect && self->generation == generation) {
        s_close_gracefully(self);
        s_connect(self);
    }
}

static void s_on_http(zb_probe_t *self, const char *buf, size_t n)
{
    size_t used;
    zb_http_result_t rc = zb_http_reply_feed(self->http, buf, n, &used);
    if (rc == ZB_HTTP_ERROR) {
        char text[200];
        zb_text_printable(buf, n < 40 ? n : 40, text, sizeof(text), ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        s_reply_wrong(self, "http: %s (\"%s\")", self->http->error, text);
    } else if (rc == ZB_HTTP_DONE)
        s_http_judge(self, false);
}

//  The connection closed while an HTTP response was due: complete (a body
//  until the close), or a kept-alive connection the server closed just as
//  the request went out (retried at once, on a new connection, without a
//  failure: a second close is one). Returns whether it was handled.
static bool s_http_closed(zb_probe_t *self)
{
    const zb_http_reply_t *http = self->http;
    bool nothing = http->status == 0 && http->header_bytes == 0 && http->line_len == 0;
    if (self->proven && nothing) {
        zb_log_debug("%s: the server closed the kept-alive connection; asking again on a new one",
                     self->config->name);
        s_close(self);
        self->stale = true;
        self->ping_now = true;
        s_connect(self);
        return true;
    }
    if (zb_http_reply_eof(self->http) != ZB_HTTP_DONE)
        return false;
    s_http_judge(self, true);
    return true;
}

//  A MySQL/MariaDB greeting (zb_mysql): a packet of protocol 10, or an
//  error packet (a host not allowed, too many connections), which is a
//  server that answers but will not serve. The greeting is judged on its
//  first read: one that came in parts is good once its start is right.
static void s_on_mysql(zb_probe_t *self, const char *buf, size_t n)
{
    zb_mysql_greeting_t greeting;
    zb_mysql_result_t rc = zb_mysql_parse(buf, n, &greeting);
    if (rc == ZB_MYSQL_GREETING || (rc == ZB_MYSQL_MORE && zb_mysql_begun(buf, n)))
        s_reply_good(self);
    else if (rc == ZB_MYSQL_ERROR)
        s_reply_wrong(self, "mysql: error %u: %s", greeting.error_code, greeting.error);
    else
        s_reply_bad(self, buf, n);
}

//  n bytes of the service's (n > 0).
static void s_on_data(zb_probe_t *self, const char *buf, ssize_t n)
{
    const zb_probe_config_t *config = self->config;
    //  Outside a ping (banners, the tail of a reply) bytes are discarded.
    if (self->conn != S_WAITING)
        return;
    if (config->reply == ZB_PROBE_REPLY_HTTP) {
        s_on_http(self, buf, (size_t)n);
        return;
    }
    if (config->reply == ZB_PROBE_REPLY_MYSQL) {
        s_on_mysql(self, buf, (size_t)n);
        return;
    }
    if (config->reply == ZB_PROBE_REPLY_PG_SSL) {
        //  To an SSLRequest 'S' (TLS on) or 'N' (off); to a GSSENCRequest
        //  'G' or 'N'. Anything else is not PostgreSQL.
        char c = buf[0];
        if (!self->pg_gss && c == 'S') {
            self->pg_gss = true;
            zb_log_info("%s: the server has TLS on: checking with a GSSENCRequest from now on "
                        "(a dropped TLS handshake would be logged at every check)",
                        config->name);
        }
        if (c == 'S' || c == 'N' || (c == 'G' && self->pg_gss))
            s_reply_good(self);
        else
            s_reply_bad(self, buf, (size_t)n);
        return;
    }
    if (config->expect_len == 0) {
        s_reply_good(self);
        return;
    }
    //  Compared as it arrives: a wrong first byte is a bad reply at once, a
    //  reply that stops short of the prefix runs into the timeout.
    size_t take = config->expect_len - self->matched;
    if ((size_t)n < take)
        take = (size_t)n;
    if (memcmp(buf, config->expect + self->matched, take) != 0) {
        s_reply_bad(self, buf, (size_t)n);
        return;
    }
    self->matched += take;
    if (self->matched == config->expect_len)
        s_reply_good(self);
}

static void s_read(zb_probe_t *self)
{
    char buf[4096];
    if (!self->tls) {
        ssize_t n = recv(self->fd, buf, sizeof(buf), 0);
        if (n > 0)
            s_on_data(self, buf, n);
        else if (n == 0) {
            if (!(self->http && self->conn == S_WAITING && s_http_closed(self)))
                s_on_peer_closed(self, 0);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            s_on_peer_closed(self, errno);
        return;
    }
    //  A TLS record read whole may hold more than one read's worth, which
    //  the socket will not announce again: read until the session is empty
    //  or a handler closed the connection. After 16 reads only what the
    //  session already holds is taken (the socket will say when there is
    //  more), so one busy connection cannot starve the loop.
    unsigned generation = self->generation;
    for (int reads = 0; self->generation == generation && (reads < 16 || zb_tls_pending(self->tls));
         reads++) {
        size_t got;
        char err[ZB_ERROR_MAX + 1];
        zb_tls_status_t rc = zb_tls_read(self->tls, buf, sizeof(buf), &got, err, sizeof(err));
        if (rc == ZB_TLS_OK)
            s_on_data(self, buf, (ssize_t)got);
        else if (rc == ZB_TLS_CLOSED &&
                 !(self->http && self->conn == S_WAITING && s_http_closed(self)))
            s_on_peer_closed(self, 0);
        else if (rc == ZB_TLS_ERROR) {
            //  A broken record or an alert: the session is over.
            s_close(self);
            s_set_error(self, "%s", err);
            s_failure(self, "tls");
            s_reconnect_after_failure(self);
        } else
            return; // WANT_READ: all read; WANT_WRITE (a renegotiation) is not done
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
        s_consume_check(self, zb_time_mono_ms());
        s_failure(self, "timeout");
        s_reconnect_later(self);
        break;
    case S_HANDSHAKE:
        zb_time_format_duration(self->config->timeout_ms, text, sizeof(text));
        s_set_error(self, "tls: handshake: no answer within %s", text);
        s_close(self);
        s_consume_check(self, zb_time_mono_ms());
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
        else if (!self->lookup && s_lookup(self) == -1) // a held connection's name ran out
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
