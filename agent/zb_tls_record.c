/*  zb_tls_record: a held TLS session's record layer. See zb_tls_record.h.

    A record is read whole into a buffer that exists only while bytes are
    waiting (an idle session holds none), opened in place, and its data
    handed out from there. A record is written in one send: a probe writes
    a small request on an empty socket, and a write that does not fit is a
    failed ping (zb_stream_send), as it is with the TLS library.
*/
#include "zb_tls_record.h"
#include "zb_pool.h"

#include <assert.h>
#include <errno.h>
#include <nettle/chacha-poly1305.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/nettle-meta.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define S_HEADER 5        // type, version, length
#define S_TAG 16          // every AEAD here has a 16-byte tag
#define S_EXPLICIT 8      // TLS 1.2 AES-GCM: the nonce's explicit part, sent
#define S_PLAIN_MAX 16384 // 2^14, the most a record carries
//  The longest record each version allows on the way in, header included:
//  2^14 + 2048 bytes after the header in TLS 1.2 (RFC 5246, 6.2.3),
//  2^14 + 256 in TLS 1.3 (RFC 8446, 5.2). The buffer holds the longer.
#define S_RECORD_MAX (S_HEADER + S_PLAIN_MAX + 2048)
#define S_RECORD_MAX13 (S_HEADER + S_PLAIN_MAX + 256)

enum { S_ALERT = 21, S_HANDSHAKE = 22, S_DATA = 23 }; // content types
enum { S_HELLO_REQUEST = 0, S_NEW_SESSION_TICKET = 4, S_KEY_UPDATE = 24 };

struct _zb_tls_record_t {
    int fd;
    bool tls13;
    bool closed; // close_notify came: nothing more is read
    zb_tls_aead_t aead;
    uint16_t max_plain;
    zb_tls_keys_t rd, wr;
    uint8_t *in;      // bytes read and not yet used up; NULL when none
    size_t in_len;    // bytes in it
    size_t used;      // of which records already opened
    size_t plain_off; // data of the last record not yet handed out,
    size_t plain_len; // inside in
    uint8_t hs[4];    // a post-handshake message's header,
    uint8_t hs_have;  // bytes of it read
    uint32_t hs_left; // bytes of its body still to come
};

//  Every session's state, side by side: it lives for hours and is made
//  among a handshake's freed buffers (zb_pool.h says why that matters).
static zb_pool_t *s_pool;

zb_tls_record_t *zb_tls_record_new(int fd, bool tls13, zb_tls_aead_t aead,
                                   const zb_tls_keys_t *read, const zb_tls_keys_t *write,
                                   size_t max_plain)
{
    assert(fd >= 0 && read && write);
    assert(aead >= ZB_TLS_CHACHA20_POLY1305 && aead <= ZB_TLS_AES_256_GCM);
    if (!s_pool && !(s_pool = zb_pool_new(sizeof(zb_tls_record_t))))
        return NULL;
    zb_tls_record_t *self = zb_pool_alloc(s_pool);
    if (!self)
        return NULL;
    self->fd = fd;
    self->tls13 = tls13;
    self->aead = aead;
    self->rd = *read;
    self->wr = *write;
    //  A limit below 2^14 is the peer's record_size_limit (RFC 8449), which
    //  in TLS 1.3 counts the inner content type too.
    self->max_plain = max_plain > 1 && max_plain < S_PLAIN_MAX
                          ? (uint16_t)(max_plain - (tls13 ? 1 : 0))
                          : S_PLAIN_MAX;
    return self;
}

void zb_tls_record_destroy(zb_tls_record_t **self_p)
{
    assert(self_p);
    zb_tls_record_t *self = *self_p;
    if (!self)
        return;
    free(self->in);
    //  Keys do not outlive the session (explicit_bzero: not optimised away).
    explicit_bzero(self, sizeof(*self));
    zb_pool_free(s_pool, self);
    *self_p = NULL;
}

static size_t s_key_len(zb_tls_aead_t aead)
{
    return aead == ZB_TLS_AES_128_GCM ? 16 : 32;
}

