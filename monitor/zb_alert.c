/*  zb_alert: ids, JSON, webhook bodies and hook environments of alerts.
    See zb_alert.h and docs/alerts.md (the field list there is the contract).
*/
#include "zb_alert.h"
#include "zb_time.h"

#include <assert.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15))

static const char *const s_trigger_names[] = {
    [ZB_ALERT_DOWN] = "down",
    [ZB_ALERT_SILENT] = "silent",
    [ZB_ALERT_RECOVERED] = "recovered",
    [ZB_ALERT_FLAPPING] = "flapping",
    [ZB_ALERT_STABLE] = "stable",
    [ZB_ALERT_REMINDER] = "reminder",
    [ZB_ALERT_CONFLICT] = "name-conflict",
    [ZB_ALERT_STOPPED] = "stopped",
    [ZB_ALERT_CERT] = "cert-expiring",
    [ZB_ALERT_RESOLVED] = "resolved",
};

const char *zb_alert_trigger_name(zb_trigger_t trigger)
{
    assert(trigger >= ZB_ALERT_DOWN && trigger <= ZB_ALERT_RESOLVED);
    return s_trigger_names[trigger];
}

void zb_alert_id(const zb_alert_t *self, char *buf, size_t size)
{
    assert(self && self->host && buf);
    const char *service = self->service ? self->service : "-";
    const char *trigger = zb_alert_trigger_name(self->trigger);
    if (self->trigger == ZB_ALERT_FLAPPING || self->trigger == ZB_ALERT_STABLE)
        snprintf(buf, size, "%s/%s/flap-%" PRId64 "/%s", self->host, service, self->flap_id,
                 trigger);
    else if (self->trigger == ZB_ALERT_CONFLICT)
        snprintf(buf, size, "%s/-/conflict-%" PRId64 "/%s", self->host, self->flap_id, trigger);
    else if (self->trigger == ZB_ALERT_STOPPED ||
             (self->trigger == ZB_ALERT_RESOLVED && self->resolves == ZB_ALERT_STOPPED))
        snprintf(buf, size, "%s/-/stop-%" PRId64 "/%s", self->host, self->flap_id, trigger);
    else if (self->trigger == ZB_ALERT_CERT || self->trigger == ZB_ALERT_RESOLVED)
        snprintf(buf, size, "%s/%s/cert-%" PRId64 "/%s", self->host, service, self->not_after_ms,
                 trigger);
    else if (self->trigger == ZB_ALERT_REMINDER)
        snprintf(buf, size, "%s/%s/%" PRId64 "/reminder-%d", self->host, service, self->outage_id,
                 self->reminder);
    else
        snprintf(buf, size, "%s/%s/%" PRId64 "/%s", self->host, service, self->outage_id, trigger);
}

static json_t *s_json_time(int64_t ms)
{
    if (ms < 0)
        return json_null();
    char buf[48];
    zb_time_format_rfc3339_ms(ms, buf, sizeof(buf));
    return json_string(buf);
}

//  Agents' texts arrived as valid JSON strings, so they are valid UTF-8;
//  still, never let a NULL from jansson turn into a missing field.
static json_t *s_json_text(const char *text)
{
    if (!text)
        return json_null();
    json_t *value = json_string(text);
    return value ? value : json_string("?");
}

