/*  zb_cli: what zbeat's commands share: their arguments, bad usage, and
    rows written as a table, JSON or CSV. One file per command
    (zb_cli_COMMAND.c); main.c picks the command. */
#ifndef ZB_CLI_H
#define ZB_CLI_H

#include "zb_query.h"
#include "zb_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ZB_CLI_NAME "zbeat"
#define ZB_CLI_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15))

typedef enum { ZB_CLI_TABLE, ZB_CLI_JSON, ZB_CLI_CSV } zb_cli_format_t;

//  Where rows go: a table collected for alignment, or JSON/CSV streamed.
typedef struct {
    zb_cli_format_t format;
    size_t columns;
    const char *const *header;
    size_t rows;  // rows so far (JSON needs to know the first)
    size_t alloc; // cells allocated
    char **cells; // table: rows x columns, escaped
    int64_t now;  // wall clock, for "up to now" durations
    bool failed;  // out of memory or write error
} zb_cli_out_t;

//  Where the Debian package (and the Docker image) put the monitor's
//  database: the default after $ZBEAT_DB when it exists, so that
//  `zbeat status` works on a packaged host without --db.
#define ZB_CLI_PACKAGED_DB "/var/lib/zbeat/zbeat.db"

//  --dedup-window at most: wider would merge distinct outages of a flapping
//  service.
#define ZB_CLI_DEDUP_MAX_MS (3600 * 1000)

typedef struct {
    const char *db;
    const char *url;           // --url: monitors' HTTP API, comma-separated (zb_cli_remote.c)
    const char *user;          // --user: HTTP Basic
    const char *password_file; // --password-file (else $ZBEAT_PASSWORD)
    const char *cacert;        // --cacert: the CA that signed the monitors' certificates
    int64_t dedup_ms;          // --dedup-window: outages merged across monitors; -1 default
    const char *command;
    const char *action; // silence: add | list | remove; hosts: forget
    const char *target; // silence remove: the id; hosts forget: the host
    const char *host;   // --host: a name (outages) or a glob (silence add)
    const char *service;
    const char *duration; // --for
    const char *reason;   // --reason
    const char *states;   // status --state: a list, or problems
    bool all;             // status --all, silence list --all
    bool force;           // hosts forget --force
    zb_cli_format_t format;
    bool explain;
    zb_store_query_t query;
    int64_t now_ms; // the wall clock once, at parse: relative times and report's window
} zb_cli_args_t;

//  zb_cli_args.c: the command line into args; 0, or the exit code (2 for
//  bad usage, said on stderr).
int zb_cli_parse(int argc, char *argv[], zb_cli_args_t *args);
//  The index of the command word (the first argument that is neither an
//  option nor an option's value), or 0 when there is none.
int zb_cli_command_at(int argc, char *argv[]);

//  zb_cli_help.c
void zb_cli_usage(FILE *out);
//  Prints command's help. Returns false when there is no such command.
bool zb_cli_help(const char *command, FILE *out);

//  zb_cli_out.c. Bad usage: one line naming the problem; returns 2.
int zb_cli_bad(const char *format, ...) __attribute__((format(printf, 1, 2)));
//  RFC 3339 UTC with milliseconds: "2026-11-28T05:40:07.123Z".
void zb_cli_time_precise(int64_t ms, char *buf, size_t size);
void zb_cli_out_init(zb_cli_out_t *out, zb_cli_format_t format, size_t columns,
                     const char *const *header);
//  A row of text cells (NULL prints as "-" in a table, empty in CSV).
void zb_cli_out_row(zb_cli_out_t *out, const char *const *values);
void zb_cli_out_json(zb_cli_out_t *out, json_t *object);
//  In JSON, a row of the API's answer goes out as it came: returns true (the
//  caller skips it), else false (the caller makes the table's or CSV's row).
bool zb_cli_out_given(zb_cli_out_t *out, json_t *row);
void zb_cli_csv_row(size_t columns, const char *const *values);
//  Ends the output (prints a table) and frees it. Returns the exit code.
int zb_cli_out_finish(zb_cli_out_t *out, const char *none);
//  rc when a walk of the store (walk) succeeded; else says why and 1.
int zb_cli_walked(zb_store_t *store, int walk, int rc);
//  Members of the API's JSON rows (zbeat --url): a time, text, a number.
int64_t zb_cli_json_ms(const json_t *o, const char *key, int64_t none);
const char *zb_cli_json_text(const json_t *o, const char *key);
//  strcmp that orders NULL (a member absent) before any text.
int zb_cli_strcmp_null(const char *a, const char *b);
int64_t zb_cli_json_int(const json_t *o, const char *key, int64_t none);

//  The commands: each returns the exit code.
typedef int(zb_cli_command_fn)(zb_store_t *store, const zb_cli_args_t *args);
zb_cli_command_fn zb_cli_status, zb_cli_monitor, zb_cli_hosts, zb_cli_alerts, zb_cli_silence_list,
    zb_cli_report, zb_cli_outages;
//  status's filter: --state, --host, --service; in a table without them
//  (and without --all) the problems only (docs/cli.md).
void zb_cli_status_filter(const zb_cli_args_t *args, zb_query_filter_t *filter);
//  The same output from the API's JSON rows (zbeat --url, zb_cli_remote.c):
//  rows is the (merged) array, already filtered; status also takes the
//  monitors' objects (GET /api/v1/monitor), their summaries (GET
//  /api/v1/summary, a table only) and, when they were several, their URLs.
int zb_cli_status_print(const json_t *rows, const json_t *monitors, const json_t *summaries,
                        const char *const *urls, const zb_cli_args_t *args);
int zb_cli_outages_print(const json_t *rows, const zb_cli_args_t *args);
int zb_cli_hosts_print(const json_t *rows, const zb_cli_args_t *args);
int zb_cli_alerts_print(const json_t *rows, const zb_cli_args_t *args);
int zb_cli_silence_print(const json_t *rows, const zb_cli_args_t *args);
//  report's window, for both: --since to --until, by default the 30 days
//  before --until (or now: args->now_ms, which relative times count back
//  from). Returns 0, or 2 (said) when it is empty.
int zb_cli_report_window(const zb_cli_args_t *args, int64_t now, int64_t *since, int64_t *until);
//  The report (zb_report_build's, or the API's) as args->format says.
//  Returns the exit code: 1, said, when the output could not be written.
int zb_cli_report_print(const json_t *report, const zb_cli_args_t *args);
//  zb_cli_remote.c: the command against the monitors of args->url.
int zb_cli_remote(const zb_cli_args_t *args);

//  silence add / remove and hosts forget: the only writes, on a database
//  that must exist.
int zb_cli_silence_write(const zb_cli_args_t *args);
int zb_cli_hosts_forget(const zb_cli_args_t *args);

#endif
