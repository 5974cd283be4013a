/*  zb_store_fleet: the fleet's current state (hosts, services, agent
    instances, the monitor's own row, when each host was last heard) and
    the reads of it (`zbeat status`, `zbeat hosts`, `zbeat monitor`), and
    of its problems alone, from schema 11's indexes of them (what is wrong
    and the counts by state, without reading every row). See zb_store.h.
*/
#include "zb_store_internal.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int zb_store_host_put(zb_store_t *self, const zb_store_host_t *host)
{
    assert(self && host && host->name && host->state);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_HOST_PUT, 1, host->name);
    zb_store_bind_text(self, S_HOST_PUT, 2, host->state);
    zb_store_bind_int64(self, S_HOST_PUT, 3, host->since_ms);
    zb_store_bind_text(self, S_HOST_PUT, 4, host->instance ? host->instance : "");
    zb_store_bind_int64(self, S_HOST_PUT, 5, host->interval_ms);
    zb_store_bind_int64(self, S_HOST_PUT, 6, host->last_seen_ms);
    return zb_store_step(self, S_HOST_PUT);
}

int zb_store_monitor_put(zb_store_t *self, const zb_store_monitor_t *monitor)
{
    assert(self && monitor);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_int64(self, S_MONITOR_PUT, 1, monitor->pid);
    zb_store_bind_text(self, S_MONITOR_PUT, 2, monitor->hostname ? monitor->hostname : "");
    zb_store_bind_text(self, S_MONITOR_PUT, 3, monitor->version ? monitor->version : "");
    zb_store_bind_int64(self, S_MONITOR_PUT, 4, monitor->started_at_ms);
    zb_store_bind_int64(self, S_MONITOR_PUT, 5, monitor->heartbeat_at_ms);
    zb_store_bind_int64(self, S_MONITOR_PUT, 6, monitor->heartbeat_ms);
    if (monitor->stopped_at_ms >= 0)
        zb_store_bind_int64(self, S_MONITOR_PUT, 7, monitor->stopped_at_ms);
    else
        zb_store_bind_null(self, S_MONITOR_PUT, 7);
    return zb_store_step(self, S_MONITOR_PUT);
}

int zb_store_host_heard(zb_store_t *self, const char *name, int64_t last_seen_ms,
                        int64_t replay_pending, int64_t replay_reported_ms,
                        const char *replay_instance)
{
    assert(self && name && (replay_pending < 0 || replay_instance));
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_HOST_HEARD, 1, name);
    zb_store_bind_int64(self, S_HOST_HEARD, 2, last_seen_ms);
    //  Bound NULL, coalesce() keeps the report the row has.
    if (replay_pending >= 0) {
        zb_store_bind_int64(self, S_HOST_HEARD, 3, replay_pending);
        zb_store_bind_int64(self, S_HOST_HEARD, 4, replay_reported_ms);
        zb_store_bind_text(self, S_HOST_HEARD, 5, replay_instance);
    }
    return zb_store_step(self, S_HOST_HEARD);
}

int zb_store_host_detector(zb_store_t *self, const char *name, int64_t threshold_ms, double loss)
{
    assert(self && name);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_HOST_DETECTOR, 1, name);
    zb_store_bind_int64(self, S_HOST_DETECTOR, 2, threshold_ms);
    if (loss >= 0)
        zb_store_bind_double(self, S_HOST_DETECTOR, 3, loss);
    return zb_store_step(self, S_HOST_DETECTOR);
}
int zb_store_service_put(zb_store_t *self, const zb_store_service_t *service)
{
    assert(self && service && service->host && service->name && service->state);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_SERVICE_PUT, 1, service->host);
    zb_store_bind_text(self, S_SERVICE_PUT, 2, service->name);
    zb_store_bind_text(self, S_SERVICE_PUT, 3, service->kind ? service->kind : "");
    zb_store_bind_text(self, S_SERVICE_PUT, 4, service->state);
    zb_store_bind_int64(self, S_SERVICE_PUT, 5, service->since_ms);
    zb_store_bind_text(self, S_SERVICE_PUT, 6, service->reason ? service->reason : "");
    zb_store_bind_text(self, S_SERVICE_PUT, 7, service->error ? service->error : "");
    if (service->tls_expires_ms)
        zb_store_bind_int64(self, S_SERVICE_PUT, 8, service->tls_expires_ms);
    else
        zb_store_bind_null(self, S_SERVICE_PUT, 8);
    return zb_store_step(self, S_SERVICE_PUT);
}

