/*  zb_pulse: the monitor's side of the liveness datagrams (monitor/udp,
    docs/protocol.md "Liveness datagrams", docs/security.md).

    A plain UDP socket, read in the monitor's loop (non-blocking, a bounded
    batch per wakeup: a datagram costs microseconds and needs no
    transaction). Each datagram is decoded (zb_datagram); under CURVE it
    must be sealed by a key in the allow-list bound to the host it names
    (zb_auth), and its sequence number must be new for that host's agent
    run (a window of ZB_PULSE_WINDOW behind the highest seen, so reordering
    is not replay). What passes goes to the owner's `heard`, which says
    whether it is the host's current agent run. Every refusal is counted by
    kind and dropped; nothing a peer sends can do more.
*/
#ifndef ZB_PULSE_H
#define ZB_PULSE_H

#include "zb_auth.h"
#include "zb_datagram.h"

#include <stdbool.h>
#include <stdint.h>

#define ZB_PULSE_WINDOW 64 // sequence numbers remembered behind the highest
#define ZB_PULSE_BATCH 256 // datagrams read per wakeup

typedef struct {
    uint64_t received;  // datagrams read
    uint64_t accepted;  // counted as hearing their host
    uint64_t malformed; // truncated, bad magic/version/name, wrong length
    uint64_t forged;    // sealed by a key not listed / not bound to the host, or failed to open
    uint64_t plain;     // in clear while CURVE is on
    uint64_t replayed;  // sequence number seen before or behind the window
    uint64_t unknown;   // a host not known, or not its current agent run
} zb_pulse_stats_t;

//  The owner's verdict on an authentic, new datagram: 0 when it is the
//  host's current agent run (heard), -1 when not (unknown).
typedef int(zb_pulse_heard_fn)(void *arg, const zb_datagram_t *dg);

typedef struct _zb_pulse_t zb_pulse_t;

//  Binds address (zb_address: "*:7403"); auth may be NULL (or without
//  CURVE: datagrams in clear accepted). Returns NULL with one line in err.
zb_pulse_t *zb_pulse_new(const char *address, zb_auth_t *auth, zb_pulse_heard_fn *heard, void *arg,
                         char *err, size_t errsize);
void zb_pulse_destroy(zb_pulse_t **self_p);

int zb_pulse_fd(zb_pulse_t *self);
//  The port bound (for "*:0").
int zb_pulse_port(zb_pulse_t *self);

//  Reads up to ZB_PULSE_BATCH datagrams without blocking.
void zb_pulse_read(zb_pulse_t *self);

//  One datagram as if read (the self-test, the fuzz target).
void zb_pulse_take(zb_pulse_t *self, const uint8_t *buf, size_t len);

void zb_pulse_stats(zb_pulse_t *self, zb_pulse_stats_t *stats);

void zb_pulse_test(bool verbose);

#endif
