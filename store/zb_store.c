/*  zb_store: the monitor's SQLite database. See zb_store.h.

    Every fixed statement is prepared once when the store opens and reset
    after each use; values are always bound, never formatted into SQL.
*/
#include "zb_store.h"
#include "zb_log.h"
#include "zb_time.h"
#include "zb_schema.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  How long a statement waits for a lock held by another connection (a
//  checkpoint, a backup) before it fails.
#define ZB_STORE_BUSY_MS 5000

//  The fixed statements, prepared at open. Reads come first: a read-only
//  store prepares only those.
enum {
    S_HOSTS,
    S_SERVICES,
    S_OPEN_OUTAGES,
    S_STATUS,
    S_ALERT_GET,
    S_DELIVERIES,
    S_SILENCES,
    S_MONITOR,
    S_READ_COUNT, // writers' statements follow
    S_BEGIN = S_READ_COUNT,
    S_COMMIT,
    S_ROLLBACK,
    S_HOST_PUT,
    S_SERVICE_PUT,
    S_SERVICE_DELETE,
    S_INSTANCE_PUT,
    S_OUTAGE_INSERT,
    S_OUTAGE_FIND_OPEN,
    S_OUTAGE_CLOSE,
    S_PRUNE_OUTAGES,
    S_PRUNE_INSTANCES,
    S_PRUNE_DELIVERIES,
    S_PRUNE_ALERTS,
    S_OUTAGE_FLAG,
    S_ALERT_INSERT,
    S_DELIVERY_INSERT,
    S_ALERT_RELEASE,
    S_DELIVERY_NEXT,
    S_DELIVERY_UPDATE,
    S_SILENCE_INSERT,
    S_SILENCE_END,
    S_REPLAY_INSERT,
    S_HISTORY_FIND,
    S_HISTORY_INSERT,
    S_HISTORY_END,
    S_PRUNE_REPLAYED,
    S_INSTANCE_SEQ,
    S_MONITOR_PUT,
    S_HOST_HEARD,
    S_COUNT
};

#define S_OUTAGE_COLUMNS                                                                           \
    "id, kind, host, service, started_at_ms, ended_at_ms, reason, error, end_reason, instance, "   \
    "silenced, notified"

//  An alert and one of its deliveries (NULLs when it has none).
#define S_DELIVERY_COLUMNS                                                                         \
    "a.seq, a.id, a.created_at_ms, a.trigger, a.host, a.service, a.outage_id, a.payload, "         \
    "d.channel, d.status, d.attempts, d.next_attempt_at_ms, d.last_error, d.result, "              \
    "d.sent_at_ms, "                                                                               \
    "d.queued_at_ms"

//  Alerts old enough to prune and with nothing left to deliver; the same
//  set for both prune statements (deliveries first).
#define S_PRUNABLE_ALERTS                                                                          \
    "SELECT id FROM alerts WHERE created_at_ms < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d "   \
    "WHERE d.alert_id = alerts.id AND d.status = 'pending') ORDER BY seq LIMIT ?2"

