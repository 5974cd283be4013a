/*  zb_listener: the agent's push listener (docs/push.md). */
#include "zb_listener.h"
#include "zb_line.h"
#include "zb_log.h"
#include "zb_proto.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_BACKLOG 1024
#define S_ACCEPTS_PER_EVENT 64  // then let the other fds have a turn
#define S_DRAIN_BEFORE_CLOSE 16 // reads of 4 KiB, see s_conn_close
#define S_PAUSE_MS 100          // no accepting after running out of fds
//  The replies to one read: at most ZB_LINE_MAX / 5 PINGs or ZB_LINE_MAX / 8
//  CHECKINs, plus an ERR line, fit with room to spare.
#define S_OUT_MAX 1024
//  Replies are a few bytes: a peer that does not read them fills even a
//  small send buffer soon, and is then dropped (see s_conn_reply) instead of
//  making the kernel prune a long queue of tiny segments inside our send().
#define S_SNDBUF 4096

typedef struct _s_conn_t s_conn_t;

struct _s_conn_t {
    zb_listener_t *listener;
    int fd;                        // -1 once closed (the struct then waits for the reaper)
    s_conn_t *prev, *next;         // in listener->conns, or in listener->graveyard
    zb_timer_t hello_timer;        // armed until HELLO
    bool hello;                    // said HELLO; service is set
    char service[ZB_NAME_MAX + 1]; // the name said in HELLO
    size_t len;                    // bytes in buf
    char buf[ZB_LINE_MAX + 1];     // one line plus its NUL
};

struct _zb_listener_t {
    zb_loop_t *loop;            // not owned
    zb_listener_callbacks_t cb; // the agent's callbacks
    void *arg;                  // their argument
    int fd;                     // listening socket
    int spare_fd;               // reserved for EMFILE, see s_on_accept
    int port;                   // bound port
    int64_t hello_timeout;      // ms a new connection has to say HELLO
    size_t max_conns;           // beyond this, new connections get ERR too-many
    size_t conn_count;          // connections in conns
    bool full;                  // at max_conns: log once per episode
    s_conn_t *conns;            // open connections
    s_conn_t *graveyard;        // closed connections, freed by the reaper
    zb_timer_t reaper;          // frees the graveyard after the current pass
    zb_timer_t resume;          // re-enables accepting after running out of fds
    zhashx_t *services;         // service name -> s_conn_t that said HELLO
    s_conn_t *out_conn;         // whose replies out gathers (during its read)
    size_t out_len;             // bytes in out
    char out[S_OUT_MAX];        // the replies to one read, sent with one send()
};

static void s_on_readable(zb_loop_t *loop, int fd, int events, void *arg);

static void s_list_push(s_conn_t **head, s_conn_t *conn)
{
    conn->prev = NULL;
    conn->next = *head;
    if (*head)
        (*head)->prev = conn;
    *head = conn;
}

static void s_list_unlink(s_conn_t **head, s_conn_t *conn)
{
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        *head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
}

