/*  zb_probe: watches one TCP service, over a held connection or one
    connection per check.

    Every probe lives in the agent's one event loop: a socket, a timer and a
    small state machine, no thread. With `hold` (the default when the probe
    sends a ping) the connection is held open between checks, so a service
    that dies is seen the moment its kernel closes or resets the connection:
    the probe reconnects at once, and a refused reconnect is "down" within
    milliseconds instead of an interval later. Without it, every check
    connects, checks and closes: an idle connection held open would keep a
    server's graceful shutdown waiting for it (PostgreSQL's `pg_ctl stop`,
    `nginx -s quit`) while the service looked up all the time.

    A target given by name is resolved through zb_resolver, never blocking
    the loop: before the first connect, before every reconnect after a
    failure, and while connected whenever the answer's TTL (or `resolve`)
    runs out; when the address changed the connection moves to the new one.
    A name that does not resolve is "down" with reason `dns`.

    With `send`, every interval the probe sends the ping and expects a reply
    that starts with `expect` (any byte when expect is empty) within the
    timeout; `fails` consecutive failures make the service down. Without
    `send`, the check is the connection itself: an accepted connect is up.

    With `tls`, every connection starts with a TLS handshake (non-blocking,
    in the loop) that verifies the chain and the name unless told not to;
    pings go inside the session. A failed handshake is "down" with reason
    `tls` and OpenSSL's words; the peer certificate's expiry goes in the
    status (tls_expires).

    With `http`, the ping is an HTTP/1.1 request on the held (keep-alive)
    connection and the reply an HTTP response, framed properly so the
    connection carries the next request: its status must be in
    expect_status and its body hold expect. A server that closes a
    kept-alive connection is reconnected without a failure. Greeting
    protocols (ssh, smtp, mysql) read what the server says first, say
    goodbye where the protocol has one, and close.

    The probe reports each state change through a callback (which also
    logs it); the status (state, since, rtt, reason, last error) is read for
    beats.
*/
#ifndef ZB_PROBE_H
#define ZB_PROBE_H

#include "zb_http_reply.h"
#include "zb_loop.h"
#include "zb_net.h"
#include "zb_probe_config.h"
#include "zb_proto.h"
#include "zb_resolver.h"
#include "zb_tls.h"

#include <stddef.h>
#include <stdint.h>

typedef struct _zb_probe_t zb_probe_t;

//  Called from inside the loop after the probe's state changed; the probe's
//  status already holds the new state, since, reason and error.
typedef void(zb_probe_notify_fn)(zb_probe_t *probe, zb_state_t from, void *arg);

//  config must outlive the probe, and so must resolver (which a config
//  with a literal address does not use, and may then be NULL). Returns
//  NULL when out of memory.
zb_probe_t *zb_probe_new(zb_loop_t *loop, zb_resolver_t *resolver, const zb_probe_config_t *config,
                         zb_probe_notify_fn *notify, void *arg);
//  Closes the connection and cancels the timer; no callback is made.
void zb_probe_destroy(zb_probe_t **self_p);

//  Makes the first check after delay_ms (agents spread their probes' first
//  checks so a thousand of them don't hit one server in the same
//  millisecond, and stay spread afterwards).
void zb_probe_start(zb_probe_t *self, int64_t delay_ms);

//  Takes a new configuration for the same service (reload). The caller
//  makes sure only interval, timeout and fails differ (name, target, hold,
//  resolve, send and expect are the same): the connection, the state and
//  the failure count carry on. A shorter interval brings the next check
//  forward; a new timeout applies to a connect or reply under way.
void zb_probe_set_config(zb_probe_t *self, const zb_probe_config_t *config);

//  Starts from another check's verdict instead of unknown (a service whose
//  target changed on reload keeps its state until this probe's first
//  verdict). Copies state, since, reason and error; call before start.
void zb_probe_take_state(zb_probe_t *self, const zb_service_status_t *status);

const zb_probe_config_t *zb_probe_config(zb_probe_t *self);

//  The service as a beat reports it. The pointer stays valid until the
//  probe is destroyed; its contents change as the probe runs.
const zb_service_status_t *zb_probe_status(zb_probe_t *self);

void zb_probe_test(bool verbose);

#endif
