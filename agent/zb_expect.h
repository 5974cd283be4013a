/*  zb_expect: judges a probe's reply, bytes in, a verdict out.

    zb_probe owns the connection, its timers and what a verdict does to
    the service's state; this module only says whether the bytes a service
    sent are the reply the probe's configuration wants: a prefix compared
    as it arrives (expect), PostgreSQL's one-byte answer to an SSLRequest,
    an HTTP/1.1 response framed and judged by its status and body, a
    greeting, a MySQL/MariaDB greeting packet. No sockets, no clock: the
    self-test feeds it bytes.

    One zb_expect_t per probe, embedded in it (an agent holds thousands);
    zb_expect_begin before each reply, then zb_expect_feed with each read
    until the verdict is not MORE, and zb_expect_eof when the connection
    closes while the reply is due. The config is passed to each call, so a
    reload that swaps it (zb_probe_set_config) needs nothing here.
*/
#ifndef ZB_EXPECT_H
#define ZB_EXPECT_H

#include "zb_http_reply.h"
#include "zb_probe_config.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    ZB_EXPECT_MORE = 0, // not judged yet: more bytes are needed
    ZB_EXPECT_GOOD,     // the reply the check wants
    ZB_EXPECT_WRONG,    // not what the check wants; the error says what came
    ZB_EXPECT_RETRY,    // eof: a kept-alive connection the server closed before
                        // answering; ask again on a new one, no failure counted
    ZB_EXPECT_CLOSED    // eof: nothing to judge, a connection closed like any other
} zb_expect_result_t;

//  The fields are the module's; they are here only so that a probe can
//  embed the struct.
typedef struct {
    size_t matched;        // prefix: reply bytes matched against expect
    bool pg_gss;           // check = postgres: TLS is on, ask with GSSENCRequest
    zb_http_reply_t *http; // HTTP checks: the response being parsed; else NULL
} zb_expect_t;

//  Returns -1 when out of memory (an HTTP check's parser).
int zb_expect_init(zb_expect_t *self, const zb_probe_config_t *config);
void zb_expect_fini(zb_expect_t *self);

//  A reply is due from now on (a ping sent, or a greeting awaited).
void zb_expect_begin(zb_expect_t *self, const zb_probe_config_t *config);

//  The ping to send: config->send_len bytes (the request PostgreSQL's
//  answers have shown to be the quiet one, for check = postgres).
const char *zb_expect_ping(const zb_expect_t *self, const zb_probe_config_t *config);

//  len bytes of the reply (len > 0). WRONG writes what came into error.
zb_expect_result_t zb_expect_feed(zb_expect_t *self, const zb_probe_config_t *config,
                                  const char *data, size_t len, char *error, size_t size);

//  The connection closed while the reply was due; proven says a good
//  reply came on this connection before. GOOD and WRONG judge an HTTP
//  response that ends with the close; CLOSED for everything else.
zb_expect_result_t zb_expect_eof(zb_expect_t *self, const zb_probe_config_t *config, bool proven,
                                 char *error, size_t size);

//  After GOOD: the server said it closes the connection (HTTP's
//  `Connection: close`); a held probe takes a new one.
bool zb_expect_closing(const zb_expect_t *self);

void zb_expect_test(bool verbose);

#endif
