/*  zb_store_forget: hosts forgotten by `zbeat hosts forget`. See zb_store.h. */
#include "zb_store_internal.h"

#include <assert.h>

static int s_by_host(zb_store_t *self, int which, const char *host, int64_t now_ms)
{
    sqlite3_stmt *stmt = self->stmt[which];
    zb_store_bind_text(self, which, 1, host);
    if (sqlite3_bind_parameter_count(stmt) >= 2)
        zb_store_bind_int64(self, which, 2, now_ms);
    if (zb_store_step(self, which) != 0)
        return -1;
    return sqlite3_changes(self->db);
}

int zb_store_host_forget(zb_store_t *self, const char *host, int64_t now_ms)
{
    assert(self && host);
    if (zb_store_write_begin(self) != 0)
        return -1;
    int closed = s_by_host(self, S_FORGET_OUTAGES, host, now_ms);
    int services = closed < 0 ? -1 : s_by_host(self, S_FORGET_SERVICES, host, now_ms);
    int runs = services < 0 ? -1 : s_by_host(self, S_FORGET_INSTANCES, host, now_ms);
    int hosts = runs < 0 ? -1 : s_by_host(self, S_FORGET_HOST, host, now_ms);
    if (hosts < 0)
        return -1;
    return closed + services + runs + hosts > 0 ? 1 : 0;
}

int zb_store_forget_ask(zb_store_t *self, const char *host, int64_t now_ms)
{
    assert(self && host);
    if (zb_store_write_begin(self) != 0)
        return -1;
    return s_by_host(self, S_FORGET_ASK, host, now_ms) < 0 ? -1 : 0;
}

int zb_store_forget_done(zb_store_t *self, const char *host)
{
    assert(self && host);
    if (zb_store_write_begin(self) != 0)
        return -1;
    return s_by_host(self, S_FORGET_DONE, host, 0) < 0 ? -1 : 0;
}

static int s_forgotten_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    return ((zb_store_text_fn *)fn)(zb_store_text(stmt, 0), arg);
}

int zb_store_forgotten(zb_store_t *self, zb_store_text_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_FORGOTTEN], "forgotten", s_forgotten_row, (void *)fn,
                         arg);
}
