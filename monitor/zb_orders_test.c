/*  zb_orders' self-test: an order crosses from a thread to the "loop" (this
    thread) and back; an order not answered in time is abandoned and freed
    by the loop; silences are added and ended in a real store. */
#include "zb_orders.h"

#include <assert.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    zb_orders_t *orders;
    zb_order_t order;
    int timeout_ms;
    int rc;
} s_submitter_t;

static void *s_submit(void *arg)
{
    s_submitter_t *s = arg;
    s->rc = zb_orders_submit(s->orders, &s->order, s->timeout_ms);
    return NULL;
}

//  Waits (bounded) until the descriptor says an order waits.
static bool s_readable(zb_orders_t *orders, int timeout_ms)
{
    struct pollfd pfd = {.fd = zb_orders_fd(orders), .events = POLLIN};
    return poll(&pfd, 1, timeout_ms) == 1;
}

void zb_orders_test(bool verbose)
{
    if (verbose)
        printf(" * zb_orders: ");
    zb_orders_t *orders = zb_orders_new();
    assert(orders);
    assert(!s_readable(orders, 0));

    //  Answered: the submitter gets the loop's answer.
    s_submitter_t s = {.orders = orders, .timeout_ms = 30000};
    s.order.kind = ZB_ORDER_SILENCE_END;
    s.order.id = 7;
    pthread_t thread;
    assert(pthread_create(&thread, NULL, s_submit, &s) == 0);
    assert(s_readable(orders, 30000));
    zb_order_t *order = zb_orders_take(orders);
    zb_orders_clear(orders);
    assert(!s_readable(orders, 0));
    assert(order && order->kind == ZB_ORDER_SILENCE_END && order->id == 7);
    assert(!zb_orders_pending(orders));
    order->status = 200;
    snprintf(order->message, sizeof(order->message), "done");
    zb_orders_done(orders, order);
    pthread_join(thread, NULL);
    assert(s.rc == 0 && s.order.status == 200 && strcmp(s.order.message, "done") == 0);
    assert(zb_orders_take(orders) == NULL);

    //  Not answered in time: 503 for the submitter; the loop still takes
    //  it, and done frees it (valgrind sees no leak).
    s_submitter_t late = {.orders = orders, .timeout_ms = 10};
    late.order.kind = ZB_ORDER_FORGET;
    assert(pthread_create(&thread, NULL, s_submit, &late) == 0);
    pthread_join(thread, NULL);
    assert(late.rc == -1 && late.order.status == 503);
    assert(zb_orders_pending(orders));
    order = zb_orders_take(orders);
    assert(order && order->kind == ZB_ORDER_FORGET);
    zb_orders_done(orders, order);

    //  Applied to a real store: a silence added, ended, not ended twice;
    //  an unknown host is not forgotten.
    char dir[] = "/tmp/zb_orders_test.XXXXXX";
    assert(mkdtemp(dir));
    char path[256], err[600];
    snprintf(path, sizeof(path), "%s/zbeat.db", dir);
    zb_store_t *store = zb_store_open(path, err, sizeof(err));
    assert(store);
    static const zb_fleet_sink_t sink = {0}; // no host is heard: nothing is called
    zb_fleet_t *fleet = zb_fleet_new(&sink, NULL, 3);
    assert(fleet);
    zb_order_t add = {.kind = ZB_ORDER_SILENCE_ADD, .starts_at_ms = 1000, .ends_at_ms = 9000};
    snprintf(add.host, sizeof(add.host), "web-*");
    assert(zb_store_begin(store) == 0);
    zb_orders_apply(&add, store, fleet, 1000);
    assert(zb_store_commit(store) == 0);
    assert(add.status == 200 && add.id > 0);
    zb_order_t end = {.kind = ZB_ORDER_SILENCE_END, .id = add.id};
    assert(zb_store_begin(store) == 0);
    zb_orders_apply(&end, store, fleet, 2000);
    assert(end.status == 200);
    zb_orders_apply(&end, store, fleet, 2000);
    assert(end.status == 404);
    zb_order_t forget = {.kind = ZB_ORDER_FORGET};
    snprintf(forget.host, sizeof(forget.host), "nowhere");
    zb_orders_apply(&forget, store, fleet, 2000);
    assert(forget.status == 404);
    assert(zb_store_commit(store) == 0);
    zb_fleet_destroy(&fleet);
    zb_store_destroy(&store);
    unlink(path);
    char side[300];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);

    zb_orders_destroy(&orders);
    assert(orders == NULL);
    if (verbose)
        printf("OK\n");
}
