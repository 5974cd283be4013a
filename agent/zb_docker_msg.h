/*  zb_docker_msg: what the Docker reader (zb_docker) tells the agent's
    loop, and what an inspected container (the Engine API's GET
    /containers/ID/json document) means for probing: whether its labels ask
    for a probe, the service's name, the port and the address the agent can
    reach it at, and the service's keys from its zbeat.* labels, checked as
    in the config file. Pure: reads documents, asks the engine nothing
    (zb_docker fetches what it needs).
*/
#ifndef ZB_DOCKER_MSG_H
#define ZB_DOCKER_MSG_H

#include "zb_agent_config.h"

#include <jansson.h>
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

//  A message of what, for the container id (NULL: none); NULL when out of
//  memory.
zb_docker_msg_t *zb_docker_msg_new(zb_docker_what_t what, const char *id);
void zb_docker_msg_destroy(zb_docker_msg_t **msg_p);

//  Whether labels (an object of strings) ask for a probe.
bool zb_docker_msg_labelled(json_t *labels);

//  The container whose network namespace doc's shares (network_mode
//  container:X or service:x), or NULL.
const char *zb_docker_msg_netns(json_t *doc);

//  A CONTAINER message for the inspected container doc, or NULL (logged)
//  for one that cannot be probed. owner: the inspect of the container named
//  by zb_docker_msg_netns, NULL when none or it could not be read.
zb_docker_msg_t *zb_docker_msg_container(json_t *doc, json_t *owner);

void zb_docker_msg_test(bool verbose);

#endif