static void s_summary(const zb_alert_t *self, int64_t duration_ms, char *buf, size_t size)
{
    char what[160], took[32], detail[260] = "";
    if (self->service)
        snprintf(what, sizeof(what), "%s/%s", self->host, self->service);
    else
        snprintf(what, sizeof(what), "host %s", self->host);
    zb_time_format_duration(duration_ms, took, sizeof(took));
    if (self->reason && *self->reason)
        snprintf(detail, sizeof(detail), ": %s%s%s", self->reason,
                 self->error && *self->error ? ", " : "", self->error ? self->error : "");
    switch (self->trigger) {
    case ZB_ALERT_DOWN:
        snprintf(buf, size, "DOWN %s%s", what, detail);
        break;
    case ZB_ALERT_SILENT:
        snprintf(buf, size, "SILENT %s: no message from its agent", what);
        break;
    case ZB_ALERT_RECOVERED:
        snprintf(buf, size, "RECOVERED %s after %s (%s)", what, took,
                 self->reason ? self->reason : "");
        break;
    case ZB_ALERT_FLAPPING:
        zb_time_format_duration(self->window_ms, took, sizeof(took));
        snprintf(buf, size, "FLAPPING %s: %d state changes in %s; quiet until stable", what,
                 self->transitions, took);
        break;
    case ZB_ALERT_STABLE:
        snprintf(buf, size, "STABLE %s is %s after flapping%s", what,
                 self->state ? self->state : "?",
                 self->state && strcmp(self->state, "down") == 0 ? detail : "");
        break;
    case ZB_ALERT_REMINDER:
        snprintf(buf, size, "STILL %s %s for %s%s", self->service ? "DOWN" : "SILENT", what, took,
                 self->service ? detail : "");
        break;
    case ZB_ALERT_CONFLICT:
        snprintf(buf, size, "NAME CONFLICT %s: two agents use this name; one is ignored", what);
        break;
    case ZB_ALERT_STOPPED:
        snprintf(buf, size, "STOPPED %s for %s: its agent was stopped and has not come back", what,
                 took);
        break;
    case ZB_ALERT_CERT: {
        char when[48];
        zb_time_format_rfc3339(self->not_after_ms, when, sizeof(when));
        int64_t left = self->not_after_ms - self->created_at_ms;
        if (left <= 0)
            snprintf(buf, size, "CERTIFICATE EXPIRED %s on %s", what, when);
        else if (left < 86400 * 1000LL) {
            zb_time_format_duration(left, took, sizeof(took));
            snprintf(buf, size, "CERTIFICATE EXPIRING %s in %s (%s)", what, took, when);
        } else
            snprintf(buf, size, "CERTIFICATE EXPIRING %s in %" PRId64 " days (%s)", what,
                     (int64_t)(left / (86400 * 1000LL)), when);
        break;
    }
    case ZB_ALERT_RESOLVED:
        if (self->resolves == ZB_ALERT_STOPPED)
            snprintf(buf, size, "RESOLVED %s stopped for %s (%s)", what, took,
                     self->reason ? self->reason : "");
        else
            snprintf(buf, size, "RESOLVED %s certificate expiry (%s)", what,
                     self->reason ? self->reason : "");
        break;
    }
}

char *zb_alert_json(const zb_alert_t *self)
{
    assert(self && self->host);
    char id[ZB_ALERT_ID_MAX + 1], summary[512];
    zb_alert_id(self, id, sizeof(id));
    bool outage = self->started_at_ms >= 0;
    int64_t end = self->ended_at_ms >= 0 ? self->ended_at_ms : self->created_at_ms;
    int64_t duration = outage && end > self->started_at_ms ? end - self->started_at_ms : 0;
    s_summary(self, duration, summary, sizeof(summary));

    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "v", json_integer(ZB_ALERT_VERSION));
    json_object_set_new(o, "id", s_json_text(id));
    json_object_set_new(o, "trigger", json_string(zb_alert_trigger_name(self->trigger)));
    json_object_set_new(o, "host", s_json_text(self->host));
    json_object_set_new(o, "service", s_json_text(self->service));
    json_object_set_new(o, "state", s_json_text(self->state));
    json_object_set_new(o, "reason", s_json_text(self->reason ? self->reason : ""));
    json_object_set_new(o, "error", s_json_text(self->error ? self->error : ""));
    json_object_set_new(o, "outage_id",
                        self->outage_id > 0 ? json_integer(self->outage_id) : json_null());
    json_object_set_new(o, "started_at", s_json_time(outage ? self->started_at_ms : -1));
    json_object_set_new(o, "ended_at", s_json_time(self->ended_at_ms));
    json_object_set_new(o, "duration_s",
                        outage ? json_real((double)duration / 1000.0) : json_null());
    json_object_set_new(o, "created_at", s_json_time(self->created_at_ms));
    bool flapping = self->trigger == ZB_ALERT_FLAPPING;
    json_object_set_new(o, "transitions", flapping ? json_integer(self->transitions) : json_null());
    json_object_set_new(o, "window_s",
                        flapping ? json_real((double)self->window_ms / 1000.0) : json_null());
    json_object_set_new(o, "reminder",
                        self->trigger == ZB_ALERT_REMINDER ? json_integer(self->reminder)
                                                           : json_null());
    bool cert = self->trigger == ZB_ALERT_CERT ||
                (self->trigger == ZB_ALERT_RESOLVED && self->resolves == ZB_ALERT_CERT);
    json_object_set_new(o, "not_after", s_json_time(cert ? self->not_after_ms : -1));
    json_object_set_new(o, "resolves",
                        self->trigger == ZB_ALERT_RESOLVED
                            ? json_string(zb_alert_trigger_name(self->resolves))
                            : json_null());
    json_object_set_new(o, "summary", s_json_text(summary));
    char *text = json_dumps(o, S_JSON_FLAGS);
    json_decref(o);
    return text;
}

