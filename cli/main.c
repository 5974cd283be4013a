/*  zbeat: answers "what is down now?" and "what went down, when, for how
    long?" from the monitor's database, opened read-only (docs/cli.md);
    manages silences and forgets hosts, the only things it writes.

    zbeat [--db PATH] status   [--json | --csv]
    zbeat [--db PATH] outages  [--host H] [--service S] [--since WHEN] [--until WHEN]
                               [--open] [--limit N] [--json | --csv] [--explain]
    zbeat [--db PATH] hosts    [--json | --csv]
    zbeat [--db PATH] hosts    forget HOST [--force]
    zbeat [--db PATH] monitor  [--json | --csv]
    zbeat [--db PATH] report   [--since WHEN] [--until WHEN] [--host H] [--json | --csv]
    zbeat [--db PATH] alerts   [--since WHEN] [--limit N] [--json | --csv]
    zbeat [--db PATH] silence  add --host GLOB [--service GLOB] --for DURATION [--reason TEXT]
    zbeat [--db PATH] silence  list [--all] [--json | --csv]
    zbeat [--db PATH] silence  remove ID

    Exit: 0 ok, 1 runtime failure (no database...), 2 bad usage.

    A command is a file, cli/zb_cli_COMMAND.c, with a function
    int zb_cli_COMMAND(zb_store_t *, const zb_cli_args_t *) declared in
    zb_cli.h and named in s_commands below; its options are allowed in
    zb_cli_args.c (s_check_options) and its help is in zb_cli_help.c.
    Output goes through zb_cli_out.c (table, JSON or CSV).
*/
#include "hash_password.h"
#include "keygen.h"
#include "zb_cli.h"
#include "zb_store.h"
#include "zb_text.h"

#include <stdio.h>
#include <string.h>

//  The commands that read the database; silence's add and remove write it
//  (zb_cli_silence_write).
static const struct {
    const char *name;
    zb_cli_command_fn *run;
} s_commands[] = {
    {"status", zb_cli_status},   {"monitor", zb_cli_monitor},      {"hosts", zb_cli_hosts},
    {"alerts", zb_cli_alerts},   {"silence", zb_cli_silence_list}, {"report", zb_cli_report},
    {"outages", zb_cli_outages},
};

int main(int argc, char *argv[])
{
    //  Needs no database: its own arguments, its own help.
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return zb_keygen_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "hash-password") == 0)
        return zb_hash_password_main(argc - 1, argv + 1);
    //  `zbeat help [COMMAND]`, and --help anywhere: the command's help when
    //  one is named, the global help otherwise.
    int at = zb_cli_command_at(argc, argv);
    if (at && strcmp(argv[at], "help") == 0) {
        const char *topic = at + 1 < argc ? argv[at + 1] : NULL;
        if (topic && strcmp(topic, "keygen") == 0) {
            char *keygen_help[] = {"keygen", "--help", NULL};
            return zb_keygen_main(2, keygen_help);
        }
        if (!topic)
            zb_cli_usage(stdout);
        else if (!zb_cli_help(topic, stdout))
            return zb_cli_bad("help: unknown command '%.80s'", topic);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (!at || !zb_cli_help(argv[at], stdout))
                zb_cli_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf(ZB_CLI_NAME " " ZB_VERSION "\n");
            return 0;
        }
    }
    zb_cli_args_t args;
    int rc = zb_cli_parse(argc, argv, &args);
    if (rc != 0)
        return rc;
    if (args.url)
        return zb_cli_remote(&args);
    if (strcmp(args.command, "silence") == 0 && strcmp(args.action, "list") != 0)
        return zb_cli_silence_write(&args);
    if (strcmp(args.command, "hosts") == 0 && args.action)
        return zb_cli_hosts_forget(&args);

    char err[600];
    zb_store_t *store = zb_store_open_readonly(args.db, err, sizeof(err));
    if (!store) {
        char safe[700];
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, ZB_CLI_NAME ": %s\n", safe);
        return 1;
    }
    //  zb_cli_parse has refused other words; the last entry is the default.
    size_t i = 0;
    while (i + 1 < sizeof(s_commands) / sizeof(s_commands[0]) &&
           strcmp(args.command, s_commands[i].name) != 0)
        i++;
    rc = s_commands[i].run(store, &args);
    zb_store_destroy(&store);
    return rc;
}
