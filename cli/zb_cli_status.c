/*  zbeat status and zbeat monitor: what is down now, and the monitor's own row. */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static int s_monitor_print(const s_monitor_t *monitor, zb_cli_format_t format)
{
    const zb_store_monitor_t *row = monitor->found ? &monitor->row : NULL;
    int64_t now = zb_time_wall_ms();
    if (format == ZB_CLI_JSON) {
        json_t *o = zb_query_monitor_json(row, now);
        char *text = o ? json_dumps(o, ZB_CLI_JSON_FLAGS) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
        if (!text) {
            fprintf(stderr, ZB_CLI_NAME ": out of memory\n");
            return 1;
        }
    } else if (format == ZB_CLI_CSV) {
        char numbers[6][24] = {"", "", "", "", "", ""};
        char times[3][48] = {"", "", ""};
        if (row) {
            snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)row->pid);
            snprintf(numbers[1], sizeof(numbers[1]), "%lld", (long long)row->heartbeat_ms);
            zb_cli_time_precise(row->started_at_ms, times[0], sizeof(times[0]));
            zb_cli_time_precise(row->heartbeat_at_ms, times[1], sizeof(times[1]));
            if (row->stopped_at_ms >= 0)
                zb_cli_time_precise(row->stopped_at_ms, times[2], sizeof(times[2]));
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
        zb_cli_csv_row(12, s_monitor_csv_header);
        zb_cli_csv_row(12, values);
    } else {
        char line[600];
        zb_query_monitor_line(row, now, line, sizeof(line));
        printf("%s\n", line);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, ZB_CLI_NAME ": write error: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  status

static const char *const s_status_header[] = {"HOST", "SERVICE", "STATE", "SINCE", "FOR", "REASON"};

//  The rows to show and the counts of the summary line.
typedef struct {
    zb_cli_out_t out;
    zb_query_filter_t filter;   // which rows to show
    zb_query_filter_t counted;  // which rows the summary counts (host and service only)
    zb_query_summary_t summary; // a table only
    bool tally;                 // count the rows (not when a monitor counted them)
} s_status_t;

void zb_cli_status_filter(const zb_cli_args_t *args, zb_query_filter_t *filter)
{
    filter->states = args->states;
    filter->host = args->host;
    filter->service = args->service;
    //  A person at a terminal asks what is wrong; a script (--json, --csv)
    //  keeps every row unless it filters (docs/cli.md).
    if (args->format == ZB_CLI_TABLE && !args->all && !args->states)
        filter->states = "problems";
}

static void s_status_init(s_status_t *self, const zb_cli_args_t *args)
{
    memset(self, 0, sizeof(*self));
    zb_cli_out_init(&self->out, args->format, 6, s_status_header);
    if (args->format == ZB_CLI_CSV) {
        static const char *const csv[] = {"host", "service", "state", "since", "for", "reason"};
        self->out.header = csv;
    }
    zb_cli_status_filter(args, &self->filter);
    self->counted.host = args->host;
    self->counted.service = args->service;
    self->tally = args->format == ZB_CLI_TABLE;
}

static void s_status_show(s_status_t *self, const zb_store_status_t *row)
{
    zb_cli_out_t *out = &self->out;
    if (self->tally && zb_query_status_keeps(&self->counted, row))
        zb_query_summary_add(&self->summary, row);
    if (!zb_query_status_keeps(&self->filter, row))
        return;
    if (out->format == ZB_CLI_JSON) {
        zb_cli_out_json(out, zb_query_status_json(row));
        return;
    }
    char since[48], age[32], reason[640] = "";
    if (out->format == ZB_CLI_CSV)
        zb_cli_time_precise(row->since_ms, since, sizeof(since));
    else
        zb_time_format_rfc3339(row->since_ms, since, sizeof(since));
    zb_time_format_duration(out->now > row->since_ms ? out->now - row->since_ms : 0, age,
                            sizeof(age));
    if (row->reason && out->format == ZB_CLI_TABLE) {
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
    const char *values[] = {row->host,  row->service,
                            row->state, since,
                            age,        out->format == ZB_CLI_CSV ? row->reason : reason};
    zb_cli_out_row(out, values);
}

static int s_status_row(const zb_store_status_t *row, void *arg)
{
    s_status_show(arg, row);
    return 0;
}

//  What an empty table says: nothing at all, nothing matching, or nothing
//  wrong.
static const char *s_status_none(const s_status_t *self, int64_t counted)
{
    if (counted == 0)
        return self->counted.host || self->counted.service ? "no host or service matches"
                                                           : "no hosts yet";
    if (self->filter.states && strcmp(self->filter.states, "problems") == 0)
        return "no problems (--all shows every row)";
    return "no row matches";
}

int zb_cli_status(zb_store_t *store, const zb_cli_args_t *args)
{
    static s_status_t status; // the summary is large for the stack
    int walk = 0;
    s_monitor_t monitor = {.found = false};
    s_status_init(&status, args);
    //  Text only: JSON and CSV keep their one shape (`zbeat monitor`
    //  gives the same in those formats).
    if (args->format == ZB_CLI_TABLE)
        walk = zb_store_monitor(store, s_monitor_copy, &monitor);
    //  Without host or service, the store counts (from its indexes of the
    //  problems); then a filter of problem states walks the problems only
    //  (host or service globs count rows the problems' walk has not).
    if (walk == 0 && status.tally && !status.counted.host && !status.counted.service) {
        walk = zb_query_summary_read(store, &status.summary);
        status.tally = false;
    }
    if (walk == 0)
        walk = !status.tally && zb_query_states_problems_only(status.filter.states)
                   ? zb_store_problems(store, s_status_row, &status)
                   : zb_store_status(store, s_status_row, &status);
    int64_t counted = status.summary.hosts.total + status.summary.services.total;
    if (walk == 0 && args->format == ZB_CLI_TABLE) {
        char line[600];
        zb_query_monitor_line(monitor.found ? &monitor.row : NULL, status.out.now, line,
                              sizeof(line));
        printf("%s\n", line);
        if (counted) {
            zb_query_summary_line(&status.summary, line, sizeof(line));
            printf("%s\n", line);
        }
    }
    int rc = zb_cli_out_finish(&status.out, s_status_none(&status, counted));
    return zb_cli_walked(store, walk, rc);
}

//  A monitor's row from GET /api/v1/monitor (NULL: none known).
static bool s_monitor_from_json(const json_t *o, s_monitor_t *monitor)
{
    if (!json_is_integer(json_object_get(o, "pid")))
        return false;
    zb_store_monitor_t *row = &monitor->row;
    row->pid = zb_cli_json_int(o, "pid", 0);
    snprintf(monitor->hostname, sizeof(monitor->hostname), "%s",
             zb_cli_json_text(o, "hostname") ? zb_cli_json_text(o, "hostname") : "");
    snprintf(monitor->version, sizeof(monitor->version), "%s",
             zb_cli_json_text(o, "version") ? zb_cli_json_text(o, "version") : "");
    row->hostname = monitor->hostname;
    row->version = monitor->version;
    row->started_at_ms = zb_cli_json_ms(o, "started_at", 0);
    row->heartbeat_at_ms = zb_cli_json_ms(o, "heartbeat_at", 0);
    row->heartbeat_ms = zb_cli_json_int(o, "heartbeat_ms", 0);
    row->stopped_at_ms = zb_cli_json_ms(o, "stopped_at", -1);
    row->hosts_replaying = zb_cli_json_int(o, "hosts_replaying", 0);
    row->transitions_pending = zb_cli_json_int(o, "transitions_pending", 0);
    row->hosts_unreported = zb_cli_json_int(o, "hosts_unreported", 0);
    monitor->found = true;
    return true;
}

//  A summary from GET /api/v1/summary's object.
static void s_tally_from_json(const json_t *o, zb_query_tally_t *tally)
{
    tally->total = zb_cli_json_int(o, "total", 0);
    tally->problems = zb_cli_json_int(o, "problems", 0);
    const char *state;
    json_t *count;
    json_object_foreach((json_t *)json_object_get(o, "states"), state, count)
    {
        if (tally->states == ZB_QUERY_STATES_MAX)
            break;
        zb_query_count_t *c = &tally->by_state[tally->states++];
        snprintf(c->state, sizeof(c->state), "%s", state);
        c->count = json_integer_value(count);
    }
}

int zb_cli_status_print(const json_t *rows, const json_t *monitors, const json_t *summaries,
                        const char *const *urls, const zb_cli_args_t *args)
{
    static s_status_t status;
    s_status_init(&status, args);
    //  The monitors filtered already (and counted in their summaries).
    status.filter = (zb_query_filter_t){0};
    status.tally = false;
    size_t i;
    json_t *o;
    json_array_foreach(rows, i, o)
    {
        if (args->format == ZB_CLI_JSON) {
            zb_cli_out_json(&status.out, json_incref(o));
            continue;
        }
        zb_store_status_t row = {
            .host = zb_cli_json_text(o, "host"),
            .service = zb_cli_json_text(o, "service"),
            .state = zb_cli_json_text(o, "state"),
            .since_ms = zb_cli_json_ms(o, "since", 0),
            .reason = zb_cli_json_text(o, "reason"),
            .error = zb_cli_json_text(o, "error"),
            .tls_expires_ms = zb_cli_json_ms(o, "tls_expires", 0),
        };
        if (row.host && row.state)
            s_status_show(&status, &row);
    }
    int64_t counted = 0;
    if (args->format == ZB_CLI_TABLE) {
        json_array_foreach(monitors, i, o)
        {
            s_monitor_t monitor = {.found = false};
            char line[600];
            s_monitor_from_json(o, &monitor);
            zb_query_monitor_line(monitor.found ? &monitor.row : NULL, status.out.now, line,
                                  sizeof(line));
            if (urls)
                printf("%s: %s\n", urls[i], line);
            else
                printf("%s\n", line);
            //  Each monitor's own counts: redundant monitors would count a
            //  host twice in a sum.
            zb_query_summary_t summary = {0};
            json_t *s = json_array_get(summaries, i);
            s_tally_from_json(json_object_get(s, "hosts"), &summary.hosts);
            s_tally_from_json(json_object_get(s, "services"), &summary.services);
            counted += summary.hosts.total + summary.services.total;
            if (summary.hosts.total + summary.services.total == 0)
                continue;
            zb_query_summary_line(&summary, line, sizeof(line));
            if (urls)
                printf("%s: %s\n", urls[i], line);
            else
                printf("%s\n", line);
        }
    }
    zb_cli_status_filter(args, &status.filter); // for what an empty table says
    return zb_cli_out_finish(&status.out, s_status_none(&status, counted));
}

int zb_cli_monitor(zb_store_t *store, const zb_cli_args_t *args)
{
    int rc = 0;
    s_monitor_t monitor = {.found = false};
    int walk = zb_store_monitor(store, s_monitor_copy, &monitor);
    if (walk == 0)
        rc = s_monitor_print(&monitor, args->format);
    return zb_cli_walked(store, walk, rc);
}
