/*  zb_http: the monitor's read-only HTTP interface. See zb_http.h.

    Every answer is built whole in memory before it is sent: the sizes are
    bounded (pages of outages, one report), and a connection that reads
    slowly then holds a buffer, never a database connection.
*/
#include "zb_http.h"
#include "zb_address.h"
#include "zb_http_guard.h"
#include "zb_log.h"
#include "zb_proto.h"
#include "zb_query.h"
#include "zb_report.h"
#include "zb_store.h"
#include "zb_time.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_ARGS_MAX 16                 // query parameters in one request
#define S_REPORT_SINCE_DEFAULT "30d"  // GET /api/v1/report without since
#define S_ALERTS_WINDOW_MS 86400000LL // /metrics: deliveries of the last day
#define S_ALERTS_ROWS_MAX 100000      // ...at most this many read per scrape
#define S_JSON "application/json"
#define S_TEXT "text/plain; charset=utf-8"
#define S_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct _zb_http_t {
    struct MHD_Daemon *daemon; // serving threads
    char *db;                  // database path, opened read-only per request
    zb_monitor_t *monitor;     // live counters, or NULL
    int port;                  // where it listens
    atomic_int heavy;          // outages and report answers being built
    zb_http_guard_t *guard;    // total deadlines, free slots (slowloris)
};

//  A growing text buffer; after a failed allocation it stays failed.
typedef struct {
    char *data;
    size_t len;
    size_t alloc;
    bool failed;
} s_buf_t;

