/*  zb_query: JSON shapes shared by the CLI and the HTTP API. See zb_query.h. */
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  jansson escapes control characters itself (and JSON_ENSURE_ASCII
//  everything else), but refuses invalid UTF-8: that is made printable.
json_t *zb_query_json_text(const char *text)
{
    if (!text)
        return json_null();
    json_t *value = json_string(text);
    if (!value) {
        char safe[1024];
        zb_text_printable(text, strlen(text), safe, sizeof(safe), 0);
        value = json_string(safe);
    }
    return value;
}

json_t *zb_query_json_time(int64_t ms)
{
    char buf[48];
    zb_time_format_rfc3339_ms(ms, buf, sizeof(buf));
    return json_string(buf);
}

json_t *zb_query_status_json(const zb_store_status_t *row)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "host", zb_query_json_text(row->host));
    json_object_set_new(o, "service", zb_query_json_text(row->service));
    json_object_set_new(o, "state", zb_query_json_text(row->state));
    json_object_set_new(o, "since", zb_query_json_time(row->since_ms));
    json_object_set_new(o, "reason", zb_query_json_text(row->reason));
    json_object_set_new(o, "error", zb_query_json_text(row->error));
    //  Only TLS probes have one.
    if (row->tls_expires_ms)
        json_object_set_new(o, "tls_expires", zb_query_json_time(row->tls_expires_ms));
    //  Only hosts have a silence detector (once the monitor wrote it).
    if (!row->service && row->silence_threshold_ms > 0) {
        json_object_set_new(o, "silence_threshold_ms", json_integer(row->silence_threshold_ms));
        json_object_set_new(o, "datagram_loss",
                            row->datagram_loss >= 0 ? json_real(row->datagram_loss) : json_null());
    }
    return o;
}

//  A problem: any state but up (a service) or alive (a host).
static bool s_problem(const char *state)
{
    return strcmp(state, "up") != 0 && strcmp(state, "alive") != 0;
}

//  Whether word is one of list's comma-separated items (or "problems").
static bool s_state_listed(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t item = comma ? (size_t)(comma - p) : strlen(p);
        if (item == len && strncmp(p, word, len) == 0)
            return true;
        if (item == 8 && strncmp(p, "problems", 8) == 0 && s_problem(word))
            return true;
        p += item + (comma ? 1 : 0);
    }
    return false;
}

bool zb_query_status_keeps(const zb_query_filter_t *filter, const zb_store_status_t *row)
{
    if (filter->states && !s_state_listed(filter->states, row->state ? row->state : ""))
        return false;
    if (filter->host && fnmatch(filter->host, row->host, 0) != 0)
        return false;
    if (filter->service && (!row->service || fnmatch(filter->service, row->service, 0) != 0))
        return false;
    return true;
}

