/*  zb_report: availability over a window. See zb_report.h.

    The report is grouped in series, one per host (its silences) and one per
    service (its outages), keyed "host\x1fservice" ("host\x1f" for the host
    itself): sorting the keys as bytes gives each host's row, then its
    services by name, as `zbeat status` orders them.
*/
#include "zb_report.h"
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  The arithmetic

static int s_span_compare(const void *a, const void *b)
{
    int64_t x = ((const zb_report_span_t *)a)->start_ms;
    int64_t y = ((const zb_report_span_t *)b)->start_ms;
    return x < y ? -1 : x > y;
}

//  Walks sorted spans as disjoint intervals clipped to the window.
typedef struct {
    const zb_report_span_t *spans;
    size_t count;
    size_t next;
    int64_t since;
    int64_t until;
    int64_t now;
} s_merge_t;

static void s_merge_init(s_merge_t *m, zb_report_span_t *spans, size_t count, int64_t since,
                         int64_t until, int64_t now)
{
    if (count > 1)
        qsort(spans, count, sizeof(*spans), s_span_compare);
    *m = (s_merge_t){spans, count, 0, since, until, now};
}

//  The next interval [*start, *end), or false at the end. Clipping keeps the
//  order: max(start, since) grows with start.
static bool s_merge_next(s_merge_t *m, int64_t *start, int64_t *end)
{
    bool have = false;
    while (m->next < m->count) {
        const zb_report_span_t *span = &m->spans[m->next];
        int64_t a = span->start_ms > m->since ? span->start_ms : m->since;
        int64_t b = span->end_ms < 0 ? m->now : span->end_ms;
        if (b > m->until)
            b = m->until;
        if (b <= a) {
            m->next++;
            continue;
        }
        if (have && a > *end)
            break;
        if (!have) {
            *start = a;
            *end = b;
            have = true;
        } else if (b > *end)
            *end = b;
        m->next++;
    }
    return have;
}

void zb_report_figures(zb_report_span_t *spans, size_t count, int64_t since_ms, int64_t until_ms,
                       int64_t now_ms, zb_report_figures_t *figures)
{
    assert(figures && (spans || count == 0));
    *figures = (zb_report_figures_t){.mttr_ms = -1, .longest_ms = -1};
    figures->window_ms = until_ms > since_ms ? until_ms - since_ms : 0;
    int64_t repaired_ms = 0;
    for (size_t i = 0; i < count; i++) {
        bool open = spans[i].end_ms < 0;
        int64_t end = open ? now_ms : spans[i].end_ms;
        //  The rule of `zbeat outages --since --until`: still going on at
        //  or after since, started at or before until.
        if (!(open || end >= since_ms) || spans[i].start_ms > until_ms)
            continue;
        int64_t length = end > spans[i].start_ms ? end - spans[i].start_ms : 0;
        figures->count++;
        if (open)
            figures->open++;
        else {
            figures->closed++;
            repaired_ms += length;
        }
        if (length > figures->longest_ms)
            figures->longest_ms = length;
    }
    if (figures->closed)
        figures->mttr_ms = repaired_ms / figures->closed;
    s_merge_t merge;
    s_merge_init(&merge, spans, count, since_ms, until_ms, now_ms);
    int64_t start, end;
    while (s_merge_next(&merge, &start, &end))
        figures->down_ms += end - start;
}

int64_t zb_report_exclusive(zb_report_span_t *a, size_t a_count, zb_report_span_t *b,
                            size_t b_count, int64_t since_ms, int64_t until_ms, int64_t now_ms)
{
    s_merge_t ma, mb;
    s_merge_init(&ma, a, a_count, since_ms, until_ms, now_ms);
    s_merge_init(&mb, b, b_count, since_ms, until_ms, now_ms);
    int64_t total = 0, as, ae, bs = 0, be = 0;
    bool have_b = s_merge_next(&mb, &bs, &be);
    while (s_merge_next(&ma, &as, &ae)) {
        total += ae - as;
        while (have_b && be <= as)
            have_b = s_merge_next(&mb, &bs, &be);
        //  Each b interval that overlaps this a interval; one reaching past
        //  it is kept for the next.
        while (have_b && bs < ae) {
            total -= (be < ae ? be : ae) - (bs > as ? bs : as);
            if (be > ae)
                break;
            have_b = s_merge_next(&mb, &bs, &be);
        }
    }
    return total;
}

