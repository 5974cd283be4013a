/*  zbeat silence: list, add and remove silences (the CLI's only writes). */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  silence

static const char *const s_silence_header[] = {"ID",   "HOST", "SERVICE", "STARTS",
                                               "ENDS", "LEFT", "REASON"};
static const char *const s_silence_csv_header[] = {"id",      "host",   "service",   "starts_at",
                                                   "ends_at", "reason", "created_at"};

static int s_silence_row(const zb_store_silence_t *silence, void *arg)
{
    zb_cli_out_t *out = arg;
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)silence->id);
    if (out->format == ZB_CLI_JSON) {
        zb_cli_out_json(out, zb_query_silence_json(silence, out->now));
        return 0;
    }
    char starts[48], ends[48], left[32] = "ended", created[48];
    if (out->format == ZB_CLI_CSV) {
        zb_cli_time_precise(silence->starts_at_ms, starts, sizeof(starts));
        zb_cli_time_precise(silence->ends_at_ms, ends, sizeof(ends));
        zb_cli_time_precise(silence->created_at_ms, created, sizeof(created));
        const char *values[] = {id,   silence->host,   silence->service, starts,
                                ends, silence->reason, created};
        zb_cli_out_row(out, values);
        return 0;
    }
    zb_time_format_rfc3339(silence->starts_at_ms, starts, sizeof(starts));
    zb_time_format_rfc3339(silence->ends_at_ms, ends, sizeof(ends));
    if (silence->ends_at_ms > out->now)
        zb_time_format_duration(silence->ends_at_ms - out->now, left, sizeof(left));
    const char *values[] = {id,   silence->host, silence->service ? silence->service : "*", starts,
                            ends, left,          *silence->reason ? silence->reason : NULL};
    zb_cli_out_row(out, values);
    return 0;
}

//  silence add / remove: the only writes, on a database that must exist.
int zb_cli_silence_write(const zb_cli_args_t *args)
{
    int64_t now = zb_time_wall_ms();
    int64_t duration = 0, id = 0;
    if (strcmp(args->action, "add") == 0) {
        if (!args->host)
            return zb_cli_bad("silence add needs --host (a host name or glob, e.g. web-*)");
        if (!zb_query_glob_valid(args->host))
            return zb_cli_bad("--host: \"%.80s\" is not a host name or glob pattern", args->host);
        if (args->service && !zb_query_glob_valid(args->service))
            return zb_cli_bad("--service: \"%.80s\" is not a service name or glob pattern",
                              args->service);
        if (!args->duration)
            return zb_cli_bad("silence add needs --for (a duration, e.g. 2h)");
        if (zb_time_parse_duration(args->duration, &duration) != 0 || duration < 1000 ||
            duration > 400LL * 86400 * 1000)
            return zb_cli_bad("--for: \"%.80s\" is not a duration from 1s to 400d", args->duration);
        if (args->reason && strlen(args->reason) > 200)
            return zb_cli_bad("--reason: longer than 200 characters");
    } else {
        char *end;
        errno = 0;
        long long n = strtoll(args->target, &end, 10);
        if (errno || end == args->target || *end || n < 1)
            return zb_cli_bad("silence remove: \"%.80s\" is not a silence ID", args->target);
        id = n;
    }
    char err[600];
    zb_store_t *store = zb_store_open_existing(args->db, err, sizeof(err));
    if (!store) {
        char safe[700];
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, ZB_CLI_NAME ": %s\n", safe);
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
            if (args->format == ZB_CLI_TABLE) {
                char ends[48];
                zb_time_format_rfc3339(silence.ends_at_ms, ends, sizeof(ends));
                printf("silence %lld: %s/%s until %s\n", (long long)id, args->host,
                       args->service ? args->service : "*", ends);
                rc = 0;
            } else {
                //  JSON and CSV: the new silence as `silence list` shows it,
                //  so that one parser reads both.
                zb_cli_out_t out;
                silence.id = id;
                zb_cli_out_init(&out, args->format, 7,
                                args->format == ZB_CLI_CSV ? s_silence_csv_header
                                                           : s_silence_header);
                out.now = now;
                s_silence_row(&silence, &out);
                rc = zb_cli_out_finish(&out, "");
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
                fprintf(stderr, ZB_CLI_NAME ": no active silence %lld (see zbeat silence list)\n",
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
        fprintf(stderr, ZB_CLI_NAME ": %s\n", safe);
    }
    zb_store_destroy(&store);
    return rc;
}

int zb_cli_silence_print(const json_t *rows, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(&out, args->format, 7, csv ? s_silence_csv_header : s_silence_header);
    size_t i;
    json_t *o;
    json_array_foreach(rows, i, o)
    {
        if (zb_cli_out_given(&out, o))
            continue;
        const char *reason = zb_cli_json_text(o, "reason");
        zb_store_silence_t silence = {
            .id = zb_cli_json_int(o, "id", 0),
            .host = zb_cli_json_text(o, "host"),
            .service = zb_cli_json_text(o, "service"),
            .starts_at_ms = zb_cli_json_ms(o, "starts_at", 0),
            .ends_at_ms = zb_cli_json_ms(o, "ends_at", 0),
            .reason = reason ? reason : "",
            .created_at_ms = zb_cli_json_ms(o, "created_at", 0),
        };
        if (silence.host)
            s_silence_row(&silence, &out);
    }
    bool all = args->all || !args->action || strcmp(args->action, "list") != 0;
    return zb_cli_out_finish(&out, all ? "no silences" : "no active silences");
}

int zb_cli_silence_list(zb_store_t *store, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(&out, args->format, 7, csv ? s_silence_csv_header : s_silence_header);
    int walk = zb_store_silences(store, args->all ? INT64_MIN : out.now, s_silence_row, &out);
    int rc = zb_cli_out_finish(&out, args->all ? "no silences" : "no active silences");
    return zb_cli_walked(store, walk, rc);
}
