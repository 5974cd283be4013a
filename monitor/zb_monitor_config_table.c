/*  zb_monitor_config_table: the `monitor` section as a directive table
    (zb_config.h), in the order keys are read (the first error wins, so the
    order is part of the messages). Defaults, bounds, the known keys, what
    a reload cannot change and the cells of docs/config-monitor.md's table
    (`zbeat-monitor --config-table`, checked by scripts/config_docs.py) all
    come from here. See zb_monitor_config.h.
*/
#include "zb_address.h"
#include "zb_auth.h"
#include "zb_config.h"
#include "zb_hostset.h"
#include "zb_http.h"
#include "zb_http_users.h"
#include "zb_intake.h"
#include "zb_monitor_config.h"
#include "zb_monitor_config_internal.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define S_RESTART 1u     // a reload cannot change it (wired into sockets, the store)
#define S_EMPTY_GIVEN 2u // `key = ""` is a value (refused), not "not given"
#define S_QUOTE 4u       // problems read "\"VALUE\" problem"
#define S_FOLLOWS 8u     // the default is the previous directive's value

//  Why a value is wrong, or NULL; why is room for a message built on the fly.
typedef const char *(s_problem_fn)(const char *value, char *why, size_t size);
//  Cross-checks and loaders run after the directive is read.
typedef void(s_then_fn)(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section);

//  The facts (zb_config.h: ZB_CONFIG_INT into an int, ZB_CONFIG_DURATION*
//  into an int64_t, ZB_CONFIG_STRING into a char array checked by
//  `problem`, ZB_CONFIG_CODE read by `then` alone, for keys that are read
//  together) and what the monitor does with them.
typedef struct {
    zb_config_directive_t d;
    unsigned flags; // S_RESTART ...
    s_problem_fn *problem;
    s_then_fn *then;
} s_directive_t;

#define S_FIELD(f)                                                                                 \
    .offset = offsetof(zb_monitor_config_t, f), .size = sizeof(((zb_monitor_config_t *)0)->f)
#define S_BOUNDS(low, high) .min = (low), .max = (high)
#define S_DOC(type, dflt, bounds) .doc_type = (type), .doc_default = (dflt), .doc_bounds = (bounds)
#define S_DAY (86400LL * 1000)

static const char *s_endpoints_check(const char *value, char *why, size_t size)
{
    (void)why, (void)size;
    return zb_monitor_config_endpoints_problem(value);
}

static const char *s_db_check(const char *value, char *why, size_t size)
{
    (void)why, (void)size;
    return *value ? NULL : "is empty";
}

static const char *s_address_check(const char *value, char *why, size_t size)
{
    return zb_address_check(value, why, size) == 0 ? NULL : why;
}

//  A shard: the hosts it owns become its subscriptions (zb_hostset).
static const char *s_hosts_check(const char *value, char *why, size_t size)
{
    if (zb_hostset_check(value, why, size) != 0)
        return why;
    return *value ? NULL : "is empty (leave it out for every host, or give web-*,db-*)";
}

static void s_liveness_bounds(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    if (self->liveness_max_ms < self->liveness_min_ms) {
        zconfig_t *max = zconfig_locate(section, "liveness-max");
        zb_config_fail(config, max ? max : zconfig_locate(section, "liveness-min"),
                       max ? "is below liveness-min" : "is above liveness-max (10s unless set)");
    }
}

static void s_http_tls_pair(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    if (!*self->http_tls_cert != !*self->http_tls_key)
        zb_config_fail(
            config,
            zconfig_locate(section, *self->http_tls_cert ? "http-tls-cert" : "http-tls-key"),
            "http-tls-cert and http-tls-key go together");
}

//  Checked here so that a bad users file stops the start (exit 2), naming
//  the file and key (docs/http.md).
static void s_http_users_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    if (*self->http_users && !zb_config_error(config)) {
        char why[600];
        zb_http_users_t *users = zb_http_users_load(self->http_users, why, sizeof(why));
        if (!users)
            zb_config_fail(config, zconfig_locate(section, "http-users"), "%s", why);
        zb_http_users_destroy(&users);
    }
}

