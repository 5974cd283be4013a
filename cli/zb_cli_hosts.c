/*  zbeat hosts: every host the monitor knows. */
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  hosts

static const char *const s_hosts_header[] = {"HOST",     "STATE", "SINCE", "LAST HEARD",
                                             "INSTANCE", "BEAT",  "REPLAY"};
static const char *const s_hosts_csv_header[] = {
    "host",           "state",           "since",
    "last_seen",      "instance",        "interval_ms",
    "replay_pending", "replay_reported", "silence_threshold_ms",
    "datagram_loss"};

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
        char threshold[32] = "", loss[32] = "";
        if (host->silence_threshold_ms > 0)
            snprintf(threshold, sizeof(threshold), "%lld", (long long)host->silence_threshold_ms);
        if (host->datagram_loss >= 0)
            snprintf(loss, sizeof(loss), "%.4f", host->datagram_loss);
        const char *values[] = {host->name, host->state, since,    seen,      host->instance,
                                beat,       replay,      reported, threshold, loss};
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

//  The table or CSV that s_host_row fills, local or remote alike.
static void s_hosts_out(zb_cli_out_t *out, const zb_cli_args_t *args)
{
    bool csv = args->format == ZB_CLI_CSV;
    zb_cli_out_init(out, args->format, csv ? 10 : 7, csv ? s_hosts_csv_header : s_hosts_header);
}

int zb_cli_hosts_print(const json_t *rows, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    s_hosts_out(&out, args);
    size_t i;
    json_t *o;
    json_array_foreach(rows, i, o)
    {
        if (zb_cli_out_given(&out, o))
            continue;
        const char *instance = zb_cli_json_text(o, "instance");
        //  A replay report the API shows is one of the current run.
        bool replay = json_is_integer(json_object_get(o, "replay_pending"));
        json_t *loss = json_object_get(o, "datagram_loss");
        zb_store_host_t host = {
            .name = zb_cli_json_text(o, "host"),
            .state = zb_cli_json_text(o, "state"),
            .since_ms = zb_cli_json_ms(o, "since", 0),
            .instance = instance ? instance : "",
            .interval_ms = zb_cli_json_int(o, "interval_ms", 0),
            .last_seen_ms = zb_cli_json_ms(o, "last_seen", 0),
            .replay_pending = zb_cli_json_int(o, "replay_pending", -1),
            .replay_reported_ms = zb_cli_json_ms(o, "replay_reported", 0),
            .replay_instance = replay && instance ? instance : "",
            .silence_threshold_ms = zb_cli_json_int(o, "silence_threshold_ms", 0),
            .datagram_loss = json_is_number(loss) ? json_number_value(loss) : -1,
        };
        if (host.name && host.state)
            s_host_row(&host, &out);
    }
    return zb_cli_out_finish(&out, "no hosts yet");
}

int zb_cli_hosts(zb_store_t *store, const zb_cli_args_t *args)
{
    zb_cli_out_t out;
    s_hosts_out(&out, args);
    int walk = zb_store_hosts(store, s_host_row, &out);
    int rc = zb_cli_out_finish(&out, "no hosts yet");
    return zb_cli_walked(store, walk, rc);
}

//  --------------------------------------------------------------------------
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
int zb_cli_hosts_forget(const zb_cli_args_t *args)
{
    char err[600], safe[700];
    zb_store_t *store = zb_store_open_existing(args->db, err, sizeof(err));
    if (!store) {
        zb_text_printable(err, strlen(err), safe, sizeof(safe), 0);
        fprintf(stderr, ZB_CLI_NAME ": %s\n", safe);
        return 1;
    }
    int64_t now = zb_time_wall_ms();
    s_forget_t forget = {.name = args->target};
    int rc = 1;
    if (zb_store_hosts(store, s_forget_row, &forget) < 0)
        goto failed;
    if (!forget.found) {
        fprintf(stderr, ZB_CLI_NAME ": no host %s (see zbeat hosts)\n", args->target);
        zb_store_destroy(&store);
        return 1;
    }
    bool alive = strcmp(forget.state, "silent") != 0 && strcmp(forget.state, "stopped") != 0;
    if (alive && !args->force) {
        char ago[32];
        zb_time_format_duration(now > forget.last_seen_ms ? now - forget.last_seen_ms : 0, ago,
                                sizeof(ago));
        fprintf(stderr,
                ZB_CLI_NAME ": %s is %s (heard %s ago): stop its agent first, or use --force "
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
        fprintf(stderr, ZB_CLI_NAME ": %s\n", safe);
    }
    zb_store_destroy(&store);
    return rc;
}
