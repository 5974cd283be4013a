/*  zb_store_redo: the redo log of the open transaction. Every write is
    kept until its commit succeeds, so that a failed commit (disk full, an
    I/O error) loses nothing: the next transaction applies the kept writes
    again first, in order, and so gives the same rows the same ids. A
    transaction SQLite rolls back by itself when a write fails (SQLITE_FULL,
    an I/O error) is begun again at once the same way (s_reopen).

    A write is kept as the index of its fixed statement and a copy of the
    values bound to it, in one arena that grows by doubling and is reused
    by the next transaction: no allocation per write once it has grown, and
    no SQL text (sqlite3_expanded_sql: a malloc and a tokenization of the
    SQL per write, and doubles cut to 15 digits on replay). SQLite cannot
    give bound values back, so they are copied as they are bound, by the
    zb_store_bind_* wrappers, into the record being bound at the arena's
    end; zb_store_step keeps that record once its statement is done, or
    drops it. The replay binds the copies into the same prepared statement
    and steps it.
*/
#include "zb_store_internal.h"
#include "zb_log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  A kept write: its statement and values, then each text's bytes after
//  its value, padded to 8 so that the next header is aligned.
typedef struct {
    uint32_t size;  // bytes of the record, values and texts included
    uint16_t which; // the fixed statement
    uint16_t count; // values that follow
} s_record_t;

typedef struct {
    uint8_t type; // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT or SQLITE_NULL
    uint8_t unused;
    uint16_t index; // the parameter
    uint32_t len;   // SQLITE_TEXT: bytes that follow (no terminating NUL)
    union {
        int64_t i;
        double d;
    } v;
} s_value_t;

#define S_ALIGN(n) (((n) + 7) & ~(size_t)7)
//  The arena's first size; a larger one left by a large transaction (the
//  stopping monitor's checkpoint of every host) is given back once it is
//  committed, so that it is not held for the rest of the run.
#define S_ARENA_FIRST 65536
#define S_ARENA_KEEP (4u << 20)

_Static_assert(sizeof(s_record_t) == 8 && sizeof(s_value_t) == 16, "aligned records");

void zb_store_redo_init(zb_store_t *self)
{
    self->redo_which = -1;
    //  Writes of the transaction's own (BEGIN, COMMIT, ROLLBACK come first)
    //  are kept; reads among the writer's statements (finding an open
    //  outage) are not, nor are their binds copied.
    for (int i = S_ROLLBACK + 1; i < S_COUNT; i++)
        self->redo_write[i] = self->stmt[i] && !sqlite3_stmt_readonly(self->stmt[i]);
}

//  Room for size more bytes after the record being bound. False when out
//  of memory: that record is lost.
static bool s_reserve(zb_store_t *self, size_t size)
{
    size_t need = self->redo_used + self->redo_open + size;
    if (need <= self->redo_alloc)
        return true;
    size_t alloc = self->redo_alloc ? self->redo_alloc : S_ARENA_FIRST;
    while (alloc < need)
        alloc *= 2;
    unsigned char *redo = realloc(self->redo, alloc);
    if (!redo) {
        self->redo_lost = true;
        return false;
    }
    self->redo = redo;
    self->redo_alloc = alloc;
    return true;
}

//  Starts the record of which if another statement's was being bound (a
//  read's, or one never stepped); makes sure it has its header.
static bool s_record_open(zb_store_t *self, int which)
{
    if (self->redo_which != which) {
        self->redo_which = which;
        self->redo_open = 0;
        self->redo_lost = false;
    }
    if (self->redo_lost)
        return false;
    if (self->redo_open == 0) {
        if (!s_reserve(self, sizeof(s_record_t)))
            return false;
        s_record_t *record = (s_record_t *)(self->redo + self->redo_used);
        *record = (s_record_t){.which = (uint16_t)which};
        self->redo_open = sizeof(s_record_t);
    }
    return true;
}