static const char *s_metrics_detail_check(const char *value, char *why, size_t size)
{
    (void)why, (void)size;
    return zb_http_detail_parse(value) < 0 ? "is not one of " ZB_HTTP_DETAILS : NULL;
}

//  cert and agents are read together: one without the other is an error.
static void s_auth_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    zb_auth_config_load(config, section, self->cert, sizeof(self->cert), self->agents,
                        sizeof(self->agents));
}

static const s_directive_t s_directives[] = {
    {.d = {"bind", ZB_CONFIG_STRING, .text = ZB_MONITOR_BIND_DEFAULT, S_FIELD(bind),
           S_DOC("endpoint(s)", NULL,
                 "`tcp://`, `ipc://` or `inproc://`; several comma-separated; a `tcp://` address "
                 "ends in a port from 1 to 65535")},
     .flags = S_RESTART | S_EMPTY_GIVEN | S_QUOTE,
     .problem = s_endpoints_check},
    {.d = {"db", ZB_CONFIG_STRING, .text = ZB_MONITOR_DB_DEFAULT, S_FIELD(db),
           S_DOC("path", NULL, "non-empty (`db = \"\"` is an error, not the default)")},
     .flags = S_RESTART | S_EMPTY_GIVEN,
     .problem = s_db_check},
    {.d = {"liveness", ZB_CONFIG_INT, S_BOUNDS(ZB_MONITOR_LIVENESS_MIN, ZB_MONITOR_LIVENESS_MAX),
           .dflt = ZB_MONITOR_LIVENESS_DEFAULT, S_FIELD(liveness)}},
    {.d = {"liveness-min", ZB_CONFIG_DURATION, S_BOUNDS(100, 600000),
           .dflt = ZB_MONITOR_LIVENESS_MIN_DEFAULT_MS, S_FIELD(liveness_min_ms)}},
    {.d = {"liveness-max", ZB_CONFIG_DURATION, S_BOUNDS(100, 3600000),
           .dflt = ZB_MONITOR_LIVENESS_MAX_DEFAULT_MS, S_FIELD(liveness_max_ms),
           S_DOC(NULL, NULL, "{min} .. {max}, at least `liveness-min`")},
     .then = s_liveness_bounds},
    {.d = {"phi", ZB_CONFIG_INT, S_BOUNDS(1, 30), .dflt = ZB_MONITOR_PHI_DEFAULT, S_FIELD(phi)}},
    {.d = {"udp", ZB_CONFIG_STRING, .text = "", S_FIELD(udp),
           S_DOC("HOST:PORT", "none (off)", "`*:7403`, `127.0.0.1:7403`, `[::]:7403`")},
     .flags = S_RESTART,
     .problem = s_address_check},
    {.d = {"retention", ZB_CONFIG_DURATION,
           S_BOUNDS(ZB_MONITOR_RETENTION_MIN_MS, ZB_MONITOR_RETENTION_MAX_MS),
           .dflt = ZB_MONITOR_RETENTION_DEFAULT_MS, S_FIELD(retention_ms)}},
    {.d = {"publish", ZB_CONFIG_STRING, .text = "", S_FIELD(publish),
           S_DOC("endpoint(s)", NULL, "like `bind` (empty: none)")},
     .flags = S_QUOTE,
     .problem = s_endpoints_check},
    {.d = {"replay", ZB_CONFIG_STRING, .text = "", S_FIELD(replay),
           S_DOC("endpoint(s)", NULL, "like `bind`")},
     .flags = S_RESTART | S_QUOTE,
     .problem = s_endpoints_check},
    {.d = {"flap-threshold", ZB_CONFIG_INT, S_BOUNDS(0, 1000),
           .dflt = ZB_MONITOR_FLAP_THRESHOLD_DEFAULT, S_FIELD(flap_threshold)}},
    {.d = {"flap-window", ZB_CONFIG_DURATION, S_BOUNDS(1000, 7 * S_DAY),
           .dflt = ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS, S_FIELD(flap_window_ms)}},
    //  The quiet period defaults to the window, whatever the window is.
    {.d = {"flap-quiet", ZB_CONFIG_DURATION, S_BOUNDS(1000, 7 * S_DAY),
           .dflt = ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS, S_FIELD(flap_quiet_ms),
           S_DOC(NULL, "`flap-window`", NULL)},
     .flags = S_FOLLOWS},
    {.d = {"repeat", ZB_CONFIG_DURATION, S_BOUNDS(1000, 30 * S_DAY), .dflt = 0,
           S_FIELD(repeat_ms)}},
    {.d = {"stopped-alert", ZB_CONFIG_DURATION_OFF, S_BOUNDS(1000, 365 * S_DAY),
           .dflt = 3600LL * 1000, S_FIELD(stopped_alert_ms)}},
    {.d = {"tls-warn", ZB_CONFIG_DURATION_OFF, S_BOUNDS(1000, 365 * S_DAY), .dflt = 14 * S_DAY,
           S_FIELD(tls_warn_ms)}},
    //  The frame limit is a socket option, set before binding.
    {.d = {"max-services", ZB_CONFIG_INT, S_BOUNDS(1, ZB_INTAKE_SERVICES_MAX),
           .dflt = ZB_INTAKE_SERVICES_DEFAULT, S_FIELD(max_services)},
     .flags = S_RESTART},
    {.d = {"max-hosts", ZB_CONFIG_INT, S_BOUNDS(1, ZB_MONITOR_MAX_HOSTS_LIMIT),
           .dflt = ZB_MONITOR_MAX_HOSTS, S_FIELD(max_hosts)}},
    //  The subscriptions are made once, before the socket binds.
    {.d = {"hosts", ZB_CONFIG_STRING, .text = "", S_FIELD(hosts),
           S_DOC("host patterns", "every host", "names, or prefixes ending in one `*`")},
     .flags = S_RESTART | S_EMPTY_GIVEN,
     .problem = s_hosts_check},
    {.d = {"http", ZB_CONFIG_STRING, .text = "", S_FIELD(http),
           S_DOC("HOST:PORT", "none (off)", "`127.0.0.1:7480`, `*:7480`, `[::1]:7480`")},
     .problem = s_address_check},
    {.d = {"http-tls-cert", ZB_CONFIG_STRING, .text = "", S_FIELD(http_tls_cert),
           S_DOC("PATH", NULL, "`/etc/zbeat/http.crt`")}},
    {.d = {"http-tls-key", ZB_CONFIG_STRING, .text = "", S_FIELD(http_tls_key),
           S_DOC("PATH", NULL, "`/etc/zbeat/http.key`")}},
    {.d = {"http-users", ZB_CONFIG_STRING, .text = "", S_FIELD(http_users),
           S_DOC("PATH", "none (no auth)", "`/etc/zbeat/http-users`")},
     .then = s_http_tls_pair},
    {.d = {"http-metrics-auth", ZB_CONFIG_BOOL, .dflt = false, S_FIELD(http_metrics_auth)},
     .then = s_http_users_load},
    {.d = {"metrics-detail", ZB_CONFIG_STRING, .text = "all", S_FIELD(metrics_detail),
           S_DOC("`all` / `problems` / `none`", NULL, NULL)},
     .flags = S_EMPTY_GIVEN | S_QUOTE,
     .problem = s_metrics_detail_check},
    {.d = {"cert", ZB_CONFIG_CODE, S_FIELD(cert),
           S_DOC("path", "none (plaintext)", "a secret certificate (`zbeat keygen --monitor`)")},
     .flags = S_RESTART},
    {.d = {"agents", ZB_CONFIG_CODE, S_FIELD(agents),
           S_DOC("directory", NULL, "an existing directory")},
     .flags = S_RESTART,
     .then = s_auth_load},
};
#define S_DIRECTIVES (sizeof(s_directives) / sizeof(s_directives[0]))

