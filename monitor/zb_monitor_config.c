/*  zb_monitor_config: the monitor's settings. See zb_monitor_config.h. */
#include "zb_monitor_config.h"
#include "zb_address.h"
#include "zb_auth.h"
#include "zb_config.h"
#include "zb_hostset.h"
#include "zb_http_users.h"
#include "zb_intake.h"
#include "zb_log.h"
#include "zb_proto.h"
#include "zb_time.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  A tcp address ends in ":PORT", 1 to 65535 in plain digits. ZeroMQ would
//  take "7400x" as 7400 and 99999 as some other port, and 0 or * as a port
//  the kernel picks, which no agent could be told: all refused.
static bool s_tcp_port_valid(const char *address, size_t len)
{
    const char *colon = NULL;
    for (const char *p = address; p < address + len; p++)
        if (*p == ':')
            colon = p;
    if (!colon || colon == address)
        return false;
    const char *digits = colon + 1;
    size_t count = (size_t)(address + len - digits);
    if (count == 0 || count > 5)
        return false;
    long port = 0;
    for (size_t i = 0; i < count; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return false;
        port = port * 10 + (digits[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

//  An endpoint list is one or more "transport://address", comma-separated.
//  Only the shape (and a tcp port) is checked here; binding finds the rest
//  (a busy port, an address not on this host).
static const char *s_bind_problem(const char *value)
{
    if (!*value)
        return "is empty";
    const char *start = value;
    while (true) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        const char *sep = memmem(start, len, "://", 3);
        if (!sep || sep == start || sep + 3 == start + len)
            return "is not an endpoint like tcp://*:7400";
        size_t tlen = (size_t)(sep - start);
        if (!(tlen == 3 && memcmp(start, "tcp", 3) == 0) &&
            !(tlen == 3 && memcmp(start, "ipc", 3) == 0) &&
            !(tlen == 6 && memcmp(start, "inproc", 6) == 0))
            return "has an unknown transport (tcp, ipc or inproc)";
        if (tlen == 3 && memcmp(start, "tcp", 3) == 0 &&
            !s_tcp_port_valid(sep + 3, (size_t)(start + len - (sep + 3))))
            return "needs a port from 1 to 65535 (e.g. tcp://*:7400)";
        if (!end)
            return NULL;
        start = end + 1;
    }
}

const char *zb_monitor_config_endpoints_problem(const char *value)
{
    assert(value);
    return s_bind_problem(value);
}

static int s_set_text(char *buf, size_t size, const char *value, const char *what, char *err,
                      size_t errsize)
{
    if (strlen(value) >= size) {
        snprintf(err, errsize, "%s: too long", what);
        return -1;
    }
    snprintf(buf, size, "%s", value);
    return 0;
}

int zb_monitor_config_set_bind(zb_monitor_config_t *self, const char *value, const char *what,
                               char *err, size_t errsize)
{
    assert(self && value && what);
    const char *problem = s_bind_problem(value);
    if (problem) {
        snprintf(err, errsize, "%s: \"%.200s\" %s", what, value, problem);
        return -1;
    }
    return s_set_text(self->bind, sizeof(self->bind), value, what, err, errsize);
}

int zb_monitor_config_set_db(zb_monitor_config_t *self, const char *value, const char *what,
                             char *err, size_t errsize)
{
    assert(self && value && what);
    if (!*value) {
        snprintf(err, errsize, "%s: is empty", what);
        return -1;
    }
    return s_set_text(self->db, sizeof(self->db), value, what, err, errsize);
}

//  "" turns the HTTP server off (the default).
int zb_monitor_config_set_http(zb_monitor_config_t *self, const char *value, const char *what,
                               char *err, size_t errsize)
{
    assert(self && value && what);
    char why[300];
    if (*value && zb_address_check(value, why, sizeof(why)) != 0) {
        snprintf(err, errsize, "%s: %s", what, why);
        return -1;
    }
    return s_set_text(self->http, sizeof(self->http), value, what, err, errsize);
}

int zb_monitor_config_set_liveness(zb_monitor_config_t *self, const char *value, const char *what,
                                   char *err, size_t errsize)
{
    assert(self && value && what);
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || n < ZB_MONITOR_LIVENESS_MIN ||
        n > ZB_MONITOR_LIVENESS_MAX) {
        snprintf(err, errsize, "%s: \"%.50s\" is not a whole number from %d to %d", what, value,
                 ZB_MONITOR_LIVENESS_MIN, ZB_MONITOR_LIVENESS_MAX);
        return -1;
    }
    self->liveness = (int)n;
    return 0;
}

//  A filter: comma-separated glob patterns of name characters and * ? [ ] !
static const char *s_patterns_problem(const char *value)
{
    if (!*value)
        return "is empty";
    const char *start = value;
    while (true) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0)
            return "has an empty pattern (patterns are comma-separated)";
        if (len > 64)
            return "has a pattern longer than 64 characters";
        for (size_t i = 0; i < len; i++) {
            char c = start[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("._-*?[]!", c)))
                return "is not a list of glob patterns like web-*,db-?";
        }
        if (!end)
            return NULL;
        start = end + 1;
    }
}