//  Sends what was gathered for conn. Never blocks: replies that do not fit
//  at once mean a peer that does not read, and return -1.
static int s_conn_flush(s_conn_t *conn)
{
    zb_listener_t *self = conn->listener;
    if (self->out_conn != conn || self->out_len == 0)
        return 0;
    size_t len = self->out_len;
    self->out_len = 0;
    ssize_t sent = send(conn->fd, self->out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent == (ssize_t)len ? 0 : -1;
}

//  One reply line. While conn's input is being handled, replies are
//  gathered and leave with one send() per read: a client pipelining PINGs
//  costs one system call per read, not one per line. Otherwise (a
//  connection closed on behalf of another one) it is sent at once.
static int s_conn_send(s_conn_t *conn, const char *text)
{
    zb_listener_t *self = conn->listener;
    char line[64];
    int len = snprintf(line, sizeof(line), "%s\n", text);
    assert(len > 0 && (size_t)len < sizeof(line));
    if (self->out_conn == conn) {
        if (self->out_len + (size_t)len > sizeof(self->out) && s_conn_flush(conn) != 0)
            return -1;
        memcpy(self->out + self->out_len, line, (size_t)len);
        self->out_len += (size_t)len;
        return 0;
    }
    ssize_t sent = send(conn->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent == len ? 0 : -1;
}

//  Closes a connection: optionally sends "ERR <reason>" first, and calls the
//  closed callback with closed_error when the connection had said HELLO and
//  closed_error is not NULL. The struct is not freed here: the loop may
//  still hold an event for this fd in the current pass, and a callback may
//  be running on it. It goes to the graveyard, which the reaper timer frees
//  once the pass's fd events are done (zb_loop runs timers after fds).
static void s_conn_close(s_conn_t *conn, const char *err_reason, const char *closed_error)
{
    zb_listener_t *self = conn->listener;
    if (conn->fd < 0)
        return;
    if (err_reason) {
        char text[64];
        snprintf(text, sizeof(text), "ERR %s", err_reason);
        s_conn_send(conn, text);
    }
    //  Whatever was gathered goes out before the close, the ERR last.
    s_conn_flush(conn);
    if (self->out_conn == conn)
        self->out_conn = NULL;
    //  close() with unread input makes Linux send a reset, which may destroy
    //  the ERR line before the peer reads it. Draining what has arrived
    //  already makes an orderly FIN likely for well-behaved clients; a
    //  flood still gets its reset, as it should.
    char sink[4096];
    for (int i = 0; i < S_DRAIN_BEFORE_CLOSE; i++)
        if (recv(conn->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
    zb_loop_del_fd(self->loop, conn->fd);
    close(conn->fd);
    conn->fd = -1;
    zb_loop_timer_cancel(self->loop, &conn->hello_timer);

    s_list_unlink(&self->conns, conn);
    self->conn_count--;
    s_list_push(&self->graveyard, conn);
    zb_loop_timer_set(self->loop, &self->reaper, zb_loop_now(self->loop));

    bool owner = conn->hello && zhashx_lookup(self->services, conn->service) == conn;
    if (owner)
        zhashx_delete(self->services, conn->service);
    if (owner && closed_error && self->cb.closed)
        self->cb.closed(self->arg, conn->service, closed_error);
}

static void s_on_reaper(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    zb_listener_t *self = (zb_listener_t *)arg;
    while (self->graveyard) {
        s_conn_t *conn = self->graveyard;
        s_list_unlink(&self->graveyard, conn);
        free(conn);
    }
}

static void s_on_hello_timeout(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)loop;
    (void)timer;
    s_conn_close((s_conn_t *)arg, "hello-timeout", NULL);
}

//  A protocol error: ERR and close; the service (if any) ended without BYE.
static void s_conn_fail(s_conn_t *conn, const char *reason)
{
    char error[64];
    snprintf(error, sizeof(error), "protocol error: %s", reason);
    s_conn_close(conn, reason, error);
}

//  Replies, or closes the connection when the reply cannot be sent.
static void s_conn_reply(s_conn_t *conn, const char *text)
{
    if (s_conn_send(conn, text) != 0)
        s_conn_close(conn, NULL, "reply not sent: the client does not read");
}

static void s_conn_hello(s_conn_t *conn, const zb_line_cmd_t *cmd)
{
    zb_listener_t *self = conn->listener;
    if (conn->hello) {
        s_conn_fail(conn, "second-hello");
        return;
    }
    if (self->cb.hello && self->cb.hello(self->arg, cmd->service, cmd->interval_ms) != 0) {
        s_conn_close(conn, "unknown-service", NULL);
        return;
    }
    if (conn->fd < 0)
        return; // the callback dropped us
    //  The newest connection wins: a restarted service must not wait for
    //  the agent to notice that its previous, half-open connection died.
    s_conn_t *old = (s_conn_t *)zhashx_lookup(self->services, cmd->service);
    if (old) {
        zb_log_info("push %s: new connection replaces the previous one", cmd->service);
        s_conn_close(old, "replaced", NULL);
    }
    conn->hello = true;
    strcpy(conn->service, cmd->service);
    zhashx_update(self->services, conn->service, conn);
    zb_loop_timer_cancel(self->loop, &conn->hello_timer);
    s_conn_reply(conn, "OK hello");
}

//  Handles one line (NUL-terminated, newline and "\r" stripped, len bytes).
static void s_conn_line(s_conn_t *conn, const char *line, size_t len)
{
    zb_listener_t *self = conn->listener;
    zb_line_cmd_t cmd;
    const char *reason = "bad-command";
    if (memchr(line, '\0', len) != NULL || zb_line_parse(line, &cmd, &reason) != 0) {
        s_conn_fail(conn, reason);
        return;
    }
    if (cmd.type == ZB_LINE_HELLO) {
        s_conn_hello(conn, &cmd);
        return;
    }
    if (!conn->hello) {
        s_conn_close(conn, "no-hello", NULL);
        return;
    }
    switch (cmd.type) {
    case ZB_LINE_PING:
        if (self->cb.ping)
            self->cb.ping(self->arg, conn->service);
        if (conn->fd >= 0)
            s_conn_reply(conn, "PONG");
        break;
    case ZB_LINE_CHECKIN:
        if (self->cb.checkin)
            self->cb.checkin(self->arg, conn->service);
        if (conn->fd >= 0)
            s_conn_reply(conn, "OK checkin");
        break;
    case ZB_LINE_BYE:
        if (self->cb.bye)
            self->cb.bye(self->arg, conn->service);
        if (conn->fd >= 0) {
            s_conn_send(conn, "OK bye");
            s_conn_close(conn, NULL, NULL);
        }
        break;
    case ZB_LINE_HELLO:
        assert(false);
        break;
    }
}

//  One read per event (at most a line's worth), so a client that floods
//  cannot starve the other fds and timers: the level-triggered loop calls
//  again while input remains.
static void s_on_readable(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    s_conn_t *conn = (s_conn_t *)arg;
    if (conn->fd < 0)
        return; // closed earlier in this pass
    ssize_t got = recv(conn->fd, conn->buf + conn->len, ZB_LINE_MAX - conn->len, MSG_DONTWAIT);
    if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            char error[128];
            snprintf(error, sizeof(error), "read: %s", strerror(errno));
            s_conn_close(conn, NULL, error);
        }
        return;
    }
    if (got == 0) {
        s_conn_close(conn, NULL, "connection closed without BYE");
        return;
    }
    conn->len += (size_t)got;

    zb_listener_t *self = conn->listener;
    self->out_conn = conn;
    self->out_len = 0;
    size_t start = 0;
    while (conn->fd >= 0) {
        char *newline = memchr(conn->buf + start, '\n', conn->len - start);
        if (!newline)
            break;
        char *line = conn->buf + start;
        size_t line_len = (size_t)(newline - line);
        start += line_len + 1;
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        line[line_len] = '\0';
        s_conn_line(conn, line, line_len);
    }
    if (conn->fd >= 0) {
        memmove(conn->buf, conn->buf + start, conn->len - start);
        conn->len -= start;
        if (conn->len == ZB_LINE_MAX)
            s_conn_fail(conn, "line-too-long");
    }
    if (conn->fd >= 0 && s_conn_flush(conn) != 0)
        s_conn_close(conn, NULL, "reply not sent: the client does not read");
    self->out_conn = NULL;
}

//  Out of file descriptors: the pending connection would wake the
//  level-triggered loop for ever. Shed it with the spare fd freed for the
//  purpose (libev's trick), and stop accepting for a moment so that the
//  loop neither spins nor floods the log while the shortage lasts.
static void s_out_of_fds(zb_listener_t *self)
{
    zb_log_warning("push listener: accept: %s: pausing for %d ms", strerror(errno), S_PAUSE_MS);
    if (self->spare_fd >= 0) {
        close(self->spare_fd);
        int fd = accept4(self->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        self->spare_fd = -1;
    }
    if (zb_loop_mod_fd(self->loop, self->fd, 0) == 0)
        zb_loop_timer_set(self->loop, &self->resume, zb_loop_now(self->loop) + S_PAUSE_MS);
}

static void s_on_resume(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    zb_listener_t *self = (zb_listener_t *)arg;
    if (self->spare_fd < 0)
        self->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    zb_loop_mod_fd(loop, self->fd, ZB_LOOP_READ);
}

static void s_on_accept(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)fd;
    (void)events;
    zb_listener_t *self = (zb_listener_t *)arg;
    for (int i = 0; i < S_ACCEPTS_PER_EVENT; i++) {
        int conn_fd = accept4(self->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn_fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                s_out_of_fds(self);
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                zb_log_warning("push listener: accept: %s", strerror(errno));
            return;
        }
        if (self->conn_count >= self->max_conns) {
            if (!self->full)
                zb_log_warning("push listener: %zu connections, refusing more", self->conn_count);
            self->full = true;
            static const char too_many[] = "ERR too-many\n";
            if (send(conn_fd, too_many, strlen(too_many), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                //  Nothing to do: the connection is refused either way.
            }
            close(conn_fd);
            continue;
        }
        self->full = false;
        s_conn_t *conn = (s_conn_t *)calloc(1, sizeof(*conn));
        if (!conn || zb_loop_add_fd(loop, conn_fd, ZB_LOOP_READ, s_on_readable, conn) != 0) {
            zb_log_warning("push listener: cannot watch a new connection");
            free(conn);
            close(conn_fd);
            continue;
        }
        int one = 1;
        setsockopt(conn_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int sndbuf = S_SNDBUF;
        setsockopt(conn_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        conn->listener = self;
        conn->fd = conn_fd;
        zb_timer_init(&conn->hello_timer, s_on_hello_timeout, conn);
        zb_loop_timer_set(loop, &conn->hello_timer, zb_loop_now(loop) + self->hello_timeout);
        s_list_push(&self->conns, conn);
        self->conn_count++;
    }
}

//  Splits an endpoint into host and port and resolves it into addr.
static int s_endpoint_resolve(const char *endpoint, struct sockaddr_storage *addr,
                              socklen_t *addr_len, char *err, size_t errsize)
{
    const char *text = endpoint;
    if (strncmp(text, "tcp://", 6) == 0)
        text += 6;
    else if (strstr(text, "://")) {
        snprintf(err, errsize, "\"%s\": only tcp:// is supported", endpoint);
        return -1;
    }
    char host[256];
    const char *port_text;
    bool numeric = false;
    if (*text == '[') {
        numeric = true; // brackets hold an IPv6 address, never a name
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host)) {
            snprintf(err, errsize, "\"%s\": expected [IPv6]:PORT", endpoint);
            return -1;
        }
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host)) {
            snprintf(err, errsize, "\"%s\": expected HOST:PORT", endpoint);
            return -1;
        }
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }
    size_t digits = strspn(port_text, "0123456789");
    if (digits == 0 || digits > 5 || port_text[digits] != '\0' || atoi(port_text) > 65535) {
        snprintf(err, errsize, "\"%s\": bad port", endpoint);
        return -1;
    }
    struct addrinfo hints, *result = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE | (numeric ? AI_NUMERICHOST : 0);
    if (numeric)
        hints.ai_family = AF_INET6;
    int rc = getaddrinfo(strcmp(host, "*") == 0 ? "0.0.0.0" : host, port_text, &hints, &result);
    if (rc != 0 || !result) {
        snprintf(err, errsize, "\"%s\": %s", endpoint, gai_strerror(rc));
        return -1;
    }
    assert(result->ai_addrlen <= sizeof(*addr));
    memcpy(addr, result->ai_addr, result->ai_addrlen);
    *addr_len = result->ai_addrlen;
    freeaddrinfo(result);
    return 0;
}

