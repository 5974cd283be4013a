/*  zb_target: where a probe connects, and when to look its name up again.

    A literal address is simply that. A name is looked up through
    zb_resolver, never blocking the loop; its answer is kept for its TTL
    (within bounds) or for `resolve`, and looked up again before the next
    connect after a failure (the service may have moved). A refusal at an
    address kept from an earlier lookup is no verdict by itself: the name
    is looked up again first, and only a refusal at the address it still
    has counts (issue 16). This module keeps the address, the lookup under
    way and when the answer runs out, and says what an answer means for
    the probe's connection; zb_probe acts on it.

    Embedded in each probe (an agent holds thousands).
*/
#ifndef ZB_TARGET_H
#define ZB_TARGET_H

#include "zb_net.h"
#include "zb_probe_config.h"
#include "zb_resolver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    zb_resolver_t *resolver; // for names; not owned
    zb_lookup_t *lookup;     // a lookup under way, or NULL
    zb_net_addr_t addr;      // where to connect (known)
    bool known;              // a name resolved at least once, or a literal
    bool stale;              // look the name up before the next connect
    bool answered;           // the last answer said ZB_TARGET_CONNECT: the next connect is its
    bool fresh;              // the latest connect went to an address looked up for it
    bool doubted;            // addr refused a fresh connect: the lookup under way decides
    int64_t resolve_at;      // monotonic ms: the answer runs out
} zb_target_t;

//  What a lookup's answer means for the probe's connection.
typedef enum {
    ZB_TARGET_CARRY_ON, // nothing changes: the same address, or no answer while connected
    ZB_TARGET_CONNECT,  // connect to addr: the answer waited for, or the name moved away
                        // from the connection (whatever answers there is not the service)
    ZB_TARGET_REFUSED,  // the address that refused (zb_target_listener_refused) is
                        // still the name's: the refusal stands
    ZB_TARGET_DNS       // no address to use: a dns failure, the connection closed
} zb_target_next_t;

//  A literal address is known at once, and written (as text) into addr.
void zb_target_init(zb_target_t *self, zb_resolver_t *resolver, const zb_probe_config_t *config,
                    char *addr, size_t size);
//  Cancels a lookup under way; its callback is not made.
void zb_target_fini(zb_target_t *self);

//  Whether a connect at now can go to addr without a lookup first: a
//  literal, or an answer that is there, not run out, not stale and not
//  doubted. A question only: nothing changes.
bool zb_target_ready(const zb_target_t *self, const zb_probe_config_t *config, int64_t now);

//  A connect to addr starts: after zb_target_ready said yes (to an address
//  kept from before), or on ZB_TARGET_CONNECT (to the address looked up
//  for it). Records which, for zb_target_connect_failed.
void zb_target_connecting(zb_target_t *self);

//  Starts a lookup (none under way) whose result goes to fn, which must
//  call zb_target_resolved first. Returns -1 when out of memory.
int zb_target_lookup(zb_target_t *self, const zb_probe_config_t *config, zb_resolver_fn *fn,
                     void *arg);

//  Takes a lookup's result at now, for a probe waiting for it to connect,
//  or connected (or connecting), or neither. An answer becomes the address
//  (written as text into addr) until its TTL or `resolve` runs out; a move
//  is logged. No answer makes the name stale; while connected, it is tried
//  again an interval later. Returns what the probe does.
zb_target_next_t zb_target_resolved(zb_target_t *self, const zb_probe_config_t *config,
                                    const zb_resolve_result_t *result, int64_t now, bool waiting,
                                    bool connected, char *addr, size_t size);

//  A connect to addr failed at once (refused, no route). Returns true when
//  that is a verdict: a literal, or an address looked up for this connect.
//  Else the name may have moved away from an address kept from before: it
//  is made stale, and the probe connects again, after a lookup.
bool zb_target_connect_failed(zb_target_t *self, const zb_probe_config_t *config);

//  A held connection's fresh connect beside it was refused at addr.
//  Returns true when that is a verdict: a literal, or no memory for a
//  lookup. Else the name is looked up again (a lookup under way from
//  before is dropped: its answer may predate the refusal), or already is
//  for an earlier refusal, and the answer decides (fn, then
//  zb_target_resolved: REFUSED, or CONNECT when it moved); doubted until
//  then.
bool zb_target_listener_refused(zb_target_t *self, const zb_probe_config_t *config,
                                zb_resolver_fn *fn, void *arg);

void zb_target_test(bool verbose);

#endif
