/*  zbeat-ping: heartbeats to the zbeat agent from scripts and cron jobs.

        zbeat-ping [OPTIONS] checkin NAME
        zbeat-ping [OPTIONS] run NAME -- CMD [ARGS...]

    See usage() and docs/push.md. Exit codes: checkin 0 when the agent
    acknowledged, 1 otherwise; run exits with CMD's status (128+N when CMD
    died of signal N, 127/126 when it could not be started); 2 for bad usage.
*/
#include "zb_time.h"
#include "zbeat_client.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ZB_VERSION
#define ZB_VERSION "unknown"
#endif

#define S_DEFAULT_AGENT "127.0.0.1:7401"
#define S_DEFAULT_TIMEOUT_MS 5000
#define S_DEFAULT_EVERY_MS 5000

extern char **environ;

//  Signals that run passes on to CMD: the job decides how to stop.
static const int s_forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define S_FORWARDED (sizeof(s_forwarded) / sizeof(s_forwarded[0]))

static volatile pid_t s_child = 0;
static int s_verbosity = 1; // 0 quiet, 1 problems, 2 everything

static void s_usage(FILE *out)
{
    fprintf(out, "usage: zbeat-ping [OPTIONS] checkin NAME\n"
                 "       zbeat-ping [OPTIONS] run NAME -- CMD [ARGS...]\n"
                 "\n"
                 "checkin  one check-in of the ttl service NAME; exit 0 only when the agent\n"
                 "         acknowledged it.\n"
                 "run      runs CMD and heartbeats for the push service NAME while it lives;\n"
                 "         says BYE (a planned stop) when CMD exits 0, just closes otherwise (the\n"
                 "         agent marks NAME down at once). Exits with CMD's status. CMD runs even\n"
                 "         when the agent is unreachable.\n"
                 "\n"
                 "options:\n"
                 "  -a, --agent HOST:PORT   the agent's push listener (default $ZBEAT_AGENT,\n"
                 "                          then " S_DEFAULT_AGENT ")\n"
                 "  -t, --timeout DURATION  checkin: how long to wait for the agent; run: how\n"
                 "                          long to wait for the first connection before\n"
                 "                          starting CMD anyway (default 5s)\n"
                 "  -e, --every DURATION    run: PING period, at most the service's push\n"
                 "                          setting (default 5s)\n"
                 "  -q, --quiet             no messages on stderr\n"
                 "  -v, --verbose           also report successful connections\n"
                 "  -h, --help              this text\n"
                 "  -V, --version           the version\n"
                 "\n"
                 "DURATION: 500ms, 10s, 1.5m, 1h.\n");
}

static int s_usage_error(const char *format, const char *value)
{
    fprintf(stderr, "zbeat-ping: ");
    fprintf(stderr, format, value);
    fprintf(stderr, "\nTry 'zbeat-ping --help'.\n");
    return 2;
}

//  "10s" -> 10000. Positive, and at most a day: a heartbeat period.
static int s_parse_duration(const char *text, int *ms)
{
    int64_t value;
    if (zb_time_parse_duration(text, &value) != 0 || value < 1 || value > 86400000)
        return -1;
    *ms = (int)value;
    return 0;
}

//  "HOST:PORT", "[IPv6]:PORT", optionally after "tcp://" (the agent's own
//  spelling of its listen endpoint).
static int s_parse_agent(const char *text, char *host, size_t size, int *port)
{
    if (strncmp(text, "tcp://", 6) == 0)
        text += 6;
    const char *colon;
    const char *start = text;
    size_t len;
    if (*text == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return -1;
        start = text + 1;
        len = (size_t)(close - start);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return -1;
        len = (size_t)(colon - text);
    }
    if (len == 0 || len >= size)
        return -1;
    memcpy(host, start, len);
    host[len] = '\0';
    const char *digits = colon + 1;
    if (strlen(digits) == 0 || strlen(digits) > 5 || strspn(digits, "0123456789") != strlen(digits))
        return -1;
    *port = atoi(digits);
    return *port >= 1 && *port <= 65535 ? 0 : -1;
}

static void s_log(void *arg, int level, const char *message)
{
    (void)arg;
    if ((level == ZBEAT_CLIENT_WARNING && s_verbosity >= 1) || s_verbosity >= 2)
        fprintf(stderr, "zbeat-ping: %s\n", message);
}

static int s_checkin(const char *host, int port, const char *name, int timeout_ms)
{
    char err[256];
    if (zbeat_client_checkin(host, port, name, timeout_ms, err, sizeof(err)) != 0) {
        if (s_verbosity >= 1)
            fprintf(stderr, "zbeat-ping: checkin %s: %s\n", name, err);
        return 1;
    }
    if (s_verbosity >= 2)
        fprintf(stderr, "zbeat-ping: checkin %s: OK\n", name);
    return 0;
}

