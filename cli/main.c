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
*/
#include "hash_password.h"
#include "keygen.h"
#include "zb_proto.h"
#include "zb_query.h"
#include "zb_report.h"
#include "zb_store.h"
#include "zb_text.h"
#include "zb_time.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_NAME "zbeat"
#define S_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15))

typedef enum { S_TABLE, S_JSON, S_CSV } s_format_t;

//  Where rows go: a table collected for alignment, or JSON/CSV streamed.
typedef struct {
    s_format_t format;
    size_t columns;
    const char *const *header;
    size_t rows;  // rows so far (JSON needs to know the first)
    size_t alloc; // cells allocated
    char **cells; // table: rows x columns, escaped
    int64_t now;  // wall clock, for "up to now" durations
    bool failed;  // out of memory or write error
} s_out_t;

//  Where the Debian package (and the Docker image) put the monitor's
//  database: the default after $ZBEAT_DB when it exists, so that
//  `zbeat status` works on a packaged host without --db.
#define S_PACKAGED_DB "/var/lib/zbeat/zbeat.db"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: " S_NAME " [--db PATH] COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  status    the monitor (running? caught up?), then every host and service\n"
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
            "  --db PATH      database (default $ZBEAT_DB, then " S_PACKAGED_DB "\n"
            "                 when it exists, then ./zbeat.db)\n"
            "  --json, --csv  machine-readable output (docs/cli.md)\n"
            "  WHEN           a duration before now (2h, 30d) or RFC 3339 UTC time\n"
            "                 (2026-11-01T00:00:00Z, 2026-11-01)\n"
            "  --version, --help\n");
}

//  `zbeat COMMAND --help` and `zbeat help COMMAND`: one command's usage.
static const struct {
    const char *command;
    const char *help;
} s_command_help[] = {
    {"status", "usage: " S_NAME " [--db PATH] status [--json | --csv]\n"
               "\n"
               "The monitor (running? caught up?), then every host and service: state,\n"
               "since when, for how long, why.\n"},
    {"outages",
     "usage: " S_NAME " [--db PATH] outages [--host H] [--service S] [--since WHEN]\n"
     "                 [--until WHEN] [--open] [--limit N] [--json | --csv] [--explain]\n"
     "\n"
     "Outage history, newest first.\n"
     "  --host H, --service S  only this host, this service\n"
     "  --since WHEN           outages going on at or after WHEN (open, or ended since)\n"
     "  --until WHEN           outages that had started at or before WHEN\n"
     "  --open                 only outages not ended yet\n"
     "  --limit N              at most N rows\n"
     "  --explain              print the query plan instead\n"
     "  WHEN                   a duration before now (2h, 30d) or RFC 3339 UTC time\n"
     "                         (2026-11-01T00:00:00Z, 2026-11-01)\n"},
    {"hosts", "usage: " S_NAME " [--db PATH] hosts [--json | --csv]\n"
              "       " S_NAME " [--db PATH] hosts forget HOST [--force]\n"
              "\n"
              "Every host: state, last heard, agent instance, beat interval, transitions its\n"
              "agent has yet to replay to the monitor.\n"
              "forget: removes a decommissioned host from status, hosts, the page and the\n"
              "metrics (the running monitor too); its outage history stays, an open outage\n"
              "ends as `forgotten`. A host heard again is new. An alive host is refused\n"
              "unless --force.\n"},
    {"monitor", "usage: " S_NAME " [--db PATH] monitor [--json | --csv]\n"
                "\n"
                "The monitor alone: running, not heard, stopped; caught up or behind.\n"},
    {"alerts", "usage: " S_NAME " [--db PATH] alerts [--since WHEN] [--limit N] [--json | --csv]\n"
               "\n"
               "Alerts made, newest first, and their delivery to each channel.\n"
               "  --since WHEN  a duration before now (2h, 30d) or RFC 3339 UTC time\n"
               "  --limit N     at most N alerts\n"},
    {"silence",
     "usage: " S_NAME " [--db PATH] silence add --host GLOB [--service GLOB] --for DURATION\n"
     "                 [--reason TEXT] [--json | --csv]\n"
     "       " S_NAME " [--db PATH] silence list [--all] [--json | --csv]\n"
     "       " S_NAME " [--db PATH] silence remove ID\n"
     "\n"
     "  add     hold the alerts of matching outages (they are still recorded);\n"
     "          prints the new silence (--json, --csv: as silence list does)\n"
     "  list    silences not ended yet (--all: every one)\n"
     "  remove  end a silence now\n"},
    {"report", "usage: " S_NAME " [--db PATH] report [--since WHEN] [--until WHEN] [--host H]\n"
               "                 [--json | --csv]\n"
               "\n"
               "Availability per service: downtime, outages, MTTR, longest.\n"
               "  --since WHEN  start of the period (default 30d before --until)\n"
               "  --until WHEN  end of the period (default now)\n"
               "  --host H      only this host\n"},
};

//  Prints command's help. Returns false when there is no such command.
static bool s_help(const char *command, FILE *out)
{
    for (size_t i = 0; i < sizeof(s_command_help) / sizeof(s_command_help[0]); i++)
        if (strcmp(command, s_command_help[i].command) == 0) {
            fputs(s_command_help[i].help, out);
            fputs("\n  --db PATH  database (default $ZBEAT_DB, then " S_PACKAGED_DB
                  " when it exists,\n             then ./zbeat.db)\n",
                  out);
            return true;
        }
    return false;
}

static int s_bad(const char *format, ...) __attribute__((format(printf, 1, 2)));

