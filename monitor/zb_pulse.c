/*  zb_pulse: liveness datagrams in. See zb_pulse.h. */
#include "zb_pulse.h"
#include "zb_address.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_CACHE_MAX 20000 // shared keys kept (a host's one, twice the host cap)
#define S_LOG_MS 10000    // refusal warnings at most this often

//  One host's replay window: its agent run, the highest sequence number
//  accepted and which of the ZB_PULSE_WINDOW before it were.
typedef struct {
    char instance[ZB_INSTANCE_LEN + 1];
    uint64_t top;
    uint64_t seen; // bit i: top - i accepted
} s_window_t;

struct _zb_pulse_t {
    int fd;          // the UDP socket
    int port;        // bound
    zb_auth_t *auth; // not owned; NULL or plaintext: clear datagrams accepted
    zb_pulse_heard_fn *heard;
    void *arg;
    zhashx_t *windows; // host -> s_window_t
    zhashx_t *keys;    // Z85 sender key -> zb_datagram_key_t (crypto_box_beforenm)
    zb_pulse_stats_t stats;
    int64_t logged_mono;     // last refusal warning
    uint64_t refused_logged; // refusals in all when it was made
};

static void s_free(void **item)
{
    free(*item);
    *item = NULL;
}

zb_pulse_t *zb_pulse_new(const char *address, zb_auth_t *auth, zb_pulse_heard_fn *heard, void *arg,
                         char *err, size_t errsize)
{
    assert(address && heard && err);
    zb_pulse_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->fd = -1;
    self->auth = auth;
    self->heard = heard;
    self->arg = arg;
    self->windows = zhashx_new();
    self->keys = zhashx_new();
    if (!self->windows || !self->keys) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    zhashx_set_destructor(self->windows, s_free);
    zhashx_set_destructor(self->keys, s_free);
    struct sockaddr_storage addr;
    socklen_t len;
    char why[256];
    if (zb_address_parse(address, &addr, &len, why, sizeof(why)) != 0) {
        snprintf(err, errsize, "monitor/udp: %s", why);
        goto failed;
    }
    self->fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (self->fd == -1 || bind(self->fd, (struct sockaddr *)&addr, len) != 0) {
        snprintf(err, errsize, "monitor/udp: cannot bind %s: %s", address, strerror(errno));
        goto failed;
    }
    //  Room for a burst from thousands of hosts while a pass commits.
    int buf = 4 << 20;
    setsockopt(self->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    if (getsockname(self->fd, (struct sockaddr *)&bound, &bound_len) == 0)
        self->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                       : ((struct sockaddr_in *)&bound)->sin_port);
    return self;
failed:
    zb_pulse_destroy(&self);
    return NULL;
}

void zb_pulse_destroy(zb_pulse_t **self_p)
{
    assert(self_p);
    zb_pulse_t *self = *self_p;
    if (!self)
        return;
    if (self->fd != -1)
        close(self->fd);
    zhashx_destroy(&self->windows);
    zhashx_destroy(&self->keys);
    free(self);
    *self_p = NULL;
}

int zb_pulse_fd(zb_pulse_t *self)
{
    assert(self);
    return self->fd;
}

int zb_pulse_port(zb_pulse_t *self)
{
    assert(self);
    return self->port;
}

//  Refusals are what a hostile or misconfigured peer can repeat at will:
//  a line at most every S_LOG_MS, with the counts.
static void s_refused(zb_pulse_t *self, uint64_t *counter, const char *host, const char *why)
{
    (*counter)++;
    zb_log_debug("dropped a liveness datagram (%s): %s", host[0] ? host : "?", why);
    int64_t now = zb_time_mono_ms();
    if (self->logged_mono && now - self->logged_mono < S_LOG_MS)
        return;
    self->logged_mono = now;
    zb_log_warning("dropped a liveness datagram for %s: %s (malformed %" PRIu64 ", forged %" PRIu64
                   ", clear under CURVE %" PRIu64 ", replayed %" PRIu64 ", unknown %" PRIu64
                   " in all)",
                   host[0] ? host : "?", why, self->stats.malformed, self->stats.forged,
                   self->stats.plain, self->stats.replayed, self->stats.unknown);
}

