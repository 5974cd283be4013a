/*  zb_selftest: the runner behind every self-test binary. */
#include "zb_selftest.h"

#include <stdio.h>
#include <string.h>

int zb_selftest_run(const zb_selftest_t *tests, size_t count, int argc, char *argv[])
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < count; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    const char *only = argc > 1 ? argv[1] : NULL;
    bool verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        if (only && strcmp(only, tests[i].name) != 0)
            continue;
        printf(" * %s: ", tests[i].name);
        fflush(stdout);
        tests[i].test(verbose);
        printf("OK\n");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "%s: no test named '%s'\n", argv[0], only);
        return 2;
    }
    return 0;
}
