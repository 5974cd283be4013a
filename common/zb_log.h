/*  zb_log: one line per event on stderr.

    "2026-11-28T05:40:07.123Z zbeat-agent I: message". Daemons call
    zb_log_init once; everything else just logs.
*/
#ifndef ZB_LOG_H
#define ZB_LOG_H

#include <stdbool.h>

void zb_log_init(const char *ident, bool verbose);
bool zb_log_verbose(void);

void zb_log_debug(const char *format, ...) __attribute__((format(printf, 1, 2)));
void zb_log_info(const char *format, ...) __attribute__((format(printf, 1, 2)));
void zb_log_warning(const char *format, ...) __attribute__((format(printf, 1, 2)));
void zb_log_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
