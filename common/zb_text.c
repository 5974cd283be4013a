/*  zb_text: UTF-8 check, JSON string escape, terminal-safe printing. */
#include "zb_text.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t zb_text_utf8_next(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    if (len == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint32_t point, min;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2, point = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3, point = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4, point = c & 0x07, min = 0x10000;
    else
        return 0; // a continuation byte, or a lead only overlong forms or > U+10FFFF use
    if (need > len)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        point = (point << 6) | (p[i] & 0x3f);
    }
    if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
        return 0;
    return need;
}

//  Escapes the one character at text that needs more than a copy into out
//  (size bytes). Returns the bytes of text it stands for, with *n bytes
//  written; 0 when it does not fit or is invalid UTF-8 not to be repaired.
//  Apart from the loop below so that the loop stays small.
static size_t s_json_piece(const char *text, size_t len, char *out, size_t size, size_t *n,
                           int flags)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c = (unsigned char)text[0];
    char piece[6];
    const char *from = piece;
    size_t step = 1;
    *n = 2;
    piece[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        piece[1] = (char)c;
        break;
    case '\b':
        piece[1] = 'b';
        break;
    case '\f':
        piece[1] = 'f';
        break;
    case '\n':
        piece[1] = 'n';
        break;
    case '\r':
        piece[1] = 'r';
        break;
    case '\t':
        piece[1] = 't';
        break;
    default:
        if (c < 0x20) {
            memcpy(piece, "\\u00", 4);
            piece[4] = hex[c >> 4];
            piece[5] = hex[c & 15];
            *n = 6;
        } else if (c == 0x7f) {
            //  Lower case, as the JSON logs have always written it.
            if (flags & ZB_TEXT_JSON_DEL)
                from = "\\u007f", *n = 6;
            else
                from = text, *n = 1;
        } else if ((step = zb_text_utf8_next(text, len)) > 0)
            from = text, *n = step;
        else if (flags & ZB_TEXT_JSON_REPAIR)
            from = "\\ufffd", *n = 6, step = 1;
        else
            return 0;
    }
    if (*n > size)
        return 0;
    memcpy(out, from, *n);
    return step;
}

//  The bytes JSON takes as they are: printable ASCII but " and \\.
static const bool s_json_plain[256] = {
    [0x20 ... 0x21] = true, [0x23 ... 0x5b] = true, [0x5d ... 0x7e] = true};

size_t zb_text_json_escape(const char *text, size_t len, char *out, size_t size, size_t *written,
                           int flags)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t at = 0, i = 0;
    for (;;) {
        //  A run of bytes that need no escape, as far as text and room go:
        //  the beat encoder's inner loop, kept to a load, a test and a store.
        size_t room = size - at, most = len - i < room ? len - i : room, k = 0;
        while (k < most && s_json_plain[p[i + k]]) {
            out[at + k] = (char)p[i + k];
            k++;
        }
        at += k;
        i += k;
        if (i == len || k == room)
            break;
        size_t n, step = s_json_piece(text + i, len - i, out + at, size - at, &n, flags);
        if (step == 0)
            break;
        at += n;
        i += step;
    }
    *written = at;
    return i;
}