int zb_listener_endpoint_check(const char *endpoint, char *err, size_t errsize)
{
    assert(endpoint);
    struct sockaddr_storage addr;
    socklen_t addr_len;
    return s_endpoint_resolve(endpoint, &addr, &addr_len, err, errsize);
}

zb_listener_t *zb_listener_new(zb_loop_t *loop, const char *endpoint,
                               const zb_listener_callbacks_t *cb, void *arg, char *err,
                               size_t errsize)
{
    assert(loop);
    assert(endpoint);
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (s_endpoint_resolve(endpoint, &addr, &addr_len, err, errsize) != 0)
        return NULL;

    zb_listener_t *self = (zb_listener_t *)calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->loop = loop;
    if (cb)
        self->cb = *cb;
    self->arg = arg;
    self->hello_timeout = ZB_LISTENER_HELLO_TIMEOUT_MS;
    self->max_conns = ZB_LISTENER_MAX_CONNS;
    zb_timer_init(&self->reaper, s_on_reaper, self);
    zb_timer_init(&self->resume, s_on_resume, self);
    self->services = zhashx_new();
    self->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    self->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step = "socket";
    if (self->fd >= 0) {
        int one = 1;
        setsockopt(self->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        step = "bind";
        if (bind(self->fd, (struct sockaddr *)&addr, addr_len) == 0) {
            step = "listen";
            if (listen(self->fd, S_BACKLOG) == 0) {
                step = "getsockname";
                if (getsockname(self->fd, (struct sockaddr *)&addr, &addr_len) == 0)
                    step = NULL;
            }
        }
    }
    if (step) {
        snprintf(err, errsize, "%s %s: %s", step, endpoint, strerror(errno));
        goto failed;
    }
    self->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                  : ((struct sockaddr_in *)&addr)->sin_port);
    if (zb_loop_add_fd(loop, self->fd, ZB_LOOP_READ, s_on_accept, self) != 0) {
        snprintf(err, errsize, "%s: cannot watch the listening socket", endpoint);
        goto failed;
    }
    return self;

failed:
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
    zb_listener_destroy(&self);
    return NULL;
}