//  Bad usage: one line naming the problem, exit code 2.
static int s_bad(const char *format, ...)
{
    char text[512], safe[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    //  The message may quote an argument: echo it harmlessly.
    zb_text_printable(text, strlen(text), safe, sizeof(safe), 0);
    fprintf(stderr, S_NAME ": %s (see " S_NAME " --help)\n", safe);
    return 2;
}

//  RFC 3339 UTC with milliseconds: "2026-11-28T05:40:07.123Z".
static void s_time_precise(int64_t ms, char *buf, size_t size)
{
    zb_time_format_rfc3339_ms(ms, buf, size);
}

static void s_out_json(s_out_t *out, json_t *object)
{
    char *text = object ? json_dumps(object, S_JSON_FLAGS) : NULL;
    if (!text) {
        out->failed = true;
        json_decref(object);
        return;
    }
    fputs(out->rows == 0 ? "[\n  " : ",\n  ", stdout);
    fputs(text, stdout);
    out->rows++;
    free(text);
    json_decref(object);
}

static void s_csv_field(const char *text)
{
    char safe[1024];
    zb_text_printable(text, text ? strlen(text) : 0, safe, sizeof(safe), 0);
    if (strpbrk(safe, ",\"\r\n") == NULL) {
        fputs(safe, stdout);
        return;
    }
    putchar('"');
    for (const char *p = safe; *p; p++) {
        if (*p == '"')
            putchar('"');
        putchar(*p);
    }
    putchar('"');
}

static void s_csv_row(size_t columns, const char *const *values)
{
    for (size_t i = 0; i < columns; i++) {
        if (i)
            putchar(',');
        s_csv_field(values[i]);
    }
    putchar('\n');
}

//  A row of text cells (NULL prints as "-" in a table, empty in CSV).
static void s_out_row(s_out_t *out, const char *const *values)
{
    if (out->format == S_CSV) {
        if (out->rows++ == 0)
            s_csv_row(out->columns, out->header);
        s_csv_row(out->columns, values);
        return;
    }
    if ((out->rows + 1) * out->columns > out->alloc) {
        size_t alloc = out->alloc ? out->alloc * 2 : 64 * out->columns;
        char **cells = realloc(out->cells, alloc * sizeof(char *));
        if (!cells) {
            out->failed = true;
            return;
        }
        out->cells = cells;
        out->alloc = alloc;
    }
    for (size_t i = 0; i < out->columns; i++) {
        char safe[1024];
        const char *value = values[i] ? values[i] : "-";
        zb_text_printable(value, strlen(value), safe, sizeof(safe), 0);
        out->cells[out->rows * out->columns + i] = strdup(safe);
        if (!out->cells[out->rows * out->columns + i])
            out->failed = true;
    }
    out->rows++;
}

static void s_out_init(s_out_t *out, s_format_t format, size_t columns, const char *const *header)
{
    memset(out, 0, sizeof(*out));
    out->format = format;
    out->columns = columns;
    out->header = header;
    out->now = zb_time_wall_ms();
}

//  Ends the output (prints a table) and frees it. Returns the exit code.
static int s_out_finish(s_out_t *out, const char *none)
{
    if (out->format == S_JSON)
        fputs(out->rows ? "\n]\n" : "[]\n", stdout);
    else if (out->format == S_CSV && out->rows == 0)
        s_csv_row(out->columns, out->header);
    else if (out->format == S_TABLE && out->rows == 0)
        printf("%s\n", none);
    else if (out->format == S_TABLE) {
        size_t width[16] = {0};
        for (size_t c = 0; c < out->columns; c++)
            width[c] = strlen(out->header[c]);
        for (size_t r = 0; r < out->rows; r++)
            for (size_t c = 0; c < out->columns; c++) {
                const char *cell = out->cells[r * out->columns + c];
                size_t len = cell ? strlen(cell) : 0;
                if (len > width[c])
                    width[c] = len;
            }
        for (size_t r = 0; r <= out->rows; r++) {
            const char *const *cells =
                r == 0 ? out->header : (const char *const *)&out->cells[(r - 1) * out->columns];
            //  No padding after the last non-empty cell: no trailing blanks.
            size_t used = out->columns;
            while (used > 1 && !(cells[used - 1] && *cells[used - 1]))
                used--;
            for (size_t c = 0; c < used; c++) {
                if (c + 1 == used)
                    printf("%s", cells[c] ? cells[c] : "");
                else
                    printf("%-*s  ", (int)width[c], cells[c] ? cells[c] : "");
            }
            putchar('\n');
        }
    }
    for (size_t i = 0; out->cells && i < out->rows * out->columns; i++)
        free(out->cells[i]);
    free(out->cells);
    out->cells = NULL;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, S_NAME ": write error: %s\n", strerror(errno));
        return 1;
    }
    if (out->failed) {
        fprintf(stderr, S_NAME ": out of memory\n");
        return 1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  monitor: the monitor's own row (schema 5)

typedef struct {
    zb_store_monitor_t row; // strings point into the buffers below
    bool found;
    char hostname[256];
    char version[64];
} s_monitor_t;

static int s_monitor_copy(const zb_store_monitor_t *row, void *arg)
{
    s_monitor_t *monitor = arg;
    monitor->row = *row;
    snprintf(monitor->hostname, sizeof(monitor->hostname), "%s", row->hostname);
    snprintf(monitor->version, sizeof(monitor->version), "%s", row->version);
    monitor->row.hostname = monitor->hostname;
    monitor->row.version = monitor->version;
    monitor->found = true;
    return 0;
}

static const char *const s_monitor_csv_header[] = {"state",
                                                   "caught_up",
                                                   "pid",
                                                   "hostname",
                                                   "version",
                                                   "started_at",
                                                   "heartbeat_at",
                                                   "heartbeat_ms",
                                                   "stopped_at",
                                                   "hosts_replaying",
                                                   "transitions_pending",
                                                   "hosts_unreported"};

//  `zbeat monitor`: one line, one JSON object, or a CSV header and row.
static int s_monitor_print(const s_monitor_t *monitor, s_format_t format)
{
    const zb_store_monitor_t *row = monitor->found ? &monitor->row : NULL;
    int64_t now = zb_time_wall_ms();
    if (format == S_JSON) {
        json_t *o = zb_query_monitor_json(row, now);
        char *text = o ? json_dumps(o, S_JSON_FLAGS) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
        if (!text) {
            fprintf(stderr, S_NAME ": out of memory\n");
            return 1;
        }
    } else if (format == S_CSV) {
        char numbers[6][24] = {"", "", "", "", "", ""};
        char times[3][48] = {"", "", ""};
        if (row) {
            snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)row->pid);
            snprintf(numbers[1], sizeof(numbers[1]), "%lld", (long long)row->heartbeat_ms);
            s_time_precise(row->started_at_ms, times[0], sizeof(times[0]));
            s_time_precise(row->heartbeat_at_ms, times[1], sizeof(times[1]));
            if (row->stopped_at_ms >= 0)
                s_time_precise(row->stopped_at_ms, times[2], sizeof(times[2]));
        }
        snprintf(numbers[2], sizeof(numbers[2]), "%lld",
                 (long long)(row ? row->hosts_replaying : 0));
        snprintf(numbers[3], sizeof(numbers[3]), "%lld",
                 (long long)(row ? row->transitions_pending : 0));
        snprintf(numbers[4], sizeof(numbers[4]), "%lld",
                 (long long)(row ? row->hosts_unreported : 0));
        const char *values[] = {zb_query_monitor_state(row, now),
                                zb_query_monitor_caught_up(row, now) ? "true" : "false",
                                numbers[0],
                                row ? row->hostname : "",
                                row ? row->version : "",
                                times[0],
                                times[1],
                                numbers[1],
                                times[2],
                                numbers[2],
                                numbers[3],
                                numbers[4]};
        s_csv_row(12, s_monitor_csv_header);
        s_csv_row(12, values);
    } else {
        char line[600];
        zb_query_monitor_line(row, now, line, sizeof(line));
        printf("%s\n", line);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, S_NAME ": write error: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  status

static const char *const s_status_header[] = {"HOST", "SERVICE", "STATE", "SINCE", "FOR", "REASON"};

static int s_status_row(const zb_store_status_t *row, void *arg)
{
    s_out_t *out = arg;
    if (out->format == S_JSON) {
        s_out_json(out, zb_query_status_json(row));
        return 0;
    }
    char since[48], age[32], reason[640] = "";
    if (out->format == S_CSV)
        s_time_precise(row->since_ms, since, sizeof(since));
    else
        zb_time_format_rfc3339(row->since_ms, since, sizeof(since));
    zb_time_format_duration(out->now > row->since_ms ? out->now - row->since_ms : 0, age,
                            sizeof(age));
    if (row->reason && out->format == S_TABLE) {
        snprintf(reason, sizeof(reason), "%s%s%s", row->reason,
                 row->error && *row->error ? ": " : "", row->error ? row->error : "");
        //  TLS probes: when the certificate expires, in the reason's column.
        if (row->tls_expires_ms) {
            char when[48], left[32];
            zb_time_format_rfc3339(row->tls_expires_ms, when, sizeof(when));
            int64_t span = row->tls_expires_ms - out->now;
            zb_time_format_duration(span >= 0 ? span : -span, left, sizeof(left));
            size_t used = strlen(reason);
            snprintf(reason + used, sizeof(reason) - used, " [cert %s %s, %s %s]",
                     span >= 0 ? "expires" : "expired", when, span >= 0 ? "in" : "for", left);
        }
    }
    const char *values[] = {row->host, row->service, row->state,
                            since,     age,          out->format == S_CSV ? row->reason : reason};
    s_out_row(out, values);
    return 0;
}

//  --------------------------------------------------------------------------
//  outages

static const char *const s_outage_header[] = {"HOST",  "SERVICE",  "KIND",  "STARTED",
                                              "ENDED", "DURATION", "REASON"};
static const char *const s_outage_csv_header[] = {"id",         "host",     "service",    "kind",
                                                  "started_at", "ended_at", "duration_s", "reason",
                                                  "end_reason", "error",    "silenced"};

static int s_outage_row(const zb_store_outage_t *outage, void *arg)
{
    s_out_t *out = arg;
    bool open = outage->ended_at_ms < 0;
    int64_t end = open ? out->now : outage->ended_at_ms;
    int64_t duration = end > outage->started_at_ms ? end - outage->started_at_ms : 0;
    if (out->format == S_JSON) {
        s_out_json(out, zb_query_outage_json(outage, out->now));
        return 0;
    }
    char started[48], ended[48] = "", took[48], id[32];
    if (out->format == S_CSV) {
        s_time_precise(outage->started_at_ms, started, sizeof(started));
        if (!open)
            s_time_precise(outage->ended_at_ms, ended, sizeof(ended));
        snprintf(took, sizeof(took), "%.3f", (double)duration / 1000.0);
        snprintf(id, sizeof(id), "%lld", (long long)outage->id);
        const char *values[] = {id,
                                outage->host,
                                outage->service,
                                outage->kind,
                                started,
                                open ? NULL : ended,
                                took,
                                outage->reason,
                                outage->end_reason,
                                outage->error,
                                outage->silenced ? "true" : "false"};
        s_out_row(out, values);
        return 0;
    }
    zb_time_format_rfc3339(outage->started_at_ms, started, sizeof(started));
    if (open)
        snprintf(ended, sizeof(ended), "open");
    else
        zb_time_format_rfc3339(outage->ended_at_ms, ended, sizeof(ended));
    zb_time_format_duration(duration, took, sizeof(took));
    if (open)
        strncat(took, "+", sizeof(took) - strlen(took) - 1);
    char reason[64];
    snprintf(reason, sizeof(reason), "%s%s", outage->reason, outage->silenced ? " [silenced]" : "");
    const char *values[] = {outage->host, outage->service, outage->kind, started, ended,
                            took,         reason};
    s_out_row(out, values);
    return 0;
}

static int s_plan_line(const char *text, void *arg)
{
    (void)arg;
    char safe[1024];
    zb_text_printable(text, strlen(text), safe, sizeof(safe), 0);
    printf("%s\n", safe);
    return 0;
}

//  --------------------------------------------------------------------------
//  hosts

static const char *const s_hosts_header[] = {"HOST",     "STATE", "SINCE", "LAST HEARD",
                                             "INSTANCE", "BEAT",  "REPLAY"};
static const char *const s_hosts_csv_header[] = {"host",           "state",          "since",
                                                 "last_seen",      "instance",       "interval_ms",
                                                 "replay_pending", "replay_reported"};

//  A replay report counts when the host's current agent run made it.
static bool s_replay_known(const zb_store_host_t *host)
{
    return zb_query_host_replay_known(host);
}

static int s_host_row(const zb_store_host_t *host, void *arg)
{
    s_out_t *out = arg;
    if (out->format == S_JSON) {
        s_out_json(out, zb_query_host_json(host));
        return 0;
    }
    char since[48], seen[48] = "", beat[32] = "", replay[32] = "", reported[48] = "";
    if (s_replay_known(host))
        snprintf(replay, sizeof(replay), "%lld", (long long)host->replay_pending);
    if (out->format == S_CSV) {
        s_time_precise(host->since_ms, since, sizeof(since));
        if (host->last_seen_ms > 0)
            s_time_precise(host->last_seen_ms, seen, sizeof(seen));
        snprintf(beat, sizeof(beat), "%lld", (long long)host->interval_ms);
        if (replay[0])
            s_time_precise(host->replay_reported_ms, reported, sizeof(reported));
        const char *values[] = {host->name,     host->state, since,  seen,
                                host->instance, beat,        replay, reported};
        s_out_row(out, values);
        return 0;
    }
    zb_time_format_rfc3339(host->since_ms, since, sizeof(since));
    //  How long ago, as `status` says it of the monitor: to the 5 s the
    //  monitor writes it with (docs/operations.md).
    if (host->last_seen_ms > 0) {
        zb_time_format_duration(out->now > host->last_seen_ms ? out->now - host->last_seen_ms : 0,
                                seen, sizeof(seen));
        strncat(seen, " ago", sizeof(seen) - strlen(seen) - 1);
    }
    if (host->interval_ms > 0)
        zb_time_format_duration(host->interval_ms, beat, sizeof(beat));
    const char *values[] = {host->name,
                            host->state,
                            since,
                            seen[0] ? seen : NULL,
                            host->instance[0] ? host->instance : NULL,
                            beat[0] ? beat : NULL,
                            replay[0] ? replay : NULL};
    s_out_row(out, values);
    return 0;
}

//  --------------------------------------------------------------------------
//  alerts

static const char *const s_alerts_header[] = {"CREATED", "ALERT", "CHANNEL", "STATUS",
                                              "TRIES",   "SENT",  "ERROR"};
static const char *const s_alerts_csv_header[] = {
    "id",     "created_at", "trigger", "host",   "service",         "outage_id", "channel",
    "status", "attempts",   "sent_at", "result", "next_attempt_at", "last_error"};

//  JSON groups an alert's deliveries into one object: rows come ordered by
//  alert, so the object is flushed when the next alert begins.
typedef struct {
    s_out_t *out;
    json_t *current; // the alert being collected
    int64_t seq;     // its creation number
} s_alerts_t;

static void s_alerts_flush(s_alerts_t *alerts)
{
    if (alerts->current)
        s_out_json(alerts->out, alerts->current);
    alerts->current = NULL;
}

static int s_alert_row(const zb_store_delivery_t *row, void *arg)
{
    s_alerts_t *alerts = arg;
    s_out_t *out = alerts->out;
    const zb_store_alert_t *alert = row->alert;
    if (out->format == S_JSON) {
        if (!alerts->current || alerts->seq != alert->seq) {
            s_alerts_flush(alerts);
            alerts->current = zb_query_alert_json(alert);
            alerts->seq = alert->seq;
        }
        if (row->channel && alerts->current)
            json_array_append_new(json_object_get(alerts->current, "deliveries"),
                                  zb_query_delivery_json(row));
        return 0;
    }
    char created[48], sent[48] = "", tries[16] = "", result[24] = "", next[48] = "", oid[24] = "";
    if (row->channel)
        snprintf(tries, sizeof(tries), "%d", row->attempts);
    if (out->format == S_CSV) {
        s_time_precise(alert->created_at_ms, created, sizeof(created));
        if (row->sent_at_ms >= 0)
            s_time_precise(row->sent_at_ms, sent, sizeof(sent));
        if (row->status && strcmp(row->status, "pending") == 0)
            s_time_precise(row->next_attempt_at_ms, next, sizeof(next));
        if (row->result >= 0)
            snprintf(result, sizeof(result), "%lld", (long long)row->result);
        if (alert->outage_id > 0)
            snprintf(oid, sizeof(oid), "%lld", (long long)alert->outage_id);
        const char *values[] = {alert->id,      created, alert->trigger, alert->host,
                                alert->service, oid,     row->channel,   row->status,
                                tries,          sent,    result,         next,
                                row->last_error};
        s_out_row(out, values);
        return 0;
    }
    zb_time_format_rfc3339(alert->created_at_ms, created, sizeof(created));
    if (row->sent_at_ms >= 0)
        zb_time_format_rfc3339(row->sent_at_ms, sent, sizeof(sent));
    const char *values[] = {created,
                            alert->id,
                            row->channel,
                            row->status,
                            row->channel ? tries : NULL,
                            sent[0] ? sent : NULL,
                            row->last_error && *row->last_error ? row->last_error : NULL};
    s_out_row(out, values);
    return 0;
}

//  --------------------------------------------------------------------------
//  silence

static const char *const s_silence_header[] = {"ID",   "HOST", "SERVICE", "STARTS",
                                               "ENDS", "LEFT", "REASON"};
static const char *const s_silence_csv_header[] = {"id",      "host",   "service",   "starts_at",
                                                   "ends_at", "reason", "created_at"};

static int s_silence_row(const zb_store_silence_t *silence, void *arg)
{
    s_out_t *out = arg;
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)silence->id);
    if (out->format == S_JSON) {
        s_out_json(out, zb_query_silence_json(silence, out->now));
        return 0;
    }
    char starts[48], ends[48], left[32] = "ended", created[48];
    if (out->format == S_CSV) {
        s_time_precise(silence->starts_at_ms, starts, sizeof(starts));
        s_time_precise(silence->ends_at_ms, ends, sizeof(ends));
        s_time_precise(silence->created_at_ms, created, sizeof(created));
        const char *values[] = {id,   silence->host,   silence->service, starts,
                                ends, silence->reason, created};
        s_out_row(out, values);
        return 0;
    }
    zb_time_format_rfc3339(silence->starts_at_ms, starts, sizeof(starts));
    zb_time_format_rfc3339(silence->ends_at_ms, ends, sizeof(ends));
    if (silence->ends_at_ms > out->now)
        zb_time_format_duration(silence->ends_at_ms - out->now, left, sizeof(left));
    const char *values[] = {id,   silence->host, silence->service ? silence->service : "*", starts,
                            ends, left,          *silence->reason ? silence->reason : NULL};
    s_out_row(out, values);
    return 0;
}

