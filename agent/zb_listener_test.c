/*  zb_listener's self-test (the module is zb_listener.c). */
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
