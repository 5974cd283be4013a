/*  zb-store-selftest: the self-tests of the store modules (NAME, or all). */
#include "zb_query.h"
#include "zb_report.h"
#include "zb_selftest.h"
#include "zb_store.h"

static const zb_selftest_t s_tests[] = {
    {"store", zb_store_test},
    {"store_fleet", zb_store_fleet_test},
    {"query", zb_query_test},
    {"report", zb_report_test},
};

ZB_SELFTEST_MAIN(s_tests)
