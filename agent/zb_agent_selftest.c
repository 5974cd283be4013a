/*  Runs the self-test of one agent module (or all): zb-agent-selftest NAME */
#include "zb_agent_config.h"
#include "zb_check.h"
#include "zb_listener.h"
#include "zb_log.h"
#include "zb_net.h"
#include "zb_push.h"
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    void (*test)(bool verbose);
} s_tests[] = {
    {"net", zb_net_test},     {"agent_config", zb_agent_config_test},
    {"push", zb_push_test},   {"listener", zb_listener_test},
    {"check", zb_check_test}, {"log", zb_log_test},
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
        fprintf(stderr, "zb-agent-selftest: no test named '%s'\n", only);
        return 2;
    }
    return 0;
}
