/*  zbeat --url: the commands against running monitors' HTTP API
    (docs/cli.md, "Remote monitors") instead of a database file.

    One URL: the same output as the local command. Several (shards, or a
    redundant pair): all are asked at once (zb_cli_fetch), and the answers
    merged:
    - status and hosts: the union of hosts; a host more than one monitor
      reports is taken whole from the one that heard it last (last_seen).
      status asks the monitors for the last_seen of its answers' hosts
      only (GET /api/v1/hosts?host=NAME,...), never for every host;
    - outages: newest first; one outage recorded by two monitors (same
      host, service and kind, starts within --dedup-window, by default
      S_SAME_OUTAGE_MS) shows once, the ended record preferred; each
      monitor asked page by page up to --limit rows;
    - report: one row per host and service, the first monitor's that has it;
    - alerts: newest first, an alert ID seen twice shown once;
    - silence list: every monitor's; silence add and hosts forget go to each.
    A monitor that does not answer is named in a warning on stderr; the rest
    answer, and the exit code is 3 (a partial answer). None answering: 1.
*/
#include "zb_cli.h"
#include "zb_cli_dedup.h"
#include "zb_cli_fetch.h"
#include "zb_msg.h"
#include "zb_query.h"
#include "zb_text.h"
#include "zb_time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MONITORS_MAX 16
#define S_SAME_OUTAGE_MS 5000 // default --dedup-window: two records of one outage start this close
#define S_EXIT_PARTIAL 3
#define S_OUTAGES_PAGE 10000      // outages a request: the API's most (ZB_HTTP_LIMIT_MAX)
#define S_OUTAGES_DEEPEST 1000000 // the API's deepest page start (ZB_HTTP_OFFSET_MAX)
//  GET /api/v1/hosts?host=NAME,...: names in one question, at most (the
//  monitor takes 1000) and bytes of the list (its request line and headers
//  fit in 16 KiB).
#define S_LOOKUP_NAMES_MAX 500
#define S_LOOKUP_BYTES_MAX 6000

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
    zb_cli_fetch_t *fetch;
} s_remote_t;

//  One line on stderr about a monitor: an error when it is the only one,
//  else a warning (the others answer).
static void s_say(s_remote_t *self, const char *url, const char *what)
{
    char safe[700];
    zb_text_printable(what, strlen(what), safe, sizeof(safe), 0);
    fprintf(stderr, ZB_CLI_NAME ": %s%s: %s\n", self->count > 1 ? "warning: " : "", url, safe);
}

//  A question to monitor m: its URL and path, in a new string.
static int s_request(s_remote_t *self, zb_cli_request_t *request, size_t m, const char *method,
                     const char *path, const char *body)
{
    size_t size = strlen(self->monitors[m].url) + strlen(path) + 1;
    char *url = malloc(size);
    if (!url) {
        fprintf(stderr, ZB_CLI_NAME ": out of memory\n");
        return -1;
    }
    snprintf(url, size, "%s%s", self->monitors[m].url, path);
    *request = (zb_cli_request_t){.group = m, .url = url, .method = method, .body = body};
    return 0;
}

//  Asks every question at once. A monitor that fails one is named once (in
//  the order asked) and failed: its answers of this round are dropped.
static void s_round(s_remote_t *self, zb_cli_request_t *requests, size_t count)
{
    zb_cli_fetch_run(self->fetch, requests, count, self->count);
    for (size_t i = 0; i < count; i++) {
        s_monitor_t *m = &self->monitors[requests[i].group];
        if (!requests[i].answer && requests[i].why[0] && !m->failed)
            s_say(self, m->url, requests[i].why);
        m->failed = m->failed || !requests[i].answer;
    }
    for (size_t i = 0; i < count; i++)
        if (self->monitors[requests[i].group].failed) {
            json_decref(requests[i].answer);
            requests[i].answer = NULL;
        }
}

//  Frees the questions' URLs and answers left.
static void s_requests_free(zb_cli_request_t *requests, size_t count)
{
    for (size_t i = 0; requests && i < count; i++) {
        free(requests[i].url);
        json_decref(requests[i].answer);
    }
}

//  Asks every monitor (that has not failed) the same question, all at
//  once; false when none answered.
static bool s_ask_all(s_remote_t *self, const char *method, const char *path, const char *body)
{
    zb_cli_request_t requests[S_MONITORS_MAX];
    size_t n = 0;
    for (size_t m = 0; m < self->count; m++) {
        json_decref(self->monitors[m].answer);
        self->monitors[m].answer = NULL;
        if (!self->monitors[m].failed &&
            s_request(self, &requests[n], m, method, path, body) != 0) {
            s_requests_free(requests, n);
            return false;
        }
        n += self->monitors[m].failed ? 0 : 1;
    }
    s_round(self, requests, n);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        self->monitors[requests[i].group].answer = requests[i].answer;
        requests[i].answer = NULL;
        any = any || self->monitors[requests[i].group].answer;
    }
    s_requests_free(requests, n);
    return any;
}

