/*  zbeat-relay: passes agents' messages on to shard monitors, each
    receiving only its hosts (docs/config-relay.md).

    zbeat-relay [-c FILE] [--check-config] [--bind ENDPOINTS] [--monitor ENDPOINTS]
                [--log-format text|json] [-v] [--version] [--help]

    Settings: flag > file > default. Exit: 0 after SIGINT/SIGTERM, 1 on a
    runtime failure, 2 on bad usage or configuration (one line on stderr).
*/
#include "zb_log.h"
#include "zb_relay.h"
#include "zb_relay_config.h"
#include "zb_usage.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME "zbeat-relay"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: " S_NAME " [-c FILE] [--check-config] [--bind ENDPOINTS]\n"
            "                   [--monitor ENDPOINTS] [--log-format text|json]\n"
            "                   [-v] [--version] [--help]\n"
            "\n"
            "  -c, --config FILE     ZPL configuration (see docs/config-relay.md)\n"
            "      --check-config    validate the configuration and exit\n"
            "      --bind ENDPOINTS  where agents connect (default " ZB_RELAY_BIND_DEFAULT ")\n"
            "      --monitor ENDPOINTS  the shard monitors' monitor/bind endpoints,\n"
            "                        comma-separated (required, here or in the file)\n"
            "      --log-format F    log lines as text (the default) or json\n"
            "  -v, --verbose         debug logging\n"
            "      --version         print the version and exit\n"
            "  -h, --help            print this help and exit\n"
            "\n"
            "SIGINT/SIGTERM stop.\n");
}

int main(int argc, char *argv[])
{
    enum { OPT_CHECK = 256, OPT_VERSION, OPT_BIND, OPT_MONITOR, OPT_LOG_FORMAT, OPT_CONFIG_TABLE };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"bind", required_argument, NULL, OPT_BIND},
        {"monitor", required_argument, NULL, OPT_MONITOR},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        //  Not in --help: the keys' table for scripts/config_docs.py.
        {"config-table", no_argument, NULL, OPT_CONFIG_TABLE},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *bind = NULL, *monitor = NULL;
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
        case OPT_BIND:
            bind = optarg;
            break;
        case OPT_MONITOR:
            monitor = optarg;
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
            zb_relay_config_print_table(stdout);
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

    zb_relay_config_t config;
    zb_relay_config_defaults(&config);
    char err[1024];
    if ((file && zb_relay_config_load(&config, file, err, sizeof(err)) != 0) ||
        (bind && zb_relay_config_set_bind(&config, bind, "--bind", err, sizeof(err)) != 0) ||
        (monitor &&
         zb_relay_config_set_monitor(&config, monitor, "--monitor", err, sizeof(err)) != 0) ||
        zb_relay_config_check(&config, err, sizeof(err)) != 0) {
        fprintf(stderr, S_NAME ": %s\n", err);
        return 2;
    }
    if (check) {
        printf("%s: ok\n", file ? file : "(no config file)");
        return 0;
    }
    //  Before any thread starts: every thread inherits the mask, and the
    //  relay reads the signals through its signalfd.
    zb_relay_block();
    zb_log_init(S_NAME, verbose);
    zb_log_set_format(log_format);
    zb_relay_t *relay = zb_relay_new(&config, err, sizeof(err));
    if (!relay) {
        zb_log_error("%s", err);
        return 1;
    }
    int rc = zb_relay_run(relay);
    zb_relay_destroy(&relay);
    return rc == 0 ? 0 : 1;
}
