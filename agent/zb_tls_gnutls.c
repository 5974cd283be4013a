/*  zb_tls: TLS for probes (GnuTLS). See zb_tls.h.

    The backend chosen with `-DZB_TLS=gnutls` (CMake). What a held
    connection costs is measured with bench/zb_bench_tlsmem.c and told in
    docs/benchmarks.md (item 4t). Refusals are told with OpenSSL's wording
    for the common causes (the same words whichever library is built in:
    alerts and tests match on them), else with GnuTLS's own.

    GnuTLS makes the handshake and checks the certificate; then, when the
    session's cipher is one zb_tls_record carries (ChaCha20-Poly1305,
    AES-GCM: what servers pick), its keys go there and GnuTLS's session is
    freed: about 10 KB less for every held connection. So that nothing of
    the session is left inside GnuTLS at that point, the socket is read
    for it a record at a time (s_pull).
*/
#include "zb_log.h"
#include "zb_pool.h"
#include "zb_tls.h"
#include "zb_tls_record.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
//  long as it lasts (GnuTLS keeps pointers to the name, not copies); once
//  the handshake is done, the record layer that carries it instead.
struct _zb_tls_t {
    gnutls_session_t session; // NULL once rec carries the session
    zb_tls_record_t *rec;     // the session after the handshake, or NULL
    zb_tls_keys_t *secrets;   // TLS 1.3 traffic secrets: server's, client's
    int fd;
    uint16_t rec_left;           // s_pull: bytes of the record being read
    uint8_t hdr[5];              // s_pull: the next record's header,
    uint8_t hdr_have;            // bytes of it read
    uint8_t version;             // gnutls_protocol_t, kept once rec carries it
    uint8_t cipher;              // gnutls_cipher_algorithm_t, the same
    int64_t expires;             // the leaf's notAfter once read; 0 before
    gnutls_typed_vdata_st vdata; // what the certificate must name
    bool ended;                  // the handshake is over (counted in s_ended)
    bool done;                   // and it succeeded
    bool is_ip;                  // name is an address
    unsigned char ip[16];        // the address, for vdata
    char *name;                  // as given, until GnuTLS's session goes
};

//  Connections, side by side: a held one lives for hours and is made among
//  its handshake's buffers, which are all freed (zb_pool.h says why that
//  matters). What only the handshake needs (the name) is malloc's.
static zb_pool_t *s_pool;

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

//  GnuTLS's reads of the socket: never a byte past the end of the record
//  it is reading, so that none is left in its buffers when the handshake
//  ends (a record after the handshake is zb_tls_record's to read).
static ssize_t s_pull(gnutls_transport_ptr_t ptr, void *buf, size_t size)
{
    zb_tls_t *self = ptr;
    size_t want = self->rec_left ? self->rec_left : sizeof(self->hdr) - self->hdr_have;
    ssize_t n = recv(self->fd, buf, size < want ? size : want, 0);
    if (n <= 0) {
        gnutls_transport_set_errno(self->session, n == 0 ? 0 : errno);
        return n;
    }
    if (self->rec_left)
        self->rec_left -= (uint16_t)n;
    else {
        memcpy(self->hdr + self->hdr_have, buf, (size_t)n);
        self->hdr_have += (uint8_t)n;
        if (self->hdr_have == sizeof(self->hdr)) {
            self->rec_left = (uint16_t)(self->hdr[3] << 8 | self->hdr[4]);
            self->hdr_have = 0;
        }
    }
    return n;
}

static ssize_t s_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    zb_tls_t *self = ptr;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = sendmsg(self->fd, &msg, MSG_NOSIGNAL);
    if (n == -1)
        gnutls_transport_set_errno(self->session, errno);
    return n;
}

//  As GnuTLS's own for a socket (it asks with 0 here: non-blocking).
static int s_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    zb_tls_t *self = ptr;
    struct pollfd item = {self->fd, POLLIN, 0};
    int rc = poll(&item, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
    if (rc == -1)
        gnutls_transport_set_errno(self->session, errno);
    return rc;
}

