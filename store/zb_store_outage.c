/*  zb_store_outage: outages (open, close, flag), the replay of agent
    journals behind what the monitor knows, retention (prune), and the
    outage queries (`zbeat outages`, with its EXPLAIN). See zb_store.h.
*/
#include "zb_store_internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int zb_store_outage_open(zb_store_t *self, const zb_store_outage_t *outage, int64_t *id_p,
                         int64_t *started_p)
{
    assert(self && outage && outage->kind && outage->host && id_p);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_OUTAGE_INSERT, 1, outage->kind);
    zb_store_bind_text(self, S_OUTAGE_INSERT, 2, outage->host);
    zb_store_bind_text(self, S_OUTAGE_INSERT, 3, outage->service);
    zb_store_bind_int64(self, S_OUTAGE_INSERT, 4, outage->started_at_ms);
    zb_store_bind_text(self, S_OUTAGE_INSERT, 5, outage->reason ? outage->reason : "");
    zb_store_bind_text(self, S_OUTAGE_INSERT, 6, outage->error ? outage->error : "");
    zb_store_bind_text(self, S_OUTAGE_INSERT, 7, outage->instance ? outage->instance : "");
    zb_store_bind_int64(self, S_OUTAGE_INSERT, 8, outage->silenced ? 1 : 0);
    zb_store_bind_int64(self, S_OUTAGE_INSERT, 9, outage->notified ? 1 : 0);
    if (zb_store_step(self, S_OUTAGE_INSERT) != 0)
        return -1;
    if (sqlite3_changes(self->db) == 1) {
        *id_p = sqlite3_last_insert_rowid(self->db);
        if (started_p)
            *started_p = outage->started_at_ms;
        return 1;
    }
    sqlite3_stmt *stmt = self->stmt[S_OUTAGE_FIND_OPEN];
    zb_store_bind_text(self, S_OUTAGE_FIND_OPEN, 1, outage->host);
    zb_store_bind_text(self, S_OUTAGE_FIND_OPEN, 2, outage->kind);
    zb_store_bind_text(self, S_OUTAGE_FIND_OPEN, 3, outage->service ? outage->service : "");
    int rc = sqlite3_step(stmt);
    int result = 0;
    if (rc == SQLITE_ROW) {
        *id_p = sqlite3_column_int64(stmt, 0);
        if (started_p)
            *started_p = sqlite3_column_int64(stmt, 1);
    } else if (rc == SQLITE_DONE) {
        //  Ignored, yet nothing open: a CHECK constraint (bad kind) failed.
        zb_store_set_error(self, "%s: outage for %s not recorded (invalid row)", self->path,
                           outage->host);
        result = -1;
    } else
        result = zb_store_fail(self, "find open outage");
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return result;
}

int zb_store_replay_key(zb_store_t *self, const char *host, const char *instance, uint64_t seq,
                        int64_t now_ms)
{
    assert(self && host && instance);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_REPLAY_INSERT, 1, host);
    zb_store_bind_text(self, S_REPLAY_INSERT, 2, instance);
    zb_store_bind_int64(self, S_REPLAY_INSERT, 3, (int64_t)seq);
    zb_store_bind_int64(self, S_REPLAY_INSERT, 4, now_ms);
    if (zb_store_step(self, S_REPLAY_INSERT) != 0)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 1 : 0;
}
int zb_store_replay_covered(zb_store_t *self, const char *host, const char *service, int64_t at_ms)
{
    assert(self && host && service);
    if (zb_store_write_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_HISTORY_FIND];
    zb_store_bind_text(self, S_HISTORY_FIND, 1, host);
    zb_store_bind_text(self, S_HISTORY_FIND, 2, service);
    zb_store_bind_int64(self, S_HISTORY_FIND, 3, at_ms);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : zb_store_fail(self, "find outage");
}

