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

int zb_net_resolve(const char *hostport, zb_net_addr_t *addr, char *err, size_t errsize)
{
    assert(hostport && addr);
    char host[256], port[8];
    long n;
    if (s_split(hostport, false, host, sizeof(host), &n, err, errsize) == -1)
        return -1;
    snprintf(port, sizeof(port), "%ld", n);
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

void zb_net_addr_format(const zb_net_addr_t *addr, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (addr->addr.ss_family == AF_INET6) {
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
    int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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

    assert(zb_net_endpoints_check("tcp://127.0.0.1:7400", false, err, sizeof(err)) == 0);
    assert(zb_net_endpoints_check("tcp://a:1, tcp://[::1]:2,ipc:///tmp/x", false, err,
                                  sizeof(err)) == 0);
    assert(zb_net_endpoints_check("tcp://*:7401", true, err, sizeof(err)) == 0);
    assert(zb_net_endpoints_check("tcp://*:7401", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check("tcp://a", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check("udp://a:1", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check(" , ", false, err, sizeof(err)) == -1);
    assert(zb_net_endpoints_check("ipc://", false, err, sizeof(err)) == -1);

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
