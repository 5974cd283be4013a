/*  zb_tls: TLS for probes (GnuTLS). See zb_tls.h.

    The backend chosen with `-DZB_TLS=gnutls` (CMake). What a held
    connection costs is measured with bench/zb_bench_tlsmem.c and told in
    docs/benchmarks.md (item 4t). Refusals are told with OpenSSL's wording
    for the common causes (the same words whichever library is built in:
    alerts and tests match on them), else with GnuTLS's own.
*/
#include "zb_tls.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _zb_tls_ctx_t {
    zb_tls_ctx_t *next;                    // in s_contexts
    gnutls_certificate_credentials_t cred; // the trusted CAs (none without verification)
    gnutls_priority_t priority;            // versions, suites and groups, in our order
    int refs;
    bool verify;
    char ca[]; // "" for the system's store
};

//  A connection: GnuTLS's session and what verification must find for as
//  long as it lasts (GnuTLS keeps pointers to the name, not copies).
struct _zb_tls_t {
    gnutls_session_t session;
    int64_t expires;             // the leaf's notAfter once read; 0 before
    gnutls_typed_vdata_st vdata; // what the certificate must name
    bool ended;                  // the handshake is over (counted in s_ended)
    bool done;                   // and it succeeded
    bool is_ip;                  // name is an address
    unsigned char ip[16];        // the address, for vdata
    char name[];                 // as given
};

//  TLS 1.2 and 1.3 only, ChaCha20-Poly1305 first (its record contexts are
//  the smallest, at the same strength), X25519 first. Appended to the
//  system's default priority (@SYSTEM or NORMAL): what the system's policy
//  forbids stays forbidden.
#define S_PRIORITY                                                                                 \
    "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"                                                         \
    "-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM:+AES-256-CCM:+AES-128-CCM:"          \
    "+AES-256-CBC:+AES-128-CBC:"                                                                   \
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:"                 \
    "+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096"

//  Handshakes ended since zb_tls_trim last gave pages back.
static unsigned s_ended;

//  The contexts in use. Probes live in one thread (the agent's loop), and
//  so does everything that makes them; --probe-once makes one.
static zb_tls_ctx_t *s_contexts;

//  A message into err, without the full stop and spaces GnuTLS's own
//  sentences end with ("Error while reading file."): it is followed by more.
static void s_say(char *err, size_t errsize, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void s_say(char *err, size_t errsize, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(err, errsize, format, args);
    va_end(args);
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '.' || err[len - 1] == ' '))
        err[--len] = '\0';
}

