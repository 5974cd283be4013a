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
      zb-bench-tlslib HOST PORT CA NAME N [OPTION...]

    Options (wolfSSL): tls12, tls13 (else either), chacha (ChaCha20-Poly1305
    only), no-cache (session cache off), free-arrays (wolfSSL_FreeArrays after
    the handshake), mfl (max fragment length 512). mbed TLS: mfl.
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
#else
#error "build with -DZB_LIB_WOLFSSL or -DZB_LIB_MBEDTLS"
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
