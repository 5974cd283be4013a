/*  Runs the self-test of the report or HTTP module (or both):
    zb-http-selftest [report|http] [-v] */
#include "zb_http.h"
#include "zb_report.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    void (*test)(bool verbose);
} s_tests[] = {
    {"report", zb_report_test},
    {"http", zb_http_test},
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
        fprintf(stderr, "zb-http-selftest: no test named '%s'\n", only);
        return 2;
    }
    return 0;
}