//  --------------------------------------------------------------------------
//  Arguments

typedef struct {
    const char *db;
    const char *command;
    const char *action; // silence: add | list | remove
    const char *target; // silence remove: the id
    const char *host;   // --host: a name (outages) or a glob (silence add)
    const char *service;
    const char *duration; // --for
    const char *reason;   // --reason
    bool all;             // silence list --all
    bool force;           // hosts forget --force
    s_format_t format;
    bool explain;
    zb_store_query_t query;
} s_args_t;

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

static int s_when(const char *flag, const char *text, int64_t *ms)
{
    if (zb_time_parse_when(text, zb_time_wall_ms(), ms) != 0)
        return s_bad("%s: \"%.80s\" is not a time (e.g. 2h, 30d, 2026-11-01T00:00:00Z)", flag,
                     text);
    return 0;
}

//  A silence's pattern: 1..64 of name characters and the glob's * ? [ ] !
static bool s_glob_valid(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || len > 64)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._-*?[]!", *p)))
            return false;
    return true;
}

//  Which options each command takes (the rest are refused).
static int s_check_options(const s_args_t *args)
{
    const char *cmd = args->command;
    bool outages = strcmp(cmd, "outages") == 0;
    bool alerts = strcmp(cmd, "alerts") == 0;
    bool report = strcmp(cmd, "report") == 0;
    if (report && (args->service || args->query.open_only || args->explain || args->query.limit))
        return s_bad("report takes --since, --until and --host only");
    bool add = strcmp(cmd, "silence") == 0 && args->action && strcmp(args->action, "add") == 0;
    bool list = strcmp(cmd, "silence") == 0 && args->action && strcmp(args->action, "list") == 0;
    const zb_store_query_t *q = &args->query;
    if ((args->host || args->service) && !outages && !add && !report)
        return s_bad("%s takes no filters (--host and --service are for outages and silence add)",
                     cmd);
    if ((q->open_only || args->explain || q->until_ms != ZB_STORE_NO_TIME) && !outages && !report)
        return s_bad("%s takes no filters (they are for outages)", cmd);
    if ((q->limit || q->since_ms != ZB_STORE_NO_TIME) && !outages && !alerts && !report)
        return s_bad("%s takes no filters (they are for outages and alerts)", cmd);
    if ((args->duration || args->reason) && !add)
        return s_bad("--for and --reason are for silence add");
    if (args->all && !list)
        return s_bad("--all is for silence list");
    if ((outages || report) && args->host && !zb_name_valid(args->host))
        return s_bad("--host: \"%.80s\" is not a host name", args->host);
    if (outages && args->service && !zb_name_valid(args->service))
        return s_bad("--service: \"%.80s\" is not a service name", args->service);
    return 0;
}

