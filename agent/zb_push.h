/*  zb_push: the verdict on one push or ttl service (docs/push.md).

    The mirror image of zb_probe: the service heartbeats the agent through
    the push listener (zb_listener), and this module turns what the listener
    reports into a state, with one deadline timer in the agent's loop.

    push: HELLO makes it up; every line after that restarts the deadline
        (push x 1.5, or the configured timeout). The deadline passing makes
        it down (timeout), as does the connection ending without BYE
        (closed, at once). BYE is a planned stop (stopped, bye). A service
        that has not said HELLO within one deadline of the start is down
        (never-connected).
    ttl: CHECKIN makes it up and restarts the ttl; the ttl passing makes it
        down (ttl-expired), also when there was no check-in at all since the
        start. Connections come and go: HELLO, BYE and closes do not count.

    A push service that timed out may still have its connection: the agent
    closes it (zb_listener_drop) when notified.
*/
#ifndef ZB_PUSH_H
#define ZB_PUSH_H

#include "zb_loop.h"
#include "zb_proto.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum { ZB_PUSH_PUSH = 1, ZB_PUSH_TTL } zb_push_kind_t;

typedef struct {
    char name[ZB_NAME_MAX + 1];
    zb_push_kind_t kind;
    int64_t period_ms;   // push: the announced PING period; ttl: the ttl
    int64_t deadline_ms; // push: push x 1.5 or timeout; ttl: the ttl
} zb_push_config_t;

typedef struct _zb_push_t zb_push_t;

//  Called from inside the loop after the state changed; the status already
//  holds the new state, since, reason and error.
typedef void(zb_push_notify_fn)(zb_push_t *push, zb_state_t from, void *arg);

//  config must outlive the service. Returns NULL when out of memory.
zb_push_t *zb_push_new(zb_loop_t *loop, const zb_push_config_t *config, zb_push_notify_fn *notify,
                       void *arg);
//  Cancels the timer; no callback is made.
void zb_push_destroy(zb_push_t **self_p);

//  Starts the first deadline (never-connected, or the first ttl): call when
//  the agent starts.
void zb_push_start(zb_push_t *self);

//  What the listener reported for this service.
void zb_push_hello(zb_push_t *self);
void zb_push_ping(zb_push_t *self);
void zb_push_checkin(zb_push_t *self);
void zb_push_bye(zb_push_t *self);
void zb_push_closed(zb_push_t *self, const char *error);

//  Takes a new configuration for the same service (reload). The caller
//  makes sure name and kind are the same; the state and the connection
//  carry on, and a running deadline is moved to the new length, counted
//  from the line (or start) that armed it.
void zb_push_set_config(zb_push_t *self, const zb_push_config_t *config);

//  Starts from another service's verdict instead of unknown (a service
//  whose kind changed on reload). Copies state, since, reason and error;
//  call before start.
void zb_push_take_state(zb_push_t *self, const zb_service_status_t *status);

const zb_push_config_t *zb_push_config(zb_push_t *self);

//  The service as a beat reports it (kind "push" or "ttl", rtt_us -1).
const zb_service_status_t *zb_push_status(zb_push_t *self);

void zb_push_test(bool verbose);

#endif
