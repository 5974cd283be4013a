/*  zb-relay-selftest: the self-tests of the relay's modules. */
#include "zb_relay_config.h"
#include "zb_selftest.h"

static const zb_selftest_t s_tests[] = {
    {"relay_config", zb_relay_config_test},
};

ZB_SELFTEST_MAIN(s_tests)