static void s_buf_add(s_buf_t *buf, const char *text, size_t len)
{
    if (buf->failed)
        return;
    if (buf->len + len + 1 > buf->alloc) {
        size_t alloc = buf->alloc ? buf->alloc : 4096;
        while (alloc < buf->len + len + 1)
            alloc *= 2;
        char *data = realloc(buf->data, alloc);
        if (!data) {
            buf->failed = true;
            return;
        }
        buf->data = data;
        buf->alloc = alloc;
    }
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

static void s_buf_printf(s_buf_t *buf, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void s_buf_printf(s_buf_t *buf, const char *format, ...)
{
    char small[512];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(small, sizeof(small), format, args);
    va_end(args);
    if (len < 0) {
        buf->failed = true;
        return;
    }
    if ((size_t)len < sizeof(small)) {
        s_buf_add(buf, small, (size_t)len);
        return;
    }
    char *big = malloc((size_t)len + 1);
    if (!big) {
        buf->failed = true;
        return;
    }
    va_start(args, format);
    vsnprintf(big, (size_t)len + 1, format, args);
    va_end(args);
    s_buf_add(buf, big, (size_t)len);
    free(big);
}

//  Appends one object of a JSON array laid out as the CLI prints it: one
//  element per line. Takes the object.
static void s_buf_element(s_buf_t *buf, json_t *object, size_t index)
{
    char *text = object ? json_dumps(object, ZB_QUERY_JSON_FLAGS) : NULL;
    json_decref(object);
    if (!text) {
        buf->failed = true;
        return;
    }
    s_buf_printf(buf, "%s%s", index == 0 ? "[\n  " : ",\n  ", text);
    free(text);
}

static void s_buf_close_array(s_buf_t *buf, size_t count)
{
    s_buf_printf(buf, "%s", count ? "\n]\n" : "[]\n");
}

//  --------------------------------------------------------------------------
//  Addresses

int zb_http_address_check(const char *address, char *err, size_t errsize)
{
    assert(address && err);
    struct sockaddr_storage addr;
    socklen_t len;
    return zb_address_parse(address, &addr, &len, err, errsize);
}

//  --------------------------------------------------------------------------
//  Requests and answers

typedef struct {
    const char *key;
    const char *value; // "" for a key without a value
} s_arg_t;

typedef struct {
    zb_http_t *self;
    struct MHD_Connection *conn;
    s_arg_t args[S_ARGS_MAX];
    size_t arg_count;
    bool too_many; // more than S_ARGS_MAX parameters
} s_request_t;

static enum MHD_Result s_on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    s_request_t *req = cls;
    if (req->arg_count == S_ARGS_MAX) {
        req->too_many = true;
        return MHD_NO;
    }
    req->args[req->arg_count++] = (s_arg_t){key, value ? value : ""};
    return MHD_YES;
}

static const char *s_arg(const s_request_t *req, const char *key)
{
    for (size_t i = 0; i < req->arg_count; i++)
        if (strcmp(req->args[i].key, key) == 0)
            return req->args[i].value;
    return NULL;
}

//  Headers every answer carries: nothing is cached, nothing is sniffed, no
//  other site frames the page.
static void s_common_headers(struct MHD_Response *response, const char *type)
{
    MHD_add_response_header(response, "Content-Type", type);
    MHD_add_response_header(response, "Cache-Control", "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
}

//  Sends the buffer (taking it), or a 500 when building it failed.
static enum MHD_Result s_send(s_request_t *req, unsigned int status, const char *type, s_buf_t *buf,
                              const char *link)
{
    if (buf->failed) {
        free(buf->data);
        *buf = (s_buf_t){0};
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = S_JSON;
        s_buf_printf(buf, "{\"error\":\"out of memory\"}\n");
        if (buf->failed)
            return MHD_NO;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback(
        buf->len, buf->data ? buf->data : (char *)"", buf->data ? free : NULL);
    if (!response) {
        free(buf->data);
        *buf = (s_buf_t){0};
        return MHD_NO;
    }
    *buf = (s_buf_t){0};
    s_common_headers(response, type);
    if (link)
        MHD_add_response_header(response, "Link", link);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(response, "Allow", "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(req->conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

//  One JSON document (taken: freed here; NULL means out of memory).
static enum MHD_Result s_send_json(s_request_t *req, unsigned int status, json_t *answer)
{
    char *text = answer ? json_dumps(answer, ZB_QUERY_JSON_FLAGS) : NULL;
    json_decref(answer);
    s_buf_t buf = {0};
    if (text)
        s_buf_printf(&buf, "%s\n", text);
    else
        buf.failed = true;
    free(text);
    return s_send(req, status, S_JSON, &buf, NULL);
}

static enum MHD_Result s_error(s_request_t *req, unsigned int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

//  A JSON error object: {"error": "what went wrong"}.
static enum MHD_Result s_error(s_request_t *req, unsigned int status, const char *format, ...)
{
    char text[600];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    json_t *object = json_object();
    if (object)
        json_object_set_new(object, "error", zb_query_json_text(text));
    return s_send_json(req, status, object);
}

//  Only the parameters the route knows: a typo is an error, not a filter
//  silently ignored.
static bool s_args_known(s_request_t *req, const char *const *known, char *bad, size_t size)
{
    for (size_t i = 0; i < req->arg_count; i++) {
        bool ok = false;
        for (size_t k = 0; known[k]; k++)
            ok = ok || strcmp(req->args[i].key, known[k]) == 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->args[i].key, req->args[j].key) == 0) {
                snprintf(bad, size, "parameter '%.40s' given twice", req->args[i].key);
                return false;
            }
        if (!ok) {
            snprintf(bad, size, "unknown parameter '%.40s'", req->args[i].key);
            return false;
        }
    }
    return true;
}

static zb_store_t *s_store(s_request_t *req, char *err, size_t errsize)
{
    return zb_store_open_readonly(req->self->db, err, errsize);
}

//  A point in time parameter: "2h", "30d", RFC 3339.
static bool s_when(const char *name, const char *value, int64_t now, int64_t *ms, char *bad,
                   size_t size)
{
    if (zb_time_parse_when(value, now, ms) == 0)
        return true;
    snprintf(bad, size, "%s: \"%.80s\" is not a time (e.g. 2h, 30d, 2026-11-01T00:00:00Z)", name,
             value);
    return false;
}

static bool s_number(const char *name, const char *value, long long min, long long max,
                     long long *n, char *bad, size_t size)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max) {
        snprintf(bad, size, "%s: \"%.80s\" is not a number from %lld to %lld", name, value, min,
                 max);
        return false;
    }
    *n = v;
    return true;
}

//  --------------------------------------------------------------------------
//  GET /api/v1/status

typedef struct {
    s_buf_t buf;
    size_t rows;
    int64_t now;
    int64_t skip; // outages: rows to pass over (the offset)
    int64_t take; // outages: rows to print (the limit)
    bool more;    // outages: a row past the page exists
} s_rows_t;

static int s_on_status(const zb_store_status_t *row, void *arg)
{
    s_rows_t *rows = arg;
    s_buf_element(&rows->buf, zb_query_status_json(row), rows->rows++);
    return rows->buf.failed ? 1 : 0;
}

static enum MHD_Result s_api_status(s_request_t *req)
{
    static const char *const known[] = {NULL};
    char bad[300], err[600];
    if (!s_args_known(req, known, bad, sizeof(bad)))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    zb_store_t *store = s_store(req, err, sizeof(err));
    if (!store)
        return s_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
    s_rows_t rows = {.now = zb_time_wall_ms()};
    int rc = zb_store_status(store, s_on_status, &rows);
    enum MHD_Result result;
    if (rc < 0) {
        free(rows.buf.data);
        result = s_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
    } else {
        s_buf_close_array(&rows.buf, rows.rows);
        result = s_send(req, MHD_HTTP_OK, S_JSON, &rows.buf, NULL);
    }
    zb_store_destroy(&store);
    return result;
}

//  --------------------------------------------------------------------------
//  GET /api/v1/outages

static int s_on_outage(const zb_store_outage_t *outage, void *arg)
{
    s_rows_t *rows = arg;
    if (rows->skip > 0) {
        rows->skip--;
        return 0;
    }
    if ((int64_t)rows->rows == rows->take) {
        rows->more = true;
        return 1;
    }
    s_buf_element(&rows->buf, zb_query_outage_json(outage, rows->now), rows->rows++);
    return rows->buf.failed ? 1 : 0;
}

//  Percent-encodes everything but RFC 3986's unreserved characters.
static void s_url_encode(s_buf_t *buf, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            s_buf_add(buf, (const char *)p, 1);
        else
            s_buf_printf(buf, "%%%02X", *p);
    }
}

//  RFC 8288: the same query with the next page's offset.
static void s_next_link(s_request_t *req, long long offset, s_buf_t *link)
{
    s_buf_printf(link, "</api/v1/outages?");
    for (size_t i = 0; i < req->arg_count; i++) {
        if (strcmp(req->args[i].key, "offset") == 0)
            continue;
        s_url_encode(link, req->args[i].key);
        s_buf_add(link, "=", 1);
        s_url_encode(link, req->args[i].value);
        s_buf_add(link, "&", 1);
    }
    s_buf_printf(link, "offset=%lld>; rel=\"next\"", offset);
}

static enum MHD_Result s_api_outages(s_request_t *req)
{
    static const char *const known[] = {"host", "service", "since",  "until",
                                        "open", "limit",   "offset", NULL};
    char bad[300], err[600];
    if (!s_args_known(req, known, bad, sizeof(bad)))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    int64_t now = zb_time_wall_ms();
    zb_store_query_t query;
    zb_store_query_init(&query);
    const char *host = s_arg(req, "host"), *service = s_arg(req, "service");
    const char *since = s_arg(req, "since"), *until = s_arg(req, "until");
    const char *open = s_arg(req, "open"), *limit = s_arg(req, "limit");
    const char *offset = s_arg(req, "offset");
    long long take = ZB_HTTP_LIMIT_DEFAULT, skip = 0;
    if (host && !zb_name_valid(host))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "host: \"%.80s\" is not a host name", host);
    if (service && !zb_name_valid(service))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "service: \"%.80s\" is not a service name",
                       service);
    if ((since && !s_when("since", since, now, &query.since_ms, bad, sizeof(bad))) ||
        (until && !s_when("until", until, now, &query.until_ms, bad, sizeof(bad))) ||
        (limit && !s_number("limit", limit, 1, ZB_HTTP_LIMIT_MAX, &take, bad, sizeof(bad))) ||
        (offset && !s_number("offset", offset, 0, ZB_HTTP_OFFSET_MAX, &skip, bad, sizeof(bad))))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    if (since && until && query.since_ms > query.until_ms)
        return s_error(req, MHD_HTTP_BAD_REQUEST, "since is after until");
    if (open && (!*open || strcmp(open, "true") == 0 || strcmp(open, "1") == 0))
        query.open_only = true;
    else if (open && strcmp(open, "false") != 0 && strcmp(open, "0") != 0)
        return s_error(req, MHD_HTTP_BAD_REQUEST, "open: \"%.80s\" is not true or false", open);
    query.host = host;
    query.service = service;
    //  One row past the page tells whether there is a next one.
    query.limit = skip + take + 1;

    zb_store_t *store = s_store(req, err, sizeof(err));
    if (!store)
        return s_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
    s_rows_t rows = {.now = now, .skip = skip, .take = take};
    int rc = zb_store_outages(store, &query, s_on_outage, &rows);
    enum MHD_Result result;
    if (rc < 0) {
        free(rows.buf.data);
        result = s_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
    } else {
        s_buf_close_array(&rows.buf, rows.rows);
        s_buf_t link = {0};
        if (rows.more)
            s_next_link(req, skip + take, &link);
        result = s_send(req, MHD_HTTP_OK, S_JSON, &rows.buf,
                        rows.more && !link.failed ? link.data : NULL);
        free(link.data);
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

static enum MHD_Result s_api_monitor(s_request_t *req)
{
    static const char *const known[] = {NULL};
    char bad[300], err[600];
    if (!s_args_known(req, known, bad, sizeof(bad)))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    zb_store_t *store = s_store(req, err, sizeof(err));
    if (!store)
        return s_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
    json_t *answer = NULL;
    int rc = zb_store_monitor(store, s_on_monitor, &answer);
    if (rc < 0) {
        enum MHD_Result result =
            s_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
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
    }
    return s_send_json(req, MHD_HTTP_OK, answer);
}

//  --------------------------------------------------------------------------
//  GET /api/v1/report

static enum MHD_Result s_api_report(s_request_t *req)
{
    static const char *const known[] = {"since", "until", "host", NULL};
    char bad[300], err[600];
    if (!s_args_known(req, known, bad, sizeof(bad)))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    int64_t now = zb_time_wall_ms(), since = 0, until = now;
    const char *host = s_arg(req, "host");
    const char *since_text = s_arg(req, "since");
    const char *until_text = s_arg(req, "until");
    if (host && !zb_name_valid(host))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "host: \"%.80s\" is not a host name", host);
    if (!s_when("since", since_text ? since_text : S_REPORT_SINCE_DEFAULT, now, &since, bad,
                sizeof(bad)) ||
        (until_text && !s_when("until", until_text, now, &until, bad, sizeof(bad))))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    if (since >= until)
        return s_error(req, MHD_HTTP_BAD_REQUEST, "since is not before until");

    zb_store_t *store = s_store(req, err, sizeof(err));
    if (!store)
        return s_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
    json_t *report = zb_report_build(store, host, since, until, now, err, sizeof(err));
    zb_store_destroy(&store);
    if (!report)
        return s_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
    return s_send_json(req, MHD_HTTP_OK, report);
}

