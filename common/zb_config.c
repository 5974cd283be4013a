/*  zb_config: ZPL configuration files with checked, typed access. */
#include "zb_config.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _zb_config_t {
    zconfig_t *root;  // the parsed tree
    char *filename;   // for messages
    char error[1024]; // the first error, or ""
};

//  An error line quotes the file's text, which may hold any byte: control
//  characters (an escape sequence would drive the user's terminal), DEL and
//  every non-ASCII byte become \xHH.
static void s_printable(const char *in, char *out, size_t size)
{
    zb_text_printable(in, strlen(in), out, size, ZB_TEXT_ASCII);
}

//  zconfig reports a syntax error only as a log line on stdout, e.g.
//  "26-11-28 05:46:01 E (zconfig): (3) indent 4 spaces at once", and returns
//  NULL. To give the user "FILE:3: indent 4 spaces at once" we catch stdout
//  in a pipe for the duration of the parse (non-blocking: a full pipe could
//  only lose log text, never hang). Config loading happens at start-up and
//  on reload, when nothing else writes to stdout.
static zconfig_t *s_load_catching_errors(const char *text, char *caught, size_t size)
{
    caught[0] = '\0';
    int fds[2] = {-1, -1};
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        if (saved >= 0)
            close(saved);
        return zconfig_str_load(text);
    }
    fflush(stdout);
    dup2(fds[1], STDOUT_FILENO);
    zconfig_t *root = zconfig_str_load(text);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t len = read(fds[0], caught, size - 1);
    caught[len > 0 ? len : 0] = '\0';
    close(fds[0]);
    return root;
}

//  Reads a whole file of at most ZB_CONFIG_MAX_BYTES. zconfig_load is not
//  used: in czmq 4.2.1 it leaks its file object on every syntax error.
#define ZB_CONFIG_MAX_BYTES (1024 * 1024)
static char *s_read_file(const char *path, char *err, size_t errsize)
{
    char *text = NULL;
    FILE *file = fopen(path, "r");
    if (!file) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        return NULL;
    }
    text = malloc(ZB_CONFIG_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, ZB_CONFIG_MAX_BYTES + 1, file) : 0;
    if (!text || ferror(file) || len > ZB_CONFIG_MAX_BYTES || memchr(text, '\0', len)) {
        snprintf(err, errsize, "%s: %s", path,
                 !text                       ? "out of memory"
                 : ferror(file)              ? strerror(errno)
                 : len > ZB_CONFIG_MAX_BYTES ? "larger than 1 MiB"
                                             : "contains a NUL byte");
        free(text);
        text = NULL;
    } else
        text[len] = '\0';
    fclose(file);
    return text;
}

zb_config_t *zb_config_load(const char *path, char *err, size_t errsize)
{
    char *text = s_read_file(path, err, errsize);
    if (!text)
        return NULL;
    zb_config_t *self = zb_config_load_text(text, path, err, errsize);
    free(text);
    return self;
}

zb_config_t *zb_config_load_text(const char *text, const char *name, char *err, size_t errsize)
{
    char caught[512];
    zconfig_t *root = s_load_catching_errors(text, caught, sizeof(caught));
    if (!root) {
        const char *where = strstr(caught, "(zconfig): (");
        int line = 0;
        char why[256] = "syntax error", line_text[1024];
        if (where && sscanf(where, "(zconfig): (%d) %255[^\n]", &line, why) >= 1 && line > 0)
            snprintf(line_text, sizeof(line_text), "%s:%d: %s", name, line, why);
        else
            snprintf(line_text, sizeof(line_text), "%s: %s", name, why);
        s_printable(line_text, err, errsize);
        return NULL;
    }
    zb_config_t *self = zb_config_new_empty(name);
    if (!self) {
        zconfig_destroy(&root);
        snprintf(err, errsize, "%s: out of memory", name);
        return NULL;
    }
    zconfig_destroy(&self->root);
    self->root = root;
    return self;
}