bool zb_query_states_problems_only(const char *states)
{
    if (!states)
        return false;
    for (const char *p = states;;) {
        const char *comma = strchr(p, ',');
        size_t item = comma ? (size_t)(comma - p) : strlen(p);
        //  "up" and "alive" are what s_problem tells from the rest.
        if ((item == 2 && strncmp(p, "up", 2) == 0) || (item == 5 && strncmp(p, "alive", 5) == 0))
            return false;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

bool zb_query_glob_valid(const char *text)
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

//  count rows of state: the same tally as that many calls for one row
//  (a state past ZB_QUERY_STATES_MAX goes to "other" whenever it comes).
static void s_tally_add(zb_query_tally_t *tally, const char *state, int64_t count)
{
    tally->total += count;
    tally->problems += s_problem(state) ? count : 0;
    size_t i = 0;
    while (i < tally->states && strcmp(tally->by_state[i].state, state) != 0)
        i++;
    if (i == tally->states && i == ZB_QUERY_STATES_MAX) {
        i = ZB_QUERY_STATES_MAX - 1; // the last slot becomes "other"
        snprintf(tally->by_state[i].state, sizeof(tally->by_state[i].state), "other");
    } else if (i == tally->states) {
        tally->states++;
        snprintf(tally->by_state[i].state, sizeof(tally->by_state[i].state), "%s", state);
    }
    tally->by_state[i].count += count;
}

void zb_query_summary_add(zb_query_summary_t *summary, const zb_store_status_t *row)
{
    s_tally_add(row->service ? &summary->services : &summary->hosts,
                row->state ? row->state : "unknown", 1);
}

static int s_on_count(bool service, const char *state, int64_t count, void *arg)
{
    zb_query_summary_t *summary = arg;
    s_tally_add(service ? &summary->services : &summary->hosts, state, count);
    return 0;
}

int zb_query_summary_read(zb_store_t *store, zb_query_summary_t *summary)
{
    return zb_store_counts(store, s_on_count, summary);
}

static json_t *s_tally_json(const zb_query_tally_t *tally)
{
    json_t *states = json_object();
    for (size_t i = 0; states && i < tally->states; i++)
        json_object_set_new(states, tally->by_state[i].state,
                            json_integer((json_int_t)tally->by_state[i].count));
    return json_pack("{s:I, s:I, s:o*}", "total", (json_int_t)tally->total, "problems",
                     (json_int_t)tally->problems, "states", states);
}

json_t *zb_query_summary_json(const zb_query_summary_t *summary)
{
    return json_pack("{s:o*, s:o*}", "hosts", s_tally_json(&summary->hosts), "services",
                     s_tally_json(&summary->services));
}

//  "3 hosts: 2 alive, 1 silent", the healthy state first.
static size_t s_tally_line(const zb_query_tally_t *tally, const char *noun, const char *good,
                           char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%lld %s%s", (long long)tally->total, noun,
                                   tally->total == 1 ? "" : "s");
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < tally->states && used < size; i++) {
            if ((strcmp(tally->by_state[i].state, good) == 0) != (pass == 0))
                continue;
            used += (size_t)snprintf(buf + used, size - used, "%s%lld %s",
                                     strchr(buf, ':') ? ", " : ": ",
                                     (long long)tally->by_state[i].count, tally->by_state[i].state);
        }
    return used < size ? used : size;
}

void zb_query_summary_line(const zb_query_summary_t *summary, char *buf, size_t size)
{
    if (size == 0)
        return;
    //  A service filter counts no host: no "0 hosts".
    if (summary->hosts.total == 0 && summary->services.total > 0) {
        s_tally_line(&summary->services, "service", "up", buf, size);
        return;
    }
    size_t used = s_tally_line(&summary->hosts, "host", "alive", buf, size);
    if (used + 2 < size) {
        snprintf(buf + used, size - used, "; ");
        s_tally_line(&summary->services, "service", "up", buf + used + 2, size - used - 2);
    }
}

json_t *zb_query_outage_json(const zb_store_outage_t *outage, int64_t now_ms)
{
    bool open = outage->ended_at_ms < 0;
    int64_t end = open ? now_ms : outage->ended_at_ms;
    int64_t duration = end > outage->started_at_ms ? end - outage->started_at_ms : 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(outage->id));
    json_object_set_new(o, "host", zb_query_json_text(outage->host));
    json_object_set_new(o, "service", zb_query_json_text(outage->service));
    json_object_set_new(o, "kind", zb_query_json_text(outage->kind));
    json_object_set_new(o, "started_at", zb_query_json_time(outage->started_at_ms));
    json_object_set_new(o, "ended_at",
                        open ? json_null() : zb_query_json_time(outage->ended_at_ms));
    json_object_set_new(o, "duration_s", json_real((double)duration / 1000.0));
    json_object_set_new(o, "reason", zb_query_json_text(outage->reason));
    json_object_set_new(o, "end_reason", zb_query_json_text(outage->end_reason));
    json_object_set_new(o, "error", zb_query_json_text(outage->error));
    json_object_set_new(o, "silenced", json_boolean(outage->silenced));
    return o;
}

bool zb_query_host_replay_known(const zb_store_host_t *host)
{
    return host->replay_pending >= 0 && strcmp(host->replay_instance, host->instance) == 0;
}