void zb_monitor_config_defaults(zb_monitor_config_t *self)
{
    assert(self);
    memset(self, 0, sizeof(*self));
    for (size_t i = 0; i < S_DIRECTIVES; i++) {
        const zb_config_directive_t *d = &s_directives[i].d;
        char *field = (char *)self + d->offset;
        if (d->type == ZB_CONFIG_INT)
            *(int *)field = (int)d->dflt;
        else if (d->type == ZB_CONFIG_DURATION || d->type == ZB_CONFIG_DURATION_OFF)
            *(int64_t *)field = d->dflt;
        else if (d->type == ZB_CONFIG_BOOL)
            *(bool *)field = d->dflt != 0;
        else if (d->type == ZB_CONFIG_STRING)
            snprintf(field, d->size, "%s", d->text);
    }
}

static void s_directive_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section,
                             const s_directive_t *directive)
{
    const zb_config_directive_t *d = &directive->d;
    char *field = (char *)self + d->offset;
    assert(d->type != ZB_CONFIG_INT || d->size == sizeof(int));
    assert((d->type != ZB_CONFIG_DURATION && d->type != ZB_CONFIG_DURATION_OFF) ||
           d->size == sizeof(int64_t));
    zconfig_t *node = section ? zconfig_locate(section, d->key) : NULL;
    const char *text = zb_config_string(config, section, d->key, NULL);
    if (d->type == ZB_CONFIG_INT)
        zb_config_read_number(config, section, d, *(int *)field, self);
    else if (d->type == ZB_CONFIG_DURATION || d->type == ZB_CONFIG_DURATION_OFF) {
        int64_t dflt = (directive->flags & S_FOLLOWS)
                           ? *(int64_t *)((char *)self + directive[-1].d.offset)
                           : *(int64_t *)field;
        zb_config_read_number(config, section, d, dflt, self);
    } else if (d->type == ZB_CONFIG_BOOL) {
        if (text && (strcmp(text, "yes") == 0 || strcmp(text, "true") == 0))
            *(bool *)field = true;
        else if (text && strcmp(text, "no") != 0 && strcmp(text, "false") != 0)
            zb_config_fail(config, node, "\"%.40s\" is not yes or no", text);
    } else if (d->type == ZB_CONFIG_STRING) {
        //  zb_config_string takes "" for "not given": given empty, bind and
        //  db would silently become their defaults (./zbeat.db).
        if ((directive->flags & S_EMPTY_GIVEN) && node && !zconfig_child(node) && !text)
            text = "";
        char why[512];
        const char *problem =
            text && directive->problem ? directive->problem(text, why, sizeof(why)) : NULL;
        if (problem && (directive->flags & S_QUOTE))
            zb_config_fail(config, node, "\"%.200s\" %s", text, problem);
        else if (problem)
            zb_config_fail(config, node, "%s", problem);
        else if (text && strlen(text) >= d->size)
            zb_config_fail(config, node, "too long");
        else if (text)
            snprintf(field, d->size, "%s", text);
    }
    if (directive->then)
        directive->then(self, config, section);
}

