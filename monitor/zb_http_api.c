/*  zb_http_api: the JSON routes of the HTTP server (docs/http.md), each the
    same document as the CLI's --json: status, outages (filters, pages),
    monitor, report; and latency, which only the running monitor knows.
*/
#include "zb_http_internal.h"
#include "zb_series.h"
#include "zb_proto.h"
#include "zb_query.h"
#include "zb_report.h"
#include "zb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_REPORT_SINCE_DEFAULT "30d" // GET /api/v1/report without since

//  --------------------------------------------------------------------------
//  GET /api/v1/status

typedef struct {
    zb_http_buf_t buf;
    size_t rows;
    int64_t now;
    int64_t skip;                // rows to pass over (the offset)
    int64_t take;                // rows to print (the limit)
    bool more;                   // a row past the page exists
    zb_query_filter_t filter;    // status: which rows (NULL members: all)
    zb_query_summary_t *summary; // summary: the counts
} s_rows_t;

//  A page of rows: false once the page is full (a row past it was seen).
static bool s_rows_room(s_rows_t *rows)
{
    if (rows->skip > 0) {
        rows->skip--;
        return false;
    }
    if ((int64_t)rows->rows == rows->take) {
        rows->more = true;
        return false;
    }
    return true;
}

static int s_on_status(const zb_store_status_t *row, void *arg)
{
    s_rows_t *rows = arg;
    if (!zb_query_status_keeps(&rows->filter, row))
        return 0;
    if (!s_rows_room(rows))
        return rows->more ? 1 : 0;
    zb_http_buf_element(&rows->buf, zb_query_status_json(row), rows->rows++);
    return rows->buf.failed ? 1 : 0;
}

static void s_next_link(zb_http_req_t *req, const char *route, long long offset,
                        zb_http_buf_t *link);

//  state, host and service of the query, or false with what is wrong.
static bool s_filter_parse(zb_http_req_t *req, zb_query_filter_t *filter, char *bad, size_t size)
{
    filter->states = zb_http_arg(req, "state");
    filter->host = zb_http_arg(req, "host");
    filter->service = zb_http_arg(req, "service");
    if (filter->states && (!*filter->states || strlen(filter->states) > 200))
        snprintf(bad, size, "state: a comma-separated list of states, or problems");
    else if (filter->host && !zb_query_glob_valid(filter->host))
        snprintf(bad, size, "host: \"%.80s\" is not a host name or glob", filter->host);
    else if (filter->service && !zb_query_glob_valid(filter->service))
        snprintf(bad, size, "service: \"%.80s\" is not a service name or glob", filter->service);
    else
        return true;
    return false;
}

//  Sends a page of rows with the next page's link when there is one; or,
//  when the store's walk that gathered them failed (walked < 0), the
//  store's error.
static enum MHD_Result s_rows_send(zb_http_req_t *req, zb_store_t *store, int walked,
                                   const char *route, s_rows_t *rows, long long next)
{
    if (walked < 0) {
        free(rows->buf.data);
        return zb_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
    }
    zb_http_buf_close_array(&rows->buf, rows->rows);
    zb_http_buf_t link = {0};
    if (rows->more)
        s_next_link(req, route, next, &link);
    enum MHD_Result result = zb_http_send(req, MHD_HTTP_OK, ZB_HTTP_TYPE_JSON, &rows->buf,
                                          rows->more && !link.failed ? link.data : NULL);
    free(link.data);
    return result;
}

