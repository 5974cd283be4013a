/*  zb_orders: what an admin asks over HTTP (a silence added or ended, a
    host forgotten), carried from the HTTP server's threads into the
    monitor's loop, which carries it out through its own store and fleet in
    a pass of its own (one writer; the fleet in memory and the database
    change together), and the answer carried back.

    An HTTP thread submits an order and waits for its answer, up to a
    deadline; the loop is woken through a file descriptor (an eventfd it
    polls), takes the orders, applies them (zb_orders_apply) inside one
    transaction and marks them done. An order whose submitter gave up waiting
    is dropped untouched if not yet taken, and freed by the loop if it was.
*/
#ifndef ZB_ORDERS_H
#define ZB_ORDERS_H

#include "zb_fleet.h"
#include "zb_proto.h"
#include "zb_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct _zb_orders_t zb_orders_t;

#define ZB_ORDER_GLOB_MAX 64    // a silence's host or service pattern
#define ZB_ORDER_REASON_MAX 200 // a silence's reason
#define ZB_ORDERS_QUEUED_MAX 64 // orders waiting at once (more: refused, busy)

typedef enum {
    ZB_ORDER_SILENCE_ADD, // silence: host, service ("" all), starts, ends, reason; answer: id
    ZB_ORDER_SILENCE_END, // id
    ZB_ORDER_FORGET,      // host, force
} zb_order_kind_t;

typedef struct {
    zb_order_kind_t kind;
    char host[ZB_ORDER_GLOB_MAX + 1];
    char service[ZB_ORDER_GLOB_MAX + 1]; // "" for every service
    char reason[ZB_ORDER_REASON_MAX + 1];
    int64_t starts_at_ms;
    int64_t ends_at_ms;
    int64_t id; // silence end: which; silence add: the new one's (answer)
    bool force; // forget an alive host
    //  The answer: an HTTP status (200, 404, 409, 500, 503) and what it means.
    unsigned int status;
    char message[300];
} zb_order_t;

zb_orders_t *zb_orders_new(void);
void zb_orders_destroy(zb_orders_t **self_p);

//  The descriptor the loop polls: readable while orders wait.
int zb_orders_fd(zb_orders_t *self);

//  From any thread: hands order to the loop and waits up to timeout_ms.
//  Returns 0 with order's answer filled in, or -1 with status 503 and a
//  message when the loop did not answer in time (then it may still carry
//  the order out: the caller cannot know) or too many orders wait.
int zb_orders_submit(zb_orders_t *self, zb_order_t *order, int timeout_ms);

//  The loop: clear the descriptor's readiness (then look at what waits:
//  orders that could not be carried out stay queued without keeping it
//  readable), whether orders wait, the next one (NULL when none), and done
//  with its answer filled in.
void zb_orders_clear(zb_orders_t *self);
bool zb_orders_pending(zb_orders_t *self);
zb_order_t *zb_orders_take(zb_orders_t *self);
void zb_orders_done(zb_orders_t *self, zb_order_t *order);

//  Carries one order out inside the caller's transaction: the store's
//  rows, and for a forgotten host the fleet's memory. Fills the answer.
void zb_orders_apply(zb_order_t *order, zb_store_t *store, zb_fleet_t *fleet, int64_t now_wall);

//  Takes the pending orders (a few per call) and applies them between
//  begin(arg) and commit(arg), the owner's transaction; answers each, with
//  500 when the commit failed. Nothing when none is pending or begin fails.
void zb_orders_pass(zb_orders_t *self, zb_store_t *store, zb_fleet_t *fleet,
                    int (*begin)(void *arg), int (*commit)(void *arg), void *arg);

void zb_orders_test(bool verbose);

#endif
