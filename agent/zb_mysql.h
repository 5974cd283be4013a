/*  zb_mysql: what a MySQL or MariaDB server says first (check = mysql).

    A server greets every new connection before the client says anything:
    a packet (3 bytes of payload length, little-endian, and sequence 0)
    whose payload is the initial handshake, protocol 10: the protocol byte,
    the server's version as NUL-terminated text, a 4-byte connection id,
    then what the client needs to authenticate, which the check does not.
    A server that will not serve this client (a host not allowed, too many
    connections) sends an error packet instead: 0xff, a 2-byte code and the
    message. MariaDB's version text starts with "5.5.5-" for old clients.

    zb_probe and zb_check judge the greeting with this one parser.
*/
#ifndef ZB_MYSQL_H
#define ZB_MYSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ZB_MYSQL_MORE = 0, // a greeting so far: more bytes are needed to tell
    ZB_MYSQL_GREETING, // a protocol-10 greeting, version and id read
    ZB_MYSQL_ERROR,    // an error packet: code and message read
    ZB_MYSQL_BAD       // not a MySQL greeting
} zb_mysql_result_t;

typedef struct {
    unsigned protocol;   // 10
    char version[64];    // "8.0.36", "5.5.5-10.11.6-MariaDB-0+deb12u1" (cut to fit)
    uint32_t connection; // the server's connection id
    unsigned error_code; // ZB_MYSQL_ERROR: e.g. 1130
    char error[128];     // ZB_MYSQL_ERROR: the message, printable ASCII (cut to fit)
} zb_mysql_greeting_t;

//  Reads the first n bytes the server sent. ZB_MYSQL_MORE while they are a
//  greeting's beginning (begun: at least the header and protocol 10).
zb_mysql_result_t zb_mysql_parse(const void *data, size_t n, zb_mysql_greeting_t *greeting);

//  Whether what came so far is a greeting's start: a header with sequence 0
//  and protocol 10 (the probe judges on this when a packet comes in parts).
bool zb_mysql_begun(const void *data, size_t n);

void zb_mysql_test(bool verbose);

#endif
