/*  zbeat-agent: watches this host's services over TCP (probing them, or
    listening for their heartbeats) and publishes what it sees to the
    monitor(s) over ZeroMQ. See docs/config-agent.md and docs/push.md.

    Exit codes: 0 ok (including a stop on SIGINT/SIGTERM), 1 runtime
    failure, 2 bad configuration or usage (one line on stderr).
*/
#include "zb_agent.h"
#include "zb_agent_config.h"
#include "zb_check.h"
#include "zb_config.h"
#include "zb_daemon_args.h"
#include "zb_listener.h"
#include "zb_log.h"
#include "zb_resolver.h"
#include "zb_time.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define ZB_PROGRAM "zbeat-agent"

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: " ZB_PROGRAM " -c FILE [options]\n"
        "       " ZB_PROGRAM " -c FILE --probe-once NAME\n"
        "       " ZB_PROGRAM " --probe-once HOST:PORT [--check NAME] [--tls] [KEY options]\n"
        "\n"
        "Watches this host's services over persistent TCP connections (probes, and\n"
        "heartbeats that push and ttl services send to agent/listen) and publishes\n"
        "beats and state changes over ZeroMQ to the monitor(s).\n"
        "\n"
        "  -c, --config FILE       configuration file (required; docs/config-agent.md)\n"
        "      --check-config      check the configuration, print \"FILE: ok\", exit\n"
        "      --name HOST         host name in messages (env ZBEAT_NAME; agent/name)\n"
        "      --monitor ENDPOINTS where to publish, comma-separated\n"
        "                          (env ZBEAT_MONITOR; agent/monitor)\n"
        "      --log-format F      log lines as text (the default) or json\n"
        "  -v, --verbose           debug logging\n"
        "      --version           print the version and exit\n"
        "  -h, --help              print this help and exit\n"
        "\n"
        "  --probe-once NAME|HOST:PORT  check once, print each step, exit 0 up, 1 down\n"
        "  with HOST:PORT, a service's keys (docs/config-agent.md) as options:\n"
        "      --check NAME        tcp, redis, memcached, postgres, http, https, ssh, smtp, mysql\n"
        "      --send S            the ping (C escapes, e.g. \"PING\\r\\n\"); none: connect only\n"
        "      --expect E          the prefix the reply must start with (needs --send)\n"
        "      --timeout T         for the connect and for the reply (default 500ms)\n"
        "      --tls[=yes|no]      a TLS handshake first; --tls-ca FILE, --tls-name NAME,\n"
        "                          --tls-verify no\n"
        "      --http 'GET /PATH'  an HTTP/1.1 request; --http-host H, --http-header 'N: v'\n"
        "                          (repeatable), --expect-status 200-399, --expect-body TEXT\n"
        "\n"
        "Flags win over the environment, the environment over the file.\n"
        "SIGHUP reloads the configuration file.\n"
        "Exit status: 0 ok, 1 runtime failure (--probe-once: down), 2 bad\n"
        "configuration or usage.\n");
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

//  Docker's default host name: the container id, 12 (or all 64) hex digits.
static bool s_looks_like_container_id(const char *name)
{
    size_t len = strspn(name, "0123456789abcdef");
    return name[len] == '\0' && (len == 12 || len == 64);
}

enum { OPT_NAME = ZB_DAEMON_OPT_OWN, OPT_MONITOR, OPT_PROBE_ONCE, OPT_ONCE_KEY };

//  The flags of --probe-once HOST:PORT: a service's keys, by the same names.
typedef struct {
    const char *keys[ZB_AGENT_FLAGS_MAX];
    const char *values[ZB_AGENT_FLAGS_MAX];
    size_t count;
} s_once_flags_t;

//  --check-config: a name that does not resolve now is no error (the probe
//  reports the service down until it does), but likely a typo: say so.
static void s_check_names(const char *path, const zb_agent_config_t *config)
{
    for (size_t i = 0; i < config->service_count; i++) {
        const zb_probe_config_t *probe = &config->services[i].probe;
        if (!config->services[i].probed || probe->literal)
            continue;
        zb_resolve_result_t result;
        if (zb_resolver_resolve_once(probe->host, probe->port, 5000, &result) != ZB_RESOLVE_OK)
            fprintf(stderr,
                    ZB_PROGRAM ": %s: service/%s/probe: warning: %s (the service is down until "
                               "it resolves)\n",
                    path, probe->name, result.error);
    }
}

