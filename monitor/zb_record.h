/*  zb_record: the fleet's state in the store, both ways.

    zb_record_sink is zb_fleet's sink for the running monitor: rows written
    through zb_store in the transaction of the current pass, state changes
    queued on the PUB stream (zb_stream), and the fleet's moments handed to
    the alerting policy (zb_policy). zb_record_load gives a new fleet what
    a previous run left: hosts, services, open outages (with their alerts'
    marks).

    A failed write is counted in *db_errors and logged; the state in memory
    goes on (the commit of the pass reports the loss).
*/
#ifndef ZB_RECORD_H
#define ZB_RECORD_H

#include "zb_fleet.h"
#include "zb_series.h"
#include "zb_policy.h"
#include "zb_store.h"
#include "zb_stream.h"

#include <stdint.h>

//  The owner's parts, none owned here.
typedef struct {
    zb_store_t *store;
    zb_fleet_t *fleet;
    zb_policy_t *policy;
    zb_stream_t *stream;
    zb_series_t *series; // outages counted for /metrics
    uint64_t *db_errors; // failed writes are counted here
} zb_record_t;

//  The fleet's sink; its arg is a zb_record_t.
extern const zb_fleet_sink_t zb_record_sink;

//  zb_policy's way out (its arg is a zb_record_t): writes counted as
//  above, alerts queued on the stream.
extern const zb_policy_io_t zb_record_policy_io;

//  Counts and logs a store write's result when it failed (rc < 0).
void zb_record_result(zb_record_t *self, int rc);

//  Loads hosts, services and open outages into the fleet (and the policy's
//  marks). Returns 0, or -1 (zb_store_error says why).
int zb_record_load(zb_record_t *self);

#endif
