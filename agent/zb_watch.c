/*  zb_watch: heartbeats and reachability of monitors. See zb_watch.h. */
#include "zb_watch.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_NEW, S_UP, S_DOWN } s_state_t;

//  One monitor endpoint as the socket's events name it.
typedef struct {
    s_state_t state;
    int64_t changed_mono; // when it entered the state
} s_endpoint_t;

struct _zb_watch_t {
    zb_loop_t *loop;     // not owned
    zsock_t *sock;       // watched, not owned
    zsock_t *events;     // PAIR reading the socket monitor
    int fd;              // its ZMQ_FD, in the loop
    zhashx_t *endpoints; // endpoint -> s_endpoint_t
};

int zb_watch_heartbeats(zsock_t *sock, int64_t beat_ms)
{
    assert(sock);
    int64_t ivl = beat_ms;
    if (ivl < ZB_WATCH_IVL_MIN_MS)
        ivl = ZB_WATCH_IVL_MIN_MS;
    if (ivl > ZB_WATCH_IVL_MAX_MS)
        ivl = ZB_WATCH_IVL_MAX_MS;
    int64_t timeout = ivl * ZB_WATCH_TIMEOUT_FACTOR;
    if (timeout < ZB_WATCH_TIMEOUT_MIN_MS)
        timeout = ZB_WATCH_TIMEOUT_MIN_MS;
    zsock_set_heartbeat_ivl(sock, (int)ivl);
    zsock_set_heartbeat_timeout(sock, (int)timeout);
    //  The peer drops us after as long without traffic: a monitor's half-open
    //  connection from an agent host that died goes away too.
    zsock_set_heartbeat_ttl(sock, (int)timeout);
    //  A connect to an address that drops SYNs, or a handshake with a frozen
    //  monitor (its kernel still accepts), would otherwise hang for minutes
    //  (TCP) or 30 s (ZeroMQ's default): retry on the same schedule instead.
    zsock_set_connect_timeout(sock, (int)timeout);
    zsock_set_handshake_ivl(sock, (int)timeout);
    return (int)timeout;
}

static s_endpoint_t *s_endpoint(zb_watch_t *self, const char *name)
{
    s_endpoint_t *endpoint = zhashx_lookup(self->endpoints, name);
    if (endpoint)
        return endpoint;
    endpoint = calloc(1, sizeof(*endpoint));
    if (!endpoint)
        return NULL;
    endpoint->state = S_NEW;
    endpoint->changed_mono = zb_time_mono_ms();
    if (zhashx_insert(self->endpoints, name, endpoint) != 0) {
        free(endpoint);
        return NULL;
    }
    return endpoint;
}

static void s_handle(zb_watch_t *self, int event, const char *name)
{
    bool up = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    bool down = event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CONNECT_RETRIED ||
                event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (!up && !down)
        return;
    s_endpoint_t *endpoint = s_endpoint(self, name);
    if (!endpoint) {
        zb_log_error("monitor watch: out of memory");
        return;
    }
    int64_t now = zb_time_mono_ms();
    char took[32];
    zb_time_format_duration(now - endpoint->changed_mono, took, sizeof(took));
    if (up && endpoint->state != S_UP) {
        if (endpoint->state == S_DOWN)
            zb_log_info("monitor back: %s (after %s)", name, took);
        else
            zb_log_info("monitor connected: %s", name);
        endpoint->state = S_UP;
        endpoint->changed_mono = now;
    } else if (down && endpoint->state != S_DOWN) {
        const char *why = event == ZMQ_EVENT_DISCONNECTED      ? "connection lost or no heartbeat"
                          : event == ZMQ_EVENT_CONNECT_RETRIED ? "cannot connect"
                          : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "refused our key"
                                                                     : "handshake failed";
        zb_log_warning("monitor unreachable: %s (%s); messages are dropped until it is back", name,
                       why);
        endpoint->state = S_DOWN;
        endpoint->changed_mono = now;
    }
}

//  ZMQ_FD signals "look at ZMQ_EVENTS", edge-style: drain everything now,
//  or the fd may stay quiet with messages queued.
static void s_on_events(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    zb_watch_t *self = arg;
    void *handle = zsock_resolve(self->events);
    while (zsock_events(self->events) & ZMQ_POLLIN) {
        zmq_msg_t head, addr;
        zmq_msg_init(&head);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&head, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&head);
            zmq_msg_close(&addr);
            break;
        }
        int more = zmq_msg_more(&head);
        if (more && zmq_msg_recv(&addr, handle, ZMQ_DONTWAIT) != -1 &&
            zmq_msg_size(&head) >= sizeof(uint16_t)) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&head), sizeof(event));
            char name[256];
            size_t size = zmq_msg_size(&addr);
            if (size >= sizeof(name))
                size = sizeof(name) - 1;
            memcpy(name, zmq_msg_data(&addr), size);
            name[size] = '\0';
            s_handle(self, event, name);
        }
        zmq_msg_close(&head);
        zmq_msg_close(&addr);
    }
}

static void s_endpoint_free(void **item)
{
    free(*item);
    *item = NULL;
}