//  As zb_config_check_known, but `header` may repeat (one per header).
static void s_check_channel_keys(zb_config_t *config, zconfig_t *section, const char *const *keys)
{
    for (zconfig_t *child = zconfig_child(section); child; child = zconfig_next(child)) {
        const char *name = zconfig_name(child);
        bool found = false;
        for (size_t i = 0; keys[i] && !found; i++)
            found = strcmp(name, keys[i]) == 0;
        if (!found)
            zb_config_fail(config, child, "unknown key");
        for (zconfig_t *other = zconfig_next(child); other && strcmp(name, "header") != 0;
             other = zconfig_next(other))
            if (strcmp(name, zconfig_name(other)) == 0)
                zb_config_fail(config, other, "given twice");
    }
}

//  Appends text[0..len) to buf (size bytes, NUL-terminated); -1 when full.
static int s_append(char *buf, size_t size, const char *text, size_t len)
{
    size_t used = strlen(buf);
    if (used + len + 1 > size)
        return -1;
    memcpy(buf + used, text, len);
    buf[used + len] = '\0';
    return 0;
}

//  text with its secrets resolved into line: ${VAR} is the environment's
//  VAR; after files_from (NULL: nowhere), a word @/path is the file's
//  content (trailing white space trimmed). So secrets stay out of the
//  configuration file; resolved when it is read (start, reload). Returns
//  0, or -1 after zb_config_fail.
static int s_expand(zb_config_t *config, zconfig_t *node, const char *text, const char *files_from,
                    char *line, size_t size)
{
    line[0] = '\0';
    const char *colon = files_from;
    for (const char *p = text; *p;) {
        const char *end = NULL;
        char piece[1024];
        size_t len = 0;
        const char *value = p;
        if (strncmp(p, "${", 2) == 0 && (end = strchr(p, '}'))) {
            snprintf(piece, sizeof(piece), "%.*s", (int)(end - p - 2), p + 2);
            value = getenv(piece);
            if (!value)
                return zb_config_fail(config, node, "${%s} is not set", piece);
            len = strlen(value);
            p = end + 1;
        } else if (colon && p > colon && strncmp(p, "@/", 2) == 0 &&
                   (p[-1] == ' ' || p[-1] == ':')) {
            char path[1024];
            len = strcspn(p, " \t");
            snprintf(path, sizeof(path), "%.*s", (int)len - 1, p + 1);
            p += len;
            FILE *file = fopen(path, "r");
            size_t got = file ? fread(piece, 1, sizeof(piece) - 1, file) : 0;
            if (!file || ferror(file)) {
                int rc =
                    zb_config_fail(config, node, "@%s: cannot read it (%s)", path, strerror(errno));
                if (file)
                    fclose(file);
                return rc;
            }
            fclose(file);
            while (got > 0 && isspace((unsigned char)piece[got - 1]))
                got--;
            piece[got] = '\0';
            value = piece;
            len = got;
        } else {
            len = 1;
            p++;
        }
        if (s_append(line, size, value, len) != 0)
            return zb_config_fail(config, node, "is too long");
    }
    if (strpbrk(line, "\r\n"))
        return zb_config_fail(config, node, "has a line break (from a variable or file)");
    return 0;
}