static const char *const s_sql[S_COUNT] = {
    [S_HOSTS] = "SELECT name, state, since_ms, instance, interval_ms, last_seen_ms, "
                "ifnull(replay_pending, -1), replay_reported_ms, replay_instance "
                "FROM hosts ORDER BY name",
    [S_SERVICES] = "SELECT host, name, kind, state, since_ms, reason, error "
                   "FROM services ORDER BY host, name",
    [S_OPEN_OUTAGES] = "SELECT " S_OUTAGE_COLUMNS " FROM outages WHERE ended_at_ms IS NULL",
    //  NULL sorts first, so each host's own row precedes its services.
    [S_STATUS] = "SELECT name, NULL, state, since_ms, NULL, NULL FROM hosts "
                 "UNION ALL SELECT host, name, state, since_ms, reason, error FROM services "
                 "ORDER BY 1, 2",
    [S_ALERT_GET] = "SELECT " S_DELIVERY_COLUMNS " FROM alerts a LEFT JOIN deliveries d "
                    "ON 0 WHERE a.id = ?1",
    //  LIMIT -1 is no limit.
    [S_DELIVERIES] = "SELECT " S_DELIVERY_COLUMNS " FROM alerts a LEFT JOIN deliveries d "
                     "ON d.alert_id = a.id WHERE a.created_at_ms >= ?1 "
                     "ORDER BY a.seq DESC, d.channel LIMIT ?2",
    [S_SILENCES] = "SELECT id, host, service, starts_at_ms, ends_at_ms, reason, created_at_ms "
                   "FROM silences WHERE ends_at_ms > ?1 ORDER BY id",
    //  Schema 5: the monitor's row and what the hosts' replay reports add up to.
    [S_MONITOR] = "SELECT pid, hostname, version, started_at_ms, heartbeat_at_ms, heartbeat_ms, "
                  "ifnull(stopped_at_ms, -1), "
                  "(SELECT count(*) FROM hosts WHERE replay_pending > 0 AND "
                  "replay_instance = instance), "
                  "(SELECT ifnull(sum(replay_pending), 0) FROM hosts WHERE replay_pending > 0 "
                  "AND replay_instance = instance), "
                  "(SELECT count(*) FROM hosts WHERE replay_pending IS NOT NULL AND "
                  "replay_instance = instance AND state = 'alive' AND "
                  "replay_reported_ms < monitor.started_at_ms) "
                  "FROM monitor WHERE id = 1",
    //  IMMEDIATE: take the write lock at once, so a busy database shows up
    //  here (where busy_timeout retries) and never as a failed upgrade later.
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_HOST_PUT] = "INSERT INTO hosts (name, state, since_ms, instance, interval_ms, last_seen_ms) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET "
                   "state = excluded.state, since_ms = excluded.since_ms, "
                   "instance = excluded.instance, interval_ms = excluded.interval_ms, "
                   "last_seen_ms = excluded.last_seen_ms",
    [S_SERVICE_PUT] = "INSERT INTO services (host, name, kind, state, since_ms, reason, error) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (host, name) DO UPDATE SET "
                      "kind = excluded.kind, state = excluded.state, since_ms = excluded.since_ms, "
                      "reason = excluded.reason, error = excluded.error",
    [S_SERVICE_DELETE] = "DELETE FROM services WHERE host = ?1 AND name = ?2",
    [S_INSTANCE_PUT] = "INSERT INTO instances (host, instance, first_seen_ms, last_seq) "
                       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (host, instance) DO UPDATE SET "
                       "last_seq = max(last_seq, excluded.last_seq)",
    //  The unique partial index outages_open makes a second open outage for
    //  the same host/service impossible; OR IGNORE turns that into "no row".
    [S_OUTAGE_INSERT] =
        "INSERT OR IGNORE INTO outages (kind, host, service, started_at_ms, "
        "reason, error, instance, silenced, notified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_OUTAGE_FIND_OPEN] = "SELECT id, started_at_ms FROM outages WHERE host = ?1 AND kind = ?2 "
                           "AND ifnull(service, '') = ?3 AND ended_at_ms IS NULL",
    //  An outage never ends before it started, whatever two clocks said.
    [S_OUTAGE_CLOSE] = "UPDATE outages SET ended_at_ms = max(?2, started_at_ms), end_reason = ?3 "
                       "WHERE id = ?1 AND ended_at_ms IS NULL",
    //  ended < cutoff implies started < cutoff: the started_at_ms index
    //  finds the candidates without a dedicated index on ended_at_ms.
    [S_PRUNE_OUTAGES] = "DELETE FROM outages WHERE id IN (SELECT id FROM outages "
                        "WHERE started_at_ms < ?1 AND ended_at_ms < ?1 LIMIT ?2)",
    [S_PRUNE_INSTANCES] = "DELETE FROM instances WHERE first_seen_ms < ?1 AND instance NOT IN "
                          "(SELECT instance FROM hosts WHERE hosts.name = instances.host)",
    [S_PRUNE_DELIVERIES] = "DELETE FROM deliveries WHERE alert_id IN (" S_PRUNABLE_ALERTS ")",
    [S_PRUNE_ALERTS] = "DELETE FROM alerts WHERE id IN (" S_PRUNABLE_ALERTS ")",
    [S_OUTAGE_FLAG] = "UPDATE outages SET notified = max(notified, ?2), "
                      "silenced = max(silenced, ?3) WHERE id = ?1",
    [S_ALERT_INSERT] = "INSERT OR IGNORE INTO alerts (id, created_at_ms, trigger, host, service, "
                       "outage_id, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_DELIVERY_INSERT] = "INSERT OR IGNORE INTO deliveries (alert_id, channel, status, "
                          "queued_at_ms, next_attempt_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_ALERT_RELEASE] = "UPDATE deliveries SET status = 'pending', queued_at_ms = ?2, "
                        "next_attempt_at_ms = ?2 "
                        "WHERE alert_id = ?1 AND status = 'held'",
    //  In creation order: a receiver never gets a recovery before its down.
    [S_DELIVERY_NEXT] = "SELECT " S_DELIVERY_COLUMNS " FROM deliveries d JOIN alerts a "
                        "ON a.id = d.alert_id WHERE d.channel = ?1 AND d.status = 'pending' "
                        "ORDER BY a.seq LIMIT 1",
    [S_DELIVERY_UPDATE] = "UPDATE deliveries SET status = ?3, attempts = ?4, "
                          "next_attempt_at_ms = ?5, last_error = ?6, result = ?7, "
                          "sent_at_ms = ?8 WHERE alert_id = ?1 AND channel = ?2 "
                          "AND status = 'pending'",
    [S_SILENCE_INSERT] = "INSERT INTO silences (host, service, starts_at_ms, ends_at_ms, reason, "
                         "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_SILENCE_END] = "UPDATE silences SET ends_at_ms = ?2 WHERE id = ?1 AND ends_at_ms > ?2",
    //  Replay (zb_store_replay_*): history behind what the monitor knows.
    [S_REPLAY_INSERT] = "INSERT OR IGNORE INTO replayed (host, instance, seq, received_ms) "
                        "VALUES (?1, ?2, ?3, ?4)",
    [S_HISTORY_FIND] = "SELECT id FROM outages WHERE host = ?1 AND kind = 'service' AND "
                       "service = ?2 AND started_at_ms <= ?3 AND "
                       "(ended_at_ms IS NULL OR ended_at_ms > ?3) LIMIT 1",
    [S_HISTORY_INSERT] = "INSERT INTO outages (kind, host, service, started_at_ms, ended_at_ms, "
                         "reason, error, end_reason, instance) VALUES ('service', ?1, ?2, ?3, "
                         "max(?4, ?3), ?5, ?6, 'replayed', ?7)",
    //  The end of a closed outage that spans the moment the agent says the
    //  service came back: a provisional "replayed" end, or an end inferred
    //  while transitions were missing (a beat that said "up since" after an
    //  unseen up/down cycle merged two outages). The agent's journal wins.
    [S_HISTORY_END] = "UPDATE outages SET ended_at_ms = max(?3, started_at_ms), end_reason = ?4 "
                      "WHERE id = (SELECT id FROM outages WHERE host = ?1 AND kind = 'service' "
                      "AND service = ?2 AND started_at_ms <= ?3 AND (ended_at_ms > ?3 OR "
                      "(end_reason = 'replayed' AND ended_at_ms = ?3)) "
                      "ORDER BY started_at_ms DESC LIMIT 1)",
    [S_PRUNE_REPLAYED] = "DELETE FROM replayed WHERE received_ms < ?1",
    [S_INSTANCE_SEQ] = "SELECT last_seq FROM instances WHERE host = ?1 AND instance = ?2",
    [S_MONITOR_PUT] = "INSERT OR REPLACE INTO monitor (id, pid, hostname, version, started_at_ms, "
                      "heartbeat_at_ms, heartbeat_ms, stopped_at_ms) "
                      "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_HOST_HEARD] = "UPDATE hosts SET last_seen_ms = ?2, "
                     "replay_pending = coalesce(?3, replay_pending), "
                     "replay_reported_ms = coalesce(?4, replay_reported_ms), "
                     "replay_instance = coalesce(?5, replay_instance) WHERE name = ?1",
};

