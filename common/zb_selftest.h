/*  zb_selftest: the runner behind every self-test binary.

        zb-X-selftest            runs every test in the table
        zb-X-selftest NAME [-v]  runs one (verbose with -v); ctest runs each
        zb-X-selftest --list     names them (CI runs each under valgrind)
*/
#ifndef ZB_SELFTEST_H
#define ZB_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;
    void (*test)(bool verbose);
} zb_selftest_t;

//  Returns main's exit status: 0, or 2 for an unknown test name.
int zb_selftest_run(const zb_selftest_t *tests, size_t count, int argc, char *argv[]);

#define ZB_SELFTEST_MAIN(table)                                                                    \
    int main(int argc, char *argv[])                                                               \
    {                                                                                              \
        return zb_selftest_run(table, sizeof(table) / sizeof(table[0]), argc, argv);               \
    }

#endif
