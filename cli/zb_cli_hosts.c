/*  zbeat hosts: every host the monitor knows. */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    zb_cli_out_t *out = arg;
    if (out->format == ZB_CLI_JSON) {
        zb_cli_out_json(out, zb_query_host_json(host));
        return 0;
    }
    char since[48], seen[48] = "", beat[32] = "", replay[32] = "", reported[48] = "";
    if (s_replay_known(host))
        snprintf(replay, sizeof(replay), "%lld", (long long)host->replay_pending);
    if (out->format == ZB_CLI_CSV) {
        zb_cli_time_precise(host->since_ms, since, sizeof(since));
        if (host->last_seen_ms > 0)
            zb_cli_time_precise(host->last_seen_ms, seen, sizeof(seen));
        snprintf(beat, sizeof(beat), "%lld", (long long)host->interval_ms);
        if (replay[0])
            zb_cli_time_precise(host->replay_reported_ms, reported, sizeof(reported));
        const char *values[] = {host->name,     host->state, since,  seen,
                                host->instance, beat,        replay, reported};
        zb_cli_out_row(out, values);
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
    zb_cli_out_row(out, values);
    return 0;
}

int zb_cli_hosts(zb_store_t *store, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    zb_cli_out_init(&out, args->format, args->format == ZB_CLI_CSV ? 8 : 7,
                    args->format == ZB_CLI_CSV ? s_hosts_csv_header : s_hosts_header);
    int walk = zb_store_hosts(store, s_host_row, &out);
    int rc = zb_cli_out_finish(&out, "no hosts yet");
    return zb_cli_walked(store, walk, rc);
}