//  A header line ("Name: value") with its secrets resolved (s_expand),
//  appended to headers.
static void s_header_add(zb_config_t *config, zconfig_t *node, char *headers, size_t size)
{
    const char *text = zconfig_value(node) ? zconfig_value(node) : "";
    const char *colon = strchr(text, ':');
    size_t name_len = colon ? (size_t)(colon - text) : 0;
    if (!colon || name_len == 0 || strcspn(text, " \t") < name_len) {
        zb_config_fail(config, node, "\"%.100s\" is not \"Name: value\"", text);
        return;
    }
    char line[2048];
    if (s_expand(config, node, text, colon, line, sizeof(line) - 1) != 0)
        return;
    if (s_append(line, sizeof(line), "\n", 1) != 0 ||
        s_append(headers, size, line, strlen(line)) != 0)
        zb_config_fail(config, node, "too many headers");
}

//  Why a comma-separated list of http(s) base URLs is not one, or NULL.
static const char *s_urls_problem(const char *urls)
{
    const char *start = urls;
    for (;;) {
        size_t len = strcspn(start, ",");
        if (len == 0)
            return "has an empty URL";
        if (strncmp(start, "http://", 7) != 0 && strncmp(start, "https://", 8) != 0)
            return "is not a list of http:// or https:// URLs";
        if (strcspn(start, " \t") < len)
            return "has a space in a URL";
        if (!start[len])
            return NULL;
        start += len + 1;
    }
}

//  email = a@x,b@y with smtp = smtp://host:25 (${VAR} expanded, for a
//  password) and from (default zbeat@this-host).
static void s_email_load(zb_config_t *config, zconfig_t *section, const char *email,
                         zb_channel_config_t *channel)
{
    const char *smtp = zb_config_string(config, section, "smtp", NULL);
    const char *from = zb_config_string(config, section, "from", NULL);
    zconfig_t *smtp_node = zconfig_locate(section, "smtp");
    if (!email) {
        if (smtp || from)
            zb_config_fail(config, zconfig_locate(section, smtp ? "smtp" : "from"),
                           "is for email channels only");
        return;
    }
    for (const char *start = email;; start += strcspn(start, ",") + 1) {
        size_t len = strcspn(start, ",");
        const char *at = memchr(start, '@', len);
        if (len == 0 || !at || at == start || at == start + len - 1 ||
            strcspn(start, " \t<>\"") < len) {
            zb_config_fail(config, zconfig_locate(section, "email"),
                           "\"%.200s\" is not a list of addresses (user@host, comma-separated)",
                           email);
            return;
        }
        if (!start[len])
            break;
    }
    snprintf(channel->email, sizeof(channel->email), "%s", email);
    if (!smtp)
        zb_config_fail(config, section, "email needs smtp (smtp://host:25 or smtps://host:465)");
    else if (strncmp(smtp, "smtp://", 7) != 0 && strncmp(smtp, "smtps://", 8) != 0)
        zb_config_fail(config, smtp_node, "\"%.200s\" is not an smtp:// or smtps:// URL", smtp);
    else
        s_expand(config, smtp_node, smtp, NULL, channel->smtp, sizeof(channel->smtp));
    if (from && (!strchr(from, '@') || strcspn(from, " \t<>\",") < strlen(from)))
        zb_config_fail(config, zconfig_locate(section, "from"), "\"%.200s\" is not an address",
                       from);
    else if (from)
        snprintf(channel->from, sizeof(channel->from), "%s", from);
    else {
        char host[200];
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(channel->from, sizeof(channel->from), "zbeat@%s", host);
    }
}