zb_config_t *zb_config_new_empty(const char *name)
{
    zb_config_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->root = zconfig_new("root", NULL);
    self->filename = strdup(name);
    if (!self->root || !self->filename)
        zb_config_destroy(&self);
    return self;
}

void zb_config_destroy(zb_config_t **self_p)
{
    if (self_p && *self_p) {
        zb_config_t *self = *self_p;
        zconfig_destroy(&self->root);
        free(self->filename);
        free(self);
        *self_p = NULL;
    }
}

int zb_config_close(zb_config_t **self_p, char *err, size_t errsize)
{
    assert(self_p && *self_p && err);
    const char *error = zb_config_error(*self_p);
    if (error)
        snprintf(err, errsize, "%s", error);
    zb_config_destroy(self_p);
    return error ? -1 : 0;
}

zconfig_t *zb_config_root(zb_config_t *self)
{
    return self->root;
}

const char *zb_config_filename(zb_config_t *self)
{
    return self->filename;
}

const char *zb_config_error(zb_config_t *self)
{
    return self->error[0] ? self->error : NULL;
}

//  zconfig offers no way up from a node in the released API, so the path
//  comes from a search down from the root. Trees are small.
static bool s_find_path(zconfig_t *from, zconfig_t *node, char *buf, size_t size, size_t len)
{
    for (zconfig_t *child = zconfig_child(from); child; child = zconfig_next(child)) {
        int n = snprintf(buf + len, size - len, "%s%s", len ? "/" : "", zconfig_name(child));
        size_t next = n > 0 && (size_t)n < size - len ? len + (size_t)n : size - 1;
        if (child == node || s_find_path(child, node, buf, size, next))
            return true;
        buf[len] = '\0';
    }
    return false;
}

void zb_config_path(zb_config_t *self, zconfig_t *node, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!s_find_path(self->root, node, buf, size, 0))
        buf[0] = '\0';
}

int zb_config_fail(zb_config_t *self, zconfig_t *node, const char *format, ...)
{
    if (self->error[0])
        return -1;
    char what[512], path[256] = "", text[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof(what), format, args);
    va_end(args);
    if (node)
        zb_config_path(self, node, path, sizeof(path));
    snprintf(text, sizeof(text), "%s: %s%s%s", self->filename, path, path[0] ? ": " : "", what);
    s_printable(text, self->error, sizeof(self->error));
    return -1;
}

int zb_config_check_known(zb_config_t *self, zconfig_t *section, const char *const known[])
{
    int rc = 0;
    for (zconfig_t *child = section ? zconfig_child(section) : NULL; child;
         child = zconfig_next(child)) {
        const char *name = zconfig_name(child);
        bool found = false, repeats = false;
        size_t len = strlen(name);
        for (size_t i = 0; known[i] && !found; i++) {
            found = strncmp(name, known[i], len) == 0 &&
                    (known[i][len] == '\0' || strcmp(known[i] + len, "*") == 0);
            repeats = found && known[i][len] == '*';
        }
        if (!found)
            rc = zb_config_fail(self, child, "unknown key");
        //  zconfig keeps repeated keys as siblings; the later would silently
        //  lose, so a repeat is an error, unless the table's "key*" says the
        //  key is a list.
        for (zconfig_t *other = repeats ? NULL : zconfig_next(child); other;
             other = zconfig_next(other))
            if (strcmp(name, zconfig_name(other)) == 0)
                rc = zb_config_fail(self, other, "given twice");
    }
    return rc;
}

zconfig_t *zb_config_section(zb_config_t *self, const char *const sections[], const char *name)
{
    assert(self && sections && name);
    zb_config_check_known(self, self->root, sections);
    zconfig_t *section = zconfig_locate(self->root, name);
    if (section && zconfig_value(section) && *zconfig_value(section))
        zb_config_fail(self, section, "is a section: it takes no value");
    return section;
}

