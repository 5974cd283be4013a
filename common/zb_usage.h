/*  zb_usage: the one wording of bad usage for every program (zbeat,
    zbeat-agent, zbeat-monitor): one line on stderr, exit code 2.

        PROGRAM: --db needs a value (see PROGRAM --help)
        PROGRAM: unknown option '--bogus' (see PROGRAM --help)
        PROGRAM: unexpected argument 'extra' (see PROGRAM --help)
*/
#ifndef ZB_USAGE_H
#define ZB_USAGE_H

#include <stdarg.h>

//  "PROGRAM: message (see PROGRAM --help)", the message made printable (it
//  may quote an argument). Returns 2.
int zb_usage_bad(const char *program, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
int zb_usage_vbad(const char *program, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

//  The three common errors. Each returns 2.
int zb_usage_missing(const char *program, const char *option); // "OPTION needs a value"
int zb_usage_unknown(const char *program, const char *option); // "unknown option 'OPTION'"
int zb_usage_unexpected(const char *program, const char *arg); // "unexpected argument 'ARG'"

//  getopt_long's error, with opterr = 0 and an optstring that begins with
//  ':': opt ':' is a missing value, anything else an unknown option.
int zb_usage_getopt(const char *program, int opt, char *argv[], int optind);

#endif
