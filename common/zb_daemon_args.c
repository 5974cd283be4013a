/*  zb_daemon_args: the daemons' common options. See zb_daemon_args.h. */
#include "zb_daemon_args.h"
#include "zb_usage.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

//  The common option opt: ZB_DAEMON_ARGS_RUN to read on, or main's exit
//  status.
static int s_take(zb_daemon_args_t *self, int opt, char *argv[])
{
    switch (opt) {
    case 'c':
        self->config = optarg;
        return ZB_DAEMON_ARGS_RUN;
    case ZB_DAEMON_OPT_CHECK:
        self->check = true;
        return ZB_DAEMON_ARGS_RUN;
    case ZB_DAEMON_OPT_LOG_FORMAT:
        if (zb_log_format_parse(optarg, &self->log_format) == -1) {
            fprintf(stderr, "%s: --log-format: \"%s\" is not text or json\n", self->program,
                    optarg);
            return 2;
        }
        return ZB_DAEMON_ARGS_RUN;
    case 'v':
        self->verbose = true;
        return ZB_DAEMON_ARGS_RUN;
    case ZB_DAEMON_OPT_VERSION:
        printf("%s %s\n", self->program, ZB_VERSION);
        return 0;
    case 'h':
        self->usage(stdout);
        return 0;
    case ZB_DAEMON_OPT_CONFIG_TABLE:
        if (!self->config_table)
            return zb_usage_getopt(self->program, '?', argv, optind);
        self->config_table(stdout);
        return 0;
    default: // ':' or '?'
        return zb_usage_getopt(self->program, opt, argv, optind);
    }
}

int zb_daemon_args_next(zb_daemon_args_t *self, int argc, char *argv[],
                        const struct option *options, int *index)
{
    assert(self && self->program && self->usage);
    opterr = 0; // our own one-line messages
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:vh", options, index)) != -1) {
        if (opt >= ZB_DAEMON_OPT_OWN)
            return opt;
        if ((self->exit = s_take(self, opt, argv)) != ZB_DAEMON_ARGS_RUN)
            return 0;
    }
    self->exit =
        optind < argc ? zb_usage_unexpected(self->program, argv[optind]) : ZB_DAEMON_ARGS_RUN;
    return 0;
}

void zb_daemon_args_log(const zb_daemon_args_t *self)
{
    zb_log_init(self->program, self->verbose);
    zb_log_set_format(self->log_format);
}

int zb_daemon_args_bad(const zb_daemon_args_t *self, const char *message)
{
    fprintf(stderr, "%s: %s\n", self->program, message);
    return 2;
}

int zb_daemon_args_ok(const zb_daemon_args_t *self)
{
    printf("%s: ok\n", self->config ? self->config : "(no config file)");
    return 0;
}

//  Self-test

static int s_usage_calls;

static void s_usage(FILE *out)
{
    (void)out;
    s_usage_calls++;
}

enum { S_OPT_BIND = ZB_DAEMON_OPT_OWN };

static const struct option s_options[] = {
    ZB_DAEMON_OPTIONS,
    {"bind", required_argument, NULL, S_OPT_BIND},
    {NULL, 0, NULL, 0},
};

//  Reads a NULL-terminated argv; returns args.exit, *bind set by --bind.
static int s_read(zb_daemon_args_t *args, const char *bind_want, char *argv[])
{
    int argc = 0;
    while (argv[argc])
        argc++;
    *args = (zb_daemon_args_t){.program = "zb_daemon_args_test", .usage = s_usage};
    optind = 0; // getopt starts over
    //  Bad usage is a line on stderr: not in the test's output.
    fflush(stderr);
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    assert(saved >= 0 && null >= 0 && dup2(null, STDERR_FILENO) >= 0);
    int opt, binds = 0;
    while ((opt = zb_daemon_args_next(args, argc, argv, s_options, NULL)) != 0) {
        assert(opt == S_OPT_BIND && bind_want && strcmp(optarg, bind_want) == 0);
        binds++;
    }
    fflush(stderr);
    assert(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(null);
    assert(args->exit != ZB_DAEMON_ARGS_RUN || binds == (bind_want != NULL));
    return args->exit;
}

void zb_daemon_args_test(bool verbose)
{
    (void)verbose;
    zb_daemon_args_t args;
    char *all[] = {"d",  "-c",           "f.cfg", "--bind", "tcp://*:1", "--check-config",
                   "-v", "--log-format", "json",  NULL};
    assert(s_read(&args, "tcp://*:1", all) == ZB_DAEMON_ARGS_RUN);
    assert(strcmp(args.config, "f.cfg") == 0 && args.check && args.verbose);
    assert(args.log_format == ZB_LOG_JSON);
    char *none[] = {"d", NULL};
    assert(s_read(&args, NULL, none) == ZB_DAEMON_ARGS_RUN);
    assert(!args.config && !args.check && !args.verbose && args.log_format == ZB_LOG_TEXT);
    char *help[] = {"d", "--help", "--bogus", NULL};
    assert(s_read(&args, NULL, help) == 0 && s_usage_calls == 1);
    //  Bad usage: exit 2, whatever follows.
    char *unknown[] = {"d", "--bogus", "--help", NULL};
    assert(s_read(&args, NULL, unknown) == 2 && s_usage_calls == 1);
    char *missing[] = {"d", "-c", NULL};
    assert(s_read(&args, NULL, missing) == 2);
    char *format[] = {"d", "--log-format", "xml", NULL};
    assert(s_read(&args, NULL, format) == 2);
    char *extra[] = {"d", "--bind", "x", "extra", NULL};
    assert(s_read(&args, "x", extra) == 2);
}
