/*  zb_address: an address to listen on, "HOST:PORT" (the monitor's http). */
#include "zb_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zb_address_parse(const char *address, struct sockaddr_storage *addr, socklen_t *len, char *err,
                     size_t errsize)
{
    memset(addr, 0, sizeof(*addr));
    const char *colon = strrchr(address, ':');
    const char *host_end = colon;
    const char *host = address;
    bool v6 = address[0] == '[';
    if (v6) {
        host_end = strchr(address, ']');
        host = address + 1;
        if (!host_end || host_end[1] != ':') {
            snprintf(err, errsize, "\"%.100s\" is not HOST:PORT (e.g. 127.0.0.1:7480)", address);
            return -1;
        }
        colon = host_end + 1;
    }
    if (!colon || colon == address || !colon[1]) {
        snprintf(err, errsize, "\"%.100s\" is not HOST:PORT (e.g. 127.0.0.1:7480)", address);
        return -1;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 0 || port > 65535 || !(colon[1] >= '0' && colon[1] <= '9')) {
        snprintf(err, errsize, "\"%.100s\": the port is not a number from 0 to 65535", address);
        return -1;
    }
    char name[64];
    size_t name_len = (size_t)(host_end - host);
    if (name_len == 0 || name_len >= sizeof(name)) {
        snprintf(err, errsize, "\"%.100s\": no host address before the port", address);
        return -1;
    }
    memcpy(name, host, name_len);
    name[name_len] = '\0';
    if (v6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, name, &in6->sin6_addr) != 1) {
            snprintf(err, errsize, "\"%.100s\": %s is not an IPv6 address", address, name);
            return -1;
        }
        *len = sizeof(*in6);
        return 0;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    if (strcmp(name, "*") == 0)
        in->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(name, "localhost") == 0)
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, name, &in->sin_addr) != 1) {
        snprintf(err, errsize,
                 "\"%.100s\": %s is not an IPv4 address, localhost, * or [IPv6 address]", address,
                 name);
        return -1;
    }
    *len = sizeof(*in);
    return 0;
}

int zb_address_check(const char *address, char *err, size_t errsize)
{
    struct sockaddr_storage addr;
    socklen_t len;
    return zb_address_parse(address, &addr, &len, err, errsize);
}
