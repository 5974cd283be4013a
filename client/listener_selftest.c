/*  Runs the push listener's self-test: zb-listener-selftest [-v] */
#include "zb_listener.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char *argv[])
{
    bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    printf(" * listener: ");
    fflush(stdout);
    zb_listener_test(verbose);
    printf("OK\n");
    return 0;
}
