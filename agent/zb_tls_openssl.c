/*  zb_tls: TLS for probes (OpenSSL). See zb_tls.h. */
#include "zb_tls.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _zb_tls_ctx_t {
    zb_tls_ctx_t *next; // in s_contexts
    SSL_CTX *ssl_ctx;
    int refs;
    bool verify;
    char ca[]; // "" for the system's store
};

//  What a held connection costs, measured (bench/zb_bench_tlsmem.c,
//  docs/benchmarks.md, item 4t): 16.5 KB of OpenSSL 3.0's own (18 KB with
//  malloc's headers), most of it the SSL object (7.6 KB), the peer's parsed
//  certificate and key (3.4 KB), the two record-layer cipher contexts and
//  the session; none of it can be let go while the connection is held.
//  Nothing of ours is kept beside it: the certificate's expiry is read from
//  the session when asked.
struct _zb_tls_t {
    SSL *ssl;
    bool ended; // the handshake is over (counted in s_ended)
};

//  Handshakes ended since zb_tls_trim last gave pages back.
static unsigned s_ended;

static void s_end(zb_tls_t *self)
{
    if (!self->ended)
        s_ended++;
    self->ended = true;
}

static int64_t s_not_after(X509 *cert)
{
    struct tm tm;
    if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

//  The leaf's expiry: the peer's certificate once accepted, else the first
//  of the chain the server sent (a refused certificate is not kept as the
//  peer's, and an expired one should still say when it expired).
static int64_t s_leaf_expires(SSL *ssl)
{
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    STACK_OF(X509) *chain = leaf ? NULL : SSL_get_peer_cert_chain(ssl);
    if (chain && sk_X509_num(chain) > 0)
        leaf = sk_X509_value(chain, 0);
    return s_not_after(leaf);
}

//  With `tls-verify = no` the chain's verdict is not asked for, so it is not
//  worked out: building and checking a chain costs CPU at every handshake,
//  and keeps the verified chain and names cached for it (64 to 180 B per
//  held connection, measured). The certificate is still parsed and the
//  server still proves it holds its key; and a handshake that fails for
//  another reason is no longer told as a refused certificate.
static int s_skip_verify(X509_STORE_CTX *store, void *arg)
{
    (void)store;
    (void)arg;
    return 1;
}

//  ChaCha20-Poly1305 first, then the other suites in their configured
//  order: its two record-layer contexts hold 330 to 450 B less than
//  AES-GCM's for as long as a connection is held (measured), at the same
//  strength. Only the order changes: what the system's policy (openssl.cnf)
//  allows is what is offered, and a server that picks by its own
//  preference still does. Left as it was if the names do not fit.
static void s_prefer_chacha(SSL_CTX *ctx)
{
    STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
    char tls13[512] = "", tls12[4096] = "";
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; ciphers && i < sk_SSL_CIPHER_num(ciphers); i++) {
            const SSL_CIPHER *cipher = sk_SSL_CIPHER_value(ciphers, i);
            bool chacha = SSL_CIPHER_get_cipher_nid(cipher) == NID_chacha20_poly1305;
            if (chacha != (pass == 0))
                continue;
            bool v13 = strcmp(SSL_CIPHER_get_version(cipher), "TLSv1.3") == 0;
            char *list = v13 ? tls13 : tls12;
            size_t size = v13 ? sizeof(tls13) : sizeof(tls12), len = strlen(list);
            int n = snprintf(list + len, size - len, "%s%s", len ? ":" : "",
                             SSL_CIPHER_get_name(cipher));
            if (n < 0 || (size_t)n >= size - len)
                return;
        }
    if (tls13[0])
        (void)SSL_CTX_set_ciphersuites(ctx, tls13);
    if (tls12[0])
        (void)SSL_CTX_set_cipher_list(ctx, tls12);
    ERR_clear_error();
}

//  The contexts in use. Probes live in one thread (the agent's loop), and
//  so does everything that makes them; --probe-once makes one.
static zb_tls_ctx_t *s_contexts;

//  OpenSSL's most recent error, in its words.
static void s_library_error(const char *what, char *err, size_t errsize)
{
    unsigned long code = ERR_peek_last_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;
    if (reason)
        snprintf(err, errsize, "tls: %s: %s", what, reason);
    else
        snprintf(err, errsize, "tls: %s", what);
    ERR_clear_error();
}

