/*  zb_tls's self-test, the same for every backend: a thread serves TLS on
    one end of a socket pair with a certificate made for the test
    (CN=localhost, 30 days) by the backend's own library
    (zb_tls_test.h); the probe's side is non-blocking and polled, through
    zb_tls.h alone.
*/
#include "zb_tls.h"
#include "zb_tls_test.h"

#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    zb_tls_test_server_t *server;
    int fd; // the server's end, blocking
} s_test_serving_t;

static void *s_test_serve(void *arg)
{
    s_test_serving_t *serving = arg;
    zb_tls_test_serve(serving->server, serving->fd);
    return NULL;
}

//  Waits on fd for what status asks.
static void s_test_wait(int fd, zb_tls_status_t status)
{
    struct pollfd item = {fd, status == ZB_TLS_WANT_WRITE ? POLLOUT : POLLIN, 0};
    assert(poll(&item, 1, 5000) == 1);
}

//  Whether ChaCha20-Poly1305 came first in the last successful s_test_run.
static bool s_test_chacha;
#ifdef ZB_TLS_RECORD
//  Whether the server's sessions stay with the library (zb_tls_test_server_ccm).
static bool s_test_uncarried;
#endif

//  One client run against a fresh server: three pings, each answered;
//  returns the handshake's verdict.
static zb_tls_status_t s_test_run(zb_tls_test_server_t *server, const char *ca, bool verify,
                                  const char *name, bool *verify_failed, char *err, size_t errsize,
                                  int64_t *expires)
{
    int pair[2];
    assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    //  The server's end blocks.
    int server_fd = dup(pair[1]);
    close(pair[1]);
    assert(server_fd >= 0);
    int fl = fcntl(server_fd, F_GETFL);
    assert(fcntl(server_fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    s_test_serving_t serving = {server, server_fd};
    pthread_t thread;
    assert(pthread_create(&thread, NULL, s_test_serve, &serving) == 0);
    zb_tls_ctx_t *ctx = zb_tls_ctx_get(ca, verify, err, errsize);
    assert(ctx);
    zb_tls_t *tls = zb_tls_new(ctx, pair[0], name);
    assert(tls);
    zb_tls_status_t status;
    while ((status = zb_tls_handshake(tls, verify_failed, err, errsize)) == ZB_TLS_WANT_READ ||
           status == ZB_TLS_WANT_WRITE)
        s_test_wait(pair[0], status);
    *expires = zb_tls_expires(tls);
#ifdef ZB_TLS_RECORD
    //  Once the handshake is done, the records are carried without the
    //  library: the pings below, and the server's KeyUpdate among them.
    assert(zb_tls_test_carried(tls) == (status == ZB_TLS_OK && !s_test_uncarried));
#endif
    //  The TLS 1.3 secrets kept for the hand-over are gone once it is
    //  decided, whatever it decided.
    assert(status != ZB_TLS_OK || !zb_tls_test_secrets(tls));
    for (int ping = 0; status == ZB_TLS_OK && ping < 3; ping++) {
        assert(strncmp(zb_tls_version(tls), "TLSv1.", 6) == 0);
        assert(zb_tls_write(tls, "PING\r\n", 6, err, errsize) == ZB_TLS_OK);
        char buf[16];
        size_t got = 0;
        zb_tls_status_t rc;
        while ((rc = zb_tls_read(tls, buf, sizeof(buf), &got, err, errsize)) == ZB_TLS_WANT_READ)
            s_test_wait(pair[0], rc);
        assert(rc == ZB_TLS_OK && got == 7 && memcmp(buf, "+PONG\r\n", 7) == 0);
    }
    if (status == ZB_TLS_OK) {
        assert(!zb_tls_test_secrets(tls)); // nor do KeyUpdates bring them back
        s_test_chacha = zb_tls_test_chacha(ctx, tls);
        zb_tls_shutdown(tls);
    }
    zb_tls_destroy(&tls);
    close(pair[0]);
    assert(pthread_join(thread, NULL) == 0);
    zb_tls_ctx_release(&ctx);
    return status;
}

void zb_tls_test(bool verbose)
{
    //  The test's server may write with write(2) or send(2) without
    //  MSG_NOSIGNAL: a peer gone mid-handshake must not kill the test (the
    //  agent ignores SIGPIPE too).
    signal(SIGPIPE, SIG_IGN);
    char ca[] = "/tmp/zb-tls-test-XXXXXX";
    int fd = mkstemp(ca);
    assert(fd >= 0);
    close(fd);
    zb_tls_test_server_t *server = zb_tls_test_server_new(ca);
    assert(server);
    unsigned *ended_p = zb_tls_test_ended();
    char err[256];
    bool refused;
    int64_t expires = 0, now = (int64_t)time(NULL);

    //  Without verification: up, and the expiry is the certificate's. The
    //  handshake is counted as ended, once. ChaCha20-Poly1305 came first
    //  (its record contexts are the smallest).
    unsigned ended = *ended_p;
    assert(s_test_run(server, NULL, false, "localhost", &refused, err, sizeof(err), &expires) ==
           ZB_TLS_OK);
    assert(*ended_p == ended + 1);
    assert(expires >= now + 30 * 86400 - 5 && expires <= now + 30 * 86400 + 5);
    assert(s_test_chacha);
    //  Verified against the system's store: a self-signed certificate fails,
    //  in OpenSSL's words whichever library is built in.
    assert(s_test_run(server, NULL, true, "localhost", &refused, err, sizeof(err), &expires) ==
           ZB_TLS_ERROR);
    if (verbose)
        printf("\n    %s", err);
    assert(refused && strcmp(err, "tls: certificate verify failed: self-signed certificate") == 0);
    //  A refused certificate still tells when it expires.
    assert(expires >= now + 30 * 86400 - 5 && expires <= now + 30 * 86400 + 5);
    //  Against its own CA file, by its name: up.
    assert(s_test_run(server, ca, true, "localhost", &refused, err, sizeof(err), &expires) ==
           ZB_TLS_OK);
    //  The wrong name, or an address not in the certificate, fails.
    assert(s_test_run(server, ca, true, "example.org", &refused, err, sizeof(err), &expires) ==
           ZB_TLS_ERROR);
    if (verbose)
        printf("\n    %s", err);
    assert(refused && strstr(err, "hostname mismatch"));
    assert(s_test_run(server, ca, true, "127.0.0.1", &refused, err, sizeof(err), &expires) ==
           ZB_TLS_ERROR);
    if (verbose)
        printf("\n    %s", err);
    assert(refused && strstr(err, "IP address mismatch"));
#ifdef ZB_TLS_RECORD
    //  A cipher zb_tls_record does not carry: the session stays GnuTLS's,
    //  KeyUpdate included, and the secrets kept for a hand-over are freed
    //  all the same.
    zb_tls_test_server_ccm(server);
    s_test_uncarried = true;
    assert(s_test_run(server, ca, true, "localhost", &refused, err, sizeof(err), &expires) ==
           ZB_TLS_OK);
    s_test_uncarried = false;
    ended++;
#endif
    //  Failed handshakes count too; the heap is trimmed after enough.
    assert(*ended_p == ended + 5);
    zb_tls_trim();
    assert(*ended_p == ended + 5);
    *ended_p = ZB_TLS_TRIM_AFTER;
    zb_tls_trim();
    assert(*ended_p == 0);
    //  Contexts are shared and freed with their last user.
    zb_tls_ctx_t *a = zb_tls_ctx_get(ca, true, err, sizeof(err));
    zb_tls_ctx_t *b = zb_tls_ctx_get(ca, true, err, sizeof(err));
    zb_tls_ctx_t *c = zb_tls_ctx_get(ca, false, err, sizeof(err));
    assert(a && a == b && c != a);
    zb_tls_ctx_release(&a);
    zb_tls_ctx_release(&b);
    zb_tls_ctx_release(&c);
    assert(!a && zb_tls_test_no_contexts());
    //  An unreadable CA file, or one without a certificate, is an error
    //  with the library's words.
    assert(!zb_tls_ctx_get("/nonexistent/ca.pem", true, err, sizeof(err)));
    if (verbose)
        printf("\n    %s", err);
    assert(strstr(err, "tls: cannot load CA file /nonexistent/ca.pem: ") == err);
    assert(!zb_tls_ctx_get("/dev/null", true, err, sizeof(err)));
    if (verbose)
        printf("\n    %s", err);
    assert(strstr(err, "tls: cannot load CA file /dev/null: ") == err);
    unlink(ca);
    zb_tls_test_server_destroy(&server);
    assert(!server);
    if (verbose)
        printf("\n");
}
