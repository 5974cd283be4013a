/*  zb_log: one line per event on stderr. See zb_log.h. */
#include "zb_log.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_TEXT_MAX 1024 // of a message, before escaping
#define S_LINE_MAX 8192 // of a JSON line: every field escaped, with room to spare

static const char *s_ident = "zbeat";
static bool s_verbose = false;
static zb_log_format_t s_format = ZB_LOG_TEXT;
static FILE *s_stream = NULL; // NULL: stderr, read at each line (tests swap it)

void zb_log_init(const char *ident, bool verbose)
{
    s_ident = ident;
    s_verbose = verbose;
}

bool zb_log_verbose(void)
{
    return s_verbose;
}

int zb_log_format_parse(const char *text, zb_log_format_t *format)
{
    assert(format);
    if (text && strcmp(text, "text") == 0)
        *format = ZB_LOG_TEXT;
    else if (text && strcmp(text, "json") == 0)
        *format = ZB_LOG_JSON;
    else
        return -1;
    return 0;
}

void zb_log_set_format(zb_log_format_t format)
{
    assert(format == ZB_LOG_TEXT || format == ZB_LOG_JSON);
    s_format = format;
}

zb_log_format_t zb_log_format(void)
{
    return s_format;
}

void zb_log_set_stream(FILE *stream)
{
    s_stream = stream;
}

//  Appends text as a JSON string. Messages carry whatever a peer sent or a
//  file held, so anything that is not valid UTF-8 becomes U+FFFD rather
//  than a line no parser accepts, and DEL is escaped for whoever reads the
//  line on a terminal. Stops before a piece that does not fit (the line
//  stays valid JSON, merely shorter).
static void s_json_string(char *buf, size_t size, size_t *used, const char *text)
{
    assert(*used + 3 <= size);
    size_t at = *used;
    size_t end = size - 2; // room for the closing quote and the NUL
    buf[at++] = '"';
    text = text ? text : "";
    size_t written;
    zb_text_json_escape(text, strlen(text), buf + at, end - at, &written,
                        ZB_TEXT_JSON_REPAIR | ZB_TEXT_JSON_DEL);
    at += written;
    buf[at++] = '"';
    buf[at] = '\0';
    *used = at;
}

//  Appends ,"key":"value" (value NULL or empty: nothing).
static void s_json_field(char *buf, size_t size, size_t *used, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    //  Keys are ours and short; a line near its limit just loses fields.
    size_t key_len = strlen(key);
    if (*used + key_len + 8 > size)
        return;
    *used += (size_t)snprintf(buf + *used, size - *used, ",\"%s\":", key);
    s_json_string(buf, size, used, value);
}

typedef struct {
    const char *host, *service, *from, *to, *reason, *error;
} s_state_t;

static const char *s_level_name(char level)
{
    switch (level) {
    case 'D':
        return "debug";
    case 'I':
        return "info";
    case 'W':
        return "warning";
    default:
        return "error";
    }
}

static void s_emit(char level, const char *text, const s_state_t *state)
{
    FILE *out = s_stream ? s_stream : stderr;
    char stamp[40];
    zb_time_format_rfc3339_ms(zb_time_wall_ms(), stamp, sizeof(stamp));
    if (s_format == ZB_LOG_TEXT) {
        fprintf(out, "%s %s %c: %s\n", stamp, s_ident, level, text);
        return;
    }
    char line[S_LINE_MAX];
    size_t used = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\"", stamp,
                                   s_level_name(level));
    s_json_field(line, sizeof(line), &used, "ident", s_ident);
    if (used + 16 < sizeof(line)) {
        used += (size_t)snprintf(line + used, sizeof(line) - used, ",\"msg\":");
        s_json_string(line, sizeof(line), &used, text);
    }
    if (state) {
        s_json_field(line, sizeof(line), &used, "host", state->host);
        s_json_field(line, sizeof(line), &used, "service", state->service);
        s_json_field(line, sizeof(line), &used, "from", state->from);
        s_json_field(line, sizeof(line), &used, "state", state->to);
        s_json_field(line, sizeof(line), &used, "reason", state->reason);
        s_json_field(line, sizeof(line), &used, "error", state->error);
    }
    fprintf(out, "%s}\n", line);
}