//  The shared key for a sender's public key, computed once.
static const zb_datagram_key_t *s_key(zb_pulse_t *self, const uint8_t *sender)
{
    char text[ZB_AUTH_KEY_LEN + 1];
    if (!zmq_z85_encode(text, sender, ZB_DATAGRAM_KEY))
        return NULL;
    zb_datagram_key_t *key = zhashx_lookup(self->keys, text);
    if (key)
        return key;
    //  Only listed keys get here, so the cache is bounded by the
    //  allow-list; revoked keys stay until it is full, harmlessly (the
    //  allow-list is asked on every datagram).
    if (zhashx_size(self->keys) >= S_CACHE_MAX)
        zhashx_purge(self->keys);
    key = malloc(sizeof(*key));
    if (!key || zb_datagram_key(key, sender, zb_auth_secret(self->auth)) != 0 ||
        zhashx_insert(self->keys, text, key) != 0) {
        free(key);
        return NULL;
    }
    return key;
}

//  0 when seq is new for the window (not yet marked), -1 when replayed.
static int s_window_check(const s_window_t *window, const zb_datagram_t *dg)
{
    if (!window || strcmp(window->instance, dg->instance) != 0 || dg->seq > window->top)
        return 0;
    uint64_t behind = window->top - dg->seq;
    if (behind >= ZB_PULSE_WINDOW)
        return -1;
    return window->seen & (1ull << behind) ? -1 : 0;
}

static void s_window_mark(zb_pulse_t *self, s_window_t *window, const zb_datagram_t *dg)
{
    if (!window) {
        window = calloc(1, sizeof(*window));
        if (!window || zhashx_insert(self->windows, dg->host, window) != 0) {
            free(window);
            return;
        }
    }
    //  The owner said this is the host's current run: a new run starts over.
    if (strcmp(window->instance, dg->instance) != 0) {
        snprintf(window->instance, sizeof(window->instance), "%s", dg->instance);
        window->top = dg->seq;
        window->seen = 1;
        return;
    }
    if (dg->seq > window->top) {
        uint64_t shift = dg->seq - window->top;
        window->seen = shift >= 64 ? 0 : window->seen << shift;
        window->seen |= 1;
        window->top = dg->seq;
    } else
        window->seen |= 1ull << (window->top - dg->seq);
}

void zb_pulse_take(zb_pulse_t *self, const uint8_t *buf, size_t len)
{
    assert(self && buf);
    self->stats.received++;
    zb_datagram_t dg;
    const char *why = "";
    if (zb_datagram_peek(buf, len, &dg, &why) != 0) {
        s_refused(self, &self->stats.malformed, "", why);
        return;
    }
    bool curve = self->auth && zb_auth_secret(self->auth);
    if (curve && !dg.sealed) {
        s_refused(self, &self->stats.plain, dg.host, "in clear, and CURVE is on");
        return;
    }
    if (dg.sealed) {
        if (!curve) {
            s_refused(self, &self->stats.malformed, dg.host, "sealed, and CURVE is off");
            return;
        }
        if (!zb_auth_key_bound(self->auth, dg.sender_key, dg.host)) {
            s_refused(self, &self->stats.forged, dg.host,
                      "its key is not in the allow-list for this host");
            return;
        }
        const zb_datagram_key_t *key = s_key(self, dg.sender_key);
        if (!key || zb_datagram_open(buf, len, key, &dg, &why) != 0) {
            s_refused(self, &self->stats.forged, dg.host, key ? why : "unusable key");
            return;
        }
    }
    s_window_t *window = zhashx_lookup(self->windows, dg.host);
    if (s_window_check(window, &dg) != 0) {
        s_refused(self, &self->stats.replayed, dg.host, "sequence number seen before");
        return;
    }
    if (self->heard(self->arg, &dg) != 0) {
        self->stats.unknown++; // routine: an agent before its first beat, a restart
        return;
    }
    s_window_mark(self, window, &dg);
    self->stats.accepted++;
}

void zb_pulse_read(zb_pulse_t *self)
{
    assert(self);
    uint8_t buf[ZB_DATAGRAM_MAX + 1];
    for (int i = 0; i < ZB_PULSE_BATCH; i++) {
        ssize_t got = recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
        if (got < 0)
            return; // EAGAIN: all read (errors on UDP are the peer's ICMP, nothing to do)
        //  MSG_TRUNC: the datagram's true length, so an oversized one is
        //  refused for its length rather than read cut short.
        zb_pulse_take(self, buf, (size_t)got > sizeof(buf) ? sizeof(buf) : (size_t)got);
    }
}