static void s_channel_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    static const char *const keys[] = {
        "exec",      "webhook",     "template", "timeout",      "hosts",  "services",
        "retry-for", "backoff-max", "after",    "alertmanager", "resend", "monitor-name",
        "header",    "email",       "smtp",     "from",         NULL};
    const char *name = zconfig_name(section);
    if (!zconfig_child(section)) {
        zb_config_fail(config, section,
                       "is not a channel: give it exec, webhook, alertmanager or email");
        return;
    }
    if (zconfig_value(section) && *zconfig_value(section)) {
        zb_config_fail(config, section, "is a section: it takes no value");
        return;
    }
    if (!zb_name_valid(name)) {
        zb_config_fail(config, section, "is not a valid channel name (letters, digits, . _ -)");
        return;
    }
    if (self->channel_count == ZB_MONITOR_CHANNELS_MAX) {
        zb_config_fail(config, section, "more than %d channels", ZB_MONITOR_CHANNELS_MAX);
        return;
    }
    s_check_channel_keys(config, section, keys);
    zb_channel_config_t *channel = &self->channels[self->channel_count];
    memset(channel, 0, sizeof(*channel));
    snprintf(channel->name, sizeof(channel->name), "%s", name);
    const char *exec = zb_config_string(config, section, "exec", NULL);
    const char *webhook = zb_config_string(config, section, "webhook", NULL);
    const char *template = zb_config_string(config, section, "template", NULL);
    const char *alertmanager = zb_config_string(config, section, "alertmanager", NULL);
    const char *email = zb_config_string(config, section, "email", NULL);
    if ((exec != NULL) + (webhook != NULL) + (alertmanager != NULL) + (email != NULL) != 1)
        zb_config_fail(config, section,
                       "needs exactly one of exec, webhook, alertmanager and email");
    s_email_load(config, section, email, channel);
    const char *bad_urls = alertmanager ? s_urls_problem(alertmanager) : NULL;
    if (bad_urls)
        zb_config_fail(config, zconfig_locate(section, "alertmanager"), "\"%.200s\" %s",
                       alertmanager, bad_urls);
    else if (alertmanager && strlen(alertmanager) >= sizeof(channel->alertmanager))
        zb_config_fail(config, zconfig_locate(section, "alertmanager"), "is too long");
    else if (alertmanager)
        snprintf(channel->alertmanager, sizeof(channel->alertmanager), "%s", alertmanager);
    for (zconfig_t *node = zconfig_locate(section, "header"); node; node = zconfig_next(node))
        if (strcmp(zconfig_name(node), "header") == 0 && !webhook && !alertmanager)
            zb_config_fail(config, node, "is for webhook and alertmanager channels only");
        else if (strcmp(zconfig_name(node), "header") == 0)
            s_header_add(config, node, channel->headers, sizeof(channel->headers));
    const char *monitor_name = zb_config_string(config, section, "monitor-name", NULL);
    if (monitor_name && !alertmanager)
        zb_config_fail(config, zconfig_locate(section, "monitor-name"),
                       "is for alertmanager channels only");
    else if (monitor_name && !zb_name_valid(monitor_name))
        zb_config_fail(config, zconfig_locate(section, "monitor-name"),
                       "\"%.100s\" is not a valid name (letters, digits, . _ -)", monitor_name);
    snprintf(channel->monitor_name, sizeof(channel->monitor_name), "%s",
             monitor_name && zb_name_valid(monitor_name) ? monitor_name : "zbeat");
    if (exec && (!*exec || strlen(exec) >= sizeof(channel->exec)))
        zb_config_fail(config, zconfig_locate(section, "exec"), "is empty or too long");
    else if (exec)
        snprintf(channel->exec, sizeof(channel->exec), "%s", exec);
    if (webhook && strncmp(webhook, "http://", 7) != 0 && strncmp(webhook, "https://", 8) != 0)
        zb_config_fail(config, zconfig_locate(section, "webhook"),
                       "\"%.200s\" is not an http:// or https:// URL", webhook);
    else if (webhook && strlen(webhook) >= sizeof(channel->webhook))
        zb_config_fail(config, zconfig_locate(section, "webhook"), "is too long");
    else if (webhook)
        snprintf(channel->webhook, sizeof(channel->webhook), "%s", webhook);
    if (template && !webhook)
        zb_config_fail(config, zconfig_locate(section, "template"), "is for webhooks only");
    else if (template && strcmp(template, "json") == 0)
        channel->template = ZB_TEMPLATE_JSON;
    else if (template && strcmp(template, "slack") == 0)
        channel->template = ZB_TEMPLATE_SLACK;
    else if (template && strcmp(template, "mattermost") == 0)
        channel->template = ZB_TEMPLATE_MATTERMOST;
    else if (template)
        zb_config_fail(config, zconfig_locate(section, "template"),
                       "\"%.50s\" is not one of json, slack, mattermost", template);
    static const struct {
        const char *key;
        size_t offset;
    } filters[] = {{"hosts", offsetof(zb_channel_config_t, hosts)},
                   {"services", offsetof(zb_channel_config_t, services)}};
    for (size_t i = 0; i < 2; i++) {
        const char *value = zb_config_string(config, section, filters[i].key, NULL);
        if (!value)
            continue;
        const char *problem = s_patterns_problem(value);
        if (problem)
            zb_config_fail(config, zconfig_locate(section, filters[i].key), "\"%.100s\" %s", value,
                           problem);
        else
            snprintf((char *)channel + filters[i].offset, sizeof(channel->hosts), "%s", value);
    }
    zb_config_duration(config, section, "timeout", ZB_CHANNEL_TIMEOUT_DEFAULT_MS, 100, 3600 * 1000,
                       &channel->timeout_ms);
    zb_config_duration(config, section, "retry-for", ZB_CHANNEL_RETRY_FOR_DEFAULT_MS, 1000,
                       30LL * 86400 * 1000, &channel->retry_for_ms);
    zb_config_duration(config, section, "backoff-max", ZB_CHANNEL_BACKOFF_MAX_DEFAULT_MS, 100,
                       86400 * 1000, &channel->backoff_max_ms);
    zb_config_duration(config, section, "after", 0, 0, 3600 * 1000, &channel->after_ms);
    if (!alertmanager && zconfig_locate(section, "resend"))
        zb_config_fail(config, zconfig_locate(section, "resend"),
                       "is for alertmanager channels only");
    zb_config_duration(config, section, "resend", 60 * 1000, 1000, 3600 * 1000,
                       &channel->resend_ms);
    self->channel_count++;
}