void zb_listener_destroy(zb_listener_t **self_p)
{
    assert(self_p);
    zb_listener_t *self = *self_p;
    if (!self)
        return;
    while (self->conns)
        s_conn_close(self->conns, NULL, NULL);
    s_on_reaper(self->loop, &self->reaper, self);
    zb_loop_timer_cancel(self->loop, &self->reaper);
    zb_loop_timer_cancel(self->loop, &self->resume);
    if (self->fd >= 0) {
        zb_loop_del_fd(self->loop, self->fd);
        close(self->fd);
    }
    if (self->spare_fd >= 0)
        close(self->spare_fd);
    zhashx_destroy(&self->services);
    free(self);
    *self_p = NULL;
}

void zb_listener_set_hello_timeout(zb_listener_t *self, int64_t ms)
{
    assert(self);
    assert(ms > 0);
    self->hello_timeout = ms;
}

void zb_listener_set_max_conns(zb_listener_t *self, size_t max_conns)
{
    assert(self);
    self->max_conns = max_conns;
}

int zb_listener_drop(zb_listener_t *self, const char *service, const char *reason)
{
    assert(self);
    assert(service);
    s_conn_t *conn = (s_conn_t *)zhashx_lookup(self->services, service);
    if (!conn)
        return -1;
    s_conn_close(conn, reason ? reason : "timeout", NULL);
    return 0;
}

bool zb_listener_connected(zb_listener_t *self, const char *service)
{
    assert(self);
    assert(service);
    return zhashx_lookup(self->services, service) != NULL;
}

size_t zb_listener_conn_count(zb_listener_t *self)
{
    assert(self);
    return self->conn_count;
}

int zb_listener_port(zb_listener_t *self)
{
    assert(self);
    return self->port;
}

//  Self-test: the listener runs in a zb_loop on its own thread; the test
//  thread plays the clients with real blocking sockets on 127.0.0.1 and
//  talks to the loop thread through a socketpair ("count", "drop NAME", ...)
//  since the listener, like the loop, is single-threaded.

#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>

#define S_TEST_EVENTS 256
#define S_TEST_WAIT_MS 10000 // generous: sanitizers and busy CI

typedef struct {
    zb_loop_t *loop;
    zb_listener_t *listener;
    int rpc[2]; // [0] test thread, [1] loop thread
    pthread_mutex_t mutex;
    char *events[S_TEST_EVENTS]; // "hello w 1000", "closed w <error>", ...
    size_t event_count;
    size_t event_seen; // cursor of s_test_next_event
    bool verbose;
} s_test_t;

static void s_test_record(s_test_t *test, const char *format, const char *service,
                          const char *detail)
{
    char text[256];
    snprintf(text, sizeof(text), format, service, detail);
    if (test->verbose)
        printf("\n   callback: %s", text);
    pthread_mutex_lock(&test->mutex);
    assert(test->event_count < S_TEST_EVENTS);
    test->events[test->event_count++] = strdup(text);
    pthread_mutex_unlock(&test->mutex);
}

static int s_test_hello(void *arg, const char *service, int64_t interval_ms)
{
    s_test_t *test = (s_test_t *)arg;
    char interval[32];
    snprintf(interval, sizeof(interval), "%lld", (long long)interval_ms);
    s_test_record(test, "hello %s %s", service, interval);
    return strncmp(service, "unknown", 7) == 0 ? -1 : 0;
}