struct _zb_store_t {
    sqlite3 *db;                 // the connection
    char *path;                  // for messages
    bool readonly;               // opened with zb_store_open_readonly
    bool in_txn;                 // a transaction is open, not yet committed
    bool wrote;                  // a write was made in it
    bool replayed;               // what a failed commit left was applied in it
    int version;                 // PRAGMA user_version
    sqlite3_stmt *stmt[S_COUNT]; // prepared statements, NULL when not prepared
    char error[512];             // last error message
    //  Redo: every write of the open transaction, as SQL with its values,
    //  so that a failed commit (disk full, I/O error) loses nothing: the
    //  next transaction applies them again first, in order (same row ids).
    char **redo;
    size_t redo_count;
    size_t redo_alloc;
    bool redo_pending;   // a commit failed: redo holds what it lost
    bool redo_broken;    // this transaction cannot be committed as it is
    int64_t retry_mono;  // next retry when no new write comes
    int64_t failed_mono; // when the first commit of the current streak failed
};

//  Retries of a failed commit when nothing new is written.
#define ZB_STORE_RETRY_MS 1000

static void s_set_error(zb_store_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void s_set_error(zb_store_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->error, sizeof(self->error), format, args);
    va_end(args);
}

//  Records sqlite's message for a failed call.
static int s_db_fail(zb_store_t *self, const char *what)
{
    s_set_error(self, "%s: %s: %s", self->path, what, sqlite3_errmsg(self->db));
    return -1;
}

//  Runs one statement that returns no rows we need (pragmas, DDL).
static int s_exec(zb_store_t *self, const char *sql, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        s_set_error(self, "%s: %s: %s", self->path, what, message ? message : "failed");
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

//  Reads a one-integer pragma. Returns -1 on error.
static int s_pragma_int(zb_store_t *self, const char *sql, int64_t *value)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    if (sqlite3_step(stmt) != SQLITE_ROW)
        goto done;
    *value = sqlite3_column_int64(stmt, 0);
    rc = 0;
done:
    if (rc != 0)
        s_db_fail(self, sql);
    sqlite3_finalize(stmt);
    return rc;
}

static const char *s_text(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    return text ? text : "";
}

static const char *s_text_or_null(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

static void s_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, index);
}

//  Steps a bound write statement to completion and resets it.
static void s_redo_add(zb_store_t *self, sqlite3_stmt *stmt)
{
    char *sql = sqlite3_expanded_sql(stmt);
    if (sql && self->redo_count == self->redo_alloc) {
        size_t alloc = self->redo_alloc ? self->redo_alloc * 2 : 64;
        char **redo = realloc(self->redo, alloc * sizeof(*redo));
        if (redo) {
            self->redo = redo;
            self->redo_alloc = alloc;
        }
    }
    if (!sql || self->redo_count == self->redo_alloc) {
        //  Cannot be redone: this transaction must commit as a whole or
        //  its writes are lost; say so rather than pretend.
        zb_log_error("%s: out of memory recording a write for retry", self->path);
        sqlite3_free(sql);
        return;
    }
    self->redo[self->redo_count++] = sql;
}

static void s_redo_clear(zb_store_t *self)
{
    for (size_t i = 0; i < self->redo_count; i++)
        sqlite3_free(self->redo[i]);
    self->redo_count = 0;
}

