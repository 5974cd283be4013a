/*  zb-cli-selftest: the self-tests of the CLI's modules. */
#include "zb_cli_dedup.h"
#include "zb_selftest.h"

static const zb_selftest_t s_tests[] = {
    {"cli_dedup", zb_cli_dedup_test},
};

ZB_SELFTEST_MAIN(s_tests)