double zb_report_availability(const zb_report_figures_t *figures)
{
    assert(figures);
    if (figures->window_ms <= 0)
        return -1;
    return 100.0 * (double)(figures->window_ms - figures->down_ms) / (double)figures->window_ms;
}

//  --------------------------------------------------------------------------
//  Building the report from the database

typedef struct {
    char *key;     // "host\x1fservice", owned
    char *host;    // owned
    char *service; // owned, NULL for the host's own series
    zb_report_span_t *spans;
    size_t count;
    size_t alloc;
} s_series_t;

typedef struct {
    zhashx_t *series; // key -> s_series_t
    const char *host; // filter, or NULL
    size_t outages;   // read so far
    bool failed;      // out of memory
} s_build_t;

static void s_series_destroy(void **item)
{
    s_series_t *series = *item;
    if (!series)
        return;
    free(series->key);
    free(series->host);
    free(series->service);
    free(series->spans);
    free(series);
    *item = NULL;
}

static s_series_t *s_series_get(s_build_t *build, const char *host, const char *service)
{
    size_t len = strlen(host) + (service ? strlen(service) : 0) + 2;
    char *key = malloc(len);
    if (!key) {
        build->failed = true;
        return NULL;
    }
    snprintf(key, len, "%s\x1f%s", host, service ? service : "");
    s_series_t *series = zhashx_lookup(build->series, key);
    if (series) {
        free(key);
        return series;
    }
    series = calloc(1, sizeof(*series));
    if (series) {
        series->key = key;
        series->host = strdup(host);
        series->service = service ? strdup(service) : NULL;
    }
    if (!series || !series->host || (service && !series->service) ||
        zhashx_insert(build->series, key, series) != 0) {
        if (!series)
            free(key);
        s_series_destroy((void **)&series);
        build->failed = true;
        return NULL;
    }
    return series;
}

static int s_on_outage(const zb_store_outage_t *outage, void *arg)
{
    s_build_t *build = arg;
    if (++build->outages > ZB_REPORT_MAX_OUTAGES)
        return 1;
    bool host = strcmp(outage->kind, "host") == 0;
    if (!host && !outage->service)
        return 0; // not a kind this report knows
    s_series_t *series = s_series_get(build, outage->host, host ? NULL : outage->service);
    if (!series)
        return 1;
    if (series->count == series->alloc) {
        size_t alloc = series->alloc ? series->alloc * 2 : 8;
        zb_report_span_t *spans = realloc(series->spans, alloc * sizeof(*spans));
        if (!spans) {
            build->failed = true;
            return 1;
        }
        series->spans = spans;
        series->alloc = alloc;
    }
    series->spans[series->count++] = (zb_report_span_t){outage->started_at_ms, outage->ended_at_ms};
    return 0;
}

static int s_on_service(const zb_store_service_t *service, void *arg)
{
    s_build_t *build = arg;
    if (build->host && strcmp(build->host, service->host) != 0)
        return 0;
    return s_series_get(build, service->host, service->name) ? 0 : 1;
}

static int s_on_host(const zb_store_host_t *host, void *arg)
{
    s_build_t *build = arg;
    if (build->host && strcmp(build->host, host->name) != 0)
        return 0;
    return s_series_get(build, host->name, NULL) ? 0 : 1;
}

static int s_series_compare(const void *a, const void *b)
{
    return strcmp((*(s_series_t *const *)a)->key, (*(s_series_t *const *)b)->key);
}

static json_t *s_seconds(int64_t ms)
{
    return ms < 0 ? json_null() : json_real((double)ms / 1000.0);
}