void zb_pulse_stats(zb_pulse_t *self, zb_pulse_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
}

//  --------------------------------------------------------------------------
//  Self-test: in clear (CURVE is exercised by tests/faults against the
//  real monitor), over a real socket.

typedef struct {
    char instance[ZB_INSTANCE_LEN + 1];
    int heard;
} s_test_t;

static int s_test_heard(void *arg, const zb_datagram_t *dg)
{
    s_test_t *test = arg;
    if (strcmp(dg->host, "web-1") != 0 || strcmp(dg->instance, test->instance) != 0)
        return -1;
    test->heard++;
    return 0;
}

static void s_send(int fd, const zb_datagram_t *dg)
{
    uint8_t buf[ZB_DATAGRAM_MAX];
    int len = zb_datagram_encode(dg, NULL, NULL, buf, sizeof(buf));
    assert(len > 0);
    assert(send(fd, buf, (size_t)len, 0) == len);
}

void zb_pulse_test(bool verbose)
{
    if (verbose)
        printf(" * zb_pulse: ");
    s_test_t test = {.instance = "00112233aabbccdd", .heard = 0};
    char err[256];
    zb_pulse_t *pulse = zb_pulse_new("127.0.0.1:0", NULL, s_test_heard, &test, err, sizeof(err));
    assert(pulse && zb_pulse_port(pulse) > 0);
    assert(!zb_pulse_new("nowhere", NULL, s_test_heard, &test, err, sizeof(err)));
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)zb_pulse_port(pulse)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert(connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0);
    zb_datagram_t dg = {.host = "web-1", .seq = 10, .interval_ms = 250};
    snprintf(dg.instance, sizeof(dg.instance), "%s", test.instance);
    s_send(fd, &dg);
    dg.seq = 12;
    s_send(fd, &dg);
    dg.seq = 11; // late, not replayed
    s_send(fd, &dg);
    dg.seq = 12; // replayed
    s_send(fd, &dg);
    snprintf(dg.host, sizeof(dg.host), "db-1"); // unknown
    s_send(fd, &dg);
    assert(send(fd, "ZBU\1\0", 5, 0) == 5); // truncated
    zb_pulse_stats_t stats = {0};
    int64_t until = zb_time_mono_ms() + 5000;
    while (stats.received < 6 && zb_time_mono_ms() < until) {
        zb_pulse_read(pulse);
        zb_pulse_stats(pulse, &stats);
    }
    assert(stats.received == 6 && stats.accepted == 3 && test.heard == 3);
    assert(stats.replayed == 1 && stats.unknown == 1 && stats.malformed == 1);
    //  Far behind the window: replayed; a new run starts a new window.
    zb_datagram_t old = {.host = "web-1", .seq = 1, .interval_ms = 250};
    snprintf(old.instance, sizeof(old.instance), "%s", test.instance);
    uint8_t buf[ZB_DATAGRAM_MAX];
    old.seq = 200;
    int len = zb_datagram_encode(&old, NULL, NULL, buf, sizeof(buf));
    zb_pulse_take(pulse, buf, (size_t)len);
    old.seq = 100;
    len = zb_datagram_encode(&old, NULL, NULL, buf, sizeof(buf));
    zb_pulse_take(pulse, buf, (size_t)len);
    zb_pulse_stats(pulse, &stats);
    assert(stats.replayed == 2 && stats.accepted == 4);
    snprintf(test.instance, sizeof(test.instance), "ffeeddccbbaa9988");
    snprintf(old.instance, sizeof(old.instance), "%s", test.instance);
    old.seq = 1;
    len = zb_datagram_encode(&old, NULL, NULL, buf, sizeof(buf));
    zb_pulse_take(pulse, buf, (size_t)len);
    zb_pulse_stats(pulse, &stats);
    assert(stats.accepted == 5);
    close(fd);
    zb_pulse_destroy(&pulse);
    assert(!pulse);
    if (verbose)
        printf("OK\n");
}
