/*  zb_listener: the agent's push listener (docs/push.md).

    Accepts TCP connections from push and ttl services, frames and parses
    their lines (zb_line), answers them, and reports each command to the
    agent through callbacks. It keeps no liveness state: deadlines (push x
    1.5, ttl, never-connected) belong to the agent, which calls
    zb_listener_drop when one passes.

    Rules enforced here:
    - A line, newline included, is at most ZB_LINE_MAX bytes; an over-long
      line, a bad command, a command before HELLO, a second HELLO on one
      connection, or a HELLO the agent refuses gets "ERR <reason>" and the
      connection is closed.
    - A connection must say HELLO within hello_timeout (default 5 s).
    - At most max_conns connections (default 4096); more get "ERR too-many".
    - One live connection per service: a HELLO for a service that already
      has one replaces it (the newest wins; the old one gets "ERR replaced"
      and is closed without a closed callback, since the service is alive).
    - A reply that does not fit in the socket's send buffer drops the
      connection: replies are a few bytes, so a full buffer means a peer
      that does not read.
    Memory is bounded: one small struct with a ZB_LINE_MAX+1 byte buffer per
    connection.
*/
#ifndef ZB_LISTENER_H
#define ZB_LISTENER_H

#include "zb_loop.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_LISTENER_ENDPOINT "tcp://127.0.0.1:7401"
#define ZB_LISTENER_HELLO_TIMEOUT_MS 5000
#define ZB_LISTENER_MAX_CONNS 4096

typedef struct _zb_listener_t zb_listener_t;

//  Called from inside the loop. service is the name the connection said
//  HELLO with (already checked by zb_name_valid); the pointer is valid only
//  during the call. Any callback may be NULL. A callback may call
//  zb_listener_drop (for any service, its own included) but must not
//  destroy the listener.
typedef struct {
    //  A HELLO. Return 0 to accept ("OK hello"), -1 when the service is not
    //  a declared push/ttl service ("ERR unknown-service", closed).
    //  interval_ms is what the client announced, 0 when it did not; it is
    //  informational (the agent's config rules). NULL accepts every name.
    int (*hello)(void *arg, const char *service, int64_t interval_ms);
    void (*ping)(void *arg, const char *service);    // then "PONG"
    void (*checkin)(void *arg, const char *service); // then "OK checkin"
    //  A planned stop: "OK bye" is sent and the connection closed.
    void (*bye)(void *arg, const char *service);
    //  The connection of a service that said HELLO ended without BYE: EOF,
    //  a reset, a protocol error after HELLO, or a reply that could not be
    //  sent. error says what, e.g. "connection closed by peer". Not called
    //  for zb_listener_drop, replacement, or zb_listener_destroy. For a ttl
    //  service a close after CHECKIN is normal: the agent ignores it.
    void (*closed)(void *arg, const char *service, const char *error);
} zb_listener_callbacks_t;

//  Checks an endpoint without binding: "tcp://HOST:PORT" or "HOST:PORT",
//  HOST an IPv4 address, "[IPv6]", "*" (every IPv4 interface) or a name,
//  PORT 0..65535. For --check-config. Returns 0, or -1 with a reason in err.
int zb_listener_endpoint_check(const char *endpoint, char *err, size_t errsize);

//  Binds endpoint and starts accepting inside loop. cb is copied. Returns
//  NULL with a reason in err ("bind tcp://127.0.0.1:7401: Address already
//  in use").
zb_listener_t *zb_listener_new(zb_loop_t *loop, const char *endpoint,
                               const zb_listener_callbacks_t *cb, void *arg, char *err,
                               size_t errsize);

//  Closes every connection (without callbacks) and the listening socket.
//  Call it before destroying the loop, and not from inside a callback.
void zb_listener_destroy(zb_listener_t **self_p);

//  Limits; they apply to connections accepted afterwards.
void zb_listener_set_hello_timeout(zb_listener_t *self, int64_t ms);
void zb_listener_set_max_conns(zb_listener_t *self, size_t max_conns);

//  The agent's deadline for service passed: sends "ERR <reason>" (reason
//  NULL means "timeout") and closes its connection, without a closed
//  callback. Returns 0, or -1 when the service has no connection.
int zb_listener_drop(zb_listener_t *self, const char *service, const char *reason);

//  Whether service has a live connection (said HELLO, not yet closed).
bool zb_listener_connected(zb_listener_t *self, const char *service);

//  Open connections, with and without HELLO.
size_t zb_listener_conn_count(zb_listener_t *self);

//  The bound port (useful with port 0).
int zb_listener_port(zb_listener_t *self);

void zb_listener_test(bool verbose);

#endif