static int s_parse(int argc, char *argv[], s_args_t *args)
{
    memset(args, 0, sizeof(*args));
    zb_store_query_init(&args->query);
    bool json = false, csv = false;
    const char *extra = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool missing = false;
        const char *value;
        if ((value = s_value(argc, argv, &i, "--db", &missing)))
            args->db = value;
        else if ((value = s_value(argc, argv, &i, "--host", &missing)))
            args->host = value;
        else if ((value = s_value(argc, argv, &i, "--service", &missing)))
            args->service = value;
        else if ((value = s_value(argc, argv, &i, "--for", &missing)))
            args->duration = value;
        else if ((value = s_value(argc, argv, &i, "--reason", &missing)))
            args->reason = value;
        else if ((value = s_value(argc, argv, &i, "--since", &missing))) {
            if (s_when("--since", value, &args->query.since_ms) != 0)
                return 2;
        } else if ((value = s_value(argc, argv, &i, "--until", &missing))) {
            if (s_when("--until", value, &args->query.until_ms) != 0)
                return 2;
        } else if ((value = s_value(argc, argv, &i, "--limit", &missing))) {
            char *end;
            errno = 0;
            long long n = strtoll(value, &end, 10);
            if (errno || end == value || *end || n < 1 || n > 1000000000)
                return s_bad("--limit: \"%.80s\" is not a number from 1 to 1000000000", value);
            args->query.limit = n;
        } else if (missing)
            return s_bad("%s needs a value", arg);
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
            return s_bad("unknown option '%.80s'", arg);
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
        return s_bad("no command given");
    static const char *const commands[] = {"status",  "outages", "hosts",  "alerts",
                                           "silence", "report",  "monitor"};
    bool known = false;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        known = known || strcmp(args->command, commands[i]) == 0;
    if (!known)
        return s_bad("unknown command '%.80s'", args->command);
    if (extra)
        return s_bad("unexpected argument '%.80s'", extra);
    if (strcmp(args->command, "silence") == 0) {
        if (!args->action)
            return s_bad("silence needs add, list or remove");
        if (strcmp(args->action, "add") != 0 && strcmp(args->action, "list") != 0 &&
            strcmp(args->action, "remove") != 0)
            return s_bad("silence: unknown action '%.80s' (add, list or remove)", args->action);
        if (strcmp(args->action, "remove") == 0 && !args->target)
            return s_bad("silence remove needs the silence's ID (see zbeat silence list)");
    }
    bool forget = strcmp(args->command, "hosts") == 0 && args->action;
    if (forget && strcmp(args->action, "forget") != 0)
        return s_bad("hosts: unknown action '%.80s' (forget)", args->action);
    if (forget && !args->target)
        return s_bad("hosts forget needs the host's name (see zbeat hosts)");
    if (forget && !zb_name_valid(args->target))
        return s_bad("hosts forget: \"%.80s\" is not a host name", args->target);
    if (forget && (json || csv))
        return s_bad("hosts forget takes no --json or --csv");
    if (args->force && !forget)
        return s_bad("--force is for hosts forget");
    if (json && csv)
        return s_bad("--json and --csv exclude each other");
    args->format = json ? S_JSON : csv ? S_CSV : S_TABLE;
    int rc = s_check_options(args);
    if (rc != 0)
        return rc;
    args->query.host = args->host;
    args->query.service = args->service;
    if (args->query.since_ms != ZB_STORE_NO_TIME && args->query.until_ms != ZB_STORE_NO_TIME &&
        args->query.since_ms > args->query.until_ms)
        return s_bad("--since is after --until");
    if (!args->db) {
        //  $ZBEAT_DB, then the packaged path when it is there, then the
        //  working directory (docs/cli.md). A packaged directory the user
        //  may not search (mode 0750) counts as there: "permission denied"
        //  on it says more than "./zbeat.db: no such database".
        const char *env = getenv("ZBEAT_DB");
        bool packaged = access(S_PACKAGED_DB, F_OK) == 0 || errno == EACCES;
        args->db = env && *env ? env : packaged ? S_PACKAGED_DB : "zbeat.db";
    }
    return 0;
}