zb_watch_t *zb_watch_new(zb_loop_t *loop, zsock_t *sock)
{
    assert(loop && sock);
    zb_watch_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zb_log_error("monitor watch: out of memory");
        return NULL;
    }
    self->loop = loop;
    self->fd = -1;
    self->endpoints = zhashx_new();
    if (!self->endpoints) {
        zb_log_error("monitor watch: out of memory");
        goto failed;
    }
    zhashx_set_destructor(self->endpoints, s_endpoint_free);
    //  A unique inproc name per watch: several agents may share a process
    //  in tests.
    char name[64];
    snprintf(name, sizeof(name), "inproc://zb-watch-%p", (void *)self);
    int mask = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(zsock_resolve(sock), name, mask) == -1) {
        zb_log_error("monitor watch: %s", zmq_strerror(zmq_errno()));
        goto failed;
    }
    self->sock = sock;
    self->events = zsock_new(ZMQ_PAIR);
    if (!self->events || zsock_connect(self->events, "%s", name) == -1) {
        zb_log_error("monitor watch: cannot read socket events: %s", zmq_strerror(zmq_errno()));
        goto failed;
    }
    self->fd = zsock_fd(self->events);
    if (zb_loop_add_fd(loop, self->fd, ZB_LOOP_READ, s_on_events, self) == -1) {
        zb_log_error("monitor watch: %s", strerror(errno));
        self->fd = -1;
        goto failed;
    }
    //  The connect above may have consumed the fd's wake-up: reading
    //  ZMQ_EVENTS now re-arms it (the mailbox goes passive when empty).
    s_on_events(loop, self->fd, ZB_LOOP_READ, self);
    return self;
failed:
    zb_watch_destroy(&self);
    return NULL;
}

void zb_watch_destroy(zb_watch_t **self_p)
{
    assert(self_p);
    zb_watch_t *self = *self_p;
    if (!self)
        return;
    if (self->fd != -1)
        zb_loop_del_fd(self->loop, self->fd);
    if (self->sock)
        zmq_socket_monitor(zsock_resolve(self->sock), NULL, 0);
    zsock_destroy(&self->events);
    zhashx_destroy(&self->endpoints);
    free(self);
    *self_p = NULL;
}

size_t zb_watch_reachable(zb_watch_t *self)
{
    assert(self);
    size_t count = 0;
    for (s_endpoint_t *endpoint = zhashx_first(self->endpoints); endpoint;
         endpoint = zhashx_next(self->endpoints))
        if (endpoint->state == S_UP)
            count++;
    return count;
}

//  Self-test: a PUB watched in a loop reaches a SUB, loses it when the SUB
//  goes away, and gets it back when it is bound again on the same port.

typedef struct {
    zb_watch_t *watch;
    size_t want;
    int64_t deadline;
    zb_timer_t timer;
} s_wait_t;

static void s_on_check(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    s_wait_t *wait = arg;
    if (zb_watch_reachable(wait->watch) == wait->want || zb_loop_now(loop) > wait->deadline)
        zb_loop_stop(loop);
    else
        zb_loop_timer_set(loop, timer, zb_loop_now(loop) + 10);
}

static bool s_wait_reachable(zb_loop_t *loop, zb_watch_t *watch, size_t want)
{
    s_wait_t wait = {.watch = watch, .want = want, .deadline = zb_time_mono_ms() + 10000};
    zb_timer_init(&wait.timer, s_on_check, &wait);
    zb_loop_timer_set(loop, &wait.timer, zb_time_mono_ms());
    zb_loop_run(loop);
    zb_loop_timer_cancel(loop, &wait.timer);
    return zb_watch_reachable(watch) == want;
}

void zb_watch_test(bool verbose)
{
    printf(" * zb_watch: ");
    zb_log_init("zb_watch_test", verbose);
    zb_loop_t *loop = zb_loop_new();
    assert(loop);
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert(sub);
    int port = zsock_bind(sub, "tcp://127.0.0.1:*");
    assert(port > 0);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert(pub);
    assert(zb_watch_heartbeats(pub, 100) == ZB_WATCH_TIMEOUT_MIN_MS);
    assert(zb_watch_heartbeats(pub, 3600000) == ZB_WATCH_IVL_MAX_MS * ZB_WATCH_TIMEOUT_FACTOR);
    zb_watch_heartbeats(pub, 1000);
    zsock_set_reconnect_ivl(pub, 50);
    zb_watch_t *watch = zb_watch_new(loop, pub);
    assert(watch);
    assert(zb_watch_reachable(watch) == 0);
    assert(zsock_connect(pub, "tcp://127.0.0.1:%d", port) == 0);
    assert(s_wait_reachable(loop, watch, 1));
    zsock_destroy(&sub);
    assert(s_wait_reachable(loop, watch, 0));
    sub = zsock_new(ZMQ_SUB);
    assert(sub && zsock_bind(sub, "tcp://127.0.0.1:%d", port) == port);
    assert(s_wait_reachable(loop, watch, 1));
    zb_watch_destroy(&watch);
    zb_watch_destroy(&watch);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
    zb_loop_destroy(&loop);
    printf("OK\n");
}
