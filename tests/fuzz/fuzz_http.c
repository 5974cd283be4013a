/*  libFuzzer harness for the HTTP checks' response parser. The first byte
    picks the expected text's length and how the rest is cut into reads;
    the verdict must not depend on the cuts, must never read past a read,
    and an error always says why. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
