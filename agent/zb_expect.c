/*  zb_expect: judges a probe's reply. See zb_expect.h. */
#include "zb_expect.h"
#include "zb_log.h"
#include "zb_mysql.h"
#include "zb_text.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  PostgreSQL with TLS on answers an SSLRequest with S and logs "could not
//  accept SSL connection: EOF detected" when the probe then closes. A
//  GSSENCRequest (PostgreSQL 12 and later) is answered G or N, and closing
//  after either logs nothing; so after an S the probe asks this way.
static const char s_pg_gss_request[8] = {0, 0, 0, 8, 0x04, (char)0xd2, 0x16, 0x30};

int zb_expect_init(zb_expect_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    memset(self, 0, sizeof(*self));
    if (config->reply == ZB_PROBE_REPLY_HTTP) {
        self->http = calloc(1, sizeof(*self->http));
        if (!self->http)
            return -1;
    }
    return 0;
}

void zb_expect_fini(zb_expect_t *self)
{
    assert(self);
    free(self->http);
    self->http = NULL;
}

void zb_expect_begin(zb_expect_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    self->matched = 0;
    if (self->http)
        zb_http_reply_start(self->http, config->http_head, config->expect, config->expect_len,
                            config->expect_fail);
}

const char *zb_expect_ping(const zb_expect_t *self, const zb_probe_config_t *config)
{
    assert(self && config);
    if (config->reply == ZB_PROBE_REPLY_PG_SSL && self->pg_gss)
        return s_pg_gss_request;
    return config->send;
}

