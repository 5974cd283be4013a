/*  zb_store_alert: the alert outbox (one row per alert) and its
    deliveries (one per channel): add, release held ones, take the next
    pending one, record an attempt, list them (`zbeat alerts`).
    See zb_store.h.
*/
#include "zb_store_internal.h"

#include <assert.h>
#include <string.h>

int zb_store_alert_add(zb_store_t *self, const zb_store_alert_t *alert, const char *const *channels,
                       size_t channel_count, bool held)
{
    return zb_store_alert_add_due(self, alert, channels, NULL, channel_count, held);
}

int zb_store_alert_add_due(zb_store_t *self, const zb_store_alert_t *alert,
                           const char *const *channels, const int64_t *delays_ms,
                           size_t channel_count, bool held)
{
    assert(self && alert && alert->id && alert->trigger && alert->host && alert->payload);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_ALERT_INSERT, 1, alert->id);
    zb_store_bind_int64(self, S_ALERT_INSERT, 2, alert->created_at_ms);
    zb_store_bind_text(self, S_ALERT_INSERT, 3, alert->trigger);
    zb_store_bind_text(self, S_ALERT_INSERT, 4, alert->host);
    zb_store_bind_text(self, S_ALERT_INSERT, 5, alert->service);
    if (alert->outage_id > 0)
        zb_store_bind_int64(self, S_ALERT_INSERT, 6, alert->outage_id);
    else
        zb_store_bind_null(self, S_ALERT_INSERT, 6);
    zb_store_bind_text(self, S_ALERT_INSERT, 7, alert->payload);
    if (zb_store_step(self, S_ALERT_INSERT) != 0)
        return -1;
    //  The same id again (a replayed transition): delivered once already.
    if (sqlite3_changes(self->db) == 0)
        return 0;
    for (size_t i = 0; i < channel_count; i++) {
        zb_store_bind_text(self, S_DELIVERY_INSERT, 1, alert->id);
        zb_store_bind_text(self, S_DELIVERY_INSERT, 2, channels[i]);
        zb_store_bind_text(self, S_DELIVERY_INSERT, 3, held ? "held" : "pending");
        zb_store_bind_int64(self, S_DELIVERY_INSERT, 4, alert->created_at_ms);
        zb_store_bind_int64(self, S_DELIVERY_INSERT, 5,
                            alert->created_at_ms + (delays_ms ? delays_ms[i] : 0));
        if (zb_store_step(self, S_DELIVERY_INSERT) != 0)
            return -1;
    }
    return 1;
}

int zb_store_alert_release(zb_store_t *self, const char *id, int64_t now_ms)
{
    assert(self && id);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_ALERT_RELEASE, 1, id);
    zb_store_bind_int64(self, S_ALERT_RELEASE, 2, now_ms);
    if (zb_store_step(self, S_ALERT_RELEASE) != 0)
        return -1;
    return sqlite3_changes(self->db);
}

int zb_store_delivery_withhold(zb_store_t *self, const char *alert_id, const char *channel,
                               int64_t now_ms, const char *why)
{
    assert(self && alert_id && channel && why && *why);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_DELIVERY_WITHHOLD, 1, alert_id);
    zb_store_bind_text(self, S_DELIVERY_WITHHOLD, 2, channel);
    zb_store_bind_text(self, S_DELIVERY_WITHHOLD, 3, why);
    zb_store_bind_int64(self, S_DELIVERY_WITHHOLD, 4, now_ms);
    if (zb_store_step(self, S_DELIVERY_WITHHOLD) != 0)
        return -1;
    return sqlite3_changes(self->db);
}

static int s_delivery_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_alert_t alert = {
        .seq = sqlite3_column_int64(stmt, 0),
        .id = zb_store_text(stmt, 1),
        .created_at_ms = sqlite3_column_int64(stmt, 2),
        .trigger = zb_store_text(stmt, 3),
        .host = zb_store_text(stmt, 4),
        .service = zb_store_text_or_null(stmt, 5),
        .outage_id = sqlite3_column_int64(stmt, 6),
        .payload = zb_store_text(stmt, 7),
    };
    bool none = sqlite3_column_type(stmt, 8) == SQLITE_NULL;
    zb_store_delivery_t delivery = {
        .alert = &alert,
        .channel = zb_store_text_or_null(stmt, 8),
        .status = none ? NULL : zb_store_text(stmt, 9),
        .attempts = sqlite3_column_int(stmt, 10),
        .next_attempt_at_ms = sqlite3_column_int64(stmt, 11),
        .last_error = none ? NULL : zb_store_text(stmt, 12),
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
    zb_store_bind_text(self, S_ALERT_GET, 1, id);
    return zb_store_walk(self, stmt, "alert", s_delivery_row, (void *)fn, arg);
}