//  The child named key, or NULL. A key that has children of its own is a
//  section, not a value: that is an error for a scalar key.
static zconfig_t *s_value_node(zb_config_t *self, zconfig_t *section, const char *key)
{
    zconfig_t *node = section ? zconfig_locate(section, key) : NULL;
    if (node && zconfig_child(node)) {
        zb_config_fail(self, node, "expected a value, not a section");
        return NULL;
    }
    return node;
}

const char *zb_config_string(zb_config_t *self, zconfig_t *section, const char *key,
                             const char *dflt)
{
    zconfig_t *node = s_value_node(self, section, key);
    const char *value = node ? zconfig_value(node) : NULL;
    return value && *value ? value : dflt;
}

int zb_config_duration(zb_config_t *self, zconfig_t *section, const char *key, int64_t dflt,
                       int64_t min, int64_t max, int64_t *value)
{
    *value = dflt;
    zconfig_t *node = s_value_node(self, section, key);
    if (!node)
        return 0;
    const char *text = zconfig_value(node);
    int64_t ms;
    char low[32], high[32];
    if (zb_time_parse_duration(text, &ms) != 0)
        return zb_config_fail(self, node, "\"%s\" is not a duration (e.g. 500ms, 2s, 1m, 1h, 7d)",
                              text);
    if (ms < min || ms > max) {
        zb_time_format_duration(min, low, sizeof(low));
        zb_time_format_duration(max, high, sizeof(high));
        return zb_config_fail(self, node, "\"%s\" is out of range (%s to %s)", text, low, high);
    }
    *value = ms;
    return 0;
}

int zb_config_int(zb_config_t *self, zconfig_t *section, const char *key, int64_t dflt, int64_t min,
                  int64_t max, int64_t *value)
{
    *value = dflt;
    zconfig_t *node = s_value_node(self, section, key);
    if (!node)
        return 0;
    const char *text = zconfig_value(node);
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return zb_config_fail(self, node, "\"%s\" is not a whole number", text);
    if (n < min || n > max)
        return zb_config_fail(self, node, "%lld is out of range (%lld to %lld)", n, (long long)min,
                              (long long)max);
    *value = n;
    return 0;
}

int zb_config_bytes(zb_config_t *self, zconfig_t *section, const char *key, char *buf, size_t size,
                    size_t *len)
{
    *len = 0;
    if (size)
        buf[0] = '\0';
    zconfig_t *node = s_value_node(self, section, key);
    if (!node)
        return 0;
    char why[128];
    if (zb_unescape(zconfig_value(node), buf, size, len, why, sizeof(why)) != 0)
        return zb_config_fail(self, node, "%s", why);
    return 0;
}

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int zb_unescape(const char *text, char *buf, size_t size, size_t *len, char *err, size_t errsize)
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'r':
                c = '\r';
                break;
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case '0':
                c = '\0';
                break;
            case '\\':
                c = '\\';
                break;
            case '"':
                c = '"';
                break;
            case 'x':
                if (s_hex(p[1]) < 0 || s_hex(p[2]) < 0) {
                    snprintf(err, errsize, "\\x needs two hex digits");
                    return -1;
                }
                c = (char)(s_hex(p[1]) * 16 + s_hex(p[2]));
                p += 2;
                break;
            case '\0':
                snprintf(err, errsize, "ends with a lone backslash");
                return -1;
            default:
                snprintf(err, errsize, "unknown escape \\%c", *p);
                return -1;
            }
        }
        if (n >= size) {
            snprintf(err, errsize, "longer than %zu bytes", size);
            return -1;
        }
        buf[n++] = c;
    }
    if (n < size)
        buf[n] = '\0';
    *len = n;
    return 0;
}