//  hosts forget: the host's state found first (an alive one is refused
//  without --force: its agent would only bring it back).
typedef struct {
    const char *name;
    char state[32];
    int64_t last_seen_ms;
    bool found;
} s_forget_t;

static int s_forget_row(const zb_store_host_t *host, void *arg)
{
    s_forget_t *forget = arg;
    if (strcmp(host->name, forget->name) != 0)
        return 0;
    forget->found = true;
    snprintf(forget->state, sizeof(forget->state), "%s", host->state);
    forget->last_seen_ms = host->last_seen_ms;
    return 1;
}

//  Writes like silence add: the CLI removes the host's current state and
//  leaves it in `forgotten` for the running monitor to drop from memory.
static int s_hosts_forget(const s_args_t *args)
{
    char err[600], safe[700];
    zb_store_t *store = zb_store_open_existing(args->db, err, sizeof(err));
    if (!store) {
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, S_NAME ": %s\n", safe);
        return 1;
    }
    int64_t now = zb_time_wall_ms();
    s_forget_t forget = {.name = args->target};
    int rc = 1;
    if (zb_store_hosts(store, s_forget_row, &forget) < 0)
        goto failed;
    if (!forget.found) {
        fprintf(stderr, S_NAME ": no host %s (see zbeat hosts)\n", args->target);
        zb_store_destroy(&store);
        return 1;
    }
    bool alive = strcmp(forget.state, "silent") != 0 && strcmp(forget.state, "stopped") != 0;
    if (alive && !args->force) {
        char ago[32];
        zb_time_format_duration(now > forget.last_seen_ms ? now - forget.last_seen_ms : 0, ago,
                                sizeof(ago));
        fprintf(stderr,
                S_NAME ": %s is %s (heard %s ago): stop its agent first, or use --force "
                       "(a host heard again comes back as new)\n",
                args->target, forget.state, ago);
        zb_store_destroy(&store);
        return 1;
    }
    if (zb_store_host_forget(store, args->target, now) < 0 ||
        zb_store_forget_ask(store, args->target, now) < 0 || zb_store_commit(store) != 0)
        goto failed;
    printf("host %s forgotten (its outage history is kept)\n", args->target);
    rc = 0;