static void s_end(zb_tls_t *self)
{
    if (!self->ended)
        s_ended++;
    self->ended = true;
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
    int rc = gnutls_certificate_allocate_credentials(&self->cred);
    if (rc < 0) {
        s_say(err, errsize, "tls: cannot make a context: %s", gnutls_strerror(rc));
        goto fail;
    }
    if (verify) {
        rc = ca[0] ? gnutls_certificate_set_x509_trust_file(self->cred, ca, GNUTLS_X509_FMT_PEM)
                   : gnutls_certificate_set_x509_system_trust(self->cred);
        //  A CA file without a certificate is a mistake; a system without
        //  a store refuses every certificate, as OpenSSL's does.
        if (rc < 0 || (rc == 0 && ca[0])) {
            s_say(err, errsize, "tls: cannot load CA file %s: %s", ca[0] ? ca : "(system)",
                  rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
            goto fail;
        }
    }
    const char *where = NULL;
    rc =
        gnutls_priority_init2(&self->priority, S_PRIORITY, &where, GNUTLS_PRIORITY_INIT_DEF_APPEND);
    if (rc < 0) // a system policy that does not know our names: its own order
        rc = gnutls_priority_init(&self->priority, NULL, NULL);
    if (rc < 0) {
        s_say(err, errsize, "tls: cannot make a context: %s", gnutls_strerror(rc));
        goto fail;
    }
    self->next = s_contexts;
    s_contexts = self;
    return self;
fail:
    if (self->cred)
        gnutls_certificate_free_credentials(self->cred);
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
    gnutls_priority_deinit(self->priority);
    gnutls_certificate_free_credentials(self->cred);
    free(self);
}

zb_tls_t *zb_tls_new(zb_tls_ctx_t *ctx, int fd, const char *name)
{
    assert(ctx && fd >= 0 && name);
    zb_tls_t *self = calloc(1, sizeof(*self) + strlen(name) + 1);
    if (!self)
        return NULL;
    strcpy(self->name, name);
    //  No session tickets: every check makes a full handshake (resumption
    //  would skip the very certificate checks the probe is for), and a
    //  TLS 1.3 server's tickets are not kept. One key share (X25519): less
    //  work per handshake; a server without it asks for another.
    unsigned flags = GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS |
                     GNUTLS_KEY_SHARE_TOP;
    if (gnutls_init(&self->session, flags) < 0) {
        free(self);
        return NULL;
    }
    if (gnutls_priority_set(self->session, ctx->priority) < 0 ||
        gnutls_credentials_set(self->session, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0)
        goto fail;
    gnutls_transport_set_int(self->session, fd);
    //  The probe keeps its own time: no second clock inside the handshake.
    gnutls_handshake_set_timeout(self->session, 0);
    //  An address is matched against the certificate's IP entries and is
    //  not sent as SNI (RFC 6066 allows host names only).
    self->is_ip = inet_pton(AF_INET, name, self->ip) == 1;
    if (!self->is_ip)
        self->is_ip = inet_pton(AF_INET6, name, self->ip) == 1;
    if (!self->is_ip && name[0] &&
        gnutls_server_name_set(self->session, GNUTLS_NAME_DNS, name, strlen(name)) < 0)
        goto fail;
    if (ctx->verify) {
        //  The chain, then the name: checked inside the handshake, which
        //  fails with GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR.
        if (self->is_ip) {
            self->vdata.type = GNUTLS_DT_IP_ADDRESS;
            self->vdata.data = self->ip;
            self->vdata.size = strchr(name, ':') ? 16 : 4;
            gnutls_session_set_verify_cert2(self->session, &self->vdata, 1, 0);
        } else
            gnutls_session_set_verify_cert(self->session, name[0] ? self->name : NULL, 0);
    }
    return self;
fail:
    gnutls_deinit(self->session);
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
    gnutls_deinit(self->session);
    free(self);
    *self_p = NULL;
}

//  The leaf's notAfter, from the chain the server sent (kept by GnuTLS as
//  the server sent it, also when it was refused).
static int64_t s_leaf_expires(gnutls_session_t session)
{
    unsigned count = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &count);
    gnutls_x509_crt_t cert;
    if (!peers || count == 0 || gnutls_x509_crt_init(&cert) < 0)
        return 0;
    time_t when = (time_t)-1;
    if (gnutls_x509_crt_import(cert, &peers[0], GNUTLS_X509_FMT_DER) == 0)
        when = gnutls_x509_crt_get_expiration_time(cert);
    gnutls_x509_crt_deinit(cert);
    return when == (time_t)-1 ? 0 : (int64_t)when;
}

//  Whether the certificate at index in the chain the server sent is
//  self-issued (its issuer is its subject).
static bool s_self_issued(gnutls_session_t session, unsigned index)
{
    unsigned count = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &count);
    gnutls_x509_crt_t cert;
    if (!peers || index >= count || gnutls_x509_crt_init(&cert) < 0)
        return false;
    bool self_issued = gnutls_x509_crt_import(cert, &peers[index], GNUTLS_X509_FMT_DER) == 0 &&
                       gnutls_x509_crt_check_issuer(cert, cert) != 0;
    gnutls_x509_crt_deinit(cert);
    return self_issued;
}

//  Why a certificate was refused: OpenSSL's words for the common causes
//  (X509_verify_cert_error_string), so a refusal reads the same whichever
//  library is built in; GnuTLS's own description for the rest.
static void s_verify_error(zb_tls_t *self, char *err, size_t errsize)
{
    unsigned status = gnutls_session_get_verify_cert_status(self->session);
    unsigned count = 0;
    (void)gnutls_certificate_get_peers(self->session, &count);
    const char *why = NULL;
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        if (count <= 1 && s_self_issued(self->session, 0))
            why = "self-signed certificate";
        else if (count > 1 && s_self_issued(self->session, count - 1))
            why = "self-signed certificate in certificate chain";
        else
            why = "unable to get local issuer certificate";
    } else if (status & GNUTLS_CERT_EXPIRED)
        why = "certificate has expired";
    else if (status & GNUTLS_CERT_NOT_ACTIVATED)
        why = "certificate is not yet valid";
    else if (status & GNUTLS_CERT_REVOKED)
        why = "certificate revoked";
    else if (status & GNUTLS_CERT_SIGNER_NOT_CA)
        why = "invalid CA certificate";
    else if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
        why = "certificate signature failure";
    else if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
        why = self->is_ip ? "IP address mismatch" : "hostname mismatch";
    if (why) {
        snprintf(err, errsize, "tls: certificate verify failed: %s", why);
        return;
    }
    gnutls_datum_t text = {NULL, 0};
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0 &&
        text.data)
        s_say(err, errsize, "tls: certificate verify failed: %s", (char *)text.data);
    else
        snprintf(err, errsize, "tls: certificate verify failed");
    gnutls_free(text.data);
}