static void s_alert_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    if (zconfig_value(section) && *zconfig_value(section))
        zb_config_fail(config, section, "is a section: it takes no value");
    for (zconfig_t *child = zconfig_child(section); child; child = zconfig_next(child)) {
        for (zconfig_t *other = zconfig_next(child); other; other = zconfig_next(other))
            if (strcmp(zconfig_name(child), zconfig_name(other)) == 0)
                zb_config_fail(config, other, "given twice");
        s_channel_load(self, config, child);
    }
}

//  --------------------------------------------------------------------------
//  The `monitor` section as a directive table, in the order keys are read
//  (the first error wins, so the order is part of the messages). Defaults,
//  bounds, the known keys and what a reload cannot change all come from
//  here; docs/config-monitor.md's table lists the same keys (checked by the
//  self-test).

typedef enum {
    S_INT,          // whole number in [min, max], into an int
    S_DURATION,     // duration in [min, max] ms, into an int64_t
    S_DURATION_OFF, // as S_DURATION, or "0": off
    S_STRING,       // text into a char array, checked by `problem`
    S_BOOL,         // yes/true or no/false
    S_CUSTOM,       // read by `then` alone (keys that are read together)
} s_type_t;

#define S_RESTART 1u     // a reload cannot change it (wired into sockets, the store)
#define S_EMPTY_GIVEN 2u // `key = ""` is a value (refused), not "not given"
#define S_QUOTE 4u       // problems read "\"VALUE\" problem"
#define S_FOLLOWS 8u     // the default is the previous directive's value

//  Why a value is wrong, or NULL; why is room for a message built on the fly.
typedef const char *(s_problem_fn)(const char *value, char *why, size_t size);
//  Cross-checks and loaders run after the directive is read.
typedef void(s_then_fn)(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section);