static void s_log(char level, const char *format, va_list args)
{
    char text[S_TEXT_MAX];
    vsnprintf(text, sizeof(text), format, args);
    s_emit(level, text, NULL);
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

void zb_log_state(const char *host, const char *service, const char *from, const char *to,
                  const char *reason, const char *error)
{
    assert(service && from && to);
    char text[S_TEXT_MAX];
    bool has_reason = reason && *reason, has_error = error && *error;
    if (has_error)
        snprintf(text, sizeof(text), "%s: %s -> %s (%s: %s)", service, from, to,
                 has_reason ? reason : "error", error);
    else if (has_reason && strcmp(reason, "ok") != 0)
        snprintf(text, sizeof(text), "%s: %s -> %s (%s)", service, from, to, reason);
    else
        snprintf(text, sizeof(text), "%s: %s -> %s", service, from, to);
    s_state_t state = {host, service, from, to, reason, error};
    s_emit('I', text, &state);
}

void zb_log_fields(const char *host, const char *service, const char *state, const char *reason,
                   const char *format, ...)
{
    char text[S_TEXT_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    s_state_t fields = {host, service, NULL, state, reason, NULL};
    s_emit('I', text, &fields);
}

//  Self-test: lines written to a temporary file and read back.

static char *s_test_capture(FILE *file)
{
    static char buf[S_LINE_MAX * 2];
    fflush(file);
    rewind(file);
    size_t got = fread(buf, 1, sizeof(buf) - 1, file);
    buf[got] = '\0';
    rewind(file);
    assert(ftruncate(fileno(file), 0) == 0);
    return buf;
}

static void s_test_expect(const char *got, const char *suffix)
{
    //  Everything after the timestamp, which changes.
    const char *rest = strstr(got, "Z");
    if (!rest || strcmp(rest + 1, suffix) != 0) {
        fprintf(stderr, "\nwanted ...'%s'\ngot       '%s'\n", suffix, got);
        assert(false);
    }
}

void zb_log_test(bool verbose)
{
    (void)verbose;
    const char *ident = s_ident;
    bool was_verbose = s_verbose;
    FILE *file = tmpfile();
    assert(file);
    zb_log_set_stream(file);
    zb_log_init("zb-test", false);

    zb_log_format_t format;
    assert(zb_log_format_parse("json", &format) == 0 && format == ZB_LOG_JSON);
    assert(zb_log_format_parse("text", &format) == 0 && format == ZB_LOG_TEXT);
    assert(zb_log_format_parse("JSON", &format) == -1);
    assert(zb_log_format_parse(NULL, &format) == -1);

    //  Text: as it always was.
    zb_log_set_format(ZB_LOG_TEXT);
    assert(zb_log_format() == ZB_LOG_TEXT);
    zb_log_info("hello %d", 42);
    char *got = s_test_capture(file);
    assert(strlen(got) == strlen("2026-11-28T05:40:07.123Z zb-test I: hello 42\n"));
    assert(got[10] == 'T' && got[23] == 'Z');
    s_test_expect(got, " zb-test I: hello 42\n");
    zb_log_debug("hidden");
    assert(*s_test_capture(file) == '\0');
    zb_log_state("web-1", "redis", "up", "down", "refused", "connect: Connection refused");
    s_test_expect(s_test_capture(file),
                  " zb-test I: redis: up -> down (refused: connect: Connection refused)\n");
    zb_log_state("web-1", "redis", "down", "up", "ok", "");
    s_test_expect(s_test_capture(file), " zb-test I: redis: down -> up\n");
    zb_log_state(NULL, "redis", "up", "removed", "removed", NULL);
    s_test_expect(s_test_capture(file), " zb-test I: redis: up -> removed (removed)\n");

    //  JSON: one object per line, fields escaped, bad UTF-8 replaced.
    zb_log_set_format(ZB_LOG_JSON);
    zb_log_warning("a \"quoted\" \\ tab\t nl\n ctl\x01 del\x7f é \xff\xfe end");
    s_test_expect(s_test_capture(file),
                  "\",\"level\":\"warning\",\"ident\":\"zb-test\",\"msg\":\"a \\\"quoted\\\" \\\\ "
                  "tab\\t nl\\n ctl\\u0001 del\\u007f é \\ufffd\\ufffd end\"}\n");
    got = s_test_capture(file);
    assert(*got == '\0');
    zb_log_error("x");
    got = s_test_capture(file);
    assert(strncmp(got, "{\"ts\":\"", 7) == 0 && got[17] == 'T' && got[30] == 'Z');
    s_test_expect(got, "\",\"level\":\"error\",\"ident\":\"zb-test\",\"msg\":\"x\"}\n");
    zb_log_state("web-1", "redis", "up", "down", "timeout", "no reply within 500ms");
    s_test_expect(s_test_capture(file),
                  "\",\"level\":\"info\",\"ident\":\"zb-test\",\"msg\":\"redis: up -> down "
                  "(timeout: no reply within 500ms)\",\"host\":\"web-1\",\"service\":\"redis\","
                  "\"from\":\"up\",\"state\":\"down\",\"reason\":\"timeout\",\"error\":\"no reply "
                  "within 500ms\"}\n");
    zb_log_fields("web-1", NULL, "silent", NULL, "host silent: %s", "web-1");
    s_test_expect(s_test_capture(file),
                  "\",\"level\":\"info\",\"ident\":\"zb-test\",\"msg\":\"host silent: web-1\","
                  "\"host\":\"web-1\",\"state\":\"silent\"}\n");
    zb_log_state(NULL, "redis", "down", "up", "ok", NULL);
    s_test_expect(s_test_capture(file),
                  "\",\"level\":\"info\",\"ident\":\"zb-test\",\"msg\":\"redis: down -> "
                  "up\",\"service\":\"redis\",\"from\":\"down\",\"state\":\"up\",\"reason\":"
                  "\"ok\"}\n");
    //  Overlong forms and surrogates are not UTF-8.
    zb_log_info("\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82");
    s_test_expect(s_test_capture(file),
                  "\",\"level\":\"info\",\"ident\":\"zb-test\",\"msg\":\"\\ufffd\\ufffd "
                  "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"}\n");
    //  A message of escapes only, at the length limit, is cut but valid.
    char big[S_TEXT_MAX + 10];
    memset(big, '\x01', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    zb_log_info("%s", big);
    got = s_test_capture(file);
    size_t len = strlen(got);
    assert(len > 1000 && len < S_LINE_MAX && strcmp(got + len - 3, "\"}\n") == 0);

    zb_log_set_format(ZB_LOG_TEXT);
    zb_log_set_stream(NULL);
    zb_log_init(ident, was_verbose);
    fclose(file);
}