//  The API takes whole seconds: since rounds down, until up (never less).
static void s_param_time(char *query, size_t size, const char *name, int64_t ms, bool up)
{
    char when[48];
    zb_time_format_rfc3339(up ? ms + 999 : ms, when, sizeof(when));
    zb_cli_fetch_param(query, size, name, when);
}

//  --------------------------------------------------------------------------
//  Merging

//  status and report order: host, its own row (service null), its services.
static int s_by_host_service(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = zb_cli_strcmp_null(zb_cli_json_text(x, "host"), zb_cli_json_text(y, "host"));
    return c ? c
             : zb_cli_strcmp_null(zb_cli_json_text(x, "service"), zb_cli_json_text(y, "service"));
}

//  Alerts newest first (outages: zb_cli_dedup).
static int s_newest_alert_first(const void *a, const void *b)
{
    int64_t x = zb_cli_json_ms(*(json_t *const *)a, "created_at", 0);
    int64_t y = zb_cli_json_ms(*(json_t *const *)b, "created_at", 0);
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

//  Notes monitor m's hosts (rows of GET /api/v1/hosts) in owners, {host:
//  [monitor, last_seen]}: the monitor that heard each host last, of equals
//  the first asked (notes come in the monitors' order).
static void s_owners_note(json_t *owners, size_t m, json_t *rows)
{
    size_t i;
    json_t *o;
    json_array_foreach(rows, i, o)
    {
        const char *host = zb_cli_json_text(o, "host");
        if (!host)
            continue;
        int64_t seen = zb_cli_json_ms(o, "last_seen", 0);
        json_t *best = json_object_get(owners, host);
        if (!best || seen > json_integer_value(json_array_get(best, 1)))
            json_object_set_new(owners, host, json_pack("[I,I]", (json_int_t)m, (json_int_t)seen));
    }
}

//  status / hosts: each host's rows from the monitor that heard it last
//  (owners, see s_owners_note); a host owners does not name is only one
//  monitor's.
static json_t *s_merge_hosts(s_remote_t *self, json_t *owners)
{
    size_t count;
    json_t **items = s_elements(self, NULL, &count);
    if (!items)
        return NULL;
    size_t kept = 0;
    for (size_t m = 0, at = 0; m < self->count; m++) {
        size_t n = json_array_size(self->monitors[m].answer);
        for (size_t i = 0; i < n; i++, at++) {
            const char *host = zb_cli_json_text(items[at], "host");
            json_t *best = host && owners ? json_object_get(owners, host) : NULL;
            if (!best || json_integer_value(json_array_get(best, 0)) == (json_int_t)m)
                items[kept++] = items[at];
        }
    }
    json_t *out = s_sorted(items, kept, s_by_host_service);
    free(items);
    return out;
}

static int s_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  The hosts whose owner must be asked: each named once, sorted. With
//  complete answers (every host row of the hosts each monitor knows is in
//  its answer: no state or service filter, no page cut) only those that
//  several monitors name; else every one (a monitor may know a host its
//  answer left out, and have heard it last).
static char **s_lookup_names(s_remote_t *self, bool complete, size_t *count)
{
    json_t *named = json_object(); // host -> [last monitor naming it, monitors naming it]
    char **names = NULL;
    *count = 0;
    for (size_t m = 0; named && m < self->count; m++) {
        size_t i;
        json_t *o;
        json_array_foreach(self->monitors[m].answer, i, o)
        {
            const char *host = zb_cli_json_text(o, "host");
            //  The monitor refuses what is not a host name: such a host
            //  (written to a database by hand) keeps every monitor's rows.
            if (!host || !zb_name_valid(host))
                continue;
            json_t *seen = json_object_get(named, host);
            if (!seen)
                json_object_set_new(named, host, json_pack("[I,I]", (json_int_t)m, (json_int_t)1));
            else if (json_integer_value(json_array_get(seen, 0)) != (json_int_t)m) {
                json_array_set_new(seen, 0, json_integer((json_int_t)m));
                json_array_set_new(seen, 1,
                                   json_integer(json_integer_value(json_array_get(seen, 1)) + 1));
            }
        }
    }
    names = named ? calloc(json_object_size(named) + 1, sizeof(*names)) : NULL;
    bool short_of_memory = !names;
    const char *host;
    json_t *seen;
    json_object_foreach(names ? named : NULL, host, seen)
    {
        if (complete && json_integer_value(json_array_get(seen, 1)) < 2)
            continue;
        if (!(names[*count] = strdup(host))) {
            short_of_memory = true;
            break;
        }
        (*count)++;
    }
    if (short_of_memory) {
        //  No list rather than a short one: the caller says so.
        for (size_t i = 0; names && i < *count; i++)
            free(names[i]);
        free(names);
        names = NULL;
        *count = 0;
    }
    json_decref(named);
    if (names)
        qsort(names, *count, sizeof(*names), s_strcmp_ptr);
    return names;
}

//  Who heard each host of the answers last, without every host of every
//  monitor: GET /api/v1/hosts?host=NAME,NAME,... of every answering monitor,
//  for the hosts s_lookup_names gives. *owners_p: the owners (s_owners_note),
//  or NULL when no host needs one (one monitor answered; shards that share
//  no host). A monitor that fails to answer is failed, its rows dropped.
//  Returns 0, or -1 (said) out of memory.
static int s_lookup_owners(s_remote_t *self, bool complete, json_t **owners_p)
{
    size_t answering = 0, count = 0, n = 0, alloc = 0;
    *owners_p = NULL;
    for (size_t m = 0; m < self->count; m++)
        answering += self->monitors[m].answer ? 1 : 0;
    if (answering < 2)
        return 0;
    int rc = -1;
    char **names = s_lookup_names(self, complete, &count);
    zb_cli_request_t *requests = NULL;
    char *path = malloc(S_LOOKUP_BYTES_MAX + 100);
    if (!names || !path)
        goto done;
    for (size_t m = 0; m < self->count; m++) {
        if (!self->monitors[m].answer)
            continue;
        for (size_t at = 0; at < count;) {
            size_t len = (size_t)snprintf(path, 100, "/api/v1/hosts?host=");
            for (size_t k = 0; at < count && k < S_LOOKUP_NAMES_MAX; k++, at++) {
                size_t name = strlen(names[at]);
                if (k > 0 && len + 1 + name > S_LOOKUP_BYTES_MAX)
                    break;
                len += (size_t)snprintf(path + len, S_LOOKUP_BYTES_MAX + 100 - len, "%s%s",
                                        k ? "," : "", names[at]);
            }
            if (n == alloc) {
                alloc = alloc ? 2 * alloc : 16;
                zb_cli_request_t *grown = realloc(requests, alloc * sizeof(*requests));
                if (!grown)
                    goto done;
                requests = grown;
            }
            if (s_request(self, &requests[n], m, "GET", path, NULL) != 0)
                goto done;
            n++;
        }
    }
    if (n == 0) {
        rc = 0; // no host to ask about
        goto done;
    }
    s_round(self, requests, n);
    json_t *owners = json_object();
    for (size_t i = 0; owners && i < n; i++)
        if (requests[i].answer)
            s_owners_note(owners, requests[i].group, requests[i].answer);
    //  A monitor failed here: its rows go too.
    for (size_t m = 0; m < self->count; m++)
        if (self->monitors[m].failed) {
            json_decref(self->monitors[m].answer);
            self->monitors[m].answer = NULL;
        }
    *owners_p = owners;
    rc = owners ? 0 : -1;
done:
    if (rc != 0)
        fprintf(stderr, ZB_CLI_NAME ": out of memory\n");
    s_requests_free(requests, n);
    free(requests);
    free(path);
    for (size_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

static json_t *s_merge_outages(s_remote_t *self, int64_t limit)
{
    size_t count;
    json_t **items = s_elements(self, NULL, &count);
    if (!items)
        return NULL;
    int64_t window_ms = self->args->dedup_ms >= 0 ? self->args->dedup_ms : S_SAME_OUTAGE_MS;
    json_t *out = zb_cli_dedup_outages(items, count, window_ms, limit);
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
    return zb_cli_strcmp_null(zb_cli_json_text(a, "id"), zb_cli_json_text(b, "id")) == 0;
}

//  --------------------------------------------------------------------------
//  Commands

//  hosts: every monitor's list, each host from the monitor that heard it
//  last (the lists themselves say when).
static int s_hosts(s_remote_t *self)
{
    if (!s_ask_all(self, "GET", "/api/v1/hosts", NULL))
        return 1;
    json_t *owners = json_object();
    for (size_t m = 0; owners && m < self->count; m++)
        s_owners_note(owners, m, self->monitors[m].answer);
    json_t *rows = owners ? s_merge_hosts(self, owners) : NULL;
    int rc = rows ? zb_cli_hosts_print(rows, self->args) : 1;
    if (!rows)
        fprintf(stderr, ZB_CLI_NAME ": out of memory\n");
    json_decref(rows);
    json_decref(owners);
    return rc;
}

//  status: one round (every monitor's rows, and in a table its own line and
//  counts), then, when several answered, who heard which host last.
static int s_status(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    bool table = args->format == ZB_CLI_TABLE;
    //  The monitors filter (the problems only, by default, in a table):
    //  not every row of a large fleet crosses the network.
    zb_query_filter_t filter;
    zb_cli_status_filter(args, &filter);
    char path[600] = "/api/v1/status", counts[400] = "/api/v1/summary";
    if (filter.states)
        zb_cli_fetch_param(path, sizeof(path), "state", filter.states);
    if (filter.host) {
        zb_cli_fetch_param(path, sizeof(path), "host", filter.host);
        zb_cli_fetch_param(counts, sizeof(counts), "host", filter.host);
    }
    if (filter.service) {
        zb_cli_fetch_param(path, sizeof(path), "service", filter.service);
        zb_cli_fetch_param(counts, sizeof(counts), "service", filter.service);
    }
    //  Each monitor's questions: its rows; in a table also its line and counts.
    zb_cli_request_t requests[3 * S_MONITORS_MAX] = {{0}};
    size_t n = 0, each = table ? 3 : 1;
    int rc = 1;
    json_t *owners = NULL, *monitors = json_array(), *summaries = json_array();
    for (size_t m = 0; m < self->count; m++) {
        if (s_request(self, &requests[n], m, "GET", path, NULL) != 0 ||
            (table && s_request(self, &requests[n + 1], m, "GET", "/api/v1/monitor", NULL) != 0) ||
            (table && s_request(self, &requests[n + 2], m, "GET", counts, NULL) != 0))
            goto done;
        n += each;
    }
    s_round(self, requests, n);
    //  Complete answers hold every host row their monitor has (none left
    //  out by a state or service filter, or a page's end).
    bool complete = !filter.states && !filter.service;
    for (size_t i = 0; i < n; i += each) {
        s_monitor_t *mon = &self->monitors[requests[i].group];
        mon->answer = requests[i].answer;
        requests[i].answer = NULL;
        complete = complete && !requests[i].more;
        //  The API's largest page is a million rows (ZB_HTTP_STATUS_LIMIT_MAX).
        if (mon->answer && requests[i].more)
            fprintf(stderr,
                    ZB_CLI_NAME ": warning: %s: only its first %zu rows are shown "
                                "(narrow with --host, --service or --state)\n",
                    mon->url, json_array_size(mon->answer));
    }
    if (s_lookup_owners(self, complete, &owners) != 0)
        goto done;
    const char *urls[S_MONITORS_MAX];
    size_t answered = 0;
    for (size_t i = 0; i < n; i += each) {
        s_monitor_t *mon = &self->monitors[requests[i].group];
        if (!mon->answer)
            continue;
        urls[answered++] = mon->url;
        if (table) {
            json_array_append(monitors, requests[i + 1].answer);
            json_array_append(summaries, requests[i + 2].answer);
        }
    }
    if (answered == 0)
        goto done;
    json_t *rows = s_merge_hosts(self, owners);
    rc = zb_cli_status_print(rows, monitors, summaries, self->count > 1 ? urls : NULL, args);
    json_decref(rows);
done:
    s_requests_free(requests, sizeof(requests) / sizeof(requests[0]));
    json_decref(owners);
    json_decref(monitors);
    json_decref(summaries);
    return rc;
}

//  Asks every monitor for its outages page by page (at most S_OUTAGES_PAGE
//  a request) until it has given want rows or has no more (no next link);
//  each one's rows become its answer. A monitor that fails a page is
//  failed, its earlier pages dropped too. False when none answered.
static bool s_ask_pages(s_remote_t *self, const char *path, int64_t want)
{
    json_t *rows[S_MONITORS_MAX] = {NULL};
    bool more[S_MONITORS_MAX];
    for (size_t m = 0; m < self->count; m++) {
        json_decref(self->monitors[m].answer);
        self->monitors[m].answer = NULL;
        more[m] = !self->monitors[m].failed;
    }
    bool ok = true;
    int64_t offset = 0;
    for (; ok && offset < want && offset <= S_OUTAGES_DEEPEST; offset += S_OUTAGES_PAGE) {
        int64_t page = want - offset < S_OUTAGES_PAGE ? want - offset : S_OUTAGES_PAGE;
        char paged[1100];
        snprintf(paged, sizeof(paged), "%s", path);
        zb_cli_fetch_param_int(paged, sizeof(paged), "limit", page);
        zb_cli_fetch_param_int(paged, sizeof(paged), "offset", offset);
        zb_cli_request_t requests[S_MONITORS_MAX];
        size_t n = 0;
        for (size_t m = 0; ok && m < self->count; m++) {
            if (!more[m] || self->monitors[m].failed)
                continue;
            ok = s_request(self, &requests[n], m, "GET", paged, NULL) == 0;
            n += ok ? 1 : 0;
        }
        if (ok && n > 0)
            s_round(self, requests, n);
        for (size_t i = 0; i < n; i++) {
            size_t m = requests[i].group;
            json_t *answer = requests[i].answer;
            more[m] = json_is_array(answer) && requests[i].more;
            if (!json_is_array(answer))
                continue;
            if (!rows[m])
                rows[m] = json_incref(answer); // freed with the request otherwise
            else if (json_array_extend(rows[m], answer) != 0) {
                fprintf(stderr, ZB_CLI_NAME ": out of memory\n");
                ok = false;
            }
        }
        s_requests_free(requests, n);
        if (n == 0)
            break;
    }
    bool any = false;
    for (size_t m = 0; m < self->count; m++) {
        if (ok && more[m] && offset > S_OUTAGES_DEEPEST && offset < want)
            fprintf(stderr,
                    ZB_CLI_NAME ": warning: %s: only its newest %lld outages are shown "
                                "(narrow with --since, --until or --host)\n",
                    self->monitors[m].url, (long long)offset);
        if (ok && !self->monitors[m].failed && rows[m]) {
            self->monitors[m].answer = rows[m];
            any = true;
        } else
            json_decref(rows[m]);
    }
    return ok && any;
}

static int s_outages(s_remote_t *self)
{
    const zb_cli_args_t *args = self->args;
    const zb_store_query_t *q = &args->query;
    char path[1024] = "/api/v1/outages";
    if (args->host)
        zb_cli_fetch_param(path, sizeof(path), "host", args->host);
    if (args->service)
        zb_cli_fetch_param(path, sizeof(path), "service", args->service);
    if (q->since_ms != ZB_STORE_NO_TIME)
        s_param_time(path, sizeof(path), "since", q->since_ms, false);
    if (q->until_ms != ZB_STORE_NO_TIME)
        s_param_time(path, sizeof(path), "until", q->until_ms, true);
    if (q->open_only)
        zb_cli_fetch_param(path, sizeof(path), "open", "true");
    //  Newest first everywhere: the merged list's first --limit rows are
    //  among each monitor's first --limit.
    if (!s_ask_pages(self, path, q->limit ? q->limit : INT64_MAX))
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
    int rc = zb_cli_report_window(args, args->now_ms, &since, &until);
    if (rc != 0)
        return rc;
    char path[1024] = "/api/v1/report";
    s_param_time(path, sizeof(path), "since", since, false);
    s_param_time(path, sizeof(path), "until", until, true);
    if (args->host)
        zb_cli_fetch_param(path, sizeof(path), "host", args->host);
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
    if (args->query.limit)
        zb_cli_fetch_param_int(path, sizeof(path), "limit", args->query.limit);
    if (!s_ask_all(self, "GET", path, NULL))
        return 1;
    size_t count;
    json_t **items = s_elements(self, NULL, &count);
    if (!items)
        return 1;
    qsort(items, count, sizeof(*items), s_newest_alert_first);
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
    if (rc == 0 && args->user)
        rc = zb_cli_fetch_password(args->user, args->password_file, self->password,
                                   sizeof(self->password));
    if (rc != 0)
        return rc;
    zb_cli_fetch_auth_t auth = {
        .user = args->user, .password = self->password, .cacert = args->cacert};
    if (!(self->fetch = zb_cli_fetch_new(&auth))) {
        fprintf(stderr, ZB_CLI_NAME ": cannot start libcurl\n");
        return 1;
    }
    const char *cmd = args->command;
    if (strcmp(cmd, "status") == 0)
        rc = s_status(self);
    else if (strcmp(cmd, "hosts") == 0 && !args->action)
        rc = s_hosts(self);
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
    zb_cli_fetch_destroy(&self->fetch);
    if (rc == 0 && failed > 0 && failed < self->count) {
        fprintf(stderr, ZB_CLI_NAME ": warning: partial answer: %zu of %zu monitors answered\n",
                self->count - failed, self->count);
        rc = S_EXIT_PARTIAL;
    }
    return rc;
}
