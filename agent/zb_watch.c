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

//  One monitor endpoint as the socket's events name it: the string it was
//  connected with, so it can be re-connected by that name.
typedef struct {
    s_state_t state;
    int64_t changed_mono; // when it entered the state
    bool refused;         // our key was refused, not admitted since
    int64_t retry_mono;   // when to re-connect it, 0 when not due
    int64_t backoff_ms;   // the wait before the next retry after that
    unsigned attempts;    // re-connects in this refusal streak
} s_endpoint_t;

struct _zb_watch_t {
    zb_loop_t *loop;     // not owned
    zsock_t *sock;       // watched, not owned
    zsock_t *events;     // PAIR reading the socket monitor
    int fd;              // its ZMQ_FD, in the loop
    zhashx_t *endpoints; // endpoint -> s_endpoint_t
    zb_timer_t retry;    // the next re-connect of a refused endpoint
    char label[32];      // peers' name in logs
    bool quiet;          // log only refusals and re-admissions
    int64_t retry_first_ms;
    int64_t retry_max_ms;
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

//  Arms the timer for the earliest re-connect due, if any.
static void s_retry_arm(zb_watch_t *self)
{
    int64_t next = 0;
    for (s_endpoint_t *endpoint = zhashx_first(self->endpoints); endpoint;
         endpoint = zhashx_next(self->endpoints))
        if (endpoint->retry_mono && (!next || endpoint->retry_mono < next))
            next = endpoint->retry_mono;
    if (next)
        zb_loop_timer_set(self->loop, &self->retry, next);
    else
        zb_loop_timer_cancel(self->loop, &self->retry);
}

//  Our key was refused at name's handshake: libzmq will not connect there
//  again by itself (4.3), so we do, later.
static void s_refused(zb_watch_t *self, s_endpoint_t *endpoint, const char *name, int64_t now)
{
    if (!endpoint->refused) {
        char first[32], most[32];
        zb_time_format_duration(self->retry_first_ms, first, sizeof(first));
        zb_time_format_duration(self->retry_max_ms, most, sizeof(most));
        zb_log_warning("%s refused our key: %s (is this agent's public certificate in its "
                       "allow-list?); trying again every %s..%s",
                       self->label, name, first, most);
        endpoint->refused = true;
        endpoint->attempts = 0;
        endpoint->backoff_ms = self->retry_first_ms;
    }
    if (endpoint->retry_mono)
        return; // one refusal, several events
    endpoint->retry_mono = now + endpoint->backoff_ms;
    endpoint->backoff_ms *= 2;
    if (endpoint->backoff_ms > self->retry_max_ms)
        endpoint->backoff_ms = self->retry_max_ms;
    s_retry_arm(self);
}

static void s_on_retry(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    zb_watch_t *self = arg;
    int64_t now = zb_loop_now(loop);
    zlistx_t *gone = NULL;
    for (s_endpoint_t *endpoint = zhashx_first(self->endpoints); endpoint;
         endpoint = zhashx_next(self->endpoints)) {
        if (!endpoint->retry_mono || endpoint->retry_mono > now)
            continue;
        endpoint->retry_mono = 0;
        const char *name = zhashx_cursor(self->endpoints);
        //  The endpoint is still registered (its session ended, not the
        //  endpoint): disconnect, then connect anew. ENOENT: a reload
        //  removed it meanwhile; it is no business of ours any more.
        if (zsock_disconnect(self->sock, "%s", name) == -1) {
            if (!gone)
                gone = zlistx_new();
            if (gone)
                zlistx_add_end(gone, (void *)name);
            continue;
        }
        endpoint->attempts++;
        if (zsock_connect(self->sock, "%s", name) == -1)
            zb_log_error("%s: cannot connect to %s again: %s", self->label, name,
                         zmq_strerror(zmq_errno()));
        else
            zb_log_debug("%s: re-connecting to %s (attempt %u)", self->label, name,
                         endpoint->attempts);
    }
    //  Deleted after the walk: a zhashx must not change while iterated.
    for (const char *name = gone ? zlistx_first(gone) : NULL; name; name = zlistx_next(gone))
        zhashx_delete(self->endpoints, name);
    zlistx_destroy(&gone);
    s_retry_arm(self);
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
    if (up && endpoint->refused) {
        zb_log_info("%s admitted our key: %s (after %u attempt%s)", self->label, name,
                    endpoint->attempts, endpoint->attempts == 1 ? "" : "s");
        endpoint->refused = false;
        endpoint->retry_mono = 0;
    }
    if (up && endpoint->state != S_UP) {
        if (!self->quiet && endpoint->state == S_DOWN)
            zb_log_info("%s back: %s (after %s)", self->label, name, took);
        else if (!self->quiet)
            zb_log_info("%s connected: %s", self->label, name);
        endpoint->state = S_UP;
        endpoint->changed_mono = now;
    } else if (down && endpoint->state != S_DOWN) {
        const char *why = event == ZMQ_EVENT_DISCONNECTED      ? "connection lost or no heartbeat"
                          : event == ZMQ_EVENT_CONNECT_RETRIED ? "cannot connect"
                          : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "refused our key"
                                                                     : "handshake failed";
        if (!self->quiet)
            zb_log_warning("%s unreachable: %s (%s); messages are dropped until it is back",
                           self->label, name, why);
        endpoint->state = S_DOWN;
        endpoint->changed_mono = now;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        s_refused(self, endpoint, name, now);
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
    zb_timer_init(&self->retry, s_on_retry, self);
    snprintf(self->label, sizeof(self->label), "monitor");
    self->retry_first_ms = ZB_WATCH_RETRY_MS;
    self->retry_max_ms = ZB_WATCH_RETRY_MAX_MS;
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
    zb_loop_timer_cancel(self->loop, &self->retry);
    if (self->sock)
        zmq_socket_monitor(zsock_resolve(self->sock), NULL, 0);
    zsock_destroy(&self->events);
    zhashx_destroy(&self->endpoints);
    free(self);
    *self_p = NULL;
}

void zb_watch_set_label(zb_watch_t *self, const char *label, bool quiet)
{
    assert(self && label);
    snprintf(self->label, sizeof(self->label), "%s", label);
    self->quiet = quiet;
}

void zb_watch_set_retry(zb_watch_t *self, int64_t first_ms, int64_t max_ms)
{
    assert(self && first_ms > 0 && max_ms >= first_ms);
    self->retry_first_ms = first_ms;
    self->retry_max_ms = max_ms;
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
    size_t want;  // reachable endpoints
    bool refused; // or: wait for a refused endpoint instead
    int64_t deadline;
    zb_timer_t timer;
} s_wait_t;

static bool s_any_refused(zb_watch_t *watch)
{
    for (s_endpoint_t *endpoint = zhashx_first(watch->endpoints); endpoint;
         endpoint = zhashx_next(watch->endpoints))
        if (endpoint->refused)
            return true;
    return false;
}

static bool s_wait_done(s_wait_t *wait)
{
    return wait->refused ? s_any_refused(wait->watch)
                         : zb_watch_reachable(wait->watch) == wait->want;
}

static void s_on_check(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    s_wait_t *wait = arg;
    if (s_wait_done(wait) || zb_loop_now(loop) > wait->deadline)
        zb_loop_stop(loop);
    else
        zb_loop_timer_set(loop, timer, zb_loop_now(loop) + 10);
}

static bool s_wait(zb_loop_t *loop, zb_watch_t *watch, size_t want, bool refused)
{
    s_wait_t wait = {
        .watch = watch, .want = want, .refused = refused, .deadline = zb_time_mono_ms() + 10000};
    zb_timer_init(&wait.timer, s_on_check, &wait);
    zb_loop_timer_set(loop, &wait.timer, zb_time_mono_ms());
    zb_loop_run(loop);
    zb_loop_timer_cancel(loop, &wait.timer);
    return s_wait_done(&wait);
}

static bool s_wait_reachable(zb_loop_t *loop, zb_watch_t *watch, size_t want)
{
    return s_wait(loop, watch, want, false);
}

//  A CURVE server whose ZAP handler (czmq's zauth, good enough for a test)
//  refuses our key until its public certificate is in the directory: the
//  watch re-connects, and the key admitted later gets in without a restart.
static void s_test_refused_key(zb_loop_t *loop)
{
    char dir[] = "/tmp/zb-watch-test-XXXXXX";
    assert(mkdtemp(dir));
    zactor_t *auth = zactor_new(zauth, NULL);
    assert(auth);
    assert(zstr_sendx(auth, "CURVE", dir, NULL) == 0);
    assert(zsock_wait(auth) == 0);
    zcert_t *server = zcert_new();
    zcert_t *client = zcert_new();
    assert(server && client);
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert(sub);
    zcert_apply(server, sub);
    zsock_set_curve_server(sub, 1);
    int port = zsock_bind(sub, "tcp://127.0.0.1:*");
    assert(port > 0);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert(pub);
    zcert_apply(client, pub);
    zsock_set_curve_serverkey(pub, zcert_public_txt(server));
    zb_watch_heartbeats(pub, 1000);
    zb_watch_t *watch = zb_watch_new(loop, pub);
    assert(watch);
    zb_watch_set_label(watch, "replay", true);
    zb_watch_set_retry(watch, 50, 100);
    assert(zsock_connect(pub, "tcp://127.0.0.1:%d", port) == 0);
    assert(s_wait(loop, watch, 0, true));
    assert(zb_watch_reachable(watch) == 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/client.cert", dir);
    assert(zcert_save_public(client, path) == 0);
    assert(s_wait_reachable(loop, watch, 1));
    assert(!s_any_refused(watch));
    zb_watch_destroy(&watch);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
    zactor_destroy(&auth);
    zcert_destroy(&client);
    zcert_destroy(&server);
    zdir_t *tree = zdir_new(dir, NULL);
    if (tree)
        zdir_remove(tree, true);
    zdir_destroy(&tree);
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
    s_test_refused_key(loop);
    zb_loop_destroy(&loop);
    printf("OK\n");
}
