/*  zb_http_reply: an HTTP/1.1 response parser. See zb_http_reply.h. */
#include "zb_http_reply.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_HEAD_MAX 65536         // bytes of a response's status line and headers
#define S_CHUNK_MAX (1ULL << 60) // a chunk size beyond this is not a real one

enum {
    S_STATUS,      // the status line
    S_HEADER,      // header lines, until the empty one
    S_BODY_LENGTH, // Content-Length bytes
    S_BODY_CLOSE,  // bytes until the connection closes
    S_CHUNK_SIZE,  // a chunk's size line
    S_CHUNK_DATA,  // its bytes
    S_CHUNK_END,   // the CRLF after them
    S_TRAILER,     // trailer lines after the last chunk, until the empty one
    S_DONE
};

void zb_http_body_table(const char *pattern, size_t len, uint8_t *fail)
{
    assert(len <= ZB_HTTP_EXPECT_BODY_MAX);
    if (len == 0)
        return;
    fail[0] = 0;
    size_t k = 0;
    for (size_t i = 1; i < len; i++) {
        while (k > 0 && pattern[i] != pattern[k])
            k = fail[k - 1];
        if (pattern[i] == pattern[k])
            k++;
        fail[i] = (uint8_t)k;
    }
}

void zb_http_reply_start(zb_http_reply_t *self, bool head, const char *pattern, size_t len,
                         const uint8_t *fail)
{
    assert(self && len <= ZB_HTTP_EXPECT_BODY_MAX && (!len || (pattern && fail)));
    memset(self, 0, sizeof(*self));
    self->head = head;
    self->pattern = len ? pattern : NULL;
    self->fail = fail;
    self->pattern_len = (uint16_t)len;
    self->stage = S_STATUS;
}

static zb_http_result_t s_error(zb_http_reply_t *self, const char *why)
{
    self->error = why;
    self->stage = S_DONE;
    return ZB_HTTP_ERROR;
}

static zb_http_result_t s_done(zb_http_reply_t *self)
{
    self->stage = S_DONE;
    if (self->http10 && !self->keep_alive)
        self->close = true;
    if (!self->pattern)
        self->body_found = true;
    return ZB_HTTP_DONE;
}

//  Searches body bytes for the pattern, within the first 64 KiB.
static void s_scan(zb_http_reply_t *self, const char *data, size_t len)
{
    if (!self->pattern || self->body_found || self->body_seen >= ZB_HTTP_BODY_SCAN)
        return;
    if (len > ZB_HTTP_BODY_SCAN - self->body_seen)
        len = ZB_HTTP_BODY_SCAN - self->body_seen;
    self->body_seen += (uint32_t)len;
    size_t k = self->matched;
    for (size_t i = 0; i < len; i++) {
        while (k > 0 && data[i] != self->pattern[k])
            k = self->fail[k - 1];
        if (data[i] == self->pattern[k] && ++k == self->pattern_len) {
            self->body_found = true;
            return;
        }
    }
    self->matched = (uint16_t)k;
}

//  Whether the comma-separated list value has token (case-insensitive).
static bool s_has_token(const char *value, const char *token)
{
    size_t len = strlen(token);
    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t end = n;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == len && strncasecmp(p, token, len) == 0)
            return true;
        p += n;
    }
    return false;
}

//  The last token of a list (Transfer-Encoding's final coding).
static bool s_last_token_is(const char *value, const char *token)
{
    const char *last = strrchr(value, ',');
    last = last ? last + 1 : value;
    last += strspn(last, " \t");
    size_t len = strlen(token), n = strlen(last);
    while (n > 0 && (last[n - 1] == ' ' || last[n - 1] == '\t'))
        n--;
    return n == len && strncasecmp(last, token, len) == 0;
}

static zb_http_result_t s_status_line(zb_http_reply_t *self)
{
    const char *l = self->line;
    if (self->line_len < 12 || strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
        l[8] != ' ' || !isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
        !isdigit((unsigned char)l[11]) || (self->line_len > 12 && l[12] != ' '))
        return s_error(self, "not an HTTP/1.x status line");
    self->http10 = l[7] == '0';
    self->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (self->status < 100)
        return s_error(self, "status code below 100");
    if (self->status == 101)
        return s_error(self, "the server switched protocols");
    self->stage = S_HEADER;
    return ZB_HTTP_MORE;
}

