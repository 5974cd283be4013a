/*  zb_listencheck: whether the listener behind a held connection still
    accepts.

    A held connection says nothing about the listener: a service shutting
    down gracefully may stop accepting and still serve the connections it
    has, for as long as they last (nginx -s quit with a stream proxy,
    pgbouncer's SHUTDOWN WAIT_FOR_CLIENTS). So beside its pings a held
    probe (listener-check) also connects afresh, and closes that connection
    at once; a refused connect is down. Anything else (no answer yet, no
    route) is left to the ping to judge. Probes of one address share the
    connects and what they learn through zb_portcheck.

    One zb_listencheck_t per probe, embedded in it: only the socket of a
    connect under way. The loop and the callback are passed to each call
    rather than kept, so a probe that never checks pays four bytes.
*/
#ifndef ZB_LISTENCHECK_H
#define ZB_LISTENCHECK_H

#include "zb_loop.h"
#include "zb_net.h"

#include <stdint.h>

typedef struct {
    int fd; // a connect under way, or -1
} zb_listencheck_t;

void zb_listencheck_init(zb_listencheck_t *self);

//  Checks addr, whose held connection was made at connected_ms, if it is
//  due (now, monotonic ms; a check per address per half interval). Returns
//  -1 when the listener refuses (known now, or from another probe's check
//  since connected_ms): the probe is down. Else 0; a connect that did not
//  answer at once is watched in loop, and on_io called when it does (call
//  zb_listencheck_answered then). A check still unanswered is dropped.
int zb_listencheck_run(zb_listencheck_t *self, zb_loop_t *loop, const zb_net_addr_t *addr,
                       int64_t connected_ms, int64_t interval_ms, int64_t now, zb_loop_fd_fn *on_io,
                       void *arg);

//  The connect under way answered (on_io): records what it learned and
//  ends it. Returns -1 when it was refused (the probe is down), else 0.
int zb_listencheck_answered(zb_listencheck_t *self, zb_loop_t *loop, const zb_net_addr_t *addr);

//  Ends a connect under way, if any, with a plain close.
void zb_listencheck_end(zb_listencheck_t *self, zb_loop_t *loop);

#endif
