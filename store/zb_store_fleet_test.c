/*  zb_store_fleet's self-test: the problems (schema 11). The counts of
    zb_store_counts and the rows of zb_store_problems must be exactly what
    counting and filtering every row of zb_store_status gives (in order:
    the answers built on them are compared byte for byte), and must come
    from the indexes of the problems, not from a scan of the fleet.
*/
#include "zb_store_internal.h"
#include "zb_query.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Rows as text, every field, in the order they came.
typedef struct {
    char text[65536];
    size_t used;
    int count;
    const zb_query_filter_t *filter; // NULL: every row
} s_rows_t;

static int s_collect(const zb_store_status_t *row, void *arg)
{
    s_rows_t *rows = arg;
    if (rows->filter && !zb_query_status_keeps(rows->filter, row))
        return 0;
    int n = snprintf(rows->text + rows->used, sizeof(rows->text) - rows->used,
                     "%s/%s=%s@%lld %s|%s|%lld|%lld|%g\n", row->host,
                     row->service ? row->service : "(null)", row->state, (long long)row->since_ms,
                     row->reason ? row->reason : "(null)", row->error ? row->error : "(null)",
                     (long long)row->tls_expires_ms, (long long)row->silence_threshold_ms,
                     row->datagram_loss);
    assert(n > 0 && (size_t)n < sizeof(rows->text) - rows->used);
    rows->used += (size_t)n;
    rows->count++;
    return 0;
}

static int s_summary_add(const zb_store_status_t *row, void *arg)
{
    zb_query_summary_add(arg, row);
    return 0;
}

//  A summary as its answers print it: the JSON of GET /api/v1/summary (in
//  its order) and the line of `zbeat status`.
static void s_summary_text(const zb_query_summary_t *summary, char *out, size_t size)
{
    json_t *o = zb_query_summary_json(summary);
    char *json = o ? json_dumps(o, ZB_QUERY_JSON_FLAGS) : NULL;
    assert(json);
    char line[1024];
    zb_query_summary_line(summary, line, sizeof(line));
    snprintf(out, size, "%s\n%s", json, line);
    free(json);
    json_decref(o);
}

static s_rows_t s_all, s_kept, s_problems; // large for the stack

//  The store's answers equal every row's, counted and filtered in C.
static void s_check(zb_store_t *store, bool verbose)
{
    zb_query_summary_t walked = {0}, counted = {0};
    assert(zb_store_status(store, s_summary_add, &walked) == 0);
    assert(zb_query_summary_read(store, &counted) == 0);
    char a[4096], b[4096];
    s_summary_text(&walked, a, sizeof(a));
    s_summary_text(&counted, b, sizeof(b));
    if (verbose || strcmp(a, b) != 0)
        printf("walked:  %s\ncounted: %s\n", a, b);
    assert(strcmp(a, b) == 0);
    assert(memcmp(&walked, &counted, sizeof(walked)) == 0);

    //  The problems' rows, and every filter of problem states only.
    static const char *const filters[] = {"problems",  "down,silent",   "name-conflict", "stopped",
                                          "s07,other", "problems,down", "nonesuch,,",    NULL};
    for (const char *const *states = filters; *states; states++) {
        assert(zb_query_states_problems_only(*states));
        zb_query_filter_t filter = {.states = *states};
        memset(&s_kept, 0, sizeof(s_kept));
        memset(&s_problems, 0, sizeof(s_problems));
        s_kept.filter = s_problems.filter = &filter;
        assert(zb_store_status(store, s_collect, &s_kept) == 0);
        assert(zb_store_problems(store, s_collect, &s_problems) == 0);
        if (verbose || strcmp(s_kept.text, s_problems.text) != 0)
            printf("%s: kept %d:\n%sproblems %d:\n%s", *states, s_kept.count, s_kept.text,
                   s_problems.count, s_problems.text);
        assert(strcmp(s_kept.text, s_problems.text) == 0);
    }
    //  ...and the walk itself is exactly the problems, unfiltered.
    zb_query_filter_t problems = {.states = "problems"};
    memset(&s_kept, 0, sizeof(s_kept));
    memset(&s_all, 0, sizeof(s_all));
    s_kept.filter = &problems;
    assert(zb_store_status(store, s_collect, &s_kept) == 0);
    assert(zb_store_problems(store, s_collect, &s_all) == 0);
    assert(strcmp(s_kept.text, s_all.text) == 0);
}

//  EXPLAIN QUERY PLAN of a fixed statement, its lines joined.
static void s_plan(zb_store_t *store, int which, char *out, size_t size)
{
    char sql[2048];
    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", zb_store_sql[which]);
    sqlite3_stmt *stmt = NULL;
    assert(sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) == SQLITE_OK);
    size_t used = 0;
    out[0] = '\0';
    while (sqlite3_step(stmt) == SQLITE_ROW && used < size)
        used += (size_t)snprintf(out + used, size - used, "%s; ", sqlite3_column_text(stmt, 3));
    sqlite3_finalize(stmt);
}

//  The problems are read from their indexes; the walks that find the
//  first healthy row stop there (no sort of the whole table first).
static void s_check_plans(zb_store_t *store, bool verbose)
{
    char plan[2048];
    static const struct {
        int which;
        const char *want[2];
    } uses[] = {
        {S_PROBLEMS, {"USING INDEX hosts_problems", "USING INDEX services_problems"}},
        {S_HOST_PROBLEMS, {"USING COVERING INDEX hosts_problems", NULL}},
        {S_SERVICE_PROBLEMS, {"USING COVERING INDEX services_problems", NULL}},
    };
    for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++) {
        s_plan(store, uses[i].which, plan, sizeof(plan));
        if (verbose)
            printf("%s\n", plan);
        for (size_t j = 0; j < 2 && uses[i].want[j]; j++)
            assert(strstr(plan, uses[i].want[j]));
        if (uses[i].which != S_PROBLEMS)
            assert(!strstr(plan, "TEMP B-TREE"));
    }
    s_plan(store, S_SERVICES, plan, sizeof(plan));
    assert(!strstr(plan, "TEMP B-TREE"));
    s_plan(store, S_HOSTS, plan, sizeof(plan));
    assert(!strstr(plan, "TEMP B-TREE"));
}