typedef struct {
    const char *key;
    s_type_t type;
    int64_t min, max; // S_INT, S_DURATION*
    int64_t dflt;     // S_INT, S_DURATION*, S_BOOL
    const char *text; // S_STRING: the default ("" = none)
    size_t offset;    // the field in zb_monitor_config_t
    size_t size;      // its size
    unsigned flags;   // S_RESTART ...
    s_problem_fn *problem;
    s_then_fn *then;
} s_directive_t;

#define S_FIELD(f)                                                                                 \
    .offset = offsetof(zb_monitor_config_t, f), .size = sizeof(((zb_monitor_config_t *)0)->f)
#define S_BOUNDS(low, high) .min = (low), .max = (high)
#define S_DAY (86400LL * 1000)

static const char *s_endpoints_check(const char *value, char *why, size_t size)
{
    (void)why, (void)size;
    return s_bind_problem(value);
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

//  cert and agents are read together: one without the other is an error.
static void s_auth_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    zb_auth_config_load(config, section, self->cert, sizeof(self->cert), self->agents,
                        sizeof(self->agents));
}

static const s_directive_t s_directives[] = {
    {"bind", S_STRING, .text = ZB_MONITOR_BIND_DEFAULT, S_FIELD(bind),
     .flags = S_RESTART | S_EMPTY_GIVEN | S_QUOTE, .problem = s_endpoints_check},
    {"db", S_STRING, .text = ZB_MONITOR_DB_DEFAULT, S_FIELD(db), .flags = S_RESTART | S_EMPTY_GIVEN,
     .problem = s_db_check},
    {"liveness", S_INT, S_BOUNDS(ZB_MONITOR_LIVENESS_MIN, ZB_MONITOR_LIVENESS_MAX),
     .dflt = ZB_MONITOR_LIVENESS_DEFAULT, S_FIELD(liveness)},
    {"liveness-min", S_DURATION, S_BOUNDS(100, 600000), .dflt = ZB_MONITOR_LIVENESS_MIN_DEFAULT_MS,
     S_FIELD(liveness_min_ms)},
    {"liveness-max", S_DURATION, S_BOUNDS(100, 3600000), .dflt = ZB_MONITOR_LIVENESS_MAX_DEFAULT_MS,
     S_FIELD(liveness_max_ms), .then = s_liveness_bounds},
    {"phi", S_INT, S_BOUNDS(1, 30), .dflt = ZB_MONITOR_PHI_DEFAULT, S_FIELD(phi)},
    {"udp", S_STRING, .text = "", S_FIELD(udp), .flags = S_RESTART, .problem = s_address_check},
    {"retention", S_DURATION, S_BOUNDS(ZB_MONITOR_RETENTION_MIN_MS, ZB_MONITOR_RETENTION_MAX_MS),
     .dflt = ZB_MONITOR_RETENTION_DEFAULT_MS, S_FIELD(retention_ms)},
    {"publish", S_STRING, .text = "", S_FIELD(publish), .flags = S_QUOTE,
     .problem = s_endpoints_check},
    {"replay", S_STRING, .text = "", S_FIELD(replay), .flags = S_RESTART | S_QUOTE,
     .problem = s_endpoints_check},
    {"flap-threshold", S_INT, S_BOUNDS(0, 1000), .dflt = ZB_MONITOR_FLAP_THRESHOLD_DEFAULT,
     S_FIELD(flap_threshold)},
    {"flap-window", S_DURATION, S_BOUNDS(1000, 7 * S_DAY),
     .dflt = ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS, S_FIELD(flap_window_ms)},
    //  The quiet period defaults to the window, whatever the window is.
    {"flap-quiet", S_DURATION, S_BOUNDS(1000, 7 * S_DAY), .dflt = ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS,
     S_FIELD(flap_quiet_ms), .flags = S_FOLLOWS},
    {"repeat", S_DURATION, S_BOUNDS(1000, 30 * S_DAY), .dflt = 0, S_FIELD(repeat_ms)},
    {"stopped-alert", S_DURATION_OFF, S_BOUNDS(1000, 365 * S_DAY), .dflt = 3600LL * 1000,
     S_FIELD(stopped_alert_ms)},
    {"tls-warn", S_DURATION_OFF, S_BOUNDS(1000, 365 * S_DAY), .dflt = 14 * S_DAY,
     S_FIELD(tls_warn_ms)},
    //  The frame limit is a socket option, set before binding.
    {"max-services", S_INT, S_BOUNDS(1, ZB_INTAKE_SERVICES_MAX), .dflt = ZB_INTAKE_SERVICES_DEFAULT,
     S_FIELD(max_services), .flags = S_RESTART},
    {"max-hosts", S_INT, S_BOUNDS(1, ZB_MONITOR_MAX_HOSTS_LIMIT), .dflt = ZB_MONITOR_MAX_HOSTS,
     S_FIELD(max_hosts)},
    //  The subscriptions are made once, before the socket binds.
    {"hosts", S_STRING, .text = "", S_FIELD(hosts), .flags = S_RESTART | S_EMPTY_GIVEN,
     .problem = s_hosts_check},
    {"http", S_STRING, .text = "", S_FIELD(http), .problem = s_address_check},
    {"http-tls-cert", S_STRING, .text = "", S_FIELD(http_tls_cert)},
    {"http-tls-key", S_STRING, .text = "", S_FIELD(http_tls_key)},
    {"http-users", S_STRING, .text = "", S_FIELD(http_users), .then = s_http_tls_pair},
    {"http-metrics-auth", S_BOOL, .dflt = false, S_FIELD(http_metrics_auth),
     .then = s_http_users_load},
    {"cert", S_CUSTOM, S_FIELD(cert), .flags = S_RESTART},
    {"agents", S_CUSTOM, S_FIELD(agents), .flags = S_RESTART, .then = s_auth_load},
};
#define S_DIRECTIVES (sizeof(s_directives) / sizeof(s_directives[0]))