//  TLS 1.3's traffic secrets, which zb_tls_record needs for KeyUpdate.
static int s_keylog(gnutls_session_t session, const char *label, const gnutls_datum_t *secret)
{
    zb_tls_t *self = gnutls_session_get_ptr(session);
    bool server = strcmp(label, "SERVER_TRAFFIC_SECRET_0") == 0;
    if (!server && strcmp(label, "CLIENT_TRAFFIC_SECRET_0") != 0)
        return 0;
    if (secret->size > sizeof(self->secrets->secret))
        return 0;
    if (!self->secrets && !(self->secrets = calloc(2, sizeof(*self->secrets))))
        return 0; // GnuTLS carries the session on
    zb_tls_keys_t *keys = &self->secrets[server ? 0 : 1];
    memcpy(keys->secret, secret->data, secret->size);
    keys->secret_len = (uint8_t)secret->size;
    return 0;
}

static void s_forget_secrets(zb_tls_t *self)
{
    if (self->secrets)
        explicit_bzero(self->secrets, 2 * sizeof(*self->secrets));
    free(self->secrets);
    self->secrets = NULL;
}

zb_tls_t *zb_tls_new(zb_tls_ctx_t *ctx, int fd, const char *name)
{
    assert(ctx && fd >= 0 && name);
    if (!s_pool && !(s_pool = zb_pool_new(sizeof(zb_tls_t))))
        return NULL;
    zb_tls_t *self = zb_pool_alloc(s_pool);
    if (!self)
        return NULL;
    if (!(self->name = strdup(name))) {
        zb_pool_free(s_pool, self);
        return NULL;
    }
    //  No session tickets: every check makes a full handshake (resumption
    //  would skip the very certificate checks the probe is for), and a
    //  TLS 1.3 server's tickets are not kept. One key share (X25519): less
    //  work per handshake; a server without it asks for another.
    unsigned flags = GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS |
                     GNUTLS_KEY_SHARE_TOP;
    if (gnutls_init(&self->session, flags) < 0) {
        free(self->name);
        zb_pool_free(s_pool, self);
        return NULL;
    }
    if (gnutls_priority_set(self->session, ctx->priority) < 0 ||
        gnutls_credentials_set(self->session, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0)
        goto fail;
    self->fd = fd;
    gnutls_session_set_ptr(self->session, self);
    gnutls_transport_set_ptr(self->session, self);
    gnutls_transport_set_pull_function(self->session, s_pull);
    gnutls_transport_set_vec_push_function(self->session, s_push);
    gnutls_transport_set_pull_timeout_function(self->session, s_pull_timeout);
    gnutls_session_set_keylog_function(self->session, s_keylog);
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
    free(self->name);
    zb_pool_free(s_pool, self);
    return NULL;
}

void zb_tls_destroy(zb_tls_t **self_p)
{
    assert(self_p);
    zb_tls_t *self = *self_p;
    if (!self)
        return;
    s_end(self); // its handshake buffers are freed too
    if (self->session)
        gnutls_deinit(self->session);
    zb_tls_record_destroy(&self->rec);
    s_forget_secrets(self);
    free(self->name);
    zb_pool_free(s_pool, self);
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

//  Hands the session to zb_tls_record when its cipher is one it carries,
//  and frees GnuTLS's. Anything else stays with GnuTLS. Either way the
//  caller forgets the secrets next.
static void s_hand_over(zb_tls_t *self)
{
    gnutls_session_t session = self->session;
    gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(session);
    zb_tls_aead_t aead = cipher == GNUTLS_CIPHER_CHACHA20_POLY1305 ? ZB_TLS_CHACHA20_POLY1305
                         : cipher == GNUTLS_CIPHER_AES_128_GCM     ? ZB_TLS_AES_128_GCM
                         : cipher == GNUTLS_CIPHER_AES_256_GCM     ? ZB_TLS_AES_256_GCM
                                                                   : 0;
    gnutls_protocol_t version = gnutls_protocol_get_version(session);
    bool tls13 = version == GNUTLS_TLS1_3;
    if (!aead || (!tls13 && version != GNUTLS_TLS1_2) || self->rec_left || self->hdr_have ||
        gnutls_record_check_pending(session) > 0)
        return;
    if (tls13 && (!self->secrets || !self->secrets[0].secret_len || !self->secrets[1].secret_len))
        return;
    zb_tls_keys_t keys[2]; // read (the server's), write (ours)
    memset(keys, 0, sizeof(keys));
    if (tls13)
        memcpy(keys, self->secrets, sizeof(keys));
    size_t key_len = aead == ZB_TLS_AES_128_GCM ? 16 : 32;
    size_t iv_len = tls13 || aead == ZB_TLS_CHACHA20_POLY1305 ? 12 : 4;
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) {
        gnutls_datum_t mac, iv, key;
        unsigned char seq[8];
        ok = gnutls_record_get_state(session, i == 0, &mac, &iv, &key, seq) == 0 &&
             key.size == key_len && iv.size == iv_len;
        if (!ok)
            break;
        memcpy(keys[i].key, key.data, key_len);
        memcpy(keys[i].iv, iv.data, iv_len);
        for (int b = 0; b < 8; b++)
            keys[i].seq = keys[i].seq << 8 | seq[b];
    }
    if (ok)
        self->rec = zb_tls_record_new(self->fd, tls13, aead, &keys[0], &keys[1],
                                      gnutls_record_get_max_size(session));
    explicit_bzero(keys, sizeof(keys));
    if (!self->rec)
        return;
    (void)zb_tls_expires(self); // read while the certificate is at hand
    self->version = (uint8_t)version;
    self->cipher = (uint8_t)cipher;
    zb_log_debug("tls: %s %s session with %s: records now carried by zb_tls_record",
                 gnutls_protocol_get_name(version), gnutls_cipher_get_name(cipher), self->name);
    gnutls_deinit(session);
    self->session = NULL;
    free(self->name); // GnuTLS's session pointed to it
    self->name = NULL;
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
        s_hand_over(self);
        //  Only the hand-over needs them: a session GnuTLS keeps (AES-CCM,
        //  CBC) would hold them until its close, 200 bytes of secrets.
        s_forget_secrets(self);
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
    if (self->rec)
        return zb_tls_record_write(self->rec, data, len, err, errsize);
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
    if (self->rec)
        return zb_tls_record_read(self->rec, buf, size, got, err, errsize);
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
    if (self->rec)
        return zb_tls_record_pending(self->rec);
    return gnutls_record_check_pending(self->session) > 0;
}

void zb_tls_shutdown(zb_tls_t *self)
{
    assert(self);
    if (self->rec)
        zb_tls_record_close(self->rec);
    else if (self->done)
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
    if (!self->expires && self->session)
        self->expires = s_leaf_expires(self->session);
    return self->expires;
}

const char *zb_tls_version(zb_tls_t *self)
{
    assert(self);
    //  OpenSSL's names: what zbeat has always printed.
    gnutls_protocol_t version = self->session ? gnutls_protocol_get_version(self->session)
                                              : (gnutls_protocol_t)self->version;
    switch (version) {
    case GNUTLS_TLS1_3:
        return "TLSv1.3";
    case GNUTLS_TLS1_2:
        return "TLSv1.2";
    default: {
        const char *name = gnutls_protocol_get_name(version);
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
    bool ccm; // TLS 1.3 with AES-128-CCM only (zb_tls_test_server_ccm)
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
    if (self->ccm)
        assert(gnutls_priority_set_direct(
                   session, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM", NULL) == 0);
    else
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
    gnutls_cipher_algorithm_t cipher =
        tls->session ? gnutls_cipher_get(tls->session) : (gnutls_cipher_algorithm_t)tls->cipher;
    return cipher == GNUTLS_CIPHER_CHACHA20_POLY1305;
}

bool zb_tls_test_carried(zb_tls_t *tls)
{
    return tls->rec != NULL;
}

void zb_tls_test_server_ccm(zb_tls_test_server_t *self)
{
    self->ccm = true;
}

bool zb_tls_test_secrets(zb_tls_t *tls)
{
    return tls->secrets != NULL;
}

unsigned *zb_tls_test_ended(void)
{
    return &s_ended;
}

bool zb_tls_test_no_contexts(void)
{
    return s_contexts == NULL;
}
