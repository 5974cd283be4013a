/*  zb_net: addresses, non-blocking connects, endpoint checks. See zb_net.h. */
#include "zb_net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

//  Splits "host:port" / "[v6]:port" into host and port. With allow_star,
//  the port may be "*". Returns 0, or -1 with a message in err.
static int s_split(const char *text, bool allow_star, char *host, size_t hostsize, long *port,
                   char *err, size_t errsize)
{
    const char *colon;
    const char *host_start = text;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errsize, "\"%s\" is not host:port ([IPv6]:port needs a closing ])", text);
            return -1;
        }
        host_start = text + 1;
        host_len = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            snprintf(err, errsize, "\"%s\" is not host:port", text);
            return -1;
        }
        host_len = (size_t)(colon - text);
        if (memchr(text, ':', host_len)) {
            snprintf(err, errsize, "\"%s\" is not host:port (write IPv6 as [addr]:port)", text);
            return -1;
        }
    }
    if (host_len == 0 || host_len >= hostsize) {
        snprintf(err, errsize, "\"%s\" is not host:port (%s host)", text,
                 host_len ? "over-long" : "empty");
        return -1;
    }
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    const char *digits = colon + 1;
    if (allow_star && strcmp(digits, "*") == 0) {
        *port = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(digits, &end, 10);
    if (!isdigit((unsigned char)*digits) || *end != '\0' || errno || n < 1 || n > 65535) {
        snprintf(err, errsize, "\"%s\" is not host:port (port must be 1..65535)", text);
        return -1;
    }
    *port = n;
    return 0;
}

int zb_net_parse(const char *hostport, char *host, size_t hostsize, int *port, zb_net_addr_t *addr,
                 bool *literal, char *err, size_t errsize)
{
    assert(hostport && host && port && addr && literal);
    long n;
    if (s_split(hostport, false, host, hostsize, &n, err, errsize) == -1)
        return -1;
    *port = (int)n;
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&addr->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr->addr;
    //  inet_pton takes only the plain forms (no "1.2", no scope ids): what
    //  it refuses is a name, for the resolver.
    *literal = true;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)n);
        addr->len = sizeof(*in4);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)n);
        addr->len = sizeof(*in6);
    } else {
        *literal = false;
        memset(addr, 0, sizeof(*addr));
    }
    return 0;
}

int zb_net_resolve(const char *hostport, zb_net_addr_t *addr, char *err, size_t errsize)
{
    assert(hostport && addr);
    char host[256], port[8];
    int n;
    bool literal;
    if (zb_net_parse(hostport, host, sizeof(host), &n, addr, &literal, err, errsize) == -1)
        return -1;
    if (literal)
        return 0;
    snprintf(port, sizeof(port), "%d", n);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *result = NULL;
    int rc = getaddrinfo(host, port, &hints, &result);
    //  AI_ADDRCONFIG hides ::1 on hosts with only loopback IPv6; retry plain.
    if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY || rc == EAI_FAMILY) {
        hints.ai_flags = AI_NUMERICSERV;
        rc = getaddrinfo(host, port, &hints, &result);
    }
    if (rc != 0) {
        snprintf(err, errsize, "cannot resolve \"%s\": %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    assert(result && result->ai_addrlen <= sizeof(addr->addr));
    memset(addr, 0, sizeof(*addr));
    memcpy(&addr->addr, result->ai_addr, result->ai_addrlen);
    addr->len = result->ai_addrlen;
    freeaddrinfo(result);
    return 0;
}

int zb_net_addr_set(zb_net_addr_t *addr, const struct sockaddr *sa, size_t len, int port)
{
    assert(addr && sa);
    size_t want = sa->sa_family == AF_INET    ? sizeof(struct sockaddr_in)
                  : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : 0;
    if (want == 0 || len < want)
        return -1;
    memset(addr, 0, sizeof(*addr));
    memcpy(&addr->addr, sa, want);
    addr->len = (socklen_t)want;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&addr->addr)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&addr->addr)->sin6_port = htons((uint16_t)port);
    return 0;
}

