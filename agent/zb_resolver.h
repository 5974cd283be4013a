/*  zb_resolver: names to addresses without blocking the agent's loop.

    A c-ares channel driven by the agent's zb_loop: c-ares tells which
    sockets to watch (its socket-state callback), the loop tells c-ares when
    they are ready, and one timer follows c-ares's next timeout. A lookup
    reads /etc/hosts (the file, at every lookup: so a name moved there is
    seen at once) and asks DNS as /etc/nsswitch.conf and /etc/resolv.conf
    say.

    A result always arrives from the loop, never from inside
    zb_resolver_lookup, so the caller's state is settled before its callback
    runs (c-ares answers /etc/hosts names at once, inside the call).
*/
#ifndef ZB_RESOLVER_H
#define ZB_RESOLVER_H

#include "zb_loop.h"
#include "zb_net.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct _zb_resolver_t zb_resolver_t;
typedef struct _zb_lookup_t zb_lookup_t;

typedef enum {
    ZB_RESOLVE_OK,       // addr and ttl_ms are set
    ZB_RESOLVE_NOTFOUND, // the name has no address (NXDOMAIN, no record)
    ZB_RESOLVE_FAILED    // no answer (timeout, server failure): try again later
} zb_resolve_status_t;

typedef struct {
    zb_resolve_status_t status;
    zb_net_addr_t addr; // the first address, with the lookup's port
    int64_t ttl_ms;     // the answer's TTL; 0 when it has none (/etc/hosts)
    char error[160];    // "cannot resolve "redis": Domain name not found"
} zb_resolve_result_t;

//  Called from the loop with the outcome of a lookup; the lookup is
//  finished (its handle is freed) when this runs.
typedef void(zb_resolver_fn)(void *arg, const zb_resolve_result_t *result);

//  Returns NULL with a message in err when c-ares cannot start.
zb_resolver_t *zb_resolver_new(zb_loop_t *loop, char *err, size_t errsize);
//  Ends every lookup without calling back: cancel (or forget) every handle
//  first.
void zb_resolver_destroy(zb_resolver_t **self_p);

//  Starts resolving host (a name) for TCP port. Returns a handle, or NULL
//  when out of memory.
zb_lookup_t *zb_resolver_lookup(zb_resolver_t *self, const char *host, int port, zb_resolver_fn *fn,
                                void *arg);

//  The callback will not be made; sets *lookup_p to NULL. Harmless on NULL.
void zb_lookup_cancel(zb_lookup_t **lookup_p);

//  Resolves one name the same way, waiting up to timeout_ms (for
//  --probe-once and --check-config, outside the agent's loop). Returns the
//  status; result is filled in.
zb_resolve_status_t zb_resolver_resolve_once(const char *host, int port, int64_t timeout_ms,
                                             zb_resolve_result_t *result);

void zb_resolver_test(bool verbose);

#endif
