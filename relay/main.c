/*  zbeat-relay: passes agents' messages on to shard monitors, each
    receiving only its hosts (docs/config-relay.md).

    zbeat-relay [-c FILE] [--check-config] [--bind ENDPOINTS] [--monitor ENDPOINTS]
                [--log-format text|json] [-v] [--version] [--help]

    Settings: flag > file > default. Exit: 0 after SIGINT/SIGTERM, 1 on a
    runtime failure, 2 on bad usage or configuration (one line on stderr).
*/
#include "zb_daemon_args.h"
#include "zb_log.h"
#include "zb_relay.h"
#include "zb_relay_config.h"

#include <getopt.h>
#include <stdio.h>

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
    enum { OPT_BIND = ZB_DAEMON_OPT_OWN, OPT_MONITOR };
    static const struct option options[] = {
        ZB_DAEMON_OPTIONS,
        {"bind", required_argument, NULL, OPT_BIND},
        {"monitor", required_argument, NULL, OPT_MONITOR},
        {NULL, 0, NULL, 0},
    };
    zb_daemon_args_t args = {
        .program = S_NAME, .usage = s_usage, .config_table = zb_relay_config_print_table};
    const char *bind = NULL, *monitor = NULL;
    int opt;
    while ((opt = zb_daemon_args_next(&args, argc, argv, options, NULL)) != 0) {
        switch (opt) {
        case OPT_BIND:
            bind = optarg;
            break;
        case OPT_MONITOR:
            monitor = optarg;
            break;
        }
    }
    if (args.exit != ZB_DAEMON_ARGS_RUN)
        return args.exit;

    zb_relay_config_t config;
    zb_relay_config_defaults(&config);
    char err[1024];
    if ((args.config && zb_relay_config_load(&config, args.config, err, sizeof(err)) != 0) ||
        (bind && zb_relay_config_set_bind(&config, bind, "--bind", err, sizeof(err)) != 0) ||
        (monitor &&
         zb_relay_config_set_monitor(&config, monitor, "--monitor", err, sizeof(err)) != 0) ||
        zb_relay_config_check(&config, err, sizeof(err)) != 0)
        return zb_daemon_args_bad(&args, err);
    if (args.check)
        return zb_daemon_args_ok(&args);
    //  Before any thread starts: every thread inherits the mask, and the
    //  relay reads the signals through its signalfd.
    zb_relay_block();
    zb_daemon_args_log(&args);
    zb_relay_t *relay = zb_relay_new(&config, err, sizeof(err));
    if (!relay) {
        zb_log_error("%s", err);
        return 1;
    }
    int rc = zb_relay_run(relay);
    zb_relay_destroy(&relay);
    return rc == 0 ? 0 : 1;
}
