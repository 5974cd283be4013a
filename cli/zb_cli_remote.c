/*  zbeat --url: the commands against running monitors' HTTP API
    (docs/cli.md, "Remote monitors") instead of a database file.

    One URL: the same output as the local command. Several (shards, or a
    redundant pair): each is asked, and the answers merged:
    - status and hosts: the union of hosts; a host more than one monitor
      reports is taken whole from the one that heard it last (last_seen);
    - outages: newest first; one outage recorded by two monitors (same
      host, service and kind, starts within S_SAME_OUTAGE_MS) shows once,
      the ended record preferred;
    - report: one row per host and service, the first monitor's that has it;
    - alerts: newest first, an alert ID seen twice shown once;
    - silence list: every monitor's; silence add and hosts forget go to each.
    A monitor that does not answer is named in a warning on stderr; the rest
    answer, and the exit code is 3 (a partial answer). None answering: 1.
*/
#include "zb_cli.h"
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MONITORS_MAX 16
#define S_ANSWER_MAX (256 * 1024 * 1024) // bytes of one answer, at most
#define S_CONNECT_TIMEOUT_S 5
#define S_TIMEOUT_S 120
#define S_SAME_OUTAGE_MS 5000 // two monitors' records of one outage start this close
#define S_EXIT_PARTIAL 3

typedef struct {
    char url[512]; // without a trailing slash
    json_t *answer;
    bool failed;
} s_monitor_t;

typedef struct {
    const zb_cli_args_t *args;
    s_monitor_t monitors[S_MONITORS_MAX];
    size_t count;
    char password[512];
    CURL *curl;
} s_remote_t;

typedef struct {
    char *data;
    size_t len;
    bool too_big;
} s_body_t;

static size_t s_on_data(char *data, size_t size, size_t n, void *arg)
{
    s_body_t *body = arg;
    size_t len = size * n;
    if (body->len + len > S_ANSWER_MAX) {
        body->too_big = true;
        return 0;
    }
    char *grown = realloc(body->data, body->len + len + 1);
    if (!grown)
        return 0;
    memcpy(grown + body->len, data, len);
    body->data = grown;
    body->len += len;
    body->data[body->len] = '\0';
    return len;
}

//  One line on stderr about a monitor: an error when it is the only one,
//  else a warning (the others answer).
static void s_say(s_remote_t *self, const char *url, const char *what)
{
    char safe[700];
    zb_text_printable(what, strlen(what), safe, sizeof(safe), 0);
    fprintf(stderr, ZB_CLI_NAME ": %s%s: %s\n", self->count > 1 ? "warning: " : "", url, safe);
}

//  Asks one monitor: method path (with its query), body (JSON) or NULL.
//  Returns the answer's JSON, or NULL having said why.
static json_t *s_ask(s_remote_t *self, const char *url, const char *method, const char *path,
                     const char *body)
{
    char full[2048];
    snprintf(full, sizeof(full), "%s%s", url, path);
    s_body_t answer = {0};
    CURL *curl = self->curl;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, full);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)S_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)S_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
#ifdef CURLOPT_PROTOCOLS_STR
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (self->args->cacert)
        curl_easy_setopt(curl, CURLOPT_CAINFO, self->args->cacert);
    if (self->args->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, self->args->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, self->password);
    }
    struct curl_slist *headers = NULL;
    if (body) {
        //  The monitor wants JSON for a change (its guard against CSRF).
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    json_t *json = NULL;
    char why[600];
    if (rc != CURLE_OK)
        snprintf(why, sizeof(why), "%s%s", answer.too_big ? "answer too large: " : "",
                 curl_easy_strerror(rc));
    else {
        json = answer.data ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
        const char *error = json_string_value(json_object_get(json, "error"));
        if (status == 401)
            snprintf(why, sizeof(why), "authentication failed%s",
                     self->args->user ? "" : " (give --user and a password)");
        else if (status == 403)
            snprintf(why, sizeof(why), "forbidden: %s",
                     error ? error : "the admin role is needed for this");
        else if (status != 200)
            snprintf(why, sizeof(why), "HTTP %ld: %s", status, error ? error : "no answer");
        else if (!json)
            snprintf(why, sizeof(why), "the answer is not JSON");
    }
    free(answer.data);
    if (rc == CURLE_OK && status == 200 && json)
        return json;
    json_decref(json);
    s_say(self, url, why);
    return NULL;
}

