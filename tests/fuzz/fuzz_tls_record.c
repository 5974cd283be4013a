/*  libFuzzer harness for a held TLS session's record layer (zb_tls_record),
    which reads what a TLS server sends. Random bytes never authenticate, so
    the harness plays the server: it holds the keys it gave the reader and
    seals most of its input itself, as a server would (nettle's AEAD, the
    sequence number moving on per record, TLS 1.3 KeyUpdate followed with
    HKDF-Expand-Label, RFC 8446 7.1/7.2), so what is fuzzed is everything
    past the MAC check: content types, alerts, handshake messages cut
    across records, KeyUpdate both ways, data handed out in small reads,
    records cut across the socket's reads.

    Input: one byte, then chunks until the input ends.
      byte 0   bit 0: TLS 1.3; bits 1-2: the AEAD (3: ChaCha20-Poly1305
               again); bits 3-5: the read size; bits 6-7: max_plain
      chunk    kind = op | param << 3, then the op's bytes:
        0 SEAL      [len16][bytes] sealed as one record. param bits 0-1:
                    type 23, 22, 21 or the next input byte; bits 2-4: TLS
                    1.3's zero padding; TLS 1.2 AES-GCM: bit 2 sends an
                    explicit nonce that is not the sequence number
        1 RAW       [len16][bytes] sent as they are (framing, MAC, length)
        2 EOF       the server's end shuts down; nothing after is read.
                    param bit 0: first a data record cut short, its first
                    1 + (param >> 1) bytes sent
        3 PIECES    writes cut in pieces of a size from param bits 0-3;
                    bit 4 holds records back until the next PIECES, so
                    that several come in one read
        4 WRITE     [len16][bytes] the reader writes; the harness opens it
        5 KEYUPDATE request param bit 0 (+2 when param >= 28); bit 1 cuts
                    it across two records; TLS 1.2 must refuse it
        6 TICKET    [len16][bytes] TLS 1.3: a NewSessionTicket of that
                    body, cut in records of param * 7 bytes (0: one);
                    TLS 1.2: param % 4 + 1 HelloRequests in one record
        7 ALERT     [level][description] sealed
    What the reader must do: never crash, overread or hang; hand out only
    the data sealed, in order, and (unless raw bytes broke the framing)
    all of it; say why on ERROR; report nothing pending and hold no
    buffer when it is idle; answer KeyUpdate and write records the harness
    can open with the keys it follows; close_notify at the end. Refuse
    what the RFCs forbid (plaintext past 2^14, TLS 1.3's inner type
    aside; an empty handshake record; in TLS 1.3 another record between
    the parts of a handshake message) and hand out nothing from there on.
    At EOF after records sealed whole and all to be read past, CLOSED;
    after a record cut short, ERROR.
*/
#include "zb_tls_record.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <nettle/chacha-poly1305.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_TAG 16
#define S_WIRE_MAX (5 + 65535)  // the longest record a header can announce
#define S_HOLD_MAX (256 * 1024) // held records are sent once this many wait
#define S_HEARD_MAX (64 * 1024) // the reader's records, not yet opened
#define S_PUSHES_MAX 4096       // tiny pieces stop after so many (time)

typedef struct {
    bool tls13;
    zb_tls_aead_t aead;
    zb_tls_keys_t srv;          // the server's keys: the reader's read keys
    zb_tls_keys_t cli;          // the reader's write keys, to open what it sends
    int fd[2];                  // the reader's end, the server's end
    zb_tls_record_t *rec;       // the reader
    size_t size;                // bytes a read asks for
    size_t piece;               // bytes a send writes at most
    size_t pushes;              // sends so far
    bool hold;                  // records wait in held until the next PIECES
    uint8_t *held;              // records not yet sent (S_HOLD_MAX + a record)
    size_t held_len;            //
    uint8_t *expect;            // the data sealed so far, in order
    size_t expect_len;          //
    size_t expect_sure;         // of which sealed before raw bytes were sent
    size_t got;                 // bytes of expect the reader handed out
    uint8_t *wrote;             // what the reader was asked to write
    size_t wrote_len;           //
    size_t wrote_seen;          // of which the harness opened
    uint8_t heard[S_HEARD_MAX]; // the reader's sends, not yet opened
    size_t heard_len;           //
    unsigned requests;          // KeyUpdates sent asking for an answer
    unsigned answers;           // KeyUpdates the reader sent
    bool close_seen;            // its close_notify
    bool tainted;               // raw bytes were sent: framing may be lost
    bool free_hs;               // handshake bytes of the input's own were sealed
    bool alerts;                // an alert was sealed
    bool eof;                   // the server's end is shut
    bool odd;                   // sealed what may end the session (not data, a ticket or a
                                // good KeyUpdate), or what it must refuse
    size_t refuse_at;           // expect_len when the first record to refuse was sealed
    size_t cut;                 // s_seal sends only this many bytes of its record (0: all)
    uint8_t hs_have;            // TLS 1.3: bytes of a handshake message's header sealed,
    uint32_t hs_left;           // and of its body still to come (the reader's model)
    uint8_t hs[4];              //
    bool done;                  // the reader said ERROR or CLOSED
    zb_tls_status_t last;       // its last status
} s_run_t;

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