char *zb_alert_render(const char *payload, zb_template_t template)
{
    assert(payload);
    json_t *alert = json_loads(payload, 0, NULL);
    if (!json_is_object(alert)) {
        json_decref(alert);
        return NULL;
    }
    char *text = NULL;
    if (template == ZB_TEMPLATE_JSON)
        text = json_dumps(alert, S_JSON_FLAGS);
    else {
        //  Slack and Mattermost incoming webhooks both take {"text": ...};
        //  Mattermost also shows a username.
        const char *summary = json_string_value(json_object_get(alert, "summary"));
        const char *id = json_string_value(json_object_get(alert, "id"));
        char line[768];
        snprintf(line, sizeof(line), "%s [%s]", summary ? summary : "zbeat alert", id ? id : "?");
        json_t *body = json_pack("{s:s}", "text", line);
        if (body && template == ZB_TEMPLATE_MATTERMOST)
            json_object_set_new(body, "username", json_string("zbeat"));
        text = body ? json_dumps(body, S_JSON_FLAGS) : NULL;
        json_decref(body);
    }
    json_decref(alert);
    return text;
}

void zb_alert_env_free(char ***env_p)
{
    assert(env_p);
    char **env = *env_p;
    if (!env)
        return;
    for (char **p = env; *p; p++)
        free(*p);
    free(env);
    *env_p = NULL;
}

//  A JSON value as an environment value: strings as they are, numbers in
//  decimal, null as "".
static char *s_env_value(json_t *value)
{
    char *text = NULL;
    if (json_is_string(value))
        text = strdup(json_string_value(value));
    else if (json_is_integer(value)) {
        if (asprintf(&text, "%" JSON_INTEGER_FORMAT, json_integer_value(value)) < 0)
            text = NULL;
    } else if (json_is_real(value)) {
        if (asprintf(&text, "%.3f", json_real_value(value)) < 0)
            text = NULL;
    } else
        text = strdup("");
    return text;
}

char **zb_alert_env(const char *payload, const char *channel, int attempt, char *const *base)
{
    assert(payload && channel);
    static const struct {
        const char *var;
        const char *field;
    } vars[] = {
        {"ZBEAT_ALERT_ID", "id"},
        {"ZBEAT_TRIGGER", "trigger"},
        {"ZBEAT_HOST", "host"},
        {"ZBEAT_SERVICE", "service"},
        {"ZBEAT_STATE", "state"},
        {"ZBEAT_REASON", "reason"},
        {"ZBEAT_ERROR", "error"},
        {"ZBEAT_OUTAGE_ID", "outage_id"},
        {"ZBEAT_STARTED_AT", "started_at"},
        {"ZBEAT_ENDED_AT", "ended_at"},
        {"ZBEAT_DURATION_S", "duration_s"},
        {"ZBEAT_CREATED_AT", "created_at"},
        {"ZBEAT_SUMMARY", "summary"},
    };
    size_t nvars = sizeof(vars) / sizeof(vars[0]);
    json_t *alert = json_loads(payload, 0, NULL);
    if (!json_is_object(alert)) {
        json_decref(alert);
        return NULL;
    }
    size_t nbase = 0;
    while (base && base[nbase])
        nbase++;
    char **env = calloc(nbase + nvars + 3, sizeof(char *));
    size_t n = 0;
    bool failed = !env;
    //  Our own variables win over any inherited of the same name.
    for (size_t i = 0; !failed && i < nbase; i++)
        if (strncmp(base[i], "ZBEAT_", 6) != 0 && !(env[n++] = strdup(base[i])))
            failed = true;
    for (size_t i = 0; !failed && i < nvars; i++) {
        char *value = s_env_value(json_object_get(alert, vars[i].field));
        if (!value || asprintf(&env[n], "%s=%s", vars[i].var, value) < 0) {
            env[n] = NULL;
            failed = true;
        } else
            n++;
        free(value);
    }
    if (!failed && asprintf(&env[n], "ZBEAT_CHANNEL=%s", channel) < 0) {
        env[n] = NULL;
        failed = true;
    } else if (!failed)
        n++;
    if (!failed && asprintf(&env[n], "ZBEAT_ATTEMPT=%d", attempt) < 0) {
        env[n] = NULL;
        failed = true;
    }
    json_decref(alert);
    if (failed)
        zb_alert_env_free(&env);
    return env;
}