//  Asks every monitor; false when none answered.
static bool s_ask_all(s_remote_t *self, const char *method, const char *path, const char *body)
{
    bool any = false;
    for (size_t i = 0; i < self->count; i++) {
        s_monitor_t *m = &self->monitors[i];
        json_decref(m->answer);
        m->answer = m->failed ? NULL : s_ask(self, m->url, method, path, body);
        m->failed = m->failed || !m->answer;
        any = any || m->answer;
    }
    return any;
}

//  Appends "name=value&" (value percent-encoded) to a query.
static void s_param(char *query, size_t size, const char *name, const char *value)
{
    size_t len = strlen(query);
    len += (size_t)snprintf(query + len, size > len ? size - len : 0,
                            "%s%s=", strchr(query, '?') ? "&" : "?", name);
    for (const unsigned char *p = (const unsigned char *)value; *p && len + 4 < size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~*", *p))
            query[len++] = (char)*p;
        else
            len += (size_t)snprintf(query + len, size - len, "%%%02X", *p);
    }
    query[len] = '\0';
}

//  The API takes whole seconds: since rounds down, until up (never less).
static void s_param_time(char *query, size_t size, const char *name, int64_t ms, bool up)
{
    char when[48];
    zb_time_format_rfc3339(up ? ms + 999 : ms, when, sizeof(when));
    s_param(query, size, name, when);
}

//  --------------------------------------------------------------------------
//  Merging

static int s_strcmp_null(const char *a, const char *b)
{
    if (!a || !b)
        return a ? 1 : b ? -1 : 0;
    return strcmp(a, b);
}

//  status and report order: host, its own row (service null), its services.
static int s_by_host_service(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = s_strcmp_null(zb_cli_json_text(x, "host"), zb_cli_json_text(y, "host"));
    return c ? c : s_strcmp_null(zb_cli_json_text(x, "service"), zb_cli_json_text(y, "service"));
}

//  Newest first (outages: started_at; alerts: created_at).
static const char *s_time_key;
static int s_newest_first(const void *a, const void *b)
{
    int64_t x = zb_cli_json_ms(*(json_t *const *)a, s_time_key, 0);
    int64_t y = zb_cli_json_ms(*(json_t *const *)b, s_time_key, 0);
    return x < y ? 1 : x > y ? -1 : 0;
}

//  A new array of the items, sorted.
static json_t *s_sorted(json_t **items, size_t count, int (*compare)(const void *, const void *))
{
    qsort(items, count, sizeof(*items), compare);
    json_t *out = json_array();
    for (size_t i = 0; out && i < count; i++)
        json_array_append(out, items[i]);
    return out;
}

//  Every answer's elements (borrowed), or NULL; *count set.
static json_t **s_elements(s_remote_t *self, const char *member, size_t *count)
{
    size_t n = 0;
    for (size_t m = 0; m < self->count; m++) {
        json_t *a = self->monitors[m].answer;
        n += json_array_size(member ? json_object_get(a, member) : a);
    }
    json_t **items = calloc(n ? n : 1, sizeof(*items));
    *count = 0;
    for (size_t m = 0; items && m < self->count; m++) {
        json_t *a = self->monitors[m].answer;
        json_t *array = member ? json_object_get(a, member) : a;
        size_t i;
        json_t *o;
        json_array_foreach(array, i, o) items[(*count)++] = o;
    }
    return items;
}

