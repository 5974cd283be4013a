/*  zb_usage: bad usage, worded once. See zb_usage.h. */
#include "zb_usage.h"
#include "zb_text.h"

#include <stdio.h>
#include <string.h>

int zb_usage_vbad(const char *program, const char *format, va_list args)
{
    char text[512], safe[1024];
    vsnprintf(text, sizeof(text), format, args);
    zb_text_printable(text, strlen(text), safe, sizeof(safe), 0);
    fprintf(stderr, "%s: %s (see %s --help)\n", program, safe, program);
    return 2;
}

int zb_usage_bad(const char *program, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int rc = zb_usage_vbad(program, format, args);
    va_end(args);
    return rc;
}

int zb_usage_missing(const char *program, const char *option)
{
    return zb_usage_bad(program, "%.80s needs a value", option);
}

int zb_usage_unknown(const char *program, const char *option)
{
    return zb_usage_bad(program, "unknown option '%.80s'", option);
}

int zb_usage_unexpected(const char *program, const char *arg)
{
    return zb_usage_bad(program, "unexpected argument '%.80s'", arg);
}

int zb_usage_getopt(const char *program, int opt, char *argv[], int optind)
{
    const char *option = argv[optind - 1];
    return opt == ':' ? zb_usage_missing(program, option) : zb_usage_unknown(program, option);
}
