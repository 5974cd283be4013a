/*  Runs the self-tests of the report and HTTP modules: zb-http-selftest [NAME [-v]] */
#include "zb_http.h"
#include "zb_report.h"
#include "zb_selftest.h"

static const zb_selftest_t s_tests[] = {
    {"report", zb_report_test},
    {"http", zb_http_test},
};

ZB_SELFTEST_MAIN(s_tests)