//  For each host, the monitor that heard it last (from GET /api/v1/hosts
//  answers held in hosts[]): returns whether monitor m is it for host.
static bool s_owner(json_t **hosts, size_t count, size_t m, const char *host)
{
    int64_t best = INT64_MIN;
    size_t owner = m;
    for (size_t i = 0; i < count; i++) {
        size_t k;
        json_t *o;
        json_array_foreach(hosts[i], k, o)
        {
            if (s_strcmp_null(zb_cli_json_text(o, "host"), host) != 0)
                continue;
            int64_t seen = zb_cli_json_ms(o, "last_seen", 0);
            if (seen > best) {
                best = seen;
                owner = i;
            }
        }
    }
    return owner == m;
}

//  status / hosts: each host's rows from its freshest monitor.
static json_t *s_merge_hosts(s_remote_t *self, json_t **hosts)
{
    size_t count;
    json_t **items = s_elements(self, NULL, &count);
    if (!items)
        return NULL;
    size_t kept = 0;
    for (size_t m = 0, at = 0; m < self->count; m++) {
        size_t n = json_array_size(self->monitors[m].answer);
        for (size_t i = 0; i < n; i++, at++)
            if (s_owner(hosts, self->count, m, zb_cli_json_text(items[at], "host")))
                items[kept++] = items[at];
    }
    json_t *out = s_sorted(items, kept, s_by_host_service);
    free(items);
    return out;
}

static bool s_same_outage(const json_t *a, const json_t *b)
{
    if (s_strcmp_null(zb_cli_json_text(a, "host"), zb_cli_json_text(b, "host")) ||
        s_strcmp_null(zb_cli_json_text(a, "service"), zb_cli_json_text(b, "service")) ||
        s_strcmp_null(zb_cli_json_text(a, "kind"), zb_cli_json_text(b, "kind")))
        return false;
    int64_t x = zb_cli_json_ms(a, "started_at", 0), y = zb_cli_json_ms(b, "started_at", 0);
    return (x > y ? x - y : y - x) <= S_SAME_OUTAGE_MS;
}

static json_t *s_merge_outages(s_remote_t *self, int64_t limit)
{
    size_t count;
    json_t **items = s_elements(self, NULL, &count);
    if (!items)
        return NULL;
    s_time_key = "started_at";
    qsort(items, count, sizeof(*items), s_newest_first);
    json_t *out = json_array();
    for (size_t i = 0; out && i < count; i++) {
        bool seen = false;
        for (size_t k = 0; k < json_array_size(out) && !seen; k++) {
            json_t *o = json_array_get(out, k);
            if (!s_same_outage(o, items[i]))
                continue;
            //  The record that saw the end says more.
            if (json_is_null(json_object_get(o, "ended_at")) &&
                !json_is_null(json_object_get(items[i], "ended_at")))
                json_array_set(out, k, items[i]);
            seen = true;
        }
        if (!seen && (limit <= 0 || (int64_t)json_array_size(out) < limit))
            json_array_append(out, items[i]);
    }
    free(items);
    return out;
}

//  Keeps the first of items with the same key (fn), in order.
static json_t *s_first_of_each(json_t **items, size_t count,
                               bool (*same)(const json_t *, const json_t *))
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < count; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = same(items[j], items[i]);
        if (!seen)
            json_array_append(out, items[i]);
    }
    return out;
}

static bool s_same_series(const json_t *a, const json_t *b)
{
    return s_by_host_service(&a, &b) == 0;
}

static bool s_same_alert(const json_t *a, const json_t *b)
{
    return s_strcmp_null(zb_cli_json_text(a, "id"), zb_cli_json_text(b, "id")) == 0;
}

//  --------------------------------------------------------------------------
//  Commands

