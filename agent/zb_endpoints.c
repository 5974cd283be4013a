/*  zb_endpoints: the agent's PUB connects to a comma-separated list of
    monitor endpoints; a reload connects the new ones and drops the gone. */
#include "zb_endpoints.h"
#include "zb_log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

//  Splits a comma-separated endpoint list. NULL when out of memory.
static zlist_t *s_endpoints(const char *list)
{
    zlist_t *endpoints = zlist_new();
    char *copy = strdup(list);
    if (!endpoints || !copy) {
        zlist_destroy(&endpoints);
        free(copy);
        return NULL;
    }
    zlist_autofree(endpoints);
    char *save = NULL;
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save))
        if (zlist_append(endpoints, item) == -1) {
            zlist_destroy(&endpoints);
            break;
        }
    free(copy);
    return endpoints;
}

static bool s_endpoints_has(zlist_t *endpoints, const char *endpoint)
{
    for (const char *item = zlist_first(endpoints); item; item = zlist_next(endpoints))
        if (strcmp(item, endpoint) == 0)
            return true;
    return false;
}

//  Connects to every endpoint of `list` that `except` (may be NULL) does
//  not have. On failure, what was connected is disconnected again.
int zb_endpoints_connect(zsock_t *sock, const char *list, const char *except)
{
    zlist_t *endpoints = s_endpoints(list);
    zlist_t *old = except ? s_endpoints(except) : zlist_new();
    zlist_t *done = zlist_new();
    int rc = -1;
    if (!endpoints || !old || !done) {
        zb_log_error("out of memory");
        goto finished;
    }
    for (const char *item = zlist_first(endpoints); item; item = zlist_next(endpoints)) {
        if (s_endpoints_has(old, item) || s_endpoints_has(done, item))
            continue;
        if (zsock_connect(sock, "%s", item) == -1) {
            zb_log_error("cannot connect to monitor %s: %s", item, zmq_strerror(zmq_errno()));
            for (const char *undo = zlist_first(done); undo; undo = zlist_next(done))
                zsock_disconnect(sock, "%s", undo);
            goto finished;
        }
        zlist_append(done, (void *)item);
    }
    rc = 0;
finished:
    zlist_destroy(&done);
    zlist_destroy(&old);
    zlist_destroy(&endpoints);
    return rc;
}

//  Disconnects from every endpoint of `list` that `keep` does not have.
void zb_endpoints_disconnect(zsock_t *sock, const char *list, const char *keep)
{
    zlist_t *endpoints = s_endpoints(list);
    zlist_t *kept = s_endpoints(keep);
    if (endpoints && kept)
        for (const char *item = zlist_first(endpoints); item; item = zlist_next(endpoints))
            if (!s_endpoints_has(kept, item))
                zsock_disconnect(sock, "%s", item);
    zlist_destroy(&kept);
    zlist_destroy(&endpoints);
}
