/*  zbeat-monitor: records every agent's outages in SQLite.

    zbeat-monitor [-c FILE] [--check-config] [--db PATH] [--bind ENDPOINT]
                  [--liveness N] [--http HOST:PORT] [-v] [--version] [--help]

    Settings: flag > environment (ZBEAT_DB, ZBEAT_BIND) > file > default.
    Exit: 0 after SIGINT/SIGTERM, 1 on a runtime failure, 2 on bad usage or
    configuration (one line on stderr).
*/
#include "zb_daemon_args.h"
#include "zb_log.h"
#include "zb_monitor.h"
#include "zb_monitor_config.h"
#include "zb_reload.h"

#include <getopt.h>
#include <stdio.h>

#define S_NAME "zbeat-monitor"

//  Sanitizer builds free everything at exit, so leaks show (GCC and clang
//  say so differently).
#if defined(__SANITIZE_ADDRESS__)
#define ZB_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZB_FREE_AT_EXIT 1
#endif
#endif
#ifndef ZB_FREE_AT_EXIT
#define ZB_FREE_AT_EXIT 0
static zb_monitor_t *s_monitor; // left to the system at exit
#endif

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: " S_NAME " [-c FILE] [--check-config] [--db PATH] [--bind ENDPOINT]\n"
            "                     [--liveness N] [--http HOST:PORT] [--log-format text|json]\n"
            "                     [-v] [--version] [--help]\n"
            "\n"
            "  -c, --config FILE   ZPL configuration (optional; see docs/config-monitor.md)\n"
            "      --check-config  validate the configuration and exit\n"
            "      --db PATH       SQLite database (env ZBEAT_DB; default " ZB_MONITOR_DB_DEFAULT
            ")\n"
            "      --bind ENDPOINT where agents connect (env ZBEAT_BIND; "
            "default " ZB_MONITOR_BIND_DEFAULT ")\n"
            "      --liveness N    beats a host may miss before it is silent (default 5)\n"
            "      --http HOST:PORT  serve the status page, API and metrics (docs/http.md)\n"
            "      --log-format F  log lines as text (the default) or json\n"
            "  -v, --verbose       debug logging\n"
            "      --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n"
            "\n"
            "SIGHUP reloads the configuration file; SIGINT/SIGTERM stop.\n");
}

int main(int argc, char *argv[])
{
    enum { OPT_DB = ZB_DAEMON_OPT_OWN, OPT_BIND, OPT_LIVENESS, OPT_HTTP };
    static const struct option options[] = {
        ZB_DAEMON_OPTIONS,
        {"db", required_argument, NULL, OPT_DB},
        {"bind", required_argument, NULL, OPT_BIND},
        {"liveness", required_argument, NULL, OPT_LIVENESS},
        {"http", required_argument, NULL, OPT_HTTP},
        {NULL, 0, NULL, 0},
    };
    zb_daemon_args_t args = {
        .program = S_NAME, .usage = s_usage, .config_table = zb_monitor_config_print_table};
    const char *db = NULL, *bind = NULL, *liveness = NULL, *http = NULL;
    int opt;
    while ((opt = zb_daemon_args_next(&args, argc, argv, options, NULL)) != 0) {
        switch (opt) {
        case OPT_DB:
            db = optarg;
            break;
        case OPT_BIND:
            bind = optarg;
            break;
        case OPT_LIVENESS:
            liveness = optarg;
            break;
        case OPT_HTTP:
            http = optarg;
            break;
        }
    }
    if (args.exit != ZB_DAEMON_ARGS_RUN)
        return args.exit;

    //  SIGHUP is a reload, read in the loop (zb_reload): blocked before any
    //  thread starts, so it can never kill us, even during start-up.
    zb_reload_block();
    //  The same layering again on every reload.
    const zb_reload_args_t flags = {args.config, db, bind, liveness, http};
    zb_monitor_config_t config;
    char err[1024];
    if (zb_reload_config(&flags, &config, err, sizeof(err)) != 0)
        return zb_daemon_args_bad(&args, err);
    if (args.check)
        return zb_daemon_args_ok(&args);

    zb_daemon_args_log(&args);
    zb_monitor_t *monitor = zb_monitor_new(&config, err, sizeof(err));
    if (!monitor) {
        zb_log_error("%s", err);
        return 1;
    }
    //  It owns the HTTP server, whose threads read the database and the
    //  monitor's snapshot: it goes before the monitor does.
    zb_reload_t *reload = zb_reload_new(&flags, monitor, &config, err, sizeof(err));
    if (!reload) {
        zb_log_error("%s", err);
        zb_monitor_destroy(&monitor);
        return 1;
    }
    int rc = zb_monitor_run(monitor) == 0 ? 0 : 1;
    zb_reload_destroy(&reload);
    //  Everything durable is written and the database closed here; what is
    //  left is memory. Freed block by block it was a third of a large shard's
    //  stop (1.7 s of 4.8 at 100,000 hosts x 20 services): the system takes
    //  it back at once. Leak checkers want every block freed.
    zb_monitor_close(monitor);
#if ZB_FREE_AT_EXIT
    zb_monitor_destroy(&monitor);
#else
    s_monitor = monitor; // still reachable for valgrind, not lost
#endif
    if (rc == 0)
        zb_log_info("monitor stopped");
    return rc;
}