static int s_status(s_remote_t *self, bool hosts_only)
{
    //  Whose host is whose needs every monitor's hosts (last_seen).
    json_t *hosts[S_MONITORS_MAX] = {NULL}, *monitors = json_array(), *summaries = json_array();
    int rc = 1;
    //  The monitors filter (the problems only, by default, in a table):
    //  not every row of a large fleet crosses the network.
    zb_query_filter_t filter;
    zb_cli_status_filter(self->args, &filter);
    char path[600] = "/api/v1/status", counts[400] = "/api/v1/summary";
    if (filter.states)
        s_param(path, sizeof(path), "state", filter.states);
    if (filter.host) {
        s_param(path, sizeof(path), "host", filter.host);
        s_param(counts, sizeof(counts), "host", filter.host);
    }
    if (filter.service) {
        s_param(path, sizeof(path), "service", filter.service);
        s_param(counts, sizeof(counts), "service", filter.service);
    }
    if (!s_ask_all(self, "GET", "/api/v1/hosts", NULL))
        goto done;
    for (size_t m = 0; m < self->count; m++)
        hosts[m] = json_incref(self->monitors[m].answer);
    if (!hosts_only && self->args->format == ZB_CLI_TABLE) {
        for (size_t m = 0; m < self->count; m++) {
            s_monitor_t *mon = &self->monitors[m];
            json_t *row =
                mon->failed ? NULL : s_ask(self, mon->url, "GET", "/api/v1/monitor", NULL);
            json_t *summary = row ? s_ask(self, mon->url, "GET", counts, NULL) : NULL;
            mon->failed = mon->failed || !row || !summary;
            if (row && summary) {
                json_array_append_new(monitors, row);
                json_array_append_new(summaries, summary);
            } else {
                json_decref(row);
                json_decref(summary);
            }
        }
    }
    if (!hosts_only && !s_ask_all(self, "GET", path, NULL))
        goto done;
    json_t *rows = s_merge_hosts(self, hosts);
    if (hosts_only)
        rc = zb_cli_hosts_print(rows, self->args);
    else {
        const char *urls[S_MONITORS_MAX];
        size_t n = 0;
        for (size_t m = 0; m < self->count; m++)
            if (!self->monitors[m].failed)
                urls[n++] = self->monitors[m].url;
        rc = zb_cli_status_print(rows, monitors, summaries, self->count > 1 ? urls : NULL,
                                 self->args);
    }
    json_decref(rows);
done:
    for (size_t m = 0; m < self->count; m++)
        json_decref(hosts[m]);
    json_decref(monitors);
    json_decref(summaries);
    return rc;
}

static int s_outages(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    const zb_store_query_t *q = &args->query;
    char path[1024] = "/api/v1/outages";
    if (args->host)
        s_param(path, sizeof(path), "host", args->host);
    if (args->service)
        s_param(path, sizeof(path), "service", args->service);
    if (q->since_ms != ZB_STORE_NO_TIME)
        s_param_time(path, sizeof(path), "since", q->since_ms, false);
    if (q->until_ms != ZB_STORE_NO_TIME)
        s_param_time(path, sizeof(path), "until", q->until_ms, true);
    if (q->open_only)
        s_param(path, sizeof(path), "open", "true");
    char limit[32];
    //  The API pages (at most 10000); --limit beyond: the first 10000.
    snprintf(limit, sizeof(limit), "%lld",
             (long long)(q->limit && q->limit < 10000 ? q->limit : 10000));
    s_param(path, sizeof(path), "limit", limit);
    if (!s_ask_all(self, "GET", path, NULL))
        return 1;
    json_t *rows = s_merge_outages(self, q->limit);
    int rc = zb_cli_outages_print(rows, args);
    json_decref(rows);
    return rc;
}

static int s_report(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    int64_t since, until;
    int rc = zb_cli_report_window(args, zb_time_wall_ms(), &since, &until);
    if (rc != 0)
        return rc;
    char path[1024] = "/api/v1/report";
    s_param_time(path, sizeof(path), "since", since, false);
    s_param_time(path, sizeof(path), "until", until, true);
    if (args->host)
        s_param(path, sizeof(path), "host", args->host);
    if (!s_ask_all(self, "GET", path, NULL))
        return 1;
    size_t count;
    json_t **items = s_elements(self, "rows", &count);
    json_t *report = NULL;
    for (size_t m = 0; !report && m < self->count; m++)
        report = self->monitors[m].answer ? json_deep_copy(self->monitors[m].answer) : NULL;
    if (items && report) {
        qsort(items, count, sizeof(*items), s_by_host_service);
        json_object_set_new(report, "rows", s_first_of_each(items, count, s_same_series));
    }
    free(items);
    rc = report ? zb_cli_report_print(report, args) : 1;
    json_decref(report);
    return rc;
}

