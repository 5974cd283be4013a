/*  zb_datagram: the liveness datagram's codec. See zb_datagram.h. */
#include "zb_datagram.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const uint8_t s_magic[3] = {'Z', 'B', 'U'};

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t s_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

static bool s_instance_valid(const char *instance, size_t len)
{
    if (len != ZB_INSTANCE_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((instance[i] >= '0' && instance[i] <= '9') ||
              (instance[i] >= 'a' && instance[i] <= 'f')))
            return false;
    return true;
}

//  The body: instance, seq, interval, changes.
static void s_body_put(const zb_datagram_t *dg, uint8_t *p)
{
    memcpy(p, dg->instance, ZB_INSTANCE_LEN);
    s_put64(p + ZB_INSTANCE_LEN, dg->seq);
    s_put32(p + ZB_INSTANCE_LEN + 8, dg->interval_ms);
    s_put32(p + ZB_INSTANCE_LEN + 12, dg->changes);
}

static int s_body_get(const uint8_t *p, zb_datagram_t *dg, const char **why)
{
    if (!s_instance_valid((const char *)p, ZB_INSTANCE_LEN)) {
        *why = "bad instance";
        return -1;
    }
    memcpy(dg->instance, p, ZB_INSTANCE_LEN);
    dg->instance[ZB_INSTANCE_LEN] = '\0';
    dg->seq = s_get64(p + ZB_INSTANCE_LEN);
    dg->interval_ms = s_get32(p + ZB_INSTANCE_LEN + 8);
    dg->changes = s_get32(p + ZB_INSTANCE_LEN + 12);
    if (dg->seq == 0 || dg->interval_ms == 0) {
        *why = "zero seq or interval";
        return -1;
    }
    return 0;
}

int zb_datagram_key(zb_datagram_key_t *key, const uint8_t their_public[ZB_DATAGRAM_KEY],
                    const uint8_t our_secret[ZB_DATAGRAM_KEY])
{
    assert(key && their_public && our_secret);
    //  sodium_init is idempotent and thread-safe; a failure leaves the
    //  primitives unusable, so it is an error here.
    if (sodium_init() < 0)
        return -1;
    return crypto_box_beforenm(key->shared, their_public, our_secret) == 0 ? 0 : -1;
}

int zb_datagram_encode(const zb_datagram_t *dg, const zb_datagram_key_t *key,
                       const uint8_t our_public[ZB_DATAGRAM_KEY], uint8_t *buf, size_t size)
{
    assert(dg && buf && size >= ZB_DATAGRAM_MAX && (!key || our_public));
    size_t n = strlen(dg->host);
    if (!zb_name_valid(dg->host) || n > ZB_NAME_MAX ||
        !s_instance_valid(dg->instance, strlen(dg->instance)))
        return -1;
    memcpy(buf, s_magic, 3);
    buf[3] = ZB_DATAGRAM_VERSION;
    buf[4] = key ? 1 : 0;
    buf[5] = (uint8_t)n;
    memcpy(buf + 6, dg->host, n);
    size_t at = 6 + n;
    if (!key) {
        s_body_put(dg, buf + at);
        return (int)(at + ZB_DATAGRAM_BODY);
    }
    memcpy(buf + at, our_public, ZB_DATAGRAM_KEY);
    at += ZB_DATAGRAM_KEY;
    uint8_t *nonce = buf + at;
    //  A random nonce: a sequence number would repeat across agent runs
    //  with the same key pair, and nonce reuse under one key breaks the box.
    randombytes_buf(nonce, ZB_DATAGRAM_NONCE);
    at += ZB_DATAGRAM_NONCE;
    uint8_t plain[1 + ZB_NAME_MAX + ZB_DATAGRAM_BODY];
    plain[0] = (uint8_t)n;
    memcpy(plain + 1, dg->host, n);
    s_body_put(dg, plain + 1 + n);
    size_t plain_len = 1 + n + ZB_DATAGRAM_BODY;
    crypto_box_easy_afternm(buf + at, plain, plain_len, nonce, key->shared);
    return (int)(at + ZB_DATAGRAM_MAC + plain_len);
}