//  --------------------------------------------------------------------------
//  GET /healthz

static enum MHD_Result s_healthz(s_request_t *req)
{
    s_buf_t buf = {0};
    unsigned int status = MHD_HTTP_SERVICE_UNAVAILABLE;
    if (!req->self->monitor)
        s_buf_printf(&buf, "no ingest loop\n");
    else {
        zb_monitor_stats_t stats;
        zb_monitor_snapshot(req->self->monitor, &stats);
        int64_t age = zb_time_mono_ms() - stats.pass_mono;
        if (stats.pass_mono == 0)
            s_buf_printf(&buf, "ingest loop not started\n");
        else if (age > ZB_HTTP_HEALTHY_PASS_MS)
            s_buf_printf(&buf, "ingest loop stalled: last pass %.1fs ago\n", (double)age / 1000.0);
        else if (stats.kept_writes > 0)
            s_buf_printf(&buf, "database: %" PRIu64 " changes not written, kept for a retry\n",
                         stats.kept_writes);
        else if (!stats.db_ok)
            s_buf_printf(&buf, "database: the last write failed or the database is locked\n");
        else {
            s_buf_printf(&buf, "ok\n");
            status = MHD_HTTP_OK;
        }
    }
    return s_send(req, status, S_TEXT, &buf, NULL);
}

