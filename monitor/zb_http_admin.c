/*  zb_http_admin: the routes that change state (docs/http.md, "Admin"),
    for the admin role only (zb_http.c checks who asks and the request's
    content type before a body is read):

    POST   /api/v1/silences           {"host": GLOB, "service": GLOB, "for": "2h",
                                       "reason": TEXT}  -> the new silence
    DELETE /api/v1/silences/ID                           -> {"removed": ID}
    POST   /api/v1/hosts/NAME/forget  {"force": true}   -> {"forgotten": NAME}

    The same checks and the same writes as `zbeat silence add|remove` and
    `zbeat hosts forget`, but made by the running monitor itself: each is
    an order (zb_orders) its loop carries out through its own store, so the
    fleet in memory and the database change together and nothing else
    writes the database.
*/
#include "zb_http_internal.h"
#include "zb_orders.h"
#include "zb_proto.h"
#include "zb_query.h"
#include "zb_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ORDER_TIMEOUT_MS 10000 // the loop answers within this, or 503

//  Hands the order to the loop; the answer's status and message, as JSON
//  ({"error": ...} unless 200; then answer, when given, is sent).
static enum MHD_Result s_order(zb_http_req_t *req, zb_order_t *order,
                               json_t *(*answer)(zb_order_t *))
{
    if (!req->self->monitor)
        return zb_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "no monitor runs here");
    zb_orders_submit(zb_monitor_orders(req->self->monitor), order, S_ORDER_TIMEOUT_MS);
    if (order->status != MHD_HTTP_OK)
        return zb_http_error(req, order->status, "%s", order->message);
    return zb_http_send_json(req, MHD_HTTP_OK, answer(order));
}

static json_t *s_silence_answer(zb_order_t *order)
{
    zb_store_silence_t silence = {
        .id = order->id,
        .host = order->host,
        .service = order->service[0] ? order->service : NULL,
        .starts_at_ms = order->starts_at_ms,
        .ends_at_ms = order->ends_at_ms,
        .reason = order->reason,
        .created_at_ms = order->starts_at_ms,
    };
    return zb_query_silence_json(&silence, order->starts_at_ms);
}

static json_t *s_removed_answer(zb_order_t *order)
{
    return json_pack("{s:I, s:s}", "removed", (json_int_t)order->id, "message", order->message);
}

static json_t *s_forgotten_answer(zb_order_t *order)
{
    return json_pack("{s:s, s:s}", "forgotten", order->host, "message", order->message);
}

//  The body's object, or NULL with the 400 queued in *result.
static json_t *s_body(zb_http_req_t *req, const char *body, size_t len, bool may_be_empty,
                      enum MHD_Result *result)
{
    if (len == 0 && may_be_empty)
        return json_object();
    json_error_t error;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    if (json_is_object(o))
        return o;
    json_decref(o);
    *result = zb_http_error(req, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object: %.200s",
                            error.text);
    return NULL;
}

//  A string member (or NULL when absent); false when present but no string.
static bool s_text(json_t *o, const char *key, const char **value)
{
    json_t *v = json_object_get(o, key);
    *value = json_is_string(v) ? json_string_value(v) : NULL;
    return !v || json_is_null(v) || json_is_string(v);
}

static enum MHD_Result s_silence_add(zb_http_req_t *req, const char *body, size_t len)
{
    enum MHD_Result result;
    json_t *o = s_body(req, body, len, false, &result);
    if (!o)
        return result;
    const char *host, *service, *duration, *reason;
    char bad[300] = "";
    int64_t ms = 0;
    if (!s_text(o, "host", &host) || !s_text(o, "service", &service) ||
        !s_text(o, "for", &duration) || !s_text(o, "reason", &reason))
        snprintf(bad, sizeof(bad), "host, service, for and reason are strings");
    else if (!host)
        snprintf(bad, sizeof(bad), "host is needed (a host name or glob, e.g. web-*)");
    else if (!zb_query_glob_valid(host))
        snprintf(bad, sizeof(bad), "host: \"%.80s\" is not a host name or glob pattern", host);
    else if (service && !zb_query_glob_valid(service))
        snprintf(bad, sizeof(bad), "service: \"%.80s\" is not a service name or glob pattern",
                 service);
    else if (!duration)
        snprintf(bad, sizeof(bad), "for is needed (a duration, e.g. 2h)");
    else if (zb_time_parse_duration(duration, &ms) != 0 || ms < 1000 || ms > 400LL * 86400 * 1000)
        snprintf(bad, sizeof(bad), "for: \"%.80s\" is not a duration from 1s to 400d", duration);
    else if (reason && strlen(reason) > ZB_ORDER_REASON_MAX)
        snprintf(bad, sizeof(bad), "reason: longer than %d characters", ZB_ORDER_REASON_MAX);
    zb_order_t order = {.kind = ZB_ORDER_SILENCE_ADD};
    if (!*bad) {
        snprintf(order.host, sizeof(order.host), "%s", host);
        snprintf(order.service, sizeof(order.service), "%s", service ? service : "");
        snprintf(order.reason, sizeof(order.reason), "%s", reason ? reason : "");
        order.starts_at_ms = zb_time_wall_ms();
        order.ends_at_ms = order.starts_at_ms + ms;
    }
    json_decref(o);
    if (*bad)
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    return s_order(req, &order, s_silence_answer);
}