//  --probe-once: exit 0 up, 1 down, 2 usage or configuration.
static int s_probe_once(const char *path, const zb_agent_overrides_t *overrides, const char *target,
                        const s_once_flags_t *flags)
{
    if (!path) {
        //  The flags are read as the keys of a service in a file would be:
        //  the same checks, presets and defaults.
        char err[1024];
        zb_agent_config_t *once = zb_agent_config_flags(target, flags->keys, flags->values,
                                                        flags->count, err, sizeof(err));
        if (!once) {
            fprintf(stderr, ZB_PROGRAM ": %s\n", err);
            return 2;
        }
        signal(SIGPIPE, SIG_IGN); // TLS writes with write(2)
        int rc = zb_check_run(&once->services[0].probe, stdout);
        zb_agent_config_destroy(&once);
        return rc;
    }
    if (flags->count) {
        fprintf(stderr,
                ZB_PROGRAM ": --%s and the other service keys go with --probe-once "
                           "HOST:PORT; with -c the service's keys apply\n",
                flags->keys[0]);
        return 2;
    }
    char err[1024];
    zb_agent_config_t *config = zb_agent_config_load(path, overrides, err, sizeof(err));
    if (!config) {
        fprintf(stderr, ZB_PROGRAM ": %s\n", err);
        return 2;
    }
    int rc = 2;
    const zb_service_config_t *service = NULL;
    for (size_t i = 0; i < config->service_count && !service; i++) {
        const zb_service_config_t *item = &config->services[i];
        if (strcmp(item->probed ? item->probe.name : item->push.name, target) == 0)
            service = item;
    }
    if (!service)
        fprintf(stderr, ZB_PROGRAM ": %s: no service \"%s\" (for an address, leave out -c)\n", path,
                target);
    else if (!service->probed)
        fprintf(stderr,
                ZB_PROGRAM ": %s: %s is a %s service: it reports to the agent, there is "
                           "nothing to probe\n",
                path, target, service->push.kind == ZB_PUSH_PUSH ? "push" : "ttl");
    else
        rc = zb_check_run(&service->probe, stdout);
    zb_agent_config_destroy(&config);
    return rc;
}