static json_t *s_row(const s_series_t *series, s_build_t *build, int64_t since, int64_t until,
                     int64_t now)
{
    zb_report_figures_t figures;
    zb_report_figures(series->spans, series->count, since, until, now, &figures);
    //  For a host row, its spans are its silences: availability is then the
    //  share of the window it was heard.
    double pct = zb_report_availability(&figures);
    int64_t silent = figures.down_ms;
    if (series->service) {
        //  The host's silence while this service was not down.
        char *key = zsys_sprintf("%s\x1f", series->host);
        if (!key)
            return NULL;
        s_series_t *host = zhashx_lookup(build->series, key);
        zstr_free(&key);
        silent = host ? zb_report_exclusive(host->spans, host->count, series->spans, series->count,
                                            since, until, now)
                      : 0;
    }
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "host", zb_query_json_text(series->host));
    json_object_set_new(o, "service", zb_query_json_text(series->service));
    json_object_set_new(o, "kind", json_string(series->service ? "service" : "host"));
    json_object_set_new(o, "availability_pct", pct < 0 ? json_null() : json_real(pct));
    json_object_set_new(o, "outages", json_integer(figures.count));
    json_object_set_new(o, "open", json_integer(figures.open));
    json_object_set_new(o, "down_s", series->service ? s_seconds(figures.down_ms) : json_null());
    json_object_set_new(o, "silent_s", s_seconds(silent));
    json_object_set_new(o, "mttr_s", s_seconds(figures.mttr_ms));
    json_object_set_new(o, "longest_s", s_seconds(figures.longest_ms));
    return o;
}

json_t *zb_report_build(zb_store_t *store, const char *host, int64_t since_ms, int64_t until_ms,
                        int64_t now_ms, char *err, size_t errsize)
{
    assert(store && err);
    s_build_t build = {.series = zhashx_new(), .host = host};
    s_series_t **list = NULL;
    json_t *report = NULL, *rows = NULL;
    if (!build.series) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    zhashx_set_destructor(build.series, s_series_destroy);

    zb_store_query_t query;
    zb_store_query_init(&query);
    query.host = host;
    query.since_ms = since_ms;
    query.until_ms = until_ms;
    int rc = zb_store_outages(store, &query, s_on_outage, &build);
    if (rc == 0)
        rc = zb_store_services(store, s_on_service, &build);
    if (rc == 0)
        rc = zb_store_hosts(store, s_on_host, &build);
    if (rc < 0) {
        snprintf(err, errsize, "%s", zb_store_error(store));
        goto done;
    }
    if (build.outages > ZB_REPORT_MAX_OUTAGES) {
        snprintf(err, errsize, "more than %d outages in the window: choose a shorter one or a host",
                 ZB_REPORT_MAX_OUTAGES);
        goto done;
    }
    size_t count = zhashx_size(build.series);
    list = calloc(count ? count : 1, sizeof(*list));
    report = json_object();
    rows = json_array();
    if (build.failed || !list || !report || !rows)
        goto oom;
    size_t n = 0;
    for (s_series_t *s = zhashx_first(build.series); s; s = zhashx_next(build.series))
        list[n++] = s;
    qsort(list, n, sizeof(*list), s_series_compare);
    for (size_t i = 0; i < n; i++) {
        json_t *row = s_row(list[i], &build, since_ms, until_ms, now_ms);
        if (!row || json_array_append_new(rows, row) != 0)
            goto oom;
    }
    json_object_set_new(report, "since", zb_query_json_time(since_ms));
    json_object_set_new(report, "until", zb_query_json_time(until_ms));
    json_object_set_new(report, "window_s",
                        s_seconds(until_ms > since_ms ? until_ms - since_ms : 0));
    if (json_object_set_new(report, "rows", rows) != 0) {
        rows = NULL;
        goto oom;
    }
    rows = NULL;
    goto done;

oom:
    snprintf(err, errsize, "out of memory");
    json_decref(report);
    report = NULL;
done:
    json_decref(rows);
    free(list);
    zhashx_destroy(&build.series);
    return report;
}

//  --------------------------------------------------------------------------
//  Printing

static const char *const s_columns[] = {"host",    "service",  "kind",   "availability_pct",
                                        "outages", "open",     "down_s", "silent_s",
                                        "mttr_s",  "longest_s"};
