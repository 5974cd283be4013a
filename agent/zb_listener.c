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
