/*  zbeat's arguments: which command, which options, checked. */
#include "zb_cli.h"
#include "zb_usage.h"
#include "zb_proto.h"
#include "zb_query.h"
#include "zb_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Arguments

//  "--name VALUE" or "--name=VALUE": returns the value and advances *i, or
//  NULL when argv[*i] is not this option. *missing is set when it is, but
//  the value is missing.
static const char *s_value(int argc, char *argv[], int *i, const char *name, bool *missing)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (argv[*i][len] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

//  A relative time counts back from the command's one now, which report's
//  window ends at too: --since 1h is then exactly an hour.
static int s_when(const char *flag, const char *text, int64_t now, int64_t *ms)
{
    if (zb_time_parse_when(text, now, ms) != 0)
        return zb_cli_bad("%s: \"%.80s\" is not a time (e.g. 2h, 30d, 2026-11-01T00:00:00Z)", flag,
                          text);
    return 0;
}

//  Which options each command takes (the rest are refused).
static int s_check_options(const zb_cli_args_t *args)
{
    const char *cmd = args->command;
    bool outages = strcmp(cmd, "outages") == 0;
    bool alerts = strcmp(cmd, "alerts") == 0;
    bool report = strcmp(cmd, "report") == 0;
    bool status = strcmp(cmd, "status") == 0;
    if (args->states && !status)
        return zb_cli_bad("--state is for status");
    if (status && args->states &&
        (!*args->states || strlen(args->states) > 200 ||
         strspn(args->states, "abcdefghijklmnopqrstuvwxyz-,") != strlen(args->states)))
        return zb_cli_bad("--state: \"%.80s\" is not a comma-separated list of states (or "
                          "problems)",
                          args->states);
    if (status && args->host && !zb_query_glob_valid(args->host))
        return zb_cli_bad("--host: \"%.80s\" is not a host name or glob", args->host);
    if (status && args->service && !zb_query_glob_valid(args->service))
        return zb_cli_bad("--service: \"%.80s\" is not a service name or glob", args->service);
    if (report && (args->service || args->query.open_only || args->explain || args->query.limit))
        return zb_cli_bad("report takes --since, --until and --host only");
    bool add = strcmp(cmd, "silence") == 0 && args->action && strcmp(args->action, "add") == 0;
    bool list = strcmp(cmd, "silence") == 0 && args->action && strcmp(args->action, "list") == 0;
    const zb_store_query_t *q = &args->query;
    if ((args->host || args->service) && !outages && !add && !report && !status)
        return zb_cli_bad("%s takes no filters (--host and --service are for status, outages and "
                          "silence add)",
                          cmd);
    if ((q->open_only || args->explain || q->until_ms != ZB_STORE_NO_TIME) && !outages && !report)
        return zb_cli_bad("%s takes no filters (they are for outages)", cmd);
    if ((q->limit || q->since_ms != ZB_STORE_NO_TIME) && !outages && !alerts && !report)
        return zb_cli_bad("%s takes no filters (they are for outages and alerts)", cmd);
    if ((args->duration || args->reason) && !add)
        return zb_cli_bad("--for and --reason are for silence add");
    if (args->all && !list && !status)
        return zb_cli_bad("--all is for status and silence list");
    if ((outages || report) && args->host && !zb_name_valid(args->host))
        return zb_cli_bad("--host: \"%.80s\" is not a host name", args->host);
    if (outages && args->service && !zb_name_valid(args->service))
        return zb_cli_bad("--service: \"%.80s\" is not a service name", args->service);
    return 0;
}

int zb_cli_parse(int argc, char *argv[], zb_cli_args_t *args)
{
    memset(args, 0, sizeof(*args));
    zb_store_query_init(&args->query);
    args->dedup_ms = -1;
    args->now_ms = zb_time_wall_ms();
    bool json = false, csv = false;
    const char *extra = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool missing = false;
        const char *value;
        if ((value = s_value(argc, argv, &i, "--db", &missing)))
            args->db = value;
        else if ((value = s_value(argc, argv, &i, "--url", &missing)))
            args->url = value;
        else if ((value = s_value(argc, argv, &i, "--user", &missing)))
            args->user = value;
        else if ((value = s_value(argc, argv, &i, "--password-file", &missing)))
            args->password_file = value;
        else if ((value = s_value(argc, argv, &i, "--cacert", &missing)))
            args->cacert = value;
        else if ((value = s_value(argc, argv, &i, "--dedup-window", &missing))) {
            if (zb_time_parse_duration(value, &args->dedup_ms) != 0 ||
                args->dedup_ms > ZB_CLI_DEDUP_MAX_MS)
                return zb_cli_bad("--dedup-window: \"%.80s\" is not a duration from 0s to 1h "
                                  "(e.g. 5s, 500ms)",
                                  value);
        } else if ((value = s_value(argc, argv, &i, "--host", &missing)))
            args->host = value;
        else if ((value = s_value(argc, argv, &i, "--service", &missing)))
            args->service = value;
        else if ((value = s_value(argc, argv, &i, "--state", &missing)))
            args->states = value;
        else if ((value = s_value(argc, argv, &i, "--for", &missing)))
            args->duration = value;
        else if ((value = s_value(argc, argv, &i, "--reason", &missing)))
            args->reason = value;
        else if ((value = s_value(argc, argv, &i, "--since", &missing))) {
            if (s_when("--since", value, args->now_ms, &args->query.since_ms) != 0)
                return 2;
        } else if ((value = s_value(argc, argv, &i, "--until", &missing))) {
            if (s_when("--until", value, args->now_ms, &args->query.until_ms) != 0)
                return 2;
        } else if ((value = s_value(argc, argv, &i, "--limit", &missing))) {
            char *end;
            errno = 0;
            long long n = strtoll(value, &end, 10);
            if (errno || end == value || *end || n < 1 || n > 1000000000)
                return zb_cli_bad("--limit: \"%.80s\" is not a number from 1 to 1000000000", value);
            args->query.limit = n;
        } else if (missing)
            return zb_usage_missing(ZB_CLI_NAME, arg);
        else if (strcmp(arg, "--json") == 0)
            json = true;
        else if (strcmp(arg, "--csv") == 0)
            csv = true;
        else if (strcmp(arg, "--open") == 0)
            args->query.open_only = true;
        else if (strcmp(arg, "--explain") == 0)
            args->explain = true;
        else if (strcmp(arg, "--all") == 0)
            args->all = true;
        else if (strcmp(arg, "--force") == 0)
            args->force = true;
        else if (arg[0] == '-' && arg[1] != '\0')
            return zb_usage_unknown(ZB_CLI_NAME, arg);
        else if (!args->command)
            args->command = arg;
        else if ((strcmp(args->command, "silence") == 0 || strcmp(args->command, "hosts") == 0) &&
                 !args->action)
            args->action = arg;
        else if (args->action &&
                 (strcmp(args->action, "remove") == 0 || strcmp(args->action, "forget") == 0) &&
                 !args->target)
            args->target = arg;
        else if (!extra)
            extra = arg;
    }
    if (!args->command)
        return zb_cli_bad("no command given");
    static const char *const commands[] = {"status",  "outages", "hosts",  "alerts",
                                           "silence", "report",  "monitor"};
    bool known = false;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        known = known || strcmp(args->command, commands[i]) == 0;
    if (!known)
        return zb_cli_bad("unknown command '%.80s'", args->command);
    if (extra)
        return zb_usage_unexpected(ZB_CLI_NAME, extra);
    if (strcmp(args->command, "silence") == 0) {
        if (!args->action)
            return zb_cli_bad("silence needs add, list or remove");
        if (strcmp(args->action, "add") != 0 && strcmp(args->action, "list") != 0 &&
            strcmp(args->action, "remove") != 0)
            return zb_cli_bad("silence: unknown action '%.80s' (add, list or remove)",
                              args->action);
        if (strcmp(args->action, "remove") == 0 && !args->target)
            return zb_cli_bad("silence remove needs the silence's ID (see zbeat silence list)");
    }
    bool forget = strcmp(args->command, "hosts") == 0 && args->action;
    if (forget && strcmp(args->action, "forget") != 0)
        return zb_cli_bad("hosts: unknown action '%.80s' (forget)", args->action);
    if (forget && !args->target)
        return zb_cli_bad("hosts forget needs the host's name (see zbeat hosts)");
    if (forget && !zb_name_valid(args->target))
        return zb_cli_bad("hosts forget: \"%.80s\" is not a host name", args->target);
    if (forget && (json || csv))
        return zb_cli_bad("hosts forget takes no --json or --csv");
    if (args->force && !forget)
        return zb_cli_bad("--force is for hosts forget");
    if (json && csv)
        return zb_cli_bad("--json and --csv exclude each other");
    args->format = json ? ZB_CLI_JSON : csv ? ZB_CLI_CSV : ZB_CLI_TABLE;
    int rc = s_check_options(args);
    if (rc != 0)
        return rc;
    args->query.host = args->host;
    args->query.service = args->service;
    if (args->query.since_ms != ZB_STORE_NO_TIME && args->query.until_ms != ZB_STORE_NO_TIME &&
        args->query.since_ms > args->query.until_ms)
        return zb_cli_bad("--since is after --until");
    if (args->url && args->db)
        return zb_cli_bad("--url and --db exclude each other (a monitor's API, or a database)");
    if (!args->url && (args->user || args->password_file || args->cacert))
        return zb_cli_bad("--user, --password-file and --cacert are for --url");
    if (args->url && strcmp(args->command, "monitor") == 0)
        return zb_cli_bad("monitor reads a database: with --url, status shows each monitor");
    if (args->url && args->explain)
        return zb_cli_bad("--explain reads a database, not --url");
    if (args->dedup_ms >= 0 && (!args->url || strcmp(args->command, "outages") != 0))
        return zb_cli_bad("--dedup-window is for outages with --url (several monitors)");
    if (!args->db && !args->url) {
        //  $ZBEAT_DB, then the packaged path when it is there, then the
        //  working directory (docs/cli.md). A packaged directory the user
        //  may not search (mode 0750) counts as there: "permission denied"
        //  on it says more than "./zbeat.db: no such database".
        const char *env = getenv("ZBEAT_DB");
        bool packaged = access(ZB_CLI_PACKAGED_DB, F_OK) == 0 || errno == EACCES;
        args->db = env && *env ? env : packaged ? ZB_CLI_PACKAGED_DB : "zbeat.db";
    }
    return 0;
}

//  The index of the command word (the first argument that is neither an
//  option nor an option's value), or 0 when there is none.
int zb_cli_command_at(int argc, char *argv[])
{
    static const char *const valued[] = {"--db",     "--host",        "--service",       "--for",
                                         "--reason", "--since",       "--until",         "--limit",
                                         "--url",    "--user",        "--password-file", "--cacert",
                                         "--state",  "--dedup-window"};
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-' || argv[i][1] == '\0')
            return i;
        for (size_t v = 0; v < sizeof(valued) / sizeof(valued[0]); v++)
            if (strcmp(argv[i], valued[v]) == 0) {
                i++;
                break;
            }
    }
    return 0;
}
