/*  zb_cli_dedup's self-test: its rows against those of the pairwise merge
    it replaced (kept here as the reference) on random records, and the
    redundant pair's 2 x 10,000 outages of one series merged in well under a
    second (the pairwise merge took tens of seconds there).
*/
#include "zb_cli.h"
#include "zb_cli_dedup.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DAY_MS 86400000LL
#define S_T0 (20000LL * S_DAY_MS) // 2024-10-04: any time zbeat prints

static json_t *s_outage(const char *host, const char *service, const char *kind, int64_t started,
                        bool ended)
{
    char at[40], end[40];
    zb_cli_time_precise(started, at, sizeof(at));
    zb_cli_time_precise(started + 2000, end, sizeof(end));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "host", host, "service", service, "kind", kind,
                          "started_at", at);
    assert(o);
    json_object_set_new(o, "ended_at", ended ? json_string(end) : json_null());
    return o;
}

//  The merge zb_cli_dedup replaced: each record against every kept one.
static bool s_same(const json_t *a, const json_t *b, int64_t window_ms)
{
    const char *keys[] = {"host", "service", "kind"};
    for (size_t k = 0; k < 3; k++) {
        const char *x = zb_cli_json_text(a, keys[k]), *y = zb_cli_json_text(b, keys[k]);
        if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
            return false;
    }
    int64_t x = zb_cli_json_ms(a, "started_at", 0), y = zb_cli_json_ms(b, "started_at", 0);
    return (x > y ? x - y : y - x) <= window_ms;
}

static int s_newest_first(const void *a, const void *b)
{
    int64_t x = zb_cli_json_ms(*(json_t *const *)a, "started_at", 0);
    int64_t y = zb_cli_json_ms(*(json_t *const *)b, "started_at", 0);
    return x < y ? 1 : x > y ? -1 : 0;
}

static json_t *s_pairwise(json_t **items, size_t count, int64_t window_ms, int64_t limit)
{
    qsort(items, count, sizeof(*items), s_newest_first);
    json_t *out = json_array();
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t k = 0; k < json_array_size(out) && !seen; k++) {
            json_t *o = json_array_get(out, k);
            if (!s_same(o, items[i], window_ms))
                continue;
            if (json_is_null(json_object_get(o, "ended_at")) &&
                !json_is_null(json_object_get(items[i], "ended_at")))
                json_array_set(out, k, items[i]);
            seen = true;
        }
        if (!seen && (limit <= 0 || (int64_t)json_array_size(out) < limit))
            json_array_append(out, items[i]);
    }
    return out;
}

//  Both merges of the same records (each sorts its own copy) give the same
//  objects in the same order.
static size_t s_check(json_t **items, size_t count, int64_t window_ms, int64_t limit)
{
    json_t **copy = malloc((count + 1) * sizeof(*copy));
    assert(copy);
    memcpy(copy, items, count * sizeof(*copy));
    json_t *want = s_pairwise(copy, count, window_ms, limit);
    memcpy(copy, items, count * sizeof(*copy));
    json_t *got = zb_cli_dedup_outages(copy, count, window_ms, limit);
    assert(want && got);
    assert(json_array_size(got) == json_array_size(want));
    for (size_t i = 0; i < json_array_size(want); i++)
        assert(json_array_get(got, i) == json_array_get(want, i));
    size_t rows = json_array_size(got);
    json_decref(want);
    json_decref(got);
    free(copy);
    return rows;
}

void zb_cli_dedup_test(bool verbose)
{
    //  A redundant pair: the ended record wins, once; another host's stays.
    json_t *items[400];
    items[0] = s_outage("web-1", "redis", "service", S_T0, false);
    items[1] = s_outage("web-1", "redis", "service", S_T0 + 300, true);
    items[2] = s_outage("web-2", "redis", "service", S_T0 + 100, true);
    items[3] = s_outage("web-1", "redis", "host", S_T0 + 200, true);
    json_t **copy = malloc(4 * sizeof(*copy));
    assert(copy);
    memcpy(copy, items, 4 * sizeof(*copy));
    json_t *rows = zb_cli_dedup_outages(copy, 4, 5000, 0);
    assert(rows && json_array_size(rows) == 3);
    assert(json_array_get(rows, 0) == items[1]);
    assert(json_array_get(rows, 1) == items[3]);
    assert(json_array_get(rows, 2) == items[2]);
    json_decref(rows);
    rows = zb_cli_dedup_outages(copy, 4, 5000, 2);
    assert(rows && json_array_size(rows) == 2);
    json_decref(rows);
    free(copy);
    for (size_t i = 0; i < 4; i++)
        json_decref(items[i]);

    //  Random records of a few series, starts close to the window: chains
    //  (a record near one that replaced an earlier one), open and ended,
    //  limits. No two start at once: the pairwise merge's order of a tie
    //  was qsort's (stable in glibc 2.36, not in 2.37).
    const char *hosts[] = {"a", "b", "c"}, *services[] = {"redis", "pg"};
    const char *kinds[] = {"service", "host"};
    unsigned seed = 17;
    for (int round = 0; round < 200; round++) {
        size_t count = 1 + (size_t)rand_r(&seed) % 400;
        for (size_t i = 0; i < count; i++)
            items[i] = s_outage(hosts[rand_r(&seed) % 3], services[rand_r(&seed) % 2],
                                kinds[rand_r(&seed) % 2],
                                S_T0 + rand_r(&seed) % 200 * 1000 + (int64_t)i, rand_r(&seed) % 2);
        int64_t limit = rand_r(&seed) % 3 ? 0 : rand_r(&seed) % 50;
        s_check(items, count, 1000 * (rand_r(&seed) % 8), limit);
        for (size_t i = 0; i < count; i++)
            json_decref(items[i]);
    }

    //  A redundant pair's 10,000 outages each of one series, 10 s apart:
    //  10,000 rows, in a time that does not grow with their square.
    size_t count = 20000;
    json_t **many = malloc(count * sizeof(*many));
    assert(many);
    for (size_t i = 0; i < count; i++)
        many[i] = s_outage("web-1", "redis", "service", S_T0 + (int64_t)(i / 2) * 10000 + !(i % 2),
                           i % 2);
    int64_t began = zb_time_mono_ms();
    rows = zb_cli_dedup_outages(many, count, 5000, 0);
    int64_t took = zb_time_mono_ms() - began;
    assert(rows && json_array_size(rows) == count / 2);
    for (size_t i = 0; i < json_array_size(rows); i++)
        assert(!json_is_null(json_object_get(json_array_get(rows, i), "ended_at")));
    if (verbose)
        printf("(20,000 records in %lld ms) ", (long long)took);
    //  Under valgrind too (some 50 times slower); the pairwise merge took
    //  over 10 s natively.
    assert(took < 5000);
    json_decref(rows);
    for (size_t i = 0; i < count; i++)
        json_decref(many[i]);
    free(many);
}