int zb_store_firing(zb_store_t *self, const char *channel, zb_store_delivery_fn *fn, void *arg)
{
    assert(self && channel && fn);
    sqlite3_stmt *stmt = self->stmt[S_FIRING];
    zb_store_bind_text(self, S_FIRING, 1, channel);
    return zb_store_walk(self, stmt, "firing alerts", s_delivery_row, (void *)fn, arg);
}

int zb_store_delivery_next(zb_store_t *self, const char *channel, zb_store_delivery_fn *fn,
                           void *arg)
{
    assert(self && channel && fn);
    sqlite3_stmt *stmt = self->stmt[S_DELIVERY_NEXT];
    zb_store_bind_text(self, S_DELIVERY_NEXT, 1, channel);
    return zb_store_walk(self, stmt, "next delivery", s_delivery_row, (void *)fn, arg);
}

int zb_store_delivery_update(zb_store_t *self, const char *alert_id, const char *channel,
                             const zb_store_delivery_t *update)
{
    assert(self && alert_id && channel && update && update->status);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_DELIVERY_UPDATE, 1, alert_id);
    zb_store_bind_text(self, S_DELIVERY_UPDATE, 2, channel);
    zb_store_bind_text(self, S_DELIVERY_UPDATE, 3, update->status);
    zb_store_bind_int64(self, S_DELIVERY_UPDATE, 4, update->attempts);
    zb_store_bind_int64(self, S_DELIVERY_UPDATE, 5, update->next_attempt_at_ms);
    zb_store_bind_text(self, S_DELIVERY_UPDATE, 6, update->last_error ? update->last_error : "");
    if (update->result >= 0)
        zb_store_bind_int64(self, S_DELIVERY_UPDATE, 7, update->result);
    if (update->sent_at_ms >= 0)
        zb_store_bind_int64(self, S_DELIVERY_UPDATE, 8, update->sent_at_ms);
    if (zb_store_step(self, S_DELIVERY_UPDATE) != 0) {
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
    zb_store_bind_int64(self, S_DELIVERIES, 1, since_ms);
    zb_store_bind_int64(self, S_DELIVERIES, 2, limit > 0 ? limit : -1);
    return zb_store_walk(self, stmt, "alerts", s_delivery_row, (void *)fn, arg);
}

int zb_store_episode_add(zb_store_t *self, const zb_store_episode_t *episode)
{
    assert(self && episode && episode->alert_id && episode->kind && episode->host);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_EPISODE_ADD, 1, episode->alert_id);
    zb_store_bind_text(self, S_EPISODE_ADD, 2, episode->kind);
    zb_store_bind_text(self, S_EPISODE_ADD, 3, episode->host);
    zb_store_bind_text(self, S_EPISODE_ADD, 4, episode->service);
    zb_store_bind_int64(self, S_EPISODE_ADD, 5, episode->key_ms);
    zb_store_bind_int64(self, S_EPISODE_ADD, 6, episode->fired_at_ms);
    if (zb_store_step(self, S_EPISODE_ADD) != 0)
        return -1;
    return sqlite3_changes(self->db);
}

int zb_store_episode_resolve(zb_store_t *self, const char *alert_id, int64_t now_ms)
{
    assert(self && alert_id);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_EPISODE_RESOLVE, 1, alert_id);
    zb_store_bind_int64(self, S_EPISODE_RESOLVE, 2, now_ms);
    if (zb_store_step(self, S_EPISODE_RESOLVE) != 0)
        return -1;
    return sqlite3_changes(self->db);
}

static int s_episode_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_episode_t episode = {
        .alert_id = zb_store_text(stmt, 0),
        .kind = zb_store_text(stmt, 1),
        .host = zb_store_text(stmt, 2),
        .service = zb_store_text_or_null(stmt, 3),
        .key_ms = sqlite3_column_int64(stmt, 4),
        .fired_at_ms = sqlite3_column_int64(stmt, 5),
    };
    return ((zb_store_episode_fn *)fn)(&episode, arg);
}

int zb_store_episodes_firing(zb_store_t *self, zb_store_episode_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_EPISODES_FIRING], "episodes", s_episode_row, (void *)fn,
                         arg);
}