static zb_http_result_t s_header_line(zb_http_reply_t *self)
{
    const char *l = self->line;
    const char *colon = memchr(l, ':', self->line_len);
    if (l[0] == ' ' || l[0] == '\t')
        return ZB_HTTP_MORE; // an obsolete folded line: nothing we read continues
    if (!colon)
        return s_error(self, "a header line without a colon");
    size_t name_len = (size_t)(colon - l);
    const char *value = colon + 1 + strspn(colon + 1, " \t");
    bool length = name_len == 14 && strncasecmp(l, "content-length", 14) == 0;
    bool coding = name_len == 17 && strncasecmp(l, "transfer-encoding", 17) == 0;
    bool connection = name_len == 10 && strncasecmp(l, "connection", 10) == 0;
    if ((length || coding || connection) && self->truncated)
        return s_error(self, "a framing header line too long");
    if (length) {
        size_t n = strlen(value);
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
            n--;
        if (n == 0 || n > 18 || strspn(value, "0123456789") != n)
            return s_error(self, "a bad Content-Length");
        uint64_t v = strtoull(value, NULL, 10);
        if (self->has_length && v != self->length)
            return s_error(self, "two different Content-Lengths");
        self->has_length = true;
        self->length = v;
    } else if (coding) {
        self->chunked = s_last_token_is(value, "chunked");
        if (!self->chunked)
            self->until_close = true; // RFC 9112 6.3: read until the close
    } else if (connection) {
        if (s_has_token(value, "close"))
            self->close = true;
        if (s_has_token(value, "keep-alive"))
            self->keep_alive = true;
    }
    return ZB_HTTP_MORE;
}

//  The empty line after the headers: how the body is framed.
static zb_http_result_t s_headers_end(zb_http_reply_t *self)
{
    if (self->status < 200) {
        //  An interim response: the real one follows.
        bool head = self->head;
        const char *pattern = self->pattern;
        const uint8_t *fail = self->fail;
        size_t len = self->pattern_len;
        uint32_t header_bytes = self->header_bytes;
        zb_http_reply_start(self, head, pattern, len, fail);
        self->header_bytes = header_bytes;
        return ZB_HTTP_MORE;
    }
    if (self->head || self->status == 204 || self->status == 304)
        return s_done(self);
    if (self->chunked) {
        self->stage = S_CHUNK_SIZE;
        return ZB_HTTP_MORE;
    }
    if (self->until_close || !self->has_length) {
        self->until_close = true;
        self->close = true;
        self->stage = S_BODY_CLOSE;
        return ZB_HTTP_MORE;
    }
    if (self->length == 0)
        return s_done(self);
    self->remaining = self->length;
    self->stage = S_BODY_LENGTH;
    return ZB_HTTP_MORE;
}

static zb_http_result_t s_chunk_size(zb_http_reply_t *self)
{
    const char *l = self->line;
    size_t digits = strspn(l, "0123456789abcdefABCDEF");
    if (digits == 0 || digits > 15 || self->truncated ||
        (l[digits] && l[digits] != ';' && l[digits] != ' ' && l[digits] != '\t'))
        return s_error(self, "a bad chunk size");
    uint64_t size = strtoull(l, NULL, 16);
    if (size > S_CHUNK_MAX)
        return s_error(self, "a bad chunk size");
    if (size == 0) {
        self->stage = S_TRAILER;
        return ZB_HTTP_MORE;
    }
    self->remaining = size;
    self->stage = S_CHUNK_DATA;
    return ZB_HTTP_MORE;
}

//  A complete line (without its CR LF) in self->line.
static zb_http_result_t s_line(zb_http_reply_t *self)
{
    switch (self->stage) {
    case S_STATUS:
        return s_status_line(self);
    case S_HEADER:
        return self->line_len == 0 && !self->truncated ? s_headers_end(self) : s_header_line(self);
    case S_CHUNK_SIZE:
        return s_chunk_size(self);
    case S_CHUNK_END:
        if (self->line_len != 0 || self->truncated)
            return s_error(self, "no CRLF after a chunk");
        self->stage = S_CHUNK_SIZE;
        return ZB_HTTP_MORE;
    case S_TRAILER:
        if (self->line_len == 0 && !self->truncated)
            return s_done(self);
        return ZB_HTTP_MORE;
    default:
        assert(false);
        return s_error(self, "internal error");
    }
}