failed:
    if (rc != 0) {
        const char *why = zb_store_error(store);
        zb_text_printable(why, strlen(why), safe, sizeof(safe), 0);
        fprintf(stderr, S_NAME ": %s\n", safe);
    }
    zb_store_destroy(&store);
    return rc;
}

//  silence add / remove: the only writes, on a database that must exist.
static int s_silence_write(const s_args_t *args)
{
    int64_t now = zb_time_wall_ms();
    int64_t duration = 0, id = 0;
    if (strcmp(args->action, "add") == 0) {
        if (!args->host)
            return s_bad("silence add needs --host (a host name or glob, e.g. web-*)");
        if (!s_glob_valid(args->host))
            return s_bad("--host: \"%.80s\" is not a host name or glob pattern", args->host);
        if (args->service && !s_glob_valid(args->service))
            return s_bad("--service: \"%.80s\" is not a service name or glob pattern",
                         args->service);
        if (!args->duration)
            return s_bad("silence add needs --for (a duration, e.g. 2h)");
        if (zb_time_parse_duration(args->duration, &duration) != 0 || duration < 1000 ||
            duration > 400LL * 86400 * 1000)
            return s_bad("--for: \"%.80s\" is not a duration from 1s to 400d", args->duration);
        if (args->reason && strlen(args->reason) > 200)
            return s_bad("--reason: longer than 200 characters");
    } else {
        char *end;
        errno = 0;
        long long n = strtoll(args->target, &end, 10);
        if (errno || end == args->target || *end || n < 1)
            return s_bad("silence remove: \"%.80s\" is not a silence ID", args->target);
        id = n;
    }
    char err[600];
    zb_store_t *store = zb_store_open_existing(args->db, err, sizeof(err));
    if (!store) {
        char safe[700];
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, S_NAME ": %s\n", safe);
        return 1;
    }
    int rc = 1;
    if (strcmp(args->action, "add") == 0) {
        zb_store_silence_t silence = {
            .host = args->host,
            .service = args->service,
            .starts_at_ms = now,
            .ends_at_ms = now + duration,
            .reason = args->reason ? args->reason : "",
            .created_at_ms = now,
        };
        if (zb_store_silence_add(store, &silence, &id) == 0 && zb_store_commit(store) == 0) {
            if (args->format == S_TABLE) {
                char ends[48];
                zb_time_format_rfc3339(silence.ends_at_ms, ends, sizeof(ends));
                printf("silence %lld: %s/%s until %s\n", (long long)id, args->host,
                       args->service ? args->service : "*", ends);
                rc = 0;
            } else {
                //  JSON and CSV: the new silence as `silence list` shows it,
                //  so that one parser reads both.
                s_out_t out;
                silence.id = id;
                s_out_init(&out, args->format, 7,
                           args->format == S_CSV ? s_silence_csv_header : s_silence_header);
                out.now = now;
                s_silence_row(&silence, &out);
                rc = s_out_finish(&out, "");
                zb_store_destroy(&store);
                return rc;
            }
        }
    } else {
        int ended = zb_store_silence_end(store, id, now);
        if (ended >= 0 && zb_store_commit(store) == 0) {
            if (ended == 1) {
                printf("silence %lld removed\n", (long long)id);
                rc = 0;
            } else {
                fprintf(stderr, S_NAME ": no active silence %lld (see zbeat silence list)\n",
                        (long long)id);
                zb_store_destroy(&store);
                return 1;
            }
        }
    }
    if (rc != 0) {
        char safe[700];
        const char *why = zb_store_error(store);
        zb_text_printable(why, strlen(why), safe, sizeof(safe), 0);
        fprintf(stderr, S_NAME ": %s\n", safe);
    }
    zb_store_destroy(&store);
    return rc;
}

