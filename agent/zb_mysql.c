/*  zb_mysql: what a MySQL or MariaDB server says first. See zb_mysql.h. */
#include "zb_mysql.h"
#include "zb_text.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define S_HEADER 4             // payload length (3) and sequence (1)
#define S_PAYLOAD_MAX 16777215 // 2^24 - 1: longer payloads are split, a greeting never is

bool zb_mysql_begun(const void *data, size_t n)
{
    const unsigned char *p = data;
    return n >= S_HEADER + 1 && p[3] == 0 && p[4] == 10;
}

zb_mysql_result_t zb_mysql_parse(const void *data, size_t n, zb_mysql_greeting_t *greeting)
{
    assert(data || n == 0);
    assert(greeting);
    const unsigned char *p = data;
    memset(greeting, 0, sizeof(*greeting));
    if (n < S_HEADER + 1)
        return n >= S_HEADER && p[3] != 0 ? ZB_MYSQL_BAD : ZB_MYSQL_MORE;
    size_t length = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
    if (p[3] != 0 || length == 0 || length == S_PAYLOAD_MAX)
        return ZB_MYSQL_BAD;
    const unsigned char *payload = p + S_HEADER;
    size_t have = n - S_HEADER < length ? n - S_HEADER : length;
    if (payload[0] == 0xff) {
        //  0xff, the code, then (4.1 and later) '#' and a 5-byte SQL state.
        if (length < 3)
            return ZB_MYSQL_BAD;
        if (have < length)
            return ZB_MYSQL_MORE;
        greeting->error_code = payload[1] | payload[2] << 8;
        size_t at = 3;
        if (length >= 9 && payload[3] == '#')
            at = 9;
        zb_text_printable((const char *)payload + at, length - at, greeting->error,
                          sizeof(greeting->error), ZB_TEXT_ASCII);
        return ZB_MYSQL_ERROR;
    }
    if (payload[0] != 10)
        return ZB_MYSQL_BAD;
    greeting->protocol = 10;
    //  The version, NUL-terminated, then the connection id.
    const unsigned char *end = memchr(payload + 1, '\0', have - 1);
    if (!end)
        return have == length ? ZB_MYSQL_BAD : ZB_MYSQL_MORE;
    size_t version_len = (size_t)(end - payload - 1);
    if ((size_t)(end - payload) + 1 + 4 > length)
        return ZB_MYSQL_BAD; // no room for the connection id: not a greeting
    if ((size_t)(end - payload) + 1 + 4 > have)
        return ZB_MYSQL_MORE;
    zb_text_printable((const char *)payload + 1, version_len, greeting->version,
                      sizeof(greeting->version), ZB_TEXT_ASCII);
    const unsigned char *id = end + 1;
    greeting->connection =
        (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 | (uint32_t)id[3] << 24;
    return ZB_MYSQL_GREETING;
}

void zb_mysql_test(bool verbose)
{
    (void)verbose;
    zb_mysql_greeting_t g;
    //  MariaDB 10.11's greeting, as a server sent it (cut after the id).
    static const char maria[] = "\x6a\x00\x00\x00\x0a"
                                "5.5.5-10.11.6-MariaDB\x00"
                                "\x2a\x01\x00\x00"
                                "salt";
    size_t len = sizeof(maria) - 1;
    assert(zb_mysql_parse(maria, len, &g) == ZB_MYSQL_GREETING);
    assert(g.protocol == 10 && strcmp(g.version, "5.5.5-10.11.6-MariaDB") == 0);
    assert(g.connection == 0x12a);
    //  Every shorter prefix is a greeting begun, never bad.
    for (size_t i = 0; i < len - 4; i++)
        assert(zb_mysql_parse(maria, i, &g) == ZB_MYSQL_MORE);
    assert(zb_mysql_begun(maria, 5) && !zb_mysql_begun(maria, 4));
    //  An error packet: 1130, "Host ... is not allowed".
    static const char denied[] = "\x1f\x00\x00\x00\xff\x6a\x04"
                                 "Host 'x' is not allowed here";
    assert(zb_mysql_parse(denied, sizeof(denied) - 1, &g) == ZB_MYSQL_ERROR);
    assert(g.error_code == 1130 && strcmp(g.error, "Host 'x' is not allowed here") == 0);
    assert(zb_mysql_parse(denied, 10, &g) == ZB_MYSQL_MORE);
    //  With the SQL state, which is not part of the message.
    static const char state[] = "\x0c\x00\x00\x00\xff\x10\x04#08004Too";
    assert(zb_mysql_parse(state, sizeof(state) - 1, &g) == ZB_MYSQL_ERROR);
    assert(g.error_code == 1040 && strcmp(g.error, "Too") == 0);
    //  Not MySQL: a redis error, an HTTP reply, sequence 1, protocol 9, no
    //  room for the id.
    assert(zb_mysql_parse("-ERR unknown\r\n", 14, &g) == ZB_MYSQL_BAD);
    assert(zb_mysql_parse("HTTP/1.1 400", 12, &g) == ZB_MYSQL_BAD);
    assert(zb_mysql_parse("\x05\x00\x00\x01\x0a", 5, &g) == ZB_MYSQL_BAD);
    assert(zb_mysql_parse("\x05\x00\x00\x00\x09", 5, &g) == ZB_MYSQL_BAD);
    assert(zb_mysql_parse("\x04\x00\x00\x00\x0a"
                          "8.0\x00",
                          9, &g) == ZB_MYSQL_BAD);
    //  Control bytes in a version do not reach a terminal.
    static const char odd[] = "\x0a\x00\x00\x00\x0a\x1b[2J\x00\x01\x00\x00\x00";
    assert(zb_mysql_parse(odd, sizeof(odd) - 1, &g) == ZB_MYSQL_GREETING);
    assert(!strchr(g.version, '\x1b'));
}
