/*  Runs the self-test of the HTTP module: zb-http-selftest [NAME [-v]] */
#include "zb_http.h"
#include "zb_selftest.h"

static const zb_selftest_t s_tests[] = {
    {"http", zb_http_test},
};

ZB_SELFTEST_MAIN(s_tests)