//  What a call that returned rc (negative) means for the caller.
static zb_tls_status_t s_status(zb_tls_t *self, int rc, const char *what, char *err, size_t errsize)
{
    int error = errno;
    switch (rc) {
    case GNUTLS_E_AGAIN:
    case GNUTLS_E_INTERRUPTED:
        return gnutls_record_get_direction(self->session) ? ZB_TLS_WANT_WRITE : ZB_TLS_WANT_READ;
    case GNUTLS_E_PREMATURE_TERMINATION: // EOF without close_notify: most servers do that
    case GNUTLS_E_SESSION_EOF:
        return ZB_TLS_CLOSED;
    case GNUTLS_E_PULL_ERROR:
    case GNUTLS_E_PUSH_ERROR:
        if (error == 0 || error == ECONNRESET || error == EPIPE)
            return ZB_TLS_CLOSED;
        snprintf(err, errsize, "tls: %s: %s", what, strerror(error));
        return ZB_TLS_ERROR;
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
        s_say(err, errsize, "tls: %s: %s: %s", what, gnutls_strerror(rc),
              gnutls_alert_get_name(gnutls_alert_get(self->session)));
        return ZB_TLS_ERROR;
    default:
        s_say(err, errsize, "tls: %s: %s", what, gnutls_strerror(rc));
        return ZB_TLS_ERROR;
    }
}

zb_tls_status_t zb_tls_handshake(zb_tls_t *self, bool *verify_failed, char *err, size_t errsize)
{
    assert(self && verify_failed);
    *verify_failed = false;
    int rc;
    //  Warnings (an alert that is not fatal) and interruptions: go on.
    do
        rc = gnutls_handshake(self->session);
    while (rc < 0 && rc != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(rc));
    if (rc == 0) {
        self->done = true;
        s_end(self);
        return ZB_TLS_OK;
    }
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        s_end(self);
        *verify_failed = true;
        s_verify_error(self, err, errsize);
        (void)gnutls_alert_send_appropriate(self->session, rc); // the server's log says why
        return ZB_TLS_ERROR;
    }
    zb_tls_status_t status = s_status(self, rc, "handshake", err, errsize);
    if (status != ZB_TLS_WANT_READ && status != ZB_TLS_WANT_WRITE)
        s_end(self);
    if (status == ZB_TLS_ERROR && rc != GNUTLS_E_FATAL_ALERT_RECEIVED)
        (void)gnutls_alert_send_appropriate(self->session, rc);
    if (status == ZB_TLS_CLOSED)
        snprintf(err, errsize, "tls: handshake: connection closed by peer");
    return status;
}

zb_tls_status_t zb_tls_write(zb_tls_t *self, const void *data, size_t len, char *err,
                             size_t errsize)
{
    assert(self && len > 0);
    //  A record at a time (16 KiB): a ping is one.
    for (size_t sent = 0; sent < len;) {
        ssize_t n = gnutls_record_send(self->session, (const char *)data + sent, len - sent);
        if (n < 0)
            return s_status(self, (int)n, "write", err, errsize);
        sent += (size_t)n;
    }
    return ZB_TLS_OK;
}

zb_tls_status_t zb_tls_read(zb_tls_t *self, void *buf, size_t size, size_t *got, char *err,
                            size_t errsize)
{
    assert(self && got);
    *got = 0;
    for (;;) {
        ssize_t n = gnutls_record_recv(self->session, buf, size);
        if (n > 0) {
            *got = (size_t)n;
            return ZB_TLS_OK;
        }
        if (n == 0)
            return ZB_TLS_CLOSED; // close_notify
        //  A TLS 1.2 server asking for a new handshake is not answered (a
        //  probe has nothing to renegotiate); warnings are read past.
        if (n == GNUTLS_E_REHANDSHAKE || n == GNUTLS_E_WARNING_ALERT_RECEIVED)
            continue;
        return s_status(self, (int)n, "read", err, errsize);
    }
}

bool zb_tls_pending(zb_tls_t *self)
{
    assert(self);
    return gnutls_record_check_pending(self->session) > 0;
}

void zb_tls_shutdown(zb_tls_t *self)
{
    assert(self);
    if (self->done)
        (void)gnutls_bye(self->session, GNUTLS_SHUT_WR); // one try: the socket closes next
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
    if (!self->expires)
        self->expires = s_leaf_expires(self->session);
    return self->expires;
}