bool zb_net_addr_equal(const zb_net_addr_t *a, const zb_net_addr_t *b)
{
    assert(a && b);
    if (a->addr.sa.sa_family != b->addr.sa.sa_family)
        return false;
    if (a->addr.sa.sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->addr,
                                 *y = (const struct sockaddr_in *)&b->addr;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->addr.sa.sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->addr,
                                  *y = (const struct sockaddr_in6 *)&b->addr;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return a->len == b->len && memcmp(&a->addr, &b->addr, a->len) == 0;
}

void zb_net_addr_format(const zb_net_addr_t *addr, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (addr->addr.sa.sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr->addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        snprintf(buf, size, "[%s]:%u", text, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&addr->addr;
        inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
        snprintf(buf, size, "%s:%u", text, ntohs(in4->sin_port));
    }
}

int zb_net_connect(const zb_net_addr_t *addr, int *fd_p)
{
    assert(addr && fd_p);
    *fd_p = -1;
    int fd = socket(addr->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    //  Pings are tiny: without NODELAY, Nagle could hold one back behind an
    //  unacknowledged segment and inflate the round trip.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&addr->addr, addr->len) == 0) {
        *fd_p = fd;
        return 0;
    }
    if (errno == EINPROGRESS) {
        *fd_p = fd;
        return 1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int zb_net_connect_result(int fd)
{
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
        return errno;
    return error;
}

static int s_endpoint_check(const char *endpoint, bool bind, char *err, size_t errsize)
{
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        if (endpoint[6] == '\0') {
            snprintf(err, errsize, "\"%s\" has an empty ipc path", endpoint);
            return -1;
        }
        return 0;
    }
    if (strncmp(endpoint, "tcp://", 6) != 0) {
        snprintf(err, errsize, "\"%s\" is not an endpoint (tcp://host:port or ipc://path)",
                 endpoint);
        return -1;
    }
    char host[256], why[256];
    long port;
    if (s_split(endpoint + 6, bind, host, sizeof(host), &port, why, sizeof(why)) == -1) {
        snprintf(err, errsize, "\"%s\": %s", endpoint, why);
        return -1;
    }
    if (!bind && strcmp(host, "*") == 0) {
        snprintf(err, errsize, "\"%s\": * is for binding; name a host to connect to", endpoint);
        return -1;
    }
    return 0;
}

int zb_net_endpoints_check(const char *list, bool bind, char *err, size_t errsize)
{
    assert(list);
    int rc = -1;
    char *copy = strdup(list);
    if (!copy) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    size_t count = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        size_t len = strlen(item);
        while (len > 0 && isspace((unsigned char)item[len - 1]))
            item[--len] = '\0';
        if (len == 0)
            continue;
        if (s_endpoint_check(item, bind, err, errsize) == -1)
            goto done;
        count++;
    }
    if (count == 0) {
        snprintf(err, errsize, "no endpoint given");
        goto done;
    }
    rc = 0;
done:
    free(copy);
    return rc;
}

const char *zb_net_connect_reason(int error)
{
    switch (error) {
    case ECONNREFUSED:
    //  A reset before the connect was even looked at: the handshake
    //  completed into the listener's queue and the listener closed with it
    //  still there (a server stopping). Nothing will take the connection,
    //  as with a refusal, and the two race on every graceful stop.
    case ECONNRESET:
        return "refused";
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case ETIMEDOUT:
        return "unreachable";
    default:
        return "error";
    }
}

void zb_net_test(bool verbose)
{
    (void)verbose;
    zb_net_addr_t addr;
    char err[256], text[64];
    assert(zb_net_resolve("127.0.0.1:6379", &addr, err, sizeof(err)) == 0);
    zb_net_addr_format(&addr, text, sizeof(text));
    assert(strcmp(text, "127.0.0.1:6379") == 0);
    assert(zb_net_resolve("[::1]:22", &addr, err, sizeof(err)) == 0);
    zb_net_addr_format(&addr, text, sizeof(text));
    assert(strcmp(text, "[::1]:22") == 0);
    assert(zb_net_resolve("localhost:80", &addr, err, sizeof(err)) == 0);
    assert(zb_net_resolve("127.0.0.1:0", &addr, err, sizeof(err)) == -1);
    assert(strstr(err, "port must be 1..65535"));
    assert(zb_net_resolve("127.0.0.1:65536", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve("127.0.0.1:-1", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve("127.0.0.1:80x", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve("127.0.0.1", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve(":80", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve("::1:80", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve("[::1:80", &addr, err, sizeof(err)) == -1);
    assert(zb_net_resolve("no-such-host.invalid:80", &addr, err, sizeof(err)) == -1);
    assert(strstr(err, "cannot resolve"));

    //  Literals are parsed, names left for the resolver.
    char host[64];
    int port;
    bool literal;
    assert(zb_net_parse("10.0.0.1:80", host, sizeof(host), &port, &addr, &literal, err,
                        sizeof(err)) == 0);
    assert(literal && port == 80 && strcmp(host, "10.0.0.1") == 0);
    zb_net_addr_format(&addr, text, sizeof(text));
    assert(strcmp(text, "10.0.0.1:80") == 0);
    assert(zb_net_parse("[::1]:22", host, sizeof(host), &port, &addr, &literal, err, sizeof(err)) ==
           0);
    assert(literal && addr.addr.sa.sa_family == AF_INET6);
    assert(zb_net_parse("redis:6379", host, sizeof(host), &port, &addr, &literal, err,
                        sizeof(err)) == 0);
    assert(!literal && port == 6379 && strcmp(host, "redis") == 0 && addr.len == 0);
    assert(zb_net_parse("redis:0", host, sizeof(host), &port, &addr, &literal, err, sizeof(err)) ==
           -1);
    zb_net_addr_t a, b;
    assert(zb_net_resolve("127.0.0.2:5", &a, err, sizeof(err)) == 0);
    assert(zb_net_resolve("127.0.0.2:5", &b, err, sizeof(err)) == 0);
    assert(zb_net_addr_equal(&a, &b));
    assert(zb_net_resolve("127.0.0.3:5", &b, err, sizeof(err)) == 0);
    assert(!zb_net_addr_equal(&a, &b));
    assert(zb_net_addr_set(&b, (const struct sockaddr *)&a.addr, a.len, 7) == 0);
    zb_net_addr_format(&b, text, sizeof(text));
    assert(strcmp(text, "127.0.0.2:7") == 0);

    assert(zb_net_endpoints_check("tcp://127.0.0.1:7400", false, err, sizeof(err)) == 0);
    assert(zb_net_endpoints_check("tcp://a:1, tcp://[::1]:2,ipc:///tmp/x", false, err,
                                  sizeof(err)) == 0);
    assert(zb_net_endpoints_check("tcp://*:7401", true, err, sizeof(err)) == 0);
    assert(zb_net_endpoints_check("tcp://*:7401", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check("tcp://a", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check("udp://a:1", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check(" , ", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check("ipc://", false, err, sizeof(err)) == -1);

    assert(strcmp(zb_net_connect_reason(ECONNREFUSED), "refused") == 0);
    assert(strcmp(zb_net_connect_reason(ECONNRESET), "refused") == 0);
    assert(strcmp(zb_net_connect_reason(EHOSTUNREACH), "unreachable") == 0);
    assert(strcmp(zb_net_connect_reason(EACCES), "error") == 0);

    //  A connect to a closed port on loopback is refused, at once or after
    //  writability.
    int fd;
    assert(zb_net_resolve("127.0.0.1:1", &addr, err, sizeof(err)) == 0);
    int rc = zb_net_connect(&addr, &fd);
    if (rc == 1) {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        assert(select(fd + 1, NULL, &set, NULL, NULL) == 1);
        assert(zb_net_connect_result(fd) == ECONNREFUSED);
        close(fd);
    } else
        assert(rc == -1 && errno == ECONNREFUSED && fd == -1);
}
