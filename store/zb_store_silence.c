/*  zb_store_silence: silences (add, end, list). See zb_store.h. */
#include "zb_store_internal.h"

#include <assert.h>

int zb_store_silence_add(zb_store_t *self, const zb_store_silence_t *silence, int64_t *id_p)
{
    assert(self && silence && silence->host && id_p);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_SILENCE_INSERT, 1, silence->host);
    zb_store_bind_text(self, S_SILENCE_INSERT, 2, silence->service);
    zb_store_bind_int64(self, S_SILENCE_INSERT, 3, silence->starts_at_ms);
    zb_store_bind_int64(self, S_SILENCE_INSERT, 4, silence->ends_at_ms);
    zb_store_bind_text(self, S_SILENCE_INSERT, 5, silence->reason ? silence->reason : "");
    zb_store_bind_int64(self, S_SILENCE_INSERT, 6, silence->created_at_ms);
    if (zb_store_step(self, S_SILENCE_INSERT) != 0)
        return -1;
    *id_p = sqlite3_last_insert_rowid(self->db);
    return 0;
}

int zb_store_silence_end(zb_store_t *self, int64_t id, int64_t now_ms)
{
    assert(self);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_int64(self, S_SILENCE_END, 1, id);
    zb_store_bind_int64(self, S_SILENCE_END, 2, now_ms);
    if (zb_store_step(self, S_SILENCE_END) != 0)
        return -1;
    return sqlite3_changes(self->db) > 0 ? 1 : 0;
}

static int s_silence_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_silence_t silence = {
        .id = sqlite3_column_int64(stmt, 0),
        .host = zb_store_text(stmt, 1),
        .service = zb_store_text_or_null(stmt, 2),
        .starts_at_ms = sqlite3_column_int64(stmt, 3),
        .ends_at_ms = sqlite3_column_int64(stmt, 4),
        .reason = zb_store_text(stmt, 5),
        .created_at_ms = sqlite3_column_int64(stmt, 6),
    };
    return ((zb_store_silence_fn *)fn)(&silence, arg);
}

int zb_store_silences(zb_store_t *self, int64_t now_ms, zb_store_silence_fn *fn, void *arg)
{
    assert(self && fn);
    sqlite3_stmt *stmt = self->stmt[S_SILENCES];
    zb_store_bind_int64(self, S_SILENCES, 1, now_ms);
    return zb_store_walk(self, stmt, "silences", s_silence_row, (void *)fn, arg);
}