static int s_step_done(zb_store_t *self, int which)
{
    sqlite3_stmt *stmt = self->stmt[which];
    //  SQLite may roll a transaction back by itself after SQLITE_FULL or an
    //  I/O error; a write now would commit on its own, out of order. Keep
    //  it for the retry instead.
    if (self->in_txn && which > S_ROLLBACK && sqlite3_get_autocommit(self->db)) {
        self->redo_broken = true;
        s_redo_add(self, stmt);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        s_set_error(self, "%s: transaction rolled back after an error", self->path);
        return -1;
    }
    int rc = sqlite3_step(stmt);
    int result = rc == SQLITE_DONE ? 0 : s_db_fail(self, s_sql[which]);
    //  Writes inside a transaction (S_BEGIN, S_COMMIT, S_ROLLBACK come
    //  before them) are kept until their commit succeeds.
    if (result == 0 && self->in_txn && which > S_ROLLBACK) {
        self->wrote = true;
        s_redo_add(self, stmt);
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return result;
}

//  Opens the batch transaction of a pass (zb_store_begin).
static int s_txn_open(zb_store_t *self)
{
    assert(!self->readonly);
    if (self->in_txn)
        return 0;
    if (s_step_done(self, S_BEGIN) != 0)
        return -1;
    self->in_txn = true;
    self->replayed = false;
    return 0;
}

//  Before the first write of a transaction: what a failed commit lost goes
//  first, every time, as later writes build on it (an outage opened then,
//  closed now, keeps its row id). Not for a pass that writes nothing.
static void s_replay(zb_store_t *self)
{
    if (!self->redo_pending || self->replayed)
        return;
    self->replayed = true;
    for (size_t i = 0; i < self->redo_count; i++) {
        char *errmsg = NULL;
        if (sqlite3_exec(self->db, self->redo[i], NULL, NULL, &errmsg) != SQLITE_OK) {
            s_set_error(self, "%s: retry: %s", self->path, errmsg ? errmsg : "failed");
            sqlite3_free(errmsg);
            self->redo_broken = true;
            break;
        }
    }
}

//  Every write starts here: the transaction open, the kept writes first.
static int s_begin(zb_store_t *self)
{
    if (s_txn_open(self) != 0)
        return -1;
    s_replay(self);
    return 0;
}

static void s_finalize_all(zb_store_t *self)
{
    for (int i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(self->stmt[i]);
        self->stmt[i] = NULL;
    }
}

static int s_prepare_all(zb_store_t *self)
{
    int count = self->readonly ? S_READ_COUNT : S_COUNT;
    for (int i = 0; i < count; i++) {
        if (sqlite3_prepare_v3(self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt[i],
                               NULL) != SQLITE_OK)
            return s_db_fail(self, "prepare");
    }
    return 0;
}

//  Applies every schema step newer than the database, one transaction each,
//  so a failure leaves the database at the last complete version.
static int s_migrate(zb_store_t *self)
{
    int initial = self->version;
    for (int i = 0; i < zb_schema_step_count; i++) {
        const zb_schema_step_t *step = &zb_schema_steps[i];
        if (step->version <= self->version)
            continue;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", step->version);
        if (s_exec(self, "BEGIN IMMEDIATE", step->name) != 0)
            return -1;
        if (s_exec(self, step->sql, step->name) != 0 || s_exec(self, pragma, step->name) != 0 ||
            s_exec(self, "COMMIT", step->name) != 0) {
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (initial > 0)
            zb_log_info("database %s upgraded to schema %d (%s)", self->path, step->version,
                        step->name);
        self->version = step->version;
    }
    return 0;
}

typedef enum { S_MODE_WRITE, S_MODE_READONLY, S_MODE_EXISTING } s_mode_t;

static zb_store_t *s_open(const char *path, s_mode_t mode, char *err, size_t errsize)
{
    bool readonly = mode == S_MODE_READONLY;
    //  Opened as it is: neither created nor upgraded.
    bool as_is = mode != S_MODE_WRITE;
    zb_store_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "%s: out of memory", path);
        return NULL;
    }
    self->readonly = readonly;
    self->path = strdup(path);
    if (!self->path) {
        snprintf(err, errsize, "%s: out of memory", path);
        free(self);
        return NULL;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY
                : as_is  ? SQLITE_OPEN_READWRITE
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    struct stat st;
    if (as_is && stat(path, &st) != 0) {
        //  sqlite would say "unable to open database file": name the cause.
        s_set_error(self, "%s: %s", path, errno == ENOENT ? "no such database" : strerror(errno));
        goto failed;
    }
    if (sqlite3_open_v2(path, &self->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        if (self->db)
            s_db_fail(self, "open");
        else
            s_set_error(self, "%s: open: out of memory", path);
        goto failed;
    }
    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_timeout(self->db, ZB_STORE_BUSY_MS);

    int64_t version = 0;
    if (s_pragma_int(self, "PRAGMA user_version", &version) != 0)
        goto failed;
    self->version = (int)version;
    int latest = zb_store_latest_version();
    if (self->version > latest) {
        s_set_error(self, "%s: schema version %d is newer than this zbeat knows (%d)", path,
                    self->version, latest);
        goto failed;
    }
    if (as_is) {
        if (self->version == 0) {
            s_set_error(self, "%s: not a zbeat database (no schema)", path);
            goto failed;
        }
        if (self->version < latest) {
            s_set_error(self,
                        "%s: schema version %d is older than this zbeat (%d); "
                        "run zbeat-monitor once to upgrade it",
                        path, self->version, latest);
            goto failed;
        }
    } else {
        //  WAL: readers (the CLI) never block the monitor, nor it them.
        //  synchronous=NORMAL: a commit is durable against a process crash;
        //  a power loss may lose the last commits (docs/operations.md).
        if (s_exec(self, "PRAGMA journal_mode = WAL", "journal_mode") != 0 ||
            s_exec(self, "PRAGMA synchronous = NORMAL", "synchronous") != 0 || s_migrate(self) != 0)
            goto failed;
    }
    if (s_prepare_all(self) != 0)
        goto failed;
    return self;

failed:
    snprintf(err, errsize, "%s", self->error);
    zb_store_destroy(&self);
    return NULL;
}

zb_store_t *zb_store_open(const char *path, char *err, size_t errsize)
{
    assert(path && err);
    return s_open(path, S_MODE_WRITE, err, errsize);
}

zb_store_t *zb_store_open_readonly(const char *path, char *err, size_t errsize)
{
    assert(path && err);
    return s_open(path, S_MODE_READONLY, err, errsize);
}

zb_store_t *zb_store_open_existing(const char *path, char *err, size_t errsize)
{
    assert(path && err);
    return s_open(path, S_MODE_EXISTING, err, errsize);
}

void zb_store_destroy(zb_store_t **self_p)
{
    assert(self_p);
    zb_store_t *self = *self_p;
    if (!self)
        return;
    if (self->in_txn || self->redo_pending) {
        self->retry_mono = 0;
        if (zb_store_commit(self) != 0 && self->redo_count)
            zb_log_error("%s: %zu changes could not be written and are lost", self->path,
                         self->redo_count);
    }
    s_redo_clear(self);
    free(self->redo);
    s_finalize_all(self);
    //  The last connection to close checkpoints and removes the WAL file.
    if (self->db && sqlite3_close(self->db) != SQLITE_OK)
        zb_log_error("%s: close: %s", self->path, sqlite3_errmsg(self->db));
    free(self->path);
    free(self);
    *self_p = NULL;
}

int zb_store_version(zb_store_t *self)
{
    assert(self);
    return self->version;
}

int zb_store_latest_version(void)
{
    return zb_schema_steps[zb_schema_step_count - 1].version;
}

const char *zb_store_error(zb_store_t *self)
{
    assert(self);
    return self->error;
}

int zb_store_begin(zb_store_t *self)
{
    assert(self);
    return s_txn_open(self);
}

bool zb_store_pending(zb_store_t *self)
{
    assert(self);
    return (self->in_txn && self->wrote) || self->redo_pending;
}

int zb_store_commit(zb_store_t *self)
{
    assert(self);
    int64_t now = zb_time_mono_ms();
    //  What a failed commit left goes with the next writes, or alone once
    //  a second.
    bool retry = self->redo_pending && now >= self->retry_mono;
    if (!self->in_txn && !retry)
        return 0;
    if (self->redo_pending && !retry && !self->replayed) {
        //  Begun (zb_store_begin) and nothing written, or the write would
        //  have applied them: the kept writes wait for their retry.
        self->in_txn = false;
        if (s_step_done(self, S_COMMIT) != 0)
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        return 0;
    }
    if (s_begin(self) != 0) {
        self->retry_mono = now + ZB_STORE_RETRY_MS;
        return -1;
    }
    self->in_txn = false;
    self->wrote = false;
    if (!self->redo_broken && s_step_done(self, S_COMMIT) == 0) {
        if (self->redo_pending) {
            char took[32];
            zb_time_format_duration(now - self->failed_mono, took, sizeof(took));
            zb_log_warning("database writable again after %s: %zu changes kept in memory are "
                           "written",
                           took, self->redo_count);
        }
        self->redo_pending = false;
        s_redo_clear(self);
        return 0;
    }
    if (!self->redo_pending) {
        zb_log_error("DATABASE WRITE FAILED: %s; the monitor carries on with its state in "
                     "memory, keeps the %zu changes not written and retries until they are",
                     self->error, self->redo_count);
        self->failed_mono = now;
    }
    //  A failed COMMIT may leave the transaction open (SQLITE_BUSY).
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    self->redo_pending = true;
    self->redo_broken = false;
    self->retry_mono = now + ZB_STORE_RETRY_MS;
    return -1;
}

int zb_store_host_put(zb_store_t *self, const zb_store_host_t *host)
{
    assert(self && host && host->name && host->state);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_HOST_PUT];
    s_bind_text(stmt, 1, host->name);
    s_bind_text(stmt, 2, host->state);
    sqlite3_bind_int64(stmt, 3, host->since_ms);
    s_bind_text(stmt, 4, host->instance ? host->instance : "");
    sqlite3_bind_int64(stmt, 5, host->interval_ms);
    sqlite3_bind_int64(stmt, 6, host->last_seen_ms);
    return s_step_done(self, S_HOST_PUT);
}

int zb_store_monitor_put(zb_store_t *self, const zb_store_monitor_t *monitor)
{
    assert(self && monitor);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_MONITOR_PUT];
    sqlite3_bind_int64(stmt, 1, monitor->pid);
    s_bind_text(stmt, 2, monitor->hostname ? monitor->hostname : "");
    s_bind_text(stmt, 3, monitor->version ? monitor->version : "");
    sqlite3_bind_int64(stmt, 4, monitor->started_at_ms);
    sqlite3_bind_int64(stmt, 5, monitor->heartbeat_at_ms);
    sqlite3_bind_int64(stmt, 6, monitor->heartbeat_ms);
    if (monitor->stopped_at_ms >= 0)
        sqlite3_bind_int64(stmt, 7, monitor->stopped_at_ms);
    else
        sqlite3_bind_null(stmt, 7);
    return s_step_done(self, S_MONITOR_PUT);
}

