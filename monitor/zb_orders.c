/*  zb_orders: admin orders from the HTTP threads, carried out by the
    monitor's loop. See zb_orders.h. */
#include "zb_orders.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

//  An order on its way: the submitter's copy lives here, so that a
//  submitter that gave up never leaves the loop writing into its stack.
typedef struct s_node_t {
    zb_order_t order;
    bool taken;     // the loop has it
    bool done;      // the loop answered
    bool abandoned; // the submitter stopped waiting: whoever holds it last frees it
    struct s_node_t *next;
} s_node_t;

struct _zb_orders_t {
    pthread_mutex_t lock; // guards all below
    pthread_cond_t answered;
    s_node_t *head, *tail; // waiting to be taken
    size_t queued;         // nodes alive (waiting, taken or abandoned-but-taken)
    int fd;                // eventfd: non-zero while orders wait
};

zb_orders_t *zb_orders_new(void)
{
    zb_orders_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->fd < 0) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    //  Deadlines on the monotonic clock: a wall-clock step must not cut
    //  or stretch a wait.
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->answered, &attr);
    pthread_condattr_destroy(&attr);
    return self;
}

//  The server's threads are stopped first (zb_http_destroy): nobody waits.
void zb_orders_destroy(zb_orders_t **self_p)
{
    assert(self_p);
    zb_orders_t *self = *self_p;
    if (!self)
        return;
    while (self->head) {
        s_node_t *next = self->head->next;
        free(self->head);
        self->head = next;
    }
    close(self->fd);
    pthread_cond_destroy(&self->answered);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int zb_orders_fd(zb_orders_t *self)
{
    assert(self);
    return self->fd;
}

int zb_orders_submit(zb_orders_t *self, zb_order_t *order, int timeout_ms)
{
    assert(self && order);
    s_node_t *node = calloc(1, sizeof(*node));
    if (!node) {
        order->status = 503;
        snprintf(order->message, sizeof(order->message), "out of memory");
        return -1;
    }
    node->order = *order;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->lock);
    if (self->queued >= ZB_ORDERS_QUEUED_MAX) {
        pthread_mutex_unlock(&self->lock);
        free(node);
        order->status = 503;
        snprintf(order->message, sizeof(order->message), "busy: %d orders waiting, try again",
                 ZB_ORDERS_QUEUED_MAX);
        return -1;
    }
    if (self->tail)
        self->tail->next = node;
    else
        self->head = node;
    self->tail = node;
    self->queued++;
    uint64_t one = 1;
    if (write(self->fd, &one, sizeof(one)) != sizeof(one))
        zb_log_warning("orders: cannot wake the loop: %s", strerror(errno));
    int rc = 0;
    while (!node->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&self->answered, &self->lock, &until);
    if (node->done) {
        *order = node->order;
        self->queued--;
        pthread_mutex_unlock(&self->lock);
        free(node);
        return 0;
    }
    //  Not answered in time: the loop frees it when it comes to it.
    node->abandoned = true;
    pthread_mutex_unlock(&self->lock);
    order->status = 503;
    snprintf(order->message, sizeof(order->message),
             "the monitor did not answer within %d ms (its loop is busy or the database locked); "
             "the change may still be made",
             timeout_ms);
    return -1;
}

zb_order_t *zb_orders_take(zb_orders_t *self)
{
    assert(self);
    pthread_mutex_lock(&self->lock);
    s_node_t *node = self->head;
    if (node) {
        self->head = node->next;
        if (!self->head)
            self->tail = NULL;
        node->next = NULL;
        node->taken = true;
    }
    pthread_mutex_unlock(&self->lock);
    return node ? &node->order : NULL;
}

bool zb_orders_pending(zb_orders_t *self)
{
    assert(self);
    pthread_mutex_lock(&self->lock);
    bool pending = self->head != NULL;
    pthread_mutex_unlock(&self->lock);
    return pending;
}