int zb_datagram_peek(const uint8_t *buf, size_t len, zb_datagram_t *dg, const char **why)
{
    assert(buf && dg && why);
    memset(dg, 0, sizeof(*dg));
    if (len < 6 || memcmp(buf, s_magic, 3) != 0) {
        *why = len < 6 ? "truncated" : "bad magic";
        return -1;
    }
    if (buf[3] != ZB_DATAGRAM_VERSION) {
        *why = "unknown version";
        return -1;
    }
    if (buf[4] > 1) {
        *why = "unknown flags";
        return -1;
    }
    size_t n = buf[5];
    if (n == 0 || n > ZB_NAME_MAX || len < 6 + n) {
        *why = n == 0 || n > ZB_NAME_MAX ? "bad host length" : "truncated";
        return -1;
    }
    memcpy(dg->host, buf + 6, n);
    dg->host[n] = '\0';
    if (strlen(dg->host) != n || !zb_name_valid(dg->host)) {
        *why = "bad host name";
        return -1;
    }
    size_t at = 6 + n;
    dg->sealed = buf[4] == 1;
    if (!dg->sealed) {
        if (len != at + ZB_DATAGRAM_BODY) {
            *why = len < at + ZB_DATAGRAM_BODY ? "truncated" : "trailing bytes";
            return -1;
        }
        return s_body_get(buf + at, dg, why);
    }
    if (len !=
        at + ZB_DATAGRAM_KEY + ZB_DATAGRAM_NONCE + ZB_DATAGRAM_MAC + 1 + n + ZB_DATAGRAM_BODY) {
        *why = "bad sealed length";
        return -1;
    }
    memcpy(dg->sender_key, buf + at, ZB_DATAGRAM_KEY);
    return 0;
}

int zb_datagram_open(const uint8_t *buf, size_t len, const zb_datagram_key_t *key,
                     zb_datagram_t *dg, const char **why)
{
    assert(buf && key && dg && why && dg->sealed);
    size_t n = strlen(dg->host);
    size_t at = 6 + n + ZB_DATAGRAM_KEY;
    const uint8_t *nonce = buf + at;
    at += ZB_DATAGRAM_NONCE;
    uint8_t plain[1 + ZB_NAME_MAX + ZB_DATAGRAM_BODY];
    size_t plain_len = 1 + n + ZB_DATAGRAM_BODY;
    //  zb_datagram_peek checked the length against the clear host's.
    assert(len == at + ZB_DATAGRAM_MAC + plain_len);
    if (crypto_box_open_easy_afternm(plain, buf + at, len - at, nonce, key->shared) != 0) {
        *why = "authentication failed";
        return -1;
    }
    if (plain[0] != n || memcmp(plain + 1, dg->host, n) != 0) {
        *why = "sealed host differs";
        return -1;
    }
    return s_body_get(plain + 1 + n, dg, why);
}

//  --------------------------------------------------------------------------
//  Self-test