int zb_store_host_heard(zb_store_t *self, const char *name, int64_t last_seen_ms,
                        int64_t replay_pending, int64_t replay_reported_ms,
                        const char *replay_instance)
{
    assert(self && name && (replay_pending < 0 || replay_instance));
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_HOST_HEARD];
    s_bind_text(stmt, 1, name);
    sqlite3_bind_int64(stmt, 2, last_seen_ms);
    //  Bound NULL, coalesce() keeps the report the row has.
    if (replay_pending >= 0) {
        sqlite3_bind_int64(stmt, 3, replay_pending);
        sqlite3_bind_int64(stmt, 4, replay_reported_ms);
        s_bind_text(stmt, 5, replay_instance);
    }
    return s_step_done(self, S_HOST_HEARD);
}

size_t zb_store_kept(zb_store_t *self)
{
    assert(self);
    return self->redo_pending ? self->redo_count : 0;
}

int zb_store_service_put(zb_store_t *self, const zb_store_service_t *service)
{
    assert(self && service && service->host && service->name && service->state);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_SERVICE_PUT];
    s_bind_text(stmt, 1, service->host);
    s_bind_text(stmt, 2, service->name);
    s_bind_text(stmt, 3, service->kind ? service->kind : "");
    s_bind_text(stmt, 4, service->state);
    sqlite3_bind_int64(stmt, 5, service->since_ms);
    s_bind_text(stmt, 6, service->reason ? service->reason : "");
    s_bind_text(stmt, 7, service->error ? service->error : "");
    return s_step_done(self, S_SERVICE_PUT);
}

int zb_store_service_delete(zb_store_t *self, const char *host, const char *name)
{
    assert(self && host && name);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_SERVICE_DELETE];
    s_bind_text(stmt, 1, host);
    s_bind_text(stmt, 2, name);
    return s_step_done(self, S_SERVICE_DELETE);
}

int zb_store_instance_put(zb_store_t *self, const char *host, const char *instance,
                          int64_t first_seen_ms, uint64_t last_seq)
{
    assert(self && host && instance);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_INSTANCE_PUT];
    s_bind_text(stmt, 1, host);
    s_bind_text(stmt, 2, instance);
    sqlite3_bind_int64(stmt, 3, first_seen_ms);
    //  Sequence numbers fit comfortably: 2^63 messages is never reached.
    sqlite3_bind_int64(stmt, 4, last_seq > INT64_MAX ? INT64_MAX : (int64_t)last_seq);
    return s_step_done(self, S_INSTANCE_PUT);
}

int zb_store_outage_open(zb_store_t *self, const zb_store_outage_t *outage, int64_t *id_p,
                         int64_t *started_p)
{
    assert(self && outage && outage->kind && outage->host && id_p);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_OUTAGE_INSERT];
    s_bind_text(stmt, 1, outage->kind);
    s_bind_text(stmt, 2, outage->host);
    s_bind_text(stmt, 3, outage->service);
    sqlite3_bind_int64(stmt, 4, outage->started_at_ms);
    s_bind_text(stmt, 5, outage->reason ? outage->reason : "");
    s_bind_text(stmt, 6, outage->error ? outage->error : "");
    s_bind_text(stmt, 7, outage->instance ? outage->instance : "");
    sqlite3_bind_int(stmt, 8, outage->silenced ? 1 : 0);
    sqlite3_bind_int(stmt, 9, outage->notified ? 1 : 0);
    if (s_step_done(self, S_OUTAGE_INSERT) != 0)
        return -1;
    if (sqlite3_changes(self->db) == 1) {
        *id_p = sqlite3_last_insert_rowid(self->db);
        if (started_p)
            *started_p = outage->started_at_ms;
        return 1;
    }
    stmt = self->stmt[S_OUTAGE_FIND_OPEN];
    s_bind_text(stmt, 1, outage->host);
    s_bind_text(stmt, 2, outage->kind);
    s_bind_text(stmt, 3, outage->service ? outage->service : "");
    int rc = sqlite3_step(stmt);
    int result = 0;
    if (rc == SQLITE_ROW) {
        *id_p = sqlite3_column_int64(stmt, 0);
        if (started_p)
            *started_p = sqlite3_column_int64(stmt, 1);
    } else if (rc == SQLITE_DONE) {
        //  Ignored, yet nothing open: a CHECK constraint (bad kind) failed.
        s_set_error(self, "%s: outage for %s not recorded (invalid row)", self->path, outage->host);
        result = -1;
    } else
        result = s_db_fail(self, "find open outage");
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return result;
}

int zb_store_replay_key(zb_store_t *self, const char *host, const char *instance, uint64_t seq,
                        int64_t now_ms)
{
    assert(self && host && instance);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_REPLAY_INSERT];
    s_bind_text(stmt, 1, host);
    s_bind_text(stmt, 2, instance);
    sqlite3_bind_int64(stmt, 3, (int64_t)seq);
    sqlite3_bind_int64(stmt, 4, now_ms);
    if (s_step_done(self, S_REPLAY_INSERT) != 0)
        return -1;
    return sqlite3_changes(self->db) == 1 ? 1 : 0;
}

