/*  zb_probe's self-test: a probe against a real loopback server run by the
    same loop (one thread): it accepts, and answers each ping with what the
    test says, or with nothing, or closes. The probe's transitions are
    recorded and checked with their reasons. */
#include "zb_probe.h"
#include "zb_resolver.h"
#include "zb_time.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_WAIT_MS 10000 // generous: sanitizers and busy CI
#define S_CONNS 16

typedef enum { S_ANSWER, S_SILENT, S_CLOSE } s_mode_t;

typedef struct {
    zb_loop_t *loop;
    int listen_fd;       // -1 once closed
    int port;            // bound port
    int conns[S_CONNS];  // accepted connections, -1 for a free slot
    s_mode_t mode;       // what the server does with a ping
    const char *answer;  // S_ANSWER: the reply
    zb_state_t want;     // the loop stops when the probe reaches it
    char log[1024];      // "state/reason;" per transition
    zb_timer_t watchdog; // fails the test when want never comes
    bool timed_out;
} s_test_t;

static void s_on_conn(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)events;
    s_test_t *test = arg;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0 && test->mode == S_SILENT)
        return;
    if (n > 0 && test->mode == S_ANSWER) {
        assert(write(fd, test->answer, strlen(test->answer)) == (ssize_t)strlen(test->answer));
        return;
    }
    zb_loop_del_fd(loop, fd);
    close(fd);
    for (size_t i = 0; i < S_CONNS; i++)
        if (test->conns[i] == fd)
            test->conns[i] = -1;
}

static void s_on_accept(zb_loop_t *loop, int fd, int events, void *arg)
{
    (void)events;
    s_test_t *test = arg;
    int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn == -1)
        return;
    size_t i = 0;
    while (i < S_CONNS && test->conns[i] != -1)
        i++;
    assert(i < S_CONNS);
    test->conns[i] = conn;
    assert(zb_loop_add_fd(loop, conn, ZB_LOOP_READ, s_on_conn, test) == 0);
}

static void s_notify(zb_probe_t *probe, zb_state_t from, void *arg)
{
    (void)from;
    s_test_t *test = arg;
    const zb_service_status_t *status = zb_probe_status(probe);
    size_t len = strlen(test->log);
    snprintf(test->log + len, sizeof(test->log) - len, "%s/%s;", zb_state_name(status->state),
             status->reason);
    if (status->state == test->want)
        zb_loop_stop(test->loop);
}

static void s_on_watchdog(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    (void)timer;
    s_test_t *test = arg;
    test->timed_out = true;
    zb_loop_stop(loop);
}

//  Runs the loop until the probe's next transition to want, then checks
//  the transitions since the last call.
static void s_expect(s_test_t *test, zb_state_t want, const char *log)
{
    test->want = want;
    test->log[0] = '\0';
    zb_loop_timer_set(test->loop, &test->watchdog, zb_time_mono_ms() + S_WAIT_MS);
    zb_loop_run(test->loop);
    zb_loop_timer_cancel(test->loop, &test->watchdog);
    if (test->timed_out || strcmp(test->log, log) != 0) {
        fprintf(stderr, "\nwanted '%s', got '%s'%s\n", log, test->log,
                test->timed_out ? " (timed out)" : "");
        assert(false);
    }
}

//  Listens on a new port of family's loopback address (AF_INET or
//  AF_INET6).
static void s_server_listen(s_test_t *test, int family)
{
    test->listen_fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert(test->listen_fd >= 0);
    zb_net_addr_t addr;
    memset(&addr, 0, sizeof(addr));
    if (family == AF_INET6) {
        addr.addr.in6.sin6_family = AF_INET6;
        addr.addr.in6.sin6_addr = in6addr_loopback;
        addr.len = sizeof(addr.addr.in6);
    } else {
        addr.addr.in4.sin_family = AF_INET;
        addr.addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.len = sizeof(addr.addr.in4);
    }
    assert(bind(test->listen_fd, &addr.addr.sa, addr.len) == 0);
    assert(listen(test->listen_fd, 16) == 0);
    assert(getsockname(test->listen_fd, &addr.addr.sa, &addr.len) == 0);
    test->port = ntohs(family == AF_INET6 ? addr.addr.in6.sin6_port : addr.addr.in4.sin_port);
    assert(zb_loop_add_fd(test->loop, test->listen_fd, ZB_LOOP_READ, s_on_accept, test) == 0);
}

static void s_server_start(s_test_t *test)
{
    s_server_listen(test, AF_INET);
}

//  Closes the listening socket: the port refuses, and the connections
//  it has are still served (a graceful stop's drain).
static void s_server_stop_accepting(s_test_t *test)
{
    zb_loop_del_fd(test->loop, test->listen_fd);
    close(test->listen_fd);
    test->listen_fd = -1;
}

//  Closes the listening socket and every connection: the port refuses.
static void s_server_stop(s_test_t *test)
{
    s_server_stop_accepting(test);
    for (size_t i = 0; i < S_CONNS; i++)
        if (test->conns[i] != -1) {
            zb_loop_del_fd(test->loop, test->conns[i]);
            close(test->conns[i]);
            test->conns[i] = -1;
        }
}

