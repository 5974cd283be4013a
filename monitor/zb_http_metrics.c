/*  zb_http_metrics: GET /healthz and GET /metrics (Prometheus text format,
    docs/http.md): the database's view of the fleet plus the running
    monitor's counters (zb_monitor_snapshot).

    At 100,000 hosts the series of every host and service are a gigabyte
    per scrape: the detail (zb_http_detail_t) keeps them to the problems,
    or to none, while the counts by state (GET /api/v1/summary's) stay.
    Those two read the problems and the counts from the store's indexes of
    the problems (schema 11), never every row.
*/
#include "zb_http_internal.h"
#include "zb_proto.h"
#include "zb_query.h"
#include "zb_series.h"
#include "zb_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ALERTS_WINDOW_MS 86400000LL // /metrics: deliveries of the last day
#define S_ALERTS_ROWS_MAX 100000      // ...at most this many read per scrape

//  --------------------------------------------------------------------------
//  GET /healthz

enum MHD_Result zb_http_healthz(zb_http_req_t *req)
{
    zb_http_buf_t buf = {0};
    unsigned int status = MHD_HTTP_SERVICE_UNAVAILABLE;
    if (!req->self->monitor)
        zb_http_buf_printf(&buf, "no ingest loop\n");
    else {
        zb_monitor_stats_t stats;
        zb_monitor_snapshot(req->self->monitor, &stats);
        int64_t age = zb_time_mono_ms() - stats.pass_mono;
        if (stats.pass_mono == 0)
            zb_http_buf_printf(&buf, "ingest loop not started\n");
        else if (age > ZB_HTTP_HEALTHY_PASS_MS)
            zb_http_buf_printf(&buf, "ingest loop stalled: last pass %.1fs ago\n",
                               (double)age / 1000.0);
        else if (stats.input.stuck)
            zb_http_buf_printf(&buf, "input thread stuck: not woken for %.1fs\n",
                               (double)(stats.pass_mono - stats.input.awake_mono) / 1000.0);
        else if (stats.kept_writes > 0)
            zb_http_buf_printf(&buf,
                               "database: %" PRIu64 " changes not written, kept for a retry\n",
                               stats.kept_writes);
        else if (!stats.db_ok)
            zb_http_buf_printf(&buf, "database: the last write failed or the database is locked\n");
        else {
            zb_http_buf_printf(&buf, "ok\n");
            status = MHD_HTTP_OK;
        }
    }
    return zb_http_send(req, status, ZB_HTTP_TYPE_TEXT, &buf, NULL);
}

//  --------------------------------------------------------------------------
//  GET /metrics

//  One metric family: its samples are collected apart, then printed after
//  its HELP and TYPE lines (the format wants a family's samples together).
typedef struct {
    zb_http_buf_t host_alive;
    zb_http_buf_t host_state;
    zb_http_buf_t host_threshold; // the silence detector's (zb_detector)
    zb_http_buf_t host_loss;
    zb_http_buf_t service_up;
    zb_http_buf_t service_state;
    zb_http_buf_t service_since;
    zb_http_buf_t tls_expiry;
    zb_http_buf_t service_rtt;  // zb_series
    zb_http_buf_t outages;      // zb_series
    zb_series_t *series;        // the running monitor's, or NULL
    int64_t open[2];            // open outages: service, host
    zb_http_detail_t detail;    // which rows get series of their own
    zb_query_filter_t problems; // GET /api/v1/status?state=problems's rows
    zb_query_summary_t summary; // every row counted by state
    bool counted;               // ...by the store (zb_query_summary_read), not per row
    bool failed;
} s_metrics_t;