//  The AEAD, sealing or opening in place; the tag it computes goes to tag.
static void s_crypt(zb_tls_aead_t aead, const uint8_t *key, const uint8_t nonce[12],
                    const uint8_t *aad, size_t aad_len, bool seal, uint8_t *data, size_t len,
                    uint8_t tag[S_TAG])
{
    if (aead == ZB_TLS_CHACHA20_POLY1305) {
        struct chacha_poly1305_ctx ctx;
        chacha_poly1305_set_key(&ctx, key);
        chacha_poly1305_set_nonce(&ctx, nonce);
        chacha_poly1305_update(&ctx, aad_len, aad);
        (seal ? chacha_poly1305_encrypt : chacha_poly1305_decrypt)(&ctx, len, data, data);
        chacha_poly1305_digest(&ctx, S_TAG, tag);
    } else if (aead == ZB_TLS_AES_128_GCM) {
        struct gcm_aes128_ctx ctx;
        gcm_aes128_set_key(&ctx, key);
        gcm_aes128_set_iv(&ctx, 12, nonce);
        gcm_aes128_update(&ctx, aad_len, aad);
        (seal ? gcm_aes128_encrypt : gcm_aes128_decrypt)(&ctx, len, data, data);
        gcm_aes128_digest(&ctx, S_TAG, tag);
    } else {
        struct gcm_aes256_ctx ctx;
        gcm_aes256_set_key(&ctx, key);
        gcm_aes256_set_iv(&ctx, 12, nonce);
        gcm_aes256_update(&ctx, aad_len, aad);
        (seal ? gcm_aes256_encrypt : gcm_aes256_decrypt)(&ctx, len, data, data);
        gcm_aes256_digest(&ctx, S_TAG, tag);
    }
}

//  HKDF-Expand-Label(secret, label, "", out_len), RFC 8446 7.1.
static void s_label(const uint8_t *secret, size_t hash_len, const char *label, uint8_t *out,
                    size_t out_len)
{
    uint8_t info[64];
    size_t n = 0;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + strlen(label));
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, strlen(label));
    n += strlen(label);
    info[n++] = 0; // the context: empty
    if (hash_len == 48) {
        struct hmac_sha384_ctx ctx;
        hmac_sha384_set_key(&ctx, hash_len, secret);
        hkdf_expand(&ctx, (nettle_hash_update_func *)hmac_sha384_update,
                    (nettle_hash_digest_func *)hmac_sha384_digest, 48, n, info, out_len, out);
    } else {
        struct hmac_sha256_ctx ctx;
        hmac_sha256_set_key(&ctx, hash_len, secret);
        hkdf_expand(&ctx, (nettle_hash_update_func *)hmac_sha256_update,
                    (nettle_hash_digest_func *)hmac_sha256_digest, 32, n, info, out_len, out);
    }
}

//  application_traffic_secret_N+1 and its key and IV (RFC 8446 7.2, 7.3).
static void s_update(const s_run_t *run, zb_tls_keys_t *keys)
{
    uint8_t next[48];
    s_label(keys->secret, keys->secret_len, "traffic upd", next, keys->secret_len);
    memcpy(keys->secret, next, keys->secret_len);
    s_label(keys->secret, keys->secret_len, "key", keys->key,
            run->aead == ZB_TLS_AES_128_GCM ? 16 : 32);
    s_label(keys->secret, keys->secret_len, "iv", keys->iv, 12);
    keys->seq = 0;
}