const char *zb_tls_version(zb_tls_t *self)
{
    assert(self);
    //  OpenSSL's names: what zbeat has always printed.
    switch (gnutls_protocol_get_version(self->session)) {
    case GNUTLS_TLS1_3:
        return "TLSv1.3";
    case GNUTLS_TLS1_2:
        return "TLSv1.2";
    default: {
        const char *name = gnutls_protocol_get_name(gnutls_protocol_get_version(self->session));
        return name ? name : "unknown";
    }
    }
}

//  What the self-test (zb_tls_test.c) asks of this library: a server, made
//  with GnuTLS, and a look inside. See zb_tls_test.h.

#include "zb_tls_test.h"

#include <unistd.h>

struct _zb_tls_test_server_t {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t cert;
    gnutls_certificate_credentials_t cred;
};

zb_tls_test_server_t *zb_tls_test_server_new(const char *ca_path)
{
    zb_tls_test_server_t *self = calloc(1, sizeof(*self));
    assert(self);
    //  ECDSA P-256, self-signed, a CA.
    assert(gnutls_x509_privkey_init(&self->key) == 0);
    assert(gnutls_x509_privkey_generate(self->key, GNUTLS_PK_ECDSA,
                                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) == 0);
    gnutls_x509_crt_t cert;
    assert(gnutls_x509_crt_init(&cert) == 0);
    self->cert = cert;
    time_t start = time(NULL);
    unsigned char serial = 1;
    assert(gnutls_x509_crt_set_version(cert, 3) == 0);
    assert(gnutls_x509_crt_set_serial(cert, &serial, 1) == 0);
    assert(gnutls_x509_crt_set_activation_time(cert, start - 60) == 0);
    assert(gnutls_x509_crt_set_expiration_time(cert, start + 30L * 86400) == 0);
    assert(gnutls_x509_crt_set_dn_by_oid(cert, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9) ==
           0);
    assert(gnutls_x509_crt_set_key(cert, self->key) == 0);
    assert(gnutls_x509_crt_set_basic_constraints(cert, 1, -1) == 0);
    assert(gnutls_x509_crt_sign2(cert, cert, self->key, GNUTLS_DIG_SHA256, 0) == 0);
    gnutls_datum_t pem;
    assert(gnutls_x509_crt_export2(cert, GNUTLS_X509_FMT_PEM, &pem) == 0);
    FILE *file = fopen(ca_path, "w");
    assert(file && fwrite(pem.data, 1, pem.size, file) == pem.size);
    fclose(file);
    gnutls_free(pem.data);
    assert(gnutls_certificate_allocate_credentials(&self->cred) == 0);
    assert(gnutls_certificate_set_x509_key(self->cred, &self->cert, 1, self->key) == 0);
    return self;
}

void zb_tls_test_server_destroy(zb_tls_test_server_t **self_p)
{
    assert(self_p);
    zb_tls_test_server_t *self = *self_p;
    if (!self)
        return;
    gnutls_certificate_free_credentials(self->cred);
    gnutls_x509_crt_deinit(self->cert);
    gnutls_x509_privkey_deinit(self->key);
    free(self);
    *self_p = NULL;
}

void zb_tls_test_serve(zb_tls_test_server_t *self, int fd)
{
    gnutls_session_t session;
    assert(gnutls_init(&session, GNUTLS_SERVER) == 0);
    assert(gnutls_set_default_priority(session) == 0);
    assert(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, self->cred) == 0);
    gnutls_transport_set_int(session, fd);
    int rc;
    do
        rc = gnutls_handshake(session);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc == 0) {
        char buf[64];
        for (int pings = 0;;) {
            ssize_t n = gnutls_record_recv(session, buf, sizeof(buf));
            if (n < 0 && !gnutls_error_is_fatal((int)n))
                continue; // GNUTLS_E_AGAIN, even blocking, after the client's KeyUpdate
            if (n <= 0)
                break;
            assert(gnutls_record_send(session, "+PONG\r\n", 7) == 7);
            if (pings++ == 0 && gnutls_protocol_get_version(session) == GNUTLS_TLS1_3)
                assert(gnutls_session_key_update(session, GNUTLS_KU_PEER) == 0);
        }
        gnutls_bye(session, GNUTLS_SHUT_WR);
    }
    gnutls_deinit(session);
    close(fd);
}

bool zb_tls_test_chacha(zb_tls_ctx_t *ctx, zb_tls_t *tls)
{
    (void)ctx;
    return gnutls_cipher_get(tls->session) == GNUTLS_CIPHER_CHACHA20_POLY1305;
}

unsigned *zb_tls_test_ended(void)
{
    return &s_ended;
}

bool zb_tls_test_no_contexts(void)
{
    return s_contexts == NULL;
}
