/*  zb_store_internal: what the store's files share (zb_store.c, the
    connection and its transactions; zb_store_fleet.c, zb_store_outage.c,
    zb_store_alert.c, zb_store_silence.c, the tables) and their self-test.
    Not for use outside store/: the public API is zb_store.h.
*/
#ifndef ZB_STORE_INTERNAL_H
#define ZB_STORE_INTERNAL_H

#include "zb_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  How long a statement waits for a lock held by another connection (a
//  checkpoint, a backup) before it fails.
#define ZB_STORE_BUSY_MS 5000

//  Retries of a failed commit when nothing new is written.
#define ZB_STORE_RETRY_MS 1000

//  PRAGMA application_id of a zbeat database: 0x7a626561, "zbea" (decimal,
//  as the pragma takes it). Set when the monitor first writes one, so that
//  another application's SQLite file is never taken for ours. Databases of
//  zbeat before it have 0 and zbeat's tables.
#define ZB_STORE_APPLICATION_ID 2053530977
#define ZB_STORE_STR_(x) #x
#define ZB_STORE_STR(x) ZB_STORE_STR_(x)
#define ZB_STORE_CACHE_KIB 65536 // the writer's page cache bound (zb_store_open)

//  The fixed statements, prepared at open. Reads come first: a read-only
//  store prepares only those.
enum {
    S_HOSTS,
    S_HOST_GET,
    S_SERVICES,
    S_OPEN_OUTAGES,
    S_STATUS,
    S_ALERT_GET,
    S_FIRING,
    S_DELIVERIES,
    S_SILENCES,
    S_MONITOR,
    S_FORGOTTEN,
    S_EPISODES_FIRING,
    S_PROBLEMS,
    S_HOST_PROBLEMS,
    S_SERVICE_PROBLEMS,
    S_COUNTS,
    S_READ_COUNT, // writers' statements follow
    S_BEGIN = S_READ_COUNT,
    S_COMMIT,
    S_ROLLBACK,
    S_HOST_PUT,
    S_SERVICE_PUT,
    S_SERVICE_DELETE,
    S_SERVICES_QUIET,
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
    S_DELIVERY_WITHHOLD,
    S_DELIVERY_NEXT,
    S_DELIVERY_UPDATE,
    S_SILENCE_INSERT,
    S_SILENCE_END,
    S_REPLAY_INSERT,
    S_HISTORY_FIND,
    S_HISTORY_INSERT,
    S_HISTORY_END,
    S_HISTORY_SPAN,
    S_HISTORY_CUT,
    S_HISTORY_SPLIT,
    S_PRUNE_REPLAYED,
    S_REPLAY_END_KEEP,
    S_REPLAY_END_FIND,
    S_REPLAY_END_TAKE,
    S_PRUNE_REPLAY_ENDS,
    S_INSTANCE_SEQ,
    S_MONITOR_PUT,
    S_HOST_HEARD,
    S_HOST_DETECTOR,
    S_FORGET_OUTAGES,
    S_FORGET_SERVICES,
    S_FORGET_INSTANCES,
    S_FORGET_HOST,
    S_FORGET_ASK,
    S_FORGET_DONE,
    S_EPISODE_ADD,
    S_EPISODE_RESOLVE,
    S_PRUNE_EPISODES,
    S_COUNT
};
//  Columns as s_outage_row (zb_store_outage.c) reads them.
#define S_OUTAGE_COLUMNS                                                                           \
    "id, kind, host, service, started_at_ms, ended_at_ms, reason, error, end_reason, instance, "   \
    "silenced, notified"

//  An alert and one of its deliveries (NULLs when it has none), as
//  s_delivery_row (zb_store_alert.c) reads them.
#define S_DELIVERY_COLUMNS                                                                         \
    "a.seq, a.id, a.created_at_ms, a.trigger, a.host, a.service, a.outage_id, a.payload, "         \
    "d.channel, d.status, d.attempts, d.next_attempt_at_ms, d.last_error, d.result, "              \
    "d.sent_at_ms, "                                                                               \
    "d.queued_at_ms"