//  --------------------------------------------------------------------------
//  GET /metrics

//  One metric family: its samples are collected apart, then printed after
//  its HELP and TYPE lines (the format wants a family's samples together).
typedef struct {
    s_buf_t host_alive;
    s_buf_t host_state;
    s_buf_t service_up;
    s_buf_t service_state;
    s_buf_t service_since;
    int64_t open[2]; // open outages: service, host
    bool failed;
} s_metrics_t;

//  Label values escaped as the format says: \\, \" and \n.
static void s_label(s_buf_t *buf, const char *name, const char *value, bool first)
{
    s_buf_printf(buf, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            s_buf_printf(buf, "\\%c", *p);
        else if (*p == '\n')
            s_buf_printf(buf, "\\n");
        else
            s_buf_add(buf, p, 1);
    }
    s_buf_add(buf, "\"", 1);
}

static void s_sample(s_buf_t *buf, const char *name, const char *host, const char *service,
                     const char *state, const char *value)
{
    s_buf_printf(buf, "%s{", name);
    s_label(buf, "host", host, true);
    if (service)
        s_label(buf, "service", service, false);
    if (state)
        s_label(buf, "state", state, false);
    s_buf_printf(buf, "} %s\n", value);
}

static int s_on_metric_status(const zb_store_status_t *row, void *arg)
{
    s_metrics_t *m = arg;
    if (!row->service) {
        static const char *const states[] = {"alive", "silent", "stopped"};
        s_sample(&m->host_alive, "zbeat_host_alive", row->host, NULL, NULL,
                 strcmp(row->state, "alive") == 0 ? "1" : "0");
        for (size_t i = 0; i < 3; i++)
            s_sample(&m->host_state, "zbeat_host_state", row->host, NULL, states[i],
                     strcmp(row->state, states[i]) == 0 ? "1" : "0");
        return 0;
    }
    static const char *const states[] = {"up", "down", "unknown", "stopped"};
    s_sample(&m->service_up, "zbeat_service_up", row->host, row->service, NULL,
             strcmp(row->state, "up") == 0 ? "1" : "0");
    for (size_t i = 0; i < 4; i++)
        s_sample(&m->service_state, "zbeat_service_state", row->host, row->service, states[i],
                 strcmp(row->state, states[i]) == 0 ? "1" : "0");
    char since[48];
    snprintf(since, sizeof(since), "%.3f", (double)row->since_ms / 1000.0);
    s_sample(&m->service_since, "zbeat_service_state_since_seconds", row->host, row->service, NULL,
             since);
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

static void s_family(s_buf_t *out, const char *name, const char *type, const char *help,
                     s_buf_t *samples)
{
    s_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    if (samples) {
        if (samples->failed)
            out->failed = true;
        else if (samples->data)
            s_buf_add(out, samples->data, samples->len);
        free(samples->data);
        *samples = (s_buf_t){0};
    }
}

static void s_counter(s_buf_t *out, const char *name, const char *help, uint64_t value)
{
    s_family(out, name, "counter", help, NULL);
    s_buf_printf(out, "%s %" PRIu64 "\n", name, value);
}

static void s_monitor_metrics(s_buf_t *out, zb_monitor_t *monitor)
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
    s_counter(out, "zbeat_db_errors_total", "Failed database writes and commits.", st.db_errors);
    s_counter(out, "zbeat_rejected_messages_total",
              "Messages refused: their host is not bound to the sender's key.", st.rejected);
    s_family(out, "zbeat_outages_opened_total", "counter",
             "Outages opened by this monitor since it started.", NULL);
    s_buf_printf(out,
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
            s_buf_printf(out, "zbeat_db_write_seconds_bucket{le=\"%s\"} %" PRIu64 "\n", le,
                         cumulative);
        } else
            s_buf_printf(out, "zbeat_db_write_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                         cumulative);
    }
    s_buf_printf(out,
                 "zbeat_db_write_seconds_sum %.6f\n"
                 "zbeat_db_write_seconds_count %" PRIu64 "\n",
                 (double)st.db_commit_us / 1e6, st.db_commits);
    s_family(out, "zbeat_db_write_ok", "gauge",
             "1 when the last database write succeeded, 0 when it failed.", NULL);
    s_buf_printf(out, "zbeat_db_write_ok %d\n", st.db_ok ? 1 : 0);
    s_family(out, "zbeat_db_kept_writes", "gauge",
             "Changes kept in memory after failed commits, waiting to be written.", NULL);
    s_buf_printf(out, "zbeat_db_kept_writes %" PRIu64 "\n", st.kept_writes);
    s_family(out, "zbeat_ingest_pass_age_seconds", "gauge",
             "Time since the ingest loop last finished a pass (it passes at least every 100ms).",
             NULL);
    s_buf_printf(out, "zbeat_ingest_pass_age_seconds %.3f\n",
                 st.pass_mono ? (double)(zb_time_mono_ms() - st.pass_mono) / 1000.0 : -1.0);
}