void zb_datagram_test(bool verbose)
{
    if (verbose)
        printf(" * zb_datagram: ");
    zb_datagram_t dg = {.host = "web-1",
                        .instance = "0123456789abcdef",
                        .seq = 42,
                        .interval_ms = 250,
                        .changes = 7};
    uint8_t buf[ZB_DATAGRAM_MAX], out[ZB_DATAGRAM_MAX];
    const char *why = NULL;

    //  In clear: round trip, then every truncation and a bit flip in the
    //  header refused.
    int len = zb_datagram_encode(&dg, NULL, NULL, buf, sizeof(buf));
    assert(len == 6 + 5 + ZB_DATAGRAM_BODY);
    zb_datagram_t got;
    assert(zb_datagram_peek(buf, (size_t)len, &got, &why) == 0);
    assert(!got.sealed && strcmp(got.host, "web-1") == 0 && got.seq == 42 &&
           got.interval_ms == 250 && got.changes == 7 && strcmp(got.instance, dg.instance) == 0);
    for (int cut = 0; cut < len; cut++)
        assert(zb_datagram_peek(buf, (size_t)cut, &got, &why) == -1);
    memcpy(out, buf, (size_t)len);
    out[3] = 9;
    assert(zb_datagram_peek(out, (size_t)len, &got, &why) == -1);
    assert(strcmp(why, "unknown version") == 0);
    memcpy(out, buf, (size_t)len);
    out[5] = 200;
    assert(zb_datagram_peek(out, (size_t)len, &got, &why) == -1);
    memcpy(out, buf, (size_t)len);
    out[6] = '\n'; // a host name that is not one
    assert(zb_datagram_peek(out, (size_t)len, &got, &why) == -1);
    zb_datagram_t bad = dg;
    snprintf(bad.instance, sizeof(bad.instance), "XYZ");
    assert(zb_datagram_encode(&bad, NULL, NULL, buf, sizeof(buf)) == -1);

    //  Sealed: the agent's secret with the monitor's public key on one
    //  side, the reverse on the other, make the same box.
    uint8_t agent_pk[32], agent_sk[32], mon_pk[32], mon_sk[32], other_pk[32], other_sk[32];
    assert(sodium_init() >= 0);
    crypto_box_keypair(agent_pk, agent_sk);
    crypto_box_keypair(mon_pk, mon_sk);
    crypto_box_keypair(other_pk, other_sk);
    zb_datagram_key_t agent_key, mon_key, wrong_key;
    assert(zb_datagram_key(&agent_key, mon_pk, agent_sk) == 0);
    assert(zb_datagram_key(&mon_key, agent_pk, mon_sk) == 0);
    assert(zb_datagram_key(&wrong_key, other_pk, mon_sk) == 0);
    len = zb_datagram_encode(&dg, &agent_key, agent_pk, buf, sizeof(buf));
    assert(len > 0 && (size_t)len <= ZB_DATAGRAM_MAX);
    assert(zb_datagram_peek(buf, (size_t)len, &got, &why) == 0);
    assert(got.sealed && memcmp(got.sender_key, agent_pk, 32) == 0 && got.seq == 0);
    zb_datagram_t opened = got;
    assert(zb_datagram_open(buf, (size_t)len, &mon_key, &opened, &why) == 0);
    assert(opened.seq == 42 && opened.interval_ms == 250 && opened.changes == 7 &&
           strcmp(opened.instance, dg.instance) == 0);
    //  The wrong key, any flipped bit of the box: refused.
    opened = got;
    assert(zb_datagram_open(buf, (size_t)len, &wrong_key, &opened, &why) == -1);
    for (int i = 6 + 5 + 32; i < len; i++) {
        memcpy(out, buf, (size_t)len);
        out[i] ^= 0x01;
        opened = got;
        assert(zb_datagram_open(out, (size_t)len, &mon_key, &opened, &why) == -1);
    }
    //  The clear host swapped for another of the same length: the box says
    //  otherwise.
    memcpy(out, buf, (size_t)len);
    memcpy(out + 6, "db--1", 5);
    assert(zb_datagram_peek(out, (size_t)len, &got, &why) == 0);
    assert(zb_datagram_open(out, (size_t)len, &mon_key, &got, &why) == -1);
    assert(strcmp(why, "sealed host differs") == 0);
    //  Truncated sealed datagrams never reach the box.
    for (int cut = 0; cut < len; cut++)
        assert(zb_datagram_peek(buf, (size_t)cut, &got, &why) == -1);
    //  Two encodings of one datagram differ (fresh nonces).
    int len2 = zb_datagram_encode(&dg, &agent_key, agent_pk, out, sizeof(out));
    assert(len2 == len && memcmp(out, buf, (size_t)len) != 0);
    if (verbose)
        printf("OK\n");
}
