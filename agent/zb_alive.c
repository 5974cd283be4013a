/*  zb_alive: liveness datagrams to the monitors. See zb_alive.h. */
#include "zb_alive.h"
#include "zb_datagram.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  One monitor: its name and port, and the address last resolved.
typedef struct {
    char host[256];
    int port;
    bool literal; // an address: never resolved
    bool known;   // addr is usable
    zb_net_addr_t addr;
    zb_lookup_t *lookup; // in flight
    int64_t resolved_mono;
    zb_alive_t *owner;
} s_target_t;

struct _zb_alive_t {
    zb_loop_t *loop;
    zb_resolver_t *resolver;
    zb_timer_t timer;
    int64_t interval_ms;
    int64_t next; // the next send (monotonic ms)
    int fd4, fd6; // one socket per family, -1 until needed
    s_target_t targets[ZB_ALIVE_TARGETS_MAX];
    size_t target_count;
    zb_datagram_t dg; // host, instance; seq and changes move
    bool sealed;
    zb_datagram_key_t key; // this agent's secret x the monitor's public key
    uint8_t public_key[ZB_DATAGRAM_KEY];
    uint64_t sent, failed;
    uint64_t failed_logged;
    int64_t failed_log_mono;
};

//  Splits the list; fills targets (when not NULL). Returns the count, or -1.
static int s_parse(const char *list, s_target_t *targets, char *err, size_t errsize)
{
    int count = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        char item[300];
        if ((size_t)(end - p) >= sizeof(item)) {
            snprintf(err, errsize, "\"%.40s...\" is too long", p);
            return -1;
        }
        memcpy(item, p, (size_t)(end - p));
        item[end - p] = '\0';
        if (count == ZB_ALIVE_TARGETS_MAX) {
            snprintf(err, errsize, "more than %d monitors", ZB_ALIVE_TARGETS_MAX);
            return -1;
        }
        s_target_t scratch;
        s_target_t *t = targets ? &targets[count] : &scratch;
        memset(t, 0, sizeof(*t));
        char why[200];
        if (zb_net_parse(item, t->host, sizeof(t->host), &t->port, &t->addr, &t->literal, why,
                         sizeof(why)) != 0) {
            snprintf(err, errsize, "\"%s\": %s", item, why);
            return -1;
        }
        t->known = t->literal;
        count++;
        p = end;
    }
    if (count == 0) {
        snprintf(err, errsize, "names no monitor (host:port)");
        return -1;
    }
    return count;
}

int zb_alive_check(const char *targets, char *err, size_t errsize)
{
    assert(targets && err);
    return s_parse(targets, NULL, err, errsize) < 0 ? -1 : 0;
}

static void s_resolve(zb_alive_t *self, s_target_t *target);

static void s_on_resolved(void *arg, const zb_resolve_result_t *result)
{
    s_target_t *target = arg;
    target->lookup = NULL;
    target->resolved_mono = zb_time_mono_ms();
    if (result->status == ZB_RESOLVE_OK) {
        target->addr = result->addr;
        target->known = true;
    } else
        //  The last address stays in use: a DNS hiccup must not stop the
        //  datagrams to a monitor that has not moved.
        zb_log_warning("udp: %s", result->error);
}

static void s_resolve(zb_alive_t *self, s_target_t *target)
{
    if (target->literal || target->lookup)
        return;
    target->resolved_mono = zb_time_mono_ms(); // tried: not again before the period
    target->lookup =
        zb_resolver_lookup(self->resolver, target->host, target->port, s_on_resolved, target);
}

static int s_socket(zb_alive_t *self, int family)
{
    int *fd = family == AF_INET6 ? &self->fd6 : &self->fd4;
    if (*fd == -1)
        *fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return *fd;
}

static void s_on_timer(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    zb_alive_t *self = arg;
    int64_t now = zb_loop_now(loop);
    self->dg.seq++;
    uint8_t buf[ZB_DATAGRAM_MAX];
    int len = zb_datagram_encode(&self->dg, self->sealed ? &self->key : NULL,
                                 self->sealed ? self->public_key : NULL, buf, sizeof(buf));
    for (size_t i = 0; len > 0 && i < self->target_count; i++) {
        s_target_t *target = &self->targets[i];
        if (!target->literal && now - target->resolved_mono >= ZB_ALIVE_RESOLVE_MS)
            s_resolve(self, target);
        if (!target->known)
            continue;
        int fd = s_socket(self, target->addr.addr.sa.sa_family);
        if (fd == -1 ||
            sendto(fd, buf, (size_t)len, 0, &target->addr.addr.sa, target->addr.len) != len)
            self->failed++;
        else
            self->sent++;
    }
    //  A firewall or no route: said at most once a minute, with the count.
    if (self->failed > self->failed_logged && now - self->failed_log_mono >= 60000) {
        zb_log_warning("udp: %" PRIu64 " liveness datagrams could not be sent (%s)",
                       self->failed - self->failed_logged, strerror(errno));
        self->failed_logged = self->failed;
        self->failed_log_mono = now;
    }
    //  On the beat's grid: a late pass does not shift the ones after it.
    self->next += self->interval_ms;
    if (self->next <= now)
        self->next = now + self->interval_ms;
    zb_loop_timer_set(loop, timer, self->next);
}