json_t *zb_query_host_json(const zb_store_host_t *host)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "host", zb_query_json_text(host->name));
    json_object_set_new(o, "state", zb_query_json_text(host->state));
    json_object_set_new(o, "since", zb_query_json_time(host->since_ms));
    json_object_set_new(o, "last_seen",
                        host->last_seen_ms > 0 ? zb_query_json_time(host->last_seen_ms)
                                               : json_null());
    json_object_set_new(o, "instance", zb_query_json_text(host->instance));
    json_object_set_new(o, "interval_ms", json_integer(host->interval_ms));
    bool known = zb_query_host_replay_known(host);
    json_object_set_new(o, "replay_pending",
                        known ? json_integer(host->replay_pending) : json_null());
    json_object_set_new(o, "replay_reported",
                        known ? zb_query_json_time(host->replay_reported_ms) : json_null());
    json_object_set_new(o, "silence_threshold_ms",
                        host->silence_threshold_ms > 0 ? json_integer(host->silence_threshold_ms)
                                                       : json_null());
    json_object_set_new(o, "datagram_loss",
                        host->datagram_loss >= 0 ? json_real(host->datagram_loss) : json_null());
    return o;
}

json_t *zb_query_alert_json(const zb_store_alert_t *alert)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", zb_query_json_text(alert->id));
    json_object_set_new(o, "created_at", zb_query_json_time(alert->created_at_ms));
    json_object_set_new(o, "trigger", zb_query_json_text(alert->trigger));
    json_object_set_new(o, "host", zb_query_json_text(alert->host));
    json_object_set_new(o, "service", zb_query_json_text(alert->service));
    json_object_set_new(o, "outage_id",
                        alert->outage_id > 0 ? json_integer(alert->outage_id) : json_null());
    //  The payload is the alert as it was sent: embedded as JSON, not text.
    json_t *payload = json_loads(alert->payload, 0, NULL);
    json_object_set_new(o, "alert", payload ? payload : json_null());
    json_object_set_new(o, "deliveries", json_array());
    return o;
}

json_t *zb_query_delivery_json(const zb_store_delivery_t *delivery)
{
    json_t *d = json_object();
    if (!d)
        return NULL;
    bool pending = delivery->status && strcmp(delivery->status, "pending") == 0;
    json_object_set_new(d, "channel", zb_query_json_text(delivery->channel));
    json_object_set_new(d, "status", zb_query_json_text(delivery->status));
    json_object_set_new(d, "attempts", json_integer(delivery->attempts));
    json_object_set_new(d, "sent_at",
                        delivery->sent_at_ms >= 0 ? zb_query_json_time(delivery->sent_at_ms)
                                                  : json_null());
    json_object_set_new(d, "next_attempt_at",
                        pending ? zb_query_json_time(delivery->next_attempt_at_ms) : json_null());
    json_object_set_new(d, "result",
                        delivery->result >= 0 ? json_integer(delivery->result) : json_null());
    json_object_set_new(d, "last_error", zb_query_json_text(delivery->last_error));
    return d;
}

json_t *zb_query_silence_json(const zb_store_silence_t *silence, int64_t now_ms)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(silence->id));
    json_object_set_new(o, "host", zb_query_json_text(silence->host));
    json_object_set_new(o, "service", zb_query_json_text(silence->service));
    json_object_set_new(o, "starts_at", zb_query_json_time(silence->starts_at_ms));
    json_object_set_new(o, "ends_at", zb_query_json_time(silence->ends_at_ms));
    json_object_set_new(o, "reason", zb_query_json_text(silence->reason));
    json_object_set_new(o, "created_at", zb_query_json_time(silence->created_at_ms));
    json_object_set_new(
        o, "active", json_boolean(silence->starts_at_ms <= now_ms && now_ms < silence->ends_at_ms));
    return o;
}

const char *zb_query_monitor_state(const zb_store_monitor_t *row, int64_t now_ms)
{
    if (!row)
        return "unknown";
    if (row->stopped_at_ms >= 0)
        return "stopped";
    //  A clock step back makes a young heartbeat look older, never younger.
    if (now_ms - row->heartbeat_at_ms > ZB_QUERY_MONITOR_STALE * row->heartbeat_ms)
        return "not-heard";
    return "running";
}

bool zb_query_monitor_caught_up(const zb_store_monitor_t *row, int64_t now_ms)
{
    return strcmp(zb_query_monitor_state(row, now_ms), "running") == 0 &&
           row->hosts_replaying == 0 && row->hosts_unreported == 0;
}

