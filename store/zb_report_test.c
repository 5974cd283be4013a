/*  zb_report's self-test: the arithmetic against hand-computed cases, then
    a report built from a real database.
*/
#include "zb_report.h"
#include "zb_query.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    zb_store_host_t h1 = {"web-1", "alive", 0, "0123456789abcdef", 1000, 0, -1, 0, "", 0, -1};
    zb_store_host_t h3 = {"web-3", "alive", 0, "0123456789abcdef", 1000, 0, -1, 0, "", 0, -1};
    assert(zb_store_host_put(store, &h1) == 0 && zb_store_host_put(store, &h3) == 0);
    zb_store_service_t redis = {"web-1", "redis", "probe", "down", 1550 * S, "refused", "", 0};
    zb_store_service_t ssh = {"web-1", "ssh", "probe", "up", 0, "ok", "", 0};
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
    //  Only the rows with outages: the same figures, ssh (never down) and
    //  web-3 (never silent) left out.
    json_t *changed =
        zb_report_build_outages(store, 1000 * S, 2000 * S, 1900 * S, err, sizeof(err));
    assert(changed);
    json_t *some = json_object_get(changed, "rows");
    assert(json_array_size(some) == 3);
    for (size_t i = 0, k = 0; i < json_array_size(list); i++) {
        json_t *full = json_array_get(list, i);
        if (json_integer_value(json_object_get(full, "outages")) == 0)
            continue;
        if (!json_equal(full, json_array_get(some, k++)))
            assert(!"an outages-only row differs from the full report's");
    }
    json_decref(changed);
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
