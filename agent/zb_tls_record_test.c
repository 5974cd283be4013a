/*  zb_tls_record's self-test: two ends of a socket pair, each a record
    layer with the other's keys, for every version and cipher. Interplay
    with a real TLS library (the handshake's keys, KeyUpdate, tickets) is
    zb_tls's self-test and the agent's TLS integration tests.
*/
#include "zb_tls_record.h"

#include <assert.h>
#include <nettle/chacha-poly1305.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Keys that differ by seed.
static zb_tls_keys_t s_test_keys(unsigned seed, bool tls13)
{
    zb_tls_keys_t keys;
    memset(&keys, 0, sizeof(keys));
    for (size_t i = 0; i < sizeof(keys.key); i++)
        keys.key[i] = (uint8_t)(seed * 31 + i * 7);
    for (size_t i = 0; i < sizeof(keys.iv); i++)
        keys.iv[i] = (uint8_t)(seed * 17 + i * 3);
    if (tls13) {
        keys.secret_len = 32;
        for (size_t i = 0; i < keys.secret_len; i++)
            keys.secret[i] = (uint8_t)(seed + i);
    }
    keys.seq = seed; // not 0: the sequence number must go into the nonce
    return keys;
}

typedef struct {
    int fd[2];               // a socket pair, non-blocking
    zb_tls_record_t *end[2]; // a record layer on each end
} s_test_pair_t;

static void s_test_pair(s_test_pair_t *pair, bool tls13, zb_tls_aead_t aead, size_t max_plain)
{
    assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair->fd) == 0);
    zb_tls_keys_t a = s_test_keys(1, tls13), b = s_test_keys(2, tls13);
    pair->end[0] = zb_tls_record_new(pair->fd[0], tls13, aead, &a, &b, max_plain);
    pair->end[1] = zb_tls_record_new(pair->fd[1], tls13, aead, &b, &a, max_plain);
    assert(pair->end[0] && pair->end[1]);
}

static void s_test_unpair(s_test_pair_t *pair)
{
    for (int i = 0; i < 2; i++) {
        zb_tls_record_destroy(&pair->end[i]);
        assert(!pair->end[i]);
        if (pair->fd[i] != -1)
            close(pair->fd[i]);
    }
}

//  Reads len bytes at end, chunk bytes a call at most, waiting on the
//  socket as told; returns the last status (ZB_TLS_OK once all came).
static zb_tls_status_t s_test_read(zb_tls_record_t *end, int fd, char *buf, size_t len,
                                   size_t chunk, char *err, size_t errsize)
{
    for (size_t have = 0; have < len;) {
        size_t got = 0;
        size_t want = len - have < chunk ? len - have : chunk;
        zb_tls_status_t rc = zb_tls_record_read(end, buf + have, want, &got, err, errsize);
        if (rc == ZB_TLS_WANT_READ) {
            struct pollfd item = {fd, POLLIN, 0};
            assert(poll(&item, 1, 5000) == 1);
            continue;
        }
        if (rc != ZB_TLS_OK)
            return rc;
        assert(got > 0 && got <= want);
        have += got;
    }
    return ZB_TLS_OK;
}

