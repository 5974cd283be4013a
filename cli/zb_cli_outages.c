/*  zbeat outages: what went down, when, for how long (and --explain). */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  outages

static const char *const s_outage_header[] = {"HOST",  "SERVICE",  "KIND",  "STARTED",
                                              "ENDED", "DURATION", "REASON"};
static const char *const s_outage_csv_header[] = {"id",         "host",     "service",    "kind",
                                                  "started_at", "ended_at", "duration_s", "reason",
                                                  "end_reason", "error",    "silenced"};

static int s_outage_row(const zb_store_outage_t *outage, void *arg)
{
    zb_cli_out_t *out = arg;
    bool open = outage->ended_at_ms < 0;
    int64_t end = open ? out->now : outage->ended_at_ms;
    int64_t duration = end > outage->started_at_ms ? end - outage->started_at_ms : 0;
    if (out->format == ZB_CLI_JSON) {
        zb_cli_out_json(out, zb_query_outage_json(outage, out->now));
        return 0;
    }
    char started[48], ended[48] = "", took[48], id[32];
    if (out->format == ZB_CLI_CSV) {
        zb_cli_time_precise(outage->started_at_ms, started, sizeof(started));
        if (!open)
            zb_cli_time_precise(outage->ended_at_ms, ended, sizeof(ended));
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
        zb_cli_out_row(out, values);
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
    zb_cli_out_row(out, values);
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

int zb_cli_outages_print(const json_t *rows, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(&out, args->format, csv ? 11 : 7, csv ? s_outage_csv_header : s_outage_header);
    size_t i;
    json_t *o;
    json_array_foreach(rows, i, o)
    {
        if (zb_cli_out_given(&out, o))
            continue;
        zb_store_outage_t outage = {
            .id = zb_cli_json_int(o, "id", 0),
            .kind = zb_cli_json_text(o, "kind"),
            .host = zb_cli_json_text(o, "host"),
            .service = zb_cli_json_text(o, "service"),
            .started_at_ms = zb_cli_json_ms(o, "started_at", 0),
            .ended_at_ms = zb_cli_json_ms(o, "ended_at", -1),
            .reason = zb_cli_json_text(o, "reason"),
            .error = zb_cli_json_text(o, "error"),
            .end_reason = zb_cli_json_text(o, "end_reason"),
            .silenced = json_is_true(json_object_get(o, "silenced")),
        };
        if (outage.kind && outage.host && outage.reason)
            s_outage_row(&outage, &out);
    }
    return zb_cli_out_finish(&out, "no outages");
}

int zb_cli_outages(zb_store_t *store, const zb_cli_args_t *args)
{
    if (args->explain)
        return zb_cli_walked(store, zb_store_outages_plan(store, &args->query, s_plan_line, NULL),
                             0);
    zb_cli_out_t out;
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(&out, args->format, csv ? 11 : 7, csv ? s_outage_csv_header : s_outage_header);
    int walk = zb_store_outages(store, &args->query, s_outage_row, &out);
    int rc = zb_cli_out_finish(&out, "no outages");
    return zb_cli_walked(store, walk, rc);
}
