/*  zb_portcheck: what the held probes to one address last learned about
    its listener.

    A held probe connects afresh beside its pings to see that the service
    still accepts (zb_probe, listener-check). Probes that hold connections
    to the same address and port share that: one bare connect per address
    per half interval, whichever probe's ping comes first, and a refusal any of
    them saw is down for all of them. Ten thousand probes of one server
    at 1s make two connects a second (one per half interval), not ten
    thousand.

    One table for the process (probes live in the agent's one loop
    thread); an entry per address ever checked, a few dozen bytes each.
*/
#ifndef ZB_PORTCHECK_H
#define ZB_PORTCHECK_H

#include "zb_net.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    zb_net_addr_t addr;  // the address and port
    int64_t checked_ms;  // monotonic ms a connect to it last started
    int64_t refused_ms;  // monotonic ms a connect to it was last refused
    int64_t accepted_ms; // monotonic ms a connect to it was last accepted
} zb_portcheck_t;

//  The entry for addr, made (never checked, never refused) the first time.
//  Returns NULL when out of memory: the caller checks on its own.
zb_portcheck_t *zb_portcheck_get(const zb_net_addr_t *addr);

//  Forgets every entry (self-tests; the memory goes back).
void zb_portcheck_reset(void);

void zb_portcheck_test(bool verbose);

#endif
