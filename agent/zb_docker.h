/*  zb_docker: reads containers and their events from the Docker Engine API.

    Only GET requests, over the engine's unix socket, with libcurl, in a
    worker thread: the engine's answers (a container list, one inspect per
    labelled container, then the long-lived chunked /events stream) come in
    on the thread's own schedule, and an inspect after a `start` event may
    take the engine a while; none of that may delay a probe's verdict in the
    agent's loop. The loop only reads messages: the thread writes a pointer
    to each, in order, down a pipe that the loop watches, and the loop's
    callback owns (and the caller frees with zb_docker_msg_destroy) each one.
    A thread with blocking calls is simpler than a curl multi handle driven
    by the loop's fds and timers: the inspects run one after the other, in
    the order of the events, without a queue of pending requests.

    A session: subscribe to /events (container events, with the filter)
    first, then list and inspect (SYNC, one CONTAINER per labelled
    container, SYNCED), then hand on the events as they come, in order. An
    event that happened between the subscription and the list is handed on
    after the list, which is harmless: the state machine takes a repeated
    start or die. When the stream ends (the engine restarted, the socket
    went away) the thread says LOST once, and tries again with a backoff
    (100 ms doubling to 5 s); the next session begins with a SYNC.
*/
#ifndef ZB_DOCKER_H
#define ZB_DOCKER_H

#include "zb_docker_check.h"
#include "zb_docker_msg.h"
#include "zb_loop.h"

#include <stdbool.h>

typedef struct _zb_docker_t zb_docker_t;

//  Called in the loop for each message, in order; the callee owns msg.
typedef void(zb_docker_fn)(zb_docker_msg_t *msg, void *arg);

//  url: unix:///path; filter: the agent's discover-filter (NULL for none).
//  Starts the thread. NULL with err set on a bad url or filter, or when the
//  thread or pipe cannot be made.
zb_docker_t *zb_docker_new(zb_loop_t *loop, const char *url, const char *filter, zb_docker_fn *fn,
                           void *arg, char *err, size_t errsize);
//  Stops the thread (it ends its request under way) and frees what is
//  still in the pipe.
void zb_docker_destroy(zb_docker_t **self_p);

void zb_docker_test(bool verbose);

#endif