static void s_nonce(const s_run_t *run, const zb_tls_keys_t *keys, const uint8_t *explicit_part,
                    uint8_t nonce[12])
{
    memcpy(nonce, keys->iv, 12);
    if (!run->tls13 && run->aead != ZB_TLS_CHACHA20_POLY1305) {
        memcpy(nonce + 4, explicit_part, 8);
        return;
    }
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= (uint8_t)(keys->seq >> (56 - 8 * i));
}

static void s_drain(s_run_t *run);

//  Sends len bytes in pieces, letting the reader read between them, so the
//  socket never fills. Stops once the reader is done: it reads no more.
static void s_push(s_run_t *run, const uint8_t *p, size_t len)
{
    int stalls = 0;
    while (len > 0 && !run->done) {
        size_t n = len < run->piece ? len : run->piece;
        if (++run->pushes > S_PUSHES_MAX && n < 4096)
            n = len < 4096 ? len : 4096;
        ssize_t sent = send(run->fd[1], p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            assert(errno == EAGAIN || errno == EWOULDBLOCK);
            assert(++stalls < 3); // the reader read all there was: there is room
            sent = 0;
        }
        p += sent;
        len -= (size_t)sent;
        s_drain(run);
    }
}

static void s_flush(s_run_t *run)
{
    size_t len = run->held_len;
    run->held_len = 0;
    s_push(run, run->held, len);
}

//  What the server sends: held back, or sent now.
static void s_emit(s_run_t *run, const uint8_t *record, size_t len)
{
    if (run->done)
        return;
    if (!run->hold) {
        s_push(run, record, len);
        return;
    }
    memcpy(run->held + run->held_len, record, len);
    run->held_len += len;
    if (run->held_len > S_HOLD_MAX)
        s_flush(run);
}

//  Seals one record as the server and emits it; keeps the model of what
//  the reader will hand out. TLS 1.3: content || type || pad zeros.
//  Returns the type the reader will see.
static uint8_t s_seal(s_run_t *run, uint8_t type, const uint8_t *content, size_t len, size_t pad,
                      bool odd_nonce)
{
    static uint8_t record[S_WIRE_MAX];
    bool explicit_nonce = !run->tls13 && run->aead != ZB_TLS_CHACHA20_POLY1305;
    size_t head = 5 + (explicit_nonce ? 8 : 0);
    size_t room = S_WIRE_MAX - head - S_TAG - (run->tls13 ? 1 : 0);
    if (len > room)
        len = room;
    if (pad > room - len || !run->tls13)
        pad = run->tls13 ? room - len : 0;
    uint8_t *body = record + head;
    memcpy(body, content, len);
    size_t sealed = len;
    if (run->tls13) {
        body[sealed++] = type;
        memset(body + sealed, 0, pad);
        sealed += pad;
    }
    record[0] = run->tls13 ? 23 : type;
    record[1] = 3;
    record[2] = 3;
    s_put16(record + 3, head - 5 + sealed + S_TAG);
    uint8_t nonce[12], aad[13];
    if (explicit_nonce)
        s_put64(record + 5, run->srv.seq ^ (odd_nonce ? 0xa5a5a5a5a5a5a5a5u : 0));
    s_nonce(run, &run->srv, record + 5, nonce);
    if (run->tls13) {
        memcpy(aad, record, 5);
    } else {
        s_put64(aad, run->srv.seq);
        memcpy(aad + 8, record, 3);
        s_put16(aad + 11, len);
    }
    s_crypt(run->aead, run->srv.key, nonce, aad, run->tls13 ? 5 : 13, true, body, sealed,
            body + sealed);
    run->srv.seq++;
    if (run->cut) { // the first bytes only, then the end: nothing to expect
        s_emit(run, record, run->cut);
        return type;
    }
    //  What the reader makes of it (TLS 1.3: the last byte not zero is the
    //  type, so content ending in zeros with type 0 gives another type).
    if (run->tls13) {
        while (len > 0 && type == 0)
            type = content[--len];
    }
    //  What it must refuse: plaintext past 2^14 (2^14 + 1 with TLS 1.3's
    //  type and padding), an empty handshake record, in TLS 1.3 another
    //  type while a handshake message is cut across records.
    bool refuse = sealed > 16384 + (run->tls13 ? 1u : 0u) || (type == 22 && len == 0) ||
                  (run->tls13 && type != 22 && run->hs_have > 0);
    if (refuse && !run->tainted && !run->done && run->refuse_at == SIZE_MAX)
        run->refuse_at = run->expect_len;
    run->odd |= refuse || (run->tls13 && type == 0);
    for (size_t i = 0; run->tls13 && type == 22 && i < len;) { // as the reader reads them
        if (run->hs_have < 4) {
            run->hs[run->hs_have++] = content[i++];
            if (run->hs_have == 4) {
                run->hs_left = (uint32_t)run->hs[1] << 16 | (uint32_t)run->hs[2] << 8 | run->hs[3];
                run->hs_have = run->hs_left ? 4 : 0;
            }
            continue;
        }
        size_t take = len - i < run->hs_left ? len - i : run->hs_left;
        i += take;
        run->hs_left -= (uint32_t)take;
        if (run->hs_left == 0)
            run->hs_have = 0;
    }
    if (type == 23) {
        memcpy(run->expect + run->expect_len, content, len);
        run->expect_len += len;
        if (!run->tainted)
            run->expect_sure = run->expect_len;
    }
    run->alerts |= type == 21;
    s_emit(run, record, head + sealed + S_TAG);
    return type;
}