//  report: availability per service and host (zb_report; docs/cli.md).
static int s_report(zb_store_t *store, const s_args_t *args)
{
    int64_t now = zb_time_wall_ms();
    int64_t until = args->query.until_ms != ZB_STORE_NO_TIME ? args->query.until_ms : now;
    int64_t since = args->query.since_ms != ZB_STORE_NO_TIME ? args->query.since_ms
                                                             : until - 30LL * 86400 * 1000;
    if (since >= until)
        return s_bad("--since is not before --until");
    char err[600], safe[700];
    json_t *report = zb_report_build(store, args->host, since, until, now, err, sizeof(err));
    if (!report) {
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, S_NAME ": %s\n", safe);
        return 1;
    }
    int rc = 0;
    if (args->format == S_JSON) {
        char *text = json_dumps(report, ZB_QUERY_JSON_FLAGS);
        rc = text && printf("%s\n", text) > 0 && fflush(stdout) == 0 ? 0 : -1;
        free(text);
    } else if (args->format == S_CSV)
        rc = zb_report_print_csv(report, stdout);
    else
        rc = zb_report_print_table(report, stdout);
    json_decref(report);
    if (rc != 0)
        fprintf(stderr, S_NAME ": write error: %s\n", strerror(errno));
    return rc == 0 ? 0 : 1;
}