static void s_config(s_test_t *test, zb_probe_config_t *config, char *target, size_t size,
                     char *host, const char *send, const char *expect, bool hold)
{
    snprintf(target, size, "127.0.0.1:%d", test->port);
    char why[256];
    memset(config, 0, sizeof(*config));
    assert(zb_net_parse(target, host, 64, &config->port, &config->addr, &config->literal, why,
                        sizeof(why)) == 0 &&
           config->literal);
    config->name = "svc";
    config->target = target;
    config->host = host;
    config->hold = hold;
    config->send = send;
    config->send_len = strlen(send);
    config->expect = expect;
    config->expect_len = strlen(expect);
    config->interval_ms = 100;
    config->timeout_ms = 80;
    config->fails = 1;
}

void zb_probe_test(bool verbose)
{
    (void)verbose;
    s_test_t test = {.loop = zb_loop_new(), .listen_fd = -1};
    assert(test.loop);
    for (size_t i = 0; i < S_CONNS; i++)
        test.conns[i] = -1;
    zb_timer_init(&test.watchdog, s_on_watchdog, &test);
    char target[64], host[64];
    zb_probe_config_t config;

    //  A connection-only check, a connection per check: an accepted
    //  connect is up; once the port refuses, down at the next check.
    s_server_start(&test);
    s_config(&test, &config, target, sizeof(target), host, "", "", false);
    zb_probe_t *probe = zb_probe_new(test.loop, NULL, &config, s_notify, &test);
    assert(probe);
    zb_probe_start(probe, 0);
    s_expect(&test, ZB_STATE_UP, "up/ok;");
    s_server_stop(&test);
    s_expect(&test, ZB_STATE_DOWN, "down/refused;");
    assert(strcmp(zb_probe_status(probe)->name, "svc") == 0);
    zb_probe_destroy(&probe);
    assert(probe == NULL);

    //  A ping over a held connection: the right reply is up, a wrong one
    //  down, the right one again up; silence is a timeout, and a server
    //  that closes the connection is seen at once.
    s_server_start(&test);
    test.mode = S_ANSWER;
    test.answer = "+PONG\r\n";
    s_config(&test, &config, target, sizeof(target), host, "PING\r\n", "+PONG", true);
    probe = zb_probe_new(test.loop, NULL, &config, s_notify, &test);
    assert(probe);
    zb_probe_start(probe, 0);
    s_expect(&test, ZB_STATE_UP, "up/ok;");
    test.answer = "-ERR\r\n";
    s_expect(&test, ZB_STATE_DOWN, "down/bad-response;");
    test.answer = "+PONG\r\n";
    s_expect(&test, ZB_STATE_UP, "up/ok;");
    test.mode = S_SILENT;
    s_expect(&test, ZB_STATE_DOWN, "down/timeout;");
    test.mode = S_ANSWER;
    s_expect(&test, ZB_STATE_UP, "up/ok;");
    test.mode = S_CLOSE;
    s_expect(&test, ZB_STATE_DOWN, "down/closed;");
    zb_probe_destroy(&probe);
    s_server_stop(&test);

    //  By name (localhost, looked up through the resolver; the server
    //  listens where it points), the refusals that are looked into before
    //  they count, since the name may have moved (issue 16). It has not:
    //  a held connection's listener check refused while the server drains
    //  is down, refused, and so is a connect without hold refused at the
    //  address kept from the last lookup.
    zb_resolve_result_t local;
    assert(zb_resolver_resolve_once("localhost", 1, 2000, &local) == ZB_RESOLVE_OK);
    char err[128];
    zb_resolver_t *resolver = zb_resolver_new(test.loop, err, sizeof(err));
    assert(resolver);
    s_server_listen(&test, local.addr.addr.sa.sa_family);
    test.mode = S_ANSWER;
    s_config(&test, &config, target, sizeof(target), host, "PING\r\n", "+PONG", true);
    snprintf(target, sizeof(target), "localhost:%d", test.port);
    snprintf(host, sizeof(host), "localhost");
    config.literal = false;
    memset(&config.addr, 0, sizeof(config.addr));
    config.listener_check = true;
    probe = zb_probe_new(test.loop, resolver, &config, s_notify, &test);
    assert(probe);
    zb_probe_start(probe, 0);
    s_expect(&test, ZB_STATE_UP, "up/ok;");
    s_server_stop_accepting(&test);
    s_expect(&test, ZB_STATE_DOWN, "down/refused;");
    assert(strstr(zb_probe_status(probe)->error, "the service stopped accepting"));
    zb_probe_destroy(&probe);
    s_server_stop(&test);

    s_server_listen(&test, local.addr.addr.sa.sa_family);
    snprintf(target, sizeof(target), "localhost:%d", test.port);
    config.port = test.port;
    config.hold = false;
    config.listener_check = false;
    config.send = config.expect = "";
    config.send_len = config.expect_len = 0;
    probe = zb_probe_new(test.loop, resolver, &config, s_notify, &test);
    assert(probe);
    zb_probe_start(probe, 0);
    s_expect(&test, ZB_STATE_UP, "up/ok;");
    s_server_stop(&test);
    s_expect(&test, ZB_STATE_DOWN, "down/refused;");
    assert(strstr(zb_probe_status(probe)->error, "connect: "));
    zb_probe_destroy(&probe);
    zb_resolver_destroy(&resolver);
    zb_loop_destroy(&test.loop);
}
