/*  zb_http_guard: total deadlines for HTTP requests, and room for new ones.

    libmicrohttpd's connection timeout restarts with every byte received, so
    a client sending one byte every few seconds (slowloris) holds its
    connection, and its thread, for ever; 64 of them take every slot. The
    guard follows each connection from libmicrohttpd's notify-connection
    callback and its request callbacks, and cuts (shutdown(2), after which
    libmicrohttpd's own thread closes it):

    - a connection whose request line and headers are not complete within
      header_ms of its start, or of the end of its previous request
      (keep-alive);
    - a request whose answer is not sent within answer_ms of its headers;
    - when a new connection leaves fewer than `reserve` free slots, the
      connection that has waited longest for its headers (and at least a
      tenth of header_ms), so a client that sends its request at once
      always finds a slot.

    A watchdog thread checks the deadlines every ZB_HTTP_GUARD_TICK_MS.
*/
#ifndef ZB_HTTP_GUARD_H
#define ZB_HTTP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#define ZB_HTTP_GUARD_TICK_MS 100

typedef struct _zb_http_guard_t zb_http_guard_t;
typedef struct _zb_http_guard_conn_t zb_http_guard_conn_t;

//  Counters, for the log and the tests.
typedef struct {
    uint64_t cut_headers; // connections cut at the header deadline
    uint64_t cut_answer;  // requests cut at the answer deadline
    uint64_t evicted;     // connections cut to keep free slots
    int open;             // connections open now
} zb_http_guard_stats_t;

//  slots: the server's connection limit; reserve: free slots kept for new
//  connections. Starts the watchdog thread; NULL when it cannot.
zb_http_guard_t *zb_http_guard_new(int slots, int reserve, int64_t header_ms, int64_t answer_ms);

//  Stops the watchdog. Every connection must have been closed before.
void zb_http_guard_destroy(zb_http_guard_t **self_p);

//  A connection on socket fd was accepted; returns its record (NULL when
//  out of memory: then it is not guarded). May cut another connection.
zb_http_guard_conn_t *zb_http_guard_open(zb_http_guard_t *self, int fd);

//  The connection is about to close its socket: forgets it (NULL: nothing).
void zb_http_guard_close(zb_http_guard_t *self, zb_http_guard_conn_t *conn);

//  A request's headers are complete: its answer deadline starts.
void zb_http_guard_headers(zb_http_guard_t *self, zb_http_guard_conn_t *conn);

//  A request is over: the connection waits for the next one's headers.
void zb_http_guard_done(zb_http_guard_t *self, zb_http_guard_conn_t *conn);

void zb_http_guard_stats(zb_http_guard_t *self, zb_http_guard_stats_t *stats);

void zb_http_guard_test(bool verbose);

#endif
