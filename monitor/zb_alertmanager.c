/*  zb_alertmanager: the alertmanager channel. See zb_alertmanager.h. */
#include "zb_alertmanager.h"
#include "zb_time.h"
#include "zb_webhook.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZB_ALERTMANAGER_URL_MAX 2048

static const char *s_text(json_t *alert, const char *key)
{
    return json_string_value(json_object_get(alert, key));
}

//  One Alertmanager alert. starts and ends are RFC 3339 (ends NULL: none).
static int s_push(json_t *array, json_t *alert, const char *alertname, const char *severity,
                  const char *starts, const char *ends, const zb_alertmanager_opts_t *opts)
{
    json_t *labels =
        json_pack("{s:s, s:s, s:s, s:s}", "alertname", alertname, "host", s_text(alert, "host"),
                  "severity", severity, "zbeat_monitor", opts->monitor);
    json_t *annotations = json_pack("{s:s, s:s}", "summary", s_text(alert, "summary"), "reason",
                                    s_text(alert, "reason"));
    json_t *item = json_object();
    int rc = labels && annotations && item ? 0 : -1;
    const char *service = s_text(alert, "service");
    //  An empty label is no label: a host alert has none.
    if (rc == 0 && service && *service)
        rc = json_object_set_new(labels, "service", json_string(service));
    json_t *outage = json_object_get(alert, "outage_id");
    if (rc == 0 && json_is_integer(outage)) {
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(outage));
        rc = json_object_set_new(annotations, "outage_id", json_string(id));
    }
    if (rc == 0)
        rc = json_object_set_new(item, "labels", labels) ||
             json_object_set_new(item, "annotations", annotations) ||
             json_object_set_new(item, "startsAt", json_string(starts));
    labels = annotations = NULL; // the item's now (set_new steals even on failure)
    if (rc == 0 && ends)
        rc = json_object_set_new(item, "endsAt", json_string(ends));
    if (rc == 0 && opts->generator && *opts->generator)
        rc = json_object_set_new(item, "generatorURL", json_string(opts->generator));
    if (rc == 0)
        rc = json_array_append_new(array, item);
    else
        json_decref(item);
    json_decref(labels);
    json_decref(annotations);
    return rc;
}

int zb_alertmanager_add(void *array_p, const char *payload, const zb_alertmanager_opts_t *opts)
{
    assert(array_p && payload && opts && opts->monitor);
    json_t *array = array_p;
    json_t *alert = json_loads(payload, 0, NULL);
    const char *trigger = alert ? s_text(alert, "trigger") : NULL;
    if (!trigger || !s_text(alert, "host") || !s_text(alert, "summary") ||
        !s_text(alert, "reason") || !s_text(alert, "created_at")) {
        json_decref(alert);
        return -1;
    }
    const char *service = s_text(alert, "service");
    const char *created = s_text(alert, "created_at");
    const char *started = s_text(alert, "started_at") ? s_text(alert, "started_at") : created;
    const char *ended = s_text(alert, "ended_at") ? s_text(alert, "ended_at") : created;
    //  A firing alert stays valid for 4 resends, as Prometheus does: a
    //  monitor that died lets it resolve on its own.
    char valid[40];
    zb_time_format_rfc3339_ms(opts->now_ms + 4 * opts->resend_ms, valid, sizeof(valid));
    const char *incident = service ? "ZbeatServiceDown" : "ZbeatHostSilent";
    int rc = 0;
    if (!strcmp(trigger, "down") || !strcmp(trigger, "silent") || !strcmp(trigger, "reminder"))
        rc = s_push(array, alert, incident, "critical", started, valid, opts);
    else if (!strcmp(trigger, "recovered"))
        rc = s_push(array, alert, incident, "critical", started, ended, opts);
    else if (!strcmp(trigger, "flapping"))
        rc = s_push(array, alert, "ZbeatFlapping", "warning", created, valid, opts);
    else if (!strcmp(trigger, "stable")) {
        //  The episode is over; settled down, the outage fires in its place.
        rc = s_push(array, alert, "ZbeatFlapping", "warning", created, created, opts);
        if (rc == 0 && json_is_integer(json_object_get(alert, "outage_id")))
            rc = s_push(array, alert, "ZbeatServiceDown", "critical", started, valid, opts);
    } else if (!strcmp(trigger, "stopped"))
        rc = s_push(array, alert, "ZbeatHostStopped", "info", started, valid, opts);
    else if (!strcmp(trigger, "cert-expiring"))
        rc = s_push(array, alert, "ZbeatCertExpiring", "warning", started, valid, opts);
    else if (!strcmp(trigger, "resolved")) {
        //  The end of an episode (a stop, a certificate's expiry).
        const char *resolves = s_text(alert, "resolves");
        if (resolves && !strcmp(resolves, "stopped"))
            rc = s_push(array, alert, "ZbeatHostStopped", "info", started, ended, opts);
        else if (resolves && !strcmp(resolves, "cert-expiring"))
            rc = s_push(array, alert, "ZbeatCertExpiring", "warning", started, ended, opts);
    }
    //  A trigger made by a newer monitor: nothing Alertmanager should see.
    json_decref(alert);
    return rc;
}