//  Seals a record with ChaCha20-Poly1305 under keys as a server would, of
//  any length and TLS 1.3 padding: what zb_tls_record_write never sends.
//  Returns its length; keys->seq moves on.
static size_t s_test_seal(zb_tls_keys_t *keys, bool tls13, uint8_t type, const void *content,
                          size_t len, size_t pad, uint8_t *record)
{
    uint8_t *body = record + 5;
    memcpy(body, content, len);
    size_t sealed = len;
    if (tls13) { // content || type || zeros, inside a record of type data
        body[sealed++] = type;
        memset(body + sealed, 0, pad);
        sealed += pad;
    }
    record[0] = tls13 ? 23 : type;
    record[1] = 3;
    record[2] = 3;
    record[3] = (uint8_t)((sealed + 16) >> 8);
    record[4] = (uint8_t)(sealed + 16);
    uint8_t nonce[12], aad[13], seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = (uint8_t)(keys->seq >> (56 - 8 * i));
    memcpy(nonce, keys->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= seq[i];
    memcpy(aad, seq, 8); // TLS 1.2: seq, type, version, plaintext length
    memcpy(aad + 8, record, 3);
    aad[11] = (uint8_t)(len >> 8);
    aad[12] = (uint8_t)len;
    struct chacha_poly1305_ctx ctx;
    chacha_poly1305_set_key(&ctx, keys->key);
    chacha_poly1305_set_nonce(&ctx, nonce);
    chacha_poly1305_update(&ctx, tls13 ? 5 : 13, tls13 ? record : aad);
    chacha_poly1305_encrypt(&ctx, sealed, body, body);
    chacha_poly1305_digest(&ctx, 16, body + sealed);
    keys->seq++;
    return 5 + sealed + 16;
}

//  Seals records onto pair's end 0 for end 1 to read (end 1 reads with
//  seed 2's keys): type, content and TLS 1.3 padding, in turn, nothing
//  left unsent.
static void s_test_send(int fd, zb_tls_keys_t *keys, bool tls13, uint8_t type, const void *content,
                        size_t len, size_t pad)
{
    uint8_t *record = malloc(5 + len + 1 + pad + 16);
    assert(record);
    size_t n = s_test_seal(keys, tls13, type, content, len, pad, record);
    assert(send(fd, record, n, 0) == (ssize_t)n);
    free(record);
}

//  What a server sends that the RFCs forbid, sealed with the right keys
//  (found by tests/fuzz/fuzz_tls_record.c): each fails the read with a
//  message; what is allowed beside it still reads.
static void s_test_strict(bool verbose)
{
    char err[128], buf[64];
    size_t got;
    static char big[16385 + 1];
    memset(big, 'b', sizeof(big));
    for (int version = 0; version < 2; version++) {
        bool tls13 = version == 1;
        //  Plaintext past 2^14 (TLS 1.3: 2^14 + 1 with the inner type,
        //  padding counted): record_overflow; at the limit, read.
        for (int over = 0; over < 2; over++) {
            s_test_pair_t pair;
            s_test_pair(&pair, tls13, ZB_TLS_CHACHA20_POLY1305, 0);
            zb_tls_keys_t keys = s_test_keys(2, tls13);
            s_test_send(pair.fd[0], &keys, tls13, 23, big, tls13 ? 16384 - 1 : 16384 + over,
                        tls13 ? 1 + over : 0);
            char *in = malloc(16384);
            assert(in);
            zb_tls_status_t rc = s_test_read(pair.end[1], pair.fd[1], in, tls13 ? 16383 : 16384,
                                             16384, err, sizeof(err));
            free(in);
            if (verbose && over)
                printf("\n    TLS 1.%d: %s", tls13 ? 3 : 2, err);
            assert(rc == (over ? ZB_TLS_ERROR : ZB_TLS_OK));
            char want[128];
            snprintf(want, sizeof(want),
                     "tls: read: a record of %d bytes of plaintext, more than TLS allows "
                     "(record_overflow)",
                     16385 + (tls13 ? 1 : 0));
            assert(!over || strcmp(err, want) == 0);
            s_test_unpair(&pair);
        }
        //  A header announcing more than the version allows: refused
        //  before its body comes (TLS 1.3: 2^14 + 256, RFC 8446 5.2; TLS
        //  1.2: 2^14 + 2048, RFC 5246 6.2.3); at the limit, waited for.
        for (int over = 0; over < 2; over++) {
            s_test_pair_t pair;
            s_test_pair(&pair, tls13, ZB_TLS_CHACHA20_POLY1305, 0);
            size_t len = 16384 + (tls13 ? 256 : 2048) + (size_t)over;
            uint8_t header[5] = {23, 3, 3, (uint8_t)(len >> 8), (uint8_t)len};
            assert(send(pair.fd[0], header, 5, 0) == 5);
            zb_tls_status_t rc =
                zb_tls_record_read(pair.end[1], buf, sizeof(buf), &got, err, sizeof(err));
            assert(rc == (over ? ZB_TLS_ERROR : ZB_TLS_WANT_READ));
            char want[64];
            snprintf(want, sizeof(want), "tls: read: a record of %zu bytes (record_overflow)",
                     5 + len);
            assert(!over || strcmp(err, want) == 0);
            assert(zb_tls_record_pending(pair.end[1]) == (over == 1));
            s_test_unpair(&pair);
        }
        //  The peer gone: between records, a close (most servers close
        //  without close_notify); inside a record's header or body, or
        //  between the records of a handshake message, what it sent is
        //  lost: an error.
        for (int cut = 0; cut < 4; cut++) {
            s_test_pair_t pair;
            s_test_pair(&pair, tls13, ZB_TLS_CHACHA20_POLY1305, 0);
            zb_tls_keys_t keys = s_test_keys(2, tls13);
            s_test_send(pair.fd[0], &keys, tls13, 23, "ok", 2, 0);
            if (cut == 1)
                assert(send(pair.fd[0], "\x17\x03", 2, 0) == 2);
            if (cut == 2)
                assert(send(pair.fd[0], "\x17\x03\x03\x00\x30", 5, 0) == 5);
            if (cut == 3) // a message's header, its body never sent
                s_test_send(pair.fd[0], &keys, tls13, 22, tls13 ? "\x04\x00\x00\x08" : "\0\0\0\0",
                            4, 0);
            shutdown(pair.fd[0], SHUT_WR);
            assert(s_test_read(pair.end[1], pair.fd[1], buf, 2, 64, err, sizeof(err)) ==
                       ZB_TLS_OK &&
                   memcmp(buf, "ok", 2) == 0);
            zb_tls_status_t rc =
                zb_tls_record_read(pair.end[1], buf, sizeof(buf), &got, err, sizeof(err));
            if (verbose && rc == ZB_TLS_ERROR)
                printf("\n    TLS 1.%d: %s", tls13 ? 3 : 2, err);
            //  TLS 1.2's HelloRequest has no body: sent whole, then a close.
            assert(rc == (cut == 0 || (cut == 3 && !tls13) ? ZB_TLS_CLOSED : ZB_TLS_ERROR));
            assert(cut != 1 || strcmp(err, "tls: read: a truncated record (the connection closed "
                                           "after 2 bytes of it)") == 0);
            assert(cut != 2 || strcmp(err, "tls: read: a truncated record (the connection closed "
                                           "after 5 bytes of it)") == 0);
            assert(cut != 3 || !tls13 ||
                   strcmp(err, "tls: read: a truncated handshake message (the connection closed "
                               "between its records)") == 0);
            s_test_unpair(&pair);
        }
        //  A handshake message cut across records, with data between its
        //  parts: refused in TLS 1.3 (RFC 8446, 5.1), allowed in TLS 1.2
        //  (RFC 5246, 6.2.1). Without it between, read past either way.
        for (int between = 0; between < 2; between++) {
            s_test_pair_t pair;
            s_test_pair(&pair, tls13, ZB_TLS_CHACHA20_POLY1305, 0);
            zb_tls_keys_t keys = s_test_keys(2, tls13);
            //  A NewSessionTicket of 8 bytes (TLS 1.3), a HelloRequest (TLS
            //  1.2): each in two records.
            const char *message = tls13 ? "\x04\x00\x00\x08"
                                          "12345678"
                                        : "\0\0\0\0";
            size_t len = tls13 ? 12 : 4, half = tls13 ? 6 : 2;
            s_test_send(pair.fd[0], &keys, tls13, 22, message, half, 0);
            if (between)
                s_test_send(pair.fd[0], &keys, tls13, 23, "x", 1, 0);
            s_test_send(pair.fd[0], &keys, tls13, 22, message + half, len - half, 0);
            s_test_send(pair.fd[0], &keys, tls13, 23, "y", 1, 0);
            zb_tls_status_t rc =
                s_test_read(pair.end[1], pair.fd[1], buf, between ? 2 : 1, 64, err, sizeof(err));
            if (verbose && between && tls13)
                printf("\n    TLS 1.3: %s", err);
            if (between && tls13)
                assert(rc == ZB_TLS_ERROR &&
                       strcmp(err, "tls: read: a record (type 23) inside a handshake message cut "
                                   "across records") == 0);
            else
                assert(rc == ZB_TLS_OK && memcmp(buf, between ? "xy" : "y", between ? 2 : 1) == 0);
            s_test_unpair(&pair);
        }
        //  An empty handshake record (RFC 8446, 5.1; RFC 5246, 6.2.1).
        {
            s_test_pair_t pair;
            s_test_pair(&pair, tls13, ZB_TLS_CHACHA20_POLY1305, 0);
            zb_tls_keys_t keys = s_test_keys(2, tls13);
            s_test_send(pair.fd[0], &keys, tls13, 22, "", 0, tls13 ? 3 : 0);
            assert(s_test_read(pair.end[1], pair.fd[1], buf, 1, 64, err, sizeof(err)) ==
                       ZB_TLS_ERROR &&
                   strcmp(err, "tls: read: an empty handshake record") == 0);
            s_test_unpair(&pair);
        }
    }
}

void zb_tls_record_test(bool verbose)
{
    static const zb_tls_aead_t aeads[] = {ZB_TLS_CHACHA20_POLY1305, ZB_TLS_AES_128_GCM,
                                          ZB_TLS_AES_256_GCM};
    char err[128], buf[64];
    size_t got;
    for (int version = 0; version < 2; version++)
        for (size_t c = 0; c < sizeof(aeads) / sizeof(aeads[0]); c++) {
            bool tls13 = version == 1;
            s_test_pair_t pair;
            s_test_pair(&pair, tls13, aeads[c], 0);
            //  Pings and answers both ways; the sequence numbers move on.
            for (int round = 0; round < 3; round++) {
                assert(zb_tls_record_write(pair.end[0], "PING\r\n", 6, err, sizeof(err)) ==
                       ZB_TLS_OK);
                assert(s_test_read(pair.end[1], pair.fd[1], buf, 6, 64, err, sizeof(err)) ==
                       ZB_TLS_OK);
                assert(memcmp(buf, "PING\r\n", 6) == 0);
                assert(!zb_tls_record_pending(pair.end[1]));
                assert(zb_tls_record_write(pair.end[1], "+PONG\r\n", 7, err, sizeof(err)) ==
                       ZB_TLS_OK);
                //  Read in pieces smaller than the record: the rest is held.
                assert(zb_tls_record_read(pair.end[0], buf, 1, &got, err, sizeof(err)) ==
                           ZB_TLS_OK &&
                       got == 1 && buf[0] == '+');
                assert(zb_tls_record_pending(pair.end[0]));
                assert(s_test_read(pair.end[0], pair.fd[0], buf + 1, 6, 2, err, sizeof(err)) ==
                       ZB_TLS_OK);
                assert(memcmp(buf, "+PONG\r\n", 7) == 0);
                assert(zb_tls_record_read(pair.end[0], buf, sizeof(buf), &got, err, sizeof(err)) ==
                       ZB_TLS_WANT_READ);
                //  Idle: no buffer held, on either end.
                assert(zb_tls_record_buffer(pair.end[0]) == 0);
                assert(zb_tls_record_buffer(pair.end[1]) == 0);
            }
            //  More than a record: cut into records, put back together.
            size_t big = 40000;
            char *out = malloc(big), *in = malloc(big);
            assert(out && in);
            for (size_t i = 0; i < big; i++)
                out[i] = (char)(i * 13);
            assert(zb_tls_record_write(pair.end[1], out, big, err, sizeof(err)) == ZB_TLS_OK);
            assert(s_test_read(pair.end[0], pair.fd[0], in, big, 5000, err, sizeof(err)) ==
                   ZB_TLS_OK);
            assert(memcmp(in, out, big) == 0);
            free(out);
            free(in);
            //  close_notify: the other end reads a close, and goes on doing so.
            zb_tls_record_close(pair.end[0]);
            assert(s_test_read(pair.end[1], pair.fd[1], buf, 1, 1, err, sizeof(err)) ==
                   ZB_TLS_CLOSED);
            assert(zb_tls_record_read(pair.end[1], buf, 1, &got, err, sizeof(err)) ==
                   ZB_TLS_CLOSED);
            s_test_unpair(&pair);

            //  A record that arrives a byte at a time, through a second pair.
            s_test_pair(&pair, tls13, aeads[c], 0);
            int relay[2];
            assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, relay) == 0);
            assert(zb_tls_record_write(pair.end[0], "hello", 5, err, sizeof(err)) == ZB_TLS_OK);
            zb_tls_keys_t a = s_test_keys(1, tls13), b = s_test_keys(2, tls13);
            zb_tls_record_t *slow = zb_tls_record_new(relay[1], tls13, aeads[c], &b, &a, 0);
            uint8_t raw[256];
            ssize_t len = recv(pair.fd[1], raw, sizeof(raw), 0);
            assert(len > 5);
            for (ssize_t i = 0; i < len - 1; i++) {
                assert(send(relay[0], raw + i, 1, 0) == 1);
                assert(zb_tls_record_read(slow, buf, sizeof(buf), &got, err, sizeof(err)) ==
                       ZB_TLS_WANT_READ);
                assert(!zb_tls_record_pending(slow));
                assert(zb_tls_record_buffer(slow) > 0); // a part of a record
            }
            assert(send(relay[0], raw + len - 1, 1, 0) == 1);
            assert(zb_tls_record_read(slow, buf, sizeof(buf), &got, err, sizeof(err)) ==
                       ZB_TLS_OK &&
                   got == 5 && memcmp(buf, "hello", 5) == 0);
            //  A byte changed on the way: refused, nothing handed out.
            assert(zb_tls_record_write(pair.end[0], "hello", 5, err, sizeof(err)) == ZB_TLS_OK);
            len = recv(pair.fd[1], raw, sizeof(raw), 0);
            raw[len - 3] ^= 0x40;
            assert(send(relay[0], raw, (size_t)len, 0) == len);
            assert(zb_tls_record_read(slow, buf, sizeof(buf), &got, err, sizeof(err)) ==
                       ZB_TLS_ERROR &&
                   got == 0);
            assert(strcmp(err, "tls: read: bad record MAC") == 0);
            zb_tls_record_destroy(&slow);
            close(relay[1]);
            s_test_unpair(&pair);
            close(relay[0]);
            if (verbose)
                printf("\n    TLS 1.%d, cipher %d: pings, 40,000 bytes, a byte at a time, a "
                       "changed byte",
                       tls13 ? 3 : 2, (int)aeads[c]);
        }

    //  Malformed input from a server: told, never more than that.
    static const struct {
        const char *bytes;
        size_t len;
        const char *error;
    } bad[] = {
        {"\x17\x03\x03\x48\x10", 5, "tls: read: a record of 18453 bytes (record_overflow)"},
        {"\x17\x02\x03\x00\x20"
         "0123456789abcdef0123456789abcdef",
         37, "tls: read: a malformed record (type 23, 37 bytes)"},
        {"\x16\x03\x03\x00\x20"
         "0123456789abcdef0123456789abcdef",
         37, "tls: read: a malformed record (type 22, 37 bytes)"},
        {"\x17\x03\x03\x00\x10"
         "0123456789abcdef",
         21, "tls: read: a malformed record (type 23, 21 bytes)"},
        {"\x17\x03\x03\x00\x20"
         "0123456789abcdef0123456789abcdef",
         37, "tls: read: bad record MAC"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s_test_pair_t pair;
        s_test_pair(&pair, true, ZB_TLS_CHACHA20_POLY1305, 0);
        assert(send(pair.fd[0], bad[i].bytes, bad[i].len, 0) == (ssize_t)bad[i].len);
        assert(zb_tls_record_read(pair.end[1], buf, sizeof(buf), &got, err, sizeof(err)) ==
               ZB_TLS_ERROR);
        if (verbose)
            printf("\n    %s", err);
        assert(strcmp(err, bad[i].error) == 0);
        s_test_unpair(&pair);
    }
    //  A record too long announced behind data, in the same read: once the
    //  data is out, the error is held (pending), since the socket will not
    //  announce it and a caller past its reads would wait for nothing
    //  (found by tests/fuzz/fuzz_tls_record.c).
    {
        s_test_pair_t pair;
        s_test_pair(&pair, true, ZB_TLS_CHACHA20_POLY1305, 0);
        assert(zb_tls_record_write(pair.end[0], "x", 1, err, sizeof(err)) == ZB_TLS_OK);
        assert(send(pair.fd[0], "\x17\x03\x03\xff\xff", 5, 0) == 5);
        assert(zb_tls_record_read(pair.end[1], buf, sizeof(buf), &got, err, sizeof(err)) ==
                   ZB_TLS_OK &&
               got == 1 && buf[0] == 'x');
        assert(zb_tls_record_pending(pair.end[1]));
        assert(zb_tls_record_read(pair.end[1], buf, sizeof(buf), &got, err, sizeof(err)) ==
               ZB_TLS_ERROR);
        assert(strcmp(err, "tls: read: a record of 65540 bytes (record_overflow)") == 0);
        s_test_unpair(&pair);
    }
    //  The peer gone before anything came: closed.
    {
        s_test_pair_t pair;
        s_test_pair(&pair, false, ZB_TLS_AES_128_GCM, 0);
        close(pair.fd[0]);
        pair.fd[0] = -1;
        assert(zb_tls_record_read(pair.end[1], buf, sizeof(buf), &got, err, sizeof(err)) ==
               ZB_TLS_CLOSED);
        s_test_unpair(&pair);
    }
    s_test_strict(verbose);
    //  The peer's record size limit caps what is written at once.
    s_test_pair_t pair;
    s_test_pair(&pair, true, ZB_TLS_AES_256_GCM, 512);
    char out[1300];
    memset(out, 'x', sizeof(out));
    assert(zb_tls_record_write(pair.end[0], out, sizeof(out), err, sizeof(err)) == ZB_TLS_OK);
    uint8_t raw[2048];
    ssize_t len = recv(pair.fd[1], raw, sizeof(raw), 0);
    //  Three records: 511, 511 and 278 bytes (the limit counts TLS 1.3's
    //  inner type), each with its type and tag.
    assert(len == 3 * (5 + 1 + 16) + 1300);
    assert(raw[3] == 0x02 && raw[4] == 0x10); // 511 + 1 + 16 = 528
    s_test_unpair(&pair);
    if (verbose)
        printf("\n");
}