static enum MHD_Result s_metrics(s_request_t *req)
{
    static const char *const known[] = {NULL};
    char bad[300], err[600];
    if (!s_args_known(req, known, bad, sizeof(bad)))
        return s_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    zb_store_t *store = s_store(req, err, sizeof(err));
    if (!store)
        return s_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
    s_metrics_t m = {0};
    s_deliveries_t *deliveries = calloc(1, sizeof(*deliveries));
    int rc = deliveries ? 0 : -1;
    if (rc == 0)
        rc = zb_store_status(store, s_on_metric_status, &m);
    if (rc == 0)
        rc = zb_store_open_outages(store, s_on_metric_outage, &m);
    if (rc == 0)
        rc = zb_store_deliveries(store, zb_time_wall_ms() - S_ALERTS_WINDOW_MS, S_ALERTS_ROWS_MAX,
                                 s_on_metric_delivery, deliveries);
    s_buf_t out = {0};
    if (rc == 0) {
        s_family(&out, "zbeat_build_info", "gauge", "The running monitor's version.", NULL);
        s_buf_printf(&out, "zbeat_build_info{version=\"%s\"} 1\n", ZB_VERSION);
        s_family(&out, "zbeat_host_alive", "gauge",
                 "1 while the host's agent is heard, 0 when it is silent or stopped.",
                 &m.host_alive);
        s_family(&out, "zbeat_host_state", "gauge", "The host's state: 1 for the current one.",
                 &m.host_state);
        s_family(&out, "zbeat_service_up", "gauge",
                 "1 when the service is up, 0 when down, unknown or stopped.", &m.service_up);
        s_family(&out, "zbeat_service_state", "gauge",
                 "The service's state: 1 for the current one.", &m.service_state);
        s_family(&out, "zbeat_service_state_since_seconds", "gauge",
                 "When the service entered its current state (Unix time).", &m.service_since);
        s_family(&out, "zbeat_outages_open", "gauge", "Outages open now.", NULL);
        s_buf_printf(&out,
                     "zbeat_outages_open{kind=\"service\"} %" PRId64 "\n"
                     "zbeat_outages_open{kind=\"host\"} %" PRId64 "\n",
                     m.open[0], m.open[1]);
        s_family(&out, "zbeat_alert_deliveries_recent", "gauge",
                 "Alert deliveries of the last 24 hours by channel and status "
                 "(sent, failed, pending, held).",
                 NULL);
        for (size_t i = 0; i < deliveries->used; i++) {
            s_buf_printf(&out, "zbeat_alert_deliveries_recent{");
            s_label(&out, "channel", deliveries->counts[i].channel, true);
            s_label(&out, "status", deliveries->counts[i].status, false);
            s_buf_printf(&out, "} %" PRId64 "\n", deliveries->counts[i].count);
        }
        if (req->self->monitor)
            s_monitor_metrics(&out, req->self->monitor);
    }
    free(m.host_alive.data);
    free(m.host_state.data);
    free(m.service_up.data);
    free(m.service_state.data);
    free(m.service_since.data);
    free(deliveries);
    enum MHD_Result result;
    if (rc != 0) {
        free(out.data);
        result = s_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                         rc < 0 && deliveries ? zb_store_error(store) : "out of memory");
    } else
        result = s_send(req, MHD_HTTP_OK, S_METRICS, &out, NULL);
    zb_store_destroy(&store);
    return result;
}