int zb_config_read_number(zb_config_t *self, zconfig_t *section, const zb_config_directive_t *d,
                          int64_t dflt, void *target)
{
    assert(d->size == sizeof(int) || d->size == sizeof(int64_t));
    int64_t value = dflt;
    int rc;
    const char *text =
        d->type == ZB_CONFIG_DURATION_OFF ? zb_config_string(self, section, d->key, NULL) : NULL;
    if (text && strcmp(text, "0") == 0)
        rc = 0, value = 0;
    else if (d->type == ZB_CONFIG_INT)
        rc = zb_config_int(self, section, d->key, dflt, d->min, d->max, &value);
    else {
        assert(d->type == ZB_CONFIG_DURATION || d->type == ZB_CONFIG_DURATION_OFF);
        rc = zb_config_duration(self, section, d->key, dflt, d->min, d->max, &value);
    }
    char *field = (char *)target + d->offset;
    if (d->size == sizeof(int)) {
        int narrow = (int)value; // the bounds make it fit
        memcpy(field, &narrow, sizeof(narrow));
    } else
        memcpy(field, &value, sizeof(value));
    return rc;
}

//  A duration in its largest whole unit, as the docs write it: 100ms, 1s,
//  10m, 1h, 400d.
static void s_doc_duration(int64_t ms, char *buf, size_t size)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t i = 0;
    while (ms == 0 ? units[i].ms != 1000 : ms % units[i].ms != 0)
        i++;
    snprintf(buf, size, "`%" PRId64 "%s`", ms / units[i].ms, units[i].unit);
}

//  A number of d's kind: a duration, or (for every other type) a plain one.
static void s_doc_number(const zb_config_directive_t *d, int64_t n, char *buf, size_t size)
{
    if (d->type == ZB_CONFIG_DURATION || d->type == ZB_CONFIG_DURATION_OFF)
        s_doc_duration(n, buf, size);
    else
        snprintf(buf, size, "`%" PRId64 "`", n);
}

//  text into buf with {min}, {max} and {default} replaced by derived.
static void s_doc_expand(const char *text, const char *const derived[3], char *buf, size_t size)
{
    static const char *const names[] = {"{min}", "{max}", "{default}"};
    size_t at = 0;
    buf[0] = '\0';
    while (*text && at + 1 < size) {
        size_t i = 0;
        while (i < 3 && strncmp(text, names[i], strlen(names[i])) != 0)
            i++;
        const char *piece = i < 3 ? derived[i] : text;
        size_t len = i < 3 ? strlen(piece) : 1;
        if (len > size - 1 - at)
            len = size - 1 - at;
        memcpy(buf + at, piece, len);
        at += len;
        text += i < 3 ? strlen(names[i]) : 1;
    }
    buf[at] = '\0';
}

void zb_config_directive_print(FILE *out, const char *section, const zb_config_directive_t *d)
{
    static const char *const types[] = {
        [ZB_CONFIG_INT] = "whole number",
        [ZB_CONFIG_DURATION] = "duration",
        [ZB_CONFIG_DURATION_OFF] = "duration or `0`",
        [ZB_CONFIG_BOOL] = "`yes` / `no`",
    };
    bool number = d->type == ZB_CONFIG_INT || d->type == ZB_CONFIG_DURATION ||
                  d->type == ZB_CONFIG_DURATION_OFF;
    char low[64] = "", high[64] = "", dflt[256] = "none", bounds[256] = "";
    s_doc_number(d, d->min, low, sizeof(low));
    s_doc_number(d, d->max, high, sizeof(high));
    //  A duration whose default is below its bounds (0) is off unless set.
    if (number && !(d->type != ZB_CONFIG_INT && d->dflt == 0 && d->min > 0))
        s_doc_number(d, d->dflt, dflt, sizeof(dflt));
    else if (d->type == ZB_CONFIG_BOOL)
        snprintf(dflt, sizeof(dflt), "`%s`", d->dflt ? "yes" : "no");
    else if (d->type == ZB_CONFIG_STRING && d->text && *d->text)
        snprintf(dflt, sizeof(dflt), "`%s`", d->text);
    if (number)
        snprintf(bounds, sizeof(bounds), "%s .. %s%s", low, high,
                 d->type == ZB_CONFIG_DURATION_OFF ? "; `0`: off" : "");
    const char *derived[3] = {low, high, dflt};
    char type_cell[256], dflt_cell[256], bounds_cell[256];
    s_doc_expand(d->doc_type      ? d->doc_type
                 : types[d->type] ? types[d->type]
                                  : "",
                 derived, type_cell, sizeof(type_cell));
    s_doc_expand(d->doc_default ? d->doc_default : dflt, derived, dflt_cell, sizeof(dflt_cell));
    s_doc_expand(d->doc_bounds ? d->doc_bounds : bounds, derived, bounds_cell, sizeof(bounds_cell));
    fprintf(out, "%s\t%.*s\t%s\t%s\t%s\n", section, (int)strcspn(d->key, "*"), d->key, type_cell,
            dflt_cell, bounds_cell);
}