//  The end a replayed down's outage takes: a replayed end that came before
//  it (schema/009), taken from the table, or bound_ms, provisional. Sets
//  *reason_p to the end's reason, "" for the provisional one.
static int s_replay_down_end(zb_store_t *self, const zb_store_outage_t *outage, int64_t bound_ms,
                             int64_t *end_p, char *reason, size_t size)
{
    sqlite3_stmt *stmt = self->stmt[S_REPLAY_END_FIND];
    zb_store_bind_text(self, S_REPLAY_END_FIND, 1, outage->host);
    zb_store_bind_text(self, S_REPLAY_END_FIND, 2, outage->service);
    zb_store_bind_int64(self, S_REPLAY_END_FIND, 3, outage->started_at_ms);
    zb_store_bind_int64(self, S_REPLAY_END_FIND, 4, bound_ms);
    int rc = sqlite3_step(stmt);
    *end_p = bound_ms;
    reason[0] = '\0';
    if (rc == SQLITE_ROW) {
        *end_p = sqlite3_column_int64(stmt, 0);
        const unsigned char *text = sqlite3_column_text(stmt, 1);
        snprintf(reason, size, "%s", text ? (const char *)text : "up");
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : zb_store_fail(self, "find replayed end");
    zb_store_bind_text(self, S_REPLAY_END_TAKE, 1, outage->host);
    zb_store_bind_text(self, S_REPLAY_END_TAKE, 2, outage->service);
    zb_store_bind_int64(self, S_REPLAY_END_TAKE, 3, *end_p);
    return zb_store_step(self, S_REPLAY_END_TAKE);
}

int zb_store_replay_down(zb_store_t *self, const zb_store_outage_t *outage, int64_t bound_ms)
{
    assert(self && outage && outage->host && outage->service);
    int covered =
        zb_store_replay_covered(self, outage->host, outage->service, outage->started_at_ms);
    if (covered != 0)
        return covered == 1 ? 0 : -1;
    int64_t end = bound_ms;
    char end_reason[64];
    if (s_replay_down_end(self, outage, bound_ms, &end, end_reason, sizeof(end_reason)) != 0)
        return -1;
    zb_store_bind_text(self, S_HISTORY_INSERT, 1, outage->host);
    zb_store_bind_text(self, S_HISTORY_INSERT, 2, outage->service);
    zb_store_bind_int64(self, S_HISTORY_INSERT, 3, outage->started_at_ms);
    zb_store_bind_int64(self, S_HISTORY_INSERT, 4, end);
    zb_store_bind_text(self, S_HISTORY_INSERT, 5, outage->reason ? outage->reason : "");
    zb_store_bind_text(self, S_HISTORY_INSERT, 6, outage->error ? outage->error : "");
    zb_store_bind_text(self, S_HISTORY_INSERT, 7, outage->instance ? outage->instance : "");
    if (end_reason[0])
        zb_store_bind_text(self, S_HISTORY_INSERT, 8, end_reason);
    if (zb_store_step(self, S_HISTORY_INSERT) != 0)
        return -1;
    return 1;
}

int zb_store_replay_end(zb_store_t *self, const char *host, const char *service, int64_t at_ms,
                        const char *end_reason)
{
    assert(self && host && service && end_reason);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_HISTORY_END, 1, host);
    zb_store_bind_text(self, S_HISTORY_END, 2, service);
    zb_store_bind_int64(self, S_HISTORY_END, 3, at_ms);
    zb_store_bind_text(self, S_HISTORY_END, 4, end_reason);
    if (zb_store_step(self, S_HISTORY_END) != 0)
        return -1;
    if (sqlite3_changes(self->db) > 0)
        return 1;
    //  Nothing to end: its down may still come (replayed out of order).
    zb_store_bind_text(self, S_REPLAY_END_KEEP, 1, host);
    zb_store_bind_text(self, S_REPLAY_END_KEEP, 2, service);
    zb_store_bind_int64(self, S_REPLAY_END_KEEP, 3, at_ms);
    zb_store_bind_text(self, S_REPLAY_END_KEEP, 4, end_reason);
    return zb_store_step(self, S_REPLAY_END_KEEP) != 0 ? -1 : 0;
}

