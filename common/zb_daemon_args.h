/*  zb_daemon_args: the options every daemon (zbeat-agent, zbeat-monitor,
    zbeat-relay) takes, read and answered in one place:

        -c, --config FILE   --check-config   --log-format text|json
        -v, --verbose       --version        -h, --help
        --config-table (hidden: the directive tables, for scripts/config_docs.py)

    A daemon's option table starts with ZB_DAEMON_OPTIONS and numbers its
    own options from ZB_DAEMON_OPT_OWN; zb_daemon_args_next hands it only
    those:

        zb_daemon_args_t args = {.program = "zbeat-relay", .usage = s_usage};
        int opt;
        while ((opt = zb_daemon_args_next(&args, argc, argv, options, NULL)) != 0) {
            switch (opt) {
            case OPT_BIND: ...
            }
        }
        if (args.exit != ZB_DAEMON_ARGS_RUN)
            return args.exit;

    Bad usage is worded by zb_usage: one line on stderr, exit status 2.
*/
#ifndef ZB_DAEMON_ARGS_H
#define ZB_DAEMON_ARGS_H

#include "zb_log.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

enum {
    ZB_DAEMON_OPT_CHECK = 256,
    ZB_DAEMON_OPT_VERSION,
    ZB_DAEMON_OPT_LOG_FORMAT,
    ZB_DAEMON_OPT_CONFIG_TABLE,
    ZB_DAEMON_OPT_OWN // the daemon's own options from here
};

//  The first entries of a daemon's struct option table.
#define ZB_DAEMON_OPTIONS                                                                          \
    {"config", required_argument, NULL, 'c'},                                                      \
        {"check-config", no_argument, NULL, ZB_DAEMON_OPT_CHECK},                                  \
        {"log-format", required_argument, NULL, ZB_DAEMON_OPT_LOG_FORMAT},                         \
        {"verbose", no_argument, NULL, 'v'},                                                       \
        {"version", no_argument, NULL, ZB_DAEMON_OPT_VERSION},                                     \
        {"config-table", no_argument, NULL, ZB_DAEMON_OPT_CONFIG_TABLE},                           \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

#define ZB_DAEMON_ARGS_RUN -1 // exit: the options are read, the daemon goes on

typedef struct {
    const char *program;      // set by the caller: the name in messages
    void (*usage)(FILE *out); // set by the caller: prints --help
    //  Set by the caller: prints the directive tables for --config-table
    //  (not in --help: scripts/config_docs.py reads them).
    void (*config_table)(FILE *out);
    const char *config;         // -c FILE, or NULL
    bool check;                 // --check-config
    bool verbose;               // -v
    zb_log_format_t log_format; // --log-format, ZB_LOG_TEXT without
    int exit;                   // once next returned 0: ZB_DAEMON_ARGS_RUN, or main's exit status
} zb_daemon_args_t;

//  Reads argv with getopt_long and options (ZB_DAEMON_OPTIONS first; index
//  as getopt_long's longindex, may be NULL), taking the common options
//  itself. Returns the next of the daemon's own options, optarg its value;
//  or 0 when the options are read or main is to exit: self->exit is then
//  ZB_DAEMON_ARGS_RUN, 0 after --version or --help (printed), or 2 after
//  bad usage (an unknown option, a missing value, a bad --log-format, an
//  argument that is no option: one line on stderr).
int zb_daemon_args_next(zb_daemon_args_t *self, int argc, char *argv[],
                        const struct option *options, int *index);

//  Starts logging (zb_log_init, zb_log_set_format) as the options say.
void zb_daemon_args_log(const zb_daemon_args_t *self);

//  A configuration that does not hold: "PROGRAM: message" on stderr.
//  Returns 2, main's exit status.
int zb_daemon_args_bad(const zb_daemon_args_t *self, const char *message);

//  --check-config found the configuration good: "FILE: ok" on stdout
//  ("(no config file): ok" without -c). Returns 0, main's exit status.
int zb_daemon_args_ok(const zb_daemon_args_t *self);

void zb_daemon_args_test(bool verbose);

#endif
