/*  What zb_fleet's self-test (zb_fleet_test.c) shares between its files: a
    sink standing in for zb_record and the store (zb_fleet_test_sink.c).
    It writes every effect into a log that the test compares, and numbers
    outages and keeps replay keys as the store would, so that the replay
    rules see the answers a real store gives.

    Times in the log are after ZB_FLEET_TEST_T0, the wall clock's base.
*/
#ifndef ZB_FLEET_TEST_H
#define ZB_FLEET_TEST_H

#include "zb_fleet.h"

#include <stdint.h>

#define ZB_FLEET_TEST_T0 1800000000000LL // wall clock base
#define ZB_FLEET_TEST_OUTAGES 64
#define ZB_FLEET_TEST_KEYS 64

typedef struct {
    char host[ZB_NAME_MAX + 1];
    char service[ZB_NAME_MAX + 1]; // "" for the host's
    int64_t started, ended;        // ended -1 while open
} zb_fleet_test_outage_t;

//  The sink's state: a test may read it, and set outages as a previous
//  monitor run (or the store's own replay work) would have left them.
typedef struct {
    char log[8192]; // effects since the last check, ';'-separated
    zb_fleet_test_outage_t outages[ZB_FLEET_TEST_OUTAGES];
    int outage_count; // ids are index + 1
    char keys[ZB_FLEET_TEST_KEYS][ZB_NAME_MAX + ZB_INSTANCE_LEN + 24];
    int key_count;
} zb_fleet_test_sink_t;

//  The sink; its arg is a zb_fleet_test_sink_t.
extern const zb_fleet_sink_t zb_fleet_test_sink;

#endif
