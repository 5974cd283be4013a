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

//  outages_only: the series of the outages alone (no walk of every
//  service and host).
static json_t *s_build(zb_store_t *store, const char *host, bool outages_only, int64_t since_ms,
                       int64_t until_ms, int64_t now_ms, char *err, size_t errsize)
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
    if (rc == 0 && !outages_only)
        rc = zb_store_services(store, s_on_service, &build);
    if (rc == 0 && !outages_only)
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

json_t *zb_report_build(zb_store_t *store, const char *host, int64_t since_ms, int64_t until_ms,
                        int64_t now_ms, char *err, size_t errsize)
{
    return s_build(store, host, false, since_ms, until_ms, now_ms, err, errsize);
}

json_t *zb_report_build_outages(zb_store_t *store, int64_t since_ms, int64_t until_ms,
                                int64_t now_ms, char *err, size_t errsize)
{
    return s_build(store, NULL, true, since_ms, until_ms, now_ms, err, errsize);
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
