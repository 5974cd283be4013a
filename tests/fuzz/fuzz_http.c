/*  libFuzzer harness for the HTTP checks' response parser. The first byte
    picks the expected text's length and how the rest is cut into reads;
    the verdict must not depend on the cuts, must never read past a read,
    and an error always says why. The same bytes, up to a NUL (at most 64),
    are an expect-status too: compiled, it must be refused or accepted as
    a matcher written here from the syntax alone says, and match the same
    codes. */
#include "zb_http_reply.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    zb_http_result_t rc;
    int status;
    bool close;
    bool found;
    size_t used;
} s_outcome_t;

static s_outcome_t s_run(const char *text, size_t len, const char *pattern, size_t plen,
                         const uint8_t *fail, size_t cut)
{
    zb_http_reply_t reply;
    zb_http_reply_start(&reply, false, pattern, plen, fail);
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
    if (out.rc == ZB_HTTP_MORE)
        out.rc = zb_http_reply_eof(&reply);
    assert(out.rc != ZB_HTTP_MORE);
    if (out.rc == ZB_HTTP_ERROR)
        assert(reply.error && *reply.error);
    else
        assert(reply.status >= 200 && reply.status <= 999);
    out.status = reply.status;
    out.close = reply.close;
    out.found = reply.body_found;
    out.used = at;
    return out;
}

//  Three digits into *value.
static bool s_digits(const char *p, int *value)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
        return false;
    *value = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    return true;
}

//  expect-status from its syntax (docs/config-agent.md): comma-separated
//  items, spaces around each; an item is 200, 200-399 or 3xx, codes from
//  100 to 599. Returns whether spec is one; in[code] for code 0 to 999.
static bool s_reference(const char *spec, bool in[1000])
{
    memset(in, 0, 1000);
    if (!*spec)
        return false;
    for (const char *p = spec;;) {
        size_t n = strcspn(p, ",");
        const char *item = p;
        bool last = p[n] == '\0';
        p += n + !last;
        while (n > 0 && *item == ' ')
            item++, n--;
        while (n > 0 && item[n - 1] == ' ')
            n--;
        int lo, hi;
        if (n == 3 && item[0] >= '1' && item[0] <= '5' && item[1] == 'x' && item[2] == 'x') {
            lo = (item[0] - '0') * 100;
            hi = lo + 99;
        } else if (n == 3 && s_digits(item, &lo))
            hi = lo;
        else if (!(n == 7 && s_digits(item, &lo) && item[3] == '-' && s_digits(item + 4, &hi)))
            return false;
        if (lo < 100 || hi > 599 || lo > hi)
            return false;
        for (int code = lo; code <= hi; code++)
            in[code] = true;
        if (last)
            return true;
    }
}

static void s_status_spec(const uint8_t *data, size_t size)
{
    char spec[65];
    size_t len = 0;
    while (len < size && len < sizeof(spec) - 1 && data[len])
        len++;
    memcpy(spec, data, len);
    spec[len] = '\0';
    bool in[1000];
    bool valid = s_reference(spec, in);
    zb_http_status_range_t ranges[ZB_HTTP_STATUS_RANGES_MAX];
    const char *why = NULL;
    int count = zb_http_status_compile(spec, ranges, &why);
    assert((count >= 1) == valid && (zb_http_status_check(spec, &why) == 0) == valid);
    if (!valid) {
        assert(count == -1 && why && *why);
        return;
    }
    assert(count <= ZB_HTTP_STATUS_RANGES_MAX);
    for (int r = 0; r < count; r++)
        assert(ranges[r].lo >= 100 && ranges[r].lo <= ranges[r].hi && ranges[r].hi <= 599 &&
               (r == 0 || ranges[r].lo > ranges[r - 1].hi + 1));
    for (int code = 0; code < 1000; code++)
        assert(zb_http_status_in(ranges, (size_t)count, code) == in[code]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_status_spec(data, size);
    if (size < 1)
        return 0;
    size_t plen = data[0] & 0x07, cut = (data[0] >> 3) + 1;
    data++;
    size--;
    if (plen > size)
        plen = size;
    //  The expected text is the input's first bytes, so it can occur.
    const char *pattern = (const char *)data;
    uint8_t fail[ZB_HTTP_EXPECT_BODY_MAX];
    zb_http_body_table(pattern, plen, fail);
    s_outcome_t whole = s_run((const char *)data, size, pattern, plen, fail, 0);
    s_outcome_t cuts = s_run((const char *)data, size, pattern, plen, fail, cut);
    assert(whole.rc == cuts.rc && whole.status == cuts.status);
    if (whole.rc == ZB_HTTP_DONE)
        assert(whole.close == cuts.close && whole.found == cuts.found && whole.used == cuts.used);
    return 0;
}
