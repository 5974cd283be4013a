/*  Runs the self-test of one common module (or all): zb-common-selftest [NAME [-v]]
    zb-common-selftest --list names them. */
#include "zb_config.h"
#include "zb_line.h"
#include "zb_loop.h"
#include "zb_proto.h"
#include "zb_time.h"
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    void (*test)(bool verbose);
} s_tests[] = {
    {"time", zb_time_test}, {"proto", zb_proto_test}, {"config", zb_config_test},
    {"loop", zb_loop_test}, {"line", zb_line_test},
};

int main(int argc, char *argv[])
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof(s_tests) / sizeof(s_tests[0]); i++)
            printf("%s\n", s_tests[i].name);
        return 0;
    }
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
        fprintf(stderr, "zb-common-selftest: no test named '%s'\n", only);
        return 2;
    }
    return 0;
}