//  --------------------------------------------------------------------------
//  Self-test

static char *s_write_temp(const char *text)
{
    char *path = strdup("/tmp/zb-config-test-XXXXXX");
    int fd = mkstemp(path);
    assert(fd >= 0);
    assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

//  Loads text; expects either success with no recorded error, or an error
//  line containing `expect` after the file name.
static void s_check(const char *text, const char *expect, bool verbose)
{
    char *path = s_write_temp(text);
    char err[1024] = "";
    zb_config_t *config = zb_config_load(path, err, sizeof(err));
    if (config) {
        zconfig_t *section = zconfig_locate(zb_config_root(config), "svc");
        const char *const known[] = {"timeout", "send", "fails", "name", NULL};
        int64_t n;
        char bytes[16];
        size_t len;
        zb_config_duration(config, section, "timeout", 500, 1, 60000, &n);
        zb_config_int(config, section, "fails", 3, 1, 100, &n);
        zb_config_bytes(config, section, "send", bytes, sizeof(bytes), &len);
        zb_config_string(config, section, "name", "x");
        zb_config_check_known(config, section, known);
        if (zb_config_error(config))
            snprintf(err, sizeof(err), "%s", zb_config_error(config));
    }
    if (verbose)
        printf("\n    %s -> %s", expect ? expect : "ok", err);
    if (expect) {
        char want[1100];
        snprintf(want, sizeof(want), "%s%s", path, expect);
        if (strncmp(err, want, strlen(want)) != 0) {
            fprintf(stderr, "got '%s', wanted '%s'\n", err, want);
            assert(false);
        }
    } else
        assert(err[0] == '\0');
    zb_config_destroy(&config);
    unlink(path);
    free(path);
}

//  A directive's docs line, as --config-table prints it.
static void s_check_line(const zb_config_directive_t *d, const char *expect)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert(out);
    zb_config_directive_print(out, "svc", d);
    fclose(out);
    if (strcmp(text, expect) != 0) {
        fprintf(stderr, "got '%s', wanted '%s'\n", text, expect);
        assert(false);
    }
    free(text);
}

typedef struct {
    int fails;
    int64_t timeout_ms, quiet_ms;
} s_target_t;

