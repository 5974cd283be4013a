/*  zb_net: addresses and non-blocking TCP connects for the agent's probes,
    plus syntax checks of ZeroMQ endpoint lists.

    Errors come back as text in a caller's buffer (like redis's anet), so the
    caller can put them in a config error or a service's "error" field.
*/
#ifndef ZB_NET_H
#define ZB_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

//  A resolved TCP address, IPv4 or IPv6: sized for those two rather than
//  for any family (sockaddr_storage), since every probe's config and state
//  hold one (the agent's memory per service, docs/benchmarks.md item 4).
typedef struct {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    socklen_t len;
} zb_net_addr_t;

//  Splits "host:port", "[v6addr]:port" or "v4addr:port" (port 1..65535)
//  into host (at most hostsize - 1 bytes) and port, and tells whether the
//  host is a literal address: then *addr is that address and *literal is
//  true, and nothing needs resolving; a name leaves *addr zeroed for the
//  resolver (zb_resolver). Never blocks. Returns 0, or -1 with a message
//  in err.
int zb_net_parse(const char *hostport, char *host, size_t hostsize, int *port, zb_net_addr_t *addr,
                 bool *literal, char *err, size_t errsize);

//  Like zb_net_parse, then resolves a name with getaddrinfo, taking the
//  first TCP address. Blocks on DNS for names: for tests and tools, never
//  for the agent (which resolves through zb_resolver). Returns 0, or -1
//  with a message in err.
int zb_net_resolve(const char *hostport, zb_net_addr_t *addr, char *err, size_t errsize);

//  An address of family AF_INET or AF_INET6 from a sockaddr and a port.
//  Returns 0, or -1 for another family or size.
int zb_net_addr_set(zb_net_addr_t *addr, const struct sockaddr *sa, size_t len, int port);

//  Whether two addresses are the same (family, address, port).
bool zb_net_addr_equal(const zb_net_addr_t *a, const zb_net_addr_t *b);

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