enum MHD_Result zb_http_api_status(zb_http_req_t *req)
{
    static const char *const known[] = {"state", "host", "service", "limit", "offset", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    s_rows_t rows = {.now = zb_time_wall_ms()};
    const char *limit = zb_http_arg(req, "limit"), *offset = zb_http_arg(req, "offset");
    long long take = ZB_HTTP_STATUS_LIMIT_MAX, skip = 0;
    char bad[300] = "";
    if (!s_filter_parse(req, &rows.filter, bad, sizeof(bad)))
        ;
    else if (limit)
        zb_http_number("limit", limit, 1, ZB_HTTP_STATUS_LIMIT_MAX, &take, bad, sizeof(bad));
    if (!*bad && offset)
        zb_http_number("offset", offset, 0, ZB_HTTP_OFFSET_MAX, &skip, bad, sizeof(bad));
    rows.take = take;
    rows.skip = skip;
    //  A filter of problem states (state=problems, down,silent) keeps
    //  only rows of the problems' walk: the same rows, in the same order.
    int (*walk)(zb_store_t *, zb_store_status_fn *, void *) =
        zb_query_states_problems_only(rows.filter.states) ? zb_store_problems : zb_store_status;
    if (*bad)
        result = zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    else
        result = s_rows_send(req, store, walk(store, s_on_status, &rows), "/api/v1/status", &rows,
                             skip + take);
    zb_store_destroy(&store);
    return result;
}

//  --------------------------------------------------------------------------
//  GET /api/v1/summary: hosts and services counted by state (host and
//  service globs narrow it), so that a page or a script at 100,000 hosts
//  need not read every row to say how many are down. Unfiltered, the
//  store counts them from its indexes of the problems and one count(*).

static int s_on_summary(const zb_store_status_t *row, void *arg)
{
    s_rows_t *rows = arg;
    if (zb_query_status_keeps(&rows->filter, row))
        zb_query_summary_add(rows->summary, row);
    return 0;
}

enum MHD_Result zb_http_api_summary(zb_http_req_t *req)
{
    static const char *const known[] = {"host", "service", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    zb_query_summary_t summary = {0};
    s_rows_t rows = {.summary = &summary};
    char bad[300] = "";
    if (!s_filter_parse(req, &rows.filter, bad, sizeof(bad)))
        result = zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    else if ((rows.filter.host || rows.filter.service || rows.filter.states
                  ? zb_store_status(store, s_on_summary, &rows)
                  : zb_query_summary_read(store, &summary)) < 0)
        result = zb_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
    else
        result = zb_http_send_json(req, MHD_HTTP_OK, zb_query_summary_json(&summary));
    zb_store_destroy(&store);
    return result;
}

//  --------------------------------------------------------------------------
//  GET /api/v1/outages

static int s_on_outage(const zb_store_outage_t *outage, void *arg)
{
    s_rows_t *rows = arg;
    if (!s_rows_room(rows))
        return rows->more ? 1 : 0;
    zb_http_buf_element(&rows->buf, zb_query_outage_json(outage, rows->now), rows->rows++);
    return rows->buf.failed ? 1 : 0;
}

//  Percent-encodes everything but RFC 3986's unreserved characters.
static void s_url_encode(zb_http_buf_t *buf, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            zb_http_buf_add(buf, (const char *)p, 1);
        else
            zb_http_buf_printf(buf, "%%%02X", *p);
    }
}

//  RFC 8288: the same query with the next page's offset.
static void s_next_link(zb_http_req_t *req, const char *route, long long offset,
                        zb_http_buf_t *link)
{
    zb_http_buf_printf(link, "<%s?", route);
    for (size_t i = 0; i < req->arg_count; i++) {
        if (strcmp(req->args[i].key, "offset") == 0)
            continue;
        s_url_encode(link, req->args[i].key);
        zb_http_buf_add(link, "=", 1);
        s_url_encode(link, req->args[i].value);
        zb_http_buf_add(link, "&", 1);
    }
    zb_http_buf_printf(link, "offset=%lld>; rel=\"next\"", offset);
}

//  The query's filters and page, or false with what is wrong in bad.
static bool s_outages_parse(zb_http_req_t *req, int64_t now, zb_store_query_t *query,
                            long long *take, long long *skip, char *bad, size_t size)
{
    const char *host = zb_http_arg(req, "host"), *service = zb_http_arg(req, "service");
    const char *since = zb_http_arg(req, "since"), *until = zb_http_arg(req, "until");
    const char *open = zb_http_arg(req, "open"), *limit = zb_http_arg(req, "limit");
    const char *offset = zb_http_arg(req, "offset");
    if (host && !zb_name_valid(host)) {
        snprintf(bad, size, "host: \"%.80s\" is not a host name", host);
        return false;
    }
    if (service && !zb_name_valid(service)) {
        snprintf(bad, size, "service: \"%.80s\" is not a service name", service);
        return false;
    }
    if ((since && !zb_http_when("since", since, now, &query->since_ms, bad, size)) ||
        (until && !zb_http_when("until", until, now, &query->until_ms, bad, size)) ||
        (limit && !zb_http_number("limit", limit, 1, ZB_HTTP_LIMIT_MAX, take, bad, size)) ||
        (offset && !zb_http_number("offset", offset, 0, ZB_HTTP_OFFSET_MAX, skip, bad, size)))
        return false;
    if (since && until && query->since_ms > query->until_ms) {
        snprintf(bad, size, "since is after until");
        return false;
    }
    if (open && (!*open || strcmp(open, "true") == 0 || strcmp(open, "1") == 0))
        query->open_only = true;
    else if (open && strcmp(open, "false") != 0 && strcmp(open, "0") != 0) {
        snprintf(bad, size, "open: \"%.80s\" is not true or false", open);
        return false;
    }
    query->host = host;
    query->service = service;
    //  One row past the page tells whether there is a next one.
    query->limit = *skip + *take + 1;
    return true;
}

enum MHD_Result zb_http_api_outages(zb_http_req_t *req)
{
    static const char *const known[] = {"host", "service", "since",  "until",
                                        "open", "limit",   "offset", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    int64_t now = zb_time_wall_ms();
    zb_store_query_t query;
    zb_store_query_init(&query);
    long long take = ZB_HTTP_LIMIT_DEFAULT, skip = 0;
    char bad[300];
    s_rows_t rows = {.now = now};
    if (!s_outages_parse(req, now, &query, &take, &skip, bad, sizeof(bad)))
        result = zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    else {
        rows.skip = skip;
        rows.take = take;
        result = s_rows_send(req, store, zb_store_outages(store, &query, s_on_outage, &rows),
                             "/api/v1/outages", &rows, skip + take);
    }
    zb_store_destroy(&store);
    return result;
}

//  --------------------------------------------------------------------------
//  GET /api/v1/monitor: `zbeat monitor --json`, plus what only the running
//  monitor knows: the changes it keeps in memory after failed commits.

static int s_on_monitor(const zb_store_monitor_t *row, void *arg)
{
    json_t **answer = arg;
    *answer = zb_query_monitor_json(row, zb_time_wall_ms());
    return 0;
}

enum MHD_Result zb_http_api_monitor(zb_http_req_t *req)
{
    static const char *const known[] = {NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    json_t *answer = NULL;
    int rc = zb_store_monitor(store, s_on_monitor, &answer);
    if (rc < 0) {
        result = zb_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
        zb_store_destroy(&store);
        return result;
    }
    zb_store_destroy(&store);
    if (!answer)
        answer = zb_query_monitor_json(NULL, zb_time_wall_ms());
    if (answer && req->self->monitor) {
        zb_monitor_stats_t stats;
        zb_monitor_snapshot(req->self->monitor, &stats);
        json_object_set_new(answer, "kept_writes", json_integer((json_int_t)stats.kept_writes));
        json_object_set_new(answer, "tls_warn_s", json_integer(stats.tls_warn_ms / 1000));
    }
    return zb_http_send_json(req, MHD_HTTP_OK, answer);
}

//  --------------------------------------------------------------------------
//  GET /api/v1/report

enum MHD_Result zb_http_api_report(zb_http_req_t *req)
{
    static const char *const known[] = {"since", "until", "host", "outages_only", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    char bad[300] = "", err[600];
    int64_t now = zb_time_wall_ms(), since = 0, until = now;
    const char *host = zb_http_arg(req, "host");
    const char *since_text = zb_http_arg(req, "since");
    const char *until_text = zb_http_arg(req, "until");
    const char *only = zb_http_arg(req, "outages_only");
    bool outages_only = only && (!*only || strcmp(only, "true") == 0 || strcmp(only, "1") == 0);
    json_t *report = NULL;
    if (host && !zb_name_valid(host))
        snprintf(bad, sizeof(bad), "host: \"%.80s\" is not a host name", host);
    else if (only && !outages_only && strcmp(only, "false") != 0 && strcmp(only, "0") != 0)
        snprintf(bad, sizeof(bad), "outages_only: \"%.80s\" is not true or false", only);
    else if (outages_only && host)
        snprintf(bad, sizeof(bad), "outages_only is for the whole fleet: not with host");
    else if (!zb_http_when("since", since_text ? since_text : S_REPORT_SINCE_DEFAULT, now, &since,
                           bad, sizeof(bad)) ||
             (until_text && !zb_http_when("until", until_text, now, &until, bad, sizeof(bad))))
        ;
    else if (since >= until)
        snprintf(bad, sizeof(bad), "since is not before until");
    else if (outages_only)
        report = zb_report_build_outages(store, since, until, now, err, sizeof(err));
    else
        report = zb_report_build(store, host, since, until, now, err, sizeof(err));
    zb_store_destroy(&store);
    if (*bad)
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    if (!report)
        return zb_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
    return zb_http_send_json(req, MHD_HTTP_OK, report);
}

//  --------------------------------------------------------------------------
//  GET /api/v1/latency: the last hour of round trips per service, in
//  1-minute means (zb_series), for the page's sparklines. Only the running
//  monitor knows them: without one, an empty list.

typedef struct {
    zb_http_buf_t buf;
    size_t rows;
} s_latency_t;

static int s_on_latency(const zb_series_hour_t *series, void *arg)
{
    s_latency_t *out = arg;
    json_t *row = json_pack("{s:s, s:s}", "host", series->host, "service", series->service);
    json_t *means = json_array();
    if (!row || !means) {
        json_decref(row);
        json_decref(means);
        out->buf.failed = true;
        return 1;
    }
    json_object_set_new(row, "last_us",
                        series->last_us >= 0 ? json_integer(series->last_us) : json_null());
    for (size_t i = 0; i < ZB_SERIES_MINUTES; i++)
        json_array_append_new(means, series->mean_us[i] >= 0 ? json_integer(series->mean_us[i])
                                                             : json_null());
    json_object_set_new(row, "mean_us", means);
    zb_http_buf_element(&out->buf, row, out->rows++);
    return out->buf.failed ? 1 : 0;
}

enum MHD_Result zb_http_api_latency(zb_http_req_t *req)
{
    static const char *const known[] = {"host", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    zb_store_destroy(&store); // the rollups live in memory only
    const char *host = zb_http_arg(req, "host");
    if (host && !zb_name_valid(host))
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "host: \"%.80s\" is not a host name", host);
    int64_t now = zb_time_wall_ms();
    int64_t first = (now / 60000 - ZB_SERIES_MINUTES + 1) * 60000;
    s_latency_t out = {0};
    json_t *head = json_pack("{s:o, s:i}", "first_minute", zb_query_json_time(first), "minutes",
                             ZB_SERIES_MINUTES);
    char *text = head ? json_dumps(head, ZB_QUERY_JSON_FLAGS | JSON_COMPACT) : NULL;
    json_decref(head);
    if (!text)
        out.buf.failed = true;
    else {
        //  {"first_minute":...,"minutes":60,"series":[...]}: the head's
        //  closing brace makes way for the rows.
        text[strlen(text) - 1] = '\0';
        zb_http_buf_printf(&out.buf, "%s,\"series\":", text);
    }
    free(text);
    if (req->self->monitor)
        zb_series_each(zb_monitor_series(req->self->monitor), host, now, s_on_latency, &out);
    zb_http_buf_close_array(&out.buf, out.rows);
    zb_http_buf_printf(&out.buf, "}\n");
    return zb_http_send(req, MHD_HTTP_OK, ZB_HTTP_TYPE_JSON, &out.buf, NULL);
}
