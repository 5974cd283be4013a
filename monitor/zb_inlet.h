/*  zb_inlet: the agents' SUB socket as the monitor wants it (frame limit,
    queue, shard subscriptions, TCP keepalive), binding endpoint lists, and
    malformed input counted and logged at a bounded rate.

    The socket is the caller's; zb_auth goes on it before zb_inlet_bind.
*/
#ifndef ZB_INLET_H
#define ZB_INLET_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  A SUB socket for agents reporting at most max_services services each,
//  subscribed to the hosts of `hosts` (zb_hostset; "" = all). NULL when
//  out of memory.
zsock_t *zb_inlet_new(int max_services, const char *hosts);

//  Binds sock to every endpoint of a comma-separated list, logging each as
//  "WHAT on ENDPOINT". Returns 0, or -1 (logged).
int zb_inlet_bind(zsock_t *sock, const char *list, const char *what);

//  Whether host is one of `hosts` (zb_hostset; "" = all). A message for
//  another is counted in *foreign, and the first logged.
bool zb_inlet_owns(const char *hosts, const char *host, uint64_t *foreign);

//  Malformed messages: each counted, at most one warning every few seconds.
typedef struct {
    uint64_t *count;     // the total (the caller's stats)
    int64_t logged_mono; // when one was last logged, 0 = never
    uint64_t unlogged;   // since then
} zb_inlet_errors_t;

void zb_inlet_malformed(zb_inlet_errors_t *self, const char *reason);

#endif