//  The longest record this session's version allows, header included.
static size_t s_record_max(const zb_tls_record_t *self)
{
    return self->tls13 ? S_RECORD_MAX13 : S_RECORD_MAX;
}

static void s_put16(uint8_t *at, size_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)value;
}

static void s_put64(uint8_t *at, uint64_t value)
{
    for (int i = 7; i >= 0; i--, value >>= 8)
        at[i] = (uint8_t)value;
}

//  The record's nonce: the IV with the sequence number XORed into its low
//  bytes (TLS 1.3; TLS 1.2 ChaCha20-Poly1305), or TLS 1.2 AES-GCM's salt
//  and the explicit part the record carries.
static void s_nonce(const zb_tls_record_t *self, const zb_tls_keys_t *keys,
                    const uint8_t *explicit_part, uint8_t nonce[12])
{
    if (!self->tls13 && self->aead != ZB_TLS_CHACHA20_POLY1305) {
        memcpy(nonce, keys->iv, 4);
        memcpy(nonce + 4, explicit_part, S_EXPLICIT);
        return;
    }
    uint8_t seq[8];
    s_put64(seq, keys->seq);
    memcpy(nonce, keys->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= seq[i];
}

//  Seals (encrypts) or opens data in place with the AEAD, and writes the
//  tag it computes: the caller sends it, or compares it.
static void s_aead(zb_tls_aead_t aead, const uint8_t *key, const uint8_t nonce[12],
                   const uint8_t *aad, size_t aad_len, bool seal, uint8_t *data, size_t len,
                   uint8_t tag[S_TAG])
{
    const struct nettle_aead *cipher = aead == ZB_TLS_CHACHA20_POLY1305 ? &nettle_chacha_poly1305
                                       : aead == ZB_TLS_AES_128_GCM     ? &nettle_gcm_aes128
                                                                        : &nettle_gcm_aes256;
    union {
        struct chacha_poly1305_ctx chacha;
        struct gcm_aes128_ctx aes128;
        struct gcm_aes256_ctx aes256;
    } ctx;
    assert(cipher->context_size <= sizeof(ctx) && cipher->nonce_size == 12);
    (seal ? cipher->set_encrypt_key : cipher->set_decrypt_key)(&ctx, key);
    cipher->set_nonce(&ctx, nonce);
    cipher->update(&ctx, aad_len, aad);
    (seal ? cipher->encrypt : cipher->decrypt)(&ctx, len, data, data);
    cipher->digest(&ctx, S_TAG, tag);
    explicit_bzero(&ctx, cipher->context_size);
}

//  TLS 1.2's additional data: the sequence number, then the record's type,
//  version and plaintext length.
static void s_aad12(uint64_t seq, const uint8_t *header, size_t plain_len, uint8_t aad[13])
{
    s_put64(aad, seq);
    memcpy(aad + 8, header, 3);
    s_put16(aad + 11, plain_len);
}

//  HKDF-Expand-Label (RFC 8446, 7.1) with an empty context.
static void s_expand_label(const uint8_t *secret, size_t hash_len, const char *label, uint8_t *out,
                           size_t out_len)
{
    uint8_t info[2 + 1 + 6 + 16 + 1];
    size_t label_len = strlen(label);
    assert(label_len <= 16);
    s_put16(info, out_len);
    info[2] = (uint8_t)(6 + label_len);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, label_len);
    info[9 + label_len] = 0;
    size_t info_len = 10 + label_len;
    if (hash_len == SHA384_DIGEST_SIZE) {
        struct hmac_sha384_ctx ctx;
        hmac_sha384_set_key(&ctx, hash_len, secret);
        hkdf_expand(&ctx, (nettle_hash_update_func *)hmac_sha384_update,
                    (nettle_hash_digest_func *)hmac_sha384_digest, SHA384_DIGEST_SIZE, info_len,
                    info, out_len, out);
        explicit_bzero(&ctx, sizeof(ctx));
    } else {
        struct hmac_sha256_ctx ctx;
        hmac_sha256_set_key(&ctx, hash_len, secret);
        hkdf_expand(&ctx, (nettle_hash_update_func *)hmac_sha256_update,
                    (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, info_len,
                    info, out_len, out);
        explicit_bzero(&ctx, sizeof(ctx));
    }
}

//  The next generation of one direction's keys (RFC 8446, 7.2).
static void s_next_keys(zb_tls_aead_t aead, zb_tls_keys_t *keys)
{
    uint8_t next[48];
    s_expand_label(keys->secret, keys->secret_len, "traffic upd", next, keys->secret_len);
    memcpy(keys->secret, next, keys->secret_len);
    explicit_bzero(next, sizeof(next));
    s_expand_label(keys->secret, keys->secret_len, "key", keys->key, s_key_len(aead));
    s_expand_label(keys->secret, keys->secret_len, "iv", keys->iv, 12);
    keys->seq = 0;
}

//  Seals len bytes (at most max_plain) of type into one record and sends
//  it. Nothing sent: WANT_WRITE, and the sequence number stays.
static zb_tls_status_t s_send(zb_tls_record_t *self, uint8_t type, const void *data, size_t len,
                              char *err, size_t errsize)
{
    uint8_t record[S_HEADER + S_EXPLICIT + S_PLAIN_MAX + 1 + S_TAG];
    assert(len <= self->max_plain);
    bool explicit_nonce = !self->tls13 && self->aead != ZB_TLS_CHACHA20_POLY1305;
    uint8_t *body = record + S_HEADER + (explicit_nonce ? S_EXPLICIT : 0);
    memcpy(body, data, len);
    size_t sealed = len;
    if (self->tls13)
        body[sealed++] = type; // the real type goes inside; outside, it is data
    record[0] = self->tls13 ? S_DATA : type;
    record[1] = 3;
    record[2] = 3;
    size_t total = (size_t)(body - record) + sealed + S_TAG;
    s_put16(record + 3, total - S_HEADER);
    uint8_t nonce[12], aad[13];
    if (explicit_nonce)
        s_put64(record + S_HEADER, self->wr.seq); // unique per key: the sequence number
    s_nonce(self, &self->wr, record + S_HEADER, nonce);
    if (self->tls13)
        memcpy(aad, record, S_HEADER);
    else
        s_aad12(self->wr.seq, record, len, aad);
    s_aead(self->aead, self->wr.key, nonce, aad, self->tls13 ? S_HEADER : 13, true, body, sealed,
           body + sealed);
    ssize_t n = send(self->fd, record, total, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)total) {
        self->wr.seq++;
        return ZB_TLS_OK;
    }
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return ZB_TLS_WANT_WRITE;
    if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
        return ZB_TLS_CLOSED;
    self->wr.seq++; // part of it went: the session cannot go on
    if (n == -1)
        snprintf(err, errsize, "tls: write: %s", strerror(errno));
    else
        snprintf(err, errsize, "tls: write: only %zd of %zu bytes fit", n, total);
    return ZB_TLS_ERROR;
}

