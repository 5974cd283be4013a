/*  zb_store: the connection (open, migrate, version) and its
    transactions. See zb_store.h; the redo log of writes kept after a failed
    commit is in zb_store_redo.c, the tables' reads and writes in
    zb_store_fleet.c, zb_store_outage.c, zb_store_alert.c and
    zb_store_silence.c.

    Every fixed statement is prepared once when the store opens and reset
    after each use; values are always bound, never formatted into SQL.
*/
#include "zb_store_internal.h"
#include "zb_log.h"
#include "zb_time.h"
#include "zb_schema.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Alerts old enough to prune and with nothing left to deliver; the same
//  set for both prune statements (deliveries first).
#define S_PRUNABLE_ALERTS                                                                          \
    "SELECT id FROM alerts WHERE created_at_ms < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d "   \
    "WHERE d.alert_id = alerts.id AND d.status = 'pending') AND id NOT IN (SELECT alert_id "       \
    "FROM episodes WHERE resolved_at_ms IS NULL) ORDER BY seq LIMIT ?2"

const char *const zb_store_sql[S_COUNT] = {
    [S_HOSTS] = "SELECT name, state, since_ms, instance, interval_ms, last_seen_ms, "
                "ifnull(replay_pending, -1), replay_reported_ms, replay_instance, "
                "ifnull(silence_threshold_ms, 0), ifnull(datagram_loss, -1) "
                "FROM hosts ORDER BY name",
    [S_HOST_GET] = "SELECT name, state, since_ms, instance, interval_ms, last_seen_ms, "
                   "ifnull(replay_pending, -1), replay_reported_ms, replay_instance, "
                   "ifnull(silence_threshold_ms, 0), ifnull(datagram_loss, -1) "
                   "FROM hosts WHERE name = ?1",
    [S_SERVICES] = "SELECT host, name, kind, state, since_ms, reason, error, "
                   "ifnull(tls_expires_ms, 0) FROM services ORDER BY host, name",
    [S_OPEN_OUTAGES] = "SELECT " S_OUTAGE_COLUMNS " FROM outages WHERE ended_at_ms IS NULL",
    //  NULL sorts first, so each host's own row precedes its services.
    [S_STATUS] = "SELECT name, NULL, state, since_ms, NULL, NULL, 0, "
                 "ifnull(silence_threshold_ms, 0), ifnull(datagram_loss, -1) FROM hosts "
                 "UNION ALL SELECT host, name, state, since_ms, reason, error, "
                 "ifnull(tls_expires_ms, 0), 0, -1 FROM services ORDER BY 1, 2",
    //  Schema 11: the rows of S_STATUS that are problems (zb_query's
    //  "problems": neither up nor alive), from the partial indexes of the
    //  problems only, named so that a change that cannot use them fails
    //  here instead of reading the fleet (zb_store_fleet.c).
    [S_PROBLEMS] = "SELECT name, NULL, state, since_ms, NULL, NULL, 0, "
                   "ifnull(silence_threshold_ms, 0), ifnull(datagram_loss, -1) "
                   "FROM hosts INDEXED BY hosts_problems WHERE state <> 'alive' AND state <> 'up' "
                   "UNION ALL SELECT host, name, state, since_ms, reason, error, "
                   "ifnull(tls_expires_ms, 0), 0, -1 FROM services INDEXED BY services_problems "
                   "WHERE state <> 'up' AND state <> 'alive' ORDER BY 1, 2",
    //  ...every entry of each index, by state then as S_STATUS orders them.
    [S_HOST_PROBLEMS] = "SELECT state, name, NULL FROM hosts INDEXED BY hosts_problems "
                        "WHERE state <> 'alive' ORDER BY state, name",
    [S_SERVICE_PROBLEMS] = "SELECT state, host, name FROM services INDEXED BY services_problems "
                           "WHERE state <> 'up' ORDER BY state, host, name",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM hosts), (SELECT count(*) FROM services)",
    [S_ALERT_GET] = "SELECT " S_DELIVERY_COLUMNS " FROM alerts a LEFT JOIN deliveries d "
                    "ON 0 WHERE a.id = ?1",
    //  What an alertmanager channel restates: opening alerts it was sent of
    //  outages still open, oldest first.
    [S_FIRING] = "SELECT " S_DELIVERY_COLUMNS " FROM outages o JOIN alerts a "
                 "ON a.outage_id = o.id JOIN deliveries d ON d.alert_id = a.id "
                 "WHERE ifnull(o.ended_at_ms, 9223372036854775807) = 9223372036854775807 "
                 "AND d.channel = ?1 AND d.status = 'sent' "
                 "AND a.trigger IN ('down', 'silent', 'stable') "
                 //  Schema 8: certificates expiring, hosts stopped, until resolved.
                 "UNION ALL SELECT " S_DELIVERY_COLUMNS " FROM episodes e JOIN alerts a "
                 "ON a.id = e.alert_id JOIN deliveries d ON d.alert_id = a.id "
                 "WHERE e.resolved_at_ms IS NULL AND d.channel = ?1 AND d.status = 'sent' "
                 "ORDER BY 1",
    //  LIMIT -1 is no limit.
    [S_DELIVERIES] = "SELECT " S_DELIVERY_COLUMNS " FROM alerts a LEFT JOIN deliveries d "
                     "ON d.alert_id = a.id WHERE a.created_at_ms >= ?1 "
                     "ORDER BY a.seq DESC, d.channel LIMIT ?2",
    [S_SILENCES] = "SELECT id, host, service, starts_at_ms, ends_at_ms, reason, created_at_ms "
                   "FROM silences WHERE ends_at_ms > ?1 ORDER BY id",
    [S_FORGOTTEN] = "SELECT host FROM forgotten ORDER BY at_ms LIMIT 1000",
    [S_EPISODES_FIRING] = "SELECT alert_id, kind, host, service, key_ms, fired_at_ms "
                          "FROM episodes WHERE resolved_at_ms IS NULL ORDER BY fired_at_ms",
    //  Schema 5: the monitor's row and what the hosts' replay reports add up to.
    [S_MONITOR] = "SELECT pid, hostname, version, started_at_ms, heartbeat_at_ms, heartbeat_ms, "
                  "ifnull(stopped_at_ms, -1), "
                  "(SELECT count(*) FROM hosts WHERE replay_pending > 0 AND "
                  "replay_instance = instance), "
                  "(SELECT ifnull(sum(replay_pending), 0) FROM hosts WHERE replay_pending > 0 "
                  "AND replay_instance = instance), "
                  "(SELECT count(*) FROM hosts WHERE replay_pending IS NOT NULL AND "
                  "replay_instance = instance AND state IN ('alive', 'name-conflict') AND "
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
    [S_SERVICE_PUT] = "INSERT INTO services (host, name, kind, state, since_ms, reason, error, "
                      "tls_expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                      "ON CONFLICT (host, name) DO UPDATE SET "
                      "kind = excluded.kind, state = excluded.state, since_ms = excluded.since_ms, "
                      "reason = excluded.reason, error = excluded.error, "
                      "tls_expires_ms = excluded.tls_expires_ms",
    [S_SERVICE_DELETE] = "DELETE FROM services WHERE host = ?1 AND name = ?2",
    [S_SERVICES_QUIET] = "UPDATE services SET state = ?2, since_ms = ?3, reason = ?4, error = '' "
                         "WHERE host = ?1 AND state <> ?2",
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
                          "queued_at_ms, next_attempt_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_ALERT_RELEASE] = "UPDATE deliveries SET status = 'pending', queued_at_ms = ?2, "
                        "next_attempt_at_ms = ?2 "
                        "WHERE alert_id = ?1 AND status = 'held' AND last_error = ''",
    //  A channel's grace (alert/NAME/after): the opening alert, not tried
    //  yet and not due yet, is held back for good (last_error says why).
    [S_DELIVERY_WITHHOLD] = "UPDATE deliveries SET status = 'held', last_error = ?3 "
                            "WHERE alert_id = ?1 AND channel = ?2 AND status = 'pending' "
                            "AND attempts = 0 AND next_attempt_at_ms > ?4",
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
                         "max(?4, ?3), ?5, ?6, ifnull(?8, 'replayed'), ?7)",
    //  The end of a closed outage that spans the moment the agent says the
    //  service came back: a provisional "replayed" end, or an end inferred
    //  while transitions were missing (a beat that said "up since" after an
    //  unseen up/down cycle merged two outages). The agent's journal wins.
    [S_HISTORY_END] = "UPDATE outages SET ended_at_ms = max(?3, started_at_ms), end_reason = ?4 "
                      "WHERE id = (SELECT id FROM outages WHERE host = ?1 AND kind = 'service' "
                      "AND service = ?2 AND started_at_ms <= ?3 AND (ended_at_ms > ?3 OR "
                      "(end_reason = 'replayed' AND ended_at_ms = ?3)) "
                      "ORDER BY started_at_ms DESC LIMIT 1)",
    //  Splitting an outage that two unseen transitions merged (a replayed
    //  down inside it, coming from up or stopped): the one spanning the
    //  moment, its provisional end there, and the second part.
    [S_HISTORY_SPAN] = "SELECT id, started_at_ms, ended_at_ms, end_reason FROM outages WHERE "
                       "host = ?1 AND kind = 'service' AND service = ?2 AND started_at_ms <= ?3 "
                       "AND (ended_at_ms IS NULL OR ended_at_ms > ?3) "
                       "ORDER BY started_at_ms DESC LIMIT 1",
    [S_HISTORY_CUT] = "UPDATE outages SET ended_at_ms = ?2, end_reason = 'replayed' WHERE id = ?1",
    [S_HISTORY_SPLIT] = "INSERT INTO outages (kind, host, service, started_at_ms, ended_at_ms, "
                        "reason, error, end_reason, instance) VALUES ('service', ?1, ?2, ?3, ?4, "
                        "?5, ?6, ?7, ?8)",
    [S_PRUNE_REPLAYED] = "DELETE FROM replayed WHERE received_ms < ?1",
    //  Replayed ends that found no outage, for the down replayed after them
    //  (schema/009): the first one after the down and before its bound.
    //  Not when an outage ended at that very moment: the end was heard live
    //  (every transition is replayed, heard or not).
    [S_REPLAY_END_KEEP] = "INSERT OR IGNORE INTO replay_ends (host, service, at_ms, end_reason) "
                          "SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM outages "
                          "WHERE host = ?1 AND kind = 'service' AND service = ?2 AND "
                          "ended_at_ms = ?3)",
    [S_REPLAY_END_FIND] = "SELECT at_ms, end_reason FROM replay_ends WHERE host = ?1 AND "
                          "service = ?2 AND at_ms > ?3 AND at_ms <= ?4 ORDER BY at_ms LIMIT 1",
    [S_REPLAY_END_TAKE] = "DELETE FROM replay_ends WHERE host = ?1 AND service = ?2 AND at_ms = ?3",
    [S_PRUNE_REPLAY_ENDS] = "DELETE FROM replay_ends WHERE at_ms < ?1",
    [S_INSTANCE_SEQ] = "SELECT last_seq FROM instances WHERE host = ?1 AND instance = ?2",
    [S_MONITOR_PUT] = "INSERT OR REPLACE INTO monitor (id, pid, hostname, version, started_at_ms, "
                      "heartbeat_at_ms, heartbeat_ms, stopped_at_ms) "
                      "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    //  Schema 6: a host forgotten (zb_store_forget.c).
    [S_FORGET_OUTAGES] = "UPDATE outages SET ended_at_ms = max(?2, started_at_ms), "
                         "end_reason = 'forgotten' WHERE host = ?1 AND ended_at_ms IS NULL",
    [S_FORGET_SERVICES] = "DELETE FROM services WHERE host = ?1",
    [S_FORGET_INSTANCES] = "DELETE FROM instances WHERE host = ?1",
    [S_FORGET_HOST] = "DELETE FROM hosts WHERE name = ?1",
    [S_FORGET_ASK] = "INSERT OR REPLACE INTO forgotten (host, at_ms) VALUES (?1, ?2)",
    [S_FORGET_DONE] = "DELETE FROM forgotten WHERE host = ?1",
    //  Schema 8: episodes (zb_store_alert.c).
    [S_EPISODE_ADD] = "INSERT OR IGNORE INTO episodes (alert_id, kind, host, service, key_ms, "
                      "fired_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_EPISODE_RESOLVE] = "UPDATE episodes SET resolved_at_ms = ?2 "
                          "WHERE alert_id = ?1 AND resolved_at_ms IS NULL",
    [S_PRUNE_EPISODES] = "DELETE FROM episodes WHERE resolved_at_ms < ?1",
    [S_HOST_HEARD] = "UPDATE hosts SET last_seen_ms = ?2, "
                     "replay_pending = coalesce(?3, replay_pending), "
                     "replay_reported_ms = coalesce(?4, replay_reported_ms), "
                     "replay_instance = coalesce(?5, replay_instance) WHERE name = ?1",
    [S_HOST_DETECTOR] = "UPDATE hosts SET silence_threshold_ms = ?2, datagram_loss = ?3 "
                        "WHERE name = ?1",
};
void zb_store_set_error(zb_store_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->error, sizeof(self->error), format, args);
    va_end(args);
}

