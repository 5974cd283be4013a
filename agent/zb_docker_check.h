/*  zb_docker_check: the Docker settings' syntax, for the config loader
    (zb_agent_config), apart from the reader (zb_docker), which needs the
    loader itself for labels. Implemented in zb_docker.c. */
#ifndef ZB_DOCKER_CHECK_H
#define ZB_DOCKER_CHECK_H

#include <stddef.h>

#define ZB_DOCKER_SOCKET_DEFAULT "unix:///var/run/docker.sock"

//  Checks `docker` and `discover-filter` values. Returns 0, or -1 with a
//  reason in err.
int zb_docker_url_check(const char *url, char *err, size_t errsize);
int zb_docker_filter_check(const char *filter, char *err, size_t errsize);

#endif