static int s_alerts(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    char path[512] = "/api/v1/alerts";
    if (args->query.since_ms != ZB_STORE_NO_TIME)
        s_param_time(path, sizeof(path), "since", args->query.since_ms, false);
    if (args->query.limit) {
        char limit[32];
        snprintf(limit, sizeof(limit), "%lld", (long long)args->query.limit);
        s_param(path, sizeof(path), "limit", limit);
    }
    if (!s_ask_all(self, "GET", path, NULL))
        return 1;
    size_t count;
    json_t **items = s_elements(self, NULL, &count);
    if (!items)
        return 1;
    s_time_key = "created_at";
    qsort(items, count, sizeof(*items), s_newest_first);
    json_t *rows = s_first_of_each(items, count, s_same_alert);
    free(items);
    while (args->query.limit && (int64_t)json_array_size(rows) > args->query.limit)
        json_array_remove(rows, json_array_size(rows) - 1);
    int rc = zb_cli_alerts_print(rows, args);
    json_decref(rows);
    return rc;
}

static int s_silence(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    if (strcmp(args->action, "list") == 0) {
        if (!s_ask_all(self, "GET", args->all ? "/api/v1/silences?all=true" : "/api/v1/silences",
                       NULL))
            return 1;
        size_t count;
        json_t **items = s_elements(self, NULL, &count);
        json_t *rows = json_array();
        for (size_t i = 0; rows && items && i < count; i++)
            json_array_append(rows, items[i]);
        free(items);
        int rc = zb_cli_silence_print(rows, args);
        json_decref(rows);
        return rc;
    }
    if (strcmp(args->action, "remove") == 0) {
        if (self->count > 1)
            return zb_cli_bad("silence remove: IDs are each monitor's own: one --url");
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/silences/%s", args->target);
        if (!s_ask_all(self, "DELETE", path, "{}"))
            return 1;
        printf("%s\n", zb_cli_json_text(self->monitors[0].answer, "message"));
        return 0;
    }
    json_t *body = json_pack("{s:s, s:s}", "host", args->host ? args->host : "", "for",
                             args->duration ? args->duration : "");
    if (args->service)
        json_object_set_new(body, "service", json_string(args->service));
    if (args->reason)
        json_object_set_new(body, "reason", json_string(args->reason));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    bool any = text && s_ask_all(self, "POST", "/api/v1/silences", text);
    free(text);
    if (!any)
        return 1;
    json_t *rows = json_array();
    for (size_t m = 0; m < self->count; m++) {
        json_t *s = self->monitors[m].answer;
        if (!s)
            continue;
        if (args->format != ZB_CLI_TABLE) {
            json_array_append(rows, s);
            continue;
        }
        char ends[48];
        zb_time_format_rfc3339(zb_cli_json_ms(s, "ends_at", 0), ends, sizeof(ends));
        printf("%s%s%ssilence %lld: %s/%s until %s\n", self->count > 1 ? self->monitors[m].url : "",
               self->count > 1 ? ": " : "", "", (long long)zb_cli_json_int(s, "id", 0), args->host,
               args->service ? args->service : "*", ends);
    }
    int rc = args->format == ZB_CLI_TABLE ? 0 : zb_cli_silence_print(rows, args);
    json_decref(rows);
    return rc;
}

static int s_forget(s_remote_t *self)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/hosts/%s/forget", self->args->target);
    if (!s_ask_all(self, "POST", path, self->args->force ? "{\"force\":true}" : "{}"))
        return 1;
    for (size_t m = 0; m < self->count; m++)
        if (self->monitors[m].answer)
            printf("%s%s%s\n", self->count > 1 ? self->monitors[m].url : "",
                   self->count > 1 ? ": " : "",
                   zb_cli_json_text(self->monitors[m].answer, "message"));
    return 0;
}