zb_tls_status_t zb_tls_record_write(zb_tls_record_t *self, const void *data, size_t len, char *err,
                                    size_t errsize)
{
    assert(self && len > 0);
    for (size_t sent = 0; sent < len;) {
        size_t chunk = len - sent < self->max_plain ? len - sent : self->max_plain;
        zb_tls_status_t rc = s_send(self, S_DATA, (const char *)data + sent, chunk, err, errsize);
        if (rc == ZB_TLS_WANT_WRITE && sent > 0) { // all or nothing is no longer possible
            snprintf(err, errsize, "tls: write: the socket is full");
            return ZB_TLS_ERROR;
        }
        if (rc != ZB_TLS_OK)
            return rc;
        sent += chunk;
    }
    return ZB_TLS_OK;
}

//  An alert's name (RFC 8446, 6), for the message a fatal one gives.
static const char *s_alert_name(uint8_t code)
{
    static const struct {
        uint8_t code;
        const char *name;
    } names[] = {
        {0, "close_notify"},           {10, "unexpected_message"},   {20, "bad_record_mac"},
        {22, "record_overflow"},       {40, "handshake_failure"},    {42, "bad_certificate"},
        {44, "certificate_revoked"},   {45, "certificate_expired"},  {46, "certificate_unknown"},
        {47, "illegal_parameter"},     {48, "unknown_ca"},           {49, "access_denied"},
        {50, "decode_error"},          {51, "decrypt_error"},        {70, "protocol_version"},
        {71, "insufficient_security"}, {80, "internal_error"},       {90, "user_canceled"},
        {100, "no_renegotiation"},     {109, "missing_extension"},   {110, "unsupported_extension"},
        {112, "unrecognized_name"},    {116, "certificate_required"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code)
            return names[i].name;
    return "unknown";
}

//  The peer's KeyUpdate (TLS 1.3): its keys move on; when it asks, ours
//  do too, announced under the old ones.
static zb_tls_status_t s_key_update(zb_tls_record_t *self, uint8_t request, char *err,
                                    size_t errsize)
{
    if (request > 1 || self->rd.secret_len == 0 || self->wr.secret_len == 0) {
        snprintf(err, errsize, "tls: read: %s",
                 request > 1 ? "a KeyUpdate with a bad request" : "a KeyUpdate without secrets");
        return ZB_TLS_ERROR;
    }
    s_next_keys(self->aead, &self->rd);
    if (request == 0)
        return ZB_TLS_OK;
    static const uint8_t update[] = {S_KEY_UPDATE, 0, 0, 1, 0}; // update_not_requested
    zb_tls_status_t rc = s_send(self, S_HANDSHAKE, update, sizeof(update), err, errsize);
    if (rc == ZB_TLS_WANT_WRITE) {
        snprintf(err, errsize, "tls: read: no room to answer a KeyUpdate");
        return ZB_TLS_ERROR;
    }
    if (rc == ZB_TLS_OK)
        s_next_keys(self->aead, &self->wr);
    return rc;
}

//  Handshake messages after the handshake: read past session tickets and
//  TLS 1.2's HelloRequest (a probe has nothing to renegotiate), act on
//  KeyUpdate. A message may span records; only its header is kept.
static zb_tls_status_t s_handshake(zb_tls_record_t *self, const uint8_t *p, size_t n, char *err,
                                   size_t errsize)
{
    while (n > 0) {
        if (self->hs_have < 4) {
            self->hs[self->hs_have++] = *p++;
            n--;
            if (self->hs_have < 4)
                continue;
            uint8_t type = self->hs[0];
            self->hs_left = (uint32_t)self->hs[1] << 16 | (uint32_t)self->hs[2] << 8 | self->hs[3];
            bool known = self->tls13 ? type == S_NEW_SESSION_TICKET ||
                                           (type == S_KEY_UPDATE && self->hs_left == 1)
                                     : type == S_HELLO_REQUEST && self->hs_left == 0;
            if (!known) {
                snprintf(err, errsize, "tls: read: unexpected handshake message %u", type);
                return ZB_TLS_ERROR;
            }
            if (self->hs_left == 0)
                self->hs_have = 0;
            continue;
        }
        size_t take = n < self->hs_left ? n : self->hs_left;
        if (self->hs[0] == S_KEY_UPDATE) {
            //  New keys apply from the next record: nothing may follow.
            self->hs_have = 0;
            if (n != 1) {
                snprintf(err, errsize, "tls: read: data after a KeyUpdate in its record");
                return ZB_TLS_ERROR;
            }
            return s_key_update(self, p[0], err, errsize);
        }
        p += take;
        n -= take;
        self->hs_left -= (uint32_t)take;
        if (self->hs_left == 0)
            self->hs_have = 0;
    }
    return ZB_TLS_OK;
}

//  Opens the record at in + used (len bytes, header included) in place.
static zb_tls_status_t s_open(zb_tls_record_t *self, uint8_t *record, size_t len, char *err,
                              size_t errsize)
{
    uint8_t type = record[0];
    bool explicit_nonce = !self->tls13 && self->aead != ZB_TLS_CHACHA20_POLY1305;
    size_t overhead = S_HEADER + S_TAG + (explicit_nonce ? S_EXPLICIT : 0);
    if (len < overhead + (self->tls13 ? 1 : 0) || record[1] != 3 ||
        (self->tls13 && type != S_DATA)) {
        snprintf(err, errsize, "tls: read: a malformed record (type %u, %zu bytes)", type, len);
        return ZB_TLS_ERROR;
    }
    uint8_t *body = record + S_HEADER + (explicit_nonce ? S_EXPLICIT : 0);
    size_t body_len = len - overhead;
    uint8_t nonce[12], aad[13], tag[S_TAG];
    s_nonce(self, &self->rd, record + S_HEADER, nonce);
    if (self->tls13)
        memcpy(aad, record, S_HEADER);
    else
        s_aad12(self->rd.seq, record, body_len, aad);
    s_aead(self->aead, self->rd.key, nonce, aad, self->tls13 ? S_HEADER : 13, false, body, body_len,
           tag);
    if (!memeql_sec(tag, body + body_len, S_TAG)) {
        snprintf(err, errsize, "tls: read: bad record MAC");
        return ZB_TLS_ERROR;
    }
    self->rd.seq++;
    //  The plaintext's limit, padding and TLS 1.3's inner type included
    //  (RFC 8446, 5.4; RFC 5246, 6.2.1): a peer past it is told off with
    //  record_overflow; the agent fails the read, as for any broken record.
    if (body_len > S_PLAIN_MAX + (self->tls13 ? 1 : 0)) {
        snprintf(err, errsize,
                 "tls: read: a record of %zu bytes of plaintext, more than TLS allows "
                 "(record_overflow)",
                 body_len);
        return ZB_TLS_ERROR;
    }
    if (self->tls13) { // the real type is the last byte that is not padding
        while (body_len > 0 && body[body_len - 1] == 0)
            body_len--;
        if (body_len == 0) {
            snprintf(err, errsize, "tls: read: a record with no type");
            return ZB_TLS_ERROR;
        }
        type = body[--body_len];
        //  A handshake message cut across records comes in records of its
        //  own, one after the other (RFC 8446, 5.1). TLS 1.2 lets other
        //  types in between (RFC 5246, 6.2.1).
        if (type != S_HANDSHAKE && self->hs_have > 0) {
            snprintf(err, errsize,
                     "tls: read: a record (type %u) inside a handshake message cut across records",
                     type);
            return ZB_TLS_ERROR;
        }
    }
    if (type == S_HANDSHAKE && body_len == 0) { // RFC 8446, 5.1; RFC 5246, 6.2.1
        snprintf(err, errsize, "tls: read: an empty handshake record");
        return ZB_TLS_ERROR;
    }
    if (type == S_DATA) {
        self->plain_off = (size_t)(body - self->in);
        self->plain_len = body_len;
        return ZB_TLS_OK;
    }
    if (type == S_HANDSHAKE)
        return s_handshake(self, body, body_len, err, errsize);
    if (type == S_ALERT && body_len == 2) {
        if (body[1] == 0) {
            self->closed = true;
            return ZB_TLS_CLOSED;
        }
        //  A warning is read past, as GnuTLS does; in TLS 1.3 only
        //  user_canceled is one (RFC 8446, 6.1), and close_notify follows it.
        if ((body[0] == 1 && !self->tls13) || body[1] == 90)
            return ZB_TLS_OK;
        snprintf(err, errsize, "tls: read: A TLS fatal alert has been received: %s",
                 s_alert_name(body[1]));
        return ZB_TLS_ERROR;
    }
    snprintf(err, errsize, "tls: read: an unexpected record (type %u)", type);
    return ZB_TLS_ERROR;
}

//  Drops what is used up; frees the buffer once nothing is left in it.
static void s_compact(zb_tls_record_t *self)
{
    if (self->plain_len > 0)
        return;
    self->in_len -= self->used;
    if (self->used > 0 && self->in_len > 0)
        memmove(self->in, self->in + self->used, self->in_len);
    self->used = 0;
    if (self->in_len == 0) {
        free(self->in);
        self->in = NULL;
    }
}

zb_tls_status_t zb_tls_record_read(zb_tls_record_t *self, void *buf, size_t size, size_t *got,
                                   char *err, size_t errsize)
{
    assert(self && buf && size > 0 && got);
    *got = 0;
    for (;;) {
        if (self->plain_len > 0) {
            size_t n = size < self->plain_len ? size : self->plain_len;
            memcpy(buf, self->in + self->plain_off, n);
            self->plain_off += n;
            self->plain_len -= n;
            s_compact(self);
            *got = n;
            return ZB_TLS_OK;
        }
        if (self->closed)
            return ZB_TLS_CLOSED;
        size_t waiting = self->in_len - self->used;
        if (waiting >= S_HEADER) {
            uint8_t *record = self->in + self->used;
            size_t len = S_HEADER + ((size_t)record[3] << 8 | record[4]);
            if (len > s_record_max(self)) {
                snprintf(err, errsize, "tls: read: a record of %zu bytes (record_overflow)", len);
                return ZB_TLS_ERROR;
            }
            if (waiting >= len) {
                self->used += len;
                zb_tls_status_t rc = s_open(self, record, len, err, errsize);
                s_compact(self);
                if (rc != ZB_TLS_OK)
                    return rc;
                continue;
            }
        }
        //  Nothing is used up here (s_compact ran), so a record fits.
        assert(self->used == 0 && self->in_len < S_RECORD_MAX);
        if (!self->in && !(self->in = malloc(S_RECORD_MAX))) {
            snprintf(err, errsize, "tls: read: out of memory");
            return ZB_TLS_ERROR;
        }
        ssize_t n = recv(self->fd, self->in + self->in_len, S_RECORD_MAX - self->in_len, 0);
        if (n > 0) {
            self->in_len += (size_t)n;
            continue;
        }
        s_compact(self);
        if ((n == 0 || errno == ECONNRESET) && (self->in_len > 0 || self->hs_have > 0)) {
            //  Between records, the end of the connection is a close, as
            //  most servers make it (without close_notify); inside one,
            //  what the server sent is lost: a failure, not a close.
            if (self->in_len > 0)
                snprintf(err, errsize,
                         "tls: read: a truncated record (the connection %s after %zu bytes of "
                         "it)",
                         n == 0 ? "closed" : "was reset", self->in_len);
            else
                snprintf(err, errsize,
                         "tls: read: a truncated handshake message (the connection %s between "
                         "its records)",
                         n == 0 ? "closed" : "was reset");
            return ZB_TLS_ERROR;
        }
        if (n == 0 || errno == ECONNRESET)
            return ZB_TLS_CLOSED;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return ZB_TLS_WANT_READ;
        snprintf(err, errsize, "tls: read: %s", strerror(errno));
        return ZB_TLS_ERROR;
    }
}

bool zb_tls_record_pending(zb_tls_record_t *self)
{
    assert(self);
    if (self->plain_len > 0)
        return true;
    size_t waiting = self->in_len - self->used;
    if (waiting < S_HEADER)
        return false;
    size_t len = S_HEADER + ((size_t)self->in[self->used + 3] << 8 | self->in[self->used + 4]);
    //  A whole record, or a header announcing one too long: either way the
    //  next read has something to say without the socket.
    return waiting >= len || len > s_record_max(self);
}

size_t zb_tls_record_buffer(zb_tls_record_t *self)
{
    assert(self);
    return self->in ? S_RECORD_MAX : 0;
}

void zb_tls_record_close(zb_tls_record_t *self)
{
    assert(self);
    static const uint8_t close_notify[] = {1, 0}; // warning, close_notify
    char err[64];
    (void)s_send(self, S_ALERT, close_notify, sizeof(close_notify), err, sizeof(err));
}