int zb_store_services_quiet(zb_store_t *self, const char *host, const char *state, int64_t since_ms,
                            const char *reason)
{
    assert(self && host && state && reason);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_SERVICES_QUIET, 1, host);
    zb_store_bind_text(self, S_SERVICES_QUIET, 2, state);
    zb_store_bind_int64(self, S_SERVICES_QUIET, 3, since_ms);
    zb_store_bind_text(self, S_SERVICES_QUIET, 4, reason);
    return zb_store_step(self, S_SERVICES_QUIET);
}

int zb_store_service_delete(zb_store_t *self, const char *host, const char *name)
{
    assert(self && host && name);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_SERVICE_DELETE, 1, host);
    zb_store_bind_text(self, S_SERVICE_DELETE, 2, name);
    return zb_store_step(self, S_SERVICE_DELETE);
}

int zb_store_instance_put(zb_store_t *self, const char *host, const char *instance,
                          int64_t first_seen_ms, uint64_t last_seq)
{
    assert(self && host && instance);
    if (zb_store_write_begin(self) != 0)
        return -1;
    zb_store_bind_text(self, S_INSTANCE_PUT, 1, host);
    zb_store_bind_text(self, S_INSTANCE_PUT, 2, instance);
    zb_store_bind_int64(self, S_INSTANCE_PUT, 3, first_seen_ms);
    //  Sequence numbers fit comfortably: 2^63 messages is never reached.
    zb_store_bind_int64(self, S_INSTANCE_PUT, 4,
                        last_seq > INT64_MAX ? INT64_MAX : (int64_t)last_seq);
    return zb_store_step(self, S_INSTANCE_PUT);
}
int zb_store_instance_seq(zb_store_t *self, const char *host, const char *instance, uint64_t *seq)
{
    assert(self && host && instance && seq);
    sqlite3_stmt *stmt = self->stmt[S_INSTANCE_SEQ];
    if (!stmt)
        return -1;
    zb_store_bind_text(self, S_INSTANCE_SEQ, 1, host);
    zb_store_bind_text(self, S_INSTANCE_SEQ, 2, instance);
    int rc = sqlite3_step(stmt);
    *seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : zb_store_fail(self, "instance seq");
}
static int s_host_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_host_t host = {
        .name = zb_store_text(stmt, 0),
        .state = zb_store_text(stmt, 1),
        .since_ms = sqlite3_column_int64(stmt, 2),
        .instance = zb_store_text(stmt, 3),
        .interval_ms = sqlite3_column_int64(stmt, 4),
        .last_seen_ms = sqlite3_column_int64(stmt, 5),
        .replay_pending = sqlite3_column_int64(stmt, 6),
        .replay_reported_ms = sqlite3_column_int64(stmt, 7),
        .replay_instance = zb_store_text(stmt, 8),
        .silence_threshold_ms = sqlite3_column_int64(stmt, 9),
        .datagram_loss = sqlite3_column_double(stmt, 10),
    };
    return ((zb_store_host_fn *)fn)(&host, arg);
}