json_t *zb_query_monitor_json(const zb_store_monitor_t *row, int64_t now_ms)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "state", json_string(zb_query_monitor_state(row, now_ms)));
    json_object_set_new(o, "caught_up", json_boolean(zb_query_monitor_caught_up(row, now_ms)));
    json_object_set_new(o, "pid", row ? json_integer(row->pid) : json_null());
    json_object_set_new(o, "hostname", zb_query_json_text(row ? row->hostname : NULL));
    json_object_set_new(o, "version", zb_query_json_text(row ? row->version : NULL));
    json_object_set_new(o, "started_at",
                        row ? zb_query_json_time(row->started_at_ms) : json_null());
    json_object_set_new(o, "heartbeat_at",
                        row ? zb_query_json_time(row->heartbeat_at_ms) : json_null());
    json_object_set_new(o, "heartbeat_age_s",
                        row ? json_real((double)(now_ms - row->heartbeat_at_ms) / 1000.0)
                            : json_null());
    json_object_set_new(o, "heartbeat_ms", row ? json_integer(row->heartbeat_ms) : json_null());
    json_object_set_new(o, "stopped_at",
                        row && row->stopped_at_ms >= 0 ? zb_query_json_time(row->stopped_at_ms)
                                                       : json_null());
    json_object_set_new(o, "hosts_replaying", json_integer(row ? row->hosts_replaying : 0));
    json_object_set_new(o, "transitions_pending", json_integer(row ? row->transitions_pending : 0));
    json_object_set_new(o, "hosts_unreported", json_integer(row ? row->hosts_unreported : 0));
    return o;
}

static const char *s_plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

void zb_query_monitor_line(const zb_store_monitor_t *row, int64_t now_ms, char *buf, size_t size)
{
    const char *state = zb_query_monitor_state(row, now_ms);
    if (!row) {
        snprintf(buf, size,
                 "monitor: no record of it yet (no monitor has run on this database "
                 "since it was created or upgraded)");
        return;
    }
    char host[300], age[32], up[32];
    zb_text_printable(row->hostname, row->hostname ? strlen(row->hostname) : 0, host, sizeof(host),
                      0);
    zb_time_format_duration(now_ms > row->heartbeat_at_ms ? now_ms - row->heartbeat_at_ms : 0, age,
                            sizeof(age));
    if (strcmp(state, "stopped") == 0) {
        zb_time_format_duration(now_ms > row->stopped_at_ms ? now_ms - row->stopped_at_ms : 0, age,
                                sizeof(age));
        snprintf(buf, size, "monitor: stopped %s ago (pid %" PRId64 " on %s)", age, row->pid,
                 host[0] ? host : "?");
        return;
    }
    if (strcmp(state, "not-heard") == 0) {
        snprintf(buf, size,
                 "monitor: not heard for %s (pid %" PRId64 " on %s): killed, hung, or "
                 "unable to write this database",
                 age, row->pid, host[0] ? host : "?");
        return;
    }
    zb_time_format_duration(now_ms > row->started_at_ms ? now_ms - row->started_at_ms : 0, up,
                            sizeof(up));
    int n = snprintf(buf, size, "monitor: up %s, heard %s ago, ", up, age);
    if (n < 0 || (size_t)n >= size)
        return;
    if (zb_query_monitor_caught_up(row, now_ms)) {
        snprintf(buf + n, size - n, "caught up");
        return;
    }
    n += snprintf(buf + n, size - n, "behind:");
    if (row->hosts_replaying && (size_t)n < size)
        n += snprintf(buf + n, size - n, " %" PRId64 " host%s replaying (%" PRId64 " transition%s)",
                      row->hosts_replaying, s_plural(row->hosts_replaying),
                      row->transitions_pending, s_plural(row->transitions_pending));
    if (row->hosts_unreported && (size_t)n < size)
        snprintf(buf + n, size - n, "%s %" PRId64 " host%s not reported since it started",
                 row->hosts_replaying ? "," : "", row->hosts_unreported,
                 s_plural(row->hosts_unreported));
}
