/*  zb_http_answer: building answers and reading requests, for every route of
    the HTTP server (zb_http_internal.h).

    Every answer is built whole in memory before it is sent: the sizes are
    bounded (pages of outages, one report), and a connection that reads
    slowly then holds a buffer, never a database connection.
*/
#include "zb_http_internal.h"
#include "zb_query.h"
#include "zb_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zb_http_buf_add(zb_http_buf_t *buf, const char *text, size_t len)
{
    if (buf->failed)
        return;
    if (buf->len + len + 1 > buf->alloc) {
        size_t alloc = buf->alloc ? buf->alloc : 4096;
        while (alloc < buf->len + len + 1)
            alloc *= 2;
        char *data = realloc(buf->data, alloc);
        if (!data) {
            buf->failed = true;
            return;
        }
        buf->data = data;
        buf->alloc = alloc;
    }
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void zb_http_buf_printf(zb_http_buf_t *buf, const char *format, ...)
{
    char small[512];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(small, sizeof(small), format, args);
    va_end(args);
    if (len < 0) {
        buf->failed = true;
        return;
    }
    if ((size_t)len < sizeof(small)) {
        zb_http_buf_add(buf, small, (size_t)len);
        return;
    }
    char *big = malloc((size_t)len + 1);
    if (!big) {
        buf->failed = true;
        return;
    }
    va_start(args, format);
    vsnprintf(big, (size_t)len + 1, format, args);
    va_end(args);
    zb_http_buf_add(buf, big, (size_t)len);
    free(big);
}

//  Appends one object of a JSON array laid out as the CLI prints it: one
//  element per line. Takes the object.
void zb_http_buf_element(zb_http_buf_t *buf, json_t *object, size_t index)
{
    char *text = object ? json_dumps(object, ZB_QUERY_JSON_FLAGS) : NULL;
    json_decref(object);
    if (!text) {
        buf->failed = true;
        return;
    }
    zb_http_buf_printf(buf, "%s%s", index == 0 ? "[\n  " : ",\n  ", text);
    free(text);
}

void zb_http_buf_close_array(zb_http_buf_t *buf, size_t count)
{
    zb_http_buf_printf(buf, "%s", count ? "\n]\n" : "[]\n");
}

//  --------------------------------------------------------------------------
//  Requests and answers

enum MHD_Result zb_http_on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    zb_http_req_t *req = cls;
    if (req->arg_count == ZB_HTTP_ARGS_MAX) {
        req->too_many = true;
        return MHD_NO;
    }
    req->args[req->arg_count++] = (zb_http_arg_t){key, value ? value : ""};
    return MHD_YES;
}

const char *zb_http_arg(const zb_http_req_t *req, const char *key)
{
    for (size_t i = 0; i < req->arg_count; i++)
        if (strcmp(req->args[i].key, key) == 0)
            return req->args[i].value;
    return NULL;
}

//  Headers every answer carries: nothing is cached, nothing is sniffed, no
//  other site frames the page.
void zb_http_common_headers(struct MHD_Response *response, const char *type)
{
    MHD_add_response_header(response, "Content-Type", type);
    MHD_add_response_header(response, "Cache-Control", "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
}

//  Sends the buffer (taking it), or a 500 when building it failed.
enum MHD_Result zb_http_send(zb_http_req_t *req, unsigned int status, const char *type,
                             zb_http_buf_t *buf, const char *link)
{
    if (buf->failed) {
        free(buf->data);
        *buf = (zb_http_buf_t){0};
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = ZB_HTTP_TYPE_JSON;
        zb_http_buf_printf(buf, "{\"error\":\"out of memory\"}\n");
        if (buf->failed)
            return MHD_NO;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback(
        buf->len, buf->data ? buf->data : (char *)"", buf->data ? free : NULL);
    if (!response) {
        free(buf->data);
        *buf = (zb_http_buf_t){0};
        return MHD_NO;
    }
    *buf = (zb_http_buf_t){0};
    zb_http_common_headers(response, type);
    if (link)
        MHD_add_response_header(response, "Link", link);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(response, "Allow", "GET, HEAD");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(response, "WWW-Authenticate",
                                "Basic realm=\"zbeat\", charset=\"UTF-8\"");
    enum MHD_Result rc = MHD_queue_response(req->conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

//  One JSON document (taken: freed here; NULL means out of memory).
enum MHD_Result zb_http_send_json(zb_http_req_t *req, unsigned int status, json_t *answer)
{
    char *text = answer ? json_dumps(answer, ZB_QUERY_JSON_FLAGS) : NULL;
    json_decref(answer);
    zb_http_buf_t buf = {0};
    if (text)
        zb_http_buf_printf(&buf, "%s\n", text);
    else
        buf.failed = true;
    free(text);
    return zb_http_send(req, status, ZB_HTTP_TYPE_JSON, &buf, NULL);
}

//  A JSON error object: {"error": "what went wrong"}.
enum MHD_Result zb_http_error(zb_http_req_t *req, unsigned int status, const char *format, ...)
{
    char text[600];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    json_t *object = json_object();
    if (object)
        json_object_set_new(object, "error", zb_query_json_text(text));
    return zb_http_send_json(req, status, object);
}

static bool s_args_known(zb_http_req_t *req, const char *const *known, char *bad, size_t size)
{
    for (size_t i = 0; i < req->arg_count; i++) {
        bool ok = false;
        for (size_t k = 0; known[k]; k++)
            ok = ok || strcmp(req->args[i].key, known[k]) == 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->args[i].key, req->args[j].key) == 0) {
                snprintf(bad, size, "parameter '%.40s' given twice", req->args[i].key);
                return false;
            }
        if (!ok) {
            snprintf(bad, size, "unknown parameter '%.40s'", req->args[i].key);
            return false;
        }
    }
    return true;
}

zb_store_t *zb_http_begin(zb_http_req_t *req, const char *const *known, enum MHD_Result *result)
{
    char bad[300], err[600];
    if (!s_args_known(req, known, bad, sizeof(bad))) {
        *result = zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
        return NULL;
    }
    zb_store_t *store = zb_store_open_readonly(req->self->db, err, sizeof(err));
    if (!store)
        *result = zb_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
    return store;
}

//  A point in time parameter: "2h", "30d", RFC 3339.
bool zb_http_when(const char *name, const char *value, int64_t now, int64_t *ms, char *bad,
                  size_t size)
{
    if (zb_time_parse_when(value, now, ms) == 0)
        return true;
    snprintf(bad, size, "%s: \"%.80s\" is not a time (e.g. 2h, 30d, 2026-11-01T00:00:00Z)", name,
             value);
    return false;
}

bool zb_http_number(const char *name, const char *value, long long min, long long max, long long *n,
                    char *bad, size_t size)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max) {
        snprintf(bad, size, "%s: \"%.80s\" is not a number from %lld to %lld", name, value, min,
                 max);
        return false;
    }
    *n = v;
    return true;
}