zb_tls_ctx_t *zb_tls_ctx_get(const char *ca, bool verify, char *err, size_t errsize)
{
    if (!ca)
        ca = "";
    for (zb_tls_ctx_t *ctx = s_contexts; ctx; ctx = ctx->next)
        if (ctx->verify == verify && strcmp(ctx->ca, ca) == 0) {
            ctx->refs++;
            return ctx;
        }
    zb_tls_ctx_t *self = calloc(1, sizeof(*self) + strlen(ca) + 1);
    if (!self) {
        snprintf(err, errsize, "tls: out of memory");
        return NULL;
    }
    strcpy(self->ca, ca);
    self->verify = verify;
    self->refs = 1;
    self->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!self->ssl_ctx) {
        s_library_error("cannot make a context", err, errsize);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(self->ssl_ctx, TLS1_2_VERSION);
    //  A held connection keeps no read or write buffer while idle: 34 KiB
    //  each otherwise, times thousands of probes.
    SSL_CTX_set_mode(self->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    //  A server that closes without close_notify (most do, on an idle
    //  keep-alive connection) has closed, not failed.
    SSL_CTX_set_options(self->ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    //  Every check makes a full handshake: resumption would skip the very
    //  certificate checks the probe is for.
    SSL_CTX_set_session_cache_mode(self->ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(self->ssl_ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(self->ssl_ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (!verify)
        SSL_CTX_set_cert_verify_callback(self->ssl_ctx, s_skip_verify, NULL);
    s_prefer_chacha(self->ssl_ctx);
    if (verify) {
        int ok = ca[0] ? SSL_CTX_load_verify_locations(self->ssl_ctx, ca, NULL)
                       : SSL_CTX_set_default_verify_paths(self->ssl_ctx);
        if (ok != 1) {
            char what[300];
            snprintf(what, sizeof(what), "cannot load CA file %s", ca[0] ? ca : "(system)");
            s_library_error(what, err, errsize);
            goto fail;
        }
    }
    self->next = s_contexts;
    s_contexts = self;
    return self;
fail:
    SSL_CTX_free(self->ssl_ctx);
    free(self);
    return NULL;
}

void zb_tls_ctx_release(zb_tls_ctx_t **ctx_p)
{
    assert(ctx_p);
    zb_tls_ctx_t *self = *ctx_p;
    if (!self)
        return;
    *ctx_p = NULL;
    if (--self->refs > 0)
        return;
    for (zb_tls_ctx_t **at = &s_contexts; *at; at = &(*at)->next)
        if (*at == self) {
            *at = self->next;
            break;
        }
    SSL_CTX_free(self->ssl_ctx);
    free(self);
}

zb_tls_t *zb_tls_new(zb_tls_ctx_t *ctx, int fd, const char *name)
{
    assert(ctx && fd >= 0 && name);
    zb_tls_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->ssl = SSL_new(ctx->ssl_ctx);
    if (!self->ssl || SSL_set_fd(self->ssl, fd) != 1)
        goto fail;
    //  An address is matched against the certificate's IP entries and is
    //  not sent as SNI (RFC 6066 allows host names only).
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    if (!is_ip && name[0] && SSL_set_tlsext_host_name(self->ssl, name) != 1)
        goto fail;
    if (ctx->verify && name[0]) {
        X509_VERIFY_PARAM *param = SSL_get0_param(self->ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : SSL_set1_host(self->ssl, name)) !=
            1)
            goto fail;
    }
    SSL_set_connect_state(self->ssl);
    return self;
fail:
    ERR_clear_error();
    SSL_free(self->ssl);
    free(self);
    return NULL;
}

void zb_tls_destroy(zb_tls_t **self_p)
{
    assert(self_p);
    zb_tls_t *self = *self_p;
    if (!self)
        return;
    s_end(self); // its handshake buffers are freed too
    SSL_free(self->ssl);
    free(self);
    *self_p = NULL;
}

//  What SSL_get_error says about a call that returned rc.
static zb_tls_status_t s_status(zb_tls_t *self, int rc, const char *what, char *err, size_t errsize)
{
    int code = SSL_get_error(self->ssl, rc);
    switch (code) {
    case SSL_ERROR_WANT_READ:
        return ZB_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return ZB_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return ZB_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_last_error() == 0) {
            //  EOF (ignored as "unexpected" by the context) or a socket error.
            int error = errno;
            ERR_clear_error();
            if (rc == 0 || error == 0 || error == ECONNRESET || error == EPIPE)
                return ZB_TLS_CLOSED;
            snprintf(err, errsize, "tls: %s: %s", what, strerror(error));
            return ZB_TLS_ERROR;
        }
        s_library_error(what, err, errsize);
        return ZB_TLS_ERROR;
    default:
        s_library_error(what, err, errsize);
        return ZB_TLS_ERROR;
    }
}

zb_tls_status_t zb_tls_handshake(zb_tls_t *self, bool *verify_failed, char *err, size_t errsize)
{
    assert(self && verify_failed);
    *verify_failed = false;
    ERR_clear_error();
    int rc = SSL_do_handshake(self->ssl);
    if (rc == 1) {
        s_end(self);
        return ZB_TLS_OK;
    }
    zb_tls_status_t status = s_status(self, rc, "handshake", err, errsize);
    if (status != ZB_TLS_WANT_READ && status != ZB_TLS_WANT_WRITE)
        s_end(self);
    long verify = SSL_get_verify_result(self->ssl);
    if (status == ZB_TLS_ERROR && verify != X509_V_OK) {
        *verify_failed = true;
        snprintf(err, errsize, "tls: certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
    } else if (status == ZB_TLS_CLOSED)
        snprintf(err, errsize, "tls: handshake: connection closed by peer");
    return status;
}

zb_tls_status_t zb_tls_write(zb_tls_t *self, const void *data, size_t len, char *err,
                             size_t errsize)
{
    assert(self && len > 0);
    ERR_clear_error();
    size_t written = 0;
    int rc = SSL_write_ex(self->ssl, data, len, &written);
    if (rc == 1 && written == len)
        return ZB_TLS_OK;
    return s_status(self, rc, "write", err, errsize);
}

zb_tls_status_t zb_tls_read(zb_tls_t *self, void *buf, size_t size, size_t *got, char *err,
                            size_t errsize)
{
    assert(self && got);
    ERR_clear_error();
    *got = 0;
    int rc = SSL_read_ex(self->ssl, buf, size, got);
    //  A TLS 1.3 server's session tickets arrive after the handshake and go
    //  through OpenSSL's handshake code, which sets up a 16 KiB write buffer
    //  and keeps it until our next write, an interval later
    //  (SSL_MODE_RELEASE_BUFFERS frees it only after a write): freed here.
    //  Only when the session holds no bytes we have not taken yet: then
    //  freeing its buffers is safe even before 3.0.14 (CVE-2024-4741).
    if (!SSL_has_pending(self->ssl))
        (void)SSL_free_buffers(self->ssl);
    if (rc == 1)
        return ZB_TLS_OK;
    return s_status(self, rc, "read", err, errsize);
}

bool zb_tls_pending(zb_tls_t *self)
{
    assert(self);
    //  Records read and not yet handed out, or read ahead and not yet opened.
    return SSL_pending(self->ssl) > 0 || SSL_has_pending(self->ssl);
}

void zb_tls_shutdown(zb_tls_t *self)
{
    assert(self);
    ERR_clear_error();
    if (SSL_is_init_finished(self->ssl))
        (void)SSL_shutdown(self->ssl); // one try: the socket closes next anyway
    ERR_clear_error();
}

void zb_tls_trim(void)
{
    if (s_ended < ZB_TLS_TRIM_AFTER)
        return;
    s_ended = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int64_t zb_tls_expires(zb_tls_t *self)
{
    assert(self);
    return s_leaf_expires(self->ssl);
}

const char *zb_tls_version(zb_tls_t *self)
{
    assert(self);
    return SSL_get_version(self->ssl);
}

//  What the self-test (zb_tls_test.c) asks of this library: a server, made
//  with OpenSSL, and a look inside. See zb_tls_test.h.

#include "zb_tls_test.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

struct _zb_tls_test_server_t {
    EVP_PKEY *key;
    X509 *cert;
};

zb_tls_test_server_t *zb_tls_test_server_new(const char *ca_path)
{
    zb_tls_test_server_t *self = calloc(1, sizeof(*self));
    assert(self);
    //  ECDSA P-256, self-signed.
    self->key = EVP_EC_gen("P-256");
    assert(self->key);
    X509 *cert = X509_new();
    assert(cert);
    self->cert = cert;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 86400);
    X509_NAME *subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(cert, subject);
    X509_set_pubkey(cert, self->key);
    assert(X509_sign(cert, self->key, EVP_sha256()) > 0);
    FILE *file = fopen(ca_path, "w");
    assert(file && PEM_write_X509(file, cert) == 1);
    fclose(file);
    return self;
}

void zb_tls_test_server_destroy(zb_tls_test_server_t **self_p)
{
    assert(self_p);
    zb_tls_test_server_t *self = *self_p;
    if (!self)
        return;
    X509_free(self->cert);
    EVP_PKEY_free(self->key);
    free(self);
    *self_p = NULL;
}

void zb_tls_test_serve(zb_tls_test_server_t *self, int fd)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert(ctx);
    assert(SSL_CTX_use_certificate(ctx, self->cert) == 1);
    assert(SSL_CTX_use_PrivateKey(ctx, self->key) == 1);
    SSL *ssl = SSL_new(ctx);
    assert(ssl && SSL_set_fd(ssl, fd) == 1);
    if (SSL_accept(ssl) == 1) {
        //  The client answers the KeyUpdate through the write buffer it
        //  freed after reading the session tickets sent with the handshake.
        char buf[64];
        for (int pings = 0; SSL_read(ssl, buf, sizeof(buf)) > 0; pings++) {
            assert(SSL_write(ssl, "+PONG\r\n", 7) == 7);
            if (pings == 0 && SSL_version(ssl) == TLS1_3_VERSION)
                assert(SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
        }
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    close(fd);
}

bool zb_tls_test_chacha(zb_tls_ctx_t *ctx, zb_tls_t *tls)
{
    (void)tls;
    const SSL_CIPHER *first = sk_SSL_CIPHER_value(SSL_CTX_get_ciphers(ctx->ssl_ctx), 0);
    return first && SSL_CIPHER_get_cipher_nid(first) == NID_chacha20_poly1305;
}

bool zb_tls_test_carried(zb_tls_t *tls)
{
    (void)tls;
    return false;
}

bool zb_tls_test_secrets(zb_tls_t *tls)
{
    (void)tls;
    return false; // OpenSSL keeps its own
}

unsigned *zb_tls_test_ended(void)
{
    return &s_ended;
}

bool zb_tls_test_no_contexts(void)
{
    return s_contexts == NULL;
}