void zb_monitor_config_read_monitor(zb_monitor_config_t *self, zb_config_t *config,
                                    zconfig_t *section)
{
    const char *keys[S_DIRECTIVES + 1];
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        keys[i] = s_directives[i].d.key;
    keys[S_DIRECTIVES] = NULL;
    zb_config_check_known(config, section, keys);
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        s_directive_load(self, config, section, &s_directives[i]);
}

//  What a reload cannot change in a running monitor: the directives marked
//  S_RESTART (the store is open; sockets, zb_auth and subscriptions are wired).
int zb_monitor_config_reloadable(const zb_monitor_config_t *old, const zb_monitor_config_t *fresh,
                                 char *err, size_t errsize)
{
    for (size_t i = 0; i < S_DIRECTIVES; i++) {
        const zb_config_directive_t *d = &s_directives[i].d;
        if (!(s_directives[i].flags & S_RESTART))
            continue;
        const char *a = (const char *)old + d->offset;
        const char *b = (const char *)fresh + d->offset;
        bool same =
            d->type == ZB_CONFIG_INT ? *(const int *)a == *(const int *)b : strcmp(a, b) == 0;
        if (!same) {
            snprintf(err, errsize, "monitor/%s: cannot change on reload; restart", d->key);
            return -1;
        }
    }
    return 0;
}

void zb_monitor_config_print_table(FILE *out)
{
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        zb_config_directive_print(out, "monitor", &s_directives[i].d);
    zb_monitor_config_print_alert(out);
}
