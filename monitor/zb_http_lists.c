/*  zb_http_lists: the JSON routes that list what `zbeat hosts`, `zbeat
    alerts` and `zbeat silence list` print (docs/http.md), each the same
    document as the CLI's --json, so that `zbeat --url` prints the same.

    GET /api/v1/hosts     host=NAME,NAME,... (those hosts only)
    GET /api/v1/alerts    since=WHEN limit=N
    GET /api/v1/silences  all=true (ended ones too)
*/
#include "zb_http_internal.h"
#include "zb_msg.h"
#include "zb_query.h"
#include "zb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zb_http_buf_t buf;
    size_t rows;
    int64_t now;
    json_t *alert; // alerts: the one whose deliveries are being collected
    int64_t seq;   // its creation number
} s_list_t;

//  Answers a walk's rows, or its error.
static enum MHD_Result s_list_send(zb_http_req_t *req, zb_store_t *store, int walk, s_list_t *list)
{
    enum MHD_Result result;
    if (walk < 0) {
        free(list->buf.data);
        result = zb_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", zb_store_error(store));
    } else {
        zb_http_buf_close_array(&list->buf, list->rows);
        result = zb_http_send(req, MHD_HTTP_OK, ZB_HTTP_TYPE_JSON, &list->buf, NULL);
    }
    zb_store_destroy(&store);
    return result;
}

static int s_on_host(const zb_store_host_t *host, void *arg)
{
    s_list_t *list = arg;
    zb_http_buf_element(&list->buf, zb_query_host_json(host), list->rows++);
    return list->buf.failed ? 1 : 0;
}

static int s_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  host=NAME,NAME,...: those hosts, by name, each looked up (zbeat --url
//  asks which monitor heard the hosts of its answers last without reading
//  every host). names is split in place into at most max names, sorted
//  and each once; returns how many, or -1 with what is wrong in bad.
static int s_host_names(char *names, char **each, int max, char *bad, size_t size)
{
    int count = 0;
    for (char *name = names, *next; name; name = next) {
        next = strchr(name, ',');
        if (next)
            *next++ = '\0';
        if (!zb_name_valid(name)) {
            snprintf(bad, size, "host: \"%.80s\" is not a host name (a list: NAME,NAME,...)", name);
            return -1;
        }
        if (count == max) {
            snprintf(bad, size, "host: at most %d names", max);
            return -1;
        }
        each[count++] = name;
    }
    qsort(each, (size_t)count, sizeof(*each), s_strcmp_ptr);
    int kept = 0;
    for (int i = 0; i < count; i++)
        if (kept == 0 || strcmp(each[kept - 1], each[i]) != 0)
            each[kept++] = each[i];
    return kept;
}

enum MHD_Result zb_http_api_hosts(zb_http_req_t *req)
{
    static const char *const known[] = {"host", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    s_list_t list = {.now = zb_time_wall_ms()};
    const char *host = zb_http_arg(req, "host");
    if (!host)
        return s_list_send(req, store, zb_store_hosts(store, s_on_host, &list), &list);
    char *names = strdup(host), bad[300];
    char **each = malloc(ZB_HTTP_HOST_NAMES_MAX * sizeof(*each));
    int count =
        names && each ? s_host_names(names, each, ZB_HTTP_HOST_NAMES_MAX, bad, sizeof(bad)) : -2;
    int walk = 0;
    for (int i = 0; i < count && walk == 0; i++)
        walk = zb_store_host_get(store, each[i], s_on_host, &list);
    if (count >= 0)
        result = s_list_send(req, store, walk, &list);
    else {
        zb_store_destroy(&store);
        result = count == -1 ? zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad)
                             : zb_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    free(names);
    free(each);
    return result;
}

//  Rows come ordered by alert: an alert's object is written when the next
//  alert begins (as `zbeat alerts --json` groups them).
static void s_alert_flush(s_list_t *list)
{
    if (list->alert)
        zb_http_buf_element(&list->buf, list->alert, list->rows++);
    list->alert = NULL;
}

static int s_on_delivery(const zb_store_delivery_t *row, void *arg)
{
    s_list_t *list = arg;
    if (!list->alert || list->seq != row->alert->seq) {
        s_alert_flush(list);
        list->alert = zb_query_alert_json(row->alert);
        list->seq = row->alert->seq;
        if (!list->alert)
            list->buf.failed = true;
    }
    if (row->channel && list->alert)
        json_array_append_new(json_object_get(list->alert, "deliveries"),
                              zb_query_delivery_json(row));
    return list->buf.failed ? 1 : 0;
}

enum MHD_Result zb_http_api_alerts(zb_http_req_t *req)
{
    static const char *const known[] = {"since", "limit", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    s_list_t list = {.now = zb_time_wall_ms()};
    const char *since_text = zb_http_arg(req, "since"), *limit_text = zb_http_arg(req, "limit");
    int64_t since = 0;
    long long limit = 0;
    char bad[300];
    if ((since_text && !zb_http_when("since", since_text, list.now, &since, bad, sizeof(bad))) ||
        (limit_text &&
         !zb_http_number("limit", limit_text, 1, 1000000000, &limit, bad, sizeof(bad)))) {
        zb_store_destroy(&store);
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", bad);
    }
    int walk = zb_store_deliveries(store, since, limit, s_on_delivery, &list);
    s_alert_flush(&list);
    return s_list_send(req, store, walk, &list);
}

static int s_on_silence(const zb_store_silence_t *silence, void *arg)
{
    s_list_t *list = arg;
    zb_http_buf_element(&list->buf, zb_query_silence_json(silence, list->now), list->rows++);
    return list->buf.failed ? 1 : 0;
}

enum MHD_Result zb_http_api_silences(zb_http_req_t *req)
{
    static const char *const known[] = {"all", NULL};
    enum MHD_Result result;
    zb_store_t *store = zb_http_begin(req, known, &result);
    if (!store)
        return result;
    s_list_t list = {.now = zb_time_wall_ms()};
    const char *all = zb_http_arg(req, "all");
    bool every = all && (!*all || strcmp(all, "true") == 0 || strcmp(all, "1") == 0);
    if (all && !every && strcmp(all, "false") != 0 && strcmp(all, "0") != 0) {
        zb_store_destroy(&store);
        return zb_http_error(req, MHD_HTTP_BAD_REQUEST, "all: \"%.80s\" is not true or false", all);
    }
    return s_list_send(req, store,
                       zb_store_silences(store, every ? INT64_MIN : list.now, s_on_silence, &list),
                       &list);
}