//  Copies one bound value into the record of which. Only while a
//  transaction is open: writes outside one are not kept (nor made).
static void s_copy(zb_store_t *self, int which, int index, s_value_t value, const char *text)
{
    if (!self->in_txn || !self->redo_write[which] || !s_record_open(self, which))
        return;
    size_t size = sizeof(s_value_t) + S_ALIGN(value.len);
    if (!s_reserve(self, size))
        return;
    s_record_t *record = (s_record_t *)(self->redo + self->redo_used);
    unsigned char *at = self->redo + self->redo_used + self->redo_open;
    value.index = (uint16_t)index;
    memcpy(at, &value, sizeof(value));
    if (value.len)
        memcpy(at + sizeof(value), text, value.len);
    record->count++;
    self->redo_open += size;
}

void zb_store_bind_int64(zb_store_t *self, int which, int index, int64_t value)
{
    sqlite3_bind_int64(self->stmt[which], index, value);
    s_copy(self, which, index, (s_value_t){.type = SQLITE_INTEGER, .v.i = value}, NULL);
}

void zb_store_bind_double(zb_store_t *self, int which, int index, double value)
{
    sqlite3_bind_double(self->stmt[which], index, value);
    s_copy(self, which, index, (s_value_t){.type = SQLITE_FLOAT, .v.d = value}, NULL);
}

void zb_store_bind_text(zb_store_t *self, int which, int index, const char *text)
{
    if (!text) {
        zb_store_bind_null(self, which, index);
        return;
    }
    size_t len = strlen(text);
    //  Values are host names, states, reasons, alert payloads: far below
    //  what SQLite itself takes (1e9 bytes by default).
    assert(len <= UINT32_MAX);
    sqlite3_bind_text(self->stmt[which], index, text, (int)len, SQLITE_STATIC);
    s_copy(self, which, index, (s_value_t){.type = SQLITE_TEXT, .len = (uint32_t)len}, text);
}

void zb_store_bind_null(zb_store_t *self, int which, int index)
{
    sqlite3_bind_null(self->stmt[which], index);
    s_copy(self, which, index, (s_value_t){.type = SQLITE_NULL}, NULL);
}

//  Keeps the record of which (bound above; a statement bound with nothing
//  has none yet). Out of memory, the write cannot be redone: this
//  transaction must commit as a whole or its writes are lost; say so
//  rather than pretend.
static void s_keep(zb_store_t *self, int which)
{
    //  A write whose binds were not copied would be redone without them.
    assert(self->redo_write[which]);
    if (s_record_open(self, which)) {
        s_record_t *record = (s_record_t *)(self->redo + self->redo_used);
        record->size = (uint32_t)self->redo_open;
        self->redo_used += self->redo_open;
        self->redo_count++;
    } else
        zb_log_error("%s: out of memory recording a write for retry", self->path);
    self->redo_which = -1;
    self->redo_open = 0;
}

//  Forgets what was bound to a statement not kept (failed, or not a write
//  of a transaction).
static void s_drop(zb_store_t *self)
{
    self->redo_which = -1;
    self->redo_open = 0;
}

static void s_reopen(zb_store_t *self);

int zb_store_step(zb_store_t *self, int which)
{
    sqlite3_stmt *stmt = self->stmt[which];
    //  SQLite may roll a transaction back by itself after SQLITE_FULL or an
    //  I/O error, and s_reopen could not begin it again (or a read's error
    //  did it); a write now would commit on its own, out of order. Keep it
    //  for the retry instead.
    if (self->in_txn && which > S_ROLLBACK && sqlite3_get_autocommit(self->db)) {
        self->redo_broken = true;
        s_keep(self, which);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        zb_store_set_error(self, "%s: transaction rolled back after an error", self->path);
        return -1;
    }
    int rc = sqlite3_step(stmt);
    int result = rc == SQLITE_DONE ? 0 : zb_store_fail(self, zb_store_sql[which]);
    //  Writes inside a transaction (S_BEGIN, S_COMMIT, S_ROLLBACK come
    //  before them) are kept until their commit succeeds.
    if (result == 0 && self->in_txn && which > S_ROLLBACK) {
        self->wrote = true;
        s_keep(self, which);
    } else
        s_drop(self);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (result != 0 && self->in_txn && which > S_ROLLBACK && sqlite3_get_autocommit(self->db))
        s_reopen(self);
    return result;
}