static void s_directive_test(void)
{
    s_target_t target = {0, 0, 0};
    const zb_config_directive_t fails = {"fails",
                                         ZB_CONFIG_INT,
                                         1,
                                         100,
                                         3,
                                         .offset = offsetof(s_target_t, fails),
                                         .size = sizeof(int)};
    const zb_config_directive_t timeout = {"timeout",
                                           ZB_CONFIG_DURATION,
                                           1,
                                           60000,
                                           500,
                                           .offset = offsetof(s_target_t, timeout_ms),
                                           .size = sizeof(int64_t)};
    const zb_config_directive_t quiet = {"quiet",
                                         ZB_CONFIG_DURATION_OFF,
                                         1000,
                                         86400000,
                                         0,
                                         .offset = offsetof(s_target_t, quiet_ms),
                                         .size = sizeof(int64_t)};
    char err[256];
    zb_config_t *config =
        zb_config_load_text("svc\n    fails = 7\n    quiet = 0\n", "t.cfg", err, sizeof(err));
    assert(config);
    zconfig_t *svc = zconfig_locate(zb_config_root(config), "svc");
    assert(zb_config_read_number(config, svc, &fails, fails.dflt, &target) == 0);
    assert(zb_config_read_number(config, svc, &timeout, timeout.dflt, &target) == 0);
    target.quiet_ms = 5;
    assert(zb_config_read_number(config, svc, &quiet, 2000, &target) == 0);
    assert(target.fails == 7 && target.timeout_ms == 500 && target.quiet_ms == 0);
    zb_config_destroy(&config);
    config = zb_config_load_text("svc\n    fails = 101\n", "t.cfg", err, sizeof(err));
    svc = zconfig_locate(zb_config_root(config), "svc");
    assert(zb_config_read_number(config, svc, &fails, 3, &target) == -1 && target.fails == 3);
    assert(strcmp(zb_config_error(config), "t.cfg: svc/fails: 101 is out of range (1 to 100)") ==
           0);
    zb_config_destroy(&config);
    static const char *const sections[] = {"svc", NULL};
    config = zb_config_load_text("svc = 1\n    fails = 7\n", "t.cfg", err, sizeof(err));
    assert(config && zb_config_section(config, sections, "svc"));
    assert(strcmp(zb_config_error(config), "t.cfg: svc: is a section: it takes no value") == 0);
    zb_config_destroy(&config);
    config = zb_config_load_text("svc\nother\n", "t.cfg", err, sizeof(err));
    assert(config && zb_config_section(config, sections, "svc"));
    assert(strcmp(zb_config_error(config), "t.cfg: other: unknown key") == 0);
    assert(!zb_config_section(config, sections, "none"));
    assert(zb_config_close(&config, err, sizeof(err)) == -1 && !config);
    assert(strcmp(err, "t.cfg: other: unknown key") == 0);
    config = zb_config_load_text("svc\n", "t.cfg", err, sizeof(err));
    assert(config && zb_config_section(config, sections, "svc"));
    assert(zb_config_close(&config, err, sizeof(err)) == 0 && !config);

    //  The docs' cells: derived from the facts, or given, with {min} ...
    s_check_line(&fails, "svc\tfails\twhole number\t`3`\t`1` .. `100`\n");
    s_check_line(&timeout, "svc\ttimeout\tduration\t`500ms`\t`1ms` .. `1m`\n");
    s_check_line(&quiet, "svc\tquiet\tduration or `0`\tnone\t`1s` .. `1d`; `0`: off\n");
    const zb_config_directive_t bool_d = {"auth*", ZB_CONFIG_BOOL, .dflt = true};
    s_check_line(&bool_d, "svc\tauth\t`yes` / `no`\t`yes`\t\n");
    const zb_config_directive_t text = {"bind", ZB_CONFIG_STRING, .text = "tcp://*:1",
                                        .doc_type = "endpoint"};
    s_check_line(&text, "svc\tbind\tendpoint\t`tcp://*:1`\t\n");
    const zb_config_directive_t given = {"t",
                                         ZB_CONFIG_DURATION,
                                         1,
                                         3600000,
                                         500,
                                         .doc_default = "{default} or less",
                                         .doc_bounds = "{min} .. below {max}, {x}"};
    s_check_line(&given, "svc\tt\tduration\t`500ms` or less\t`1ms` .. below `1h`, {x}\n");
    const zb_config_directive_t code = {"cert", ZB_CONFIG_CODE, .doc_type = "path",
                                        .doc_bounds = ""};
    s_check_line(&code, "svc\tcert\tpath\tnone\t\n");
}