static int s_service_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_service_t service = {
        .host = zb_store_text(stmt, 0),
        .name = zb_store_text(stmt, 1),
        .kind = zb_store_text(stmt, 2),
        .state = zb_store_text(stmt, 3),
        .since_ms = sqlite3_column_int64(stmt, 4),
        .reason = zb_store_text(stmt, 5),
        .error = zb_store_text(stmt, 6),
        .tls_expires_ms = sqlite3_column_int64(stmt, 7),
    };
    return ((zb_store_service_fn *)fn)(&service, arg);
}
static int s_status_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_status_t row = {
        .host = zb_store_text(stmt, 0),
        .service = zb_store_text_or_null(stmt, 1),
        .state = zb_store_text(stmt, 2),
        .since_ms = sqlite3_column_int64(stmt, 3),
        .reason = zb_store_text_or_null(stmt, 4),
        .error = zb_store_text_or_null(stmt, 5),
        .tls_expires_ms = sqlite3_column_int64(stmt, 6),
        .silence_threshold_ms = sqlite3_column_int64(stmt, 7),
        .datagram_loss = sqlite3_column_double(stmt, 8),
    };
    return ((zb_store_status_fn *)fn)(&row, arg);
}

int zb_store_hosts(zb_store_t *self, zb_store_host_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_HOSTS], "hosts", s_host_row, (void *)fn, arg);
}

int zb_store_host_get(zb_store_t *self, const char *name, zb_store_host_fn *fn, void *arg)
{
    assert(self && name && fn);
    sqlite3_stmt *stmt = self->stmt[S_HOST_GET];
    zb_store_bind_text(self, S_HOST_GET, 1, name);
    return zb_store_walk(self, stmt, "host", s_host_row, (void *)fn, arg);
}

int zb_store_services(zb_store_t *self, zb_store_service_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_SERVICES], "services", s_service_row, (void *)fn, arg);
}
int zb_store_status(zb_store_t *self, zb_store_status_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_STATUS], "status", s_status_row, (void *)fn, arg);
}