static void s_test_ping(void *arg, const char *service)
{
    s_test_t *test = (s_test_t *)arg;
    s_test_record(test, "ping %s%s", service, "");
    //  Re-entrancy: the agent may drop the very connection being served.
    if (strcmp(service, "dropme") == 0)
        assert(zb_listener_drop(test->listener, service, "gone") == 0);
}

static void s_test_checkin(void *arg, const char *service)
{
    s_test_record((s_test_t *)arg, "checkin %s%s", service, "");
}

static void s_test_bye(void *arg, const char *service)
{
    s_test_record((s_test_t *)arg, "bye %s%s", service, "");
}

static void s_test_closed(void *arg, const char *service, const char *error)
{
    s_test_record((s_test_t *)arg, "closed %s %s", service, error);
}

//  Loop thread: one command line per readable event, one reply line.
static void s_test_on_rpc(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)events;
    s_test_t *test = (s_test_t *)arg;
    char command[128];
    ssize_t got = recv(fd, command, sizeof(command) - 1, 0);
    assert(got > 0);
    command[got] = '\0';
    char reply[64] = "ok";
    if (strcmp(command, "count") == 0)
        snprintf(reply, sizeof(reply), "%zu", zb_listener_conn_count(test->listener));
    else if (strncmp(command, "drop ", 5) == 0)
        snprintf(reply, sizeof(reply), "%d", zb_listener_drop(test->listener, command + 5, NULL));
    else if (strncmp(command, "connected ", 10) == 0)
        snprintf(reply, sizeof(reply), "%d", zb_listener_connected(test->listener, command + 10));
    else if (strncmp(command, "hello-timeout ", 14) == 0)
        zb_listener_set_hello_timeout(test->listener, atoi(command + 14));
    else if (strncmp(command, "max ", 4) == 0)
        zb_listener_set_max_conns(test->listener, (size_t)atoi(command + 4));
    else if (strcmp(command, "stop") == 0)
        zb_loop_stop(loop);
    else
        assert(!"unknown rpc");
    assert(send(fd, reply, strlen(reply), 0) == (ssize_t)strlen(reply));
}

static void *s_test_loop_thread(void *arg)
{
    s_test_t *test = (s_test_t *)arg;
    assert(zb_loop_run(test->loop) == 0);
    return NULL;
}

//  Test thread: sends a command to the loop thread and returns its reply.
static int s_test_rpc(s_test_t *test, const char *format, const char *value)
{
    char command[128];
    snprintf(command, sizeof(command), format, value);
    assert(send(test->rpc[0], command, strlen(command), 0) == (ssize_t)strlen(command));
    char reply[64];
    ssize_t got = recv(test->rpc[0], reply, sizeof(reply) - 1, 0);
    assert(got > 0);
    reply[got] = '\0';
    return atoi(reply);
}

//  The next callback the listener made, waiting for it if need be.
static char *s_test_next_event(s_test_t *test)
{
    int64_t deadline = zb_time_mono_ms() + S_TEST_WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&test->mutex);
        char *event =
            test->event_seen < test->event_count ? test->events[test->event_seen++] : NULL;
        pthread_mutex_unlock(&test->mutex);
        if (event)
            return event;
        assert(zb_time_mono_ms() < deadline);
        poll(NULL, 0, 5);
    }
}

static void s_test_expect_event(s_test_t *test, const char *expected)
{
    char *event = s_test_next_event(test);
    if (strncmp(event, expected, strlen(expected)) != 0) {
        fprintf(stderr, "\nexpected callback '%s', got '%s'\n", expected, event);
        assert(false);
    }
}

//  No callback beyond those already seen. The rpc round trip comes after
//  every callback of the events handled so far: the loop is one thread.
static void s_test_expect_no_event(s_test_t *test)
{
    s_test_rpc(test, "count", NULL);
    pthread_mutex_lock(&test->mutex);
    if (test->event_seen != test->event_count) {
        fprintf(stderr, "\nunexpected callback '%s'\n", test->events[test->event_seen]);
        assert(false);
    }
    pthread_mutex_unlock(&test->mutex);
}

static int s_test_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert(fd >= 0);
    struct timeval timeout = {S_TEST_WAIT_MS / 1000, 0};
    assert(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) == 0);
    assert(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) == 0);
    return fd;
}

static void s_test_connect_fd(int fd, int port)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
}

static int s_test_connect(int port)
{
    int fd = s_test_socket();
    s_test_connect_fd(fd, port);
    return fd;
}

static void s_test_send(int fd, const char *text, size_t len)
{
    assert(send(fd, text, len, MSG_NOSIGNAL) == (ssize_t)len);
}

//  Reads one reply line; returns -1 on EOF or reset (never on a timeout,
//  which fails the test).
static int s_test_read_line(int fd, char *line, size_t size)
{
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t got = recv(fd, &c, 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        assert(!(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)));
        if (got <= 0)
            return -1;
        if (c == '\n')
            break;
        assert(len + 1 < size);
        line[len++] = c;
    }
    line[len] = '\0';
    return 0;
}

static void s_test_expect_line(int fd, const char *expected)
{
    char line[256];
    assert(s_test_read_line(fd, line, sizeof(line)) == 0);
    if (strcmp(line, expected) != 0) {
        fprintf(stderr, "\nexpected reply '%s', got '%s'\n", expected, line);
        assert(false);
    }
}

static void s_test_expect_eof(int fd)
{
    char line[256];
    assert(s_test_read_line(fd, line, sizeof(line)) == -1);
}