//  U+202A..U+202E and U+2066..U+2069 (E2 80 AA..AE, E2 81 A6..A9) reorder
//  what a terminal shows after them: a reason could make a table line read
//  as something else.
static bool s_bidi_control(const unsigned char *p)
{
    return p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                            (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

size_t zb_text_printable(const char *text, size_t len, char *out, size_t size, int flags)
{
    if (size == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    size_t n = 0, i = 0;
    if (!text)
        len = 0;
    while (i < len && n + 5 < size) {
        unsigned char c = p[i];
        char piece[8];
        const char *from = piece;
        size_t piece_len, step = 1;
        bool quoted = flags & ZB_TEXT_QUOTED;
        if (quoted && (c == '\r' || c == '\n' || c == '\t')) {
            piece[0] = '\\';
            piece[1] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
            piece_len = 2;
        } else if (c >= 0x20 && c < 0x7f && !(quoted && (c == '"' || c == '\\'))) {
            from = (const char *)p + i;
            piece_len = 1;
        } else if (c < 0x80 || (flags & ZB_TEXT_ASCII) ||
                   (step = zb_text_utf8_next((const char *)p + i, len - i)) == 0 ||
                   (c == 0xc2 && p[i + 1] < 0xa0)) {
            //  Control bytes, DEL, invalid UTF-8, and C1 controls (U+0080..
            //  U+009F, which some terminals obey as ESC sequences).
            piece_len = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", c);
            step = 1;
        } else if (step == 3 && s_bidi_control(p + i)) {
            piece_len = (size_t)snprintf(piece, sizeof(piece), "\\u%04x",
                                         0x2000 | ((p[i + 1] & 0x3f) << 6) | (p[i + 2] & 0x3f));
        } else {
            from = (const char *)p + i;
            piece_len = step;
        }
        if (n + piece_len >= size)
            break;
        memcpy(out + n, from, piece_len);
        n += piece_len;
        i += step;
    }
    out[n] = '\0';
    return n;
}

//  --------------------------------------------------------------------------
//  Self-test

//  Code point as UTF-8 in `bytes` bytes (1 to 4), overlong when more than
//  it needs; no check of the value. Returns bytes.
static size_t s_encode(uint32_t point, size_t bytes, char *out)
{
    static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    if (bytes == 1) {
        out[0] = (char)point;
        return 1;
    }
    for (size_t i = bytes - 1; i > 0; i--) {
        out[i] = (char)(0x80 | (point & 0x3f));
        point >>= 6;
    }
    out[0] = (char)(lead[bytes] | point);
    return bytes;
}

static size_t s_utf8_size(uint32_t point)
{
    return point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
}

//  True when the escaper takes all of text (it stops at invalid UTF-8).
static bool s_valid(const char *text, size_t len)
{
    char out[64];
    size_t written;
    assert(ZB_TEXT_JSON_MAX(len) <= sizeof(out));
    return zb_text_json_escape(text, len, out, sizeof(out), &written, 0) == len;
}

static void s_test_utf8(bool verbose)
{
    char seq[8];
    //  Every code point in its shortest form, and every shorter cut of it.
    for (uint32_t point = 0; point <= 0x10ffff; point++) {
        size_t len = s_encode(point, s_utf8_size(point), seq);
        bool surrogate = point >= 0xd800 && point <= 0xdfff;
        assert(zb_text_utf8_next(seq, len) == (surrogate ? 0 : len));
        assert(s_valid(seq, len) == !surrogate);
        for (size_t cut = 1; cut < len; cut++) {
            assert(zb_text_utf8_next(seq, cut) == 0);
            assert(!s_valid(seq, cut));
        }
        //  The same bytes followed by more: only the first sequence counts.
        seq[len] = 'x';
        assert(zb_text_utf8_next(seq, len + 1) == (surrogate ? 0 : len));
    }
    //  Every overlong form: a code point in more bytes than it needs.
    for (uint32_t point = 0; point < 0x10000; point++)
        for (size_t bytes = s_utf8_size(point) + 1; bytes <= 4; bytes++) {
            size_t len = s_encode(point, bytes, seq);
            assert(zb_text_utf8_next(seq, len) == 0 && !s_valid(seq, len));
        }
    //  Past U+10FFFF, as far as a four-byte form reaches.
    for (uint32_t point = 0x110000; point <= 0x1fffff; point++) {
        size_t len = s_encode(point, 4, seq);
        assert(zb_text_utf8_next(seq, len) == 0 && !s_valid(seq, len));
    }
    //  Bytes that never start a sequence; a lead followed by no
    //  continuation; nothing at all.
    for (int c = 0x80; c < 0x100; c++) {
        seq[0] = (char)c;
        memcpy(seq + 1, "\x80\x80\x80", 3);
        //  With continuations 0x80: E0 and F0 make overlong forms.
        bool lead =
            (c >= 0xc2 && c <= 0xdf) || (c >= 0xe1 && c <= 0xef) || (c >= 0xf1 && c <= 0xf4);
        assert((zb_text_utf8_next(seq, 4) > 0) == lead);
        seq[1] = 'a';
        assert(zb_text_utf8_next(seq, 4) == 0);
    }
    assert(zb_text_utf8_next("", 0) == 0 && s_valid("", 0));
    assert(s_valid("a\0b", 3)); // NUL is ASCII
    assert(s_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
    assert(!s_valid("caf\xc3\xa9 \xf0\x9f\x98", 9));
    assert(!s_valid("\xed\xa0\x80\xed\xb0\x80", 6)); // CESU-8 pair
    if (verbose)
        printf("\n    utf8: every code point, overlong, cut and out of range");
}

static void s_expect_json(const char *text, size_t len, int flags, size_t size, const char *expect)
{
    char out[256];
    assert(size <= sizeof(out));
    size_t n;
    zb_text_json_escape(text, len, out, size, &n, flags);
    if (n != strlen(expect) || memcmp(out, expect, n) != 0) {
        fprintf(stderr, "json escape: got '%.*s', want '%s'\n", (int)n, out, expect);
        assert(false);
    }
}

static void s_test_json(void)
{
    char out256[256];
    //  Every byte alone, as jansson writes it.
    for (int c = 0; c < 256; c++) {
        char byte = (char)c, want[8];
        if (c == '"' || c == '\\')
            snprintf(want, sizeof(want), "\\%c", c);
        else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            snprintf(want, sizeof(want), "\\%c",
                     c == '\b'   ? 'b'
                     : c == '\f' ? 'f'
                     : c == '\n' ? 'n'
                     : c == '\r' ? 'r'
                                 : 't');
        else if (c < 0x20)
            snprintf(want, sizeof(want), "\\u%04X", c);
        else if (c < 0x80)
            snprintf(want, sizeof(want), "%c", c);
        else
            want[0] = '\0'; // alone, never UTF-8: the escape stops
        s_expect_json(&byte, 1, 0, 6, want);
        if (c == 0x7f)
            snprintf(want, sizeof(want), "\\u007f");
        s_expect_json(&byte, 1, ZB_TEXT_JSON_DEL, 6, want);
        if (c >= 0x80)
            snprintf(want, sizeof(want), "\\ufffd");
        s_expect_json(&byte, 1, ZB_TEXT_JSON_DEL | ZB_TEXT_JSON_REPAIR, 6, want);
    }
    s_expect_json("\x1b[31m", 5, 0, 64, "\\u001B[31m");
    s_expect_json("\x1f\x0b", 2, 0, 64, "\\u001F\\u000B");
    //  Repair: valid sequences pass, each bad byte is one U+FFFD.
    const char *mixed = "\xc3\xa9\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";
    s_expect_json(mixed, strlen(mixed), ZB_TEXT_JSON_REPAIR, 256,
                  "\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
                  "\\ufffd\\ufffd");
    //  Without it the escape stops at the first invalid byte.
    s_expect_json("\xc3\xa9", 2, 0, 64, "\xc3\xa9");
    size_t written;
    assert(zb_text_json_escape(mixed, strlen(mixed), out256, sizeof(out256), &written, 0) == 2);
    assert(written == 2 && memcmp(out256, "\xc3\xa9", 2) == 0);
    assert(zb_text_json_escape("a\"\xff", 3, out256, sizeof(out256), &written, 0) == 2);
    assert(written == 3);
    //  A short buffer: stops before the escape that does not fit.
    s_expect_json("ab\ncd", 5, 0, 3, "ab");
    s_expect_json("ab\ncd", 5, 0, 4, "ab\\n");
    s_expect_json("a\x01", 2, 0, 6, "a");
    s_expect_json("a\xc3\xa9", 3, ZB_TEXT_JSON_REPAIR, 2, "a");
    s_expect_json("a\xff", 2, ZB_TEXT_JSON_REPAIR, 6, "a");
    s_expect_json("abc", 3, 0, 0, "");
    //  The worst case fits ZB_TEXT_JSON_MAX exactly.
    char worst[40], out[ZB_TEXT_JSON_MAX(sizeof(worst))];
    memset(worst, 0x01, sizeof(worst));
    assert(zb_text_json_escape(worst, sizeof(worst), out, sizeof(out), &written, 0) ==
           sizeof(worst));
    assert(written == sizeof(out));
    //  Out of room: fewer bytes taken than given.
    assert(zb_text_json_escape(worst, sizeof(worst), out, sizeof(out) - 1, &written, 0) <
           sizeof(worst));
}

static void s_expect_printable(const char *text, size_t len, int flags, size_t size,
                               const char *expect)
{
    char out[256];
    assert(size <= sizeof(out));
    memset(out, 'Z', sizeof(out));
    size_t n = zb_text_printable(text, len, out, size, flags);
    if (n != strlen(expect) || strcmp(out, expect) != 0) {
        fprintf(stderr, "printable: got '%s', want '%s'\n", out, expect);
        assert(false);
    }
}

static void s_test_printable(void)
{
    char want[16];
    //  Every control byte and DEL, in both forms.
    for (int c = 0; c < 0x80; c++) {
        char byte = (char)c;
        if (c >= 0x20 && c < 0x7f) {
            snprintf(want, sizeof(want), "%c", c);
            s_expect_printable(&byte, 1, 0, 16, want);
            if (c == '"' || c == '\\')
                snprintf(want, sizeof(want), "\\x%02x", c);
            s_expect_printable(&byte, 1, ZB_TEXT_QUOTED, 16, want);
            continue;
        }
        snprintf(want, sizeof(want), "\\x%02x", c);
        s_expect_printable(&byte, 1, 0, 16, want);
        s_expect_printable(&byte, 1, ZB_TEXT_ASCII, 16, want);
        if (c == '\r' || c == '\n' || c == '\t')
            snprintf(want, sizeof(want), "\\%c", c == '\r' ? 'r' : c == '\n' ? 'n' : 't');
        s_expect_printable(&byte, 1, ZB_TEXT_QUOTED, 16, want);
    }
    //  Every byte from 0x80 alone is invalid UTF-8.
    for (int c = 0x80; c < 0x100; c++) {
        char byte = (char)c;
        snprintf(want, sizeof(want), "\\x%02x", c);
        s_expect_printable(&byte, 1, 0, 16, want);
    }
    //  C1 controls (U+0080..U+009F) escaped byte by byte; U+00A0 on is text.
    char seq[4];
    for (uint32_t point = 0x80; point < 0xa0; point++) {
        s_encode(point, 2, seq);
        snprintf(want, sizeof(want), "\\xc2\\x%02x", (unsigned char)seq[1]);
        s_expect_printable(seq, 2, 0, 16, want);
    }
    s_expect_printable("\xc2\xa0\xc3\xa9", 4, 0, 16, "\xc2\xa0\xc3\xa9");
    //  Bidirectional overrides and isolates; their neighbours pass.
    for (uint32_t point = 0x2028; point <= 0x206b; point++) {
        s_encode(point, 3, seq);
        bool bidi = (point >= 0x202a && point <= 0x202e) || (point >= 0x2066 && point <= 0x2069);
        if (bidi)
            snprintf(want, sizeof(want), "\\u%04x", point);
        else
            snprintf(want, sizeof(want), "%.3s", seq);
        s_expect_printable(seq, 3, 0, 16, want);
    }
    //  Invalid forms: overlong, surrogate, past U+10FFFF, cut short.
    s_expect_printable("\xc0\xaf", 2, 0, 16, "\\xc0\\xaf");
    s_expect_printable("\xed\xa0\x80", 3, 0, 16, "\\xed\\xa0\\x80");
    s_expect_printable("\xf4\x90\x80\x80", 4, 0, 32, "\\xf4\\x90\\x80\\x80");
    s_expect_printable("a\xe2\x82", 3, 0, 16, "a\\xe2\\x82");
    s_expect_printable("\xe2\x82\xac", 2, 0, 16, "\\xe2\\x82"); // len cuts it
    //  ASCII: valid UTF-8 escaped too, as the agent quotes replies.
    s_expect_printable("\xc3\xa9", 2, ZB_TEXT_ASCII | ZB_TEXT_QUOTED, 16, "\\xc3\\xa9");
    s_expect_printable("+PONG\r\n\"\\", 9, ZB_TEXT_ASCII | ZB_TEXT_QUOTED, 32,
                       "+PONG\\r\\n\\x22\\x5c");
    //  A terminal's escape shown, not obeyed; NUL is a byte like any other.
    s_expect_printable("\x1b[31m\0x", 7, 0, 32, "\\x1b[31m\\x00x");
    //  Room: nothing is written once fewer than 6 bytes are left, and a
    //  piece that does not fit ends the text.
    s_expect_printable("abcdefgh", 8, 0, 8, "abc");
    s_expect_printable("abcdefgh", 8, 0, 9, "abcd");
    s_expect_printable("\xc3\xa9\xc3\xa9", 4, 0, 7, "\xc3\xa9");
    s_expect_printable("\xc3\xa9\xc3\xa9", 4, 0, 8, "\xc3\xa9\xc3\xa9");
    s_expect_printable("\xe2\x80\xaex", 4, 0, 6, "");
    s_expect_printable("\xe2\x80\xaex", 4, 0, 7, "\\u202e");
    s_expect_printable("abc", 3, 0, 1, "");
    assert(zb_text_printable("abc", 3, NULL, 0, 0) == 0);
    s_expect_printable(NULL, 5, 0, 16, "");
    //  ZB_TEXT_PRINTABLE_MAX holds the worst case whole.
    char worst[32], out[ZB_TEXT_PRINTABLE_MAX(sizeof(worst))];
    memset(worst, 0x01, sizeof(worst));
    assert(zb_text_printable(worst, sizeof(worst), out, sizeof(out), 0) == 4 * sizeof(worst));
    assert(zb_text_printable(worst, sizeof(worst), out, sizeof(out) - 1, 0) < 4 * sizeof(worst));
}

void zb_text_test(bool verbose)
{
    s_test_utf8(verbose);
    s_test_json();
    s_test_printable();
}
