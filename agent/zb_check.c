/*  zb_check: one probe, once, told step by step. See zb_check.h. */
#include "zb_check.h"
#include "zb_mysql.h"
#include "zb_resolver.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_SHOW_MAX 200    // reply bytes shown
#define S_REPLY_MAX 4096  // reply bytes read
#define S_RESOLVE_MS 5000 // c-ares gives up sooner (zb_resolver)

typedef struct {
    const zb_probe_config_t *config;
    FILE *out;
    zb_net_addr_t addr; // literal, or resolved
    int fd;
    zb_tls_ctx_t *tls_ctx; // tls
    zb_tls_t *tls;         // tls: the session
    char reason[32];
    char error[256];
    int64_t rtt_us;
} s_check_t;

static void s_fail(s_check_t *self, const char *reason, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void s_fail(s_check_t *self, const char *reason, const char *format, ...)
{
    snprintf(self->reason, sizeof(self->reason), "%s", reason);
    va_list args;
    va_start(args, format);
    vsnprintf(self->error, sizeof(self->error), format, args);
    va_end(args);
}

//  Waits for events on the socket until deadline_us. Returns the revents,
//  0 on timeout.
static int s_wait(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left = deadline_us - zb_time_mono_us();
        if (left <= 0)
            return 0;
        struct pollfd item = {fd, events, 0};
        int rc = poll(&item, 1, (int)((left + 999) / 1000));
        if (rc > 0)
            return item.revents;
        if (rc == -1 && errno != EINTR)
            return POLLERR;
    }
}

static int s_connect(s_check_t *self)
{
    const zb_probe_config_t *config = self->config;
    char text[32];
    int64_t start = zb_time_mono_us();
    int rc = zb_net_connect(&self->addr, &self->fd);
    if (rc == 1) {
        if (s_wait(self->fd, POLLOUT, start + config->timeout_ms * 1000) == 0) {
            zb_time_format_duration(config->timeout_ms, text, sizeof(text));
            s_fail(self, "timeout", "connect: no answer within %s", text);
            fprintf(self->out, "connect: no answer within %s\n", text);
            return -1;
        }
        int error = zb_net_connect_result(self->fd);
        if (error) {
            errno = error;
            rc = -1;
        }
    }
    if (rc == -1) {
        int error = errno;
        s_fail(self, zb_net_connect_reason(error), "connect: %s", strerror(error));
        fprintf(self->out, "connect: failed after %.3fms: %s\n",
                (double)(zb_time_mono_us() - start) / 1000, strerror(error));
        return -1;
    }
    self->rtt_us = zb_time_mono_us() - start;
    fprintf(self->out, "connect: ok in %.3fms\n", (double)self->rtt_us / 1000);
    return 0;
}

//  The TLS handshake, waited for until the timeout, told with the
//  version and the certificate's expiry.
static int s_handshake(s_check_t *self)
{
    const zb_probe_config_t *config = self->config;
    char text[64];
    int64_t start = zb_time_mono_us(), deadline = start + config->timeout_ms * 1000;
    self->tls_ctx =
        zb_tls_ctx_get(config->tls_ca, config->tls_verify, self->error, sizeof(self->error));
    if (self->tls_ctx)
        self->tls = zb_tls_new(self->tls_ctx, self->fd,
                               config->tls_name[0] ? config->tls_name : config->host);
    if (!self->tls) {
        if (self->tls_ctx)
            snprintf(self->error, sizeof(self->error), "tls: out of memory");
        snprintf(self->reason, sizeof(self->reason), "tls");
        fprintf(self->out, "tls: %s\n", self->error);
        return -1;
    }
    bool refused;
    zb_tls_status_t rc;
    while ((rc = zb_tls_handshake(self->tls, &refused, self->error, sizeof(self->error))) ==
               ZB_TLS_WANT_READ ||
           rc == ZB_TLS_WANT_WRITE)
        if (s_wait(self->fd, rc == ZB_TLS_WANT_READ ? POLLIN : POLLOUT, deadline) == 0) {
            zb_time_format_duration(config->timeout_ms, text, sizeof(text));
            s_fail(self, "timeout", "tls: handshake: no answer within %s", text);
            fprintf(self->out, "tls: no handshake within %s\n", text);
            return -1;
        }
    int64_t expires = zb_tls_expires(self->tls);
    char when[64] = "none";
    if (expires) {
        zb_time_format_rfc3339(expires * 1000, when, sizeof(when));
        int64_t days = (expires - (int64_t)time(NULL)) / 86400;
        snprintf(text, sizeof(text), days >= 0 ? " (in %lld days)" : " (%lld days ago)",
                 (long long)(days >= 0 ? days : -days));
        strncat(when, text, sizeof(when) - strlen(when) - 1);
    }
    if (rc != ZB_TLS_OK) {
        snprintf(self->reason, sizeof(self->reason), rc == ZB_TLS_CLOSED ? "closed" : "tls");
        fprintf(self->out, "tls: failed after %.3fms: %s; certificate expires %s\n",
                (double)(zb_time_mono_us() - start) / 1000, self->error, when);
        return -1;
    }
    self->rtt_us = zb_time_mono_us() - start + self->rtt_us;
    fprintf(self->out, "tls: %s in %.3fms%s, certificate expires %s\n", zb_tls_version(self->tls),
            (double)(zb_time_mono_us() - start) / 1000,
            config->tls_verify ? ", verified" : ", not verified (tls-verify = no)", when);
    return 0;
}