int zb_store_replay_split(zb_store_t *self, const zb_store_outage_t *outage, int64_t *cut_id_p,
                          int64_t *new_id_p)
{
    assert(self && outage && outage->host && outage->service && cut_id_p && new_id_p);
    if (zb_store_write_begin(self) != 0)
        return -1;
    int64_t at = outage->started_at_ms;
    sqlite3_stmt *stmt = self->stmt[S_HISTORY_SPAN];
    zb_store_bind_text(self, S_HISTORY_SPAN, 1, outage->host);
    zb_store_bind_text(self, S_HISTORY_SPAN, 2, outage->service);
    zb_store_bind_int64(self, S_HISTORY_SPAN, 3, at);
    int rc = sqlite3_step(stmt);
    int64_t id = 0, started = at, ended = -1;
    char end_reason[64] = "";
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(stmt, 0);
        started = sqlite3_column_int64(stmt, 1);
        if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
            ended = sqlite3_column_int64(stmt, 2);
        const unsigned char *reason = sqlite3_column_text(stmt, 3);
        snprintf(end_reason, sizeof(end_reason), "%s", reason ? (const char *)reason : "");
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return zb_store_fail(self, "find outage");
    //  None, or one that began at this very down (heard live, or replayed
    //  before): nothing merged.
    if (rc == SQLITE_DONE || started >= at)
        return 0;
    zb_store_bind_int64(self, S_HISTORY_CUT, 1, id);
    zb_store_bind_int64(self, S_HISTORY_CUT, 2, at);
    if (zb_store_step(self, S_HISTORY_CUT) != 0)
        return -1;
    zb_store_bind_text(self, S_HISTORY_SPLIT, 1, outage->host);
    zb_store_bind_text(self, S_HISTORY_SPLIT, 2, outage->service);
    zb_store_bind_int64(self, S_HISTORY_SPLIT, 3, at);
    if (ended >= 0)
        zb_store_bind_int64(self, S_HISTORY_SPLIT, 4, ended);
    zb_store_bind_text(self, S_HISTORY_SPLIT, 5, outage->reason ? outage->reason : "");
    zb_store_bind_text(self, S_HISTORY_SPLIT, 6, outage->error ? outage->error : "");
    if (end_reason[0])
        zb_store_bind_text(self, S_HISTORY_SPLIT, 7, end_reason);
    zb_store_bind_text(self, S_HISTORY_SPLIT, 8, outage->instance ? outage->instance : "");
    if (zb_store_step(self, S_HISTORY_SPLIT) != 0)
        return -1;
    *cut_id_p = id;
    *new_id_p = sqlite3_last_insert_rowid(self->db);
    return 1;
}

int zb_store_outage_close(zb_store_t *self, int64_t id, int64_t ended_at_ms, const char *end_reason)
{
    assert(self && end_reason);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_int64(self, S_OUTAGE_CLOSE, 1, id);
    zb_store_bind_int64(self, S_OUTAGE_CLOSE, 2, ended_at_ms);
    zb_store_bind_text(self, S_OUTAGE_CLOSE, 3, end_reason);
    if (zb_store_step(self, S_OUTAGE_CLOSE) != 0)
        return -1;
    return sqlite3_changes(self->db) > 0 ? 1 : 0;
}

int zb_store_prune(zb_store_t *self, int64_t before_ms, int batch)
{
    assert(self && batch > 0);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_int64(self, S_PRUNE_OUTAGES, 1, before_ms);
    zb_store_bind_int64(self, S_PRUNE_OUTAGES, 2, batch);
    if (zb_store_step(self, S_PRUNE_OUTAGES) != 0)
        return -1;
    int deleted = sqlite3_changes(self->db);
    zb_store_bind_int64(self, S_PRUNE_INSTANCES, 1, before_ms);
    if (zb_store_step(self, S_PRUNE_INSTANCES) != 0)
        return -1;
    zb_store_bind_int64(self, S_PRUNE_REPLAYED, 1, before_ms);
    if (zb_store_step(self, S_PRUNE_REPLAYED) != 0)
        return -1;
    zb_store_bind_int64(self, S_PRUNE_REPLAY_ENDS, 1, before_ms);
    if (zb_store_step(self, S_PRUNE_REPLAY_ENDS) != 0)
        return -1;
    zb_store_bind_int64(self, S_PRUNE_EPISODES, 1, before_ms);
    if (zb_store_step(self, S_PRUNE_EPISODES) != 0)
        return -1;
    for (int which = S_PRUNE_DELIVERIES; which <= S_PRUNE_ALERTS; which++) {
        zb_store_bind_int64(self, which, 1, before_ms);
        zb_store_bind_int64(self, which, 2, batch);
        if (zb_store_step(self, which) != 0)
            return -1;
    }
    return deleted + sqlite3_changes(self->db);
}
static int s_outage_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    bool open = sqlite3_column_type(stmt, 5) == SQLITE_NULL;
    zb_store_outage_t outage = {
        .id = sqlite3_column_int64(stmt, 0),
        .kind = zb_store_text(stmt, 1),
        .host = zb_store_text(stmt, 2),
        .service = zb_store_text_or_null(stmt, 3),
        .started_at_ms = sqlite3_column_int64(stmt, 4),
        .ended_at_ms = open ? -1 : sqlite3_column_int64(stmt, 5),
        .reason = zb_store_text(stmt, 6),
        .error = zb_store_text(stmt, 7),
        .end_reason = zb_store_text_or_null(stmt, 8),
        .instance = zb_store_text(stmt, 9),
        .silenced = sqlite3_column_int(stmt, 10) != 0,
        .notified = sqlite3_column_int(stmt, 11) != 0,
    };
    return ((zb_store_outage_fn *)fn)(&outage, arg);
}
int zb_store_open_outages(zb_store_t *self, zb_store_outage_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_OPEN_OUTAGES], "open outages", s_outage_row, (void *)fn,
                         arg);
}
void zb_store_query_init(zb_store_query_t *query)
{
    assert(query);
    memset(query, 0, sizeof(*query));
    query->since_ms = ZB_STORE_NO_TIME;
    query->until_ms = ZB_STORE_NO_TIME;
}

