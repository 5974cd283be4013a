/*  zb_stream: bytes over a probe's connection. See zb_stream.h. */
#include "zb_stream.h"
#include "zb_msg.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ZB_STREAM_DRAIN_MAX 65536 // bytes read before a close, so it is a FIN

zb_stream_handshake_t zb_stream_handshake(zb_loop_t *loop, int fd, zb_tls_t *tls, int64_t *expires,
                                          char *err, size_t esize)
{
    assert(loop && fd != -1 && tls && expires && err);
    bool refused;
    zb_tls_status_t rc = zb_tls_handshake(tls, &refused, err, esize);
    int64_t notafter = zb_tls_expires(tls);
    if (notafter)
        *expires = notafter; // an expired certificate shows when it expired
    if (rc == ZB_TLS_OK)
        return ZB_STREAM_SECURE;
    if (rc == ZB_TLS_WANT_READ || rc == ZB_TLS_WANT_WRITE) {
        if (zb_loop_mod_fd(loop, fd, rc == ZB_TLS_WANT_READ ? ZB_LOOP_READ : ZB_LOOP_WRITE) == 0)
            return ZB_STREAM_HANDSHAKE;
        snprintf(err, esize, "epoll: %s", strerror(errno));
    }
    return rc == ZB_TLS_CLOSED ? ZB_STREAM_CLOSED : ZB_STREAM_FAILED;
}

const char *zb_stream_send(int fd, zb_tls_t *tls, const char *data, size_t len, char *error,
                           size_t size)
{
    assert(fd != -1 && error && size > 0);
    if (tls) {
        zb_tls_status_t rc = zb_tls_write(tls, data, len, error, size);
        if (rc == ZB_TLS_OK)
            return NULL;
        if (rc == ZB_TLS_WANT_READ || rc == ZB_TLS_WANT_WRITE)
            snprintf(error, size, "tls: write: the connection is not ready for a %zu-byte ping",
                     len);
        else if (rc == ZB_TLS_CLOSED)
            snprintf(error, size, "send: connection closed by peer");
        return rc == ZB_TLS_CLOSED ? "closed" : "tls";
    }
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)len)
        return NULL;
    if (n == -1)
        snprintf(error, size, "send: %s", strerror(errno));
    else
        snprintf(error, size, "send: only %zd of %zu bytes fit", n, len);
    return n == -1 && (errno == EPIPE || errno == ECONNRESET) ? "closed" : "error";
}

zb_stream_result_t zb_stream_read(int fd, zb_tls_t *tls, char *buf, size_t size, size_t *got,
                                  int *error, char *err, size_t esize)
{
    assert(fd != -1 && buf && got && error && err);
    *got = 0;
    *error = 0;
    if (!tls) {
        ssize_t n = recv(fd, buf, size, 0);
        if (n > 0) {
            *got = (size_t)n;
            return ZB_STREAM_DATA;
        }
        if (n == 0)
            return ZB_STREAM_EOF;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return ZB_STREAM_AGAIN;
        *error = errno;
        return ZB_STREAM_BROKEN;
    }
    zb_tls_status_t rc = zb_tls_read(tls, buf, size, got, err, esize);
    if (rc == ZB_TLS_OK)
        return ZB_STREAM_DATA;
    if (rc == ZB_TLS_CLOSED)
        return ZB_STREAM_EOF;
    if (rc == ZB_TLS_ERROR)
        return ZB_STREAM_TLS_ERROR;
    return ZB_STREAM_AGAIN; // WANT_READ: all read; WANT_WRITE (a renegotiation) is not done
}

bool zb_stream_read_more(zb_tls_t *tls, int reads)
{
    return reads < 1 || (tls && zb_tls_pending(tls));
}

void zb_stream_drain(int fd, zb_tls_t *tls)
{
    char buf[4096];
    for (size_t total = 0; fd != -1 && total < ZB_STREAM_DRAIN_MAX;) {
        ssize_t n;
        if (tls) {
            char err[ZB_ERROR_MAX + 1];
            size_t got;
            n = zb_tls_read(tls, buf, sizeof(buf), &got, err, sizeof(err)) == ZB_TLS_OK
                    ? (ssize_t)got
                    : 0;
        } else
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    if (tls)
        zb_tls_shutdown(tls); // close_notify: a TLS server logs a close without one
}

void zb_stream_close(zb_loop_t *loop, int *fd_p, zb_tls_t **tls_p)
{
    assert(loop && fd_p && tls_p);
    zb_tls_destroy(tls_p);
    if (*fd_p != -1) {
        zb_loop_del_fd(loop, *fd_p);
        close(*fd_p);
        *fd_p = -1;
    }
}
