/*  zb_listencheck: whether a held connection's listener still accepts.
    See zb_listencheck.h. */
#include "zb_listencheck.h"
#include "zb_portcheck.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <unistd.h>

void zb_listencheck_init(zb_listencheck_t *self)
{
    assert(self);
    self->fd = -1;
}

//  Ends the fresh connect with a plain close (a FIN), as a connection-only
//  check ends: a reset would reach the server as an accepted connection
//  already broken, which servers log or trip over. It leaves this side a
//  TIME_WAIT socket per check, a few per address a second at most
//  (zb_portcheck shares the checks).
void zb_listencheck_end(zb_listencheck_t *self, zb_loop_t *loop)
{
    assert(self && loop);
    if (self->fd == -1)
        return;
    zb_loop_del_fd(loop, self->fd);
    close(self->fd);
    self->fd = -1;
}

//  Probes of one address share this (zb_portcheck): one connect per
//  address per half interval, and a refusal any of them saw since their
//  own connection was made is down for each. Not needed when the held
//  connection itself was made within the last interval.
int zb_listencheck_run(zb_listencheck_t *self, zb_loop_t *loop, const zb_net_addr_t *addr,
                       int64_t connected_ms, int64_t interval_ms, int64_t now, zb_loop_fd_fn *on_io,
                       void *arg)
{
    assert(self && loop && addr && on_io);
    zb_listencheck_end(self, loop);                  // unanswered for an interval: not a verdict
    zb_portcheck_t *shared = zb_portcheck_get(addr); // NULL: no memory, alone
    //  Another probe's connect was refused since this connection was made,
    //  and none accepted since: the listener is gone for this one too.
    if (shared && shared->refused_ms > connected_ms && shared->refused_ms > shared->accepted_ms)
        return -1;
    if (now - connected_ms < interval_ms)
        return 0; // this connection's own connect was the check
    //  Every half interval, so a probe that learns of a refusal from
    //  another's check (at its next ping) is still down within two
    //  intervals of the listener closing.
    if (shared && now - shared->checked_ms < interval_ms / 2)
        return 0; // another probe of this address checked it
    if (shared)
        shared->checked_ms = now;
    int fd;
    int rc = zb_net_connect(addr, &fd);
    if (rc == -1) {
        if (errno != ECONNREFUSED)
            return 0;
        if (shared)
            shared->refused_ms = now;
        return -1;
    }
    if (rc == 0 && shared)
        shared->accepted_ms = now;
    if (rc == 0 || zb_loop_add_fd(loop, fd, ZB_LOOP_WRITE, on_io, arg) == -1)
        close(fd); // accepted at once (or no room to wait): nothing more to learn
    else
        self->fd = fd;
    return 0;
}

int zb_listencheck_answered(zb_listencheck_t *self, zb_loop_t *loop, const zb_net_addr_t *addr)
{
    assert(self && loop && addr && self->fd != -1);
    int error = zb_net_connect_result(self->fd);
    zb_listencheck_end(self, loop);
    zb_portcheck_t *shared = zb_portcheck_get(addr);
    if (shared && error == 0)
        shared->accepted_ms = zb_time_mono_ms();
    if (error != ECONNREFUSED)
        return 0;
    if (shared)
        shared->refused_ms = zb_time_mono_ms();
    return -1;
}
