/*  zb_log: one line per event on stderr.

    Text (the default), for people and terminals:
        "2026-11-28T05:40:07.123Z zbeat-agent I: message"
    JSON (zb_log_set_format (ZB_LOG_JSON)), for log shippers: one object per
    line with ts, level, ident, msg, and for state changes (zb_log_state)
    the fields host, service, from, state, reason, error as well:
        {"ts":"2026-11-28T05:40:07.123Z","level":"info","ident":"zbeat-agent",
         "msg":"redis: up -> down (refused: ...)","host":"web-1",
         "service":"redis","from":"up","state":"down","reason":"refused",
         "error":"connect: Connection refused"}

    Daemons call zb_log_init (and maybe zb_log_set_format) once, before any
    thread starts; everything else just logs. Every line is one fprintf, so
    threads and processes sharing the stream never interleave mid-line.
*/
#ifndef ZB_LOG_H
#define ZB_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { ZB_LOG_TEXT = 0, ZB_LOG_JSON } zb_log_format_t;

void zb_log_init(const char *ident, bool verbose);
bool zb_log_verbose(void);

//  "text" or "json" (for a --log-format flag). Returns 0, or -1 for
//  anything else.
int zb_log_format_parse(const char *text, zb_log_format_t *format);
void zb_log_set_format(zb_log_format_t format);
zb_log_format_t zb_log_format(void);

//  Where lines go; NULL means stderr (the default). For tests.
void zb_log_set_stream(FILE *stream);

void zb_log_debug(const char *format, ...) __attribute__((format(printf, 1, 2)));
void zb_log_info(const char *format, ...) __attribute__((format(printf, 1, 2)));
void zb_log_warning(const char *format, ...) __attribute__((format(printf, 1, 2)));
void zb_log_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

//  A state change of a service (info level). The text line is
//  "SERVICE: FROM -> TO (REASON: ERROR)", "(REASON)" without an error, or no
//  parenthesis for an "ok" without error. host, reason and error may be NULL
//  or empty; JSON then leaves those fields out.
void zb_log_state(const char *host, const char *service, const char *from, const char *to,
                  const char *reason, const char *error);

//  An info line about a host or service (the monitor's outage and host
//  lines): the text is the formatted message; JSON adds host, service,
//  state and reason as fields (NULL or empty ones are left out), the same
//  fields zb_log_state gives, so one grep finds both.
void zb_log_fields(const char *host, const char *service, const char *state, const char *reason,
                   const char *format, ...) __attribute__((format(printf, 5, 6)));

void zb_log_test(bool verbose);

#endif
