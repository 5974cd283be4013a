/*  zb_address: an address to listen on: "HOST:PORT" with HOST a numeric
    IPv4 address, "localhost", "*" (every IPv4 address) or "[IPv6]", PORT 0
    to 65535 (0: any free port). The monitor's http key is checked with it
    when the configuration loads, and the HTTP server binds what it gives. */
#ifndef ZB_ADDRESS_H
#define ZB_ADDRESS_H

#include <stddef.h>
#include <sys/socket.h>

//  Fills addr and len. Returns 0, or -1 with the reason in err.
int zb_address_parse(const char *address, struct sockaddr_storage *addr, socklen_t *len, char *err,
                     size_t errsize);
//  The same check without the result.
int zb_address_check(const char *address, char *err, size_t errsize);

#endif