//  --------------------------------------------------------------------------
//  The status page

static enum MHD_Result s_asset(s_request_t *req, const zb_http_asset_t *asset)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(asset->size, (void *)asset->data, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    s_common_headers(response, asset->type);
    //  The page loads nothing from anywhere else (no CDN): say so, so that
    //  an injected script could not either.
    MHD_add_response_header(response, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'none'");
    enum MHD_Result rc = MHD_queue_response(req->conn, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return rc;
}

//  --------------------------------------------------------------------------
//  The server

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size, void **state)
{
    (void)version;
    (void)upload_data;
    static int started; // marks a request already answered
    if (*state) {
        //  A GET with a body: the body is read and ignored.
        *upload_data_size = 0;
        return MHD_YES;
    }
    *state = &started;
    s_request_t req = {.self = cls, .conn = conn};
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    zb_http_guard_headers(req.self->guard, info ? info->socket_context : NULL);
    zb_log_debug("http: %s %s", method, url);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_error(&req, MHD_HTTP_METHOD_NOT_ALLOWED, "read only: GET and HEAD");
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, s_on_arg, &req);
    if (req.too_many)
        return s_error(&req, MHD_HTTP_BAD_REQUEST, "more than %d parameters", S_ARGS_MAX);
    if (strcmp(url, "/healthz") == 0)
        return s_healthz(&req);
    if (strcmp(url, "/metrics") == 0)
        return s_metrics(&req);
    if (strcmp(url, "/api/v1/status") == 0)
        return s_api_status(&req);
    if (strcmp(url, "/api/v1/monitor") == 0)
        return s_api_monitor(&req);
    bool outages = strcmp(url, "/api/v1/outages") == 0;
    if (outages || strcmp(url, "/api/v1/report") == 0) {
        //  These answers may be megabytes: a few at a time, so that many
        //  greedy clients cannot make the monitor's memory balloon.
        enum MHD_Result rc;
        if (atomic_fetch_add(&req.self->heavy, 1) >= ZB_HTTP_HEAVY_MAX)
            rc = s_error(&req, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "busy: %d large answers in progress, try again", ZB_HTTP_HEAVY_MAX);
        else
            rc = outages ? s_api_outages(&req) : s_api_report(&req);
        atomic_fetch_sub(&req.self->heavy, 1);
        return rc;
    }
    const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;
    for (size_t i = 0; i < zb_http_asset_count; i++)
        if (strcmp(path, zb_http_assets[i].path) == 0)
            return s_asset(&req, &zb_http_assets[i]);
    return s_error(&req, MHD_HTTP_NOT_FOUND, "no such page");
}

//  The guard follows every connection from accept to close (libmicrohttpd
//  calls CLOSED before it closes the socket).
static void s_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    zb_http_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? zb_http_guard_open(self->guard, info->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        zb_http_guard_close(self->guard, *socket_context);
        *socket_context = NULL;
    }
}

//  A request is over (answered, or its connection failed): the next one's
//  headers are awaited.
static void s_on_completed(void *cls, struct MHD_Connection *conn, void **state,
                           enum MHD_RequestTerminationCode code)
{
    (void)state;
    (void)code;
    zb_http_t *self = cls;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    zb_http_guard_done(self->guard, info ? info->socket_context : NULL);
}

static void s_on_log(void *cls, const char *format, va_list args)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), format, args);
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    //  Debug only: MHD speaks of every client that goes away early, and a
    //  client must not be able to fill the monitor's log.
    zb_log_debug("http: %s", text);
}

zb_http_t *zb_http_new(const char *address, const char *db, zb_monitor_t *monitor, char *err,
                       size_t errsize)
{
    assert(address && db && err);
    struct sockaddr_storage addr;
    socklen_t len;
    if (zb_address_parse(address, &addr, &len, err, errsize) != 0)
        return NULL;
    zb_http_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->db = strdup(db))) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    self->monitor = monitor;
    atomic_init(&self->heavy, 0);
    self->guard = zb_http_guard_new(ZB_HTTP_CONNECTIONS_MAX, ZB_HTTP_CONNECTIONS_FREE,
                                    ZB_HTTP_HEADERS_S * 1000LL, ZB_HTTP_ANSWER_S * 1000LL);
    if (!self->guard) {
        snprintf(err, errsize, "http: cannot start its watchdog thread");
        goto failed;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    //  The server's threads inherit this mask: signals meant for the
    //  monitor (SIGINT, SIGTERM stop its loop) go to its own thread.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    //  The logger first, so that MHD's own complaints about the options
    //  come through it as well. The guard keeps ZB_HTTP_CONNECTIONS_MAX
    //  connections at most (but answers being sent); MHD counts a cut one
    //  until its accepting thread reaps it, after its next accept, so its
    //  own limit leaves room for those.
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_on_request, self, MHD_OPTION_EXTERNAL_LOGGER, s_on_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)(ZB_HTTP_CONNECTIONS_MAX + ZB_HTTP_CONNECTIONS_CLOSING),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)ZB_HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ZB_HTTP_REQUEST_BYTES,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self, MHD_OPTION_NOTIFY_COMPLETED,
        s_on_completed, self, MHD_OPTION_END);
    int error = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!self->daemon) {
        snprintf(err, errsize, "http: cannot serve on %s: %s", address,
                 error ? strerror(error) : "libmicrohttpd refused to start");
        goto failed;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    zb_log_info("http on %s (port %d)", address, self->port);
    return self;

failed:
    zb_http_destroy(&self);
    return NULL;
}

