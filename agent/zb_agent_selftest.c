/*  Runs the self-test of one agent module (or all): zb-agent-selftest NAME */
#include "zb_agent_config.h"
#include "zb_alive.h"
#include "zb_check.h"
#include "zb_journal.h"
#include "zb_curve.h"
#include "zb_discover.h"
#include "zb_docker.h"
#include "zb_docker_msg.h"
#include "zb_expect.h"
#include "zb_listener.h"
#include "zb_mysql.h"
#include "zb_net.h"
#include "zb_plan.h"
#include "zb_pool.h"
#include "zb_portcheck.h"
#include "zb_probe.h"
#include "zb_push.h"
#include "zb_resolver.h"
#include "zb_selftest.h"
#include "zb_target.h"
#include "zb_tls.h"
#ifdef ZB_TLS_RECORD
#include "zb_tls_record.h"
#endif
#include "zb_verdict.h"
#include "zb_watch.h"

static const zb_selftest_t s_tests[] = {
    {"net", zb_net_test},
    {"agent_config", zb_agent_config_test},
    {"push", zb_push_test},
    {"listener", zb_listener_test},
    {"check", zb_check_test},
    {"watch", zb_watch_test},
    {"curve", zb_curve_test},
    {"journal", zb_journal_test},
    {"resolver", zb_resolver_test},
    {"docker", zb_docker_test},
    {"docker_msg", zb_docker_msg_test},
    {"discover", zb_discover_test},
    {"tls", zb_tls_test},
#ifdef ZB_TLS_RECORD
    {"tls_record", zb_tls_record_test},
#endif
    {"plan", zb_plan_test},
    {"probe", zb_probe_test},
    {"mysql", zb_mysql_test},
    {"portcheck", zb_portcheck_test},
    {"pool", zb_pool_test},
    {"expect", zb_expect_test},
    {"verdict", zb_verdict_test},
    {"target", zb_target_test},
    {"alive", zb_alive_test},
};

ZB_SELFTEST_MAIN(s_tests)