int zb_store_instance_seq(zb_store_t *self, const char *host, const char *instance, uint64_t *seq)
{
    assert(self && host && instance && seq);
    sqlite3_stmt *stmt = self->stmt[S_INSTANCE_SEQ];
    if (!stmt)
        return -1;
    s_bind_text(stmt, 1, host);
    s_bind_text(stmt, 2, instance);
    int rc = sqlite3_step(stmt);
    *seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : s_db_fail(self, "instance seq");
}

int zb_store_replay_covered(zb_store_t *self, const char *host, const char *service, int64_t at_ms)
{
    assert(self && host && service);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_HISTORY_FIND];
    s_bind_text(stmt, 1, host);
    s_bind_text(stmt, 2, service);
    sqlite3_bind_int64(stmt, 3, at_ms);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : s_db_fail(self, "find outage");
}

int zb_store_replay_down(zb_store_t *self, const zb_store_outage_t *outage, int64_t bound_ms)
{
    assert(self && outage && outage->host && outage->service);
    int covered =
        zb_store_replay_covered(self, outage->host, outage->service, outage->started_at_ms);
    if (covered != 0)
        return covered == 1 ? 0 : -1;
    sqlite3_stmt *stmt = self->stmt[S_HISTORY_INSERT];
    s_bind_text(stmt, 1, outage->host);
    s_bind_text(stmt, 2, outage->service);
    sqlite3_bind_int64(stmt, 3, outage->started_at_ms);
    sqlite3_bind_int64(stmt, 4, bound_ms);
    s_bind_text(stmt, 5, outage->reason ? outage->reason : "");
    s_bind_text(stmt, 6, outage->error ? outage->error : "");
    s_bind_text(stmt, 7, outage->instance ? outage->instance : "");
    if (s_step_done(self, S_HISTORY_INSERT) != 0)
        return -1;
    return 1;
}

int zb_store_replay_end(zb_store_t *self, const char *host, const char *service, int64_t at_ms,
                        const char *end_reason)
{
    assert(self && host && service && end_reason);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_HISTORY_END];
    s_bind_text(stmt, 1, host);
    s_bind_text(stmt, 2, service);
    sqlite3_bind_int64(stmt, 3, at_ms);
    s_bind_text(stmt, 4, end_reason);
    if (s_step_done(self, S_HISTORY_END) != 0)
        return -1;
    return sqlite3_changes(self->db) > 0 ? 1 : 0;
}

int zb_store_outage_close(zb_store_t *self, int64_t id, int64_t ended_at_ms, const char *end_reason)
{
    assert(self && end_reason);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_OUTAGE_CLOSE];
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, ended_at_ms);
    s_bind_text(stmt, 3, end_reason);
    if (s_step_done(self, S_OUTAGE_CLOSE) != 0)
        return -1;
    return sqlite3_changes(self->db) > 0 ? 1 : 0;
}

int zb_store_prune(zb_store_t *self, int64_t before_ms, int batch)
{
    assert(self && batch > 0);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_PRUNE_OUTAGES];
    sqlite3_bind_int64(stmt, 1, before_ms);
    sqlite3_bind_int(stmt, 2, batch);
    if (s_step_done(self, S_PRUNE_OUTAGES) != 0)
        return -1;
    int deleted = sqlite3_changes(self->db);
    stmt = self->stmt[S_PRUNE_INSTANCES];
    sqlite3_bind_int64(stmt, 1, before_ms);
    if (s_step_done(self, S_PRUNE_INSTANCES) != 0)
        return -1;
    stmt = self->stmt[S_PRUNE_REPLAYED];
    sqlite3_bind_int64(stmt, 1, before_ms);
    if (s_step_done(self, S_PRUNE_REPLAYED) != 0)
        return -1;
    for (int which = S_PRUNE_DELIVERIES; which <= S_PRUNE_ALERTS; which++) {
        stmt = self->stmt[which];
        sqlite3_bind_int64(stmt, 1, before_ms);
        sqlite3_bind_int(stmt, 2, batch);
        if (s_step_done(self, which) != 0)
            return -1;
    }
    return deleted + sqlite3_changes(self->db);
}

//  Walks the rows of a prepared statement, handing each to row_fn.
typedef int(s_row_fn)(sqlite3_stmt *stmt, void *fn, void *arg);

static int s_walk(zb_store_t *self, sqlite3_stmt *stmt, const char *what, s_row_fn *row_fn,
                  void *fn, void *arg)
{
    int result = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        result = row_fn(stmt, fn, arg);
        if (result != 0)
            break;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = s_db_fail(self, what);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return result;
}

static int s_host_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_host_t host = {
        .name = s_text(stmt, 0),
        .state = s_text(stmt, 1),
        .since_ms = sqlite3_column_int64(stmt, 2),
        .instance = s_text(stmt, 3),
        .interval_ms = sqlite3_column_int64(stmt, 4),
        .last_seen_ms = sqlite3_column_int64(stmt, 5),
        .replay_pending = sqlite3_column_int64(stmt, 6),
        .replay_reported_ms = sqlite3_column_int64(stmt, 7),
        .replay_instance = s_text(stmt, 8),
    };
    return ((zb_store_host_fn *)fn)(&host, arg);
}

static int s_service_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_service_t service = {
        .host = s_text(stmt, 0),
        .name = s_text(stmt, 1),
        .kind = s_text(stmt, 2),
        .state = s_text(stmt, 3),
        .since_ms = sqlite3_column_int64(stmt, 4),
        .reason = s_text(stmt, 5),
        .error = s_text(stmt, 6),
    };
    return ((zb_store_service_fn *)fn)(&service, arg);
}

static int s_outage_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    bool open = sqlite3_column_type(stmt, 5) == SQLITE_NULL;
    zb_store_outage_t outage = {
        .id = sqlite3_column_int64(stmt, 0),
        .kind = s_text(stmt, 1),
        .host = s_text(stmt, 2),
        .service = s_text_or_null(stmt, 3),
        .started_at_ms = sqlite3_column_int64(stmt, 4),
        .ended_at_ms = open ? -1 : sqlite3_column_int64(stmt, 5),
        .reason = s_text(stmt, 6),
        .error = s_text(stmt, 7),
        .end_reason = s_text_or_null(stmt, 8),
        .instance = s_text(stmt, 9),
        .silenced = sqlite3_column_int(stmt, 10) != 0,
        .notified = sqlite3_column_int(stmt, 11) != 0,
    };
    return ((zb_store_outage_fn *)fn)(&outage, arg);
}