void zb_config_test(bool verbose)
{
    char buf[64], err[128];
    size_t len;
    assert(zb_unescape("PING\\r\\n", buf, sizeof(buf), &len, err, sizeof(err)) == 0);
    assert(len == 6 && memcmp(buf, "PING\r\n", 6) == 0);
    assert(zb_unescape("a\\x41\\t\\\\\\\"\\0z", buf, sizeof(buf), &len, err, sizeof(err)) == 0);
    assert(len == 7 && memcmp(buf, "aA\t\\\"\0z", 7) == 0);
    assert(zb_unescape("\\q", buf, sizeof(buf), &len, err, sizeof(err)) == -1);
    assert(strstr(err, "unknown escape \\q"));
    assert(zb_unescape("\\x4", buf, sizeof(buf), &len, err, sizeof(err)) == -1);
    assert(zb_unescape("ab\\", buf, sizeof(buf), &len, err, sizeof(err)) == -1);
    assert(zb_unescape("abcd", buf, 3, &len, err, sizeof(err)) == -1);
    assert(strstr(err, "longer than 3 bytes"));

    s_check("svc\n    timeout = 2s\n    fails = 5\n    send = \"PING\\r\\n\"  # comment\n", NULL,
            verbose);
    s_check("svc\n    timeout = 5x\n", ": svc/timeout: \"5x\" is not a duration", verbose);
    s_check("svc\n    timeout = 2m\n", ": svc/timeout: \"2m\" is out of range", verbose);
    s_check("svc\n    fails = three\n", ": svc/fails: \"three\" is not a whole number", verbose);
    s_check("svc\n    fails = 0\n", ": svc/fails: 0 is out of range (1 to 100)", verbose);
    s_check("svc\n    send = \"\\q\"\n", ": svc/send: unknown escape \\q", verbose);
    s_check("svc\n    sned = 1\n", ": svc/sned: unknown key", verbose);
    s_check("svc\n    fails = 2\n    fails = 3\n", ": svc/fails: given twice", verbose);
    s_check("svc\n    timeout\n        x = 1\n", ": svc/timeout: expected a value, not a section",
            verbose);
    s_check("svc\n    name = x\n      bad = 1\n", ":3: indent 4 spaces at once", verbose);
    s_check("svc\n    na me = x\n", ":2: invalid syntax", verbose);
    s_check("svc\n    name = \"x\n", ":2: missing \"", verbose);
    //  Bytes that would drive a terminal are escaped in the error line.
    s_check("svc\n    timeout = 5\x1b[2J\x07\n",
            ": svc/timeout: \"5\\x1b[2J\\x07\" is not a duration", verbose);
    s_check("svc\n    ti\x1bme = 1s\n", ":2: invalid syntax '\\x1bme = 1s'", verbose);
    s_check("svc\n\x1b[2J\n", ":2: invalid syntax '\\x1b[2J'", verbose);

    strcpy(err, "");
    zb_config_t *config = zb_config_load("/nonexistent/zbeat.cfg", err, sizeof(err));
    assert(!config && strcmp(err, "/nonexistent/zbeat.cfg: No such file or directory") == 0);
    config = zb_config_new_empty("(defaults)");
    int64_t n;
    assert(zb_config_duration(config, NULL, "beat", 1000, 1, 2000, &n) == 0 && n == 1000);
    assert(strcmp(zb_config_string(config, NULL, "name", "dflt"), "dflt") == 0);
    assert(zb_config_error(config) == NULL);
    zb_config_fail(config, NULL, "first");
    zb_config_fail(config, NULL, "second");
    assert(strcmp(zb_config_error(config), "(defaults): first") == 0);
    zb_config_destroy(&config);
    assert(config == NULL);
    s_directive_test();
}