//  Binds a record's values into its statement and steps it. The texts are
//  bound where they lie in the arena (SQLITE_STATIC): nothing is added to
//  it during the replay, and the statement is reset before anything is.
static int s_apply(zb_store_t *self, const s_record_t *record)
{
    sqlite3_stmt *stmt = self->stmt[record->which];
    const unsigned char *at = (const unsigned char *)(record + 1);
    int rc = SQLITE_OK;
    for (uint16_t i = 0; i < record->count && rc == SQLITE_OK; i++) {
        const s_value_t *value = (const s_value_t *)at;
        if (value->type == SQLITE_INTEGER)
            rc = sqlite3_bind_int64(stmt, value->index, value->v.i);
        else if (value->type == SQLITE_FLOAT)
            rc = sqlite3_bind_double(stmt, value->index, value->v.d);
        else if (value->type == SQLITE_TEXT)
            rc = sqlite3_bind_text(stmt, value->index, (const char *)(value + 1), (int)value->len,
                                   SQLITE_STATIC);
        else
            rc = sqlite3_bind_null(stmt, value->index);
        at += sizeof(*value) + S_ALIGN(value->len);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    int result = 0;
    if (rc != SQLITE_DONE) {
        zb_store_set_error(self, "%s: retry: %s", self->path, sqlite3_errmsg(self->db));
        result = -1;
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return result;
}

//  Every kept write, in order; false when one fails (the rest not tried).
static bool s_apply_all(zb_store_t *self)
{
    size_t at = 0;
    for (size_t i = 0; i < self->redo_count; i++) {
        const s_record_t *record = (const s_record_t *)(self->redo + at);
        assert(at + record->size <= self->redo_used);
        if (s_apply(self, record) != 0)
            return false;
        at += record->size;
    }
    return true;
}

//  The kept writes, in order. They stay kept: the transaction that applies
//  them commits them with its own writes, or fails and keeps them all.
void zb_store_redo_replay(zb_store_t *self)
{
    if (!self->redo_pending || self->replayed)
        return;
    self->replayed = true;
    //  Anything bound before the transaction began is not a kept write.
    s_drop(self);
    if (!s_apply_all(self))
        self->redo_broken = true;
}

//  The write just failed and SQLite rolled the open transaction back with
//  it (SQLITE_FULL, an I/O error). It is begun again with the writes kept
//  so far, in order (the same rows, the same ids), so that the writes after
//  the failed one run where they would have, and their callers learn what
//  they did: an outage's id, an alert inserted (its deliveries follow).
//  Kept without running and reported failed, such a write would still be
//  applied by the retry: an outage the fleet has no id for, never closed.
//  When this fails too, the transaction is broken (zb_store_step keeps the
//  writes after it, its commit fails, the retry applies them all).
static void s_reopen(zb_store_t *self)
{
    if (self->redo_broken) // its replay failed: it cannot commit anyway
        return;
    //  The failed write's message is its caller's to log.
    char error[sizeof(self->error)];
    memcpy(error, self->error, sizeof(error));
    //  Another process's lock is not waited for (it took it in the instant
    //  since the rollback): the retry comes later.
    sqlite3_busy_timeout(self->db, 0);
    bool ok = sqlite3_step(self->stmt[S_BEGIN]) == SQLITE_DONE;
    sqlite3_reset(self->stmt[S_BEGIN]);
    sqlite3_busy_timeout(self->db, ZB_STORE_BUSY_MS);
    if (ok) {
        self->begins++;
        ok = s_apply_all(self);
    }
    if (!ok) {
        zb_log_error("%s: a transaction rolled back after an error could not be begun again: "
                     "%s; its writes are kept for the retry",
                     self->path, sqlite3_errmsg(self->db));
        if (!sqlite3_get_autocommit(self->db))
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        self->redo_broken = true;
    }
    memcpy(self->error, error, sizeof(error));
}

void zb_store_redo_clear(zb_store_t *self)
{
    self->redo_used = 0;
    self->redo_count = 0;
    s_drop(self);
    if (self->redo_alloc > S_ARENA_KEEP)
        zb_store_redo_free(self);
}

void zb_store_redo_free(zb_store_t *self)
{
    free(self->redo);
    self->redo = NULL;
    self->redo_alloc = 0;
    self->redo_used = 0;
    self->redo_count = 0;
    s_drop(self);
}