void zb_orders_clear(zb_orders_t *self)
{
    assert(self);
    uint64_t count;
    if (read(self->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        zb_log_warning("orders: %s", strerror(errno));
}

void zb_orders_done(zb_orders_t *self, zb_order_t *order)
{
    assert(self && order);
    //  order is the first member of its node.
    s_node_t *node = (s_node_t *)order;
    pthread_mutex_lock(&self->lock);
    node->done = true;
    bool orphan = node->abandoned;
    if (orphan)
        self->queued--;
    pthread_cond_broadcast(&self->answered);
    pthread_mutex_unlock(&self->lock);
    if (orphan)
        free(node);
}

//  --------------------------------------------------------------------------
//  Carrying them out

static void s_forget(zb_order_t *order, zb_store_t *store, zb_fleet_t *fleet, int64_t now_wall)
{
    zb_fleet_host_t *host = zb_fleet_host(fleet, order->host);
    if (!host) {
        order->status = 404;
        snprintf(order->message, sizeof(order->message), "no host %s", order->host);
        return;
    }
    const char *word = zb_fleet_host_word(host);
    bool alive = strcmp(word, "silent") != 0 && strcmp(word, "stopped") != 0;
    if (alive && !order->force) {
        char ago[32];
        int64_t last = host->last_seen_wall;
        zb_time_format_duration(now_wall > last ? now_wall - last : 0, ago, sizeof(ago));
        order->status = 409;
        snprintf(order->message, sizeof(order->message),
                 "%s is %s (heard %s ago): stop its agent first, or use force (a host heard "
                 "again comes back as new)",
                 order->host, word, ago);
        return;
    }
    //  As the loop does for `zbeat hosts forget` (zb_monitor's s_forget),
    //  without the detour through the database's request table.
    if (zb_store_host_forget(store, order->host, now_wall) < 0) {
        order->status = 500;
        snprintf(order->message, sizeof(order->message), "%s", zb_store_error(store));
        return;
    }
    zb_fleet_forget(fleet, order->host);
    order->status = 200;
    snprintf(order->message, sizeof(order->message),
             "host %s forgotten (its outage history is kept)", order->host);
}

void zb_orders_apply(zb_order_t *order, zb_store_t *store, zb_fleet_t *fleet, int64_t now_wall)
{
    assert(order && store && fleet);
    if (order->kind == ZB_ORDER_FORGET) {
        s_forget(order, store, fleet, now_wall);
        return;
    }
    if (order->kind == ZB_ORDER_SILENCE_END) {
        int ended = zb_store_silence_end(store, order->id, now_wall);
        order->status = ended < 0 ? 500 : ended == 0 ? 404 : 200;
        if (ended < 0)
            snprintf(order->message, sizeof(order->message), "%s", zb_store_error(store));
        else
            snprintf(order->message, sizeof(order->message),
                     ended ? "silence %lld removed" : "no active silence %lld",
                     (long long)order->id);
        return;
    }
    zb_store_silence_t silence = {
        .host = order->host,
        .service = order->service[0] ? order->service : NULL,
        .starts_at_ms = order->starts_at_ms,
        .ends_at_ms = order->ends_at_ms,
        .reason = order->reason,
        .created_at_ms = now_wall,
    };
    if (zb_store_silence_add(store, &silence, &order->id) != 0) {
        order->status = 500;
        snprintf(order->message, sizeof(order->message), "%s", zb_store_error(store));
        return;
    }
    order->status = 200;
    snprintf(order->message, sizeof(order->message), "silence %lld added", (long long)order->id);
}

//  Carried out in a pass of their own, so that the fleet in memory and the
//  database change together; answered once the pass is committed. A
//  database that cannot be written now leaves them queued: the
//  submitter's deadline answers for them.
#define S_ORDERS_PER_PASS 16
void zb_orders_pass(zb_orders_t *self, zb_store_t *store, zb_fleet_t *fleet,
                    int (*begin)(void *arg), int (*commit)(void *arg), void *arg)
{
    assert(self && store && fleet && begin && commit);
    if (!zb_orders_pending(self) || begin(arg) != 0)
        return;
    zb_order_t *taken[S_ORDERS_PER_PASS];
    size_t count = 0;
    int64_t now = zb_time_wall_ms();
    while (count < S_ORDERS_PER_PASS && (taken[count] = zb_orders_take(self))) {
        zb_orders_apply(taken[count], store, fleet, now);
        zb_log_info("http: %s", taken[count]->message);
        count++;
    }
    bool ok = commit(arg) == 0;
    for (size_t i = 0; i < count; i++) {
        if (!ok && taken[i]->status == 200) {
            taken[i]->status = 500;
            snprintf(taken[i]->message, sizeof(taken[i]->message), "the commit failed: %s",
                     zb_store_error(store));
        }
        zb_orders_done(self, taken[i]);
    }
}