zb_alive_t *zb_alive_new(zb_loop_t *loop, zb_resolver_t *resolver, const char *targets,
                         int64_t interval_ms, const zb_curve_keys_t *curve, const char *host,
                         const char *instance)
{
    assert(loop && resolver && targets && curve && host && instance && interval_ms > 0);
    zb_alive_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zb_log_error("udp: out of memory");
        return NULL;
    }
    self->loop = loop;
    self->resolver = resolver;
    self->interval_ms = interval_ms;
    self->fd4 = self->fd6 = -1;
    zb_timer_init(&self->timer, s_on_timer, self);
    char err[300];
    int count = s_parse(targets, self->targets, err, sizeof(err));
    if (count < 0) {
        zb_log_error("udp: %s", err);
        goto failed;
    }
    self->target_count = (size_t)count;
    snprintf(self->dg.host, sizeof(self->dg.host), "%s", host);
    snprintf(self->dg.instance, sizeof(self->dg.instance), "%s", instance);
    self->dg.interval_ms = (uint32_t)interval_ms;
    if (curve->on) {
        uint8_t secret[ZB_DATAGRAM_KEY], server[ZB_DATAGRAM_KEY];
        bool ok = zmq_z85_decode(self->public_key, curve->public_key) &&
                  zmq_z85_decode(secret, curve->secret_key) &&
                  zmq_z85_decode(server, curve->server_key) &&
                  zb_datagram_key(&self->key, server, secret) == 0;
        memset(secret, 0, sizeof(secret));
        if (!ok) {
            zb_log_error("udp: the CURVE keys cannot seal datagrams");
            goto failed;
        }
        self->sealed = true;
    }
    for (size_t i = 0; i < self->target_count; i++) {
        self->targets[i].owner = self;
        s_resolve(self, &self->targets[i]);
    }
    self->next = zb_time_mono_ms() + interval_ms;
    zb_loop_timer_set(loop, &self->timer, self->next);
    zb_log_info("udp: liveness datagrams every %" PRId64 "ms to %s%s", interval_ms, targets,
                self->sealed ? " (sealed)" : "");
    return self;
failed:
    zb_alive_destroy(&self);
    return NULL;
}

void zb_alive_destroy(zb_alive_t **self_p)
{
    assert(self_p);
    zb_alive_t *self = *self_p;
    if (!self)
        return;
    zb_loop_timer_cancel(self->loop, &self->timer);
    for (size_t i = 0; i < self->target_count; i++)
        zb_lookup_cancel(&self->targets[i].lookup);
    if (self->fd4 != -1)
        close(self->fd4);
    if (self->fd6 != -1)
        close(self->fd6);
    memset(&self->key, 0, sizeof(self->key));
    free(self);
    *self_p = NULL;
}

void zb_alive_changed(zb_alive_t *self)
{
    if (self)
        self->dg.changes++;
}

void zb_alive_counts(zb_alive_t *self, uint64_t *sent, uint64_t *failed)
{
    assert(self && sent && failed);
    *sent = self->sent;
    *failed = self->failed;
}

//  --------------------------------------------------------------------------
//  Self-test: real datagrams over loopback, read back and decoded.

static void s_test_stop(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    (void)arg;
    zb_loop_stop(loop);
}

void zb_alive_test(bool verbose)
{
    if (verbose)
        printf(" * zb_alive: ");
    char err[300];
    assert(zb_alive_check("127.0.0.1:7403, monitor.example:7403", err, sizeof(err)) == 0);
    assert(zb_alive_check("", err, sizeof(err)) == -1);
    assert(zb_alive_check("nohost", err, sizeof(err)) == -1);
    assert(zb_alive_check("a:99999", err, sizeof(err)) == -1);

    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert(bind(rx, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    assert(getsockname(rx, (struct sockaddr *)&addr, &len) == 0);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", ntohs(addr.sin_port));

    zb_loop_t *loop = zb_loop_new();
    zb_resolver_t *resolver = zb_resolver_new(loop, err, sizeof(err));
    assert(loop && resolver);
    zb_curve_keys_t curve = {.on = false};
    zb_alive_t *alive =
        zb_alive_new(loop, resolver, target, 20, &curve, "web-1", "0123456789abcdef");
    assert(alive);
    zb_alive_changed(alive);
    zb_timer_t stop;
    zb_timer_init(&stop, s_test_stop, NULL);
    zb_loop_timer_set(loop, &stop, zb_time_mono_ms() + 150);
    assert(zb_loop_run(loop) == 0);
    uint64_t sent, failed;
    zb_alive_counts(alive, &sent, &failed);
    assert(sent >= 3 && failed == 0);
    uint8_t buf[ZB_DATAGRAM_MAX + 1];
    uint64_t last = 0, got = 0;
    ssize_t n;
    while ((n = recv(rx, buf, sizeof(buf), 0)) > 0) {
        zb_datagram_t dg;
        const char *why;
        assert(zb_datagram_peek(buf, (size_t)n, &dg, &why) == 0);
        assert(strcmp(dg.host, "web-1") == 0 && dg.interval_ms == 20 && dg.changes == 1);
        assert(dg.seq > last);
        last = dg.seq;
        got++;
    }
    assert(got == sent);
    zb_alive_destroy(&alive);
    assert(!alive);
    zb_resolver_destroy(&resolver);
    zb_loop_destroy(&loop);
    close(rx);
    if (verbose)
        printf("OK\n");
}