zb_http_result_t zb_http_reply_feed(zb_http_reply_t *self, const char *data, size_t len,
                                    size_t *used)
{
    assert(self && (data || !len) && used);
    size_t at = 0;
    zb_http_result_t rc = ZB_HTTP_MORE;
    while (at < len && rc == ZB_HTTP_MORE) {
        switch (self->stage) {
        case S_BODY_LENGTH:
        case S_CHUNK_DATA: {
            size_t take = len - at;
            if (take > self->remaining)
                take = (size_t)self->remaining;
            s_scan(self, data + at, take);
            at += take;
            self->remaining -= take;
            if (self->remaining == 0) {
                if (self->stage == S_BODY_LENGTH)
                    rc = s_done(self);
                else
                    self->stage = S_CHUNK_END;
            }
            break;
        }
        case S_BODY_CLOSE:
            s_scan(self, data + at, len - at);
            at = len;
            break;
        case S_DONE:
            *used = at;
            return self->error ? ZB_HTTP_ERROR : ZB_HTTP_DONE;
        default: {
            //  A line: kept up to the limit, ended by LF (CR before it dropped).
            const char *lf = memchr(data + at, '\n', len - at);
            size_t n = lf ? (size_t)(lf - (data + at)) : len - at;
            bool in_head = self->stage == S_STATUS || self->stage == S_HEADER;
            if (in_head && (self->header_bytes += (uint32_t)(n + (lf ? 1 : 0))) > S_HEAD_MAX) {
                rc = s_error(self, "headers longer than 64 KiB");
                break;
            }
            if (!in_head && self->stage != S_TRAILER && self->line_len + n > 64) {
                rc = s_error(self, "a chunk line too long");
                break;
            }
            size_t room = sizeof(self->line) - 1 - self->line_len;
            size_t keep = n < room ? n : room;
            memcpy(self->line + self->line_len, data + at, keep);
            self->line_len = (uint16_t)(self->line_len + keep);
            if (keep < n)
                self->truncated = true;
            at += n;
            if (!lf)
                break;
            at++; // the LF
            if (self->line_len > 0 && self->line[self->line_len - 1] == '\r' && !self->truncated)
                self->line_len--;
            self->line[self->line_len] = '\0';
            if (memchr(self->line, '\0', self->line_len))
                rc = s_error(self, "a NUL byte in the head");
            else
                rc = s_line(self);
            self->line_len = 0;
            self->truncated = false;
            break;
        }
        }
    }
    *used = at;
    return rc;
}

zb_http_result_t zb_http_reply_eof(zb_http_reply_t *self)
{
    assert(self);
    if (self->stage == S_DONE)
        return self->error ? ZB_HTTP_ERROR : ZB_HTTP_DONE;
    if (self->stage == S_BODY_CLOSE)
        return s_done(self);
    return s_error(self, self->stage == S_STATUS && self->header_bytes == 0 && self->line_len == 0
                             ? "connection closed before a response"
                             : "connection closed in the middle of a response");
}

//  expect-status

//  One item: "200", "200-399" or "3xx". Returns 0 with [*lo, *hi].
static int s_status_item(const char *item, size_t len, int *lo, int *hi)
{
    char text[16];
    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, item, len);
    text[len] = '\0';
    if (len == 3 && text[0] >= '1' && text[0] <= '5' && text[1] == 'x' && text[2] == 'x') {
        *lo = (text[0] - '0') * 100;
        *hi = *lo + 99;
        return 0;
    }
    int a, b, n = 0;
    if (len == 3 && sscanf(text, "%3d%n", &a, &n) == 1 && n == 3)
        b = a;
    else if (len == 7 && sscanf(text, "%3d-%3d%n", &a, &b, &n) == 2 && n == 7)
        ;
    else
        return -1;
    if (strspn(text, "0123456789-") != len || a < 100 || b > 599 || a > b)
        return -1;
    *lo = a;
    *hi = b;
    return 0;
}