void zb_http_destroy(zb_http_t **self_p)
{
    assert(self_p);
    zb_http_t *self = *self_p;
    if (!self)
        return;
    //  The server first: closing its connections forgets them in the guard.
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    zb_http_guard_destroy(&self->guard);
    free(self->db);
    free(self);
    *self_p = NULL;
}

int zb_http_port(zb_http_t *self)
{
    assert(self);
    return self->port;
}

//  --------------------------------------------------------------------------
//  Self-test: a real server on a free port, real sockets

//  Sends a raw request, returns the whole answer (malloc'd) or NULL.
static char *s_fetch(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    size_t len = strlen(request);
    assert(write(fd, request, len) == (ssize_t)len);
    s_buf_t buf = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        s_buf_add(&buf, chunk, (size_t)n);
    close(fd);
    assert(!buf.failed);
    return buf.data;
}

static char *s_get(int port, const char *path)
{
    char request[1024];
    snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             path);
    return s_fetch(port, request);
}

static int s_status_of(const char *answer)
{
    int status = 0;
    return answer && sscanf(answer, "HTTP/1.1 %d", &status) == 1 ? status : 0;
}

void zb_http_test(bool verbose)
{
    zb_http_guard_test(verbose);
    char err[600];
    //  Addresses.
    assert(zb_http_address_check("127.0.0.1:7480", err, sizeof(err)) == 0);
    assert(zb_http_address_check("*:80", err, sizeof(err)) == 0);
    assert(zb_http_address_check("localhost:0", err, sizeof(err)) == 0);
    assert(zb_http_address_check("[::1]:7480", err, sizeof(err)) == 0);
    assert(zb_http_address_check("7480", err, sizeof(err)) != 0);
    assert(zb_http_address_check(":7480", err, sizeof(err)) != 0);
    assert(zb_http_address_check("127.0.0.1:", err, sizeof(err)) != 0);
    assert(zb_http_address_check("127.0.0.1:70000", err, sizeof(err)) != 0);
    assert(zb_http_address_check("127.0.0.1:-1", err, sizeof(err)) != 0);
    assert(zb_http_address_check("example.com:80", err, sizeof(err)) != 0);
    assert(strstr(err, "not an IPv4 address"));
    assert(zb_http_address_check("[::1:80", err, sizeof(err)) != 0);
    assert(zb_http_address_check("[nope]:80", err, sizeof(err)) != 0);

    char dir[] = "/tmp/zb_http_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/test.db", dir);
    zb_http_t *http = zb_http_new("127.0.0.1:0", path, NULL, err, sizeof(err));
    assert(http);
    int port = zb_http_port(http);
    assert(port > 0);
    //  No database yet: 503 with the reason.
    char *answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 503 && strstr(answer, "no such database"));
    free(answer);

    zb_store_t *store = zb_store_open(path, err, sizeof(err));
    assert(store);
    zb_store_host_t host = {"web-1", "alive", 1000, "0123456789abcdef", 1000, 1500, -1, 0, ""};
    zb_store_service_t service = {"web-1", "redis", "probe", "down", 2000, "refused", "nope"};
    zb_store_outage_t outage = {.kind = "service",
                                .host = "web-1",
                                .service = "redis",
                                .started_at_ms = 2000,
                                .ended_at_ms = -1,
                                .reason = "refused",
                                .error = "nope",
                                .instance = "0123456789abcdef"};
    int64_t id;
    assert(zb_store_host_put(store, &host) == 0 && zb_store_service_put(store, &service) == 0);
    assert(zb_store_outage_open(store, &outage, &id, NULL) == 1);
    assert(zb_store_commit(store) == 0);

    answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 200);
    assert(strstr(answer, "Content-Type: application/json"));
    assert(strstr(answer, "\r\n\r\n[\n  {\"host\":\"web-1\",\"service\":null,\"state\":\"alive\""));
    assert(strstr(answer, "\"service\":\"redis\",\"state\":\"down\""));
    free(answer);
    //  No monitor ever ran on it: "unknown", and no kept_writes without one.
    answer = s_get(port, "/api/v1/monitor");
    assert(s_status_of(answer) == 200 && strstr(answer, "{\"state\":\"unknown\""));
    assert(!strstr(answer, "kept_writes"));
    free(answer);
    zb_store_monitor_t row = {.pid = 7,
                              .hostname = "mon",
                              .version = "1",
                              .started_at_ms = zb_time_wall_ms() - 1000,
                              .heartbeat_at_ms = zb_time_wall_ms(),
                              .heartbeat_ms = 5000,
                              .stopped_at_ms = -1};
    assert(zb_store_monitor_put(store, &row) == 0 && zb_store_commit(store) == 0);
    answer = s_get(port, "/api/v1/monitor");
    assert(s_status_of(answer) == 200);
    assert(strstr(answer, "{\"state\":\"running\",\"caught_up\":true,\"pid\":7,"));
    free(answer);
    answer = s_get(port, "/api/v1/outages?host=web-1&open=true&limit=1");
    assert(s_status_of(answer) == 200 && strstr(answer, "\"reason\":\"refused\""));
    assert(!strstr(answer, "Link:"));
    free(answer);
    answer = s_get(port, "/api/v1/outages?service=ssh");
    assert(s_status_of(answer) == 200 && strstr(answer, "\r\n\r\n[]\n"));
    free(answer);
    //  Pages: a second outage, one per page.
    assert(zb_store_outage_close(store, id, 3000, "up") == 1);
    outage.started_at_ms = 4000;
    assert(zb_store_outage_open(store, &outage, &id, NULL) == 1);
    assert(zb_store_commit(store) == 0);
    answer = s_get(port, "/api/v1/outages?host=web-1&limit=1");
    assert(s_status_of(answer) == 200);
    assert(strstr(answer, "Link: </api/v1/outages?host=web-1&limit=1&offset=1>; rel=\"next\""));
    assert(strstr(answer, "\"ended_at\":null"));
    free(answer);
    answer = s_get(port, "/api/v1/outages?host=web-1&limit=1&offset=1");
    assert(s_status_of(answer) == 200 && !strstr(answer, "Link:"));
    assert(strstr(answer, "\"end_reason\":\"up\""));
    free(answer);
    //  Bad parameters.
    const char *bad[] = {"/api/v1/outages?since=yesterday", "/api/v1/outages?limit=0",
                         "/api/v1/outages?limit=10001",     "/api/v1/outages?host=a%20b",
                         "/api/v1/outages?colour=red",      "/api/v1/outages?host=a&host=b",
                         "/api/v1/outages?open=maybe",      "/api/v1/report?since=1h&until=2h",
                         "/api/v1/outages?offset=-1",       "/api/v1/status?x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        answer = s_get(port, bad[i]);
        assert(s_status_of(answer) == 400 && strstr(answer, "{\"error\":"));
        free(answer);
    }
    //  Too many large answers in progress: 503 at once, the others still served.
    atomic_store(&http->heavy, ZB_HTTP_HEAVY_MAX);
    answer = s_get(port, "/api/v1/outages");
    assert(s_status_of(answer) == 503 && strstr(answer, "busy"));
    free(answer);
    answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 200);
    free(answer);
    atomic_store(&http->heavy, 0);
    answer = s_get(port, "/api/v1/report?since=1970-01-01T00:00:00Z");
    assert(s_status_of(answer) == 200 && strstr(answer, "\"rows\":[{\"host\":\"web-1\""));
    free(answer);
    //  Metrics without a monitor: the database's part.
    answer = s_get(port, "/metrics");
    assert(s_status_of(answer) == 200 && strstr(answer, "version=0.0.4"));
    assert(strstr(answer, "zbeat_host_alive{host=\"web-1\"} 1\n"));
    assert(strstr(answer, "zbeat_service_up{host=\"web-1\",service=\"redis\"} 0\n"));
    assert(strstr(answer, "zbeat_outages_open{kind=\"service\"} 1\n"));
    assert(!strstr(answer, "zbeat_messages_total"));
    free(answer);
    answer = s_get(port, "/healthz");
    assert(s_status_of(answer) == 503 && strstr(answer, "no ingest loop"));
    free(answer);
    //  The page, and what is not there.
    answer = s_get(port, "/");
    assert(s_status_of(answer) == 200 && strstr(answer, "text/html"));
    assert(strstr(answer, "Content-Security-Policy:"));
    free(answer);
    answer = s_get(port, "/nope");
    assert(s_status_of(answer) == 404);
    free(answer);
    //  Read only.
    answer = s_fetch(port, "POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                           "Connection: close\r\n\r\n{}");
    assert(s_status_of(answer) == 405 && strstr(answer, "Allow: GET, HEAD"));
    free(answer);
    answer = s_fetch(port, "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert(s_status_of(answer) == 405);
    free(answer);
    //  HEAD: the headers, no body.
    answer = s_fetch(port, "HEAD /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert(s_status_of(answer) == 200 && !strstr(answer, "web-1"));
    free(answer);
    //  Garbage is answered (400) or dropped, never a crash.
    answer = s_fetch(port, "\x01\x02 nonsense\r\n\r\n");
    free(answer);
    answer = s_get(port, "/api/v1/status");
    assert(s_status_of(answer) == 200);
    free(answer);

    zb_store_destroy(&store);
    zb_http_destroy(&http);
    zb_http_destroy(&http); // harmless on NULL
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
