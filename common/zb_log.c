/*  zb_log: one line per event on stderr. */
#include "zb_log.h"
#include "zb_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *s_ident = "zbeat";
static bool s_verbose = false;

void zb_log_init(const char *ident, bool verbose)
{
    s_ident = ident;
    s_verbose = verbose;
}

bool zb_log_verbose(void)
{
    return s_verbose;
}

static void s_log(char level, const char *format, va_list args)
{
    //  One fprintf per line, so lines from several processes sharing a
    //  stream do not interleave mid-line.
    char stamp[32], text[1024];
    int64_t now = zb_time_wall_ms();
    zb_time_format_rfc3339(now, stamp, sizeof(stamp));
    stamp[strlen(stamp) - 1] = '\0'; // drop the Z, the milliseconds go first
    vsnprintf(text, sizeof(text), format, args);
    fprintf(stderr, "%s.%03dZ %s %c: %s\n", stamp, (int)(now % 1000), s_ident, level, text);
}

#define ZB_LOG_BODY(level)                                                                         \
    va_list args;                                                                                  \
    va_start(args, format);                                                                        \
    s_log(level, format, args);                                                                    \
    va_end(args)

void zb_log_debug(const char *format, ...)
{
    if (!s_verbose)
        return;
    ZB_LOG_BODY('D');
}

void zb_log_info(const char *format, ...)
{
    ZB_LOG_BODY('I');
}

void zb_log_warning(const char *format, ...)
{
    ZB_LOG_BODY('W');
}

void zb_log_error(const char *format, ...)
{
    ZB_LOG_BODY('E');
}