int main(int argc, char *argv[])
{
    static const struct option options[] = {
        ZB_DAEMON_OPTIONS,
        {"name", required_argument, NULL, OPT_NAME},
        {"monitor", required_argument, NULL, OPT_MONITOR},
        {"probe-once", required_argument, NULL, OPT_PROBE_ONCE},
        //  --probe-once HOST:PORT: a service's keys, under their names.
        {"check", required_argument, NULL, OPT_ONCE_KEY},
        {"send", required_argument, NULL, OPT_ONCE_KEY},
        {"expect", required_argument, NULL, OPT_ONCE_KEY},
        {"timeout", required_argument, NULL, OPT_ONCE_KEY},
        {"tls", optional_argument, NULL, OPT_ONCE_KEY},
        {"tls-ca", required_argument, NULL, OPT_ONCE_KEY},
        {"tls-name", required_argument, NULL, OPT_ONCE_KEY},
        {"tls-verify", required_argument, NULL, OPT_ONCE_KEY},
        {"http", required_argument, NULL, OPT_ONCE_KEY},
        {"http-host", required_argument, NULL, OPT_ONCE_KEY},
        {"http-header", required_argument, NULL, OPT_ONCE_KEY},
        {"expect-status", required_argument, NULL, OPT_ONCE_KEY},
        {"expect-body", required_argument, NULL, OPT_ONCE_KEY},
        {NULL, 0, NULL, 0},
    };
    zb_daemon_args_t args = {
        .program = ZB_PROGRAM, .usage = s_usage, .config_table = zb_agent_config_print_table};
    const char *probe_once = NULL;
    s_once_flags_t once_flags = {{NULL}, {NULL}, 0};
    zb_agent_overrides_t overrides = {NULL, NULL, NULL, NULL};
    int opt, index = 0;
    while ((opt = zb_daemon_args_next(&args, argc, argv, options, &index)) != 0) {
        switch (opt) {
        case OPT_NAME:
            overrides.name = optarg;
            overrides.name_source = "--name";
            break;
        case OPT_MONITOR:
            overrides.monitor = optarg;
            overrides.monitor_source = "--monitor";
            break;
        case OPT_PROBE_ONCE:
            probe_once = optarg;
            break;
        case OPT_ONCE_KEY:
            if (once_flags.count == ZB_AGENT_FLAGS_MAX) {
                fprintf(stderr, ZB_PROGRAM ": more than %d probe options\n", ZB_AGENT_FLAGS_MAX);
                return 2;
            }
            //  --tls alone is tls = yes.
            once_flags.keys[once_flags.count] = options[index].name;
            once_flags.values[once_flags.count++] = optarg ? optarg : "yes";
            break;
        }
    }
    if (args.exit != ZB_DAEMON_ARGS_RUN)
        return args.exit;
    const char *path = args.config;
    const bool check = args.check;
    if (!probe_once && once_flags.count) {
        fprintf(stderr, ZB_PROGRAM ": --%s goes with --probe-once (try --help)\n",
                once_flags.keys[0]);
        return 2;
    }
    if (!path && !probe_once) {
        fprintf(stderr, ZB_PROGRAM ": no configuration file: use -c FILE (try --help)\n");
        return 2;
    }
    if (!overrides.name && (overrides.name = s_env("ZBEAT_NAME")))
        overrides.name_source = "ZBEAT_NAME";
    if (!overrides.name && (overrides.name = s_env("ZBEAT_HOST")))
        overrides.name_source = "ZBEAT_HOST";
    if (!overrides.monitor && (overrides.monitor = s_env("ZBEAT_MONITOR")))
        overrides.monitor_source = "ZBEAT_MONITOR";
    zb_daemon_args_log(&args);
    if (probe_once) {
        if (check) {
            fprintf(stderr, ZB_PROGRAM ": --check-config and --probe-once do not mix\n");
            return 2;
        }
        return s_probe_once(path, &overrides, probe_once, &once_flags);
    }

    //  A fixed threshold: large blocks, chiefly each beat's text (about 110
    //  bytes per service, freed by ZeroMQ once sent), get a mapping of their
    //  own that goes back to the system when freed. glibc's default raises
    //  the threshold after the first such free and keeps later beats in the
    //  heap, where their memory stays resident between beats.
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif

    char err[1024];
    zb_agent_config_t *config = zb_agent_config_load(path, &overrides, err, sizeof(err));
    if (!config) {
        //  A log shipper reading JSON gets this line as JSON too.
        if (!check && args.log_format == ZB_LOG_JSON)
            zb_log_error("%s", err);
        else
            fprintf(stderr, ZB_PROGRAM ": %s\n", err);
        return 2;
    }
    if (s_looks_like_container_id(config->name)) {
        //  Docker names a container's host after its id: a recreated
        //  container would be a new host, and the old one silent for good.
        char warning[256];
        snprintf(warning, sizeof(warning),
                 "the agent's name \"%s\" looks like a container id: every recreated "
                 "container becomes a new host; set --name, ZBEAT_NAME or agent/name",
                 config->name);
        if (check)
            fprintf(stderr, ZB_PROGRAM ": warning: %s\n", warning);
        else
            zb_log_warning("%s", warning);
    }
    if (check) {
        s_check_names(path, config);
        zb_daemon_args_ok(&args);
        zb_agent_config_destroy(&config);
        return 0;
    }
    //  Probes write with MSG_NOSIGNAL, except through TLS (OpenSSL writes
    //  with write(2)); this covers that and everything else.
    signal(SIGPIPE, SIG_IGN);
    //  The push listener takes what is left over, up to its connection cap.
    s_raise_nofile(config->service_count + 64 + (config->push_count ? ZB_LISTENER_MAX_CONNS : 0));

    int rc = 1;
    zb_agent_t *agent = zb_agent_new(&config, path, &overrides);
    if (agent && zb_agent_run(agent) == 0)
        rc = 0;
    zb_agent_destroy(&agent);
    return rc;
}
