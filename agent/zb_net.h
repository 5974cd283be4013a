/*  zb_net: addresses and non-blocking TCP connects for the agent's probes,
    plus syntax checks of ZeroMQ endpoint lists.

    Errors come back as text in a caller's buffer (like redis's anet), so the
    caller can put them in a config error or a service's "error" field.
*/
#ifndef ZB_NET_H
#define ZB_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

//  A resolved TCP address.
typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
} zb_net_addr_t;

//  Resolves "host:port", "[v6addr]:port" or "v4addr:port" (port 1..65535)
//  with getaddrinfo, taking the first TCP address. Blocks on DNS for names:
//  call it at configuration time, never from the loop. Returns 0, or -1 with
//  a message in err.
int zb_net_resolve(const char *hostport, zb_net_addr_t *addr, char *err, size_t errsize);

//  Formats an address as "127.0.0.1:6379" or "[::1]:6379".
void zb_net_addr_format(const zb_net_addr_t *addr, char *buf, size_t size);

//  Opens a non-blocking, close-on-exec TCP socket with TCP_NODELAY and starts
//  connecting. Returns 0 when connected at once, 1 when in progress (wait for
//  writability, then zb_net_connect_result), -1 with errno set on failure
//  (then *fd_p is -1 and nothing is left open).
int zb_net_connect(const zb_net_addr_t *addr, int *fd_p);

//  The outcome of a connect that was in progress: 0, or an errno value.
int zb_net_connect_result(int fd);

//  Checks a comma-separated list of ZeroMQ endpoints: tcp://host:port (host
//  a name, an IPv4 address or [IPv6]; with `bind`, also * and port *) or
//  ipc://path. Spaces around commas are allowed. Returns 0, or -1 with a
//  message in err.
int zb_net_endpoints_check(const char *list, bool bind, char *err, size_t errsize);

//  The wire protocol's reason for a failed connect (errno): "refused",
//  "unreachable" or "error".
const char *zb_net_connect_reason(int error);

void zb_net_test(bool verbose);

#endif