//  The outage query is composed per call from fixed fragments, because the
//  planner can use an index only for the filters that are really there
//  (`?1 IS NULL OR host = ?1` would defeat it). Values are still bound.
static int s_outages_prepare(zb_store_t *self, const zb_store_query_t *query, bool explain,
                             sqlite3_stmt **stmt_p)
{
    char sql[1024];
    size_t len = 0;
    const char *glue = " WHERE ";
    len += snprintf(sql + len, sizeof(sql) - len, "%sSELECT " S_OUTAGE_COLUMNS " FROM outages",
                    explain ? "EXPLAIN QUERY PLAN " : "");
#define S_WHERE(cond)                                                                              \
    do {                                                                                           \
        len += snprintf(sql + len, sizeof(sql) - len, "%s%s", glue, cond);                         \
        glue = " AND ";                                                                            \
    } while (0)
    if (query->host)
        S_WHERE("host = :host");
    if (query->service)
        S_WHERE("service = :service");
    if (query->until_ms != ZB_STORE_NO_TIME)
        S_WHERE("started_at_ms <= :until");
    if (query->since_ms != ZB_STORE_NO_TIME)
        S_WHERE("ifnull(ended_at_ms, 9223372036854775807) >= :since"); // schema/003
    if (query->open_only)
        S_WHERE("ended_at_ms IS NULL");
#undef S_WHERE
    //  Open outages are few, and so are those that ended since a recent
    //  time: find them through the partial or the ended-at index and sort,
    //  rather than walk the host's whole started_at_ms index in order ("+"
    //  keeps the planner from using an index for the ORDER BY).
    bool few = query->open_only || query->since_ms != ZB_STORE_NO_TIME;
    len += snprintf(sql + len, sizeof(sql) - len, " ORDER BY %sstarted_at_ms DESC, id DESC",
                    few ? "+" : "");
    if (query->limit > 0)
        len += snprintf(sql + len, sizeof(sql) - len, " LIMIT :limit");
    assert(len < sizeof(sql));

    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return zb_store_fail(self, "outages");
    //  Not a fixed statement, nor a write: bound directly. A filter not
    //  asked for has no parameter, and index 0 binds nothing.
    if (query->host)
        sqlite3_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":host"), query->host, -1,
                          SQLITE_STATIC);
    if (query->service)
        sqlite3_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":service"), query->service, -1,
                          SQLITE_STATIC);
    sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":until"), query->until_ms);
    sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":since"), query->since_ms);
    sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":limit"), query->limit);
    *stmt_p = stmt;
    return 0;
}

int zb_store_outages(zb_store_t *self, const zb_store_query_t *query, zb_store_outage_fn *fn,
                     void *arg)
{
    assert(self && query && fn);
    sqlite3_stmt *stmt = NULL;
    if (s_outages_prepare(self, query, false, &stmt) != 0)
        return -1;
    int result = zb_store_walk(self, stmt, "outages", s_outage_row, (void *)fn, arg);
    sqlite3_finalize(stmt);
    return result;
}

static int s_plan_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    //  Columns: id, parent, notused, detail.
    return ((zb_store_text_fn *)fn)(zb_store_text(stmt, 3), arg);
}

int zb_store_outages_plan(zb_store_t *self, const zb_store_query_t *query, zb_store_text_fn *fn,
                          void *arg)
{
    assert(self && query && fn);
    sqlite3_stmt *stmt = NULL;
    if (s_outages_prepare(self, query, true, &stmt) != 0)
        return -1;
    int result = zb_store_walk(self, stmt, "outages plan", s_plan_row, (void *)fn, arg);
    sqlite3_finalize(stmt);
    return result;
}
int zb_store_outage_flag(zb_store_t *self, int64_t id, bool notified, bool silenced)
{
    assert(self);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_int64(self, S_OUTAGE_FLAG, 1, id);
    zb_store_bind_int64(self, S_OUTAGE_FLAG, 2, notified ? 1 : 0);
    zb_store_bind_int64(self, S_OUTAGE_FLAG, 3, silenced ? 1 : 0);
    return zb_store_step(self, S_OUTAGE_FLAG);
}