//  Passes a signal on to CMD, unless the kernel sent it (a terminal's ^C
//  reaches the whole process group, CMD included: once is enough).
static void s_forward(int signum, siginfo_t *info, void *context)
{
    (void)context;
    if (s_child > 0 && info->si_code <= 0)
        kill(s_child, signum);
}

static int s_run(const char *host, int port, const char *name, int every_ms, int timeout_ms,
                 char *argv[])
{
    zbeat_client_t *client = zbeat_client_new_with_log(host, port, name, every_ms, s_log, NULL);
    if (!client) {
        fprintf(stderr, "zbeat-ping: cannot start the heartbeat thread\n");
        return 1;
    }
    //  HELLO before CMD starts when the agent is there, so that even a short
    //  job is seen; but never hold the job back for long.
    zbeat_client_wait(client, timeout_ms);

    //  Forwarded signals stay blocked from before the spawn until the
    //  handlers are in place, so none is lost or kills us without CMD.
    sigset_t forwarded, old, empty;
    sigemptyset(&forwarded);
    sigemptyset(&empty);
    for (size_t i = 0; i < S_FORWARDED; i++)
        sigaddset(&forwarded, s_forwarded[i]);
    sigprocmask(SIG_BLOCK, &forwarded, &old);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &forwarded);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        fprintf(stderr, "zbeat-ping: %s: %s\n", argv[0], strerror(rc));
        zbeat_client_destroy(&client, false);
        return rc == ENOENT ? 127 : 126;
    }
    s_child = pid;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = s_forward;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < S_FORWARDED; i++)
        sigaction(s_forwarded[i], &action, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "zbeat-ping: waitpid: %s\n", strerror(errno));
            zbeat_client_destroy(&client, false);
            return 1;
        }
    }
    int code = 1;
    if (WIFEXITED(status))
        code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        code = 128 + WTERMSIG(status);
    if (code != 0 && s_verbosity >= 2)
        fprintf(stderr, "zbeat-ping: %s: %s ended with %d: closing without BYE\n", name, argv[0],
                code);
    zbeat_client_destroy(&client, code == 0);
    return code;
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"agent", required_argument, NULL, 'a'}, {"timeout", required_argument, NULL, 't'},
        {"every", required_argument, NULL, 'e'}, {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},     {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0}};
    const char *agent = getenv("ZBEAT_AGENT");
    if (!agent || !*agent)
        agent = S_DEFAULT_AGENT;
    int timeout_ms = S_DEFAULT_TIMEOUT_MS;
    int every_ms = S_DEFAULT_EVERY_MS;
    opterr = 0;
    int opt;
    //  "+": options end at the first operand, so CMD's own options are its.
    while ((opt = getopt_long(argc, argv, "+a:t:e:qvhV", options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            agent = optarg;
            break;
        case 't':
            if (s_parse_duration(optarg, &timeout_ms) != 0)
                return s_usage_error("--timeout: \"%s\" is not a duration", optarg);
            break;
        case 'e':
            if (s_parse_duration(optarg, &every_ms) != 0)
                return s_usage_error("--every: \"%s\" is not a duration", optarg);
            break;
        case 'q':
            s_verbosity = 0;
            break;
        case 'v':
            s_verbosity = 2;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case 'V':
            printf("zbeat-ping %s\n", ZB_VERSION);
            return 0;
        default:
            return s_usage_error("bad option \"%s\"", argv[optind - 1]);
        }
    }
    char host[256];
    int port;
    if (s_parse_agent(agent, host, sizeof(host), &port) != 0)
        return s_usage_error("agent \"%s\": expected HOST:PORT", agent);
    if (optind >= argc)
        return s_usage_error("%s", "a command is required: checkin or run");
    const char *command = argv[optind++];
    if (optind >= argc)
        return s_usage_error("%s: a service NAME is required", command);
    const char *name = argv[optind++];
    if (!zbeat_client_name_valid(name))
        return s_usage_error("\"%s\" is not a valid service name", name);

    if (strcmp(command, "checkin") == 0) {
        if (optind < argc)
            return s_usage_error("checkin: unexpected \"%s\"", argv[optind]);
        return s_checkin(host, port, name, timeout_ms);
    }
    if (strcmp(command, "run") == 0) {
        if (optind < argc && strcmp(argv[optind], "--") == 0)
            optind++;
        if (optind >= argc)
            return s_usage_error("%s", "run: CMD is missing (run NAME -- CMD [ARGS...])");
        return s_run(host, port, name, every_ms, timeout_ms, argv + optind);
    }
    return s_usage_error("unknown command \"%s\"", command);
}
