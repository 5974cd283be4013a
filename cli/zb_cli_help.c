/*  zbeat's help: the global usage and each command's. */
#include "zb_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zb_cli_usage(FILE *out)
{
    fprintf(out,
            "usage: " ZB_CLI_NAME " [--db PATH] COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  status    the monitor (running? caught up?), hosts and services counted by\n"
            "            state, then the problems (--all: every row)\n"
            "            --state LIST  --host GLOB  --service GLOB  --all\n"
            "  outages   outage history, newest first\n"
            "            --host H  --service S  --since WHEN  --until WHEN  --open  --limit N\n"
            "            --explain (print the query plan instead)\n"
            "  hosts     every host: state, last heard, agent instance, beat interval,\n"
            "            transitions its agent has yet to replay to the monitor\n"
            "  hosts forget HOST [--force]\n"
            "            remove a decommissioned host (its outage history stays)\n"
            "  monitor   the monitor alone: running, not heard, stopped; caught up or behind\n"
            "  alerts    alerts made, newest first, and their delivery to each channel\n"
            "            --since WHEN  --limit N\n"
            "  silence add --host GLOB [--service GLOB] --for DURATION [--reason TEXT]\n"
            "            hold the alerts of matching outages (they are still recorded)\n"
            "  silence list [--all]   silences not ended yet (--all: every one)\n"
            "  silence remove ID      end a silence now\n"
            "  report    availability per service: downtime, outages, MTTR, longest\n"
            "            --since WHEN (default 30d)  --until WHEN  --host H\n"
            "  keygen    CURVE key pairs: keygen --host NAME --out DIR | keygen --monitor\n"
            "            --out DIR (zbeat keygen --help, docs/security.md)\n"
            "  hash-password  a bcrypt hash of the password on stdin, for the HTTP users\n"
            "            file (docs/http.md)\n"
            "\n"
            "  help COMMAND  that command's options (also: zbeat COMMAND --help)\n"
            "\n"
            "options:\n"
            "  --db PATH      database (default $ZBEAT_DB, then " ZB_CLI_PACKAGED_DB "\n"
            "                 when it exists, then ./zbeat.db)\n"
            "  --json, --csv  machine-readable output (docs/cli.md)\n"
            "  --url URL[,URL]  ask running monitors' HTTP API instead (at once, merged);\n"
            "                 --user NAME (password: $ZBEAT_PASSWORD or --password-file\n"
            "                 FILE), --cacert FILE (docs/cli.md, Remote monitors)\n"
            "  WHEN           a duration before now (2h, 30d) or RFC 3339 UTC time\n"
            "                 (2026-11-01T00:00:00Z, 2026-11-01)\n"
            "  --version, --help\n");
}

//  `zbeat COMMAND --help` and `zbeat help COMMAND`: one command's usage.
static const struct {
    const char *command;
    const char *help;
} s_command_help[] = {
    {"status", "usage: " ZB_CLI_NAME " [--db PATH] status [--all] [--state LIST] [--host GLOB]\n"
               "                 [--service GLOB] [--json | --csv]\n"
               "\n"
               "The monitor (running? caught up?), hosts and services counted by state,\n"
               "then the problems: hosts not alive, services not up (state, since when,\n"
               "for how long, why).\n"
               "  --all             every host and service, not only the problems\n"
               "  --state LIST      rows in these states (down,silent); problems: all but\n"
               "                    up and alive\n"
               "  --host GLOB       hosts matching GLOB (web-*)\n"
               "  --service GLOB    services matching GLOB (service rows only)\n"
               "--json and --csv print every row unless --state, --host or --service\n"
               "narrows them (scripts see the whole fleet, as before).\n"},
    {"outages",
     "usage: " ZB_CLI_NAME " [--db PATH] outages [--host H] [--service S] [--since WHEN]\n"
     "                 [--until WHEN] [--open] [--limit N] [--json | --csv] [--explain]\n"
     "\n"
     "Outage history, newest first.\n"
     "  --host H, --service S  only this host, this service\n"
     "  --since WHEN           outages going on at or after WHEN (open, or ended since)\n"
     "  --until WHEN           outages that had started at or before WHEN\n"
     "  --open                 only outages not ended yet\n"
     "  --limit N              at most N rows\n"
     "  --explain              print the query plan instead\n"
     "  --dedup-window D       with --url URL,URL: one outage two monitors recorded\n"
     "                         (starts at most D apart, default 5s) shows once\n"
     "  WHEN                   a duration before now (2h, 30d) or RFC 3339 UTC time\n"
     "                         (2026-11-01T00:00:00Z, 2026-11-01)\n"},
    {"hosts", "usage: " ZB_CLI_NAME " [--db PATH] hosts [--json | --csv]\n"
              "       " ZB_CLI_NAME " [--db PATH] hosts forget HOST [--force]\n"
              "\n"
              "Every host: state, last heard, agent instance, beat interval, transitions its\n"
              "agent has yet to replay to the monitor.\n"
              "forget: removes a decommissioned host from status, hosts, the page and the\n"
              "metrics (the running monitor too); its outage history stays, an open outage\n"
              "ends as `forgotten`. A host heard again is new. An alive host is refused\n"
              "unless --force.\n"},
    {"monitor", "usage: " ZB_CLI_NAME " [--db PATH] monitor [--json | --csv]\n"
                "\n"
                "The monitor alone: running, not heard, stopped; caught up or behind.\n"},
    {"alerts",
     "usage: " ZB_CLI_NAME " [--db PATH] alerts [--since WHEN] [--limit N] [--json | --csv]\n"
     "\n"
     "Alerts made, newest first, and their delivery to each channel.\n"
     "  --since WHEN  a duration before now (2h, 30d) or RFC 3339 UTC time\n"
     "  --limit N     at most N alerts\n"},
    {"silence",
     "usage: " ZB_CLI_NAME " [--db PATH] silence add --host GLOB [--service GLOB] --for DURATION\n"
     "                 [--reason TEXT] [--json | --csv]\n"
     "       " ZB_CLI_NAME " [--db PATH] silence list [--all] [--json | --csv]\n"
     "       " ZB_CLI_NAME " [--db PATH] silence remove ID\n"
     "\n"
     "  add     hold the alerts of matching outages (they are still recorded);\n"
     "          prints the new silence (--json, --csv: as silence list does)\n"
     "  list    silences not ended yet (--all: every one)\n"
     "  remove  end a silence now\n"},
    {"report",
     "usage: " ZB_CLI_NAME " [--db PATH] report [--since WHEN] [--until WHEN] [--host H]\n"
     "                 [--json | --csv]\n"
     "\n"
     "Availability per service: downtime, outages, MTTR, longest.\n"
     "  --since WHEN  start of the period (default 30d before --until)\n"
     "  --until WHEN  end of the period (default now)\n"
     "  --host H      only this host\n"},
};

//  Prints command's help. Returns false when there is no such command.
bool zb_cli_help(const char *command, FILE *out)
{
    for (size_t i = 0; i < sizeof(s_command_help) / sizeof(s_command_help[0]); i++)
        if (strcmp(command, s_command_help[i].command) == 0) {
            fputs(s_command_help[i].help, out);
            fputs("\n  --db PATH  database (default $ZBEAT_DB, then " ZB_CLI_PACKAGED_DB
                  " when it exists,\n             then ./zbeat.db)\n",
                  out);
            return true;
        }
    return false;
}
