/*  zbeat-monitor: records every agent's outages in SQLite.

    zbeat-monitor [-c FILE] [--check-config] [--db PATH] [--bind ENDPOINT]
                  [--liveness N] [--http HOST:PORT] [-v] [--version] [--help]

    Settings: flag > environment (ZBEAT_DB, ZBEAT_BIND) > file > default.
    Exit: 0 after SIGINT/SIGTERM, 1 on a runtime failure, 2 on bad usage or
    configuration (one line on stderr).
*/
#include "zb_log.h"
#include "zb_monitor.h"
#include "zb_monitor_config.h"
#include "zb_reload.h"
#include "zb_usage.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME "zbeat-monitor"

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

static int s_bad(const char *message)
{
    fprintf(stderr, S_NAME ": %s\n", message);
    return 2;
}

int main(int argc, char *argv[])
{
    enum {
        OPT_CHECK = 256,
        OPT_VERSION,
        OPT_DB,
        OPT_BIND,
        OPT_LIVENESS,
        OPT_HTTP,
        OPT_LOG_FORMAT,
        OPT_CONFIG_TABLE
    };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"db", required_argument, NULL, OPT_DB},
        {"bind", required_argument, NULL, OPT_BIND},
        {"liveness", required_argument, NULL, OPT_LIVENESS},
        {"http", required_argument, NULL, OPT_HTTP},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        //  Not in --help: the directive table for scripts/config_docs.py.
        {"config-table", no_argument, NULL, OPT_CONFIG_TABLE},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *db = NULL, *bind = NULL, *liveness = NULL, *http = NULL;
    bool check = false, verbose = false;
    zb_log_format_t log_format = ZB_LOG_TEXT;
    int opt;
    opterr = 0; // our own one-line messages
    while ((opt = getopt_long(argc, argv, ":c:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            file = optarg;
            break;
        case OPT_CHECK:
            check = true;
            break;
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
        case OPT_LOG_FORMAT:
            if (zb_log_format_parse(optarg, &log_format) == -1) {
                fprintf(stderr, S_NAME ": --log-format: \"%s\" is not text or json\n", optarg);
                return 2;
            }
            break;
        case 'v':
            verbose = true;
            break;
        case OPT_VERSION:
            printf(S_NAME " " ZB_VERSION "\n");
            return 0;
        case OPT_CONFIG_TABLE:
            zb_monitor_config_print_table(stdout);
            return 0;
        case 'h':
            s_usage(stdout);
            return 0;
        default: // ':' or '?'
            return zb_usage_getopt(S_NAME, opt, argv, optind);
        }
    }
    if (optind < argc)
        return zb_usage_unexpected(S_NAME, argv[optind]);

    //  SIGHUP is a reload, read in the loop (zb_reload): blocked before any
    //  thread starts, so it can never kill us, even during start-up.
    zb_reload_block();
    //  The same layering again on every reload.
    const zb_reload_args_t args = {file, db, bind, liveness, http};
    zb_monitor_config_t config;
    char err[1024];
    if (zb_reload_config(&args, &config, err, sizeof(err)) != 0)
        return s_bad(err);
    if (check) {
        printf("%s: ok\n", file ? file : "(no config file)");
        return 0;
    }

    zb_log_init(S_NAME, verbose);
    zb_log_set_format(log_format);
    zb_monitor_t *monitor = zb_monitor_new(&config, err, sizeof(err));
    if (!monitor) {
        zb_log_error("%s", err);
        return 1;
    }
    //  It owns the HTTP server, whose threads read the database and the
    //  monitor's snapshot: it goes before the monitor does.
    zb_reload_t *reload = zb_reload_new(&args, monitor, &config, err, sizeof(err));
    if (!reload) {
        zb_log_error("%s", err);
        zb_monitor_destroy(&monitor);
        return 1;
    }
    int rc = zb_monitor_run(monitor) == 0 ? 0 : 1;
    zb_reload_destroy(&reload);
    zb_monitor_destroy(&monitor);
    if (rc == 0)
        zb_log_info("monitor stopped");
    return rc;
}