//  The index of the command word (the first argument that is neither an
//  option nor an option's value), or 0 when there is none.
static int s_command_at(int argc, char *argv[])
{
    static const char *const valued[] = {"--db",     "--host",  "--service", "--for",
                                         "--reason", "--since", "--until",   "--limit"};
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

int main(int argc, char *argv[])
{
    //  Needs no database: its own arguments, its own help.
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return zb_keygen_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "hash-password") == 0)
        return zb_hash_password_main(argc - 1, argv + 1);
    //  `zbeat help [COMMAND]`, and --help anywhere: the command's help when
    //  one is named, the global help otherwise.
    int at = s_command_at(argc, argv);
    if (at && strcmp(argv[at], "help") == 0) {
        const char *topic = at + 1 < argc ? argv[at + 1] : NULL;
        if (topic && strcmp(topic, "keygen") == 0) {
            char *keygen_help[] = {"keygen", "--help", NULL};
            return zb_keygen_main(2, keygen_help);
        }
        if (!topic)
            s_usage(stdout);
        else if (!s_help(topic, stdout))
            return s_bad("help: unknown command '%.80s'", topic);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (!at || !s_help(argv[at], stdout))
                s_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf(S_NAME " " ZB_VERSION "\n");
            return 0;
        }
    }
    s_args_t args;
    int rc = s_parse(argc, argv, &args);
    if (rc != 0)
        return rc;
    if (strcmp(args.command, "silence") == 0 && strcmp(args.action, "list") != 0)
        return s_silence_write(&args);
    if (strcmp(args.command, "hosts") == 0 && args.action)
        return s_hosts_forget(&args);

    char err[600];
    zb_store_t *store = zb_store_open_readonly(args.db, err, sizeof(err));
    if (!store) {
        char safe[700];
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, S_NAME ": %s\n", safe);
        return 1;
    }
    s_out_t out;
    int walk = 0;
    s_monitor_t monitor = {.found = false};
    if (strcmp(args.command, "status") == 0) {
        s_out_init(&out, args.format, 6, s_status_header);
        if (args.format == S_CSV) {
            static const char *const csv[] = {"host", "service", "state", "since", "for", "reason"};
            out.header = csv;
        }
        //  Text only: JSON and CSV keep their one shape (`zbeat monitor`
        //  gives the same in those formats).
        if (args.format == S_TABLE)
            walk = zb_store_monitor(store, s_monitor_copy, &monitor);
        if (walk == 0)
            walk = zb_store_status(store, s_status_row, &out);
        if (walk == 0 && args.format == S_TABLE) {
            char line[600];
            zb_query_monitor_line(monitor.found ? &monitor.row : NULL, out.now, line, sizeof(line));
            printf("%s\n", line);
        }
        rc = s_out_finish(&out, "no hosts yet");
    } else if (strcmp(args.command, "monitor") == 0) {
        walk = zb_store_monitor(store, s_monitor_copy, &monitor);
        if (walk == 0)
            rc = s_monitor_print(&monitor, args.format);
    } else if (strcmp(args.command, "hosts") == 0) {
        s_out_init(&out, args.format, args.format == S_CSV ? 8 : 7,
                   args.format == S_CSV ? s_hosts_csv_header : s_hosts_header);
        walk = zb_store_hosts(store, s_host_row, &out);
        rc = s_out_finish(&out, "no hosts yet");
    } else if (strcmp(args.command, "alerts") == 0) {
        bool csv = args.format == S_CSV;
        s_out_init(&out, args.format, csv ? 13 : 7, csv ? s_alerts_csv_header : s_alerts_header);
        s_alerts_t alerts = {.out = &out};
        int64_t since = args.query.since_ms == ZB_STORE_NO_TIME ? 0 : args.query.since_ms;
        walk = zb_store_deliveries(store, since, args.query.limit, s_alert_row, &alerts);
        s_alerts_flush(&alerts);
        rc = s_out_finish(&out, "no alerts");
    } else if (strcmp(args.command, "silence") == 0) {
        bool csv = args.format == S_CSV;
        s_out_init(&out, args.format, 7, csv ? s_silence_csv_header : s_silence_header);
        walk = zb_store_silences(store, args.all ? INT64_MIN : out.now, s_silence_row, &out);
        rc = s_out_finish(&out, args.all ? "no silences" : "no active silences");
    } else if (strcmp(args.command, "report") == 0)
        rc = s_report(store, &args);
    else if (args.explain)
        walk = zb_store_outages_plan(store, &args.query, s_plan_line, NULL);
    else {
        bool csv = args.format == S_CSV;
        s_out_init(&out, args.format, csv ? 11 : 7, csv ? s_outage_csv_header : s_outage_header);
        walk = zb_store_outages(store, &args.query, s_outage_row, &out);
        rc = s_out_finish(&out, "no outages");
    }
    if (walk != 0) {
        fprintf(stderr, S_NAME ": %s\n", zb_store_error(store));
        rc = 1;
    }
    zb_store_destroy(&store);
    return rc;
}