char *zb_alertmanager_body(const char *payload, const zb_alertmanager_opts_t *opts)
{
    json_t *array = json_array();
    char *body = NULL;
    if (array && zb_alertmanager_add(array, payload, opts) == 0)
        body = json_dumps(array, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(array);
    return body;
}

int zb_alertmanager_post(const char *urls, const char *headers, const char *body,
                         int64_t timeout_ms, const atomic_bool *stop, char *error, size_t size,
                         int64_t *status)
{
    assert(urls && body && error && status);
    *status = -1;
    error[0] = '\0';
    size_t used = 0;
    int rc = -1;
    const char *start = urls;
    while (*start) {
        size_t len = strcspn(start, ",");
        char url[ZB_ALERTMANAGER_URL_MAX + 32];
        //  Base URLs may end in a slash or not.
        int n = (int)len;
        while (n > 0 && start[n - 1] == '/')
            n--;
        snprintf(url, sizeof(url), "%.*s/api/v2/alerts", n, start);
        zb_webhook_result_t result;
        if (zb_webhook_post_with(url, body, headers, timeout_ms, stop, &result) == 0)
            rc = 0;
        else if (used < size)
            used += (size_t)snprintf(error + used, size - used, "%s%.*s: %s", used ? "; " : "", n,
                                     start, result.error);
        if (result.http_status > 0)
            *status = result.http_status;
        start += len;
        if (*start == ',')
            start++;
    }
    if (rc == 0)
        error[0] = '\0';
    return rc;
}

void zb_alertmanager_test(bool verbose)
{
    (void)verbose;
    const char *down =
        "{\"v\":1,\"id\":\"web-1/redis/42/down\",\"trigger\":\"down\",\"host\":\"web-1\","
        "\"service\":\"redis\",\"state\":\"down\",\"reason\":\"refused\",\"error\":\"x\","
        "\"outage_id\":42,\"started_at\":\"2026-11-28T08:49:02.513Z\",\"ended_at\":null,"
        "\"duration_s\":0.021,\"created_at\":\"2026-11-28T08:49:02.534Z\",\"transitions\":null,"
        "\"window_s\":null,\"reminder\":null,\"summary\":\"DOWN web-1/redis: refused\"}";
    zb_alertmanager_opts_t opts = {.monitor = "zbeat",
                                   .generator = "http://mon:7480/",
                                   .resend_ms = 60000,
                                   .now_ms = 1764320000000};
    char *body = zb_alertmanager_body(down, &opts);
    assert(body);
    json_t *array = json_loads(body, 0, NULL);
    assert(json_array_size(array) == 1);
    json_t *item = json_array_get(array, 0);
    json_t *labels = json_object_get(item, "labels");
    assert(!strcmp(s_text(labels, "alertname"), "ZbeatServiceDown"));
    assert(!strcmp(s_text(labels, "host"), "web-1"));
    assert(!strcmp(s_text(labels, "service"), "redis"));
    assert(!strcmp(s_text(labels, "severity"), "critical"));
    assert(!strcmp(s_text(labels, "zbeat_monitor"), "zbeat"));
    json_t *annotations = json_object_get(item, "annotations");
    assert(!strcmp(s_text(annotations, "outage_id"), "42"));
    assert(!strcmp(s_text(annotations, "reason"), "refused"));
    assert(!strcmp(s_text(item, "startsAt"), "2026-11-28T08:49:02.513Z"));
    char valid[40];
    zb_time_format_rfc3339_ms(opts.now_ms + 240000, valid, sizeof(valid)); // 4 resends
    assert(!strcmp(s_text(item, "endsAt"), valid));
    assert(!strcmp(s_text(item, "generatorURL"), "http://mon:7480/"));
    json_decref(array);
    free(body);

    //  A host's recovery resolves ZbeatHostSilent, without a service label.
    const char *back =
        "{\"v\":1,\"id\":\"web-2/-/43/recovered\",\"trigger\":\"recovered\",\"host\":\"web-2\","
        "\"service\":null,\"state\":\"alive\",\"reason\":\"back\",\"error\":\"\","
        "\"outage_id\":43,\"started_at\":\"2026-11-28T08:50:13.001Z\","
        "\"ended_at\":\"2026-11-28T08:52:14.250Z\",\"created_at\":\"2026-11-28T08:52:14.250Z\","
        "\"summary\":\"RECOVERED host web-2\"}";
    opts.generator = "";
    body = zb_alertmanager_body(back, &opts);
    array = json_loads(body, 0, NULL);
    item = json_array_get(array, 0);
    labels = json_object_get(item, "labels");
    assert(!strcmp(s_text(labels, "alertname"), "ZbeatHostSilent"));
    assert(!json_object_get(labels, "service"));
    assert(!strcmp(s_text(item, "endsAt"), "2026-11-28T08:52:14.250Z"));
    assert(!json_object_get(item, "generatorURL"));
    json_decref(array);
    free(body);

    //  A stopped host fires until its resolved alert ends it.
    const char *resolved =
        "{\"v\":1,\"id\":\"web-3/-/stop-1/resolved\",\"trigger\":\"resolved\",\"host\":"
        "\"web-3\",\"service\":null,\"state\":\"alive\",\"reason\":\"back\",\"error\":\"\","
        "\"outage_id\":null,\"started_at\":\"2026-11-28T08:00:00.000Z\","
        "\"ended_at\":\"2026-11-28T09:30:00.000Z\",\"created_at\":\"2026-11-28T09:30:00.000Z\","
        "\"resolves\":\"stopped\",\"summary\":\"RESOLVED host web-3\"}";
    body = zb_alertmanager_body(resolved, &opts);
    array = json_loads(body, 0, NULL);
    item = json_array_get(array, 0);
    labels = json_object_get(item, "labels");
    assert(!strcmp(s_text(labels, "alertname"), "ZbeatHostStopped"));
    assert(!strcmp(s_text(item, "startsAt"), "2026-11-28T08:00:00.000Z"));
    assert(!strcmp(s_text(item, "endsAt"), "2026-11-28T09:30:00.000Z"));
    json_decref(array);
    free(body);

    //  Not an alert JSON.
    assert(!zb_alertmanager_body("{}", &opts));
    assert(!zb_alertmanager_body("nope", &opts));

    //  Nobody listening on any member: an error naming each.
    char error[512];
    int64_t status;
    atomic_bool stop;
    atomic_init(&stop, false);
    assert(zb_webhook_init() == 0);
    assert(zb_alertmanager_post("http://127.0.0.1:1/,http://127.0.0.1:1", NULL, "[]", 2000, &stop,
                                error, sizeof(error), &status) == -1);
    assert(strstr(error, "http://127.0.0.1:1: ") == error);
    assert(strstr(error, "; http://127.0.0.1:1: "));
    assert(status == -1);
    zb_webhook_cleanup();
}
