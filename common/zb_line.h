/*  zb_line: the heartbeat line protocol that push and ttl services speak to
    the agent (docs/push.md).

    A pure parser, no I/O: the listener frames lines (at most ZB_LINE_MAX
    bytes, newline included; a "\r" before the "\n" is stripped), this module
    turns one line into a command. Keeping it free of state and I/O lets it
    be fuzzed on its own.

        HELLO <service> [interval=<duration>]
        PING
        CHECKIN
        BYE

    Tokens are case-sensitive and separated by exactly one space.
*/
#ifndef ZB_LINE_H
#define ZB_LINE_H

#include "zb_msg.h"
#include <stdbool.h>
#include <stdint.h>

#define ZB_LINE_MAX 256 // bytes of one line, the "\n" included

typedef enum {
    ZB_LINE_HELLO = 1, // service is set, interval_ms maybe
    ZB_LINE_PING,
    ZB_LINE_CHECKIN,
    ZB_LINE_BYE
} zb_line_type_t;

typedef struct {
    zb_line_type_t type;
    char service[ZB_NAME_MAX + 1]; // HELLO only, else empty
    int64_t interval_ms;           // HELLO's interval=, 0 when absent
} zb_line_cmd_t;

//  Parses one NUL-terminated line, without its newline. Returns 0 with *cmd
//  set, or -1 with *reason_p set to a static token for "ERR <reason>":
//  "bad-command" (unknown verb, bad syntax), "bad-name" (the service fails
//  zb_name_valid), "bad-interval" (not a positive duration).
int zb_line_parse(const char *line, zb_line_cmd_t *cmd, const char **reason_p);

//  The command's verb, "HELLO" ... "BYE", for logs.
const char *zb_line_type_name(zb_line_type_t type);

void zb_line_test(bool verbose);

#endif
