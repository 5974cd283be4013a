/*  zb_stream: bytes over a probe's connection, in the clear or inside a
    TLS session (zb_tls), so the probe's state machine says what to send
    and when without caring which.

    A connection is its socket and, with `tls`, its session (NULL in the
    clear); both stay the caller's, who passes them to each call.
*/
#ifndef ZB_STREAM_H
#define ZB_STREAM_H

#include "zb_loop.h"
#include "zb_tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ZB_STREAM_SECURE,    // the TLS session is set up
    ZB_STREAM_HANDSHAKE, // under way: the loop watches fd for what it waits for
    ZB_STREAM_CLOSED,    // the peer closed (or refused us) before it was done
    ZB_STREAM_FAILED     // failed, a certificate refused included: err says why
} zb_stream_handshake_t;

//  Drives a TLS session's handshake on fd, never blocking: while it is
//  under way fd is watched in loop for reading or writing, as it needs.
//  The certificate's notAfter goes to *expires once the peer has shown it
//  (left alone before). err (size esize) is written for ZB_STREAM_FAILED.
zb_stream_handshake_t zb_stream_handshake(zb_loop_t *loop, int fd, zb_tls_t *tls, int64_t *expires,
                                          char *err, size_t esize);

//  Sends all len bytes at once (a ping is small and the socket buffer
//  empty), never blocking. Returns NULL when they went; else the failure's
//  reason ("closed", "tls" or "error") with error saying what happened.
const char *zb_stream_send(int fd, zb_tls_t *tls, const char *data, size_t len, char *error,
                           size_t size);

typedef enum {
    ZB_STREAM_DATA = 0, // *got > 0 bytes read
    ZB_STREAM_AGAIN,    // nothing more to read now
    ZB_STREAM_EOF,      // the peer closed the connection (or the session)
    ZB_STREAM_BROKEN,   // in the clear: the connection is broken, *error an errno value
    ZB_STREAM_TLS_ERROR // a broken record or an alert: the session is over, err says why
} zb_stream_result_t;

//  Reads up to size bytes into buf, never blocking. err (size esize) is
//  written for ZB_STREAM_TLS_ERROR only.
zb_stream_result_t zb_stream_read(int fd, zb_tls_t *tls, char *buf, size_t size, size_t *got,
                                  int *error, char *err, size_t esize);

//  How many reads one readable event may make: one, and then, for TLS,
//  as long as the session holds read bytes (a record read whole may hold
//  more than one read's worth, which the socket will not announce again).
//  Whatever is still in the socket is announced again (the loop is
//  level-triggered), so one busy connection cannot starve the loop, and no
//  read is made only to learn that nothing is left: at 10,000 held HTTPS
//  probes that read was a third of the agent's system calls.
bool zb_stream_read_more(zb_tls_t *tls, int reads);

//  Before a close that ends a check without holding the connection: what
//  the server sent and we did not need (a banner, the rest of a reply; up
//  to 64 KiB) is read, since closing a socket with unread data sends a
//  reset instead of a FIN, and servers log resets; a TLS session says
//  close_notify.
void zb_stream_drain(int fd, zb_tls_t *tls);

//  Frees the session (without a word to the peer), takes the socket out of
//  the loop and closes it; *fd_p is -1 and *tls_p NULL after.
void zb_stream_close(zb_loop_t *loop, int *fd_p, zb_tls_t **tls_p);

#endif
