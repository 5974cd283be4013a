/*  zb_tls: TLS for probes, non-blocking, in the agent's loop.

    Two implementations, one built in (CMake's ZB_TLS, cmake/zb_tls.cmake):
    zb_tls_gnutls.c (GnuTLS, the default) and zb_tls_openssl.c (OpenSSL).

    Probes that share a CA file and a verification policy share one
    context (an agent may watch ten thousand HTTPS services: a context
    each would cost more than the connections). Each connection is one
    session on the probe's socket; zb_tls_handshake and the I/O calls
    never block and say what the socket must wait for.

    Verification is on by default: the chain against the system's store
    (or `tls-ca`), and the name (`tls-name`, else the probe's host name,
    else its address) against the certificate. A refusal reads
    "tls: certificate verify failed: " and OpenSSL's words for the common
    causes ("self-signed certificate", "certificate has expired",
    "hostname mismatch", "IP address mismatch"...) with either library;
    other failures are told in the library's own words.
*/
#ifndef ZB_TLS_H
#define ZB_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _zb_tls_ctx_t zb_tls_ctx_t; // shared context (refcounted)
typedef struct _zb_tls_t zb_tls_t;         // one connection

//  What an operation needs before it can go on (ZB_TLS_OK: it is done).
typedef enum {
    ZB_TLS_OK = 0,
    ZB_TLS_WANT_READ,  // wait until readable, then call again
    ZB_TLS_WANT_WRITE, // wait until writable, then call again
    ZB_TLS_CLOSED,     // the peer closed the connection (EOF or close_notify)
    ZB_TLS_ERROR       // failed; err holds the library's message
} zb_tls_status_t;

//  The shared context for a CA file (NULL or "": the system's store) and a
//  verification policy; the same pair gives the same context. Returns NULL
//  with a message in err (an unreadable CA file, out of memory).
zb_tls_ctx_t *zb_tls_ctx_get(const char *ca, bool verify, char *err, size_t errsize);
//  Drops one reference; the last frees the context.
void zb_tls_ctx_release(zb_tls_ctx_t **ctx_p);

//  A client connection on fd (connected, non-blocking). name is sent as
//  SNI and verified when it is a host name; an address is verified as an
//  IP address (no SNI). Returns NULL when out of memory.
zb_tls_t *zb_tls_new(zb_tls_ctx_t *ctx, int fd, const char *name);
//  Frees the connection without a word to the peer (the socket is the
//  caller's to close).
void zb_tls_destroy(zb_tls_t **self_p);

//  Drives the handshake. On ZB_TLS_ERROR err says why; *verify_failed
//  tells a certificate that was refused from a broken handshake.
//  ZB_TLS_CLOSED (err set too): the peer closed before it was done.
zb_tls_status_t zb_tls_handshake(zb_tls_t *self, bool *verify_failed, char *err, size_t errsize);

//  Writes all len bytes or nothing (a ping is small, the socket buffer
//  empty); ZB_TLS_WANT_* when it could not, ZB_TLS_ERROR with err.
zb_tls_status_t zb_tls_write(zb_tls_t *self, const void *data, size_t len, char *err,
                             size_t errsize);
//  Reads up to size bytes into *got. ZB_TLS_OK with *got > 0 for data;
//  ZB_TLS_WANT_READ when nothing more is waiting (records that are not data,
//  such as TLS 1.3 session tickets, are taken in passing).
zb_tls_status_t zb_tls_read(zb_tls_t *self, void *buf, size_t size, size_t *got, char *err,
                            size_t errsize);
//  Whether the session holds read bytes the socket no longer announces.
bool zb_tls_pending(zb_tls_t *self);
//  Sends close_notify once, without waiting for the peer's.
void zb_tls_shutdown(zb_tls_t *self);

//  Gives the heap's free pages back to the system once at least 64
//  handshakes have ended since it last did. Each handshake passes through
//  some 50 KB of buffers while the blocks a held session keeps are
//  allocated among them, so a burst of handshakes (an agent starting, a
//  server coming back to thousands of probes) leaves the heap full of holes
//  that free() does not return: up to 8 KB of RSS per held connection,
//  measured. For a timer (the agent's beat); about 1 ms at 4,000 held
//  connections, nothing when no handshake ended.
void zb_tls_trim(void);
#define ZB_TLS_TRIM_AFTER 64 // handshakes ended before zb_tls_trim gives pages back

//  The peer certificate's notAfter as Unix seconds (also when it was
//  refused); 0 when none.
int64_t zb_tls_expires(zb_tls_t *self);
//  "TLSv1.3" and the like.
const char *zb_tls_version(zb_tls_t *self);

void zb_tls_test(bool verbose);

#endif
