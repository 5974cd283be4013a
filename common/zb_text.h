/*  zb_text: the one home of text checks and escapes.

    Every byte that reaches the wire, a log line, a JSON document or a
    terminal passes one of these: a UTF-8 check (what jansson accepts: no
    overlong forms, surrogates, code points past U+10FFFF or cut sequences),
    a JSON string escaper (jansson's escapes, byte for byte) and a
    terminal-safe printer (nothing that can drive a terminal or reorder a
    line gets through raw).
*/
#ifndef ZB_TEXT_H
#define ZB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

//  The length of the UTF-8 sequence at text (len bytes available): 1 for an
//  ASCII byte (NUL included), 2 to 4 for a valid multibyte sequence, 0 when
//  no valid sequence starts here.
size_t zb_text_utf8_next(const char *text, size_t len);

//  zb_text_json_escape flags.
#define ZB_TEXT_JSON_REPAIR 1 // each byte of invalid UTF-8 as \ufffd (else it stops there)
#define ZB_TEXT_JSON_DEL 2    // DEL as \u007f too (jansson leaves it raw)

//  The most bytes zb_text_json_escape writes for len bytes of text.
#define ZB_TEXT_JSON_MAX(len) ((len)*6)

//  Writes len bytes of text into out as the inside of a JSON string (no
//  quotes, no NUL), escaped as jansson escapes: \" \\ \b \f \n \r \t, other
//  bytes below 0x20 as \u00XX, valid UTF-8 as it is. Stops before an escape
//  that does not fit in size bytes (a short buffer still holds valid JSON)
//  and, without ZB_TEXT_JSON_REPAIR, at invalid UTF-8. Sets *written to the
//  bytes written; returns the bytes of text taken, len when all were.
size_t zb_text_json_escape(const char *text, size_t len, char *out, size_t size, size_t *written,
                           int flags);

//  zb_text_printable flags.
#define ZB_TEXT_ASCII 1  // every byte from 0x7f as \xHH, valid UTF-8 too
#define ZB_TEXT_QUOTED 2 // for inside "...": " and \ as \x22 \x5c; \r \n \t as such

//  The buffer size, NUL included, that holds all of len bytes printable.
#define ZB_TEXT_PRINTABLE_MAX(len) ((len)*4 + 2)

//  Writes len bytes of text into out (size bytes, always NUL-terminated
//  when size > 0) so that a terminal shows them and obeys none of them:
//  control bytes, DEL, C1 controls and invalid UTF-8 as \xHH, bidirectional
//  overrides and isolates (U+202A..U+202E, U+2066..U+2069) as \u20XX, other
//  valid UTF-8 as it is. Stops when fewer than 6 bytes are left or before a
//  piece that does not fit. Returns the length written.
size_t zb_text_printable(const char *text, size_t len, char *out, size_t size, int flags);

void zb_text_test(bool verbose);

#endif