void zb_monitor_config_defaults(zb_monitor_config_t *self)
{
    assert(self);
    memset(self, 0, sizeof(*self));
    for (size_t i = 0; i < S_DIRECTIVES; i++) {
        const s_directive_t *d = &s_directives[i];
        char *field = (char *)self + d->offset;
        if (d->type == S_INT)
            *(int *)field = (int)d->dflt;
        else if (d->type == S_DURATION || d->type == S_DURATION_OFF)
            *(int64_t *)field = d->dflt;
        else if (d->type == S_BOOL)
            *(bool *)field = d->dflt != 0;
        else if (d->type == S_STRING)
            snprintf(field, d->size, "%s", d->text);
    }
}

static void s_directive_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section,
                             const s_directive_t *d)
{
    char *field = (char *)self + d->offset;
    assert(d->type != S_INT || d->size == sizeof(int));
    assert((d->type != S_DURATION && d->type != S_DURATION_OFF) || d->size == sizeof(int64_t));
    zconfig_t *node = section ? zconfig_locate(section, d->key) : NULL;
    const char *text = zb_config_string(config, section, d->key, NULL);
    int64_t value = 0;
    if (d->type == S_INT) {
        if (zb_config_int(config, section, d->key, *(int *)field, d->min, d->max, &value) == 0)
            *(int *)field = (int)value;
    } else if (d->type == S_DURATION_OFF && text && strcmp(text, "0") == 0)
        *(int64_t *)field = 0;
    else if (d->type == S_DURATION || d->type == S_DURATION_OFF) {
        int64_t dflt =
            (d->flags & S_FOLLOWS) ? *(int64_t *)((char *)self + d[-1].offset) : *(int64_t *)field;
        zb_config_duration(config, section, d->key, dflt, d->min, d->max, (int64_t *)field);
    } else if (d->type == S_BOOL) {
        if (text && (strcmp(text, "yes") == 0 || strcmp(text, "true") == 0))
            *(bool *)field = true;
        else if (text && strcmp(text, "no") != 0 && strcmp(text, "false") != 0)
            zb_config_fail(config, node, "\"%.40s\" is not yes or no", text);
    } else if (d->type == S_STRING) {
        //  zb_config_string takes "" for "not given": given empty, bind and
        //  db would silently become their defaults (./zbeat.db).
        if ((d->flags & S_EMPTY_GIVEN) && node && !zconfig_child(node) && !text)
            text = "";
        char why[512];
        const char *problem = text && d->problem ? d->problem(text, why, sizeof(why)) : NULL;
        if (problem && (d->flags & S_QUOTE))
            zb_config_fail(config, node, "\"%.200s\" %s", text, problem);
        else if (problem)
            zb_config_fail(config, node, "%s", problem);
        else if (text && strlen(text) >= d->size)
            zb_config_fail(config, node, "too long");
        else if (text)
            snprintf(field, d->size, "%s", text);
    }
    if (d->then)
        d->then(self, config, section);
}