static zb_expect_result_t s_wrong(char *error, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static zb_expect_result_t s_wrong(char *error, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
    return ZB_EXPECT_WRONG;
}

//  A reply that does not start as it should: what came is the part that
//  matched, then the rest of this read, up to 40 bytes of it quoted.
static zb_expect_result_t s_bad(const zb_expect_t *self, const zb_probe_config_t *config,
                                const char *data, size_t len, char *error, size_t size)
{
    char got[ZB_PROBE_EXPECT_MAX + 64], text[200];
    size_t have = self->matched < sizeof(got) ? self->matched : sizeof(got);
    memcpy(got, config->expect, have);
    size_t more = len < sizeof(got) - have ? len : sizeof(got) - have;
    memcpy(got + have, data, more);
    zb_text_printable(got, have + more < 40 ? have + more : 40, text, sizeof(text),
                      ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
    return s_wrong(error, size, "bad response \"%s\"", text);
}

//  A complete HTTP response: judged by its status and body.
static zb_expect_result_t s_http_judge(const zb_expect_t *self, const zb_probe_config_t *config,
                                       char *error, size_t size)
{
    const zb_http_reply_t *http = self->http;
    assert(config->expect_codes && config->expect_ranges > 0);
    if (!zb_http_status_in(config->expect_codes, config->expect_ranges, http->status))
        return s_wrong(error, size, "http: status %d, expected %s", http->status,
                       config->expect_status);
    if (!http->body_found) {
        char text[ZB_PROBE_EXPECT_MAX * 4 + 8];
        zb_text_printable(config->expect, config->expect_len < 40 ? config->expect_len : 40, text,
                          sizeof(text), ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        return s_wrong(error, size, "http: status %d, but \"%s\" is not in the body's first 64 KiB",
                       http->status, text);
    }
    return ZB_EXPECT_GOOD;
}

static zb_expect_result_t s_http_feed(zb_expect_t *self, const zb_probe_config_t *config,
                                      const char *data, size_t len, char *error, size_t size)
{
    size_t used;
    zb_http_result_t rc = zb_http_reply_feed(self->http, data, len, &used);
    if (rc == ZB_HTTP_ERROR) {
        char text[200];
        zb_text_printable(data, len < 40 ? len : 40, text, sizeof(text),
                          ZB_TEXT_ASCII | ZB_TEXT_QUOTED);
        return s_wrong(error, size, "http: %s (\"%s\")", self->http->error, text);
    }
    if (rc == ZB_HTTP_DONE)
        return s_http_judge(self, config, error, size);
    return ZB_EXPECT_MORE;
}

//  A MySQL/MariaDB greeting (zb_mysql): a packet of protocol 10, or an
//  error packet (a host not allowed, too many connections), which is a
//  server that answers but will not serve. The greeting is judged on its
//  first read: one that came in parts is good once its start is right.
static zb_expect_result_t s_mysql_feed(zb_expect_t *self, const zb_probe_config_t *config,
                                       const char *data, size_t len, char *error, size_t size)
{
    zb_mysql_greeting_t greeting;
    zb_mysql_result_t rc = zb_mysql_parse(data, len, &greeting);
    if (rc == ZB_MYSQL_GREETING || (rc == ZB_MYSQL_MORE && zb_mysql_begun(data, len)))
        return ZB_EXPECT_GOOD;
    if (rc == ZB_MYSQL_ERROR)
        return s_wrong(error, size, "mysql: error %u: %s", greeting.error_code, greeting.error);
    return s_bad(self, config, data, len, error, size);
}

//  To an SSLRequest 'S' (TLS on) or 'N' (off); to a GSSENCRequest 'G' or
//  'N'. Anything else is not PostgreSQL.
static zb_expect_result_t s_pg_feed(zb_expect_t *self, const zb_probe_config_t *config,
                                    const char *data, size_t len, char *error, size_t size)
{
    char c = data[0];
    if (!self->pg_gss && c == 'S') {
        self->pg_gss = true;
        zb_log_info("%s: the server has TLS on: checking with a GSSENCRequest from now on "
                    "(a dropped TLS handshake would be logged at every check)",
                    config->name);
    }
    if (c == 'S' || c == 'N' || (c == 'G' && self->pg_gss))
        return ZB_EXPECT_GOOD;
    return s_bad(self, config, data, len, error, size);
}

zb_expect_result_t zb_expect_feed(zb_expect_t *self, const zb_probe_config_t *config,
                                  const char *data, size_t len, char *error, size_t size)
{
    assert(self && config && data && len > 0 && error && size > 0);
    if (config->reply == ZB_PROBE_REPLY_HTTP)
        return s_http_feed(self, config, data, len, error, size);
    if (config->reply == ZB_PROBE_REPLY_MYSQL)
        return s_mysql_feed(self, config, data, len, error, size);
    if (config->reply == ZB_PROBE_REPLY_PG_SSL)
        return s_pg_feed(self, config, data, len, error, size);
    if (config->expect_len == 0)
        return ZB_EXPECT_GOOD;
    //  Compared as it arrives: a wrong first byte is a bad reply at once, a
    //  reply that stops short of the prefix runs into the timeout.
    size_t take = config->expect_len - self->matched;
    if (len < take)
        take = len;
    if (memcmp(data, config->expect + self->matched, take) != 0)
        return s_bad(self, config, data, len, error, size);
    self->matched += take;
    return self->matched == config->expect_len ? ZB_EXPECT_GOOD : ZB_EXPECT_MORE;
}

//  A body that runs until the close is complete with it. A kept-alive
//  connection the server closed just as the request went out (nothing of
//  a response came) is asked again on a new one: a second close is one.
zb_expect_result_t zb_expect_eof(zb_expect_t *self, const zb_probe_config_t *config, bool proven,
                                 char *error, size_t size)
{
    assert(self && config && error && size > 0);
    const zb_http_reply_t *http = self->http;
    if (!http)
        return ZB_EXPECT_CLOSED;
    bool nothing = http->status == 0 && http->header_bytes == 0 && http->line_len == 0;
    if (proven && nothing)
        return ZB_EXPECT_RETRY;
    if (zb_http_reply_eof(self->http) != ZB_HTTP_DONE)
        return ZB_EXPECT_CLOSED;
    return s_http_judge(self, config, error, size);
}

bool zb_expect_closing(const zb_expect_t *self)
{
    assert(self);
    return self->http && self->http->close;
}
