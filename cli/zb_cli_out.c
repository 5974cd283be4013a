/*  zbeat's output: bad usage, times, and rows as a table, JSON or CSV. */
#include "zb_cli.h"
#include "zb_usage.h"
#include "zb_text.h"
#include "zb_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Bad usage: one line naming the problem, exit code 2.
int zb_cli_bad(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int rc = zb_usage_vbad(ZB_CLI_NAME, format, args);
    va_end(args);
    return rc;
}

//  RFC 3339 UTC with milliseconds: "2026-11-28T05:40:07.123Z".
void zb_cli_time_precise(int64_t ms, char *buf, size_t size)
{
    zb_time_format_rfc3339_ms(ms, buf, size);
}

void zb_cli_out_json(zb_cli_out_t *out, json_t *object)
{
    char *text = object ? json_dumps(object, ZB_CLI_JSON_FLAGS) : NULL;
    if (!text) {
        out->failed = true;
        json_decref(object);
        return;
    }
    fputs(out->rows == 0 ? "[\n  " : ",\n  ", stdout);
    fputs(text, stdout);
    out->rows++;
    free(text);
    json_decref(object);
}

bool zb_cli_out_given(zb_cli_out_t *out, json_t *row)
{
    if (out->format != ZB_CLI_JSON)
        return false;
    zb_cli_out_json(out, json_incref(row));
    return true;
}

static void s_csv_field(const char *text)
{
    char safe[1024];
    zb_text_printable(text, text ? strlen(text) : 0, safe, sizeof(safe), 0);
    if (strpbrk(safe, ",\"\r\n") == NULL) {
        fputs(safe, stdout);
        return;
    }
    putchar('"');
    for (const char *p = safe; *p; p++) {
        if (*p == '"')
            putchar('"');
        putchar(*p);
    }
    putchar('"');
}

void zb_cli_csv_row(size_t columns, const char *const *values)
{
    for (size_t i = 0; i < columns; i++) {
        if (i)
            putchar(',');
        s_csv_field(values[i]);
    }
    putchar('\n');
}

//  A row of text cells (NULL prints as "-" in a table, empty in CSV).
void zb_cli_out_row(zb_cli_out_t *out, const char *const *values)
{
    if (out->format == ZB_CLI_CSV) {
        if (out->rows++ == 0)
            zb_cli_csv_row(out->columns, out->header);
        zb_cli_csv_row(out->columns, values);
        return;
    }
    if ((out->rows + 1) * out->columns > out->alloc) {
        size_t alloc = out->alloc ? out->alloc * 2 : 64 * out->columns;
        char **cells = realloc(out->cells, alloc * sizeof(char *));
        if (!cells) {
            out->failed = true;
            return;
        }
        out->cells = cells;
        out->alloc = alloc;
    }
    for (size_t i = 0; i < out->columns; i++) {
        char safe[1024];
        const char *value = values[i] ? values[i] : "-";
        zb_text_printable(value, strlen(value), safe, sizeof(safe), 0);
        out->cells[out->rows * out->columns + i] = strdup(safe);
        if (!out->cells[out->rows * out->columns + i])
            out->failed = true;
    }
    out->rows++;
}

void zb_cli_out_init(zb_cli_out_t *out, zb_cli_format_t format, size_t columns,
                     const char *const *header)
{
    memset(out, 0, sizeof(*out));
    out->format = format;
    out->columns = columns;
    out->header = header;
    out->now = zb_time_wall_ms();
}

//  Ends the output (prints a table) and frees it. Returns the exit code.
int zb_cli_out_finish(zb_cli_out_t *out, const char *none)
{
    if (out->format == ZB_CLI_JSON)
        fputs(out->rows ? "\n]\n" : "[]\n", stdout);
    else if (out->format == ZB_CLI_CSV && out->rows == 0)
        zb_cli_csv_row(out->columns, out->header);
    else if (out->format == ZB_CLI_TABLE && out->rows == 0)
        printf("%s\n", none);
    else if (out->format == ZB_CLI_TABLE) {
        size_t width[16] = {0};
        for (size_t c = 0; c < out->columns; c++)
            width[c] = strlen(out->header[c]);
        for (size_t r = 0; r < out->rows; r++)
            for (size_t c = 0; c < out->columns; c++) {
                const char *cell = out->cells[r * out->columns + c];
                size_t len = cell ? strlen(cell) : 0;
                if (len > width[c])
                    width[c] = len;
            }
        for (size_t r = 0; r <= out->rows; r++) {
            const char *const *cells =
                r == 0 ? out->header : (const char *const *)&out->cells[(r - 1) * out->columns];
            //  No padding after the last non-empty cell: no trailing blanks.
            size_t used = out->columns;
            while (used > 1 && !(cells[used - 1] && *cells[used - 1]))
                used--;
            for (size_t c = 0; c < used; c++) {
                if (c + 1 == used)
                    printf("%s", cells[c] ? cells[c] : "");
                else
                    printf("%-*s  ", (int)width[c], cells[c] ? cells[c] : "");
            }
            putchar('\n');
        }
    }
    for (size_t i = 0; out->cells && i < out->rows * out->columns; i++)
        free(out->cells[i]);
    free(out->cells);
    out->cells = NULL;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, ZB_CLI_NAME ": write error: %s\n", strerror(errno));
        return 1;
    }
    if (out->failed) {
        fprintf(stderr, ZB_CLI_NAME ": out of memory\n");
        return 1;
    }
    return 0;
}

//  "2026-11-28T05:40:07.123Z" (as the API writes times) into ms; none
//  when the member is null, absent or not such a time.
int64_t zb_cli_json_ms(const json_t *o, const char *key, int64_t none)
{
    const char *text = json_string_value(json_object_get(o, key));
    char base[32];
    int64_t secs;
    int ms = 0;
    if (!text || strlen(text) != 24 || text[19] != '.' || sscanf(text + 20, "%3dZ", &ms) != 1)
        return none;
    memcpy(base, text, 19);
    memcpy(base + 19, "Z", 2);
    if (zb_time_parse_rfc3339(base, &secs) != 0)
        return none;
    return secs * 1000 + ms;
}

const char *zb_cli_json_text(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int zb_cli_strcmp_null(const char *a, const char *b)
{
    if (!a || !b)
        return a ? 1 : b ? -1 : 0;
    return strcmp(a, b);
}

int64_t zb_cli_json_int(const json_t *o, const char *key, int64_t none)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : none;
}

int zb_cli_walked(zb_store_t *store, int walk, int rc)
{
    if (walk == 0)
        return rc;
    fprintf(stderr, ZB_CLI_NAME ": %s\n", zb_store_error(store));
    return 1;
}