//  Sends text (len bytes, or strlen when len is 0), maybe after a HELLO,
//  and expects the reply, then the connection closed.
static void s_test_expect_refused(int port, const char *hello, const char *text, size_t len,
                                  const char *reply)
{
    int fd = s_test_connect(port);
    if (hello) {
        s_test_send(fd, hello, strlen(hello));
        s_test_expect_line(fd, "OK hello");
    }
    s_test_send(fd, text, len ? len : strlen(text));
    s_test_expect_line(fd, reply);
    s_test_expect_eof(fd);
    close(fd);
}

void zb_listener_test(bool verbose)
{
    //  Both ends of every connection live in this process.
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    char err[256];
    assert(zb_listener_endpoint_check("tcp://127.0.0.1:7401", err, sizeof(err)) == 0);
    assert(zb_listener_endpoint_check("127.0.0.1:0", err, sizeof(err)) == 0);
    assert(zb_listener_endpoint_check("tcp://[::1]:7401", err, sizeof(err)) == 0);
    assert(zb_listener_endpoint_check("tcp://*:7401", err, sizeof(err)) == 0);
    assert(zb_listener_endpoint_check("tcp://localhost:7401", err, sizeof(err)) == 0);
    const char *bad[] = {"",
                         "tcp://",
                         "7401",
                         ":7401",
                         "tcp://127.0.0.1",
                         "tcp://127.0.0.1:",
                         "tcp://127.0.0.1:65536",
                         "tcp://127.0.0.1:123456",
                         "tcp://127.0.0.1:74x1",
                         "tcp://127.0.0.1:-1",
                         "tcp://[::1:7401",
                         "tcp://[::1]7401",
                         "ipc:///tmp/x",
                         "tcp://[::zz]:7401",
                         "tcp://[127.0.0.1]:7401",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        if (zb_listener_endpoint_check(bad[i], err, sizeof(err)) == 0) {
            fprintf(stderr, "\nendpoint '%s' accepted\n", bad[i]);
            assert(false);
        }
        assert(err[0] != '\0');
        if (verbose)
            printf("\n   %s", err);
    }

    s_test_t test;
    memset(&test, 0, sizeof(test));
    test.verbose = verbose;
    pthread_mutex_init(&test.mutex, NULL);
    test.loop = zb_loop_new();
    assert(test.loop);
    zb_listener_callbacks_t cb = {s_test_hello, s_test_ping, s_test_checkin, s_test_bye,
                                  s_test_closed};
    assert(zb_listener_new(test.loop, "tcp://127.0.0.1:x", &cb, &test, err, sizeof(err)) == NULL);
    test.listener = zb_listener_new(test.loop, "tcp://127.0.0.1:0", &cb, &test, err, sizeof(err));
    assert(test.listener);
    int port = zb_listener_port(test.listener);
    assert(port > 0);
    //  The port is taken now: a second bind fails with a message.
    char taken[64];
    snprintf(taken, sizeof(taken), "tcp://127.0.0.1:%d", port);
    assert(zb_listener_new(test.loop, taken, &cb, &test, err, sizeof(err)) == NULL);
    assert(strstr(err, "bind") && strstr(err, taken));
    if (verbose)
        printf("\n   %s", err);

    assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, test.rpc) == 0);
    assert(zb_loop_add_fd(test.loop, test.rpc[1], ZB_LOOP_READ, s_test_on_rpc, &test) == 0);
    pthread_t thread;
    assert(pthread_create(&thread, NULL, s_test_loop_thread, &test) == 0);

    //  The whole conversation, "\r\n" accepted, then BYE: no closed callback.
    int fd = s_test_connect(port);
    s_test_send(fd, "HELLO worker interval=1s\r\n", 26);
    s_test_expect_line(fd, "OK hello");
    s_test_expect_event(&test, "hello worker 1000");
    assert(s_test_rpc(&test, "connected %s", "worker") == 1);
    assert(s_test_rpc(&test, "connected %s", "other") == 0);
    s_test_send(fd, "PING\n", 5);
    s_test_expect_line(fd, "PONG");
    s_test_expect_event(&test, "ping worker");
    s_test_send(fd, "CHECKIN\n", 8);
    s_test_expect_line(fd, "OK checkin");
    s_test_expect_event(&test, "checkin worker");
    //  Pipelined, and a line split across two writes.
    s_test_send(fd, "PING\nPING\nPI", 12);
    s_test_expect_line(fd, "PONG");
    s_test_expect_line(fd, "PONG");
    s_test_send(fd, "NG\n", 3);
    s_test_expect_line(fd, "PONG");
    for (int i = 0; i < 3; i++)
        s_test_expect_event(&test, "ping worker");
    //  A full line buffer of PINGs: their replies leave together, in order,
    //  after the CHECKIN's.
    char pings[ZB_LINE_MAX];
    size_t pings_len = 0;
    while (pings_len + 5 <= sizeof(pings)) {
        memcpy(pings + pings_len, "PING\n", 5);
        pings_len += 5;
    }
    s_test_send(fd, "CHECKIN\n", 8);
    s_test_send(fd, pings, pings_len);
    s_test_expect_line(fd, "OK checkin");
    s_test_expect_event(&test, "checkin worker");
    for (size_t i = 0; i < pings_len / 5; i++) {
        s_test_expect_line(fd, "PONG");
        s_test_expect_event(&test, "ping worker");
    }
    s_test_send(fd, "BYE\n", 4);
    s_test_expect_line(fd, "OK bye");
    s_test_expect_eof(fd);
    close(fd);
    s_test_expect_event(&test, "bye worker");
    s_test_expect_no_event(&test);
    assert(s_test_rpc(&test, "connected %s", "worker") == 0);

    //  EOF without BYE: the closed callback.
    fd = s_test_connect(port);
    s_test_send(fd, "HELLO worker\n", 13);
    s_test_expect_line(fd, "OK hello");
    s_test_expect_event(&test, "hello worker 0");
    close(fd);
    s_test_expect_event(&test, "closed worker connection closed without BYE");
    assert(s_test_rpc(&test, "connected %s", "worker") == 0);

    //  A reset (SO_LINGER 0) is a closed callback too.
    fd = s_test_connect(port);
    s_test_send(fd, "HELLO worker\n", 13);
    s_test_expect_line(fd, "OK hello");
    s_test_expect_event(&test, "hello worker 0");
    struct linger linger = {1, 0};
    assert(setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)) == 0);
    close(fd);
    s_test_expect_event(&test, "closed worker read: Connection reset");

    //  Refusals, before HELLO: no callbacks but the rejected hello.
    s_test_expect_refused(port, NULL, "HELLO unknown-svc\n", 0, "ERR unknown-service");
    s_test_expect_event(&test, "hello unknown-svc 0");
    s_test_expect_refused(port, NULL, "PING\n", 0, "ERR no-hello");
    s_test_expect_refused(port, NULL, "CHECKIN\n", 0, "ERR no-hello");
    s_test_expect_refused(port, NULL, "BYE\n", 0, "ERR no-hello");
    s_test_expect_refused(port, NULL, "\n", 0, "ERR bad-command");
    s_test_expect_refused(port, NULL, "hello worker\n", 0, "ERR bad-command");
    s_test_expect_refused(port, NULL, "HELLO -x\n", 0, "ERR bad-name");
    s_test_expect_refused(port, NULL, "HELLO x interval=0s\n", 0, "ERR bad-interval");
    s_test_expect_refused(port, NULL, "\x00\xff\xfe garbage\x01\n", 13, "ERR bad-command");
    s_test_expect_refused(port, NULL, "PING\x00\n", 6, "ERR bad-command");
    s_test_expect_no_event(&test);

    //  Line length: 256 bytes with the newline is the most a line may have.
    char line[ZB_LINE_MAX + 2];
    memset(line, 'x', sizeof(line));
    line[ZB_LINE_MAX - 1] = '\n';
    line[ZB_LINE_MAX] = '\0';
    s_test_expect_refused(port, NULL, line, 0, "ERR bad-command"); // parsed, not too long
    line[ZB_LINE_MAX - 1] = 'x';
    line[ZB_LINE_MAX] = '\n';
    line[ZB_LINE_MAX + 1] = '\0';
    s_test_expect_refused(port, NULL, line, 0, "ERR line-too-long");
    s_test_expect_no_event(&test);

    //  Errors after HELLO end the service without BYE: closed callback.
    s_test_expect_refused(port, "HELLO w1\n", "HELLO w1\n", 0, "ERR second-hello");
    s_test_expect_event(&test, "hello w1 0");
    s_test_expect_event(&test, "closed w1 protocol error: second-hello");
    s_test_expect_refused(port, "HELLO w2\n", "PONG\n", 0, "ERR bad-command");
    s_test_expect_event(&test, "hello w2 0");
    s_test_expect_event(&test, "closed w2 protocol error: bad-command");
    s_test_expect_refused(port, "HELLO w3\n", line, 0, "ERR line-too-long");
    s_test_expect_event(&test, "hello w3 0");
    s_test_expect_event(&test, "closed w3 protocol error: line-too-long");

    //  The newest connection wins; the replaced one gets no closed callback.
    int old_fd = s_test_connect(port);
    s_test_send(old_fd, "HELLO worker\n", 13);
    s_test_expect_line(old_fd, "OK hello");
    s_test_expect_event(&test, "hello worker 0");
    fd = s_test_connect(port);
    s_test_send(fd, "HELLO worker\n", 13);
    s_test_expect_line(fd, "OK hello");
    s_test_expect_event(&test, "hello worker 0");
    s_test_expect_line(old_fd, "ERR replaced");
    s_test_expect_eof(old_fd);
    close(old_fd);
    s_test_expect_no_event(&test);
    s_test_send(fd, "PING\n", 5);
    s_test_expect_line(fd, "PONG");
    s_test_expect_event(&test, "ping worker");

    //  The agent drops it (deadline passed): ERR timeout, no callback.
    assert(s_test_rpc(&test, "drop %s", "worker") == 0);
    s_test_expect_line(fd, "ERR timeout");
    s_test_expect_eof(fd);
    close(fd);
    assert(s_test_rpc(&test, "drop %s", "worker") == -1);
    s_test_expect_no_event(&test);

    //  A callback that drops its own connection.
    s_test_expect_refused(port, "HELLO dropme\n", "PING\n", 0, "ERR gone");
    s_test_expect_event(&test, "hello dropme 0");
    s_test_expect_event(&test, "ping dropme");
    s_test_expect_no_event(&test);

    //  Silence before HELLO is cut short.
    s_test_rpc(&test, "hello-timeout %s", "200");
    int64_t start = zb_time_mono_ms();
    fd = s_test_connect(port);
    s_test_expect_line(fd, "ERR hello-timeout");
    s_test_expect_eof(fd);
    assert(zb_time_mono_ms() - start >= 190);
    close(fd);
    s_test_rpc(&test, "hello-timeout %s", "5000");

    //  The connection cap: the extra connection is refused, the others work.
    s_test_rpc(&test, "max %s", "8");
    int fds[9];
    for (int i = 0; i < 8; i++)
        fds[i] = s_test_connect(port);
    for (int64_t deadline = zb_time_mono_ms() + S_TEST_WAIT_MS;
         s_test_rpc(&test, "count", NULL) < 8;)
        assert(zb_time_mono_ms() < deadline);
    fds[8] = s_test_connect(port);
    s_test_expect_line(fds[8], "ERR too-many");
    s_test_expect_eof(fds[8]);
    close(fds[8]);
    s_test_send(fds[0], "HELLO capped\n", 13);
    s_test_expect_line(fds[0], "OK hello");
    s_test_expect_event(&test, "hello capped 0");
    close(fds[1]);
    for (int64_t deadline = zb_time_mono_ms() + S_TEST_WAIT_MS;
         s_test_rpc(&test, "count", NULL) > 7;)
        assert(zb_time_mono_ms() < deadline);
    fds[1] = s_test_connect(port);
    s_test_send(fds[1], "HELLO capped2\n", 14);
    s_test_expect_line(fds[1], "OK hello");
    s_test_expect_event(&test, "hello capped2 0");
    close(fds[0]);
    s_test_expect_event(&test, "closed capped ");
    close(fds[1]);
    s_test_expect_event(&test, "closed capped2 ");
    for (int i = 2; i < 8; i++)
        close(fds[i]);
    s_test_rpc(&test, "max %s", "4096");

    //  A 1 MiB line of garbage: refused, the listener carries on.
    fd = s_test_connect(port);
    size_t big = 1024 * 1024;
    char *garbage = (char *)malloc(big);
    assert(garbage);
    for (size_t i = 0; i < big; i++)
        garbage[i] = (char)(i * 7 + 1);
    for (size_t i = 0; i < big; i++)
        if (garbage[i] == '\n')
            garbage[i] = 'x';
    size_t sent = 0;
    while (sent < big) {
        ssize_t rc = send(fd, garbage + sent, big - sent, MSG_NOSIGNAL);
        if (rc <= 0)
            break; // the listener has closed: reset or broken pipe
        sent += (size_t)rc;
    }
    free(garbage);
    char reply[256];
    if (s_test_read_line(fd, reply, sizeof(reply)) == 0)
        assert(strcmp(reply, "ERR line-too-long") == 0); // else reset first: also fine
    close(fd);
    fd = s_test_connect(port);
    s_test_send(fd, "HELLO after\n", 12);
    s_test_expect_line(fd, "OK hello");
    s_test_expect_event(&test, "hello after 0");

    //  Many idle connections pin no more than they should, and go away
    //  with the listener, without callbacks.
    int idle[100];
    for (int i = 0; i < 100; i++)
        idle[i] = s_test_connect(port);
    for (int64_t deadline = zb_time_mono_ms() + S_TEST_WAIT_MS;
         s_test_rpc(&test, "count", NULL) < 101;)
        assert(zb_time_mono_ms() < deadline);

    //  Out of file descriptors: the listener sheds the connection it cannot
    //  take instead of spinning on it, then recovers.
    int starved = s_test_socket();
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert(lowest_free >= 0);
    close(lowest_free);
    struct rlimit saved;
    assert(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    struct rlimit tight = saved;
    tight.rlim_cur = (rlim_t)lowest_free; // the next fd would be lowest_free: EMFILE
    assert(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    s_test_connect_fd(starved, port);
    s_test_expect_eof(starved);
    assert(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    close(starved);
    int64_t deadline = zb_time_mono_ms() + S_TEST_WAIT_MS;
    for (;;) {
        //  Accepting resumes after a pause; until then connects queue up.
        int fresh = s_test_connect(port);
        s_test_send(fresh, "HELLO fresh\n", 12);
        char answer[64];
        int rc = s_test_read_line(fresh, answer, sizeof(answer));
        close(fresh);
        if (rc == 0) {
            assert(strcmp(answer, "OK hello") == 0);
            break;
        }
        assert(zb_time_mono_ms() < deadline);
    }
    s_test_expect_event(&test, "hello fresh 0");
    s_test_expect_event(&test, "closed fresh");

    s_test_rpc(&test, "stop", NULL);
    assert(pthread_join(thread, NULL) == 0);
    zb_listener_destroy(&test.listener);
    assert(test.listener == NULL);
    zb_listener_destroy(&test.listener);
    s_test_expect_eof(fd);
    close(fd);
    for (int i = 0; i < 100; i++) {
        s_test_expect_eof(idle[i]);
        close(idle[i]);
    }
    assert(test.event_seen == test.event_count);

    zb_loop_del_fd(test.loop, test.rpc[1]);
    close(test.rpc[0]);
    close(test.rpc[1]);
    zb_loop_destroy(&test.loop);
    for (size_t i = 0; i < test.event_count; i++)
        free(test.events[i]);
    pthread_mutex_destroy(&test.mutex);
    if (verbose)
        printf("\n");
}
