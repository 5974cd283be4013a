/*  Runs the self-test of one monitor module (or all): zb-monitor-selftest NAME */
#include "zb_alert.h"
#include "zb_alertmanager.h"
#include "zb_auth.h"
#include "zb_detector.h"
#include "zb_dispatch.h"
#include "zb_email.h"
#include "zb_fleet.h"
#include "zb_hook.h"
#include "zb_intake.h"
#include "zb_monitor.h"
#include "zb_monitor_config.h"
#include "zb_orders.h"
#include "zb_pulse.h"
#include "zb_series.h"
#include "zb_webhook.h"
#include "zb_selftest.h"

static const zb_selftest_t s_tests[] = {
    {"monitor_config", zb_monitor_config_test},
    {"auth", zb_auth_test},
    {"alert", zb_alert_test},
    {"hook", zb_hook_test},
    {"webhook", zb_webhook_test},
    {"alertmanager", zb_alertmanager_test},
    {"email", zb_email_test},
    {"series", zb_series_test},
    {"dispatch", zb_dispatch_test},
    {"monitor", zb_monitor_test},
    {"fleet", zb_fleet_test},
    {"intake", zb_intake_test},
    {"orders", zb_orders_test},
    {"detector", zb_detector_test},
    {"pulse", zb_pulse_test},
};

ZB_SELFTEST_MAIN(s_tests)