int zb_monitor_config_load(zb_monitor_config_t *self, const char *path, char *err, size_t errsize)
{
    assert(self && path && err);
    static const char *const sections[] = {"monitor", "alert", NULL};
    const char *keys[S_DIRECTIVES + 1];
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        keys[i] = s_directives[i].key;
    keys[S_DIRECTIVES] = NULL;

    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        return -1;
    zconfig_t *root = zb_config_root(config);
    zb_config_check_known(config, root, sections);
    zconfig_t *section = zconfig_locate(root, "monitor");
    if (section && zconfig_value(section) && *zconfig_value(section))
        zb_config_fail(config, section, "is a section: it takes no value");
    zb_config_check_known(config, section, keys);
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        s_directive_load(self, config, section, &s_directives[i]);
    zconfig_t *alert = zconfig_locate(root, "alert");
    if (alert)
        s_alert_load(self, config, alert);

    int rc = 0;
    if (zb_config_error(config)) {
        snprintf(err, errsize, "%s", zb_config_error(config));
        rc = -1;
    }
    zb_config_destroy(&config);
    return rc;
}

//  What a reload cannot change in a running monitor: the directives marked
//  S_RESTART (the store is open; sockets, zb_auth and subscriptions are wired).
int zb_monitor_config_reloadable(const zb_monitor_config_t *old, const zb_monitor_config_t *fresh,
                                 char *err, size_t errsize)
{
    for (size_t i = 0; i < S_DIRECTIVES; i++) {
        const s_directive_t *d = &s_directives[i];
        if (!(d->flags & S_RESTART))
            continue;
        const char *a = (const char *)old + d->offset;
        const char *b = (const char *)fresh + d->offset;
        bool same = d->type == S_INT ? *(const int *)a == *(const int *)b : strcmp(a, b) == 0;
        if (!same) {
            snprintf(err, errsize, "monitor/%s: cannot change on reload; restart", d->key);
            return -1;
        }
    }
    return 0;
}

//  What a reload changes that only shows in the monitor's behaviour.
void zb_monitor_config_log_changes(const zb_monitor_config_t *old, const zb_monitor_config_t *fresh)
{
    assert(old && fresh);
    if (old->liveness != fresh->liveness)
        zb_log_info("reload: liveness %d -> %d", old->liveness, fresh->liveness);
    if (old->retention_ms != fresh->retention_ms) {
        char was[32], now[32];
        zb_time_format_duration(old->retention_ms, was, sizeof(was));
        zb_time_format_duration(fresh->retention_ms, now, sizeof(now));
        zb_log_info("reload: retention %s -> %s", was, now);
    }
    if (old->liveness_min_ms != fresh->liveness_min_ms ||
        old->liveness_max_ms != fresh->liveness_max_ms || old->phi != fresh->phi)
        zb_log_info("reload: detector liveness-min %" PRId64 "ms, liveness-max %" PRId64
                    "ms, phi %d",
                    fresh->liveness_min_ms, fresh->liveness_max_ms, fresh->phi);
}

//  Calls fn with every key of the monitor section, for the self-test's
//  check of docs/config-monitor.md.
void zb_monitor_config_keys(void (*fn)(const char *key, void *arg), void *arg)
{
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        fn(s_directives[i].key, arg);
}