//  Records sqlite's message for a failed call.
int zb_store_fail(zb_store_t *self, const char *what)
{
    zb_store_set_error(self, "%s: %s: %s", self->path, what, sqlite3_errmsg(self->db));
    return -1;
}

//  Runs one statement that returns no rows we need (pragmas, DDL).
static int s_exec(zb_store_t *self, const char *sql, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        zb_store_set_error(self, "%s: %s: %s", self->path, what, message ? message : "failed");
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
        zb_store_fail(self, sql);
    sqlite3_finalize(stmt);
    return rc;
}

const char *zb_store_text(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    return text ? text : "";
}

const char *zb_store_text_or_null(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

//  Opens the batch transaction of a pass (zb_store_begin).
static int s_txn_open(zb_store_t *self)
{
    assert(!self->readonly);
    if (self->in_txn)
        return 0;
    if (zb_store_step(self, S_BEGIN) != 0)
        return -1;
    self->in_txn = true;
    self->replayed = false;
    self->begins++;
    return 0;
}

int zb_store_write_begin(zb_store_t *self)
{
    self->writes++;
    if (s_txn_open(self) != 0)
        return -1;
    //  What a failed commit lost goes first, every time, as later writes
    //  build on it (an outage opened then, closed now, keeps its row id).
    //  Not for a pass that writes nothing.
    zb_store_redo_replay(self);
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
        if (sqlite3_prepare_v3(self->db, zb_store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &self->stmt[i], NULL) != SQLITE_OK)
            return zb_store_fail(self, "prepare");
    }
    zb_store_redo_init(self);
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

//  "file:///real/path?immutable=1", the path percent-encoded: NULL when
//  out of memory or the path cannot be resolved.
static char *s_immutable_uri(const char *path)
{
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    char *uri = malloc(strlen(real) * 3 + 32);
    if (uri) {
        char *p = uri + sprintf(uri, "file://");
        for (const unsigned char *c = (const unsigned char *)real; *c; c++) {
            if (isalnum(*c) || strchr("/._-~", *c))
                *p++ = (char)*c;
            else
                p += sprintf(p, "%%%02X", *c);
        }
        strcpy(p, "?immutable=1");
    }
    free(real);
    return uri;
}

static int s_connect(zb_store_t *self, int flags, bool immutable)
{
    const char *name = self->path;
    char *uri = NULL;
    if (immutable) {
        uri = s_immutable_uri(self->path);
        if (!uri) {
            zb_store_set_error(self, "%s: %s", self->path, strerror(errno));
            return -1;
        }
        name = uri;
        flags |= SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(name, &self->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        if (self->db)
            return zb_store_fail(self, "open");
        zb_store_set_error(self, "%s: open: out of memory", self->path);
        return -1;
    }
    sqlite3_extended_result_codes(self->db, 1);
    sqlite3_busy_timeout(self->db, ZB_STORE_BUSY_MS);
    return 0;
}

//  True when the last call failed for want of write access to the file or
//  to its directory (where WAL needs its -wal and -shm files).
static bool s_denied(zb_store_t *self)
{
    int code = sqlite3_extended_errcode(self->db) & 0xff;
    return code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM;
}

static bool s_wal_absent(const char *path)
{
    char wal[PATH_MAX + 8];
    struct stat st;
    snprintf(wal, sizeof(wal), "%s-wal", path);
    return stat(wal, &st) != 0 && errno == ENOENT;
}

//  Refuses another application's SQLite file, so that the monitor never
//  adds its schema to it and the CLI never reads it as ours: an
//  application_id not ours, or no zbeat schema yet tables of its own, or a
//  schema version without zbeat's tables. *id_p: the file's application_id.
static int s_identify(zb_store_t *self, int64_t *id_p)
{
    int64_t tables = 0;
    if (s_pragma_int(self, "PRAGMA application_id", id_p) != 0)
        return -1;
    if (*id_p == ZB_STORE_APPLICATION_ID)
        return 0;
    if (*id_p != 0) {
        zb_store_set_error(self,
                           "%s: not a zbeat database (application_id 0x%08x is another "
                           "application's)",
                           self->path, (unsigned)*id_p);
        return -1;
    }
    //  Written before zbeat set application_id, a new file, or someone else's.
    if (s_pragma_int(self,
                     self->version == 0 ? "SELECT count(*) FROM sqlite_master"
                                        : "SELECT count(*) FROM sqlite_master WHERE "
                                          "type = 'table' AND name = 'outages'",
                     &tables) != 0)
        return -1;
    if (self->version == 0 && tables > 0) {
        zb_store_set_error(self,
                           "%s: not a zbeat database (it holds another application's tables; "
                           "zbeat creates its own in a new file)",
                           self->path);
        return -1;
    }
    if (self->version > 0 && tables == 0) {
        zb_store_set_error(self, "%s: not a zbeat database (schema version %d, no zbeat tables)",
                           self->path, self->version);
        return -1;
    }
    return 0;
}

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
        zb_store_set_error(self, "%s: %s", path,
                           errno == ENOENT ? "no such database" : strerror(errno));
        goto failed;
    }
    if (s_connect(self, flags, false) != 0)
        goto failed;
    int64_t version = 0, id = 0;
    if (s_pragma_int(self, "PRAGMA user_version", &version) != 0) {
        if (!s_denied(self))
            goto failed;
        //  A reader of a WAL database needs its -shm and -wal files, and
        //  creates them when missing: not in a directory it cannot write.
        //  Without a -wal file every commit is in the database file, and
        //  no writer can start there either: read it as immutable.
        if (readonly && s_wal_absent(path)) {
            sqlite3_close(self->db);
            self->db = NULL;
            if (s_connect(self, flags, true) != 0 ||
                s_pragma_int(self, "PRAGMA user_version", &version) != 0)
                goto failed;
        } else if (!readonly) {
            zb_store_set_error(self,
                               "%s: cannot write the database: %s (its directory must be "
                               "writable too, for the -wal and -shm files)",
                               path, sqlite3_errmsg(self->db));
            goto failed;
        } else
            goto failed;
    }
    //  A file sqlite could open only for reading (read-only file): the
    //  monitor would run on, failing every write.
    if (!readonly && sqlite3_db_readonly(self->db, "main") == 1) {
        zb_store_set_error(self, "%s: cannot write the database: the file is read-only", path);
        goto failed;
    }
    self->version = (int)version;
    int latest = zb_store_latest_version();
    if (self->version > latest) {
        zb_store_set_error(self, "%s: schema version %d is newer than this zbeat knows (%d)", path,
                           self->version, latest);
        goto failed;
    }
    if (s_identify(self, &id) != 0)
        goto failed;
    if (as_is) {
        if (self->version == 0) {
            zb_store_set_error(self, "%s: not a zbeat database (no schema)", path);
            goto failed;
        }
        if (self->version < latest) {
            zb_store_set_error(self,
                               "%s: schema version %d is older than this zbeat (%d); "
                               "run zbeat-monitor once to upgrade it",
                               path, self->version, latest);
            goto failed;
        }
    } else {
        //  WAL: readers (the CLI) never block the monitor, nor it them.
        //  synchronous=NORMAL: a commit is durable against a process crash;
        //  a power loss may lose the last commits (docs/operations.md).
        //  cache_size: the writer keeps the hosts' rows and indexes in its
        //  own cache. SQLite's default (2 MB) holds a few thousand hosts;
        //  past that every last-heard checkpoint read its pages back from
        //  the OS, 40 us a row at 100,000 hosts. Pages are allocated as
        //  used, so a small fleet does not pay for the bound.
        if (s_exec(self, "PRAGMA journal_mode = WAL", "journal_mode") != 0 ||
            s_exec(self, "PRAGMA synchronous = NORMAL", "synchronous") != 0 ||
            s_exec(self, "PRAGMA cache_size = -" ZB_STORE_STR(ZB_STORE_CACHE_KIB), "cache_size") !=
                0 ||
            s_migrate(self) != 0)
            goto failed;
        //  Ours from now on (once: it is a write).
        if (id != ZB_STORE_APPLICATION_ID &&
            s_exec(self, "PRAGMA application_id = " ZB_STORE_STR(ZB_STORE_APPLICATION_ID),
                   "application_id") != 0)
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
    zb_store_redo_free(self);
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

int zb_store_try_begin(zb_store_t *self)
{
    assert(self);
    //  No busy handler for this one statement: another process's write
    //  lock fails it at once instead of sleeping in the caller's thread.
    sqlite3_busy_timeout(self->db, 0);
    int rc = s_txn_open(self);
    int code = sqlite3_errcode(self->db) & 0xff;
    sqlite3_busy_timeout(self->db, ZB_STORE_BUSY_MS);
    if (rc != 0 && (code == SQLITE_BUSY || code == SQLITE_LOCKED))
        return -2;
    return rc;
}

uint64_t zb_store_begins(zb_store_t *self)
{
    assert(self);
    return self->begins;
}

uint64_t zb_store_writes(zb_store_t *self)
{
    assert(self);
    return self->writes;
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
        if (zb_store_step(self, S_COMMIT) != 0)
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        return 0;
    }
    if (zb_store_write_begin(self) != 0) {
        self->retry_mono = now + ZB_STORE_RETRY_MS;
        return -1;
    }
    self->in_txn = false;
    self->wrote = false;
    if (!self->redo_broken && zb_store_step(self, S_COMMIT) == 0) {
        if (self->redo_pending) {
            char took[32];
            zb_time_format_duration(now - self->failed_mono, took, sizeof(took));
            zb_log_warning("database writable again after %s: %zu changes kept in memory are "
                           "written",
                           took, self->redo_count);
        }
        self->redo_pending = false;
        zb_store_redo_clear(self);
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
size_t zb_store_kept(zb_store_t *self)
{
    assert(self);
    return self->redo_pending ? self->redo_count : 0;
}

int zb_store_walk(zb_store_t *self, sqlite3_stmt *stmt, const char *what, zb_store_row_fn *row_fn,
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
        result = zb_store_fail(self, what);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return result;
}