//  The list's next item, trimmed of spaces, into [*lo, *hi]: false when it
//  is malformed. *p moves past it and its comma; *last says it ended the
//  list.
static bool s_status_next(const char **p, int *lo, int *hi, bool *last)
{
    const char *item = *p;
    size_t n = strcspn(item, ",");
    *last = item[n] == '\0';
    *p = *last ? item + n : item + n + 1;
    while (n > 0 && item[0] == ' ')
        item++, n--;
    while (n > 0 && item[n - 1] == ' ')
        n--;
    return s_status_item(item, n, lo, hi) == 0;
}

int zb_http_status_compile(const char *spec, zb_http_status_range_t *ranges, const char **why)
{
    assert(spec && ranges && why);
    if (!*spec) {
        *why = "is empty";
        return -1;
    }
    //  The codes in, one by one (items may overlap and come in any order),
    //  then read off as ranges.
    bool in[600] = {false};
    int lo, hi;
    bool last = false;
    for (const char *p = spec; !last;) {
        if (!s_status_next(&p, &lo, &hi, &last)) {
            *why = "is not a list of codes (200), ranges (200-399) and classes (3xx), "
                   "from 100 to 599";
            return -1;
        }
        for (int code = lo; code <= hi; code++)
            in[code] = true;
    }
    int count = 0;
    for (int code = 100; code < 600; code++) {
        if (!in[code])
            continue;
        if (count > 0 && ranges[count - 1].hi == code - 1)
            ranges[count - 1].hi = (uint16_t)code;
        else {
            assert(count < ZB_HTTP_STATUS_RANGES_MAX);
            ranges[count].lo = ranges[count].hi = (uint16_t)code;
            count++;
        }
    }
    return count;
}

int zb_http_status_check(const char *spec, const char **why)
{
    zb_http_status_range_t ranges[ZB_HTTP_STATUS_RANGES_MAX];
    return zb_http_status_compile(spec, ranges, why) == -1 ? -1 : 0;
}

bool zb_http_status_in(const zb_http_status_range_t *ranges, size_t count, int status)
{
    assert(ranges || count == 0);
    for (size_t i = 0; i < count && status >= ranges[i].lo; i++)
        if (status <= ranges[i].hi)
            return true;
    return false;
}

//  Self-test

//  The matcher that read the text at every response, before specs were
//  compiled: what the compiled one must agree with.
static bool s_test_text_match(const char *spec, int status)
{
    int lo, hi;
    bool last = false;
    for (const char *p = spec; !last;)
        if (s_status_next(&p, &lo, &hi, &last) && status >= lo && status <= hi)
            return true;
    return false;
}

typedef struct {
    zb_http_result_t rc;
    int status;
    bool close;
    bool found;
    size_t used; // bytes of the input that were this response
} s_outcome_t;

//  Feeds text cut at the given points (0: whole), then EOF if asked.
static s_outcome_t s_run(const char *text, size_t len, const char *pattern, bool head, size_t cut,
                         bool eof)
{
    zb_http_reply_t reply;
    uint8_t fail[ZB_HTTP_EXPECT_BODY_MAX];
    size_t plen = pattern ? strlen(pattern) : 0;
    zb_http_body_table(pattern, plen, fail);
    zb_http_reply_start(&reply, head, pattern, plen, fail);
    s_outcome_t out = {ZB_HTTP_MORE, 0, false, false, 0};
    size_t at = 0;
    while (at < len && out.rc == ZB_HTTP_MORE) {
        size_t n = cut && len - at > cut ? cut : len - at;
        size_t used;
        out.rc = zb_http_reply_feed(&reply, text + at, n, &used);
        assert(used <= n);
        assert(out.rc != ZB_HTTP_MORE || used == n);
        at += used;
    }
    if (out.rc == ZB_HTTP_MORE && eof)
        out.rc = zb_http_reply_eof(&reply);
    out.used = at;
    out.status = reply.status;
    out.close = reply.close;
    out.found = reply.body_found;
    if (out.rc == ZB_HTTP_ERROR)
        assert(reply.error && *reply.error);
    return out;
}

