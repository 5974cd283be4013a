/*  zb-bench-tlslib: what an idle TLS client session costs in a library the
    agent does not use (yet), before anyone writes a zb_tls backend for it.

    Opens N connections to a TLS server one after another (non-blocking,
    polled), each verified against a CA file and a name, reads the peer
    certificate's notAfter, sends one keep-alive GET and reads the answer,
    then holds them all and prints the heap in use per session: malloc's
    in-use bytes (mallinfo2, headers included) and, for wolfSSL, the bytes
    it asked for (its allocator hooks). docs/benchmarks.md, item 4t, fifth
    look. Not built by CMake (neither library is a dependency):

      cc -O2 -DZB_LIB_WOLFSSL bench/zb_bench_tlslib.c -lwolfssl -o zb-bench-tlslib
      cc -O2 -DZB_LIB_MBEDTLS bench/zb_bench_tlslib.c -lmbedtls -lmbedx509 -lmbedcrypto \
          -o zb-bench-tlslib
      cc -O2 -DZB_LIB_BEARSSL bench/zb_bench_tlslib.c -lbearssl -o zb-bench-tlslib
      zb-bench-tlslib HOST PORT CA NAME N [OPTION...]

    Options (wolfSSL): tls12, tls13 (else either), chacha (ChaCha20-Poly1305
    only), no-cache (session cache off), free-arrays (wolfSSL_FreeArrays after
    the handshake), mfl (max fragment length 512). mbed TLS: mfl.
    BearSSL (TLS 1.2 only; it never allocates, the sessions are what this
    tool gives it): buffer=BYTES (its I/O buffer, one per session, half
    duplex; 16709 by default: smaller asks the server for a max fragment
    length of 2^k if it holds 2^k + 325 B: 4421, 2373, 1349, 837),
    free-x509 (drop the X.509 context after the handshake), path=/PATH (the
    GET's target), gets=K (K more GETs on every held session, timed). It
    also prints what the CA file's anchors cost and the CPU per connection.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_REQUEST "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

static const char *s_options = "";

static bool s_option(const char *name)
{
    return strstr(s_options, name) != NULL;
}

static int s_connect(const char *host, int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &addr.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("connect");
        exit(1);
    }
    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void s_wait(int fd, bool write)
{
    struct pollfd item = {fd, write ? POLLOUT : POLLIN, 0};
    if (poll(&item, 1, 5000) != 1) {
        fprintf(stderr, "timed out\n");
        exit(1);
    }
}

#if defined(ZB_LIB_WOLFSSL)
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

//  What wolfSSL asked for and still holds; a size before each block.
static long s_held;
#define S_HEADER 16

static void *s_malloc(size_t size)
{
    size_t *block = malloc(size + S_HEADER);
    if (!block)
        return NULL;
    block[0] = size;
    s_held += (long)size;
    return (char *)block + S_HEADER;
}

static void s_free(void *ptr)
{
    if (!ptr)
        return;
    size_t *block = (size_t *)((char *)ptr - S_HEADER);
    s_held -= (long)block[0];
    free(block);
}

static void *s_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return s_malloc(size);
    size_t *block = (size_t *)((char *)ptr - S_HEADER);
    long before = (long)block[0];
    block = realloc(block, size + S_HEADER);
    if (!block)
        return NULL;
    block[0] = size;
    s_held += (long)size - before;
    return (char *)block + S_HEADER;
}

static void s_check(WOLFSSL *ssl, int rc, int fd, const char *what)
{
    int code = wolfSSL_get_error(ssl, rc);
    if (code != WOLFSSL_ERROR_WANT_READ && code != WOLFSSL_ERROR_WANT_WRITE) {
        char text[WOLFSSL_MAX_ERROR_SZ];
        fprintf(stderr, "%s: %s\n", what, wolfSSL_ERR_error_string((unsigned long)code, text));
        exit(1);
    }
    s_wait(fd, code == WOLFSSL_ERROR_WANT_WRITE);
}

static void s_run(const char *host, int port, const char *ca, const char *name, int count)
{
    wolfSSL_SetAllocators(s_malloc, s_free, s_realloc);
    wolfSSL_Init();
    WOLFSSL_METHOD *method = s_option("tls12")   ? wolfTLSv1_2_client_method()
                             : s_option("tls13") ? wolfTLSv1_3_client_method()
                                                 : wolfSSLv23_client_method();
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(method);
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    if (!ctx || wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "cannot load %s\n", ca);
        exit(1);
    }
    if (s_option("no-cache"))
        wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
    if (s_option("chacha"))
        wolfSSL_CTX_set_cipher_list(ctx,
                                    "TLS13-CHACHA20-POLY1305-SHA256:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    bool is_ip = strspn(name, "0123456789.") == strlen(name);
    WOLFSSL **sessions = calloc((size_t)count, sizeof(*sessions));
    struct mallinfo2 before = mallinfo2();
    long held = s_held;
    for (int i = 0; i < count; i++) {
        int fd = s_connect(host, port);
        WOLFSSL *ssl = wolfSSL_new(ctx);
        wolfSSL_set_fd(ssl, fd);
        if (is_ip)
            wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(wolfSSL_get0_param(ssl), name);
        else {
            wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, name, (unsigned short)strlen(name));
            wolfSSL_check_domain_name(ssl, name);
        }
        if (s_option("mfl"))
            wolfSSL_UseMaxFragment(ssl, WOLFSSL_MFL_2_9);
        int rc;
        while ((rc = wolfSSL_connect(ssl)) != WOLFSSL_SUCCESS)
            s_check(ssl, rc, fd, "handshake");
        WOLFSSL_X509 *cert = wolfSSL_get_peer_certificate(ssl);
        struct tm tm;
        if (!cert || wolfSSL_ASN1_TIME_to_tm(wolfSSL_X509_get_notAfter(cert), &tm) != 1) {
            fprintf(stderr, "no notAfter\n");
            exit(1);
        }
        wolfSSL_X509_free(cert);
        if (s_option("free-arrays"))
            wolfSSL_FreeArrays(ssl);
        while ((rc = wolfSSL_write(ssl, S_REQUEST, (int)strlen(S_REQUEST))) <= 0)
            s_check(ssl, rc, fd, "write");
        char buf[512];
        while ((rc = wolfSSL_read(ssl, buf, sizeof(buf))) <= 0)
            s_check(ssl, rc, fd, "read");
        sessions[i] = ssl;
    }
    struct mallinfo2 after = mallinfo2();
    printf("wolfSSL %s, %s %s: %ld B per session (malloc in use), %ld B asked for\n",
           wolfSSL_lib_version(), wolfSSL_get_version(sessions[0]), wolfSSL_get_cipher(sessions[0]),
           (long)(after.uordblks - before.uordblks) / count, (s_held - held) / count);
    for (int i = 0; i < count; i++) {
        int fd = wolfSSL_get_fd(sessions[i]);
        wolfSSL_free(sessions[i]);
        close(fd);
    }
    free(sessions);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
}

#elif defined(ZB_LIB_MBEDTLS)
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

static int s_send(void *arg, const unsigned char *data, size_t len)
{
    ssize_t n = send(*(int *)arg, data, len, MSG_NOSIGNAL);
    if (n < 0)
        return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : -1;
    return (int)n;
}

static int s_recv(void *arg, unsigned char *buf, size_t size)
{
    ssize_t n = recv(*(int *)arg, buf, size, 0);
    if (n < 0)
        return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : -1;
    return (int)n;
}

static void s_check(int rc, int fd, const char *what)
{
    if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
        fprintf(stderr, "%s: -0x%x\n", what, (unsigned)-rc);
        exit(1);
    }
    s_wait(fd, rc == MBEDTLS_ERR_SSL_WANT_WRITE);
}

static void s_run(const char *host, int port, const char *ca, const char *name, int count)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt chain;
    mbedtls_ssl_config config;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&chain);
    mbedtls_ssl_config_init(&config);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
        mbedtls_x509_crt_parse_file(&chain, ca) != 0 ||
        mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        fprintf(stderr, "cannot set up (CA %s)\n", ca);
        exit(1);
    }
    mbedtls_ssl_conf_authmode(&config, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&config, &chain, NULL);
    mbedtls_ssl_conf_rng(&config, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_session_tickets(&config, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    if (s_option("mfl"))
        mbedtls_ssl_conf_max_frag_len(&config, MBEDTLS_SSL_MAX_FRAG_LEN_512);
    mbedtls_ssl_context *sessions = calloc((size_t)count, sizeof(*sessions));
    int *fds = calloc((size_t)count, sizeof(*fds));
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < count; i++) {
        fds[i] = s_connect(host, port);
        mbedtls_ssl_context *ssl = &sessions[i];
        mbedtls_ssl_init(ssl);
        if (mbedtls_ssl_setup(ssl, &config) != 0 || mbedtls_ssl_set_hostname(ssl, name) != 0) {
            fprintf(stderr, "cannot make a session\n");
            exit(1);
        }
        mbedtls_ssl_set_bio(ssl, &fds[i], s_send, s_recv, NULL);
        int rc;
        while ((rc = mbedtls_ssl_handshake(ssl)) != 0)
            s_check(rc, fds[i], "handshake");
        const mbedtls_x509_crt *cert = mbedtls_ssl_get_peer_cert(ssl);
        if (!cert || cert->valid_to.year < 2000) {
            fprintf(stderr, "no notAfter\n");
            exit(1);
        }
        while ((rc = mbedtls_ssl_write(ssl, (const unsigned char *)S_REQUEST, strlen(S_REQUEST))) <=
               0)
            s_check(rc, fds[i], "write");
        unsigned char buf[512];
        while ((rc = mbedtls_ssl_read(ssl, buf, sizeof(buf))) <= 0)
            s_check(rc, fds[i], "read");
    }
    struct mallinfo2 after = mallinfo2();
    printf("mbed TLS %s, %s %s: %ld B per session (malloc in use)\n", MBEDTLS_VERSION_STRING,
           mbedtls_ssl_get_version(&sessions[0]), mbedtls_ssl_get_ciphersuite(&sessions[0]),
           (long)(after.uordblks - before.uordblks) / count);
    for (int i = 0; i < count; i++) {
        mbedtls_ssl_free(&sessions[i]);
        close(fds[i]);
    }
    free(sessions);
    free(fds);
    mbedtls_ssl_config_free(&config);
    mbedtls_x509_crt_free(&chain);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}
#elif defined(ZB_LIB_BEARSSL)
#include <bearssl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>

//  Days from 1 January of year 0 (BearSSL's X.509 epoch) to 1 January 1970.
#define S_UNIX_DAYS 719528

//  Trust anchors: the CA file's certificates, decoded once for all sessions.
typedef struct {
    br_x509_trust_anchor *list;
    size_t count;
    unsigned char *dn;
    size_t dn_len, dn_size;
} s_anchors_t;

static void s_append(unsigned char **data, size_t *len, size_t *size, const void *more, size_t n)
{
    if (*len + n > *size) {
        *size = (*len + n) * 2;
        *data = realloc(*data, *size);
        if (!*data)
            exit(1);
    }
    memcpy(*data + *len, more, n);
    *len += n;
}

static void s_append_dn(void *arg, const void *data, size_t len)
{
    s_anchors_t *anchors = arg;
    s_append(&anchors->dn, &anchors->dn_len, &anchors->dn_size, data, len);
}

typedef struct {
    unsigned char *data;
    size_t len, size;
} s_bytes_t;

static void s_append_der(void *arg, const void *data, size_t len)
{
    s_bytes_t *der = arg;
    s_append(&der->data, &der->len, &der->size, data, len);
}

static void *s_copy(const void *data, size_t len)
{
    void *copy = malloc(len);
    if (!copy)
        exit(1);
    memcpy(copy, data, len);
    return copy;
}

//  One anchor from one DER certificate; its DN and key copied out of the
//  decoder (which owns them only until it is reused).
static void s_anchor_add(s_anchors_t *anchors, const unsigned char *der, size_t len)
{
    br_x509_decoder_context decoder;
    anchors->dn_len = 0;
    br_x509_decoder_init(&decoder, s_append_dn, anchors);
    br_x509_decoder_push(&decoder, der, len);
    const br_x509_pkey *key = br_x509_decoder_get_pkey(&decoder);
    if (!key)
        return; // e.g. a key type BearSSL does not know: skipped, as a store loader would
    anchors->list = realloc(anchors->list, (anchors->count + 1) * sizeof(*anchors->list));
    br_x509_trust_anchor *anchor = &anchors->list[anchors->count++];
    anchor->dn.data = s_copy(anchors->dn, anchors->dn_len);
    anchor->dn.len = anchors->dn_len;
    anchor->flags = br_x509_decoder_isCA(&decoder) ? BR_X509_TA_CA : 0;
    anchor->pkey.key_type = key->key_type;
    if (key->key_type == BR_KEYTYPE_RSA) {
        anchor->pkey.key.rsa.n = s_copy(key->key.rsa.n, key->key.rsa.nlen);
        anchor->pkey.key.rsa.nlen = key->key.rsa.nlen;
        anchor->pkey.key.rsa.e = s_copy(key->key.rsa.e, key->key.rsa.elen);
        anchor->pkey.key.rsa.elen = key->key.rsa.elen;
    } else {
        anchor->pkey.key.ec.curve = key->key.ec.curve;
        anchor->pkey.key.ec.q = s_copy(key->key.ec.q, key->key.ec.qlen);
        anchor->pkey.key.ec.qlen = key->key.ec.qlen;
    }
}

static void s_anchors_load(s_anchors_t *anchors, const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        perror(path);
        exit(1);
    }
    br_pem_decoder_context pem;
    br_pem_decoder_init(&pem);
    s_bytes_t der = {0};
    bool is_cert = false;
    unsigned char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), file)) > 0) {
        const unsigned char *at = chunk;
        while (n > 0) {
            size_t used = br_pem_decoder_push(&pem, at, n);
            at += used;
            n -= used;
            switch (br_pem_decoder_event(&pem)) {
            case BR_PEM_BEGIN_OBJ:
                is_cert = strcmp(br_pem_decoder_name(&pem), "CERTIFICATE") == 0 ||
                          strcmp(br_pem_decoder_name(&pem), "X509 CERTIFICATE") == 0;
                der.len = 0;
                br_pem_decoder_setdest(&pem, is_cert ? s_append_der : NULL, &der);
                break;
            case BR_PEM_END_OBJ:
                if (is_cert)
                    s_anchor_add(anchors, der.data, der.len);
                break;
            case BR_PEM_ERROR:
                fprintf(stderr, "%s: bad PEM\n", path);
                exit(1);
            }
        }
    }
    fclose(file);
    free(der.data);
    free(anchors->dn);
    anchors->dn = NULL;
    anchors->dn_len = anchors->dn_size = 0;
}

static void s_anchors_free(s_anchors_t *anchors)
{
    for (size_t i = 0; i < anchors->count; i++) {
        br_x509_trust_anchor *anchor = &anchors->list[i];
        free(anchor->dn.data);
        if (anchor->pkey.key_type == BR_KEYTYPE_RSA) {
            free(anchor->pkey.key.rsa.n);
            free(anchor->pkey.key.rsa.e);
        } else
            free(anchor->pkey.key.ec.q);
    }
    free(anchors->list);
}

//  br_x509_minimal checks the chain (and the validity dates) but keeps no
//  date; this class wraps it and streams the end-entity certificate, the
//  first of the chain, through an X.509 decoder as well, for its notAfter.
typedef struct {
    const br_x509_class *vtable;
    br_x509_minimal_context minimal;
    br_x509_decoder_context decoder;
    uint32_t index;
} s_x509_t;

#define S_INNER(ctx) (&((s_x509_t *)(void *)(ctx))->minimal.vtable)

static void s_x509_start_chain(const br_x509_class **ctx, const char *server_name)
{
    s_x509_t *x509 = (s_x509_t *)(void *)ctx;
    x509->index = 0;
    br_x509_decoder_init(&x509->decoder, NULL, NULL);
    (*S_INNER(ctx))->start_chain(S_INNER(ctx), server_name);
}

static void s_x509_start_cert(const br_x509_class **ctx, uint32_t length)
{
    (*S_INNER(ctx))->start_cert(S_INNER(ctx), length);
}

static void s_x509_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    s_x509_t *x509 = (s_x509_t *)(void *)ctx;
    if (x509->index == 0)
        br_x509_decoder_push(&x509->decoder, buf, len);
    (*S_INNER(ctx))->append(S_INNER(ctx), buf, len);
}

static void s_x509_end_cert(const br_x509_class **ctx)
{
    ((s_x509_t *)(void *)ctx)->index++;
    (*S_INNER(ctx))->end_cert(S_INNER(ctx));
}

static unsigned s_x509_end_chain(const br_x509_class **ctx)
{
    return (*S_INNER(ctx))->end_chain(S_INNER(ctx));
}

static const br_x509_pkey *s_x509_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    const br_x509_class *const *inner = &((const s_x509_t *)(const void *)ctx)->minimal.vtable;
    return (*inner)->get_pkey(inner, usages);
}

static const br_x509_class s_x509_class = {sizeof(s_x509_t), s_x509_start_chain, s_x509_start_cert,
                                           s_x509_append,    s_x509_end_cert,    s_x509_end_chain,
                                           s_x509_get_pkey};

typedef struct {
    br_ssl_client_context client;
    s_x509_t *x509; // only for the handshake with free-x509
    unsigned char *buffer;
    int fd;
} s_session_t;

//  Moves records until the engine can do what `want` says (BR_SSL_SENDAPP,
//  BR_SSL_RECVAPP, or 0: until everything queued is sent).
static void s_pump(s_session_t *session, unsigned want, const char *what)
{
    br_ssl_engine_context *engine = &session->client.eng;
    for (;;) {
        unsigned state = br_ssl_engine_current_state(engine);
        if (state & BR_SSL_CLOSED) {
            fprintf(stderr, "%s: BearSSL error %d\n", what, br_ssl_engine_last_error(engine));
            exit(1);
        }
        if (state & BR_SSL_SENDREC) {
            size_t len;
            unsigned char *data = br_ssl_engine_sendrec_buf(engine, &len);
            ssize_t n = send(session->fd, data, len, MSG_NOSIGNAL);
            if (n > 0)
                br_ssl_engine_sendrec_ack(engine, (size_t)n);
            else if (n < 0 && errno == EAGAIN)
                s_wait(session->fd, true);
            else {
                perror("send");
                exit(1);
            }
            continue;
        }
        if (want == 0 || (state & want))
            return;
        if (state & BR_SSL_RECVREC) {
            size_t len;
            unsigned char *data = br_ssl_engine_recvrec_buf(engine, &len);
            ssize_t n = recv(session->fd, data, len, 0);
            if (n > 0)
                br_ssl_engine_recvrec_ack(engine, (size_t)n);
            else if (n < 0 && errno == EAGAIN)
                s_wait(session->fd, false);
            else {
                fprintf(stderr, "%s: connection closed\n", what);
                exit(1);
            }
        }
    }
}

//  This process's CPU seconds, user (is_user) or system.
static double s_cpu(bool is_user)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    struct timeval *time = is_user ? &usage.ru_utime : &usage.ru_stime;
    return (double)time->tv_sec + (double)time->tv_usec / 1e6;
}

static double s_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

//  One GET on the session and its whole answer (headers and Content-Length).
static size_t s_get(s_session_t *session, const char *request)
{
    br_ssl_engine_context *engine = &session->client.eng;
    s_pump(session, BR_SSL_SENDAPP, "write");
    size_t room;
    unsigned char *out = br_ssl_engine_sendapp_buf(engine, &room);
    size_t len = strlen(request);
    if (room < len) {
        fprintf(stderr, "request does not fit (%zu B)\n", room);
        exit(1);
    }
    memcpy(out, request, len);
    br_ssl_engine_sendapp_ack(engine, len);
    br_ssl_engine_flush(engine, 0);
    s_pump(session, 0, "write");
    // The answer's first bytes (headers) are kept to find its total length.
    char head[1024];
    size_t head_len = 0, total = 0, want = (size_t)-1, header_len = 0;
    while (total < want) {
        s_pump(session, BR_SSL_RECVAPP, "read");
        unsigned char *data = br_ssl_engine_recvapp_buf(engine, &len);
        size_t copy = len < sizeof(head) - 1 - head_len ? len : sizeof(head) - 1 - head_len;
        memcpy(head + head_len, data, copy);
        head_len += copy;
        head[head_len] = 0;
        total += len;
        br_ssl_engine_recvapp_ack(engine, len);
        char *end = strstr(head, "\r\n\r\n");
        char *length = strcasestr(head, "\r\nContent-Length:");
        if (want == (size_t)-1 && end && length) {
            header_len = (size_t)(end + 4 - head);
            want = header_len + (size_t)atol(length + 17);
        }
    }
    size_t body = total - header_len;
    return body;
}

static void s_run(const char *host, int port, const char *ca, const char *name, int count)
{
    size_t size = BR_SSL_BUFSIZE_MONO;
    const char *option = strstr(s_options, "buffer=");
    if (option)
        size = (size_t)atol(option + 7);
    const char *path = strstr(s_options, "path=");
    char request[256];
    snprintf(request, sizeof(request), "GET %.*s HTTP/1.1\r\nHost: %s\r\n\r\n",
             path ? (int)strcspn(path + 5, " ") : 1, path ? path + 5 : "/", name);
    bool free_x509 = s_option("free-x509");

    struct mallinfo2 start = mallinfo2();
    s_anchors_t anchors = {0};
    s_anchors_load(&anchors, ca);
    struct mallinfo2 loaded = mallinfo2();
    printf("anchors: %zu from %s, %ld B (malloc in use)\n", anchors.count, ca,
           (long)(loaded.uordblks - start.uordblks));

    s_session_t **sessions = calloc((size_t)count, sizeof(*sessions));
    long body = 0;
    double wall = s_now(), user = s_cpu(true), system = s_cpu(false);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < count; i++) {
        s_session_t *session = calloc(1, sizeof(*session));
        session->x509 = calloc(1, sizeof(*session->x509));
        session->buffer = malloc(size);
        session->fd = s_connect(host, port);
        // BearSSL sends the handshake's last flight a record at a time: without
        // this, Nagle holds the Finished for the server's delayed ACK (40 ms).
        int one = 1;
        (void)setsockopt(session->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        br_ssl_client_init_full(&session->client, &session->x509->minimal, anchors.list,
                                anchors.count);
        session->x509->vtable = &s_x509_class;
        br_ssl_engine_set_x509(&session->client.eng, &session->x509->vtable);
        // No renegotiation: the X.509 context is then not needed after the handshake.
        br_ssl_engine_add_flags(&session->client.eng, BR_OPT_NO_RENEGOTIATION);
        br_ssl_engine_set_buffer(&session->client.eng, session->buffer, size, 0);
        if (!br_ssl_client_reset(&session->client, name, 0)) {
            fprintf(stderr, "reset: BearSSL error %d\n",
                    br_ssl_engine_last_error(&session->client.eng));
            exit(1);
        }
        s_pump(session, BR_SSL_SENDAPP, "handshake");
        if (br_x509_decoder_last_error(&session->x509->decoder) != 0) {
            fprintf(stderr, "no notAfter\n");
            exit(1);
        }
        time_t not_after = (time_t)(session->x509->decoder.notafter_days - S_UNIX_DAYS) * 86400 +
                           session->x509->decoder.notafter_seconds;
        if (i == 0) {
            char text[64];
            strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", gmtime(&not_after));
            printf("notAfter %s\n", text);
        }
        if (free_x509) {
            free(session->x509);
            session->x509 = NULL;
        }
        body += (long)s_get(session, request);
        sessions[i] = session;
    }
    struct mallinfo2 after = mallinfo2();
    wall = s_now() - wall;
    user = s_cpu(true) - user;
    system = s_cpu(false) - system;
    br_ssl_engine_context *engine = &sessions[0]->client.eng;
    br_ssl_session_parameters params;
    br_ssl_engine_get_session_parameters(engine, &params);
    printf("BearSSL 0.6, version 0x%04x suite 0x%04x, buffer %zu B, max fragment length: "
           "2^%u asked for (2^14: not asked; whether the server agreed is not kept), "
           "max_frag_len %u, %ld B of bodies per session\n",
           br_ssl_engine_get_version(engine), params.cipher_suite, size, engine->log_max_frag_len,
           engine->max_frag_len, body / count);
    printf("%ld B per session (malloc in use); static: br_ssl_client_context %zu, "
           "x509 wrapper %zu (br_x509_minimal_context %zu + decoder %zu)%s, buffer %zu\n",
           (long)(after.uordblks - before.uordblks) / count, sizeof(br_ssl_client_context),
           sizeof(s_x509_t), sizeof(br_x509_minimal_context), sizeof(br_x509_decoder_context),
           free_x509 ? " freed after the handshake" : "", size);
    printf("per connection (handshake and GET): %.2f ms wall, CPU %.2f ms user + %.2f ms system\n",
           wall * 1e3 / count, user * 1e3 / count, system * 1e3 / count);
    // More keep-alive GETs on the held sessions, as the agent's probes do, for their CPU.
    option = strstr(s_options, "gets=");
    int rounds = option ? atoi(option + 5) : 0;
    if (rounds > 0) {
        wall = s_now();
        user = s_cpu(true);
        system = s_cpu(false);
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < count; i++)
                (void)s_get(sessions[i], request);
        double gets = (double)rounds * count;
        printf("per further GET (%.0f): %.1f us wall, CPU %.1f us user + %.1f us system\n", gets,
               (s_now() - wall) * 1e6 / gets, (s_cpu(true) - user) * 1e6 / gets,
               (s_cpu(false) - system) * 1e6 / gets);
    }
    for (int i = 0; i < count; i++) {
        close(sessions[i]->fd);
        free(sessions[i]->x509);
        free(sessions[i]->buffer);
        free(sessions[i]);
    }
    free(sessions);
    s_anchors_free(&anchors);
}
#else
#error "build with -DZB_LIB_WOLFSSL, -DZB_LIB_MBEDTLS or -DZB_LIB_BEARSSL"
#endif

int main(int argc, char *argv[])
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT CA NAME N [OPTION...]\n", argv[0]);
        return 2;
    }
    static char options[512];
    for (int i = 6; i < argc; i++) {
        strncat(options, argv[i], sizeof(options) - strlen(options) - 2);
        strcat(options, " ");
    }
    s_options = options;
    int count = atoi(argv[5]);
    if (count < 1)
        return 2;
    s_run(argv[1], atoi(argv[2]), argv[3], argv[4], count);
    return 0;
}