//  Opens the reader's own records (KeyUpdate answers, data, close_notify)
//  with the keys the harness follows: each must open and make sense.
static void s_hear(s_run_t *run)
{
    for (;;) {
        ssize_t n = recv(run->fd[1], run->heard + run->heard_len,
                         sizeof(run->heard) - run->heard_len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        run->heard_len += (size_t)n;
        uint8_t *r = run->heard;
        size_t left = run->heard_len;
        while (left >= 5 && left >= 5 + ((size_t)r[3] << 8 | r[4])) {
            size_t len = (size_t)r[3] << 8 | r[4];
            bool explicit_nonce = !run->tls13 && run->aead != ZB_TLS_CHACHA20_POLY1305;
            size_t head = explicit_nonce ? 8 : 0;
            assert(r[1] == 3 && r[2] == 3 && len >= head + S_TAG + (run->tls13 ? 1 : 0));
            uint8_t nonce[12], aad[13], tag[S_TAG];
            uint8_t *body = r + 5 + head;
            size_t body_len = len - head - S_TAG;
            if (explicit_nonce) {
                uint8_t seq[8];
                s_put64(seq, run->cli.seq);
                assert(memcmp(r + 5, seq, 8) == 0);
            }
            s_nonce(run, &run->cli, r + 5, nonce);
            if (run->tls13) {
                assert(r[0] == 23);
                memcpy(aad, r, 5);
            } else {
                s_put64(aad, run->cli.seq);
                memcpy(aad + 8, r, 3);
                s_put16(aad + 11, body_len);
            }
            s_crypt(run->aead, run->cli.key, nonce, aad, run->tls13 ? 5 : 13, false, body, body_len,
                    tag);
            assert(memcmp(tag, body + body_len, S_TAG) == 0);
            run->cli.seq++;
            uint8_t type = r[0];
            if (run->tls13) {
                assert(body_len > 0 && body[body_len - 1] != 0); // no padding is sent
                type = body[--body_len];
            }
            static const uint8_t answer[] = {24, 0, 0, 1, 0}, close_notify[] = {1, 0};
            if (type == 23) {
                assert(body_len > 0 && run->wrote_seen + body_len <= run->wrote_len);
                assert(memcmp(run->wrote + run->wrote_seen, body, body_len) == 0);
                run->wrote_seen += body_len;
            } else if (type == 22) {
                assert(run->tls13 && body_len == 5 && memcmp(body, answer, 5) == 0);
                run->answers++;
                s_update(run, &run->cli);
            } else {
                assert(type == 21 && body_len == 2 && memcmp(body, close_notify, 2) == 0);
                assert(!run->close_seen);
                run->close_seen = true;
            }
            r += 5 + len;
            left -= 5 + len;
        }
        memmove(run->heard, r, left);
        run->heard_len = left;
    }
}

//  Reads until the reader waits, or is done; checks each answer.
static void s_drain(s_run_t *run)
{
    static uint8_t buf[16384 + 1];
    while (!run->done) {
        bool pending = zb_tls_record_pending(run->rec);
        int announced = -1;
        assert(ioctl(run->fd[0], FIONREAD, &announced) == 0);
        char err[256] = "";
        size_t got = 12345;
        zb_tls_status_t rc = zb_tls_record_read(run->rec, buf, run->size, &got, err, sizeof(err));
        run->last = rc;
        s_hear(run);
        //  Nothing held, nothing on the socket: all a read can do is wait.
        //  (The converse does not hold: a held record may be a ticket.)
        if (!pending && announced == 0 && !run->eof)
            assert(rc == ZB_TLS_WANT_READ);
        if (rc == ZB_TLS_OK) {
            assert(got > 0 && got <= run->size);
            assert(run->got + got <= run->expect_len);
            assert(run->got + got <= run->refuse_at); // nothing from a refused record on
            assert(memcmp(run->expect + run->got, buf, got) == 0);
            run->got += got;
            continue;
        }
        assert(got == 0);
        if (rc == ZB_TLS_WANT_READ) {
            assert(!run->eof); // at the end of the stream a read says so
            return;
        }
        run->done = true;
        if (rc == ZB_TLS_ERROR) {
            assert(err[0] != '\0' && strlen(err) < sizeof(err) - 1);
        } else {
            assert(rc == ZB_TLS_CLOSED);
            got = 12345;
            assert(zb_tls_record_read(run->rec, buf, run->size, &got, err, sizeof(err)) ==
                       ZB_TLS_CLOSED &&
                   got == 0);
        }
    }
}

static size_t s_take16(const uint8_t **data, const uint8_t *end)
{
    size_t n = end - *data >= 2 ? (size_t)(*data)[0] << 8 | (*data)[1] : 0;
    *data += end - *data >= 2 ? 2 : end - *data;
    return n < (size_t)(end - *data) ? n : (size_t)(end - *data);
}

static void s_keys(zb_tls_keys_t *keys, unsigned seed, const s_run_t *run)
{
    memset(keys, 0, sizeof(*keys));
    for (size_t i = 0; i < sizeof(keys->key); i++)
        keys->key[i] = (uint8_t)(seed * 31 + i * 3);
    for (size_t i = 0; i < sizeof(keys->iv); i++)
        keys->iv[i] = (uint8_t)(seed * 17 + i * 5);
    if (run->tls13) {
        keys->secret_len = run->aead == ZB_TLS_AES_256_GCM ? 48 : 32;
        for (size_t i = 0; i < keys->secret_len; i++)
            keys->secret[i] = (uint8_t)(seed * 13 + i * 7);
    }
    keys->seq = seed * 1000003u; // not 0: the sequence number must go into the nonce
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t sizes[] = {1, 2, 3, 7, 64, 1000, 16384, 16385};
    static const size_t max_plains[] = {0, 64, 100, 1000};
    static const size_t pieces[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 21, 29, 64, 100, 1000, 65536};
    static const size_t pads[] = {0, 0, 1, 2, 15, 255, 2048, 16384};
    if (size < 1)
        return 0;
    static s_run_t run;
    memset(&run, 0, sizeof(run));
    run.refuse_at = SIZE_MAX;
    run.tls13 = data[0] & 1;
    run.aead = (zb_tls_aead_t)(((data[0] >> 1) & 3) % 3 + 1);
    run.size = sizes[(data[0] >> 3) & 7];
    run.piece = 65536;
    s_keys(&run.srv, 1, &run);
    s_keys(&run.cli, 2, &run);
    assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, run.fd) == 0);
    int sndbuf = 1 << 20;
    (void)setsockopt(run.fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    run.rec = zb_tls_record_new(run.fd[0], run.tls13, run.aead, &run.srv, &run.cli,
                                max_plains[data[0] >> 6]);
    run.held = malloc(S_HOLD_MAX + S_WIRE_MAX);
    //  Sealed data and written data are each at most the input.
    run.expect = malloc(size);
    run.wrote = malloc(size);
    assert(run.rec && run.held && run.expect && run.wrote);
    const uint8_t *p = data + 1, *end = data + size;
    while (p < end && !run.done && !run.eof) {
        uint8_t op = *p & 7, param = *p >> 3;
        p++;
        if (op == 0) {
            uint8_t type = (uint8_t[]){23, 22, 21, 0}[param & 3];
            if ((param & 3) == 3 && p < end)
                type = *p++;
            size_t len = s_take16(&p, end);
            type = s_seal(&run, type, p, len, pads[(param >> 2) & 7], param & 4);
            run.free_hs |= type == 22;
            run.odd |= type != 23;
            p += len;
        } else if (op == 1) {
            size_t len = s_take16(&p, end);
            if (len > 0 && !run.tainted) {
                run.tainted = true;
                run.expect_sure = run.expect_len;
            }
            s_emit(&run, p, len);
            p += len;
        } else if (op == 2) {
            bool cut = param & 1;
            if (cut) {
                static const uint8_t lost[] = "never read whole";
                run.cut = 1 + (param >> 1); // at most 16 bytes of the 30 or more
                s_seal(&run, 23, lost, sizeof(lost) - 1, 0, false);
                run.cut = 0;
            }
            s_flush(&run);
            if (!run.done) {
                assert(shutdown(run.fd[1], SHUT_WR) == 0);
                run.eof = true;
                s_drain(&run);
                assert(run.done);
                //  A close between records; inside one, bytes were lost.
                if (!run.tainted && !run.odd)
                    assert(run.last == (cut ? ZB_TLS_ERROR : ZB_TLS_CLOSED));
            }
        } else if (op == 3) {
            run.piece = pieces[param & 15];
            run.hold = param & 16;
            if (!run.hold)
                s_flush(&run);
        } else if (op == 4) {
            size_t len = s_take16(&p, end);
            if (len > 0) {
                char err[256] = "";
                memcpy(run.wrote + run.wrote_len, p, len);
                run.wrote_len += len;
                //  Its socket is empty (its answers are read as they come).
                assert(zb_tls_record_write(run.rec, p, len, err, sizeof(err)) == ZB_TLS_OK);
                s_hear(&run);
                assert(run.wrote_seen == run.wrote_len);
            }
            p += len;
        } else if (op == 5) {
            uint8_t request = (param & 1) | (param >= 28 ? 2 : 0);
            run.odd |= !run.tls13 || request > 1;
            uint8_t update[] = {24, 0, 0, 1, request};
            if (param & 2) {
                s_seal(&run, 22, update, 2, 0, false);
                s_seal(&run, 22, update + 2, 3, pads[param >> 2 & 7], false);
            } else {
                s_seal(&run, 22, update, 5, pads[param >> 2 & 7], false);
            }
            if (run.tls13 && request <= 1) {
                s_update(&run, &run.srv); // from the next record on
                run.requests += request;
            }
        } else if (op == 6) {
            size_t len = s_take16(&p, end);
            if (run.tls13) {
                static uint8_t ticket[4 + 65535];
                ticket[0] = 4;
                ticket[1] = 0;
                s_put16(ticket + 2, len);
                memcpy(ticket + 4, p, len);
                size_t cut = param ? param * 7u : 16384; // each record's whole
                for (size_t at = 0; at < 4 + len; at += cut)
                    s_seal(&run, 22, ticket + at, 4 + len - at < cut ? 4 + len - at : cut, 0,
                           false);
            } else {
                static const uint8_t hello[16];
                s_seal(&run, 22, hello, 4 * (param % 4 + 1), 0, false);
            }
            p += len;
        } else {
            run.odd = true;
            uint8_t alert[2] = {2, 0}; // fatal, close_notify when the input ends
            for (int i = 0; i < 2 && p < end; i++)
                alert[i] = *p++;
            s_seal(&run, 21, alert, 2, 0, false);
        }
    }
    run.hold = false;
    s_flush(&run);
    if (!run.done) {
        //  All sent was read and all whole records taken: the reader idles.
        if (!run.tainted)
            assert(!zb_tls_record_pending(run.rec) && zb_tls_record_buffer(run.rec) == 0);
        zb_tls_record_close(run.rec);
        s_hear(&run);
        assert(run.close_seen);
    }
    //  A record to refuse was read, and refused (unless a close_notify
    //  sealed before it ended the session first).
    if (run.refuse_at != SIZE_MAX)
        assert(run.done && (run.last == ZB_TLS_ERROR || run.alerts));
    //  Whatever ended the session came after the data sealed before it.
    if (!run.done || (run.eof && run.last == ZB_TLS_CLOSED && !run.alerts))
        assert(run.got >= run.expect_sure);
    if (!run.free_hs) {
        assert(run.answers <= run.requests);
        if (!run.done && !run.tainted)
            assert(run.answers == run.requests);
    }
    assert(run.wrote_seen == run.wrote_len);
    zb_tls_record_destroy(&run.rec);
    assert(!run.rec);
    close(run.fd[0]);
    close(run.fd[1]);
    free(run.held);
    free(run.expect);
    free(run.wrote);
    return 0;
}
