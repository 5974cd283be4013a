/*  zb_endpoints: connecting a socket to a comma-separated list of
    endpoints, and moving it from one list to another. */
#ifndef ZB_ENDPOINTS_H
#define ZB_ENDPOINTS_H

#include <czmq.h>

//  Connects sock to every endpoint of `list` that `except` (may be NULL)
//  does not have. On failure, what was connected is disconnected again and
//  -1 returned (logged).
int zb_endpoints_connect(zsock_t *sock, const char *list, const char *except);

//  Disconnects sock from every endpoint of `list` that `keep` does not have.
void zb_endpoints_disconnect(zsock_t *sock, const char *list, const char *keep);

#endif
