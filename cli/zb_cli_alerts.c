/*  zbeat alerts: alerts and their deliveries. */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    zb_cli_out_t *out;
    json_t *current; // the alert being collected
    int64_t seq;     // its creation number
} s_alerts_t;

static void s_alerts_flush(s_alerts_t *alerts)
{
    if (alerts->current)
        zb_cli_out_json(alerts->out, alerts->current);
    alerts->current = NULL;
}

static int s_alert_row(const zb_store_delivery_t *row, void *arg)
{
    s_alerts_t *alerts = arg;
    zb_cli_out_t *out = alerts->out;
    const zb_store_alert_t *alert = row->alert;
    if (out->format == ZB_CLI_JSON) {
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
    if (out->format == ZB_CLI_CSV) {
        zb_cli_time_precise(alert->created_at_ms, created, sizeof(created));
        if (row->sent_at_ms >= 0)
            zb_cli_time_precise(row->sent_at_ms, sent, sizeof(sent));
        if (row->status && strcmp(row->status, "pending") == 0)
            zb_cli_time_precise(row->next_attempt_at_ms, next, sizeof(next));
        if (row->result >= 0)
            snprintf(result, sizeof(result), "%lld", (long long)row->result);
        if (alert->outage_id > 0)
            snprintf(oid, sizeof(oid), "%lld", (long long)alert->outage_id);
        const char *values[] = {alert->id,      created, alert->trigger, alert->host,
                                alert->service, oid,     row->channel,   row->status,
                                tries,          sent,    result,         next,
                                row->last_error};
        zb_cli_out_row(out, values);
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
    zb_cli_out_row(out, values);
    return 0;
}

int zb_cli_alerts_print(const json_t *rows, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(&out, args->format, csv ? 13 : 7, csv ? s_alerts_csv_header : s_alerts_header);
    s_alerts_t alerts = {.out = &out};
    size_t i, j;
    json_t *o, *d;
    json_array_foreach(rows, i, o)
    {
        if (zb_cli_out_given(&out, o))
            continue;
        zb_store_alert_t alert = {
            .seq = (int64_t)i,
            .id = zb_cli_json_text(o, "id"),
            .created_at_ms = zb_cli_json_ms(o, "created_at", 0),
            .trigger = zb_cli_json_text(o, "trigger"),
            .host = zb_cli_json_text(o, "host"),
            .service = zb_cli_json_text(o, "service"),
            .outage_id = zb_cli_json_int(o, "outage_id", 0),
        };
        json_t *deliveries = json_object_get(o, "deliveries");
        if (!alert.id || json_array_size(deliveries) == 0) {
            zb_store_delivery_t none = {.alert = &alert, .result = -1, .sent_at_ms = -1};
            if (alert.id)
                s_alert_row(&none, &alerts);
            continue;
        }
        json_array_foreach(deliveries, j, d)
        {
            zb_store_delivery_t row = {
                .alert = &alert,
                .channel = zb_cli_json_text(d, "channel"),
                .status = zb_cli_json_text(d, "status"),
                .attempts = (int)zb_cli_json_int(d, "attempts", 0),
                .next_attempt_at_ms = zb_cli_json_ms(d, "next_attempt_at", 0),
                .last_error = zb_cli_json_text(d, "last_error"),
                .result = zb_cli_json_int(d, "result", -1),
                .sent_at_ms = zb_cli_json_ms(d, "sent_at", -1),
            };
            s_alert_row(&row, &alerts);
        }
    }
    return zb_cli_out_finish(&out, "no alerts");
}

int zb_cli_alerts(zb_store_t *store, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(&out, args->format, csv ? 13 : 7, csv ? s_alerts_csv_header : s_alerts_header);
    s_alerts_t alerts = {.out = &out};
    int64_t since = args->query.since_ms == ZB_STORE_NO_TIME ? 0 : args->query.since_ms;
    int walk = zb_store_deliveries(store, since, args->query.limit, s_alert_row, &alerts);
    s_alerts_flush(&alerts);
    int rc = zb_cli_out_finish(&out, "no alerts");
    return zb_cli_walked(store, walk, rc);
}
