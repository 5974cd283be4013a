/*  zb_target: where a probe connects, and when to look its name up again.

    A literal address is simply that. A name is looked up through
    zb_resolver, never blocking the loop; its answer is kept for its TTL
    (within bounds) or for `resolve`, and looked up again before the next
    connect after a failure (the service may have moved). zb_probe decides
    what an answer means for its connection; this module keeps the address,
    the lookup under way and when the answer runs out, and says when a
    name moved.

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
    int64_t resolve_at;      // monotonic ms: the answer runs out
} zb_target_t;

//  A literal address is known at once, and written (as text) into addr.
void zb_target_init(zb_target_t *self, zb_resolver_t *resolver, const zb_probe_config_t *config,
                    char *addr, size_t size);
//  Cancels a lookup under way; its callback is not made.
void zb_target_fini(zb_target_t *self);

//  Whether a connect at now can go to addr without a lookup first: a
//  literal, or an answer that is there, fresh and not doubted.
bool zb_target_ready(const zb_target_t *self, const zb_probe_config_t *config, int64_t now);

//  Starts a lookup (none under way) whose result goes to fn, which must
//  call zb_target_resolved first. Returns -1 when out of memory.
int zb_target_lookup(zb_target_t *self, const zb_probe_config_t *config, zb_resolver_fn *fn,
                     void *arg);

//  Takes a lookup's result at now. An answer becomes the address (written
//  as text into addr) until its TTL or `resolve` runs out; returns true
//  when it differs from the one before (logged). No answer makes the name
//  stale; returns false.
bool zb_target_resolved(zb_target_t *self, const zb_probe_config_t *config,
                        const zb_resolve_result_t *result, int64_t now, char *addr, size_t size);

#endif