static int s_status_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_status_t row = {
        .host = s_text(stmt, 0),
        .service = s_text_or_null(stmt, 1),
        .state = s_text(stmt, 2),
        .since_ms = sqlite3_column_int64(stmt, 3),
        .reason = s_text_or_null(stmt, 4),
        .error = s_text_or_null(stmt, 5),
    };
    return ((zb_store_status_fn *)fn)(&row, arg);
}

int zb_store_hosts(zb_store_t *self, zb_store_host_fn *fn, void *arg)
{
    assert(self && fn);
    return s_walk(self, self->stmt[S_HOSTS], "hosts", s_host_row, (void *)fn, arg);
}

int zb_store_services(zb_store_t *self, zb_store_service_fn *fn, void *arg)
{
    assert(self && fn);
    return s_walk(self, self->stmt[S_SERVICES], "services", s_service_row, (void *)fn, arg);
}

int zb_store_open_outages(zb_store_t *self, zb_store_outage_fn *fn, void *arg)
{
    assert(self && fn);
    return s_walk(self, self->stmt[S_OPEN_OUTAGES], "open outages", s_outage_row, (void *)fn, arg);
}

int zb_store_status(zb_store_t *self, zb_store_status_fn *fn, void *arg)
{
    assert(self && fn);
    return s_walk(self, self->stmt[S_STATUS], "status", s_status_row, (void *)fn, arg);
}

static int s_monitor_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_monitor_t monitor = {
        .pid = sqlite3_column_int64(stmt, 0),
        .hostname = s_text(stmt, 1),
        .version = s_text(stmt, 2),
        .started_at_ms = sqlite3_column_int64(stmt, 3),
        .heartbeat_at_ms = sqlite3_column_int64(stmt, 4),
        .heartbeat_ms = sqlite3_column_int64(stmt, 5),
        .stopped_at_ms = sqlite3_column_int64(stmt, 6),
        .hosts_replaying = sqlite3_column_int64(stmt, 7),
        .transitions_pending = sqlite3_column_int64(stmt, 8),
        .hosts_unreported = sqlite3_column_int64(stmt, 9),
    };
    return ((zb_store_monitor_fn *)fn)(&monitor, arg);
}

int zb_store_monitor(zb_store_t *self, zb_store_monitor_fn *fn, void *arg)
{
    assert(self && fn);
    return s_walk(self, self->stmt[S_MONITOR], "monitor", s_monitor_row, (void *)fn, arg);
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
        return s_db_fail(self, "outages");
    s_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":host"), query->host);
    s_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":service"), query->service);
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
    int result = s_walk(self, stmt, "outages", s_outage_row, (void *)fn, arg);
    sqlite3_finalize(stmt);
    return result;
}

static int s_plan_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    //  Columns: id, parent, notused, detail.
    return ((zb_store_text_fn *)fn)(s_text(stmt, 3), arg);
}

int zb_store_outages_plan(zb_store_t *self, const zb_store_query_t *query, zb_store_text_fn *fn,
                          void *arg)
{
    assert(self && query && fn);
    sqlite3_stmt *stmt = NULL;
    if (s_outages_prepare(self, query, true, &stmt) != 0)
        return -1;
    int result = s_walk(self, stmt, "outages plan", s_plan_row, (void *)fn, arg);
    sqlite3_finalize(stmt);
    return result;
}

//  --------------------------------------------------------------------------
//  Alerts, deliveries, silences

int zb_store_outage_flag(zb_store_t *self, int64_t id, bool notified, bool silenced)
{
    assert(self);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_OUTAGE_FLAG];
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int(stmt, 2, notified ? 1 : 0);
    sqlite3_bind_int(stmt, 3, silenced ? 1 : 0);
    return s_step_done(self, S_OUTAGE_FLAG);
}

int zb_store_alert_add(zb_store_t *self, const zb_store_alert_t *alert, const char *const *channels,
                       size_t channel_count, bool held)
{
    assert(self && alert && alert->id && alert->trigger && alert->host && alert->payload);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_ALERT_INSERT];
    s_bind_text(stmt, 1, alert->id);
    sqlite3_bind_int64(stmt, 2, alert->created_at_ms);
    s_bind_text(stmt, 3, alert->trigger);
    s_bind_text(stmt, 4, alert->host);
    s_bind_text(stmt, 5, alert->service);
    if (alert->outage_id > 0)
        sqlite3_bind_int64(stmt, 6, alert->outage_id);
    else
        sqlite3_bind_null(stmt, 6);
    s_bind_text(stmt, 7, alert->payload);
    if (s_step_done(self, S_ALERT_INSERT) != 0)
        return -1;
    //  The same id again (a replayed transition): delivered once already.
    if (sqlite3_changes(self->db) == 0)
        return 0;
    for (size_t i = 0; i < channel_count; i++) {
        stmt = self->stmt[S_DELIVERY_INSERT];
        s_bind_text(stmt, 1, alert->id);
        s_bind_text(stmt, 2, channels[i]);
        s_bind_text(stmt, 3, held ? "held" : "pending");
        sqlite3_bind_int64(stmt, 4, alert->created_at_ms);
        if (s_step_done(self, S_DELIVERY_INSERT) != 0)
            return -1;
    }
    return 1;
}

int zb_store_alert_release(zb_store_t *self, const char *id, int64_t now_ms)
{
    assert(self && id);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_ALERT_RELEASE];
    s_bind_text(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now_ms);
    if (s_step_done(self, S_ALERT_RELEASE) != 0)
        return -1;
    return sqlite3_changes(self->db);
}

