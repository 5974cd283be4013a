/*  zb_tls_record: the record layer of a held TLS session, once the
    handshake is done.

    Why: an agent may hold ten thousand HTTPS probes, and GnuTLS keeps about
    10 KB per session for as long as it is held (its session block alone is
    7.3 KB), far more than the record layer needs between two keep-alive
    requests: two keys, two IVs, two sequence numbers. So the TLS library
    does what is hard (the handshake, the certificate checks) and hands the
    session's keys here; the library's session is then freed and what stays
    is about 200 bytes (docs/benchmarks.md, item 4t).

    What it speaks, on a non-blocking socket: TLS 1.3 (RFC 8446, section 5)
    and TLS 1.2 (RFC 5246 with RFC 5288's AES-GCM and RFC 7905's
    ChaCha20-Poly1305) application data, alerts, TLS 1.3 KeyUpdate both ways
    (the next traffic secret is derived here, as section 7.2 says), and
    TLS 1.3 NewSessionTicket and TLS 1.2 HelloRequest read past. The AEAD
    ciphers are nettle's (GnuTLS's own crypto library). Anything else a
    server sends after the handshake fails the read with a message, and
    so does what the RFCs forbid: a record longer than its version allows
    (record_overflow), another record between the parts of a TLS 1.3
    handshake message, an empty handshake record. The connection's end
    between records is a close (servers seldom send close_notify); inside
    a record, or a handshake message, it is an error: bytes were lost.
*/
#ifndef ZB_TLS_RECORD_H
#define ZB_TLS_RECORD_H

#include "zb_tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _zb_tls_record_t zb_tls_record_t;

//  The AEAD ciphers this layer can carry a session on.
typedef enum { ZB_TLS_CHACHA20_POLY1305 = 1, ZB_TLS_AES_128_GCM, ZB_TLS_AES_256_GCM } zb_tls_aead_t;

//  One direction's state as the handshake leaves it.
typedef struct {
    uint8_t key[32];    // 16 bytes for AES-128-GCM
    uint8_t iv[12];     // TLS 1.2 with AES-GCM: the 4-byte salt only
    uint8_t secret[48]; // TLS 1.3: the traffic secret, for KeyUpdate
    uint8_t secret_len; // 32 (SHA-256) or 48 (SHA-384); 0 for TLS 1.2
    uint64_t seq;       // the next record's sequence number
} zb_tls_keys_t;

//  Carries the session on fd (non-blocking). max_plain caps the records
//  written (the peer's record size limit). NULL when out of memory.
zb_tls_record_t *zb_tls_record_new(int fd, bool tls13, zb_tls_aead_t aead,
                                   const zb_tls_keys_t *read, const zb_tls_keys_t *write,
                                   size_t max_plain);
//  Wipes the keys and frees; sends nothing (the socket is the caller's).
void zb_tls_record_destroy(zb_tls_record_t **self_p);

//  As zb_tls_write and zb_tls_read (zb_tls.h).
zb_tls_status_t zb_tls_record_write(zb_tls_record_t *self, const void *data, size_t len, char *err,
                                    size_t errsize);
zb_tls_status_t zb_tls_record_read(zb_tls_record_t *self, void *buf, size_t size, size_t *got,
                                   char *err, size_t errsize);
//  Whether read bytes are held that the socket no longer announces.
bool zb_tls_record_pending(zb_tls_record_t *self);
//  The bytes of read buffer held: none while idle (ten thousand held
//  sessions must not keep a record's worth each).
size_t zb_tls_record_buffer(zb_tls_record_t *self);
//  Sends close_notify, one try.
void zb_tls_record_close(zb_tls_record_t *self);

void zb_tls_record_test(bool verbose);

#endif
