/*  zb-bench-server: the probed service for the agent-scale benchmark
    (docs/benchmarks.md, item 4).

    One epoll thread, many connections, one or many listening ports. Like
    redis answering an inline PING, it replies "+PONG\r\n" to every line it
    receives, and counts: accepted connections, answered lines, open
    connections. Those counts are the number of checks the agent (or monit)
    really made, measured at the server rather than trusted from the client.

    stdout: "port <p>" per listening port, then "ready"; on SIGUSR1 and at
    exit (SIGINT/SIGTERM): "stats mono_us=N accepts=N lines=N conns=N".
*/
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_EVENTS 256
#define S_LISTENER (1ULL << 32) // epoll data tag of a listening socket
#define S_SIGNALS (1ULL << 33)  // epoll data tag of the signalfd

static const char s_reply[] = "+PONG\r\n";

static int64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_listen(int epoll, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = S_LISTENER | (uint64_t)fd};
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0 ||
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    printf("port %d\n", ntohs(addr.sin_port));
    return fd;
}

int main(int argc, char **argv)
{
    int port = 0, ports = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ports") == 0 && i + 1 < argc)
            ports = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: zb-bench-server [--port P] [--ports N]\n");
            return 2;
        }
    }
    if (ports < 1 || (port && ports != 1)) {
        fprintf(stderr, "zb-bench-server: --port takes one port; --ports N takes free ones\n");
        return 2;
    }
    //  One descriptor per connection: take what the hard limit allows.
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = S_SIGNALS};
    if (epoll < 0 || sigfd < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, sigfd, &sev) != 0) {
        perror("zb-bench-server");
        return 1;
    }
    for (int i = 0; i < ports; i++) {
        if (s_listen(epoll, port) < 0) {
            perror("zb-bench-server: listen");
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);

    uint64_t accepts = 0, lines = 0, conns = 0;
    bool running = true;
    char buf[4096];
    while (running) {
        struct epoll_event events[S_EVENTS];
        int n = epoll_wait(epoll, events, S_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("zb-bench-server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            uint64_t data = events[i].data.u64;
            int fd = (int)(data & 0xffffffffULL);
            if (data & S_SIGNALS) {
                struct signalfd_siginfo info;
                while (read(sigfd, &info, sizeof(info)) == sizeof(info)) {
                    printf("stats mono_us=%" PRId64 " accepts=%" PRIu64 " lines=%" PRIu64
                           " conns=%" PRIu64 "\n",
                           s_mono_us(), accepts, lines, conns);
                    fflush(stdout);
                    if (info.ssi_signo != SIGUSR1)
                        running = false;
                }
            } else if (data & S_LISTENER) {
                int conn;
                while ((conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)conn};
                    if (epoll_ctl(epoll, EPOLL_CTL_ADD, conn, &ev) != 0) {
                        close(conn);
                        continue;
                    }
                    accepts++;
                    conns++;
                }
            } else {
                ssize_t got = read(fd, buf, sizeof(buf));
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(fd); // also leaves the epoll set
                    conns--;
                    continue;
                }
                for (ssize_t j = 0; j < got; j++) {
                    if (buf[j] != '\n')
                        continue;
                    lines++;
                    //  Tiny replies to a peer that reads: a short write is
                    //  not worth buffering in a benchmark server.
                    if (write(fd, s_reply, sizeof(s_reply) - 1) < 0)
                        break;
                }
            }
        }
    }
    return 0;
}