#define S_COLUMNS (sizeof(s_columns) / sizeof(s_columns[0]))

//  A field as text: for a table (human durations, "-" for none) or CSV.
static void s_cell(const json_t *row, const char *name, bool table, char *buf, size_t size)
{
    const json_t *value = json_object_get(row, name);
    bool pct = strcmp(name, "availability_pct") == 0;
    if (!value || json_is_null(value))
        snprintf(buf, size, "%s", table ? "-" : "");
    else if (json_is_string(value))
        zb_text_printable(json_string_value(value), json_string_length(value), buf, size, 0);
    else if (json_is_integer(value))
        snprintf(buf, size, "%lld", (long long)json_integer_value(value));
    else if (pct && table)
        //  Rounded down: 100% only when there was no downtime at all.
        snprintf(buf, size, "%.3f%%", floor(json_real_value(value) * 1000) / 1000);
    else if (pct)
        snprintf(buf, size, "%.6f", json_real_value(value));
    else if (table)
        zb_time_format_duration((int64_t)llround(json_real_value(value) * 1000), buf, size);
    else
        snprintf(buf, size, "%.3f", json_real_value(value));
}

int zb_report_print_csv(const json_t *report, FILE *out)
{
    assert(report && out);
    for (size_t c = 0; c < S_COLUMNS; c++)
        fprintf(out, "%s%s", c ? "," : "", s_columns[c]);
    fputc('\n', out);
    size_t i;
    const json_t *row;
    //  No field can hold a comma or a quote: names are [A-Za-z0-9._-], the
    //  rest numbers (printable() escapes anything else a database holds).
    json_array_foreach(json_object_get(report, "rows"), i, row)
    {
        for (size_t c = 0; c < S_COLUMNS; c++) {
            char cell[300];
            s_cell(row, s_columns[c], false, cell, sizeof(cell));
            if (strpbrk(cell, ",\""))
                snprintf(cell, sizeof(cell), "?");
            fprintf(out, "%s%s", c ? "," : "", cell);
        }
        fputc('\n', out);
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

int zb_report_print_table(const json_t *report, FILE *out)
{
    assert(report && out);
    static const char *const header[] = {"HOST", "SERVICE", "AVAILABILITY", "OUTAGES",
                                         "DOWN", "SILENT",  "MTTR",         "LONGEST"};
    static const char *const fields[] = {"host",   "service",  "availability_pct", "outages",
                                         "down_s", "silent_s", "mttr_s",           "longest_s"};
    enum { COLS = sizeof(header) / sizeof(header[0]) };
    const json_t *rows = json_object_get(report, "rows");
    size_t count = json_array_size(rows);
    char(*cells)[COLS][80] = calloc(count ? count : 1, sizeof(*cells));
    if (!cells)
        return -1;
    size_t width[COLS];
    for (size_t c = 0; c < COLS; c++)
        width[c] = strlen(header[c]);
    for (size_t r = 0; r < count; r++) {
        const json_t *row = json_array_get(rows, r);
        for (size_t c = 0; c < COLS; c++) {
            s_cell(row, fields[c], true, cells[r][c], sizeof(cells[r][c]));
            if (c == 3 && json_integer_value(json_object_get(row, "open")) > 0) {
                size_t len = strlen(cells[r][c]);
                snprintf(cells[r][c] + len, sizeof(cells[r][c]) - len, " (%lld open)",
                         (long long)json_integer_value(json_object_get(row, "open")));
            }
            if (strlen(cells[r][c]) > width[c])
                width[c] = strlen(cells[r][c]);
        }
    }
    char since[48], until[48], window[32];
    const json_t *from = json_object_get(report, "since"), *to = json_object_get(report, "until");
    zb_text_printable(json_string_value(from), json_string_length(from), since, sizeof(since), 0);
    zb_text_printable(json_string_value(to), json_string_length(to), until, sizeof(until), 0);
    zb_time_format_duration(
        (int64_t)llround(json_real_value(json_object_get(report, "window_s")) * 1000), window,
        sizeof(window));
    fprintf(out, "from %s to %s (%s)\n", since, until, window);
    if (count == 0)
        fprintf(out, "no hosts or services\n");
    for (size_t r = 0; count && r <= count; r++) {
        for (size_t c = 0; c < COLS; c++) {
            const char *text = r == 0 ? header[c] : cells[r - 1][c];
            if (c + 1 == COLS)
                fprintf(out, "%s\n", text);
            else
                fprintf(out, "%-*s  ", (int)width[c], text);
        }
    }
    free(cells);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  Self-test: hand-computed cases

#define S 1000LL // one second in ms

static void s_check(zb_report_span_t *spans, size_t count, int64_t since, int64_t until,
                    int64_t now, zb_report_figures_t expect)
{
    zb_report_figures_t got;
    zb_report_figures(spans, count, since, until, now, &got);
    if (memcmp(&got, &expect, sizeof(got)) != 0) {
        fprintf(stderr,
                "\nzb_report: got window %lld down %lld count %lld open %lld closed %lld "
                "mttr %lld longest %lld\n",
                (long long)got.window_ms, (long long)got.down_ms, (long long)got.count,
                (long long)got.open, (long long)got.closed, (long long)got.mttr_ms,
                (long long)got.longest_ms);
        assert(!"figures differ from the hand-computed ones");
    }
}

static void s_test_store(void)
{
    char dir[] = "/tmp/zb_report_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/test.db", dir);
    zb_store_t *store = zb_store_open(path, err, sizeof(err));
    assert(store);
    //  Window [1000 s, 2000 s], now 1900 s. web-1 silent [1500, 1600];
    //  its redis down [1200, 1300] and [1550, open); ssh never down.
    //  web-2/db down [900, 1100] (before the window start) and removed
    //  since: still in the report. web-3 has nothing at all.
    zb_store_host_t h1 = {"web-1", "alive", 0, "0123456789abcdef", 1000, 0, -1, 0, ""};
    zb_store_host_t h3 = {"web-3", "alive", 0, "0123456789abcdef", 1000, 0, -1, 0, ""};
    assert(zb_store_host_put(store, &h1) == 0 && zb_store_host_put(store, &h3) == 0);
    zb_store_service_t redis = {"web-1", "redis", "probe", "down", 1550 * S, "refused", ""};
    zb_store_service_t ssh = {"web-1", "ssh", "probe", "up", 0, "ok", ""};
    assert(zb_store_service_put(store, &redis) == 0 && zb_store_service_put(store, &ssh) == 0);
    struct {
        const char *kind, *host, *service;
        int64_t start, end;
    } rows[] = {
        {"service", "web-1", "redis", 1200, 1300}, {"host", "web-1", NULL, 1500, 1600},
        {"service", "web-1", "redis", 1550, -1},   {"service", "web-2", "db", 900, 1100},
        {"service", "web-2", "db", 100, 200}, // ended before the window: not counted
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        zb_store_outage_t o = {.kind = rows[i].kind,
                               .host = rows[i].host,
                               .service = rows[i].service,
                               .started_at_ms = rows[i].start * S,
                               .ended_at_ms = -1,
                               .reason = "refused",
                               .error = "",
                               .instance = "0123456789abcdef"};
        int64_t id;
        assert(zb_store_outage_open(store, &o, &id, NULL) == 1);
        if (rows[i].end >= 0)
            assert(zb_store_outage_close(store, id, rows[i].end * S, "up") == 1);
    }
    assert(zb_store_commit(store) == 0);

    json_t *report = zb_report_build(store, NULL, 1000 * S, 2000 * S, 1900 * S, err, sizeof(err));
    assert(report);
    json_t *list = json_object_get(report, "rows");
    assert(json_array_size(list) == 5);
    const char *order[][2] = {{"web-1", NULL}, {"web-1", "redis"}, {"web-1", "ssh"},
                              {"web-2", "db"}, {"web-3", NULL},    {NULL, NULL}};
    for (size_t i = 0; order[i][0]; i++) {
        json_t *row = json_array_get(list, i);
        assert(strcmp(json_string_value(json_object_get(row, "host")), order[i][0]) == 0);
        json_t *service = json_object_get(row, "service");
        assert(order[i][1] ? strcmp(json_string_value(service), order[i][1]) == 0
                           : json_is_null(service));
    }
    assert(json_real_value(json_object_get(report, "window_s")) == 1000.0);
    //  web-1 host: silent 100 s of 1000: heard 90%.
    json_t *row = json_array_get(list, 0);
    assert(json_real_value(json_object_get(row, "availability_pct")) == 90.0);
    assert(json_real_value(json_object_get(row, "silent_s")) == 100.0);
    assert(json_is_null(json_object_get(row, "down_s")));
    assert(json_integer_value(json_object_get(row, "outages")) == 1);
    //  redis: down 100 + (1900 - 1550) = 450 s: 55%. Silent while not
    //  down: [1500, 1550] = 50 s. Two outages, one open; MTTR 100 s (the
    //  closed one); longest the open one, 350 s so far.
    row = json_array_get(list, 1);
    assert(json_real_value(json_object_get(row, "availability_pct")) == 55.0);
    assert(json_real_value(json_object_get(row, "down_s")) == 450.0);
    assert(json_real_value(json_object_get(row, "silent_s")) == 50.0);
    assert(json_integer_value(json_object_get(row, "outages")) == 2);
    assert(json_integer_value(json_object_get(row, "open")) == 1);
    assert(json_real_value(json_object_get(row, "mttr_s")) == 100.0);
    assert(json_real_value(json_object_get(row, "longest_s")) == 350.0);
    //  ssh: never down, silent with its host 100 s, available 100%.
    row = json_array_get(list, 2);
    assert(json_real_value(json_object_get(row, "availability_pct")) == 100.0);
    assert(json_real_value(json_object_get(row, "silent_s")) == 100.0);
    assert(json_is_null(json_object_get(row, "mttr_s")));
    assert(json_integer_value(json_object_get(row, "outages")) == 0);
    //  web-2/db: [900, 1100] counts 100 s in the window; whole length 200.
    row = json_array_get(list, 3);
    assert(json_real_value(json_object_get(row, "availability_pct")) == 90.0);
    assert(json_real_value(json_object_get(row, "mttr_s")) == 200.0);
    assert(json_integer_value(json_object_get(row, "outages")) == 1);
    json_decref(report);

    //  Filtered to one host.
    report = zb_report_build(store, "web-2", 1000 * S, 2000 * S, 1900 * S, err, sizeof(err));
    assert(report && json_array_size(json_object_get(report, "rows")) == 1);
    char *text = json_dumps(report, ZB_QUERY_JSON_FLAGS);
    assert(text && strstr(text, "\"since\":\"1970-01-01T00:16:40.000Z\""));
    free(text);
    //  Printing: a table and CSV, to a memory stream.
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert(out);
    assert(zb_report_print_csv(report, out) == 0);
    assert(zb_report_print_table(report, out) == 0);
    fclose(out);
    assert(strstr(buf,
                  "host,service,kind,availability_pct,outages,open,down_s,silent_s,mttr_s,"
                  "longest_s\nweb-2,db,service,90.000000,1,0,100.000,0.000,200.000,200.000\n"));
    assert(strstr(buf, "90.000%"));
    assert(strstr(buf, "3m20s"));
    free(buf);
    json_decref(report);
    zb_store_destroy(&store);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert(system(cmd) == 0);
}

void zb_report_test(bool verbose)
{
    (void)verbose;
    //  Nothing at all: fully available, no MTTR, no longest.
    s_check(NULL, 0, 0, 100 * S, 100 * S, (zb_report_figures_t){100 * S, 0, 0, 0, 0, -1, -1});
    zb_report_figures_t empty;
    zb_report_figures(NULL, 0, 100, 100, 100, &empty);
    assert(zb_report_availability(&empty) < 0); // an empty window has no availability

    //  One closed outage inside the window.
    zb_report_span_t one[] = {{10 * S, 30 * S}};
    s_check(one, 1, 0, 100 * S, 100 * S,
            (zb_report_figures_t){100 * S, 20 * S, 1, 0, 1, 20 * S, 20 * S});

    //  Window edges: an outage straddling the start counts only its part
    //  inside for downtime, its whole length for MTTR and longest; one
    //  ending exactly at the start still counts (zero downtime), as
    //  `zbeat outages --since` lists it; one starting exactly at the end
    //  counts too; one after the end does not.
    zb_report_span_t edges[] = {
        {-50 * S, 20 * S}, {-30 * S, 0}, {100 * S, 110 * S}, {101 * S, 120 * S}};
    s_check(edges, 4, 0, 100 * S, 200 * S,
            (zb_report_figures_t){100 * S, 20 * S, 3, 0, 3, (70 + 30 + 10) * S / 3, 70 * S});

    //  Open outage: down until now (before the end of the window), and
    //  longest up to now; MTTR has nothing repaired.
    zb_report_span_t open[] = {{60 * S, -1}};
    s_check(open, 1, 0, 100 * S, 80 * S,
            (zb_report_figures_t){100 * S, 20 * S, 1, 1, 0, -1, 20 * S});
    //  ...and when now is past the end of the window, clipped to the end.
    s_check(open, 1, 0, 100 * S, 500 * S,
            (zb_report_figures_t){100 * S, 40 * S, 1, 1, 0, -1, 440 * S});
    //  An open outage that began before the window covers all of it.
    zb_report_span_t before[] = {{-10 * S, -1}};
    s_check(before, 1, 0, 100 * S, 100 * S,
            (zb_report_figures_t){100 * S, 100 * S, 1, 1, 0, -1, 110 * S});
    zb_report_figures_t all;
    zb_report_figures(before, 1, 0, 100 * S, 100 * S, &all);
    assert(zb_report_availability(&all) == 0.0);

    //  Overlapping and unsorted spans are a union, not a sum.
    zb_report_span_t overlap[] = {{40 * S, 60 * S}, {10 * S, 30 * S}, {20 * S, 50 * S}};
    s_check(overlap, 3, 0, 100 * S, 100 * S,
            (zb_report_figures_t){100 * S, 50 * S, 3, 0, 3, (20 + 20 + 30) * S / 3, 30 * S});
    zb_report_figures_t f;
    zb_report_figures(overlap, 3, 0, 100 * S, 100 * S, &f);
    assert(zb_report_availability(&f) == 50.0);

    //  A host silent [20, 50] while its service was down [10, 30] and
    //  [45, open): silent-not-down = [30, 45] = 15 s. Down 10..30 and
    //  45..now(90) = 65 s.
    zb_report_span_t silence[] = {{20 * S, 50 * S}};
    zb_report_span_t down[] = {{45 * S, -1}, {10 * S, 30 * S}};
    assert(zb_report_exclusive(silence, 1, down, 2, 0, 100 * S, 90 * S) == 15 * S);
    s_check(down, 2, 0, 100 * S, 90 * S,
            (zb_report_figures_t){100 * S, 65 * S, 2, 1, 1, 20 * S, 45 * S});
    //  A silence spanning several outages, and one outside the window.
    zb_report_span_t silences[] = {{150 * S, 170 * S}, {5 * S, 95 * S}};
    zb_report_span_t downs[] = {{10 * S, 20 * S}, {30 * S, 40 * S}, {90 * S, 200 * S}};
    assert(zb_report_exclusive(silences, 2, downs, 3, 0, 100 * S, 300 * S) == (90 - 25) * S);
    //  No silence, or no downtime.
    assert(zb_report_exclusive(NULL, 0, downs, 3, 0, 100 * S, 300 * S) == 0);
    assert(zb_report_exclusive(silences, 2, NULL, 0, 0, 100 * S, 300 * S) == 90 * S);
    //  A clock skewed so that an outage "ends" before it starts: no time.
    zb_report_span_t skew[] = {{50 * S, 40 * S}};
    s_check(skew, 1, 0, 100 * S, 100 * S, (zb_report_figures_t){100 * S, 0, 1, 0, 1, 0, 0});

    s_test_store();
}
