/*  zb_json_scan: the checks over a whole JSON text that jansson made and
    yajl does not (zb_proto_decode's strictness, before yajl parses). */
#include "zb_json_scan.h"
#include "zb_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

//  The value of 4 hex digits at text, or -1.
static long s_hex4(const unsigned char *text, size_t len)
{
    long value = 0;
    if (len < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = text[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

//  Refuses the \u escapes that jansson refused and yajl would turn into
//  '?' or into the wrong character: U+0000, a lone surrogate, a high
//  surrogate followed by anything but a low one. Escapes that are not 4 hex
//  digits are left to yajl. On valid JSON the string tracking is exact.
static int s_scan_escapes(const unsigned char *text, size_t len, char *err, size_t errsize)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = text[i] == '"';
            continue;
        }
        if (text[i] == '"')
            in_string = false;
        if (text[i] != '\\' || i + 1 >= len)
            continue;
        size_t at = i++;
        if (text[i] != 'u')
            continue;
        long value = s_hex4(text + i + 1, len - i - 1);
        if (value < 0)
            continue;
        i += 4;
        if (value == 0) {
            snprintf(err, errsize, "bad JSON at byte %zu: \\u0000 is not allowed", at);
            return -1;
        }
        if (value >= 0xD800 && value <= 0xDBFF) {
            long low = i + 2 < len && text[i + 1] == '\\' && text[i + 2] == 'u'
                           ? s_hex4(text + i + 3, len - i - 3)
                           : -1;
            if (low < 0xDC00 || low > 0xDFFF) {
                snprintf(err, errsize, "bad JSON at byte %zu: unpaired UTF-16 surrogate \\u%04lX",
                         at, value);
                return -1;
            }
            i += 6;
        } else if (value >= 0xDC00 && value <= 0xDFFF) {
            snprintf(err, errsize, "bad JSON at byte %zu: unpaired UTF-16 surrogate \\u%04lX", at,
                     value);
            return -1;
        }
    }
    return 0;
}

//  What jansson checked and yajl does not, over the whole text before it
//  is parsed: strict UTF-8; no control characters but the whitespace JSON
//  allows (yajl also takes \v and \f for whitespace); and \u escapes (see
//  above). Outside strings such bytes are no valid JSON either, so the text
//  can be checked whole. Eight bytes at a time while they are plain ASCII.
int zb_json_scan(const unsigned char *text, size_t len, char *err, size_t errsize)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t word;
            memcpy(&word, text + i, 8);
            //  Any byte >= 0x80, or any below 0x20 (exact when none is
            //  >= 0x80, which the first term catches).
            if (!((word | ((word - 0x20 * ones) & ~word)) & highs)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = text[i];
        if (c >= 0x20 && c < 0x80) {
            i++;
            continue;
        }
        if (c < 0x20) {
            if (c != '\t' && c != '\n' && c != '\r') {
                snprintf(err, errsize, "bad JSON at byte %zu: control character 0x%02x", i, c);
                return -1;
            }
            i++;
            continue;
        }
        size_t n = zb_text_utf8_next((const char *)text + i, len - i);
        if (n == 0) {
            snprintf(err, errsize, "bad JSON at byte %zu: invalid UTF-8", i);
            return -1;
        }
        i += n;
    }
    if (len == 0) // text may be NULL then, which memchr does not take
        return 0;
    //  Most texts have no escapes at all, and memchr is fast.
    for (const unsigned char *at = text; (at = memchr(at, '\\', len - (size_t)(at - text))); at++)
        if (at + 1 < text + len && at[1] == 'u')
            return s_scan_escapes(text, len, err, errsize);
    return 0;
}
