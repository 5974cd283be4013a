/*  zb_inlet: the agents' SUB socket. See zb_inlet.h. */
#include "zb_inlet.h"
#include "zb_hostset.h"
#include "zb_intake.h"
#include "zb_log.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ZB_INLET_ERROR_LOG_MS 10000
#define ZB_INLET_KEEPALIVE_IDLE_S 30 // TCP keepalive: first probe after this idle
#define ZB_INLET_KEEPALIVE_INTVL_S 5 // ...then one every this
#define ZB_INLET_KEEPALIVE_CNT 3     // ...and this many unanswered drop it

static void s_subscribe(const char *topic, void *arg)
{
    zsock_set_subscribe(arg, topic);
}

zsock_t *zb_inlet_new(int max_services, const char *hosts)
{
    assert(hosts);
    zsock_t *sock = zsock_new(ZMQ_SUB);
    if (!sock)
        return NULL;
    //  A frame over the limit makes ZeroMQ drop the sender's connection: a
    //  peer sending junk that large is not an agent. What is read is held
    //  within a bounded number of bytes by zb_intake.
    size_t frame_max = zb_intake_frame_max(max_services);
    zsock_set_maxmsgsize(sock, (int)frame_max);
    zsock_set_rcvhwm(sock, zb_intake_queue(frame_max));
    zb_log_debug("input: frames up to %zu bytes, %d queued per peer", frame_max,
                 zb_intake_queue(frame_max));
    //  A shard (monitor/hosts) subscribes to its hosts' topics only: through
    //  a relay, subscriptions flow upstream and nothing else reaches it.
    zb_hostset_topics(hosts, s_subscribe, sock);
    if (hosts[0])
        zb_log_info("shard: hosts %s only", hosts);
    //  No ZMTP heartbeats of the monitor's own: with libzmq 4.3.4 a
    //  heartbeat sent on a connection whose peer went away while ZeroMQ's
    //  queue for it was full aborts the process (libzmq issues 4364, 4767).
    //  An agent's connection that
    //  went half-open is dropped all the same: agents' heartbeats carry a
    //  TTL (zb_watch), and TCP keepalive covers peers that send none.
    zsock_set_tcp_keepalive(sock, 1);
    zsock_set_tcp_keepalive_idle(sock, ZB_INLET_KEEPALIVE_IDLE_S);
    zsock_set_tcp_keepalive_intvl(sock, ZB_INLET_KEEPALIVE_INTVL_S);
    zsock_set_tcp_keepalive_cnt(sock, ZB_INLET_KEEPALIVE_CNT);
    return sock;
}

int zb_inlet_bind(zsock_t *sock, const char *list, const char *what)
{
    assert(sock && list && what);
    char *endpoints = strdup(list);
    int rc = endpoints ? 0 : -1;
    char *save = NULL;
    for (char *ep = endpoints ? strtok_r(endpoints, ",", &save) : NULL; ep && rc == 0;
         ep = strtok_r(NULL, ",", &save)) {
        if (zsock_bind(sock, "%s", ep) == -1) {
            zb_log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            rc = -1;
        } else
            zb_log_info("%s on %s", what, zsock_endpoint(sock));
    }
    free(endpoints);
    return rc;
}

void zb_inlet_malformed(zb_inlet_errors_t *self, const char *reason)
{
    assert(self && self->count && reason);
    (*self->count)++;
    self->unlogged++;
    //  Decoder messages may quote the input: never let it reach a terminal raw.
    char why[ZB_TEXT_PRINTABLE_MAX(256)];
    zb_text_printable(reason, strlen(reason), why, sizeof(why), 0);
    zb_log_debug("malformed message: %s", why);
    int64_t now = zb_time_mono_ms();
    if (self->logged_mono && now - self->logged_mono < ZB_INLET_ERROR_LOG_MS)
        return;
    zb_log_warning("dropped malformed message: %s (%" PRIu64 " dropped since last report, "
                   "%" PRIu64 " in all)",
                   why, self->unlogged, *self->count);
    self->logged_mono = now;
    self->unlogged = 0;
}

//  A shard subscribes to its hosts' prefixes only, but a prefix of a name
//  matches longer names, and a relay or agent may send more.
bool zb_inlet_owns(const char *hosts, const char *host, uint64_t *foreign)
{
    assert(hosts && host && foreign);
    if (zb_hostset_match(hosts, host))
        return true;
    if ((*foreign)++ == 0)
        zb_log_warning("dropped a message for host %s, outside monitor/hosts (%s): an agent or "
                       "relay sends this shard more than it subscribes to? (counted as foreign)",
                       host, hosts);
    return false;
}
