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

#include "zb_agent_config.h"
#include "zb_docker_check.h"
#include "zb_loop.h"

#include <stdbool.h>

#define ZB_DOCKER_ID_MAX 64

typedef enum {
    ZB_DOCKER_SYNC = 1,  // a session begins: CONTAINER for every one there is, then SYNCED
    ZB_DOCKER_CONTAINER, // a labelled container, from the list or after its `start`
    ZB_DOCKER_SYNCED,    // the list is complete: what was not in it is gone
    ZB_DOCKER_KILL,      // a signal was sent to it (`docker stop` sends its stop signal)
    ZB_DOCKER_DIE,       // its main process ended
    ZB_DOCKER_STOP,      // Docker's stop finished (after the die)
    ZB_DOCKER_OOM,       // the kernel's OOM killer struck in it
    ZB_DOCKER_DESTROY,   // removed
    ZB_DOCKER_HEALTH,    // its healthcheck's verdict changed: unhealthy says which
    ZB_DOCKER_LOST       // the API went away: text says why
} zb_docker_what_t;

typedef struct {
    zb_docker_what_t what;
    char id[ZB_DOCKER_ID_MAX + 1]; // the container's full id; empty for SYNC, SYNCED, LOST
    char name[ZB_NAME_MAX + 1];    // CONTAINER: the service's name
    char container[128];           // CONTAINER: the container's name, for messages
    bool running;                  // CONTAINER: it runs (else exited)
    int exit_code;                 // CONTAINER (exited), DIE
    bool oom_killed;               // CONTAINER (exited)
    int signal;                    // KILL
    bool health;                   // CONTAINER: zbeat.health = yes: Docker's healthcheck counts
    bool unhealthy;                // CONTAINER, HEALTH: the healthcheck says unhealthy
    zb_agent_config_t *config;     // CONTAINER, running: its one probed service (owned)
    char text[256];                // LOST: why
} zb_docker_msg_t;

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

void zb_docker_msg_destroy(zb_docker_msg_t **msg_p);

void zb_docker_test(bool verbose);

#endif
