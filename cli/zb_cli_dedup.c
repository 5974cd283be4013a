/*  zb_cli_dedup: one outage recorded by redundant monitors shows once.

    A monitor answers up to 10,000 outages, so records are not compared
    pairwise: a sort by (host, service, kind) numbers each record's group,
    then one pass newest first compares a record with its group's last kept
    record only. O(n log n), and the same rows as comparing it with every
    kept record (see the loop).
*/
#include "zb_cli_dedup.h"
#include "zb_cli.h"

#include <stdlib.h>

typedef struct {
    json_t *item;                      // the API's outage object
    int64_t started_ms;                // its started_at
    const char *host, *service, *kind; // its series
    size_t index;                      // its place: as given, then newest first
    size_t group;                      // its series' number
} s_record_t;

typedef struct {
    bool kept;          // a record of the group is in the output
    size_t at;          // the last kept's index there
    int64_t started_ms; // and its start
} s_group_t;

//  Newest first; a tie in the order given (a stable sort: the order
//  glibc's merge sort gave the merge that compared records pairwise).
static int s_newest_first(const void *a, const void *b)
{
    const s_record_t *x = a, *y = b;
    if (x->started_ms != y->started_ms)
        return x->started_ms < y->started_ms ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int s_by_series(const void *a, const void *b)
{
    const s_record_t *x = *(s_record_t *const *)a, *y = *(s_record_t *const *)b;
    int rc = zb_cli_strcmp_null(x->host, y->host);
    if (rc == 0)
        rc = zb_cli_strcmp_null(x->service, y->service);
    return rc ? rc : zb_cli_strcmp_null(x->kind, y->kind);
}

json_t *zb_cli_dedup_outages(json_t **items, size_t count, int64_t window_ms, int64_t limit)
{
    json_t *result = NULL, *out = json_array();
    s_record_t *records = calloc(count + 1, sizeof(*records));
    s_record_t **by_series = calloc(count + 1, sizeof(*by_series));
    s_group_t *groups = calloc(count + 1, sizeof(*groups));
    if (!out || !records || !by_series || !groups)
        goto done;
    //  started_at read once per record, not once per comparison.
    for (size_t i = 0; i < count; i++)
        records[i] = (s_record_t){items[i],
                                  zb_cli_json_ms(items[i], "started_at", 0),
                                  zb_cli_json_text(items[i], "host"),
                                  zb_cli_json_text(items[i], "service"),
                                  zb_cli_json_text(items[i], "kind"),
                                  i,
                                  0};
    qsort(records, count, sizeof(*records), s_newest_first);
    for (size_t i = 0; i < count; i++) {
        items[i] = records[i].item;
        by_series[i] = &records[i];
    }
    qsort(by_series, count, sizeof(*by_series), s_by_series);
    for (size_t k = 1; k < count; k++)
        by_series[k]->group =
            by_series[k - 1]->group + (s_by_series(&by_series[k - 1], &by_series[k]) != 0);
    //  A record starts no later than any before it, so among its group's
    //  kept records the last kept starts nearest to it; and each kept record
    //  starts more than window_ms before the one kept before it (else it
    //  would not have been kept). So a record within window_ms of some kept
    //  record is within window_ms of the last kept, and of no other.
    for (size_t i = 0; i < count; i++) {
        s_record_t *record = &records[i];
        s_group_t *group = &groups[record->group];
        if (group->kept && group->started_ms - record->started_ms <= window_ms) {
            //  The record that saw the end says more.
            json_t *kept = json_array_get(out, group->at);
            if (json_is_null(json_object_get(kept, "ended_at")) &&
                !json_is_null(json_object_get(record->item, "ended_at"))) {
                if (json_array_set(out, group->at, record->item) != 0)
                    goto done;
                group->started_ms = record->started_ms;
            }
        } else if (limit <= 0 || (int64_t)json_array_size(out) < limit) {
            *group = (s_group_t){true, json_array_size(out), record->started_ms};
            if (json_array_append(out, record->item) != 0)
                goto done;
        }
    }
    result = out;
    out = NULL;
done:
    free(groups);
    free(by_series);
    free(records);
    json_decref(out);
    return result;
}
