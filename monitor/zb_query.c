/*  zb_query: JSON shapes shared by the CLI and the HTTP API. See zb_query.h. */
#include "zb_query.h"
#include "zb_time.h"

#include <stdio.h>
#include <string.h>

void zb_query_printable(const char *in, char *out, size_t size)
{
    if (size == 0)
        return;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    while (*p && n + 5 < size) {
        size_t len = 0;
        if (*p >= 0x20 && *p < 0x7f)
            len = 1;
        else if (*p >= 0xc2 && *p <= 0xdf && (p[1] & 0xc0) == 0x80 && !(*p == 0xc2 && p[1] < 0xa0))
            len = 2; // C1 controls (U+0080..U+009F) are refused
        else if (*p >= 0xe0 && *p <= 0xef && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 !(*p == 0xe0 && p[1] < 0xa0) && !(*p == 0xed && p[1] >= 0xa0))
            len = 3;
        else if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 (p[3] & 0xc0) == 0x80 && !(*p == 0xf0 && p[1] < 0x90) &&
                 !(*p == 0xf4 && p[1] >= 0x90))
            len = 4;
        if (len == 0) {
            n += snprintf(out + n, size - n, "\\x%02x", *p);
            p++;
            continue;
        }
        //  Bidirectional overrides and isolates (U+202A..U+202E,
        //  U+2066..U+2069) reorder what a terminal shows after them: a
        //  reason could make a table line read as something else.
        if (len == 3 && p[0] == 0xe2 &&
            ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
             (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
            if (n + 7 >= size)
                break;
            n += snprintf(out + n, size - n, "\\u%04x",
                          0x2000 | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f));
            p += 3;
            continue;
        }
        if (n + len >= size)
            break;
        memcpy(out + n, p, len);
        n += len;
        p += len;
    }
    out[n] = '\0';
}

//  jansson escapes control characters itself (and JSON_ENSURE_ASCII
//  everything else), but refuses invalid UTF-8: that is made printable.
json_t *zb_query_json_text(const char *text)
{
    if (!text)
        return json_null();
    json_t *value = json_string(text);
    if (!value) {
        char safe[1024];
        zb_query_printable(text, safe, sizeof(safe));
        value = json_string(safe);
    }
    return value;
}

json_t *zb_query_json_time(int64_t ms)
{
    char buf[48];
    zb_time_format_rfc3339_ms(ms, buf, sizeof(buf));
    return json_string(buf);
}

json_t *zb_query_status_json(const zb_store_status_t *row)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "host", zb_query_json_text(row->host));
    json_object_set_new(o, "service", zb_query_json_text(row->service));
    json_object_set_new(o, "state", zb_query_json_text(row->state));
    json_object_set_new(o, "since", zb_query_json_time(row->since_ms));
    json_object_set_new(o, "reason", zb_query_json_text(row->reason));
    json_object_set_new(o, "error", zb_query_json_text(row->error));
    return o;
}

json_t *zb_query_outage_json(const zb_store_outage_t *outage, int64_t now_ms)
{
    bool open = outage->ended_at_ms < 0;
    int64_t end = open ? now_ms : outage->ended_at_ms;
    int64_t duration = end > outage->started_at_ms ? end - outage->started_at_ms : 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(outage->id));
    json_object_set_new(o, "host", zb_query_json_text(outage->host));
    json_object_set_new(o, "service", zb_query_json_text(outage->service));
    json_object_set_new(o, "kind", zb_query_json_text(outage->kind));
    json_object_set_new(o, "started_at", zb_query_json_time(outage->started_at_ms));
    json_object_set_new(o, "ended_at",
                        open ? json_null() : zb_query_json_time(outage->ended_at_ms));
    json_object_set_new(o, "duration_s", json_real((double)duration / 1000.0));
    json_object_set_new(o, "reason", zb_query_json_text(outage->reason));
    json_object_set_new(o, "end_reason", zb_query_json_text(outage->end_reason));
    json_object_set_new(o, "error", zb_query_json_text(outage->error));
    json_object_set_new(o, "silenced", json_boolean(outage->silenced));
    return o;
}