//  The same outcome whole, a byte at a time, and cut at a few sizes.
static s_outcome_t s_expect(const char *text, const char *pattern, bool head, bool eof,
                            zb_http_result_t rc, int status, bool close, bool found)
{
    size_t len = strlen(text);
    s_outcome_t first = s_run(text, len, pattern, head, 0, eof);
    if (first.rc != rc || (rc == ZB_HTTP_DONE && (first.status != status || first.close != close ||
                                                  first.found != found))) {
        fprintf(stderr,
                "\nresponse: %s\nwanted rc %d status %d close %d found %d, got %d %d %d "
                "%d\n",
                text, rc, status, close, found, first.rc, first.status, first.close, first.found);
        assert(false);
    }
    for (size_t cut = 1; cut < 8; cut++) {
        s_outcome_t again = s_run(text, len, pattern, head, cut, eof);
        assert(again.rc == first.rc && again.status == first.status && again.close == first.close &&
               again.found == first.found &&
               (again.rc == ZB_HTTP_ERROR || again.used == first.used));
    }
    return first;
}

void zb_http_reply_test(bool verbose)
{
    (void)verbose;
    //  Content-Length, kept alive; the next response's bytes are not used.
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\nHTTP/1.1 200 OK\r\n";
    s_outcome_t o = s_expect(two, "ok", false, false, ZB_HTTP_DONE, 200, false, true);
    assert(o.used == strlen(two) - strlen("HTTP/1.1 200 OK\r\n"));
    s_expect(two, "nope", false, false, ZB_HTTP_DONE, 200, false, false);
    s_expect("HTTP/1.1 503 Service Unavailable\r\ncontent-length:  0 \r\n\r\n", NULL, false, false,
             ZB_HTTP_DONE, 503, false, true);
    //  nginx's last keep-alive response.
    s_expect("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"
             "ok\n",
             "ok", false, false, ZB_HTTP_DONE, 200, true, true);
    //  Chunked, with extensions and trailers; the text across chunks.
    s_expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
             "3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
             "cdef", false, false, ZB_HTTP_DONE, 200, false, true);
    s_expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
             "89", false, false, ZB_HTTP_DONE, 200, false, true);
    //  Until the close: complete only at EOF.
    s_expect("HTTP/1.1 200 OK\r\n\r\nhello", "hello", false, false, ZB_HTTP_MORE, 0, false, false);
    s_expect("HTTP/1.1 200 OK\r\n\r\nhello", "hello", false, true, ZB_HTTP_DONE, 200, true, true);
    s_expect("HTTP/1.0 200 OK\nContent-Length: 2\n\nok", "ok", false, false, ZB_HTTP_DONE, 200,
             true, true);
    s_expect("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", NULL,
             false, false, ZB_HTTP_DONE, 200, false, true);
    //  HEAD, 204 and 304 have no body whatever they say.
    s_expect("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", NULL, true, false, ZB_HTTP_DONE,
             200, false, true);
    s_expect("HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n", NULL, false, false,
             ZB_HTTP_DONE, 304, false, true);
    //  Interim responses are skipped.
    s_expect("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
             "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
             NULL, false, false, ZB_HTTP_DONE, 201, false, true);
    //  A long reason phrase and long headers that do not matter.
    char big[70000];
    snprintf(big, sizeof(big),
             "HTTP/1.1 200 %0200d\r\nX-Long: %0300d\r\nContent-Length: 2\r\n\r\n"
             "ok",
             0, 0);
    s_expect(big, "ok", false, false, ZB_HTTP_DONE, 200, false, true);
    //  The text only counts within the first 64 KiB of the body.
    size_t at = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                                 ZB_HTTP_BODY_SCAN + 2);
    memset(big + at, '.', ZB_HTTP_BODY_SCAN);
    memcpy(big + at + ZB_HTTP_BODY_SCAN, "ok", 3);
    s_expect(big, "ok", false, false, ZB_HTTP_DONE, 200, false, false);
    memcpy(big + at + ZB_HTTP_BODY_SCAN - 2, "ok", 2);
    s_expect(big, "ok", false, false, ZB_HTTP_DONE, 200, false, true);
    //  The search backs up correctly (aab in aaab).
    s_expect("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\naaab", "aab", false, false, ZB_HTTP_DONE,
             200, false, true);

    //  Not HTTP, or not framed: errors.
    const char *bad[] = {
        "+PONG\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        s_expect(bad[i], NULL, false, true, ZB_HTTP_ERROR, 0, false, false);
    //  A NUL inside a header line (strlen would stop at it).
    const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    assert(s_run(nul, sizeof(nul) - 1, NULL, false, 0, true).rc == ZB_HTTP_ERROR);
    //  Cut short: an error at EOF, more wanted before.
    s_expect("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", NULL, false, true, ZB_HTTP_ERROR, 0,
             false, false);
    s_expect("", NULL, false, true, ZB_HTTP_ERROR, 0, false, false);
    //  Headers beyond 64 KiB.
    at = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    while (at < 66000)
        at += (size_t)snprintf(big + at, sizeof(big) - at, "X-Filler: %090d\r\n", 0);
    s_expect(big, NULL, false, true, ZB_HTTP_ERROR, 0, false, false);

    //  expect-status.
    const char *why;
    assert(zb_http_status_check("200-399", &why) == 0);
    assert(zb_http_status_check("200,204,3xx", &why) == 0);
    assert(zb_http_status_check(" 200 , 5xx ", &why) == 0);
    const char *wrong[] = {"",    "2xx,", "20",      "200-", "399-200",
                           "6xx", "099",  "200-600", "abc",  "2000"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
        assert(zb_http_status_check(wrong[i], &why) == -1 && why && *why);
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        zb_http_status_range_t ranges[ZB_HTTP_STATUS_RANGES_MAX];
        why = NULL;
        assert(zb_http_status_compile(wrong[i], ranges, &why) == -1 && why && *why);
    }
    //  Compiled: ranges in order, merged where they overlap or touch.
    zb_http_status_range_t ranges[ZB_HTTP_STATUS_RANGES_MAX];
    assert(zb_http_status_compile("2xx,301", ranges, &why) == 2);
    assert(ranges[0].lo == 200 && ranges[0].hi == 299 && ranges[1].lo == 301 &&
           ranges[1].hi == 301);
    assert(zb_http_status_compile(" 404, 200-399 ,3xx,400,1xx", ranges, &why) == 2);
    assert(ranges[0].lo == 100 && ranges[0].hi == 400 && ranges[1].lo == 404 &&
           ranges[1].hi == 404);
    assert(zb_http_status_in(ranges, 2, 100) && zb_http_status_in(ranges, 2, 400));
    assert(!zb_http_status_in(ranges, 2, 99) && !zb_http_status_in(ranges, 2, 401));
    assert(!zb_http_status_in(ranges, 2, 600) && !zb_http_status_in(ranges, 2, 0));
    //  Every other code: the most ranges a spec can make.
    char every[2000];
    at = 0;
    for (int code = 100; code < 600; code += 2)
        at += (size_t)snprintf(every + at, sizeof(every) - at, "%s%d", at ? "," : "", code);
    assert(zb_http_status_compile(every, ranges, &why) == ZB_HTTP_STATUS_RANGES_MAX);
    //  The compiled matcher agrees with the text matcher it replaces, for
    //  every code (and some out of range) over specs of every shape.
    const char *specs[] = {"200-399",
                           "2xx,301",
                           "200",
                           "599",
                           "100",
                           "1xx",
                           "5xx",
                           "100-599",
                           "200,204,3xx",
                           " 200 , 5xx ",
                           "404,200-202,201-210",
                           "3xx,2xx",
                           "500-599,100-101",
                           "299-300",
                           "200,200,200",
                           "1xx,2xx,3xx,4xx,5xx",
                           "418",
                           every};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        int count = zb_http_status_compile(specs[i], ranges, &why);
        assert(count >= 1 && zb_http_status_check(specs[i], &why) == 0);
        for (int r = 0; r < count; r++)
            assert(ranges[r].lo <= ranges[r].hi && (r == 0 || ranges[r].lo > ranges[r - 1].hi + 1));
        for (int code = 0; code < 1000; code++)
            assert(zb_http_status_in(ranges, (size_t)count, code) ==
                   s_test_text_match(specs[i], code));
    }
    if (verbose)
        printf("\n    expect-status: %zu specs, codes 0 to 999, as the text matcher\n",
               sizeof(specs) / sizeof(specs[0]));
}