static void s_host(zb_store_t *store, const char *name, const char *state)
{
    zb_store_host_t host = {.name = name, .state = state, .since_ms = 1000, .instance = "i"};
    assert(zb_store_host_put(store, &host) == 0);
}

static void s_service(zb_store_t *store, const char *host, const char *name, const char *state)
{
    zb_store_service_t service = {
        .host = host,
        .name = name,
        .kind = "probe",
        .state = state,
        .since_ms = 2000 + (int64_t)strlen(name),
        .reason = strcmp(state, "up") == 0 ? "" : "refused",
        .error = strcmp(state, "down") == 0 ? "connection refused" : "",
        .tls_expires_ms = strcmp(name, "tls") == 0 ? 1798761600000 : 0,
    };
    assert(zb_store_service_put(store, &service) == 0);
}

void zb_store_fleet_test(bool verbose)
{
    char dir[] = "/tmp/zb_store_fleet_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/fleet.db", dir);
    zb_store_t *store = zb_store_open(path, err, sizeof(err));
    assert(store);
    s_check_plans(store, verbose);

    static const char *const not_only[] = {"up", "alive", "down,up", "problems,alive", "up,"};
    for (size_t i = 0; i < sizeof(not_only) / sizeof(not_only[0]); i++)
        assert(!zb_query_states_problems_only(not_only[i]));
    assert(!zb_query_states_problems_only(NULL));

    //  Nothing yet: no state counted, no row.
    s_check(store, verbose);

    //  Every healthy: no problem.
    s_host(store, "b-1", "alive");
    s_service(store, "b-1", "ssh", "up");
    assert(zb_store_commit(store) == 0);
    s_check(store, verbose);

    //  Hosts in every state (and ones no monitor writes: a host "up" is
    //  healthy to the filter, "" is not), services in every state (a
    //  service "alive" is healthy to it too). The first rows are problems,
    //  so that the healthy states are not the first seen.
    s_host(store, "a-0", "silent");
    s_service(store, "a-0", "a", "unknown");
    s_service(store, "a-0", "b", "down");
    s_service(store, "a-0", "tls", "up");
    s_host(store, "a-1", "name-conflict");
    s_service(store, "a-1", "ssh", "stopped");
    s_host(store, "c-1", "stopped");
    s_service(store, "c-1", "ssh", "stopped");
    s_host(store, "c-2", "up");
    s_service(store, "c-2", "odd", "alive");
    s_host(store, "c-3", "");
    s_service(store, "c-3", "none", "");
    s_host(store, "c-4", "alive");
    //  Services without their host's row, and a host name that sorts
    //  before its own prefix's services (BINARY: "c" < "c-" < "c.").
    s_service(store, "c", "x", "down");
    s_service(store, "c.", "x", "up");
    assert(zb_store_commit(store) == 0);
    s_check(store, verbose);

    //  More than ZB_QUERY_STATES_MAX states: the rest count as "other".
    for (int i = 0; i < 14; i++) {
        char name[16], state[16];
        snprintf(name, sizeof(name), "m%02d", 13 - i);
        snprintf(state, sizeof(state), "s%02d", i);
        s_service(store, "d-1", name, state);
    }
    assert(zb_store_commit(store) == 0);
    s_check(store, verbose);

    //  A host gone quiet, a service deleted, one back up.
    assert(zb_store_services_quiet(store, "b-1", "unknown", 5000, "silent") == 0);
    assert(zb_store_service_delete(store, "a-0", "a") == 0);
    s_service(store, "a-0", "b", "up");
    assert(zb_store_commit(store) == 0);
    s_check(store, verbose);

    //  Counted inside the writer's open transaction (its writes included)...
    s_host(store, "e-1", "silent");
    assert(zb_store_pending(store));
    s_check(store, verbose);
    assert(zb_store_commit(store) == 0);
    //  ...and by a reader (the CLI's store).
    zb_store_t *reader = zb_store_open_readonly(path, err, sizeof(err));
    assert(reader);
    s_check(reader, verbose);
    zb_store_destroy(&reader);

    //  Every state a problem: no healthy row to find.
    s_host(store, "b-1", "silent");
    s_host(store, "c-2", "silent");
    s_host(store, "c-4", "silent");
    s_service(store, "a-0", "b", "down");
    s_service(store, "a-0", "tls", "down");
    s_service(store, "c-2", "odd", "down");
    s_service(store, "c.", "x", "down");
    assert(zb_store_commit(store) == 0);
    s_check(store, verbose);

    //  A schema 10 database gets the indexes when the monitor upgrades it.
    zb_store_destroy(&store);
    sqlite3 *db = NULL;
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    assert(sqlite3_exec(db,
                        "DROP INDEX hosts_problems; DROP INDEX services_problems; "
                        "PRAGMA user_version = 10",
                        NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    reader = zb_store_open_readonly(path, err, sizeof(err));
    assert(!reader && strstr(err, "schema version 10 is older"));
    store = zb_store_open(path, err, sizeof(err));
    assert(store && zb_store_version(store) == zb_store_latest_version());
    s_check_plans(store, verbose);
    s_check(store, verbose);
    zb_store_destroy(&store);

    zb_store_test_remove(path);
    assert(rmdir(dir) == 0);
}