static enum MHD_Result s_silence_end(zb_http_req_t *req, const char *id_text)
{
    char *end;
    errno = 0;
    long long id = strtoll(id_text, &end, 10);
    if (errno || end == id_text || *end || id < 1)
        return zb_http_error(req, MHD_HTTP_NOT_FOUND, "\"%.80s\" is not a silence ID", id_text);
    zb_order_t order = {.kind = ZB_ORDER_SILENCE_END, .id = id};
    return s_order(req, &order, s_removed_answer);
}

static enum MHD_Result s_forget(zb_http_req_t *req, const char *host, size_t host_len,
                                const char *body, size_t len)
{
    enum MHD_Result result;
    char name[ZB_NAME_MAX + 1];
    if (host_len == 0 || host_len > ZB_NAME_MAX)
        return zb_http_error(req, MHD_HTTP_NOT_FOUND, "not a host name");
    memcpy(name, host, host_len);
    name[host_len] = '\0';
    if (!zb_name_valid(name))
        return zb_http_error(req, MHD_HTTP_NOT_FOUND, "\"%.80s\" is not a host name", name);
    json_t *o = s_body(req, body, len, true, &result);
    if (!o)
        return result;
    json_t *force = json_object_get(o, "force");
    bool valid = !force || json_is_boolean(force);
    zb_order_t order = {.kind = ZB_ORDER_FORGET, .force = json_is_true(force)};
    json_decref(o);
    if (!valid)
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "force is true or false");
    snprintf(order.host, sizeof(order.host), "%s", name);
    return s_order(req, &order, s_forgotten_answer);
}

//  Whether url is one of the routes above (whatever the method).
bool zb_http_admin_route(const char *url)
{
    static const char hosts[] = "/api/v1/hosts/", forget[] = "/forget";
    size_t len = strlen(url);
    return strncmp(url, "/api/v1/silences", 16) == 0 ||
           (strncmp(url, hosts, sizeof(hosts) - 1) == 0 && len > sizeof(hosts) - 1 + 7 &&
            strcmp(url + len - (sizeof(forget) - 1), forget) == 0);
}

enum MHD_Result zb_http_admin(zb_http_req_t *req, const char *method, const char *url,
                              const char *body, size_t len)
{
    static const char silences[] = "/api/v1/silences", hosts[] = "/api/v1/hosts/",
                      forget[] = "/forget";
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool delete = strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
    size_t url_len = strlen(url);
    if (strcmp(url, silences) == 0)
        return post ? s_silence_add(req, body, len)
                    : zb_http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "POST adds a silence");
    if (strncmp(url, silences, sizeof(silences) - 1) == 0 && url[sizeof(silences) - 1] == '/')
        return delete ? s_silence_end(req, url + sizeof(silences))
                      : zb_http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "DELETE ends a silence");
    if (strncmp(url, hosts, sizeof(hosts) - 1) == 0 && url_len > sizeof(hosts) - 1 + 7 &&
        strcmp(url + url_len - (sizeof(forget) - 1), forget) == 0) {
        const char *name = url + sizeof(hosts) - 1;
        size_t name_len = url_len - (sizeof(hosts) - 1) - (sizeof(forget) - 1);
        return post ? s_forget(req, name, name_len, body, len)
                    : zb_http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "POST forgets a host");
    }
    return zb_http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED,
                         "read only but for silences and forgetting hosts (docs/http.md)");
}