int zb_http_detail_parse(const char *text)
{
    static const char *const names[] = {[ZB_HTTP_DETAIL_ALL] = "all",
                                        [ZB_HTTP_DETAIL_PROBLEMS] = "problems",
                                        [ZB_HTTP_DETAIL_NONE] = "none"};
    for (size_t i = 0; text && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    return -1;
}

//  The states a host's and a service's series list, each with 1 for the
//  current one and 0 for the others, and the fleet's counts list even at 0.
static const char *const s_host_states[] = {"alive", "silent", "stopped", "name-conflict", NULL};
static const char *const s_service_states[] = {"up", "down", "unknown", "stopped", NULL};

//  Label values escaped as the format says: \\, \" and \n.
static void s_label(zb_http_buf_t *buf, const char *name, const char *value, bool first)
{
    zb_http_buf_printf(buf, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            zb_http_buf_printf(buf, "\\%c", *p);
        else if (*p == '\n')
            zb_http_buf_printf(buf, "\\n");
        else
            zb_http_buf_add(buf, p, 1);
    }
    zb_http_buf_add(buf, "\"", 1);
}

static void s_sample(zb_http_buf_t *buf, const char *name, const char *host, const char *service,
                     const char *state, const char *value)
{
    zb_http_buf_printf(buf, "%s{", name);
    s_label(buf, "host", host, true);
    if (service)
        s_label(buf, "service", service, false);
    if (state)
        s_label(buf, "state", state, false);
    zb_http_buf_printf(buf, "} %s\n", value);
}

//  The latest round trip (an up service's) and the outages opened since
//  the monitor started, kept in memory by zb_series.
static void s_series_samples(s_metrics_t *m, const zb_store_status_t *row)
{
    int64_t rtt_us;
    uint64_t outages;
    if (!m->series)
        return;
    zb_series_get(m->series, row->host, row->service, &rtt_us, &outages);
    char value[48];
    snprintf(value, sizeof(value), "%" PRIu64, outages);
    s_sample(&m->outages, "zbeat_outages_total", row->host, row->service, NULL, value);
    if (row->service && rtt_us >= 0 && strcmp(row->state, "up") == 0) {
        snprintf(value, sizeof(value), "%.6f", (double)rtt_us / 1e6);
        s_sample(&m->service_rtt, "zbeat_service_rtt_seconds", row->host, row->service, NULL,
                 value);
    }
}

static int s_on_metric_status(const zb_store_status_t *row, void *arg)
{
    s_metrics_t *m = arg;
    if (!m->counted)
        zb_query_summary_add(&m->summary, row);
    if (m->detail == ZB_HTTP_DETAIL_NONE ||
        (m->detail == ZB_HTTP_DETAIL_PROBLEMS && !zb_query_status_keeps(&m->problems, row)))
        return 0;
    s_series_samples(m, row);
    if (!row->service) {
        //  A name conflict is alive: its authoritative agent run is heard.
        bool alive = strcmp(row->state, "alive") == 0 || strcmp(row->state, "name-conflict") == 0;
        s_sample(&m->host_alive, "zbeat_host_alive", row->host, NULL, NULL, alive ? "1" : "0");
        for (const char *const *state = s_host_states; *state; state++)
            s_sample(&m->host_state, "zbeat_host_state", row->host, NULL, *state,
                     strcmp(row->state, *state) == 0 ? "1" : "0");
        char value[48];
        if (row->silence_threshold_ms > 0) {
            snprintf(value, sizeof(value), "%.3f", (double)row->silence_threshold_ms / 1000.0);
            s_sample(&m->host_threshold, "zbeat_host_silence_threshold_seconds", row->host, NULL,
                     NULL, value);
        }
        if (row->datagram_loss >= 0) {
            snprintf(value, sizeof(value), "%.4f", row->datagram_loss);
            s_sample(&m->host_loss, "zbeat_host_datagram_loss_ratio", row->host, NULL, NULL, value);
        }
        return 0;
    }
    s_sample(&m->service_up, "zbeat_service_up", row->host, row->service, NULL,
             strcmp(row->state, "up") == 0 ? "1" : "0");
    for (const char *const *state = s_service_states; *state; state++)
        s_sample(&m->service_state, "zbeat_service_state", row->host, row->service, *state,
                 strcmp(row->state, *state) == 0 ? "1" : "0");
    char since[48];
    snprintf(since, sizeof(since), "%.3f", (double)row->since_ms / 1000.0);
    s_sample(&m->service_since, "zbeat_service_state_since_seconds", row->host, row->service, NULL,
             since);
    if (row->tls_expires_ms) {
        snprintf(since, sizeof(since), "%lld", (long long)(row->tls_expires_ms / 1000));
        s_sample(&m->tls_expiry, "zbeat_tls_cert_expiry_timestamp_seconds", row->host, row->service,
                 NULL, since);
    }
    return 0;
}

static int s_on_metric_outage(const zb_store_outage_t *outage, void *arg)
{
    s_metrics_t *m = arg;
    m->open[strcmp(outage->kind, "host") == 0 ? 1 : 0]++;
    return 0;
}

//  Deliveries of the last day by channel and status, counted in a small
//  table (channels are few: at most ZB_MONITOR_CHANNELS_MAX configured).
typedef struct {
    char channel[ZB_NAME_MAX + 1];
    char status[16];
    int64_t count;
} s_delivery_count_t;

typedef struct {
    s_delivery_count_t counts[4 * (ZB_MONITOR_CHANNELS_MAX + 4)];
    size_t used;
} s_deliveries_t;

static int s_on_metric_delivery(const zb_store_delivery_t *d, void *arg)
{
    s_deliveries_t *all = arg;
    if (!d->channel || !d->status)
        return 0;
    for (size_t i = 0; i < all->used; i++)
        if (strcmp(all->counts[i].channel, d->channel) == 0 &&
            strcmp(all->counts[i].status, d->status) == 0) {
            all->counts[i].count++;
            return 0;
        }
    if (all->used == sizeof(all->counts) / sizeof(all->counts[0]))
        return 0; // channels removed from the configuration keep their rows: drop the excess
    s_delivery_count_t *c = &all->counts[all->used++];
    snprintf(c->channel, sizeof(c->channel), "%s", d->channel);
    snprintf(c->status, sizeof(c->status), "%s", d->status);
    c->count = 1;
    return 0;
}

static void s_family(zb_http_buf_t *out, const char *name, const char *type, const char *help,
                     zb_http_buf_t *samples)
{
    zb_http_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    if (samples) {
        if (samples->failed)
            out->failed = true;
        else if (samples->data)
            zb_http_buf_add(out, samples->data, samples->len);
        free(samples->data);
        *samples = (zb_http_buf_t){0};
    }
}

//  A tally of GET /api/v1/summary as one gauge family: the known states
//  first, each even at 0 (so that a series does not vanish while none is
//  in it), then any other state the database holds.
static void s_tally(zb_http_buf_t *out, const char *name, const char *help,
                    const zb_query_tally_t *tally, const char *const *known)
{
    s_family(out, name, "gauge", help, NULL);
    for (const char *const *state = known; *state; state++) {
        int64_t count = 0;
        for (size_t i = 0; i < tally->states; i++)
            if (strcmp(tally->by_state[i].state, *state) == 0)
                count = tally->by_state[i].count;
        zb_http_buf_printf(out, "%s{", name);
        s_label(out, "state", *state, true);
        zb_http_buf_printf(out, "} %" PRId64 "\n", count);
    }
    for (size_t i = 0; i < tally->states; i++) {
        const char *const *state = known;
        while (*state && strcmp(*state, tally->by_state[i].state) != 0)
            state++;
        if (*state)
            continue;
        zb_http_buf_printf(out, "%s{", name);
        s_label(out, "state", tally->by_state[i].state, true);
        zb_http_buf_printf(out, "} %" PRId64 "\n", tally->by_state[i].count);
    }
}

static void s_counter(zb_http_buf_t *out, const char *name, const char *help, uint64_t value)
{
    s_family(out, name, "counter", help, NULL);
    zb_http_buf_printf(out, "%s %" PRIu64 "\n", name, value);
}

static void s_monitor_metrics(zb_http_buf_t *out, zb_monitor_t *monitor)
{
    zb_monitor_stats_t st;
    zb_monitor_snapshot(monitor, &st);
    s_counter(out, "zbeat_messages_total", "Messages from agents decoded and accepted.",
              st.messages);
    s_counter(out, "zbeat_decode_errors_total", "Malformed messages dropped.", st.decode_errors);
    s_counter(out, "zbeat_sequence_gaps_total",
              "Messages missed, as sequence numbers show (lost on the way or dropped by PUB).",
              st.seq_gaps);
    s_counter(out, "zbeat_stale_messages_total",
              "Messages whose sequence number was not after the last one seen.", st.stale);
    s_counter(out, "zbeat_dropped_messages_total",
              "Messages dropped over the host or service caps.", st.dropped);
    s_counter(out, "zbeat_input_dropped_messages_total",
              "Messages read but dropped, the input's held bytes full: the monitor is behind or "
              "flooded, and flags no host silent meanwhile.",
              st.input.dropped);
    s_counter(out, "zbeat_input_stalls_total",
              "Times the monitor stood still (stopped, paused) for over a second, its input "
              "unread: no host is flagged silent on what came meanwhile.",
              st.input.stalls);
    s_counter(out, "zbeat_conflict_messages_total",
              "Messages dropped from a second agent run claiming a host's name.", st.conflicts);
    s_counter(out, "zbeat_thin_beats_total",
              "Thin beats (protocol v2) applied: liveness only, no services.", st.thin);
    s_counter(out, "zbeat_thin_beats_unsynced_total",
              "Thin beats whose digest was not the table held: the state waits for a full beat.",
              st.thin_unsynced);
    s_counter(out, "zbeat_db_errors_total", "Failed database writes and commits.", st.db_errors);
    s_counter(out, "zbeat_rejected_messages_total",
              "Messages refused: their host is not bound to the sender's key.", st.rejected);
    s_counter(out, "zbeat_foreign_messages_total",
              "Messages for hosts outside monitor/hosts (a shard's), dropped.", st.foreign);
    s_family(out, "zbeat_datagrams_total", "counter",
             "Liveness datagrams read (monitor/udp), by outcome: accepted, malformed, forged "
             "(key not bound to the host, or failed authentication), plain (in clear under "
             "CURVE), replayed, unknown (not a known host's current agent run).",
             NULL);
    zb_http_buf_printf(out,
                       "zbeat_datagrams_total{outcome=\"accepted\"} %" PRIu64 "\n"
                       "zbeat_datagrams_total{outcome=\"malformed\"} %" PRIu64 "\n"
                       "zbeat_datagrams_total{outcome=\"forged\"} %" PRIu64 "\n"
                       "zbeat_datagrams_total{outcome=\"plain\"} %" PRIu64 "\n"
                       "zbeat_datagrams_total{outcome=\"replayed\"} %" PRIu64 "\n"
                       "zbeat_datagrams_total{outcome=\"unknown\"} %" PRIu64 "\n",
                       st.datagrams_accepted, st.datagrams_malformed, st.datagrams_forged,
                       st.datagrams_plain, st.datagrams_replayed, st.datagrams_unknown);
    s_family(out, "zbeat_outages_opened_total", "counter",
             "Outages opened by this monitor since it started.", NULL);
    zb_http_buf_printf(out,
                       "zbeat_outages_opened_total{kind=\"service\"} %" PRIu64 "\n"
                       "zbeat_outages_opened_total{kind=\"host\"} %" PRIu64 "\n",
                       st.service_outages, st.host_outages);
    //  Bucket i counts commits of at most bounds[i]: the format wants
    //  cumulative counts.
    static const int64_t bounds[] = ZB_MONITOR_COMMIT_BOUNDS_US;
    s_family(out, "zbeat_db_write_seconds", "histogram",
             "Time to commit one loop pass's writes to the database.", NULL);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < ZB_MONITOR_COMMIT_BUCKETS; i++) {
        cumulative += st.db_commit_buckets[i];
        if (i + 1 < ZB_MONITOR_COMMIT_BUCKETS) {
            //  As the official clients print bounds: "0.005", "1.0".
            char le[32];
            snprintf(le, sizeof(le), "%g", (double)bounds[i] / 1e6);
            if (!strchr(le, '.'))
                strcat(le, ".0");
            zb_http_buf_printf(out, "zbeat_db_write_seconds_bucket{le=\"%s\"} %" PRIu64 "\n", le,
                               cumulative);
        } else
            zb_http_buf_printf(out, "zbeat_db_write_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                               cumulative);
    }
    zb_http_buf_printf(out,
                       "zbeat_db_write_seconds_sum %.6f\n"
                       "zbeat_db_write_seconds_count %" PRIu64 "\n",
                       (double)st.db_commit_us / 1e6, st.db_commits);
    s_family(out, "zbeat_db_write_ok", "gauge",
             "1 when the last database write succeeded, 0 when it failed.", NULL);
    zb_http_buf_printf(out, "zbeat_db_write_ok %d\n", st.db_ok ? 1 : 0);
    s_family(out, "zbeat_db_kept_writes", "gauge",
             "Changes kept in memory after failed commits, waiting to be written.", NULL);
    zb_http_buf_printf(out, "zbeat_db_kept_writes %" PRIu64 "\n", st.kept_writes);
    s_family(out, "zbeat_ingest_pass_age_seconds", "gauge",
             "Time since the ingest loop last finished a pass (it passes at least every 100ms).",
             NULL);
    zb_http_buf_printf(out, "zbeat_ingest_pass_age_seconds %.3f\n",
                       st.pass_mono ? (double)(zb_time_mono_ms() - st.pass_mono) / 1000.0 : -1.0);
}

enum MHD_Result zb_http_metrics(zb_http_req_t *req)
{
    static const char *const known[] = {"detail", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    const char *asked = zb_http_arg(req, "detail");
    int detail = asked ? zb_http_detail_parse(asked) : (int)req->self->metrics_detail;
    if (detail < 0) {
        zb_store_destroy(&store);
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "detail: \"%.80s\" is not one of %s", asked,
                             ZB_HTTP_DETAILS);
    }
    s_metrics_t m = {.series = req->self->monitor ? zb_monitor_series(req->self->monitor) : NULL,
                     .detail = (zb_http_detail_t)detail,
                     .problems = {.states = "problems"}};
    s_deliveries_t *deliveries = calloc(1, sizeof(*deliveries));
    int rc = deliveries ? 0 : -1;
    //  Short of every row's series, the counts and the problems' rows from
    //  their indexes: in proportion to the problems, not to the fleet.
    m.counted = m.detail != ZB_HTTP_DETAIL_ALL;
    if (rc == 0 && m.counted)
        rc = zb_query_summary_read(store, &m.summary);
    if (rc == 0 && m.detail == ZB_HTTP_DETAIL_PROBLEMS)
        rc = zb_store_problems(store, s_on_metric_status, &m);
    else if (rc == 0 && m.detail == ZB_HTTP_DETAIL_ALL)
        rc = zb_store_status(store, s_on_metric_status, &m);
    if (rc == 0)
        rc = zb_store_open_outages(store, s_on_metric_outage, &m);
    if (rc == 0)
        rc = zb_store_deliveries(store, zb_time_wall_ms() - S_ALERTS_WINDOW_MS, S_ALERTS_ROWS_MAX,
                                 s_on_metric_delivery, deliveries);
    zb_http_buf_t out = {0};
    if (rc == 0) {
        s_family(&out, "zbeat_build_info", "gauge", "The running monitor's version.", NULL);
        zb_http_buf_printf(&out, "zbeat_build_info{version=\"%s\"} 1\n", ZB_VERSION);
        s_tally(&out, "zbeat_hosts", "Hosts by state (GET /api/v1/summary's counts).",
                &m.summary.hosts, s_host_states);
        s_tally(&out, "zbeat_services", "Services by state (GET /api/v1/summary's counts).",
                &m.summary.services, s_service_states);
        s_family(&out, "zbeat_host_alive", "gauge",
                 "1 while the host's agent is heard, 0 when it is silent or stopped.",
                 &m.host_alive);
        s_family(&out, "zbeat_host_state", "gauge", "The host's state: 1 for the current one.",
                 &m.host_state);
        s_family(&out, "zbeat_host_silence_threshold_seconds", "gauge",
                 "How long the host may be unheard before it is silent (its detector's "
                 "current threshold, as last written).",
                 &m.host_threshold);
        s_family(&out, "zbeat_host_datagram_loss_ratio", "gauge",
                 "The share of the host's liveness datagrams lost, as its detector estimates it.",
                 &m.host_loss);
        s_family(&out, "zbeat_service_up", "gauge",
                 "1 when the service is up, 0 when down, unknown or stopped.", &m.service_up);
        s_family(&out, "zbeat_service_state", "gauge",
                 "The service's state: 1 for the current one.", &m.service_state);
        s_family(&out, "zbeat_service_state_since_seconds", "gauge",
                 "When the service entered its current state (Unix time).", &m.service_since);
        s_family(&out, "zbeat_tls_cert_expiry_timestamp_seconds", "gauge",
                 "TLS probes: when the peer certificate expires (notAfter, Unix time).",
                 &m.tls_expiry);
        s_family(&out, "zbeat_service_rtt_seconds", "gauge",
                 "The round trip of the service's latest check (up services).", &m.service_rtt);
        s_family(&out, "zbeat_outages_total", "counter",
                 "Outages opened since the monitor started, by service (no service label: the "
                 "host's own).",
                 &m.outages);
        s_family(&out, "zbeat_outages_open", "gauge", "Outages open now.", NULL);
        zb_http_buf_printf(&out,
                           "zbeat_outages_open{kind=\"service\"} %" PRId64 "\n"
                           "zbeat_outages_open{kind=\"host\"} %" PRId64 "\n",
                           m.open[0], m.open[1]);
        s_family(&out, "zbeat_alert_deliveries_recent", "gauge",
                 "Alert deliveries of the last 24 hours by channel and status "
                 "(sent, failed, pending, held).",
                 NULL);
        for (size_t i = 0; i < deliveries->used; i++) {
            zb_http_buf_printf(&out, "zbeat_alert_deliveries_recent{");
            s_label(&out, "channel", deliveries->counts[i].channel, true);
            s_label(&out, "status", deliveries->counts[i].status, false);
            zb_http_buf_printf(&out, "} %" PRId64 "\n", deliveries->counts[i].count);
        }
        if (req->self->monitor)
            s_monitor_metrics(&out, req->self->monitor);
    }
    free(m.host_alive.data);
    free(m.host_state.data);
    free(m.host_threshold.data);
    free(m.host_loss.data);
    free(m.service_up.data);
    free(m.service_state.data);
    free(m.service_since.data);
    free(m.tls_expiry.data);
    free(m.service_rtt.data);
    free(m.outages.data);
    free(deliveries);
    if (rc != 0) {
        free(out.data);
        result = zb_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                               rc < 0 && deliveries ? zb_store_error(store) : "out of memory");
    } else
        result = zb_http_send(req, MHD_HTTP_OK, ZB_HTTP_TYPE_METRICS, &out, NULL);
    zb_store_destroy(&store);
    return result;
}
