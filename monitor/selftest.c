/*  Runs the self-test of one monitor module (or all): zb-monitor-selftest NAME */
#include "zb_alert.h"
#include "zb_dispatch.h"
#include "zb_hook.h"
#include "zb_monitor.h"
#include "zb_monitor_config.h"
#include "zb_store.h"
#include "zb_webhook.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    void (*test)(bool verbose);
} s_tests[] = {
    {"store", zb_store_test},     {"monitor_config", zb_monitor_config_test},
    {"alert", zb_alert_test},     {"hook", zb_hook_test},
    {"webhook", zb_webhook_test}, {"dispatch", zb_dispatch_test},
    {"monitor", zb_monitor_test},
};

int main(int argc, char *argv[])
{
    const char *only = argc > 1 ? argv[1] : NULL;
    bool verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
    int ran = 0;
    for (size_t i = 0; i < sizeof(s_tests) / sizeof(s_tests[0]); i++) {
        if (only && strcmp(only, s_tests[i].name) != 0)
            continue;
        printf(" * %s: ", s_tests[i].name);
        fflush(stdout);
        s_tests[i].test(verbose);
        printf("OK\n");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "zb-monitor-selftest: no test named '%s'\n", only);
        return 2;
    }
    return 0;
}
