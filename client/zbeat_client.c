/*  zbeat_client: heartbeats from a service to its zbeat agent. libc and
    pthreads only, so that services can copy this file and its header.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // pipe2, SOCK_NONBLOCK: Linux
#endif
#include "zbeat_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_NAME_MAX 64        // as the agent's zb_name_valid
#define S_LINE_MAX 256       // the agent's replies are far shorter
#define S_BACKOFF_MIN_MS 100 // first reconnect delay, doubled up to the interval
#define S_HANDSHAKE_MS 5000  // connect + HELLO + "OK hello"
#define S_BYE_WAIT_MS 1000   // for "OK bye" on a planned stop
#define S_ERROR_MAX 256

//  One connection to the agent and the replies not yet split into lines.
typedef struct {
    int fd;
    size_t len;
    char buf[S_LINE_MAX];
} s_conn_t;

struct _zbeat_client_t {
    char host[256];               // agent host, as given
    char port[8];                 // agent port, as text for getaddrinfo
    char service[S_NAME_MAX + 1]; // our name in HELLO
    int interval_ms;              // PING period
    zbeat_client_log_fn *log;     // NULL: silent
    void *log_arg;
    int wake[2];           // destroy writes to [1]: the thread stops
    pthread_t thread;      // the heartbeat thread
    pthread_mutex_t mutex; // guards the fields below
    pthread_cond_t cond;   // broadcast when they change
    bool connected;        // HELLO accepted, connection up
    unsigned attempts;     // connection attempts that have ended
    bool planned;          // destroy's argument: say BYE
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_log(zbeat_client_t *self, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void s_log(zbeat_client_t *self, int level, const char *format, ...)
{
    if (!self->log)
        return;
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    self->log(self->log_arg, level, message);
}

static void s_log_stderr(void *arg, int level, const char *message)
{
    (void)arg;
    (void)level;
    fprintf(stderr, "zbeat-client: %s\n", message);
}

bool zbeat_client_name_valid(const char *name)
{
    if (!name)
        return false;
    size_t len = 0;
    for (const char *p = name; *p; p++, len++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (len >= S_NAME_MAX || !(alnum || (len > 0 && (c == '.' || c == '_' || c == '-'))))
            return false;
    }
    return len > 0;
}

//  Waits until fd is ready for events, the wake pipe is readable, or the
//  deadline (monotonic ms) passes. Either fd may be -1. Returns 1 when fd is
//  ready (or failed: the next I/O call tells), 0 at the deadline, -1 when
//  woken or when poll fails.
static int s_wait(int wake_fd, int fd, short events, int64_t deadline)
{
    struct pollfd items[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    for (;;) {
        int64_t wait = deadline - s_now_ms();
        if (wait < 0)
            wait = 0;
        int rc = poll(items, 2, wait > INT_MAX ? INT_MAX : (int)wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || items[1].revents)
            return -1;
        if (items[0].revents)
            return 1;
        if (rc == 0)
            return 0;
    }
}

static void s_conn_close(s_conn_t *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    conn->len = 0;
}

//  Sends one line. The socket never blocks: a line that does not fit at
//  once means an agent that does not read, which is as good as dead.
static int s_conn_send(s_conn_t *conn, const char *text, char *err, size_t errsize)
{
    char line[S_LINE_MAX];
    int len = snprintf(line, sizeof(line), "%s\n", text);
    if (len < 0 || (size_t)len >= sizeof(line)) {
        snprintf(err, errsize, "line too long");
        return -1;
    }
    ssize_t sent = send(conn->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == len)
        return 0;
    snprintf(err, errsize, "send: %s", sent < 0 ? strerror(errno) : "agent not reading");
    return -1;
}

//  Reads what has arrived. Returns 0, or -1 on EOF or error.
static int s_conn_fill(s_conn_t *conn, char *err, size_t errsize)
{
    ssize_t got =
        recv(conn->fd, conn->buf + conn->len, sizeof(conn->buf) - conn->len, MSG_DONTWAIT);
    if (got > 0) {
        conn->len += (size_t)got;
        return 0;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    snprintf(err, errsize, "%s", got == 0 ? "agent closed the connection" : strerror(errno));
    return -1;
}

//  Takes one complete line out of the buffer. Returns 1 with line set, 0
//  when no line is complete yet, -1 when the buffer is full without one.
static int s_conn_take_line(s_conn_t *conn, char *line, size_t size)
{
    char *newline = memchr(conn->buf, '\n', conn->len);
    if (!newline)
        return conn->len == sizeof(conn->buf) ? -1 : 0;
    size_t len = (size_t)(newline - conn->buf);
    size_t copy = len > 0 && conn->buf[len - 1] == '\r' ? len - 1 : len;
    if (copy >= size)
        copy = size - 1;
    memcpy(line, conn->buf, copy);
    line[copy] = '\0';
    conn->len -= len + 1;
    memmove(conn->buf, newline + 1, conn->len);
    return 1;
}

//  Reads one line before the deadline. Returns 0, or -1 with err set.
static int s_conn_read_line(s_conn_t *conn, int wake_fd, int64_t deadline, char *line, size_t size,
                            char *err, size_t errsize)
{
    for (;;) {
        int rc = s_conn_take_line(conn, line, size);
        if (rc == 1)
            return 0;
        if (rc < 0) {
            snprintf(err, errsize, "reply too long");
            return -1;
        }
        rc = s_wait(wake_fd, conn->fd, POLLIN, deadline);
        if (rc <= 0) {
            snprintf(err, errsize, "%s", rc == 0 ? "no reply in time" : "stopped");
            return -1;
        }
        if (s_conn_fill(conn, err, errsize) != 0)
            return -1;
    }
}

//  Connects to the agent without blocking past the deadline.
static int s_conn_connect(s_conn_t *conn, const char *host, const char *port, int wake_fd,
                          int64_t deadline, char *err, size_t errsize)
{
    struct addrinfo hints, *result = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &result);
    if (rc != 0) {
        snprintf(err, errsize, "resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    snprintf(err, errsize, "no address");
    for (struct addrinfo *ai = result; ai && conn->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errsize, "socket: %s", strerror(errno));
            continue;
        }
        //  Non-blocking connect: EINPROGRESS, then writable, then SO_ERROR.
        int error = 0;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            error = errno;
            if (error == EINPROGRESS) {
                rc = s_wait(wake_fd, fd, POLLOUT, deadline);
                socklen_t len = sizeof(error);
                if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
                    error = errno;
                else if (rc == 0)
                    error = ETIMEDOUT;
                else if (rc < 0)
                    error = ECANCELED;
            }
        }
        if (error) {
            snprintf(err, errsize, "connect: %s", strerror(error));
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn->fd = fd;
        conn->len = 0;
    }
    freeaddrinfo(result);
    return conn->fd >= 0 ? 0 : -1;
}

//  Connects and says HELLO. Returns 0 once the agent said "OK hello".
static int s_conn_open(s_conn_t *conn, const char *host, const char *port, const char *service,
                       int interval_ms, int wake_fd, int64_t deadline, char *err, size_t errsize)
{
    if (s_conn_connect(conn, host, port, wake_fd, deadline, err, errsize) != 0)
        return -1;
    char hello[128], reply[S_LINE_MAX];
    if (interval_ms > 0)
        snprintf(hello, sizeof(hello), "HELLO %s interval=%dms", service, interval_ms);
    else
        snprintf(hello, sizeof(hello), "HELLO %s", service);
    if (s_conn_send(conn, hello, err, errsize) != 0 ||
        s_conn_read_line(conn, wake_fd, deadline, reply, sizeof(reply), err, errsize) != 0)
        goto failed;
    if (strcmp(reply, "OK hello") != 0) {
        snprintf(err, errsize, "agent said: %.200s", reply);
        goto failed;
    }
    return 0;

failed:
    s_conn_close(conn);
    return -1;
}

//  "host:port", with brackets around an IPv6 address.
static void s_agent_name(zbeat_client_t *self, char *buf, size_t size)
{
    bool v6 = strchr(self->host, ':') != NULL;
    snprintf(buf, size, "%s%s%s:%s", v6 ? "[" : "", self->host, v6 ? "]" : "", self->port);
}

static void s_set_state(zbeat_client_t *self, bool connected, bool attempt_ended)
{
    pthread_mutex_lock(&self->mutex);
    self->connected = connected;
    if (attempt_ended)
        self->attempts++;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mutex);
}

//  Says BYE and waits briefly for "OK bye", so that the agent has read the
//  BYE before it sees the connection close.
static void s_say_bye(s_conn_t *conn)
{
    char err[S_ERROR_MAX], line[S_LINE_MAX];
    if (s_conn_send(conn, "BYE", err, sizeof(err)) != 0)
        return;
    int64_t deadline = s_now_ms() + S_BYE_WAIT_MS;
    while (s_conn_read_line(conn, -1, deadline, line, sizeof(line), err, sizeof(err)) == 0)
        if (strcmp(line, "OK bye") == 0)
            break;
}

static void *s_run(void *arg)
{
    zbeat_client_t *self = (zbeat_client_t *)arg;
    s_conn_t conn = {.fd = -1};
    char agent[300];
    s_agent_name(self, agent, sizeof(agent));
    int64_t backoff = S_BACKOFF_MIN_MS;
    int64_t next_attempt = s_now_ms();
    int64_t next_ping = 0;
    bool awaiting_pong = false;
    char last_error[S_ERROR_MAX] = "";
    char err[S_ERROR_MAX], line[S_LINE_MAX];

    for (;;) {
        if (conn.fd < 0) {
            if (s_now_ms() < next_attempt) {
                if (s_wait(self->wake[0], -1, 0, next_attempt) < 0)
                    break;
                continue;
            }
            int rc = s_conn_open(&conn, self->host, self->port, self->service, self->interval_ms,
                                 self->wake[0], s_now_ms() + S_HANDSHAKE_MS, err, sizeof(err));
            //  Logged before the state changes: zbeat_client_wait's caller
            //  may destroy the client as soon as it has changed.
            if (rc != 0) {
                bool woken = s_wait(self->wake[0], -1, 0, 0) < 0;
                //  Once per distinct error, not once per retry.
                if (!woken && strcmp(err, last_error) != 0)
                    s_log(self, ZBEAT_CLIENT_WARNING,
                          "%s: cannot reach the agent at %s: %s (retrying)", self->service, agent,
                          err);
                s_set_state(self, false, true);
                if (woken)
                    break; // destroyed while connecting
                snprintf(last_error, sizeof(last_error), "%s", err);
                next_attempt = s_now_ms() + backoff;
                backoff = backoff * 2 > self->interval_ms ? self->interval_ms : backoff * 2;
                continue;
            }
            s_log(self, ZBEAT_CLIENT_INFO, "%s: connected to the agent at %s", self->service,
                  agent);
            s_set_state(self, true, true);
            last_error[0] = '\0';
            next_ping = s_now_ms() + self->interval_ms;
            awaiting_pong = false;
            continue;
        }

        int rc = s_wait(self->wake[0], conn.fd, POLLIN, next_ping);
        if (rc < 0)
            break;
        bool lost = false;
        if (rc == 1) {
            lost = s_conn_fill(&conn, err, sizeof(err)) != 0;
            while (!lost && (rc = s_conn_take_line(&conn, line, sizeof(line))) != 0) {
                if (rc < 0) {
                    snprintf(err, sizeof(err), "reply too long");
                    lost = true;
                } else if (strcmp(line, "PONG") == 0) {
                    awaiting_pong = false;
                    //  Only an answered PING proves the agent healthy, so
                    //  only then is a later loss retried quickly again.
                    backoff = S_BACKOFF_MIN_MS;
                } else if (strncmp(line, "ERR ", 4) == 0) {
                    snprintf(err, sizeof(err), "agent said: %.200s", line);
                    lost = true;
                }
            }
        } else if (awaiting_pong) {
            snprintf(err, sizeof(err), "no PONG within %d ms", self->interval_ms);
            lost = true;
        } else if (s_conn_send(&conn, "PING", err, sizeof(err)) != 0)
            lost = true;
        else {
            awaiting_pong = true;
            next_ping += self->interval_ms;
            if (next_ping < s_now_ms())
                next_ping = s_now_ms() + self->interval_ms; // we were stalled
        }
        if (lost) {
            s_log(self, ZBEAT_CLIENT_WARNING, "%s: lost the agent at %s: %s (reconnecting)",
                  self->service, agent, err);
            snprintf(last_error, sizeof(last_error), "%s", err);
            s_conn_close(&conn);
            s_set_state(self, false, false);
            next_attempt = s_now_ms() + backoff;
            backoff = backoff * 2 > self->interval_ms ? self->interval_ms : backoff * 2;
        }
    }

    pthread_mutex_lock(&self->mutex);
    bool planned = self->planned;
    pthread_mutex_unlock(&self->mutex);
    if (conn.fd >= 0 && planned)
        s_say_bye(&conn);
    s_conn_close(&conn);
    s_set_state(self, false, false);
    return NULL;
}

zbeat_client_t *zbeat_client_new(const char *host, int port, const char *service, int interval_ms)
{
    return zbeat_client_new_with_log(host, port, service, interval_ms, s_log_stderr, NULL);
}

zbeat_client_t *zbeat_client_new_with_log(const char *host, int port, const char *service,
                                          int interval_ms, zbeat_client_log_fn *log, void *log_arg)
{
    if (!host)
        host = ZBEAT_CLIENT_HOST;
    if (port == 0)
        port = ZBEAT_CLIENT_PORT;
    if (!zbeat_client_name_valid(service) || interval_ms <= 0 || port < 0 || port > 65535 ||
        strlen(host) == 0)
        return NULL;
    zbeat_client_t *self = (zbeat_client_t *)calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    if (strlen(host) >= sizeof(self->host)) {
        free(self);
        return NULL;
    }
    strcpy(self->host, host);
    snprintf(self->port, sizeof(self->port), "%d", port);
    strcpy(self->service, service);
    self->interval_ms = interval_ms;
    self->log = log;
    self->log_arg = log_arg;
    if (pipe2(self->wake, O_CLOEXEC) != 0) {
        free(self);
        return NULL;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&self->mutex, NULL);

    //  The thread blocks every signal: the embedding program's handlers
    //  (and zbeat-ping's forwarding to its child) run on its own threads.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, s_run, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&self->mutex);
        pthread_cond_destroy(&self->cond);
        close(self->wake[0]);
        close(self->wake[1]);
        free(self);
        return NULL;
    }
    return self;
}

void zbeat_client_destroy(zbeat_client_t **self_p, bool planned)
{
    if (!self_p || !*self_p)
        return;
    zbeat_client_t *self = *self_p;
    pthread_mutex_lock(&self->mutex);
    self->planned = planned;
    pthread_mutex_unlock(&self->mutex);
    //  The byte stays unread: every later wait of the thread ends at once.
    while (write(self->wake[1], "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(self->thread, NULL);
    pthread_mutex_destroy(&self->mutex);
    pthread_cond_destroy(&self->cond);
    close(self->wake[0]);
    close(self->wake[1]);
    free(self);
    *self_p = NULL;
}

bool zbeat_client_connected(zbeat_client_t *self)
{
    pthread_mutex_lock(&self->mutex);
    bool connected = self->connected;
    pthread_mutex_unlock(&self->mutex);
    return connected;
}

bool zbeat_client_wait(zbeat_client_t *self, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&self->mutex);
    int rc = 0;
    while (self->attempts == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&self->cond, &self->mutex, &deadline);
    bool connected = self->connected;
    pthread_mutex_unlock(&self->mutex);
    return connected;
}

int zbeat_client_checkin(const char *host, int port, const char *service, int timeout_ms, char *err,
                         size_t errsize)
{
    if (!host)
        host = ZBEAT_CLIENT_HOST;
    if (port == 0)
        port = ZBEAT_CLIENT_PORT;
    if (!zbeat_client_name_valid(service) || port < 0 || port > 65535 || timeout_ms <= 0) {
        snprintf(err, errsize, "bad arguments");
        return -1;
    }
    char port_text[8], line[S_LINE_MAX];
    snprintf(port_text, sizeof(port_text), "%d", port);
    int64_t deadline = s_now_ms() + timeout_ms;
    s_conn_t conn = {.fd = -1};
    int rc = -1;
    if (s_conn_open(&conn, host, port_text, service, 0, -1, deadline, err, errsize) != 0)
        goto done;
    if (s_conn_send(&conn, "CHECKIN", err, errsize) != 0 ||
        s_conn_read_line(&conn, -1, deadline, line, sizeof(line), err, errsize) != 0)
        goto done;
    if (strcmp(line, "OK checkin") != 0) {
        snprintf(err, errsize, "agent said: %.200s", line);
        goto done;
    }
    rc = 0;

done:
    s_conn_close(&conn);
    return rc;
}