static int s_delivery_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_alert_t alert = {
        .seq = sqlite3_column_int64(stmt, 0),
        .id = s_text(stmt, 1),
        .created_at_ms = sqlite3_column_int64(stmt, 2),
        .trigger = s_text(stmt, 3),
        .host = s_text(stmt, 4),
        .service = s_text_or_null(stmt, 5),
        .outage_id = sqlite3_column_int64(stmt, 6),
        .payload = s_text(stmt, 7),
    };
    bool none = sqlite3_column_type(stmt, 8) == SQLITE_NULL;
    zb_store_delivery_t delivery = {
        .alert = &alert,
        .channel = s_text_or_null(stmt, 8),
        .status = none ? NULL : s_text(stmt, 9),
        .attempts = sqlite3_column_int(stmt, 10),
        .next_attempt_at_ms = sqlite3_column_int64(stmt, 11),
        .last_error = none ? NULL : s_text(stmt, 12),
        .result =
            sqlite3_column_type(stmt, 13) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 13),
        .sent_at_ms =
            sqlite3_column_type(stmt, 14) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 14),
        .queued_at_ms = sqlite3_column_int64(stmt, 15),
    };
    return ((zb_store_delivery_fn *)fn)(&delivery, arg);
}

int zb_store_alert_get(zb_store_t *self, const char *id, zb_store_delivery_fn *fn, void *arg)
{
    assert(self && id && fn);
    sqlite3_stmt *stmt = self->stmt[S_ALERT_GET];
    s_bind_text(stmt, 1, id);
    return s_walk(self, stmt, "alert", s_delivery_row, (void *)fn, arg);
}

int zb_store_delivery_next(zb_store_t *self, const char *channel, zb_store_delivery_fn *fn,
                           void *arg)
{
    assert(self && channel && fn);
    sqlite3_stmt *stmt = self->stmt[S_DELIVERY_NEXT];
    s_bind_text(stmt, 1, channel);
    return s_walk(self, stmt, "next delivery", s_delivery_row, (void *)fn, arg);
}

int zb_store_delivery_update(zb_store_t *self, const char *alert_id, const char *channel,
                             const zb_store_delivery_t *update)
{
    assert(self && alert_id && channel && update && update->status);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_DELIVERY_UPDATE];
    s_bind_text(stmt, 1, alert_id);
    s_bind_text(stmt, 2, channel);
    s_bind_text(stmt, 3, update->status);
    sqlite3_bind_int(stmt, 4, update->attempts);
    sqlite3_bind_int64(stmt, 5, update->next_attempt_at_ms);
    s_bind_text(stmt, 6, update->last_error ? update->last_error : "");
    if (update->result >= 0)
        sqlite3_bind_int64(stmt, 7, update->result);
    if (update->sent_at_ms >= 0)
        sqlite3_bind_int64(stmt, 8, update->sent_at_ms);
    if (s_step_done(self, S_DELIVERY_UPDATE) != 0) {
        zb_store_commit(self);
        return -1;
    }
    return zb_store_commit(self);
}

int zb_store_deliveries(zb_store_t *self, int64_t since_ms, int64_t limit, zb_store_delivery_fn *fn,
                        void *arg)
{
    assert(self && fn);
    sqlite3_stmt *stmt = self->stmt[S_DELIVERIES];
    sqlite3_bind_int64(stmt, 1, since_ms);
    sqlite3_bind_int64(stmt, 2, limit > 0 ? limit : -1);
    return s_walk(self, stmt, "alerts", s_delivery_row, (void *)fn, arg);
}

int zb_store_silence_add(zb_store_t *self, const zb_store_silence_t *silence, int64_t *id_p)
{
    assert(self && silence && silence->host && id_p);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_SILENCE_INSERT];
    s_bind_text(stmt, 1, silence->host);
    s_bind_text(stmt, 2, silence->service);
    sqlite3_bind_int64(stmt, 3, silence->starts_at_ms);
    sqlite3_bind_int64(stmt, 4, silence->ends_at_ms);
    s_bind_text(stmt, 5, silence->reason ? silence->reason : "");
    sqlite3_bind_int64(stmt, 6, silence->created_at_ms);
    if (s_step_done(self, S_SILENCE_INSERT) != 0)
        return -1;
    *id_p = sqlite3_last_insert_rowid(self->db);
    return 0;
}

int zb_store_silence_end(zb_store_t *self, int64_t id, int64_t now_ms)
{
    assert(self);
    if (s_begin(self) != 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[S_SILENCE_END];
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now_ms);
    if (s_step_done(self, S_SILENCE_END) != 0)
        return -1;
    return sqlite3_changes(self->db) > 0 ? 1 : 0;
}

static int s_silence_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_silence_t silence = {
        .id = sqlite3_column_int64(stmt, 0),
        .host = s_text(stmt, 1),
        .service = s_text_or_null(stmt, 2),
        .starts_at_ms = sqlite3_column_int64(stmt, 3),
        .ends_at_ms = sqlite3_column_int64(stmt, 4),
        .reason = s_text(stmt, 5),
        .created_at_ms = sqlite3_column_int64(stmt, 6),
    };
    return ((zb_store_silence_fn *)fn)(&silence, arg);
}

int zb_store_silences(zb_store_t *self, int64_t now_ms, zb_store_silence_fn *fn, void *arg)
{
    assert(self && fn);
    sqlite3_stmt *stmt = self->stmt[S_SILENCES];
    sqlite3_bind_int64(stmt, 1, now_ms);
    return s_walk(self, stmt, "silences", s_silence_row, (void *)fn, arg);
}

//  --------------------------------------------------------------------------
//  Self-test

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
    snprintf(collect->text + len, sizeof(collect->text) - len, "%s/%s=%s;", row->host,
             row->service ? row->service : "-", row->state);
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

    zb_store_host_t host = {"web-1", "alive", 1000, "0123456789abcdef", 1000, 1500, -1, 0, ""};
    assert(zb_store_host_put(store, &host) == 0);
    host.state = "silent";
    assert(zb_store_host_put(store, &host) == 0); // upsert
    zb_store_service_t service = {"web-1", "redis", "probe", "down", 2000, "refused", "nope"};
    assert(zb_store_service_put(store, &service) == 0);
    service.name = "gone";
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
    assert(s_streq(collect.text, "web-1/-=silent;web-1/redis=down;"));

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
    assert(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(other);
    sqlite3_busy_timeout(store->db, ZB_STORE_BUSY_MS);
    assert(zb_store_begin(store) == 0 && zb_store_begin(store) == 0);
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
    zb_store_destroy(&store);

    //  A database from the future is refused, by writers and readers.
    sqlite3 *db = NULL;
    assert(sqlite3_open(path, &db) == SQLITE_OK);
    assert(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
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

    remove(path);
    remove(wal);
    remove(shm);
    assert(rmdir(dir) == 0 || (printf("rmdir %s: %s\n", dir, strerror(errno)), 0));
}