//  send and recv, in the clear or through the session: the byte count,
//  -1 with errno (EAGAIN: try again), 0 for a closed connection.
static ssize_t s_send(s_check_t *self, const char *data, size_t len)
{
    if (!self->tls)
        return send(self->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    zb_tls_status_t rc = zb_tls_write(self->tls, data, len, self->error, sizeof(self->error));
    if (rc == ZB_TLS_OK)
        return (ssize_t)len;
    errno = rc == ZB_TLS_CLOSED ? EPIPE : rc == ZB_TLS_ERROR ? EPROTO : EAGAIN;
    return -1;
}

static ssize_t s_recv(s_check_t *self, char *buf, size_t size)
{
    if (!self->tls)
        return recv(self->fd, buf, size, MSG_DONTWAIT);
    size_t got;
    zb_tls_status_t rc = zb_tls_read(self->tls, buf, size, &got, self->error, sizeof(self->error));
    if (rc == ZB_TLS_OK)
        return (ssize_t)got;
    if (rc == ZB_TLS_CLOSED)
        return 0;
    errno = rc == ZB_TLS_ERROR ? EPROTO : EAGAIN;
    return -1;
}

//  Judges a complete HTTP response (as zb_probe does) and tells it.
static int s_http_judge(s_check_t *self, const zb_http_reply_t *http)
{
    const zb_probe_config_t *config = self->config;
    fprintf(self->out, "http: status %d (expected %s)%s%s\n", http->status, config->expect_status,
            http->close ? ", the server closes the connection" : ", kept alive",
            config->expect_len ? (http->body_found ? ", body text found" : ", body text NOT found")
                               : "");
    if (!zb_http_status_in(config->expect_codes, config->expect_ranges, http->status)) {
        s_fail(self, "bad-response", "http: status %d, expected %s", http->status,
               config->expect_status);
        return -1;
    }
    if (!http->body_found) {
        char text[S_SHOW_MAX * 4 + 8];
        zb_text_printable(config->expect, config->expect_len < 40 ? config->expect_len : 40, text,
                          sizeof(text), ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        s_fail(self, "bad-response",
               "http: status %d, but \"%s\" is not in the body's first 64 KiB", http->status, text);
        return -1;
    }
    return 0;
}

//  Sends the ping (none when the server speaks first) and reads until the
//  reply is judged.
static int s_ping(s_check_t *self)
{
    const zb_probe_config_t *config = self->config;
    char text[S_SHOW_MAX * 4 + 8], limit[32];
    bool http = config->reply == ZB_PROBE_REPLY_HTTP;
    bool greeting =
        config->reply == ZB_PROBE_REPLY_GREETING || config->reply == ZB_PROBE_REPLY_MYSQL;
    int64_t start = zb_time_mono_us();
    if (!greeting) {
        zb_text_printable(config->send,
                          config->send_len < S_SHOW_MAX ? config->send_len : S_SHOW_MAX, text,
                          sizeof(text), ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        ssize_t sent = s_send(self, config->send, config->send_len);
        if (sent != (ssize_t)config->send_len) {
            int error = errno;
            if (sent == -1)
                s_fail(self, error == EPIPE || error == ECONNRESET ? "closed" : "error", "send: %s",
                       strerror(error));
            else
                s_fail(self, "error", "send: only %zd of %zu bytes fit", sent, config->send_len);
            fprintf(self->out, "send: %s\n", self->error + strlen("send: "));
            return -1;
        }
        fprintf(self->out, "send: %zu bytes \"%s\"%s\n", config->send_len, text,
                config->send_len > S_SHOW_MAX ? "..." : "");
    }
    zb_http_reply_t parser;
    if (http)
        zb_http_reply_start(&parser, config->http_head, config->expect, config->expect_len,
                            config->expect_fail);
    char reply[S_REPLY_MAX], buf[S_REPLY_MAX];
    size_t got = 0, total = 0;
    int64_t deadline = start + config->timeout_ms * 1000;
    int rc = -1;
    for (;;) {
        if ((!http && got == sizeof(reply)) || (!(self->tls && zb_tls_pending(self->tls)) &&
                                                s_wait(self->fd, POLLIN, deadline) == 0)) {
            zb_time_format_duration(config->timeout_ms, limit, sizeof(limit));
            s_fail(self, "timeout", "no reply within %s", limit);
            break;
        }
        //  Through TLS the session may hold bytes the socket no longer shows.
        ssize_t n = s_recv(self, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (n == 0 && http && zb_http_reply_eof(&parser) == ZB_HTTP_DONE) {
            rc = s_http_judge(self, &parser);
            break;
        }
        if (n <= 0) {
            s_fail(self, "closed", "%s while waiting for a reply",
                   n == 0 ? "connection closed by peer" : strerror(errno));
            break;
        }
        size_t keep = (size_t)n < sizeof(reply) - got ? (size_t)n : sizeof(reply) - got;
        memcpy(reply + got, buf, keep);
        got += keep;
        total += (size_t)n;
        char bad[S_SHOW_MAX * 4 + 8];
        zb_text_printable(reply, got < 40 ? got : 40, bad, sizeof(bad),
                          ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        if (http) {
            size_t used;
            zb_http_result_t result = zb_http_reply_feed(&parser, buf, (size_t)n, &used);
            if (result == ZB_HTTP_MORE)
                continue;
            if (result == ZB_HTTP_ERROR) {
                s_fail(self, "bad-response", "http: %s (\"%s\")", parser.error, bad);
                break;
            }
            self->rtt_us = zb_time_mono_us() - start;
            rc = s_http_judge(self, &parser);
            break;
        }
        if (config->reply == ZB_PROBE_REPLY_MYSQL) {
            //  The agent's parser; told here with what it read.
            zb_mysql_greeting_t hello;
            zb_mysql_result_t result = zb_mysql_parse(reply, got, &hello);
            if (result == ZB_MYSQL_MORE)
                continue;
            if (result == ZB_MYSQL_GREETING) {
                self->rtt_us = zb_time_mono_us() - start;
                fprintf(self->out, "mysql: protocol %u, server %s, connection id %u\n",
                        hello.protocol, hello.version, (unsigned)hello.connection);
                rc = 0;
            } else if (result == ZB_MYSQL_ERROR)
                s_fail(self, "bad-response", "mysql: error %u: %s", hello.error_code, hello.error);
            else
                s_fail(self, "bad-response", "bad response \"%s\"", bad);
            break;
        }
        if (config->reply == ZB_PROBE_REPLY_PG_SSL && reply[0] != 'S' && reply[0] != 'N') {
            s_fail(self, "bad-response", "bad response \"%s\"", bad);
            break;
        }
        //  As zb_probe: compared as it arrives, the first wrong byte decides.
        size_t cmp = got < config->expect_len ? got : config->expect_len;
        if (memcmp(reply, config->expect, cmp) != 0) {
            s_fail(self, "bad-response", "bad response \"%s\"", bad);
            break;
        }
        if (got >= config->expect_len) {
            self->rtt_us = zb_time_mono_us() - start;
            rc = 0;
            break;
        }
    }
    zb_text_printable(reply, got < S_SHOW_MAX ? got : S_SHOW_MAX, text, sizeof(text),
                      ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
    const char *what = greeting ? "greeting" : "reply";
    if (got > 0 || rc == 0)
        fprintf(self->out, "%s: %zu bytes in %.3fms \"%s\"%s\n", what, total,
                (double)(zb_time_mono_us() - start) / 1000, text, total > S_SHOW_MAX ? "..." : "");
    else
        fprintf(self->out, "%s: none after %.3fms\n", what,
                (double)(zb_time_mono_us() - start) / 1000);
    //  The protocol's goodbye after a greeting (smtp: QUIT).
    if (greeting && rc == 0 && config->send_len > 0 &&
        s_send(self, config->send, config->send_len) == (ssize_t)config->send_len) {
        zb_text_printable(config->send, config->send_len, text, sizeof(text),
                          ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        fprintf(self->out, "send: %zu bytes \"%s\"\n", config->send_len, text);
    }
    return rc;
}

int zb_check_run(const zb_probe_config_t *config, FILE *out)
{
    assert(config && out);
    char address[128] = "not resolved", timeout[32];
    s_check_t self = {config, out, config->addr, -1, NULL, NULL, "", "", -1};
    //  A name is looked up the way the agent's probes do it (c-ares).
    zb_resolve_result_t result;
    int64_t start = zb_time_mono_us();
    int rc = 0;
    if (!config->literal) {
        if (zb_resolver_resolve_once(config->host, config->port, S_RESOLVE_MS, &result) ==
            ZB_RESOLVE_OK)
            self.addr = result.addr;
        else {
            s_fail(&self, "dns", "%s", result.error);
            rc = -1;
        }
    }
    if (rc == 0)
        zb_net_addr_format(&self.addr, address, sizeof(address));
    zb_time_format_duration(config->timeout_ms, timeout, sizeof(timeout));
    fprintf(out, "probe %s%s%s (%s), timeout %s%s%s\n", config->name, config->name[0] ? ": " : "",
            config->target, address, timeout, config->tls ? ", tls" : "",
            config->send_len || config->reply != ZB_PROBE_REPLY_PREFIX ? "" : ", connection only");
    if (!config->literal)
        fprintf(out, "resolve: %s in %.3fms\n", rc == 0 ? address : self.error,
                (double)(zb_time_mono_us() - start) / 1000);
    if (rc == 0)
        rc = s_connect(&self);
    if (rc == 0 && config->tls)
        rc = s_handshake(&self);
    if (rc == 0 && (config->send_len > 0 || config->reply != ZB_PROBE_REPLY_PREFIX))
        rc = s_ping(&self);
    if (self.tls)
        zb_tls_shutdown(self.tls);
    zb_tls_destroy(&self.tls);
    zb_tls_ctx_release(&self.tls_ctx);
    if (self.fd != -1)
        close(self.fd);
    if (rc == 0)
        fprintf(out, "verdict: up (ok), rtt %.3fms\n", (double)self.rtt_us / 1000);
    else
        fprintf(out, "verdict: down (%s: %s)\n", self.reason, self.error);
    fflush(out);
    return rc == 0 ? 0 : 1;
}

//  Self-test: real sockets on 127.0.0.1; a thread plays the service.

#include <pthread.h>

typedef struct {
    int listener;
    const char *reply; // NULL: close without a word
    size_t reply_len;
} s_test_server_t;

static void *s_test_serve(void *arg)
{
    s_test_server_t *server = arg;
    int fd = accept(server->listener, NULL, NULL);
    assert(fd >= 0);
    char buf[256];
    assert(recv(fd, buf, sizeof(buf), 0) > 0);
    if (server->reply) {
        assert(send(fd, server->reply, server->reply_len, MSG_NOSIGNAL) ==
               (ssize_t)server->reply_len);
        //  Held open until the check is done with it: wait for its close.
        while (recv(fd, buf, sizeof(buf), 0) > 0)
            ;
    }
    close(fd);
    return NULL;
}

static int s_test_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    assert(listen(fd, 16) == 0);
    socklen_t len = sizeof(addr);
    assert(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

//  send and expect must outlive the config (string literals do).
static void s_test_config(zb_probe_config_t *config, int port, const char *send, const char *expect)
{
    static char target[32]; // the config points here; one test config at a time
    memset(config, 0, sizeof(*config));
    config->name = "svc";
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    config->target = target;
    char err[128];
    assert(zb_net_resolve(config->target, &config->addr, err, sizeof(err)) == 0);
    config->literal = true;
    config->host = "127.0.0.1";
    config->port = port;
    config->send = send;
    config->send_len = strlen(send);
    config->expect = expect;
    config->expect_len = strlen(expect);
    config->interval_ms = 1000;
    config->timeout_ms = 150;
    config->fails = 1;
    config->tls_ca = "";
    config->tls_name = "";
}

//  Runs the check; its output must contain every line fragment given.
static void s_test_expect(const zb_probe_config_t *config, int rc, const char *verdict,
                          const char *fragment, bool verbose)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert(out);
    assert(zb_check_run(config, out) == rc);
    fclose(out);
    if (verbose)
        printf("\n%s", text);
    if (!strstr(text, verdict) || (fragment && !strstr(text, fragment))) {
        fprintf(stderr, "\nwanted '%s' and '%s' in:\n%s", verdict, fragment ? fragment : "", text);
        assert(false);
    }
    free(text);
}

static void s_test_served(int port, int listener, const char *reply, const char *expect, int rc,
                          const char *verdict, const char *fragment, bool verbose)
{
    s_test_server_t server = {listener, reply, reply ? strlen(reply) : 0};
    pthread_t thread;
    assert(pthread_create(&thread, NULL, s_test_serve, &server) == 0);
    zb_probe_config_t config;
    s_test_config(&config, port, "PING\r\n", expect);
    s_test_expect(&config, rc, verdict, fragment, verbose);
    assert(pthread_join(thread, NULL) == 0);
}

void zb_check_test(bool verbose)
{
    int port;
    int listener = s_test_listener(&port);
    zb_probe_config_t config;

    //  Connection-only: the backlog accepts it, nobody needs to.
    s_test_config(&config, port, "", "");
    s_test_expect(&config, 0, "verdict: up (ok), rtt ", ", connection only\n", verbose);

    //  A hanging service: accepted, never answers.
    s_test_config(&config, port, "PING\r\n", "+PONG");
    int64_t start = zb_time_mono_ms();
    s_test_expect(&config, 1, "verdict: down (timeout: no reply within 150ms)\n",
                  "send: 6 bytes \"PING\\r\\n\"\nreply: none after ", verbose);
    assert(zb_time_mono_ms() - start >= 150);
    //  A fresh listener: the first one's backlog holds the closed connections.
    close(listener);
    listener = s_test_listener(&port);

    s_test_served(port, listener, "+PONG\r\n", "+PONG", 0, "verdict: up (ok), rtt ",
                  "reply: 7 bytes in ", verbose);
    s_test_served(port, listener, "+PONG\r\n", "+PONG", 0, "\"+PONG\\r\\n\"", NULL, verbose);
    s_test_served(port, listener, "x", "", 0, "verdict: up (ok)", "reply: 1 bytes", verbose);
    s_test_served(port, listener, "-ERR \"no\"\x01\r\n", "+PONG", 1,
                  "verdict: down (bad-response: bad response \"-ERR \\x22no\\x22\\x01\\r\\n\")",
                  NULL, verbose);
    s_test_served(port, listener, NULL, "+PONG", 1,
                  "verdict: down (closed: connection closed by peer while waiting for a reply)",
                  "reply: none after", verbose);
    //  A reply that stops short of expect runs into the timeout.
    s_test_served(port, listener, "+PO", "+PONG", 1, "verdict: down (timeout: no reply within",
                  "reply: 3 bytes", verbose);

    //  Names go through the resolver; one that does not resolve is down/dns.
    s_test_config(&config, port, "", "");
    config.literal = false;
    config.host = "localhost";
    s_test_expect(&config, 0, "verdict: up (ok)", "resolve: ", verbose);
    config.host = "no-such-host.invalid";
    config.target = "no-such-host.invalid:1";
    s_test_expect(&config, 1, "verdict: down (dns: cannot resolve \"no-such-host.invalid\": ",
                  "(not resolved), timeout", verbose);

    //  Nothing listens: refused.
    close(listener);
    s_test_config(&config, port, "PING\r\n", "+PONG");
    s_test_expect(&config, 1, "verdict: down (refused: connect: Connection refused)\n",
                  "connect: failed after ", verbose);
    if (verbose)
        printf("\n");
}