bool zb_alert_match(const char *patterns, const char *name)
{
    if (!patterns || !*patterns)
        return true;
    assert(name);
    char pattern[128];
    const char *start = patterns;
    while (true) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len < sizeof(pattern)) {
            memcpy(pattern, start, len);
            pattern[len] = '\0';
            if (fnmatch(pattern, name, 0) == 0)
                return true;
        }
        if (!end)
            return false;
        start = end + 1;
    }
}

//  --------------------------------------------------------------------------
//  Self-test

static const char *s_env_get(char **env, const char *name)
{
    size_t len = strlen(name);
    for (char **p = env; *p; p++)
        if (strncmp(*p, name, len) == 0 && (*p)[len] == '=')
            return *p + len + 1;
    return NULL;
}

void zb_alert_test(bool verbose)
{
    (void)verbose;
    const int64_t t0 = 1800000000000LL;
    zb_alert_t alert = {
        .trigger = ZB_ALERT_DOWN,
        .host = "web-1",
        .service = "redis",
        .state = "down",
        .reason = "refused",
        .error = "connect: Connection refused",
        .outage_id = 42,
        .started_at_ms = t0,
        .ended_at_ms = -1,
        .created_at_ms = t0 + 1500,
    };
    char id[ZB_ALERT_ID_MAX + 1];
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/redis/42/down") == 0);
    char *json = zb_alert_json(&alert);
    assert(json);
    json_t *o = json_loads(json, 0, NULL);
    assert(o);
    assert(strcmp(json_string_value(json_object_get(o, "id")), "web-1/redis/42/down") == 0);
    assert(strcmp(json_string_value(json_object_get(o, "started_at")),
                  "2027-01-15T08:00:00.000Z") == 0);
    assert(json_is_null(json_object_get(o, "ended_at")));
    assert(json_real_value(json_object_get(o, "duration_s")) == 1.5);
    assert(json_integer_value(json_object_get(o, "outage_id")) == 42);
    assert(strstr(json_string_value(json_object_get(o, "summary")), "DOWN web-1/redis: refused"));
    json_decref(o);

    //  The environment of a hook: every variable, inherited ZBEAT_* dropped.
    char *base[] = {"PATH=/bin", "ZBEAT_HOST=evil", NULL};
    char **env = zb_alert_env(json, "oncall", 3, base);
    assert(env);
    assert(strcmp(s_env_get(env, "PATH"), "/bin") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_HOST"), "web-1") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_SERVICE"), "redis") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_ENDED_AT"), "") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_OUTAGE_ID"), "42") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_DURATION_S"), "1.500") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_ATTEMPT"), "3") == 0);
    assert(strcmp(s_env_get(env, "ZBEAT_CHANNEL"), "oncall") == 0);
    zb_alert_env_free(&env);
    assert(!env);

    //  Templates.
    char *body = zb_alert_render(json, ZB_TEMPLATE_SLACK);
    assert(body && strncmp(body, "{\"text\":\"DOWN web-1/redis", 24) == 0);
    free(body);
    body = zb_alert_render(json, ZB_TEMPLATE_MATTERMOST);
    assert(body && strstr(body, "\"username\":\"zbeat\""));
    free(body);
    body = zb_alert_render(json, ZB_TEMPLATE_JSON);
    assert(body && strcmp(body, json) == 0);
    free(body);
    assert(!zb_alert_render("not json", ZB_TEMPLATE_SLACK));
    assert(!zb_alert_render("[1]", ZB_TEMPLATE_JSON));
    assert(!zb_alert_env("{", "x", 1, NULL));
    free(json);

    //  The other triggers' ids.
    alert.service = NULL;
    alert.trigger = ZB_ALERT_SILENT;
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/-/42/silent") == 0);
    alert.trigger = ZB_ALERT_REMINDER;
    alert.reminder = 2;
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/-/42/reminder-2") == 0);
    alert.service = "redis";
    alert.trigger = ZB_ALERT_FLAPPING;
    alert.flap_id = 123;
    alert.transitions = 7;
    alert.window_ms = 600000;
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/redis/flap-123/flapping") == 0);
    json = zb_alert_json(&alert);
    assert(json && strstr(json, "\"transitions\":7") && strstr(json, "\"window_s\":600.0"));
    free(json);
    //  A name conflict and a stop: host alerts named by when they began.
    alert.service = NULL;
    alert.trigger = ZB_ALERT_CONFLICT;
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/-/conflict-123/name-conflict") == 0);
    alert.trigger = ZB_ALERT_STOPPED;
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/-/stop-123/stopped") == 0);
    json = zb_alert_json(&alert);
    assert(json && strstr(json, "\"trigger\":\"stopped\"") && strstr(json, "STOPPED host web-1"));
    assert(strstr(json, "\"not_after\":null") && strstr(json, "\"resolves\":null"));
    free(json);
    alert.trigger = ZB_ALERT_RESOLVED;
    alert.resolves = ZB_ALERT_STOPPED;
    alert.reason = "back";
    zb_alert_id(&alert, id, sizeof(id));
    assert(strcmp(id, "web-1/-/stop-123/resolved") == 0);
    json = zb_alert_json(&alert);
    assert(json && strstr(json, "\"resolves\":\"stopped\"") && strstr(json, "RESOLVED host web-1"));
    free(json);
    //  A certificate: named by its notAfter; the summary counts whole days.
    alert.service = "web";
    alert.trigger = ZB_ALERT_CERT;
    alert.started_at_ms = -1;
    alert.created_at_ms = 1764320000000;
    alert.not_after_ms = alert.created_at_ms + 5 * 86400000LL + 3600000;
    zb_alert_id(&alert, id, sizeof(id));
    char want[96];
    snprintf(want, sizeof(want), "web-1/web/cert-%" PRId64 "/cert-expiring", alert.not_after_ms);
    assert(strcmp(id, want) == 0);
    json = zb_alert_json(&alert);
    assert(json && strstr(json, "CERTIFICATE EXPIRING web-1/web in 5 days"));
    assert(strstr(json, "\"not_after\":\"2025-12-03T09:53:20.000Z\""));
    free(json);
    alert.not_after_ms = alert.created_at_ms - 1000;
    json = zb_alert_json(&alert);
    assert(json && strstr(json, "CERTIFICATE EXPIRED web-1/web on "));
    free(json);
    alert.trigger = ZB_ALERT_RESOLVED;
    alert.resolves = ZB_ALERT_CERT;
    alert.reason = "renewed";
    zb_alert_id(&alert, id, sizeof(id));
    assert(strstr(id, "web-1/web/cert-") == id && strstr(id, "/resolved"));
    json = zb_alert_json(&alert);
    assert(json && strstr(json, "\"resolves\":\"cert-expiring\"") &&
           strstr(json, "RESOLVED web-1/web certificate expiry (renewed)"));
    free(json);

    //  Filters.
    assert(zb_alert_match(NULL, "x") && zb_alert_match("", "x"));
    assert(zb_alert_match("web-*", "web-1"));
    assert(!zb_alert_match("web-*", "db-1"));
    assert(zb_alert_match("redis,db-*", "db-main"));
    assert(zb_alert_match("redis,db-*", "redis"));
    assert(!zb_alert_match("redis,db-*", "redis2"));
    assert(zb_alert_match("web-?", "web-2") && !zb_alert_match("web-?", "web-22"));
}