struct _zb_store_t {
    sqlite3 *db;                 // the connection
    char *path;                  // for messages
    bool readonly;               // opened with zb_store_open_readonly
    bool in_txn;                 // a transaction is open, not yet committed
    bool wrote;                  // a write was made in it
    bool replayed;               // what a failed commit left was applied in it
    uint64_t begins;             // transactions begun (zb_store_begins)
    uint64_t writes;             // write calls (zb_store_writes)
    int version;                 // PRAGMA user_version
    sqlite3_stmt *stmt[S_COUNT]; // prepared statements, NULL when not prepared
    char error[512];             // last error message
    //  Redo (zb_store_redo.c): every write of the open transaction, kept
    //  as its fixed statement and a copy of its bound values in one arena,
    //  so that a failed commit (disk full, I/O error) loses nothing: the
    //  next transaction applies them again first, in order (same row ids).
    unsigned char *redo;      // the arena: records, one per write
    size_t redo_used;         // bytes of the writes kept (stepped)
    size_t redo_alloc;        // bytes allocated
    size_t redo_count;        // writes kept
    size_t redo_open;         // bytes of the write being bound, after redo_used
    int redo_which;           // its statement, -1 when none is being bound
    bool redo_lost;           // out of memory binding it: it cannot be kept
    bool redo_write[S_COUNT]; // the statement is a write the log keeps
    bool redo_pending;        // a commit failed: redo holds what it lost
    bool redo_broken;         // this transaction cannot be committed as it is
    int64_t retry_mono;       // next retry when no new write comes
    int64_t failed_mono;      // when the first commit of the current streak failed
};

//  The SQL of each fixed statement (zb_store.c).
extern const char *const zb_store_sql[S_COUNT];

//  Records a one-line error message (zb_store_error).
void zb_store_set_error(zb_store_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
//  Records sqlite's message for a failed call; returns -1.
int zb_store_fail(zb_store_t *self, const char *what);

//  Every write starts here: the transaction open, the kept writes first.
int zb_store_write_begin(zb_store_t *self);
//  Steps a bound fixed statement (a write) to completion, records it for
//  the redo log, and resets it. Returns 0 or -1.
int zb_store_step(zb_store_t *self, int which);

//  Binds a value to parameter index of the fixed statement which. Every
//  bind of a fixed statement goes through these: SQLite cannot give bound
//  values back, so a write's values are copied for the redo log as they
//  are bound (reads' are not). Text is borrowed until the statement is
//  reset (SQLITE_STATIC); NULL text binds NULL.
void zb_store_bind_int64(zb_store_t *self, int which, int index, int64_t value);
void zb_store_bind_double(zb_store_t *self, int which, int index, double value);
void zb_store_bind_text(zb_store_t *self, int which, int index, const char *text);
void zb_store_bind_null(zb_store_t *self, int which, int index);

//  The redo log (zb_store_redo.c): which statements it keeps (at prepare),
//  what the open transaction keeps once its writes are stepped, applied
//  again before the next write after a failed commit (zb_store_write_begin),
//  emptied after a successful one, released when the store is destroyed.
void zb_store_redo_init(zb_store_t *self);
void zb_store_redo_replay(zb_store_t *self);
void zb_store_redo_clear(zb_store_t *self);
void zb_store_redo_free(zb_store_t *self);

//  Column text ("" for NULL), or NULL for NULL, borrowed until the
//  statement is reset.
const char *zb_store_text(sqlite3_stmt *stmt, int column);
const char *zb_store_text_or_null(sqlite3_stmt *stmt, int column);

//  Walks the rows of a prepared statement, handing each to row_fn with the
//  caller's callback fn and arg; a non-zero return stops the walk and is
//  returned, -1 on a database error. The statement is reset afterwards.
typedef int(zb_store_row_fn)(sqlite3_stmt *stmt, void *fn, void *arg);
int zb_store_walk(zb_store_t *self, sqlite3_stmt *stmt, const char *what, zb_store_row_fn *row_fn,
                  void *fn, void *arg);

//  Self-tests (zb_store_test.c): removes a database with its -wal and -shm
//  files.
void zb_store_test_remove(const char *path);

#endif