//  The password: $ZBEAT_PASSWORD, or the first line of --password-file.
static int s_password(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    if (!args->user)
        return 0;
    if (args->password_file) {
        FILE *file = fopen(args->password_file, "r");
        if (!file) {
            fprintf(stderr, ZB_CLI_NAME ": --password-file %s: %s\n", args->password_file,
                    strerror(errno));
            return 1;
        }
        bool read = fgets(self->password, sizeof(self->password), file) != NULL;
        fclose(file);
        self->password[strcspn(self->password, "\r\n")] = '\0';
        if (!read || !self->password[0]) {
            fprintf(stderr, ZB_CLI_NAME ": --password-file %s: empty\n", args->password_file);
            return 1;
        }
        return 0;
    }
    const char *env = getenv("ZBEAT_PASSWORD");
    if (!env || !*env)
        return zb_cli_bad("--user %s needs a password: $ZBEAT_PASSWORD or --password-file FILE",
                          args->user);
    snprintf(self->password, sizeof(self->password), "%s", env);
    return 0;
}

//  "https://a:7480,https://b:7480" into the monitors.
static int s_urls(s_remote_t *self, const char *list)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(self->monitors[0].url))
            return zb_cli_bad("--url: an empty or too long URL in \"%.80s\"", list);
        if (self->count == S_MONITORS_MAX)
            return zb_cli_bad("--url: at most %d monitors", S_MONITORS_MAX);
        s_monitor_t *m = &self->monitors[self->count++];
        memcpy(m->url, p, len);
        m->url[len] = '\0';
        while (len > 0 && m->url[len - 1] == '/')
            m->url[--len] = '\0';
        if (strncmp(m->url, "http://", 7) != 0 && strncmp(m->url, "https://", 8) != 0)
            return zb_cli_bad("--url: \"%.80s\" is not an http:// or https:// URL", m->url);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return self->count ? 0 : zb_cli_bad("--url: no URL given");
}

int zb_cli_remote(const zb_cli_args_t *args)
{
    static s_remote_t remote; // large: not on the stack
    s_remote_t *self = &remote;
    memset(self, 0, sizeof(*self));
    self->args = args;
    int rc = s_urls(self, args->url);
    if (rc == 0)
        rc = s_password(self);
    if (rc != 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(self->curl = curl_easy_init())) {
        fprintf(stderr, ZB_CLI_NAME ": cannot start libcurl\n");
        return 1;
    }
    const char *cmd = args->command;
    if (strcmp(cmd, "status") == 0)
        rc = s_status(self, false);
    else if (strcmp(cmd, "hosts") == 0 && !args->action)
        rc = s_status(self, true);
    else if (strcmp(cmd, "hosts") == 0)
        rc = s_forget(self);
    else if (strcmp(cmd, "outages") == 0)
        rc = s_outages(self);
    else if (strcmp(cmd, "report") == 0)
        rc = s_report(self);
    else if (strcmp(cmd, "alerts") == 0)
        rc = s_alerts(self);
    else if (strcmp(cmd, "silence") == 0)
        rc = s_silence(self);
    else
        rc = zb_cli_bad("%s is not asked of a remote monitor (status, outages, report, hosts, "
                        "alerts, silence)",
                        cmd);
    size_t failed = 0;
    for (size_t m = 0; m < self->count; m++) {
        failed += self->monitors[m].failed ? 1 : 0;
        json_decref(self->monitors[m].answer);
    }
    explicit_bzero(self->password, sizeof(self->password));
    curl_easy_cleanup(self->curl);
    curl_global_cleanup();
    if (rc == 0 && failed > 0 && failed < self->count) {
        fprintf(stderr, ZB_CLI_NAME ": warning: partial answer: %zu of %zu monitors answered\n",
                self->count - failed, self->count);
        rc = S_EXIT_PARTIAL;
    }
    return rc;
}
