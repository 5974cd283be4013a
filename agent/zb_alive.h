/*  zb_alive: liveness datagrams to the monitors (agent/udp, agent/udp-beat;
    docs/protocol.md "Liveness datagrams").

    Every udp-beat, one small UDP datagram (zb_datagram) to each monitor
    listed: this agent run, a sequence number, the service table's change
    counter. It says only "alive": beats, events and replay stay on ZeroMQ.
    Lost ones are not resent and nothing queues behind them, which is the
    point (a monitor's detector counts on them being independent). With
    CURVE keys each is sealed with this agent's secret key and the monitor's
    public key. Names are resolved through the agent's resolver (never
    blocking), again every ZB_ALIVE_RESOLVE_MS; a send that fails (no
    route, a firewall) is counted and the next one tried on time.
*/
#ifndef ZB_ALIVE_H
#define ZB_ALIVE_H

#include "zb_curve.h"
#include "zb_loop.h"
#include "zb_resolver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZB_ALIVE_TARGETS_MAX 16      // monitors in agent/udp
#define ZB_ALIVE_RESOLVE_MS 60000    // names looked up again this often
#define ZB_ALIVE_BEAT_DEFAULT_MS 250 // agent/udp-beat
#define ZB_ALIVE_BEAT_MIN_MS 50
#define ZB_ALIVE_BEAT_MAX_MS 60000

typedef struct _zb_alive_t zb_alive_t;

//  Checks agent/udp: "host:port[,host:port]" (a name, an IPv4 address or
//  [IPv6]; spaces around commas allowed). Returns 0, or -1 with err.
int zb_alive_check(const char *targets, char *err, size_t errsize);

//  Starts sending on loop. curve may be off (datagrams in clear). Returns
//  NULL with a message logged.
zb_alive_t *zb_alive_new(zb_loop_t *loop, zb_resolver_t *resolver, const char *targets,
                         int64_t interval_ms, const zb_curve_keys_t *curve, const char *host,
                         const char *instance);
void zb_alive_destroy(zb_alive_t **self_p);

//  The service table changed (a transition, a service added or removed).
void zb_alive_changed(zb_alive_t *self);

//  Datagrams sent and sends that failed.
void zb_alive_counts(zb_alive_t *self, uint64_t *sent, uint64_t *failed);

void zb_alive_test(bool verbose);

#endif
