/*  zb_store's self-test: a real database in a temporary directory, a
    second connection where locks and forged versions need one.
*/
#include "zb_store_internal.h"
#include "zb_schema.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define s_streq(a, b) (strcmp((a), (b)) == 0)

typedef struct {
    int count;
    char text[2048];
} s_collect_t;

static int s_collect_outage(const zb_store_outage_t *outage, void *arg)
{
    s_collect_t *collect = arg;
    size_t len = strlen(collect->text);
    snprintf(collect->text + len, sizeof(collect->text) - len, "%s/%s:%s;", outage->host,
             outage->service ? outage->service : "-", outage->ended_at_ms < 0 ? "open" : "closed");
    collect->count++;
    return 0;
}

static int s_collect_status(const zb_store_status_t *row, void *arg)
{
    s_collect_t *collect = arg;
    size_t len = strlen(collect->text);
    snprintf(collect->text + len, sizeof(collect->text) - len, "%s/%s=%s", row->host,
             row->service ? row->service : "-", row->state);
    len = strlen(collect->text);
    if (row->tls_expires_ms) // TLS probes only
        snprintf(collect->text + len, sizeof(collect->text) - len, "@%lld",
                 (long long)row->tls_expires_ms);
    len = strlen(collect->text);
    snprintf(collect->text + len, sizeof(collect->text) - len, ";");
    collect->count++;
    return 0;
}

static int s_collect_text(const char *text, void *arg)
{
    s_collect_t *collect = arg;
    size_t len = strlen(collect->text);
    snprintf(collect->text + len, sizeof(collect->text) - len, "%s;", text);
    collect->count++;
    return 0;
}

static int s_stop_at_first(const zb_store_host_t *host, void *arg)
{
    (void)host;
    (*(int *)arg)++;
    return 7;
}

static int s_copy_monitor(const zb_store_monitor_t *monitor, void *arg)
{
    zb_store_monitor_t *copy = arg;
    *copy = *monitor;
    copy->hostname = copy->version = NULL; // valid only during the call
    return 0;
}

//  A second connection, as another program would have it.
static void s_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        printf("%s: %s\n", sql, message);
        assert(!"sql failed");
    }
    sqlite3_close(db);
}

//  size letters, a to z over and over, and a NUL; the caller frees it.
static char *s_payload(size_t size)
{
    char *payload = malloc(size + 1);
    assert(payload);
    for (size_t i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);
    payload[size] = '\0';
    return payload;
}

