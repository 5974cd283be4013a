/*  zbeat-agent: watches this host's services over TCP (probing them, or
    listening for their heartbeats) and publishes what it sees to the
    monitor(s) over ZeroMQ. See docs/config-agent.md and docs/push.md.

    Exit codes: 0 ok (including a stop on SIGINT/SIGTERM), 1 runtime
    failure, 2 bad configuration or usage (one line on stderr).
*/
#include "zb_agent.h"
#include "zb_agent_config.h"
#include "zb_listener.h"
#include "zb_log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define ZB_PROGRAM "zbeat-agent"

static void s_usage(FILE *out)
{
    fprintf(out, "usage: " ZB_PROGRAM " -c FILE [options]\n"
                 "\n"
                 "Watches this host's services over persistent TCP connections (probes, and\n"
                 "heartbeats that push and ttl services send to agent/listen) and publishes\n"
                 "beats and state changes over ZeroMQ to the monitor(s).\n"
                 "\n"
                 "  -c, --config FILE       configuration file (required; docs/config-agent.md)\n"
                 "      --check-config      check the configuration, print \"FILE: ok\", exit\n"
                 "      --name HOST         host name in messages (env ZBEAT_HOST; agent/name)\n"
                 "      --monitor ENDPOINTS where to publish, comma-separated\n"
                 "                          (env ZBEAT_MONITOR; agent/monitor)\n"
                 "  -v, --verbose           debug logging\n"
                 "      --version           print the version and exit\n"
                 "  -h, --help              print this help and exit\n"
                 "\n"
                 "Flags win over the environment, the environment over the file.\n"
                 "Exit status: 0 ok, 1 runtime failure, 2 bad configuration or usage.\n");
}

//  A thousand probes need a thousand descriptors: take what the hard limit
//  allows.
static void s_raise_nofile(size_t needed)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == -1)
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) == -1)
            getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed)
        zb_log_warning("open file limit %lu is below the %zu this configuration needs",
                       (unsigned long)limit.rlim_cur, needed);
}

//  An empty variable counts as unset.
static const char *s_env(const char *name)
{
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

enum { OPT_CHECK = 256, OPT_VERSION, OPT_NAME, OPT_MONITOR };

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"name", required_argument, NULL, OPT_NAME},
        {"monitor", required_argument, NULL, OPT_MONITOR},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool check = false, verbose = false;
    zb_agent_overrides_t overrides = {NULL, NULL, NULL, NULL};
    opterr = 0; // our own one-line messages
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case OPT_CHECK:
            check = true;
            break;
        case OPT_NAME:
            overrides.name = optarg;
            overrides.name_source = "--name";
            break;
        case OPT_MONITOR:
            overrides.monitor = optarg;
            overrides.monitor_source = "--monitor";
            break;
        case 'v':
            verbose = true;
            break;
        case OPT_VERSION:
            printf(ZB_PROGRAM " %s\n", ZB_VERSION);
            return 0;
        case 'h':
            s_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, ZB_PROGRAM ": %s needs an argument (try --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, ZB_PROGRAM ": unknown option %s (try --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, ZB_PROGRAM ": unexpected argument \"%s\" (try --help)\n", argv[optind]);
        return 2;
    }
    if (!path) {
        fprintf(stderr, ZB_PROGRAM ": no configuration file: use -c FILE (try --help)\n");
        return 2;
    }
    if (!overrides.name && (overrides.name = s_env("ZBEAT_HOST")))
        overrides.name_source = "ZBEAT_HOST";
    if (!overrides.monitor && (overrides.monitor = s_env("ZBEAT_MONITOR")))
        overrides.monitor_source = "ZBEAT_MONITOR";

    char err[1024];
    zb_agent_config_t *config = zb_agent_config_load(path, &overrides, err, sizeof(err));
    if (!config) {
        fprintf(stderr, ZB_PROGRAM ": %s\n", err);
        return 2;
    }
    if (check) {
        printf("%s: ok\n", path);
        zb_agent_config_destroy(&config);
        return 0;
    }
    zb_log_init(ZB_PROGRAM, verbose);
    //  Probes write with MSG_NOSIGNAL; this covers everything else.
    signal(SIGPIPE, SIG_IGN);
    //  The push listener takes what is left over, up to its connection cap.
    s_raise_nofile(config->service_count + 64 + (config->push_count ? ZB_LISTENER_MAX_CONNS : 0));

    int rc = 1;
    zb_agent_t *agent = zb_agent_new(config);
    if (agent && zb_agent_run(agent) == 0)
        rc = 0;
    zb_agent_destroy(&agent);
    zb_agent_config_destroy(&config);
    return rc;
}
