/*  zb_expect's self-test: replies fed in pieces, the verdicts and the
    errors they leave. */
#include "zb_expect.h"
#include "zb_msg.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static void s_config(zb_probe_config_t *config, zb_probe_reply_t reply, const char *send,
                     size_t send_len, const char *expect)
{
    memset(config, 0, sizeof(*config));
    config->name = "svc";
    config->reply = reply;
    config->send = send;
    config->send_len = send_len;
    config->expect = expect;
    config->expect_len = strlen(expect);
    config->expect_status = "2xx";
    static zb_http_status_range_t ranges[ZB_HTTP_STATUS_RANGES_MAX];
    const char *why;
    int count = zb_http_status_compile(config->expect_status, ranges, &why);
    assert(count == 1);
    config->expect_codes = ranges;
    config->expect_ranges = (uint8_t)count;
}

static zb_expect_result_t s_feed(zb_expect_t *expect, const zb_probe_config_t *config,
                                 const char *data, char *error)
{
    return zb_expect_feed(expect, config, data, strlen(data), error, ZB_ERROR_MAX + 1);
}

static void s_test_prefix(void)
{
    zb_probe_config_t config;
    s_config(&config, ZB_PROBE_REPLY_PREFIX, "PING\r\n", 6, "+PONG");
    zb_expect_t expect;
    char error[ZB_ERROR_MAX + 1] = "";
    assert(zb_expect_init(&expect, &config) == 0 && !expect.http);
    assert(zb_expect_ping(&expect, &config) == config.send);
    //  In pieces: good once the whole prefix came.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "+PO", error) == ZB_EXPECT_MORE);
    assert(s_feed(&expect, &config, "NG\r\n", error) == ZB_EXPECT_GOOD && error[0] == '\0');
    //  A wrong byte after a matched part: the error shows both.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "+P", error) == ZB_EXPECT_MORE);
    assert(s_feed(&expect, &config, "X", error) == ZB_EXPECT_WRONG);
    assert(strncmp(error, "bad response \"", 14) == 0 && strstr(error, "+PX"));
    //  A wrong first byte, at once.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "-ERR", error) == ZB_EXPECT_WRONG && strstr(error, "-ERR"));
    assert(zb_expect_eof(&expect, &config, true, error, sizeof(error)) == ZB_EXPECT_CLOSED);
    assert(!zb_expect_closing(&expect));
    zb_expect_fini(&expect);
    //  No expect: any byte will do.
    s_config(&config, ZB_PROBE_REPLY_PREFIX, "x", 1, "");
    assert(zb_expect_init(&expect, &config) == 0);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "?", error) == ZB_EXPECT_GOOD);
    zb_expect_fini(&expect);
}

static void s_test_postgres(void)
{
    static const char ssl_request[8] = {0, 0, 0, 8, 0x04, (char)0xd2, 0x16, 0x2f};
    zb_probe_config_t config;
    s_config(&config, ZB_PROBE_REPLY_PG_SSL, ssl_request, sizeof(ssl_request), "");
    zb_expect_t expect;
    char error[ZB_ERROR_MAX + 1] = "";
    assert(zb_expect_init(&expect, &config) == 0);
    //  TLS off: N, and the SSLRequest stays. G is no answer to it.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "N", error) == ZB_EXPECT_GOOD);
    assert(zb_expect_ping(&expect, &config) == config.send);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "G", error) == ZB_EXPECT_WRONG);
    //  TLS on: S, and from then on a GSSENCRequest, answered G or N.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "S", error) == ZB_EXPECT_GOOD);
    const char *ping = zb_expect_ping(&expect, &config);
    assert(ping != config.send && memcmp(ping, ssl_request, 4) == 0 && ping[7] == 0x30);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "G", error) == ZB_EXPECT_GOOD);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "E", error) == ZB_EXPECT_WRONG && strstr(error, "E"));
    zb_expect_fini(&expect);
}

static void s_test_http(void)
{
    zb_probe_config_t config;
    s_config(&config, ZB_PROBE_REPLY_HTTP, "GET / HTTP/1.1\r\n\r\n", 18, "ok");
    uint8_t fail[2];
    zb_http_body_table("ok", 2, fail);
    config.expect_fail = fail;
    zb_expect_t expect;
    char error[ZB_ERROR_MAX + 1] = "";
    assert(zb_expect_init(&expect, &config) == 0 && expect.http);
    //  Framed by its length, kept alive.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", error) ==
           ZB_EXPECT_MORE);
    assert(s_feed(&expect, &config, "\r\nok", error) == ZB_EXPECT_GOOD);
    assert(!zb_expect_closing(&expect));
    //  The server says it closes.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config,
                  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                  error) == ZB_EXPECT_GOOD);
    assert(zb_expect_closing(&expect));
    //  A status out of expect_status; a body without the text; not HTTP.
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n", error) ==
           ZB_EXPECT_WRONG);
    assert(strcmp(error, "http: status 503, expected 2xx") == 0);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", error) ==
           ZB_EXPECT_WRONG);
    assert(strstr(error, "is not in the body"));
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "+PONG\r\n", error) == ZB_EXPECT_WRONG);
    assert(strncmp(error, "http: ", 6) == 0 && strstr(error, "+PONG"));
    //  Closes: nothing came on a proven connection is asked again; on a
    //  new one, a close like any other; a body until the close is judged.
    zb_expect_begin(&expect, &config);
    assert(zb_expect_eof(&expect, &config, true, error, sizeof(error)) == ZB_EXPECT_RETRY);
    assert(zb_expect_eof(&expect, &config, false, error, sizeof(error)) == ZB_EXPECT_CLOSED);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "HTTP/1.1 200 OK\r\n\r\nall ok", error) == ZB_EXPECT_MORE);
    assert(zb_expect_eof(&expect, &config, true, error, sizeof(error)) == ZB_EXPECT_GOOD);
    zb_expect_fini(&expect);
}

static void s_test_mysql(void)
{
    zb_probe_config_t config;
    s_config(&config, ZB_PROBE_REPLY_MYSQL, "", 0, "");
    zb_expect_t expect;
    char error[ZB_ERROR_MAX + 1] = "";
    assert(zb_expect_init(&expect, &config) == 0);
    static const char denied[] = "\x1f\x00\x00\x00\xff\x6a\x04"
                                 "Host 'x' is not allowed here";
    zb_expect_begin(&expect, &config);
    assert(zb_expect_feed(&expect, &config, denied, sizeof(denied) - 1, error, sizeof(error)) ==
           ZB_EXPECT_WRONG);
    assert(strcmp(error, "mysql: error 1130: Host 'x' is not allowed here") == 0);
    zb_expect_begin(&expect, &config);
    assert(s_feed(&expect, &config, "-ERR\r\n", error) == ZB_EXPECT_WRONG);
    assert(strncmp(error, "bad response", 12) == 0);
    zb_expect_fini(&expect);
}

void zb_expect_test(bool verbose)
{
    (void)verbose;
    s_test_prefix();
    s_test_postgres();
    s_test_http();
    s_test_mysql();
}