static int s_monitor_row(sqlite3_stmt *stmt, void *fn, void *arg)
{
    zb_store_monitor_t monitor = {
        .pid = sqlite3_column_int64(stmt, 0),
        .hostname = zb_store_text(stmt, 1),
        .version = zb_store_text(stmt, 2),
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
    return zb_store_walk(self, self->stmt[S_MONITOR], "monitor", s_monitor_row, (void *)fn, arg);
}

//  --------------------------------------------------------------------------
//  The problems (schema 11): what is wrong, read from the partial indexes
//  of the hosts not alive and the services not up, in proportion to the
//  problems rather than to the fleet.

int zb_store_problems(zb_store_t *self, zb_store_status_fn *fn, void *arg)
{
    assert(self && fn);
    return zb_store_walk(self, self->stmt[S_PROBLEMS], "problems", s_status_row, (void *)fn, arg);
}

//  A state of the hosts or of the services, its count, and the first row
//  zb_store_status shows in it (host, and service for a service).
typedef struct {
    char *state;
    int64_t count;
    char *host;
    char *service;
} s_count_t;

typedef struct {
    s_count_t *items;
    size_t used;
    size_t alloc;
} s_counts_t;

static void s_counts_free(s_counts_t *counts)
{
    for (size_t i = 0; i < counts->used; i++) {
        free(counts->items[i].state);
        free(counts->items[i].host);
        free(counts->items[i].service);
    }
    free(counts->items);
    *counts = (s_counts_t){0};
}

//  A state first seen at host/service (host NULL: never seen). 0, or -1
//  when out of memory.
static int s_counts_push(s_counts_t *counts, const char *state, int64_t count, const char *host,
                         const char *service)
{
    if (counts->used == counts->alloc) {
        size_t alloc = counts->alloc ? counts->alloc * 2 : 8;
        s_count_t *items = realloc(counts->items, alloc * sizeof(*items));
        if (!items)
            return -1;
        counts->items = items;
        counts->alloc = alloc;
    }
    s_count_t *item = &counts->items[counts->used];
    *item = (s_count_t){.state = strdup(state),
                        .count = count,
                        .host = host ? strdup(host) : NULL,
                        .service = service ? strdup(service) : NULL};
    if (!item->state || (host && !item->host) || (service && !item->service)) {
        free(item->state);
        free(item->host);
        free(item->service);
        return -1;
    }
    counts->used++;
    return 0;
}

static int s_no_memory(zb_store_t *self)
{
    zb_store_set_error(self, "%s: counts: out of memory", self->path);
    return -1;
}

//  As S_STATUS orders rows (BINARY collation: strcmp for text without NUL);
//  a state never seen last.
static int s_count_cmp(const void *a, const void *b)
{
    const s_count_t *x = a, *y = b;
    if (!x->host || !y->host)
        return (x->host == NULL) - (y->host == NULL);
    int cmp = strcmp(x->host, y->host);
    if (cmp == 0 && x->service && y->service)
        cmp = strcmp(x->service, y->service);
    return cmp;
}

//  One table's counts: its problem states from its index (which, key
//  order, sorts each state's first row first), its healthy state (alive,
//  up) as the rest of total, first seen at the first row of that state in
//  zb_store_status's order (a walk that stops there: past as many problems
//  as come before it).
static int s_counts_table(zb_store_t *self, bool service, int64_t total, zb_store_count_fn *fn,
                          void *arg)
{
    sqlite3_stmt *stmt = self->stmt[service ? S_SERVICE_PROBLEMS : S_HOST_PROBLEMS];
    const char *healthy = service ? "up" : "alive";
    s_counts_t counts = {0};
    int64_t problems = 0;
    int rc, result = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *state = zb_store_text(stmt, 0);
        problems++;
        if (counts.used && strcmp(counts.items[counts.used - 1].state, state) == 0)
            counts.items[counts.used - 1].count++;
        else if (s_counts_push(&counts, state, 1, zb_store_text(stmt, 1),
                               zb_store_text_or_null(stmt, 2)) != 0)
            break;
    }
    if (rc == SQLITE_ROW)
        result = s_no_memory(self);
    else if (rc != SQLITE_DONE)
        result = zb_store_fail(self, "counts");
    sqlite3_reset(stmt);
    if (result == 0 && total > problems) {
        stmt = self->stmt[service ? S_SERVICES : S_HOSTS];
        int state_column = service ? 3 : 1;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
            if (strcmp(zb_store_text(stmt, state_column), healthy) == 0)
                break;
        bool found = rc == SQLITE_ROW;
        if (!found && rc != SQLITE_DONE)
            result = zb_store_fail(self, "counts");
        else if (s_counts_push(&counts, healthy, total - problems,
                               found ? zb_store_text(stmt, 0) : NULL,
                               found && service ? zb_store_text(stmt, 1) : NULL) != 0)
            result = s_no_memory(self);
        sqlite3_reset(stmt);
    }
    if (result == 0 && counts.used)
        qsort(counts.items, counts.used, sizeof(counts.items[0]), s_count_cmp);
    for (size_t i = 0; result == 0 && i < counts.used; i++)
        result = fn(service, counts.items[i].state, counts.items[i].count, arg);
    s_counts_free(&counts);
    return result;
}

int zb_store_counts(zb_store_t *self, zb_store_count_fn *fn, void *arg)
{
    assert(self && fn);
    //  One snapshot: the healthy are the total less the problems.
    bool own = sqlite3_get_autocommit(self->db) != 0;
    if (own && sqlite3_exec(self->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return zb_store_fail(self, "counts");
    sqlite3_stmt *stmt = self->stmt[S_COUNTS];
    int64_t hosts = 0, services = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        hosts = sqlite3_column_int64(stmt, 0);
        services = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_reset(stmt);
    int result = rc == SQLITE_ROW ? 0 : zb_store_fail(self, "counts");
    if (result == 0)
        result = s_counts_table(self, false, hosts, fn, arg);
    if (result == 0)
        result = s_counts_table(self, true, services, fn, arg);
    if (own && sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        if (result == 0)
            result = zb_store_fail(self, "counts");
    }
    return result;
}
