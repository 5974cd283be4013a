/*  What zb_tls's self-test (zb_tls_test.c) asks of the backend built in.

    The test drives the client through zb_tls.h alone, the same for every
    library; each backend (zb_tls_gnutls.c, zb_tls_openssl.c) supplies
    what only its library can: a TLS server to talk to, and a look at the
    state the test checks. Test-only: the agent calls none of these.
*/
#ifndef ZB_TLS_TEST_H
#define ZB_TLS_TEST_H

#include "zb_tls.h"

#include <stdbool.h>

typedef struct _zb_tls_test_server_t zb_tls_test_server_t;

//  A server with a new key (ECDSA P-256) and a self-signed certificate for
//  CN=localhost, valid from a minute ago for 30 days; the certificate is
//  written as PEM to ca_path, the CA file the test verifies it against.
zb_tls_test_server_t *zb_tls_test_server_new(const char *ca_path);
void zb_tls_test_server_destroy(zb_tls_test_server_t **self_p);

//  Serves one connection on fd (blocking) until the client goes: a
//  "+PONG\r\n" per read; after the first, TLS 1.3 keys are renewed both
//  ways (KeyUpdate), which the client answers from inside its read.
//  Closes fd.
void zb_tls_test_serve(zb_tls_test_server_t *self, int fd);

//  Whether ChaCha20-Poly1305 comes first (its record contexts are the
//  smallest): agreed on by tls (GnuTLS) or offered first by ctx (OpenSSL).
bool zb_tls_test_chacha(zb_tls_ctx_t *ctx, zb_tls_t *tls);

//  Whether the held session is carried by zb_tls_record (GnuTLS, with an
//  AEAD cipher) rather than by the library.
bool zb_tls_test_carried(zb_tls_t *tls);

//  Whether TLS 1.3 traffic secrets are held beside the session (GnuTLS:
//  kept from the handshake for zb_tls_record; freed once it is over,
//  whoever carries the session).
bool zb_tls_test_secrets(zb_tls_t *tls);

//  GnuTLS only: the server's next sessions are TLS 1.3 with AES-128-CCM,
//  a cipher zb_tls_record does not carry (the session stays GnuTLS's).
void zb_tls_test_server_ccm(zb_tls_test_server_t *self);

//  The count of handshakes ended since zb_tls_trim last gave pages back:
//  the test reads it, and sets it to make zb_tls_trim act.
unsigned *zb_tls_test_ended(void);

//  Whether no context is in use (all were released).
bool zb_tls_test_no_contexts(void);

#endif
