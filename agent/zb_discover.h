/*  zb_discover: services discovered from Docker labels (discover = docker).

    Takes zb_docker's messages in the agent's loop and keeps one service per
    labelled container (by service name, so a recreated container carries
    its service on at its new address), each with a zb_probe and the status
    that beats report (kind "docker", the container's id).

    How a container ended decides what its service becomes:
      `kill` then `die` then `stop`      Docker's stop (docker stop,
                                         docker-compose stop/down/scale):
                                         stopped, reason docker-stop
      `die` without a `kill` before it   a crash: down at once, exited N
      `kill` with SIGKILL then `die`     docker kill: down at once, exited N
      `oom` then `die`                   down at once, oom-killed
      `die` (137) with no `kill`, `oom`  the same: Docker may send the `oom`
                                         after the `die` (seen on 20.10), so a
                                         die by SIGKILL that no kill announced
                                         waits ZB_DISCOVER_OOM_WAIT_MS for it
                                         (the reader also asks the engine's
                                         State.OOMKilled first)
    With the label zbeat.health = yes, Docker's healthcheck saying
    unhealthy makes the service down (reason docker-health) whatever the
    probe says, until it says healthy again.
    After a `kill` with another signal (docker stop's, or docker kill -s
    TERM) the `die` is followed by `stop` within ZB_DISCOVER_STOP_WAIT_MS
    when it was Docker's stop (about 120 ms on Docker 20.10 on a loaded
    machine); without one the service is down, exited N, when that wait
    ends. From the `kill` to the end, the probe's own verdicts wait: the
    server closing its connections on the way out is part of the stop.

    A probe's down verdict is published ZB_DISCOVER_GRACE_MS late (the
    `kill` or `die` that explains it is usually on its way), and not before
    a start period after the container's start (its server may not listen
    yet): max(5 s, interval x fails).
*/
#ifndef ZB_DISCOVER_H
#define ZB_DISCOVER_H

#include "zb_loop.h"
#include "zb_msg.h"
#include "zb_resolver.h"

#include <stdbool.h>
#include <stddef.h>

#define ZB_DISCOVER_GRACE_MS 200
#define ZB_DISCOVER_STOP_WAIT_MS 1000
#define ZB_DISCOVER_OOM_WAIT_MS 250     // after a die by SIGKILL that no kill announced
#define ZB_DISCOVER_ENDING_MAX_MS 60000 // a kill's signal that ends nothing: verdicts resume
#define ZB_DISCOVER_START_MIN_MS 5000

typedef struct _zb_discover_t zb_discover_t;

typedef struct {
    //  A service's state changed (status holds the new one).
    void (*changed)(void *arg, const zb_service_status_t *status, zb_state_t from);
    //  A service is no longer watched (its container was removed).
    void (*removed)(void *arg, const zb_service_status_t *status);
    //  Whether a configured service has this name (which then wins).
    bool (*taken)(void *arg, const char *name);
} zb_discover_callbacks_t;

//  Starts reading the Docker API at url (with filter, may be NULL). NULL
//  with err set when it cannot.
zb_discover_t *zb_discover_new(zb_loop_t *loop, zb_resolver_t *resolver, const char *url,
                               const char *filter, size_t max_services,
                               const zb_discover_callbacks_t *callbacks, void *arg, char *err,
                               size_t errsize);
//  Stops the reader and every probe; no callback is made.
void zb_discover_destroy(zb_discover_t **self_p);

//  The services, for beats: count, then each by index (0..count-1). The
//  order may change whenever the loop runs.
size_t zb_discover_count(zb_discover_t *self);
const zb_service_status_t *zb_discover_status(zb_discover_t *self, size_t index);

void zb_discover_test(bool verbose);

#endif