//  The first column of the first row of a query (printf format) on the
//  database at path, read on a connection of its own.
static int64_t s_one(const char *path, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static int64_t s_one(const char *path, const char *format, ...)
{
    char sql[1024];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(sql, sizeof(sql), format, args);
    va_end(args);
    assert(n >= 0 && (size_t)n < sizeof(sql));
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    assert(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK);
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static int64_t s_application_id(const char *path)
{
    return s_one(path, "PRAGMA application_id");
}

static int64_t s_table_count(const char *path)
{
    return s_one(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
}

//  Issue 20: a channel's grace (deliveries due later, held back for good
//  before they are due) and what an alertmanager channel restates.
static int s_take_delivery(const zb_store_delivery_t *d, void *arg)
{
    zb_store_delivery_t *out = arg;
    *out = *d;
    out->alert = NULL; // not kept past the callback
    out->channel = out->status = out->last_error = NULL;
    return 0;
}

static int s_count_delivery(const zb_store_delivery_t *d, void *arg)
{
    (void)d;
    (*(int *)arg)++;
    return 0;
}

//  A new database named name in dir; path receives its path.
static zb_store_t *s_open_in(const char *dir, const char *name, char *path, size_t size)
{
    char err[512];
    snprintf(path, size, "%s/%s", dir, name);
    zb_store_t *store = zb_store_open(path, err, sizeof(err));
    assert(store);
    return store;
}

void zb_store_test_remove(const char *path)
{
    char side[300];
    remove(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    remove(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    remove(side);
}

//  A quiet host's services in one statement: those not already unknown
//  become unknown (since, reason, no error); another host's are left.
static void s_test_services_quiet(const char *dir)
{
    char path[256];
    zb_store_t *store = s_open_in(dir, "quiet.db", path, sizeof(path));
    zb_store_service_t rows[] = {
        {"web-1", "redis", "probe", "down", 2000, "refused", "nope", 0},
        {"web-1", "ssh", "probe", "up", 1000, "", "", 0},
        {"web-1", "old", "probe", "unknown", 500, "silent", "", 0},
        {"db-1", "pg", "probe", "up", 1000, "", "", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert(zb_store_service_put(store, &rows[i]) == 0);
    assert(zb_store_services_quiet(store, "web-1", "unknown", 3000, "stopped") == 0);
    assert(zb_store_commit(store) == 0);
    assert(s_one(path, "SELECT count(*) FROM services WHERE host = 'web-1' AND state = "
                       "'unknown' AND since_ms = 3000 AND reason = 'stopped' AND error = ''") == 2);
    assert(s_one(path, "SELECT since_ms FROM services WHERE name = 'old'") == 500);
    assert(s_one(path, "SELECT count(*) FROM services WHERE host = 'db-1' AND state = 'up'") == 1);
    zb_store_destroy(&store);
    zb_store_test_remove(path);
}

//  A commit hook that refuses every commit: SQLite rolls the transaction
//  back and COMMIT fails, as it would on a full disk.
static int s_refuse_commit(void *arg)
{
    (*(int *)arg)++;
    return 1;
}

//  The redo log: the writes of a transaction whose commit failed (several
//  statements; text with quotes, NULL, empty text, integers, a double, a
//  text larger than the arena's first size) are applied again before the
//  next transaction's own writes, in order: the same rows with the same
//  ids, once, however many commits fail in a row.
static void s_test_redo(const char *dir)
{
    char path[256];
    zb_store_t *store = s_open_in(dir, "redo.db", path, sizeof(path));
    //  A row before, so that the ids below do not start at 1.
    zb_store_outage_t old = {.kind = "host", .host = "old", .started_at_ms = 100};
    int64_t old_id = 0, id1 = 0, id2 = 0, id3 = 0, again = 0, silence_id = 0;
    assert(zb_store_outage_open(store, &old, &old_id, NULL) == 1);
    assert(zb_store_commit(store) == 0);

    zb_store_host_t host = {.name = "web-'1'",
                            .state = "alive",
                            .since_ms = 1000,
                            .instance = "00000000000000a1",
                            .interval_ms = 5000,
                            .last_seen_ms = 1500};
    assert(zb_store_host_put(store, &host) == 0);
    assert(zb_store_host_detector(store, "web-'1'", 7000, 1.0 / 3.0) == 0);
    //  Bound NULL (coalesce keeps the row's), fewer values than parameters.
    assert(zb_store_host_heard(store, "web-'1'", 1600, -1, 0, NULL) == 0);
    zb_store_service_t service = {"web-'1'", "http", "http", "down", 1200, "it's down", NULL, 0};
    assert(zb_store_service_put(store, &service) == 0);
    zb_store_outage_t down = {.kind = "service",
                              .host = "web-'1'",
                              .service = "http",
                              .started_at_ms = 1200,
                              .reason = "it's down",
                              .error = "timeout \xc3\xbc"};
    assert(zb_store_outage_open(store, &down, &id1, NULL) == 1 && id1 == old_id + 1);
    //  Already open: found by a read between the writes, nothing kept of it.
    assert(zb_store_outage_open(store, &down, &again, NULL) == 0 && again == id1);
    zb_store_outage_t gone = {.kind = "host", .host = "web-2", .started_at_ms = 1300};
    assert(zb_store_outage_open(store, &gone, &id2, NULL) == 1 && id2 == id1 + 1);
    assert(zb_store_outage_close(store, id2, 1400, "up") == 1);
    zb_store_silence_t silence = {.host = "web-*", .starts_at_ms = 1000, .ends_at_ms = 9000};
    assert(zb_store_silence_add(store, &silence, &silence_id) == 0);
    size_t big = 300000; // larger than the arena's first 64 KiB
    char *payload = s_payload(big);
    zb_store_alert_t alert = {.id = "a-1",
                              .created_at_ms = 1250,
                              .trigger = "down",
                              .host = "web-'1'",
                              .service = "http",
                              .outage_id = id1,
                              .payload = payload};
    const char *channels[] = {"log", "hook"};
    assert(zb_store_alert_add(store, &alert, channels, 2, false) == 1);
    //  host, detector, heard, service, three outage inserts (the one
    //  ignored is a write too), close, silence, alert, two deliveries.
    const size_t writes = 12;
    assert(store->redo_count == writes);

    //  The commit fails: nothing written, everything kept.
    int refused = 0;
    sqlite3_commit_hook(store->db, s_refuse_commit, &refused);
    assert(zb_store_commit(store) == -1 && refused == 1);
    assert(zb_store_pending(store) && zb_store_kept(store) == writes);
    assert(s_one(path, "SELECT count(*) FROM hosts") == 0);
    assert(s_one(path, "SELECT count(*) FROM outages") == 1);
    //  Fails again with a new write: the kept ones went first and stay
    //  kept, the new one after them.
    zb_store_outage_t third = {.kind = "host", .host = "web-3", .started_at_ms = 1500};
    assert(zb_store_outage_open(store, &third, &id3, NULL) == 1 && id3 == id2 + 1);
    assert(zb_store_commit(store) == -1 && refused == 2);
    assert(zb_store_kept(store) == writes + 1);
    assert(s_one(path, "SELECT count(*) FROM outages") == 1);
    sqlite3_commit_hook(store->db, NULL, NULL);

    //  The next transaction: its own write sees the replayed rows (the
    //  outage opened two transactions ago keeps its id), then commits all.
    assert(zb_store_outage_close(store, id1, 2000, "up") == 1);
    assert(zb_store_commit(store) == 0);
    assert(!zb_store_pending(store) && zb_store_kept(store) == 0 && store->redo_used == 0);
    //  Each row once, exactly as written (the loss to the last bit).
    assert(s_one(path, "SELECT count(*) FROM hosts WHERE name = 'web-''1''' AND state = 'alive' "
                       "AND since_ms = 1000 AND instance = '00000000000000a1' AND "
                       "interval_ms = 5000 AND last_seen_ms = 1600 AND replay_pending IS NULL "
                       "AND silence_threshold_ms = 7000 AND datagram_loss = 1.0 / 3.0") == 1);
    assert(s_one(path, "SELECT count(*) FROM services WHERE host = 'web-''1''' AND name = 'http' "
                       "AND kind = 'http' AND state = 'down' AND since_ms = 1200 AND "
                       "reason = 'it''s down' AND error = '' AND tls_expires_ms IS NULL") == 1);
    assert(s_one(path, "SELECT count(*) FROM outages") == 4);
    assert(s_one(path,
                 "SELECT count(*) FROM outages WHERE id = %lld AND kind = 'service' AND "
                 "host = 'web-''1''' AND service = 'http' AND started_at_ms = 1200 AND "
                 "reason = 'it''s down' AND error = 'timeout \xc3\xbc' AND ended_at_ms = 2000 "
                 "AND end_reason = 'up'",
                 (long long)id1) == 1);
    assert(s_one(path,
                 "SELECT count(*) FROM outages WHERE id = %lld AND host = 'web-2' AND "
                 "service IS NULL AND ended_at_ms = 1400 AND end_reason = 'up'",
                 (long long)id2) == 1);
    assert(s_one(path,
                 "SELECT count(*) FROM outages WHERE id = %lld AND host = 'web-3' AND "
                 "ended_at_ms IS NULL",
                 (long long)id3) == 1);
    assert(s_one(path, "SELECT count(*) FROM silences") == 1);
    assert(s_one(path,
                 "SELECT count(*) FROM silences WHERE id = %lld AND host = 'web-*' AND "
                 "service IS NULL AND starts_at_ms = 1000 AND ends_at_ms = 9000 AND reason = ''",
                 (long long)silence_id) == 1);
    assert(s_one(path, "SELECT count(*) FROM alerts") == 1);
    assert(s_one(path,
                 "SELECT count(*) FROM alerts WHERE id = 'a-1' AND outage_id = %lld AND "
                 "service = 'http' AND length(payload) = %zu AND substr(payload, 1, 3) = 'abc' "
                 "AND substr(payload, -3) = '%s'",
                 (long long)id1, big, payload + big - 3) == 1);
    assert(s_one(path, "SELECT count(*) FROM deliveries WHERE alert_id = 'a-1' AND "
                       "status = 'pending' AND queued_at_ms = 1250") == 2);

    //  Kept writes alone (no new write comes) are retried after a while.
    assert(zb_store_host_heard(store, "web-'1'", 1700, 3, 1650, "00000000000000a1") == 0);
    sqlite3_commit_hook(store->db, s_refuse_commit, &refused);
    assert(zb_store_commit(store) == -1 && zb_store_kept(store) == 1);
    sqlite3_commit_hook(store->db, NULL, NULL);
    store->retry_mono = 0; // the retry is due
    assert(zb_store_commit(store) == 0 && zb_store_kept(store) == 0);
    assert(s_one(path, "SELECT count(*) FROM hosts WHERE last_seen_ms = 1700 AND "
                       "replay_pending = 3 AND replay_reported_ms = 1650 AND "
                       "replay_instance = '00000000000000a1'") == 1);
    free(payload);
    zb_store_destroy(&store);
    zb_store_test_remove(path);
}

//  A table's rows in rowid order, every column as text ("NULL" for none):
//  what a run left, to compare with another run's.
static void s_dump(const char *path, const char *table, char *out, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY rowid", table);
    assert(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    assert(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK);
    size_t len = 0;
    out[0] = '\0';
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(stmt); i++) {
            const char *text = (const char *)sqlite3_column_text(stmt, i);
            len += (size_t)snprintf(out + len, size - len, "%s|", text ? text : "NULL");
            assert(len < size);
        }
        len += (size_t)snprintf(out + len, size - len, "\n");
        assert(len < size);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

//  A one-integer pragma of the store's own connection.
static int64_t s_pragma(zb_store_t *store, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert(sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) == SQLITE_OK);
    assert(sqlite3_step(stmt) == SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static void s_count_rollback(void *arg)
{
    (*(int *)arg)++;
}

static void s_page_limit(zb_store_t *store, int64_t pages)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages);
    assert(sqlite3_exec(store->db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

//  Takes the write lock on a second connection the moment SQLite rolls the
//  store's transaction back (its lock is free by then): the store cannot
//  begin it again.
static void s_take_lock(void *arg)
{
    assert(sqlite3_exec(arg, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
}

//  SQLite rolling the transaction of a pass back by itself (after
//  SQLITE_FULL here; an I/O error does the same). The write that failed is
//  refused (its caller is told) and not kept. The transaction is begun
//  again at once with the writes kept before it, and the pass goes on: the
//  writes after it run where they would have, and say what they did (an
//  outage's id). When it cannot be begun again (locked: another process
//  took the write lock), the writes after it are kept without running (run
//  in autocommit they would commit alone, ahead of the rows they build
//  on), they fail, the commit fails, and the retry applies them all.
//  Either way the database ends up row for row as a clean run of the same
//  writes, the refused one left out: every row once, in order, same ids.
static void s_test_redo_rollback(const char *dir, bool locked)
{
    char path[256], clean_path[256];
    zb_store_t *clean = s_open_in(dir, "clean.db", clean_path, sizeof(clean_path));
    zb_store_t *store = s_open_in(dir, "rollback.db", path, sizeof(path));
    zb_store_outage_t old = {.kind = "host", .host = "old", .started_at_ms = 100};
    zb_store_host_t host = {.name = "web-1",
                            .state = "alive",
                            .since_ms = 1000,
                            .instance = "00000000000000a1",
                            .interval_ms = 5000,
                            .last_seen_ms = 1500};
    zb_store_outage_t down = {.kind = "service",
                              .host = "web-1",
                              .service = "http",
                              .started_at_ms = 1200,
                              .reason = "refused"};
    zb_store_outage_t gone = {.kind = "host", .host = "web-2", .started_at_ms = 1300};
    int64_t old_id = 0, id1 = 0, id2 = 0, clean_id1 = 0, clean_id2 = 0;

    //  The clean run, after a row so that the ids do not start at 1.
    assert(zb_store_outage_open(clean, &old, &old_id, NULL) == 1);
    assert(zb_store_commit(clean) == 0);
    assert(zb_store_host_put(clean, &host) == 0);
    assert(zb_store_outage_open(clean, &down, &clean_id1, NULL) == 1);
    assert(zb_store_outage_close(clean, clean_id1, 2000, "up") == 1);
    assert(zb_store_outage_open(clean, &gone, &clean_id2, NULL) == 1);
    assert(zb_store_host_heard(clean, "web-1", 1600, -1, 0, NULL) == 0);
    assert(zb_store_commit(clean) == 0);
    zb_store_destroy(&clean);

    assert(zb_store_outage_open(store, &old, &old_id, NULL) == 1);
    assert(zb_store_commit(store) == 0);
    //  Room for the small writes of the pass, not for a large one.
    int64_t limit = s_pragma(store, "PRAGMA max_page_count");
    s_page_limit(store, s_pragma(store, "PRAGMA page_count") + 8);
    assert(zb_store_host_put(store, &host) == 0);
    assert(zb_store_outage_open(store, &down, &id1, NULL) == 1 && id1 == clean_id1);
    assert(store->redo_count == 2 && !sqlite3_get_autocommit(store->db));
    sqlite3 *other = NULL;
    if (locked) {
        assert(sqlite3_open(path, &other) == SQLITE_OK);
        sqlite3_rollback_hook(store->db, s_take_lock, other);
    }
    //  A 1 MB alert: SQLITE_FULL. One row inserted OR IGNORE has no
    //  statement journal to undo it alone with, so SQLite rolls the whole
    //  transaction back (the hook says it did).
    char *payload = s_payload(1 << 20);
    zb_store_alert_t alert = {.id = "a-1",
                              .created_at_ms = 1250,
                              .trigger = "down",
                              .host = "web-1",
                              .service = "http",
                              .outage_id = id1,
                              .payload = payload};
    const char *channels[] = {"log"};
    int rolled_back = 0;
    if (!locked)
        sqlite3_rollback_hook(store->db, s_count_rollback, &rolled_back);
    assert(zb_store_alert_add(store, &alert, channels, 1, false) == -1);
    assert(strstr(zb_store_error(store), "database or disk is full"));
    sqlite3_rollback_hook(store->db, NULL, NULL);
    assert(store->redo_count == 2 && store->in_txn); // the refused write is not kept

    //  The pass goes on: the close of an outage opened before the rollback
    //  (run alone, it would find no row), an outage opened after it (run
    //  alone, it would commit on its own under the id of the one rolled
    //  back), a host's last-heard.
    const size_t writes = 5;
    if (!locked) {
        assert(rolled_back == 1 && !sqlite3_get_autocommit(store->db));
        assert(zb_store_outage_close(store, id1, 2000, "up") == 1);
        assert(zb_store_outage_open(store, &gone, &id2, NULL) == 1 && id2 == clean_id2);
        assert(zb_store_host_heard(store, "web-1", 1600, -1, 0, NULL) == 0);
        assert(store->redo_count == writes);
        assert(zb_store_commit(store) == 0);
    } else {
        //  Not begun again (the lock is free again now): each write is
        //  kept, and fails.
        assert(sqlite3_get_autocommit(store->db) && store->redo_broken);
        assert(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(other);
        assert(zb_store_outage_close(store, id1, 2000, "up") == -1);
        assert(strstr(zb_store_error(store), "transaction rolled back after an error"));
        assert(zb_store_outage_open(store, &gone, &id2, NULL) == -1);
        assert(zb_store_host_heard(store, "web-1", 1600, -1, 0, NULL) == -1);
        assert(store->redo_count == writes && sqlite3_get_autocommit(store->db));
        //  The commit fails: nothing was written, everything kept.
        assert(zb_store_commit(store) == -1);
        assert(zb_store_pending(store) && zb_store_kept(store) == writes);
        assert(s_one(path, "SELECT count(*) FROM outages") == 1);
        assert(s_one(path, "SELECT count(*) FROM hosts") == 0);
        //  Room again: the retry.
        s_page_limit(store, limit);
        store->retry_mono = 0; // it is due
        assert(zb_store_commit(store) == 0);
    }
    assert(!zb_store_pending(store) && zb_store_kept(store) == 0 && store->redo_used == 0);
    zb_store_destroy(&store);
    const char *tables[] = {"outages", "hosts", "alerts", "deliveries"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char got[2048], want[2048];
        s_dump(path, tables[i], got, sizeof(got));
        s_dump(clean_path, tables[i], want, sizeof(want));
        if (strcmp(got, want) != 0) {
            printf("%s after the rollback:\n%sa clean run's:\n%s", tables[i], got, want);
            assert(!"the database differs from a clean run's");
        }
    }
    assert(s_one(path, "SELECT count(*) FROM outages") == 3);
    assert(s_one(path,
                 "SELECT count(*) FROM outages WHERE id = %lld AND host = 'web-2' AND "
                 "ended_at_ms IS NULL",
                 (long long)(id1 + 1)) == 1);
    assert(s_one(path,
                 "SELECT count(*) FROM outages WHERE id = %lld AND service = 'http' AND "
                 "ended_at_ms = 2000 AND end_reason = 'up'",
                 (long long)id1) == 1);
    assert(s_one(path, "SELECT last_seen_ms FROM hosts WHERE name = 'web-1'") == 1600);
    free(payload);
    zb_store_test_remove(path);
    zb_store_test_remove(clean_path);
}

static void s_test_grace(const char *dir)
{
    char path[256];
    zb_store_t *store = s_open_in(dir, "grace.db", path, sizeof(path));
    zb_store_outage_t outage = {
        .kind = "service", .host = "web-1", .service = "redis", .started_at_ms = 9000};
    int64_t id = 0;
    assert(zb_store_outage_open(store, &outage, &id, NULL) == 1);
    char alert_id[64];
    snprintf(alert_id, sizeof(alert_id), "web-1/redis/%lld/down", (long long)id);
    zb_store_alert_t alert = {.id = alert_id,
                              .created_at_ms = 10000,
                              .trigger = "down",
                              .host = "web-1",
                              .service = "redis",
                              .outage_id = id,
                              .payload = "{}"};
    const char *channels[] = {"pager", "log"};
    int64_t delays[] = {3000, 0};
    assert(zb_store_alert_add_due(store, &alert, channels, delays, 2, false) == 1);
    assert(zb_store_commit(store) == 0);
    zb_store_delivery_t next = {0};
    assert(zb_store_delivery_next(store, "pager", s_take_delivery, &next) == 0);
    assert(next.next_attempt_at_ms == 13000 && next.queued_at_ms == 10000);
    assert(zb_store_delivery_next(store, "log", s_take_delivery, &next) == 0);
    assert(next.next_attempt_at_ms == 10000);
    //  Due already (log: at once; pager: at 13000): not held back.
    assert(zb_store_delivery_withhold(store, alert_id, "log", 11000, "held back: x") == 0);
    assert(zb_store_delivery_withhold(store, alert_id, "pager", 13000, "held back: x") == 0);
    //  Restated only once sent, while the outage is open.
    int firing = 0;
    assert(zb_store_firing(store, "log", s_count_delivery, &firing) == 0 && firing == 0);
    zb_store_delivery_t sent = {
        .status = "sent", .attempts = 1, .result = 200, .sent_at_ms = 10001};
    assert(zb_store_delivery_update(store, alert_id, "log", &sent) == 0);
    assert(zb_store_firing(store, "log", s_count_delivery, &firing) == 0 && firing == 1);
    //  Not due yet: held back for good, never released by a silence's end.
    assert(zb_store_delivery_withhold(store, alert_id, "pager", 11000, "held back: x") == 1);
    next = (zb_store_delivery_t){0};
    assert(zb_store_delivery_next(store, "pager", s_take_delivery, &next) == 0);
    assert(next.next_attempt_at_ms == 0); // none pending
    assert(zb_store_alert_release(store, alert_id, 12000) == 0);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_outage_close(store, id, 11000, "up") == 1);
    assert(zb_store_commit(store) == 0);
    firing = 0;
    assert(zb_store_firing(store, "log", s_count_delivery, &firing) == 0 && firing == 0);
    zb_store_destroy(&store);
    zb_store_test_remove(path);
}

static int s_count_episode(const zb_store_episode_t *episode, void *arg)
{
    assert(episode->alert_id && episode->kind && episode->host);
    (*(int *)arg)++;
    return 0;
}

//  Episodes (schema 8): recorded once, restated while firing, kept from
//  pruning while firing, pruned once resolved long enough ago.
static void s_test_episodes(const char *dir)
{
    char path[256];
    zb_store_t *store = s_open_in(dir, "episodes.db", path, sizeof(path));
    const char *id = "web-1/web/cert-5000/cert-expiring";
    zb_store_alert_t alert = {.id = id,
                              .created_at_ms = 1000,
                              .trigger = "cert-expiring",
                              .host = "web-1",
                              .service = "web",
                              .payload = "{}"};
    const char *channels[] = {"am"};
    zb_store_episode_t episode = {.alert_id = id,
                                  .kind = "cert",
                                  .host = "web-1",
                                  .service = "web",
                                  .key_ms = 5000,
                                  .fired_at_ms = 1000};
    assert(zb_store_episode_add(store, &episode) == 1);
    assert(zb_store_alert_add(store, &alert, channels, 1, false) == 1);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_episode_add(store, &episode) == 0); // a restarted monitor: known
    int count = 0;
    assert(zb_store_episodes_firing(store, s_count_episode, &count) == 0 && count == 1);
    int firing = 0;
    assert(zb_store_firing(store, "am", s_count_delivery, &firing) == 0 && firing == 0);
    zb_store_delivery_t sent = {.status = "sent", .attempts = 1, .result = 200, .sent_at_ms = 1001};
    assert(zb_store_delivery_update(store, id, "am", &sent) == 0);
    assert(zb_store_firing(store, "am", s_count_delivery, &firing) == 0 && firing == 1);
    //  Firing: its alert outlives retention.
    assert(zb_store_prune(store, 100000, 100) >= 0);
    assert(zb_store_commit(store) == 0);
    firing = 0;
    assert(zb_store_firing(store, "am", s_count_delivery, &firing) == 0 && firing == 1);
    assert(zb_store_episode_resolve(store, id, 9000) == 1);
    assert(zb_store_episode_resolve(store, id, 9001) == 0);
    assert(zb_store_commit(store) == 0);
    count = firing = 0;
    assert(zb_store_episodes_firing(store, s_count_episode, &count) == 0 && count == 0);
    assert(zb_store_firing(store, "am", s_count_delivery, &firing) == 0 && firing == 0);
    assert(zb_store_prune(store, 100000, 100) >= 0);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_episode_add(store, &episode) == 1); // pruned: forgotten
    assert(zb_store_commit(store) == 0);
    zb_store_destroy(&store);
    zb_store_test_remove(path);
}

void zb_store_test(bool verbose)
{
    (void)verbose;
    char dir[] = "/tmp/zb_store_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256], wal[300], shm[300];
    snprintf(path, sizeof(path), "%s/test.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    char err[512];

    //  The schema table is complete and ordered.
    assert(zb_schema_step_count >= 1);
    for (int i = 0; i < zb_schema_step_count; i++)
        assert(zb_schema_steps[i].version == i + 1);

    //  Read-only open of a missing file: a clear message, no file created.
    zb_store_t *store = zb_store_open_readonly(path, err, sizeof(err));
    assert(!store);
    assert(strstr(err, "no such database"));
    struct stat st;
    assert(stat(path, &st) != 0);

    //  Create: schema applied.
    store = zb_store_open(path, err, sizeof(err));
    assert(store);
    assert(zb_store_version(store) == zb_store_latest_version());

    zb_store_host_t host = {"web-1", "alive", 1000, "0123456789abcdef", 1000, 1500, -1, 0,
                            "",      0,       -1};
    assert(zb_store_host_put(store, &host) == 0);
    //  The detector's columns: NULL until written, loss NULL for ZeroMQ only.
    assert(zb_store_host_detector(store, "web-1", 1250, 0.125) == 0);
    host.state = "silent";
    assert(zb_store_host_put(store, &host) == 0); // upsert
    zb_store_service_t service = {"web-1", "redis",   "probe", "down",
                                  2000,    "refused", "nope",  1798761600000};
    assert(zb_store_service_put(store, &service) == 0);
    service.name = "gone";
    service.tls_expires_ms = 0;
    assert(zb_store_service_put(store, &service) == 0);
    assert(zb_store_service_delete(store, "web-1", "gone") == 0);
    assert(zb_store_instance_put(store, "web-1", "0123456789abcdef", 1000, 5) == 0);
    assert(zb_store_instance_put(store, "web-1", "0123456789abcdef", 1000, 3) == 0);

    //  One open outage per service: the second open returns the first.
    zb_store_outage_t outage = {.kind = "service",
                                .host = "web-1",
                                .service = "redis",
                                .started_at_ms = 2000,
                                .reason = "refused"};
    int64_t id = 0, id2 = 0, started = 0;
    assert(zb_store_outage_open(store, &outage, &id, &started) == 1);
    assert(id > 0 && started == 2000);
    outage.started_at_ms = 2500;
    assert(zb_store_outage_open(store, &outage, &id2, &started) == 0);
    assert(id2 == id && started == 2000);
    //  A host outage for the same host is a different outage.
    zb_store_outage_t host_outage = {
        .kind = "host", .host = "web-1", .started_at_ms = 1500, .reason = "silent"};
    int64_t host_id = 0;
    assert(zb_store_outage_open(store, &host_outage, &host_id, NULL) == 1);
    assert(zb_store_outage_open(store, &host_outage, &id2, NULL) == 0 && id2 == host_id);
    //  A bad kind is an error, not a silent no-op.
    zb_store_outage_t bad = {.kind = "bogus", .host = "web-1", .started_at_ms = 1};
    assert(zb_store_outage_open(store, &bad, &id2, NULL) == -1);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_commit(store) == 0); // nothing open: no-op

    //  Close: once only; end never before start.
    assert(zb_store_outage_close(store, id, 1000, "up") == 1);
    assert(zb_store_outage_close(store, id, 9000, "up") == 0);
    assert(zb_store_commit(store) == 0);
    //  After closing, a new outage for the same service can open.
    outage.started_at_ms = 10000;
    int64_t id3 = 0;
    assert(zb_store_outage_open(store, &outage, &id3, NULL) == 1 && id3 != id);
    assert(zb_store_commit(store) == 0);

    //  A reader sees committed data while the writer is open (WAL).
    zb_store_t *reader = zb_store_open_readonly(path, err, sizeof(err));
    assert(reader);
    s_collect_t collect = {0};
    zb_store_query_t query;
    zb_store_query_init(&query);
    assert(zb_store_outages(reader, &query, s_collect_outage, &collect) == 0);
    assert(collect.count == 3);
    //  Newest first.
    assert(s_streq(collect.text, "web-1/redis:open;web-1/redis:closed;web-1/-:open;") ||
           (printf("%s\n", collect.text), 0));
    memset(&collect, 0, sizeof(collect));
    query.open_only = true;
    query.service = "redis";
    assert(zb_store_outages(reader, &query, s_collect_outage, &collect) == 0);
    assert(collect.count == 1);
    memset(&collect, 0, sizeof(collect));
    zb_store_query_init(&query);
    query.since_ms = 5000; // the closed one ended at 2000 (clamped to its start)
    query.limit = 10;
    assert(zb_store_outages(reader, &query, s_collect_outage, &collect) == 0);
    assert(collect.count == 2);
    memset(&collect, 0, sizeof(collect));
    zb_store_query_init(&query);
    query.until_ms = 1999;
    assert(zb_store_outages(reader, &query, s_collect_outage, &collect) == 0);
    assert(collect.count == 1 && s_streq(collect.text, "web-1/-:open;"));

    memset(&collect, 0, sizeof(collect));
    assert(zb_store_status(reader, s_collect_status, &collect) == 0);
    assert(s_streq(collect.text, "web-1/-=silent;web-1/redis=down@1798761600000;"));

    //  The per-host query runs on an index.
    memset(&collect, 0, sizeof(collect));
    zb_store_query_init(&query);
    query.host = "web-1";
    query.since_ms = 0;
    query.until_ms = 100000;
    assert(zb_store_outages_plan(reader, &query, s_collect_text, &collect) == 0);
    assert(strstr(collect.text, "USING INDEX") || (printf("%s\n", collect.text), 0));
    assert(!strstr(collect.text, "SCAN outages;"));

    //  A callback's non-zero return stops the walk and is returned.
    int calls = 0;
    assert(zb_store_hosts(reader, s_stop_at_first, &calls) == 7 && calls == 1);
    //  One host by name (GET /api/v1/hosts?host=...): none for a stranger.
    assert(zb_store_host_get(reader, "web-1", s_stop_at_first, &calls) == 7 && calls == 2);
    assert(zb_store_host_get(reader, "web-0", s_stop_at_first, &calls) == 0 && calls == 2);

    //  Schema 5: no monitor row yet; then one, and the hosts' replay reports
    //  summed up (web-1 is silent: not counted as unreported).
    zb_store_monitor_t got = {.pid = 0};
    assert(zb_store_monitor(reader, s_copy_monitor, &got) == 0 && got.pid == 0);
    zb_store_monitor_t row = {.pid = 42,
                              .hostname = "mon",
                              .version = "1",
                              .started_at_ms = 5000,
                              .heartbeat_at_ms = 6000,
                              .heartbeat_ms = 5000,
                              .stopped_at_ms = -1};
    assert(zb_store_monitor_put(store, &row) == 0);
    //  A report of another agent run than the host's current one is ignored.
    assert(zb_store_host_heard(store, "web-1", 1600, 99, 4000, "00000000000000ff") == 0);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_monitor(reader, s_copy_monitor, &got) == 0 && got.hosts_replaying == 0);
    assert(zb_store_host_heard(store, "web-1", 1600, 37, 4000, "0123456789abcdef") == 0);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_monitor(reader, s_copy_monitor, &got) == 0);
    assert(got.pid == 42 && got.started_at_ms == 5000 && got.heartbeat_at_ms == 6000);
    assert(got.stopped_at_ms == -1 && got.heartbeat_ms == 5000);
    assert(got.hosts_replaying == 1 && got.transitions_pending == 37 && got.hosts_unreported == 0);
    //  pending -1 keeps the report; a clean stop is recorded.
    row.stopped_at_ms = 7000;
    assert(zb_store_monitor_put(store, &row) == 0);
    assert(zb_store_host_heard(store, "web-1", 1700, -1, 0, NULL) == 0);
    assert(zb_store_kept(store) == 0);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_monitor(reader, s_copy_monitor, &got) == 0);
    assert(got.stopped_at_ms == 7000 && got.transitions_pending == 37);
    assert(zb_store_host_heard(store, "web-1", 1700, 0, 4100, "0123456789abcdef") == 0);
    assert(zb_store_commit(store) == 0);
    assert(zb_store_monitor(reader, s_copy_monitor, &got) == 0);
    assert(got.hosts_replaying == 0 && got.transitions_pending == 0);
    zb_store_destroy(&reader);
    assert(!reader);

    //  zb_store_begin: a pass that writes nothing is not pending. Another
    //  connection's write lock makes it fail (after the busy timeout,
    //  shortened here) with nothing open; the pass can then wait.
    assert(zb_store_begin(store) == 0 && !zb_store_pending(store));
    assert(zb_store_commit(store) == 0);
    sqlite3 *other = NULL;
    assert(sqlite3_open(path, &other) == SQLITE_OK);
    assert(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_busy_timeout(store->db, 20);
    assert(zb_store_begin(store) == -1 && strstr(zb_store_error(store), "locked"));
    assert(!store->in_txn && !zb_store_pending(store) && zb_store_commit(store) == 0);
    //  zb_store_try_begin: the same lock fails it at once (no busy wait).
    sqlite3_busy_timeout(store->db, ZB_STORE_BUSY_MS);
    int64_t tried = zb_time_mono_ms();
    assert(zb_store_try_begin(store) == -2 && !store->in_txn);
    assert(zb_time_mono_ms() - tried < ZB_STORE_BUSY_MS / 2);
    assert(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(other);
    sqlite3_busy_timeout(store->db, ZB_STORE_BUSY_MS);
    assert(zb_store_try_begin(store) == 0 && zb_store_begin(store) == 0);
    assert(zb_store_host_heard(store, "web-1", 1800, -1, 0, NULL) == 0);
    assert(zb_store_pending(store) && zb_store_commit(store) == 0 && !zb_store_pending(store));

    //  Prune: only outages ended before the cutoff.
    assert(zb_store_prune(store, 3000, 100) == 1);
    assert(zb_store_prune(store, 3000, 100) == 0);
    assert(zb_store_commit(store) == 0);
    zb_store_destroy(&store);
    assert(!store);
    zb_store_destroy(&store); // NULL is fine

    //  Reopen: the data persisted, the schema is not applied twice.
    store = zb_store_open(path, err, sizeof(err));
    assert(store);
    memset(&collect, 0, sizeof(collect));
    assert(zb_store_open_outages(store, s_collect_outage, &collect) == 0);
    assert(collect.count == 2);

    //  Forgotten: the current state goes, the open outages end as
    //  "forgotten", the history stays; the monitor's list says whom.
    assert(zb_store_host_forget(store, "web-1", 20000) == 1);
    assert(zb_store_forget_ask(store, "web-1", 20000) == 0);
    assert(zb_store_commit(store) == 0);
    memset(&collect, 0, sizeof(collect));
    assert(zb_store_status(store, s_collect_status, &collect) == 0);
    assert(collect.count == 0);
    assert(zb_store_open_outages(store, s_collect_outage, &collect) == 0);
    assert(collect.count == 0);
    zb_store_query_init(&query);
    assert(zb_store_outages(store, &query, s_collect_outage, &collect) == 0);
    assert(collect.count == 2 && strstr(collect.text, "closed"));
    memset(&collect, 0, sizeof(collect));
    assert(zb_store_forgotten(store, s_collect_text, &collect) == 0);
    assert(s_streq(collect.text, "web-1;"));
    assert(zb_store_host_forget(store, "web-1", 20000) == 0); // again: nothing left
    assert(zb_store_forget_done(store, "web-1") == 0);
    assert(zb_store_commit(store) == 0);
    memset(&collect, 0, sizeof(collect));
    assert(zb_store_forgotten(store, s_collect_text, &collect) == 0 && collect.count == 0);
    zb_store_destroy(&store);

    //  The database says it is zbeat's; a database of zbeat from before
    //  application_id (0, with zbeat's tables) is still ours, and stamped
    //  by the next writer.
    assert(s_application_id(path) == ZB_STORE_APPLICATION_ID);
    s_sql(path, "PRAGMA application_id = 0");
    zb_store_t *old = zb_store_open_readonly(path, err, sizeof(err));
    assert(old || (printf("%s\n", err), 0));
    zb_store_destroy(&old);
    store = zb_store_open(path, err, sizeof(err));
    assert(store);
    zb_store_destroy(&store);
    assert(s_application_id(path) == ZB_STORE_APPLICATION_ID);

    //  Another application's id: refused by writers and readers alike.
    s_sql(path, "PRAGMA application_id = 42");
    assert(!zb_store_open(path, err, sizeof(err)) && strstr(err, "not a zbeat database") &&
           strstr(err, "application_id 0x0000002a"));
    assert(!zb_store_open_readonly(path, err, sizeof(err)) && strstr(err, "not a zbeat database"));
    assert(!zb_store_open_existing(path, err, sizeof(err)) && strstr(err, "not a zbeat database"));
    s_sql(path, "PRAGMA application_id = " ZB_STORE_STR(ZB_STORE_APPLICATION_ID));

    //  A database from the future is refused, by writers and readers.
    s_sql(path, "PRAGMA user_version = 999");
    assert(!zb_store_open(path, err, sizeof(err)) && strstr(err, "newer"));
    assert(!zb_store_open_readonly(path, err, sizeof(err)) && strstr(err, "newer"));

    //  Garbage is not a database.
    FILE *file = fopen(path, "w");
    assert(file);
    fputs("this is not sqlite, just text that is long enough to look like a header......\n", file);
    fclose(file);
    remove(wal);
    remove(shm);
    assert(!zb_store_open_readonly(path, err, sizeof(err)));
    assert(!zb_store_open(path, err, sizeof(err)));

    //  An empty file opened read-only: no schema.
    file = fopen(path, "w");
    assert(file);
    fclose(file);
    assert(!zb_store_open_readonly(path, err, sizeof(err)) && strstr(err, "not a zbeat database"));

    //  Another application's SQLite file without a user_version: the
    //  writer adds no schema to it, and says why.
    remove(path);
    s_sql(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); "
                "INSERT INTO notes (text) VALUES ('mine')");
    assert(!zb_store_open(path, err, sizeof(err)) && strstr(err, "not a zbeat database") &&
           strstr(err, "another application's tables"));
    assert(!zb_store_open_readonly(path, err, sizeof(err)) && strstr(err, "not a zbeat database"));
    assert(s_table_count(path) == 1 && s_application_id(path) == 0);
    //  ...nor one that has a user_version of its own.
    s_sql(path, "PRAGMA user_version = 2");
    assert(!zb_store_open(path, err, sizeof(err)) && strstr(err, "no zbeat tables"));
    assert(s_table_count(path) == 1);

    //  A file the writer may not write (not for root, whom modes do not
    //  stop; tests/integration/test_store_access.py runs it as nobody).
    remove(path);
    store = zb_store_open(path, err, sizeof(err));
    assert(store);
    zb_store_destroy(&store);
    if (geteuid() != 0) {
        assert(chmod(path, 0444) == 0);
        assert(!zb_store_open(path, err, sizeof(err)) && strstr(err, "read-only"));
        reader = zb_store_open_readonly(path, err, sizeof(err));
        assert(reader);
        zb_store_destroy(&reader);
    }

    s_test_grace(dir);
    s_test_episodes(dir);
    s_test_services_quiet(dir);
    s_test_redo(dir);
    s_test_redo_rollback(dir, false);
    s_test_redo_rollback(dir, true);
    zb_store_test_remove(path);
    assert(rmdir(dir) == 0 || (printf("rmdir %s: %s\n", dir, strerror(errno)), 0));
}
