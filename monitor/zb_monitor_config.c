/*  zb_monitor_config: the monitor's settings. See zb_monitor_config.h. */
#include "zb_monitor_config.h"
#include "zb_address.h"
#include "zb_auth.h"
#include "zb_config.h"
#include "zb_hostset.h"
#include "zb_http_users.h"
#include "zb_intake.h"
#include "zb_proto.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void zb_monitor_config_defaults(zb_monitor_config_t *self)
{
    assert(self);
    memset(self, 0, sizeof(*self));
    snprintf(self->bind, sizeof(self->bind), "%s", ZB_MONITOR_BIND_DEFAULT);
    snprintf(self->db, sizeof(self->db), "%s", ZB_MONITOR_DB_DEFAULT);
    self->liveness = ZB_MONITOR_LIVENESS_DEFAULT;
    self->liveness_min_ms = ZB_MONITOR_LIVENESS_MIN_DEFAULT_MS;
    self->liveness_max_ms = ZB_MONITOR_LIVENESS_MAX_DEFAULT_MS;
    self->phi = ZB_MONITOR_PHI_DEFAULT;
    self->retention_ms = ZB_MONITOR_RETENTION_DEFAULT_MS;
    self->flap_threshold = ZB_MONITOR_FLAP_THRESHOLD_DEFAULT;
    self->flap_window_ms = ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS;
    self->flap_quiet_ms = ZB_MONITOR_FLAP_WINDOW_DEFAULT_MS;
    self->max_services = ZB_INTAKE_SERVICES_DEFAULT;
    self->max_hosts = ZB_MONITOR_MAX_HOSTS;
    self->stopped_alert_ms = 3600LL * 1000;
    self->tls_warn_ms = 14LL * 86400 * 1000;
}

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

//  A path key: kept as given, "" when absent.
static void s_path_load(zb_config_t *config, zconfig_t *section, const char *key, char *buf,
                        size_t size)
{
    const char *value = zb_config_string(config, section, key, NULL);
    if (value && strlen(value) >= size)
        zb_config_fail(config, zconfig_locate(section, key), "too long");
    else if (value)
        snprintf(buf, size, "%s", value);
}

//  TLS and users of the HTTP server (docs/http.md): checked here so that a
//  bad users file stops the start (exit 2), naming the file and key.
static void s_http_security_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
    s_path_load(config, section, "http-tls-cert", self->http_tls_cert, sizeof(self->http_tls_cert));
    s_path_load(config, section, "http-tls-key", self->http_tls_key, sizeof(self->http_tls_key));
    s_path_load(config, section, "http-users", self->http_users, sizeof(self->http_users));
    if (!*self->http_tls_cert != !*self->http_tls_key)
        zb_config_fail(
            config,
            zconfig_locate(section, *self->http_tls_cert ? "http-tls-cert" : "http-tls-key"),
            "http-tls-cert and http-tls-key go together");
    const char *auth = zb_config_string(config, section, "http-metrics-auth", NULL);
    if (auth && (strcmp(auth, "yes") == 0 || strcmp(auth, "true") == 0))
        self->http_metrics_auth = true;
    else if (auth && strcmp(auth, "no") != 0 && strcmp(auth, "false") != 0)
        zb_config_fail(config, zconfig_locate(section, "http-metrics-auth"),
                       "\"%.40s\" is not yes or no", auth);
    if (*self->http_users && !zb_config_error(config)) {
        char why[600];
        zb_http_users_t *users = zb_http_users_load(self->http_users, why, sizeof(why));
        if (!users)
            zb_config_fail(config, zconfig_locate(section, "http-users"), "%s", why);
        zb_http_users_destroy(&users);
    }
}

int zb_monitor_config_load(zb_monitor_config_t *self, const char *path, char *err, size_t errsize)
{
    assert(self && path && err);
    static const char *const sections[] = {"monitor", "alert", NULL};
    static const char *const keys[] = {"bind",
                                       "db",
                                       "liveness",
                                       "liveness-min",
                                       "liveness-max",
                                       "phi",
                                       "udp",
                                       "retention",
                                       "publish",
                                       "flap-threshold",
                                       "flap-window",
                                       "flap-quiet",
                                       "repeat",
                                       "http",
                                       "cert",
                                       "agents",
                                       "replay",
                                       "max-services",
                                       "max-hosts",
                                       "hosts",
                                       "stopped-alert",
                                       "tls-warn",
                                       "http-tls-cert",
                                       "http-tls-key",
                                       "http-users",
                                       "http-metrics-auth",
                                       NULL};

    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        return -1;
    zconfig_t *root = zb_config_root(config);
    zb_config_check_known(config, root, sections);
    zconfig_t *section = zconfig_locate(root, "monitor");
    if (section && zconfig_value(section) && *zconfig_value(section))
        zb_config_fail(config, section, "is a section: it takes no value");
    zb_config_check_known(config, section, keys);

    char why[512];
    zconfig_t *node = section ? zconfig_locate(section, "bind") : NULL;
    //  zb_config_string takes "" for "not given": given empty, bind and db
    //  would silently become their defaults (./zbeat.db), so they go to
    //  the setters as they are, which refuse "".
    const char *bind = zb_config_string(config, section, "bind", NULL);
    if (node && !zconfig_child(node) && !bind)
        bind = "";
    if (bind && zb_monitor_config_set_bind(self, bind, "bind", why, sizeof(why)) != 0)
        zb_config_fail(config, node, "%s", why + strlen("bind: "));
    node = section ? zconfig_locate(section, "db") : NULL;
    const char *db = zb_config_string(config, section, "db", NULL);
    if (node && !zconfig_child(node) && !db)
        db = "";
    if (db && zb_monitor_config_set_db(self, db, "db", why, sizeof(why)) != 0)
        zb_config_fail(config, node, "%s", why + strlen("db: "));
    int64_t value = 0;
    if (zb_config_int(config, section, "liveness", self->liveness, ZB_MONITOR_LIVENESS_MIN,
                      ZB_MONITOR_LIVENESS_MAX, &value) == 0)
        self->liveness = (int)value;
    zb_config_duration(config, section, "liveness-min", self->liveness_min_ms, 100, 600000,
                       &self->liveness_min_ms);
    zb_config_duration(config, section, "liveness-max", self->liveness_max_ms, 100, 3600000,
                       &self->liveness_max_ms);
    if (self->liveness_max_ms < self->liveness_min_ms) {
        zconfig_t *max = zconfig_locate(section, "liveness-max");
        zb_config_fail(config, max ? max : zconfig_locate(section, "liveness-min"),
                       max ? "is below liveness-min" : "is above liveness-max (10s unless set)");
    }
    if (zb_config_int(config, section, "phi", self->phi, 1, 30, &value) == 0)
        self->phi = (int)value;
    node = section ? zconfig_locate(section, "udp") : NULL;
    const char *udp = zb_config_string(config, section, "udp", NULL);
    if (udp && zb_address_check(udp, why, sizeof(why)) != 0)
        zb_config_fail(config, node, "%s", why);
    else if (udp && strlen(udp) >= sizeof(self->udp))
        zb_config_fail(config, node, "too long");
    else if (udp)
        snprintf(self->udp, sizeof(self->udp), "%s", udp);
    if (zb_config_duration(config, section, "retention", self->retention_ms,
                           ZB_MONITOR_RETENTION_MIN_MS, ZB_MONITOR_RETENTION_MAX_MS, &value) == 0)
        self->retention_ms = value;
    node = section ? zconfig_locate(section, "publish") : NULL;
    const char *publish = zb_config_string(config, section, "publish", NULL);
    const char *problem = publish ? s_bind_problem(publish) : NULL;
    if (problem)
        zb_config_fail(config, node, "\"%.200s\" %s", publish, problem);
    else if (publish && strlen(publish) >= sizeof(self->publish))
        zb_config_fail(config, node, "too long");
    else if (publish)
        snprintf(self->publish, sizeof(self->publish), "%s", publish);
    node = section ? zconfig_locate(section, "replay") : NULL;
    const char *replay = zb_config_string(config, section, "replay", NULL);
    problem = replay ? s_bind_problem(replay) : NULL;
    if (problem)
        zb_config_fail(config, node, "\"%.200s\" %s", replay, problem);
    else if (replay && strlen(replay) >= sizeof(self->replay))
        zb_config_fail(config, node, "too long");
    else if (replay)
        snprintf(self->replay, sizeof(self->replay), "%s", replay);
    if (zb_config_int(config, section, "flap-threshold", self->flap_threshold, 0, 1000, &value) ==
        0)
        self->flap_threshold = (int)value;
    zb_config_duration(config, section, "flap-window", self->flap_window_ms, 1000,
                       7LL * 86400 * 1000, &self->flap_window_ms);
    //  The quiet period defaults to the window, whatever the window is.
    zb_config_duration(config, section, "flap-quiet", self->flap_window_ms, 1000,
                       7LL * 86400 * 1000, &self->flap_quiet_ms);
    zb_config_duration(config, section, "repeat", 0, 1000, 30LL * 86400 * 1000, &self->repeat_ms);
    //  "0" turns it off (a duration is never 0).
    const char *stopped = zb_config_string(config, section, "stopped-alert", NULL);
    if (stopped && strcmp(stopped, "0") == 0)
        self->stopped_alert_ms = 0;
    else
        zb_config_duration(config, section, "stopped-alert", self->stopped_alert_ms, 1000,
                           365LL * 86400 * 1000, &self->stopped_alert_ms);
    const char *tls_warn = zb_config_string(config, section, "tls-warn", NULL);
    if (tls_warn && strcmp(tls_warn, "0") == 0)
        self->tls_warn_ms = 0;
    else
        zb_config_duration(config, section, "tls-warn", self->tls_warn_ms, 1000,
                           365LL * 86400 * 1000, &self->tls_warn_ms);
    if (zb_config_int(config, section, "max-services", self->max_services, 1,
                      ZB_INTAKE_SERVICES_MAX, &value) == 0)
        self->max_services = (int)value;
    if (zb_config_int(config, section, "max-hosts", self->max_hosts, 1, ZB_MONITOR_MAX_HOSTS_LIMIT,
                      &value) == 0)
        self->max_hosts = (int)value;
    //  A shard: the hosts it owns become its subscriptions (zb_hostset).
    node = section ? zconfig_locate(section, "hosts") : NULL;
    const char *hosts = zb_config_string(config, section, "hosts", NULL);
    if (node && !zconfig_child(node) && !hosts)
        hosts = "";
    if (hosts && zb_hostset_check(hosts, why, sizeof(why)) != 0)
        zb_config_fail(config, node, "%s", why);
    else if (hosts && !*hosts)
        zb_config_fail(config, node, "is empty (leave it out for every host, or give web-*,db-*)");
    else if (hosts && strlen(hosts) >= sizeof(self->hosts))
        zb_config_fail(config, node, "too long");
    else if (hosts)
        snprintf(self->hosts, sizeof(self->hosts), "%s", hosts);
    node = section ? zconfig_locate(section, "http") : NULL;
    const char *http = zb_config_string(config, section, "http", NULL);
    if (http && zb_monitor_config_set_http(self, http, "http", why, sizeof(why)) != 0)
        zb_config_fail(config, node, "%s", why + strlen("http: "));
    s_http_security_load(self, config, section);
    zb_auth_config_load(config, section, self->cert, sizeof(self->cert), self->agents,
                        sizeof(self->agents));
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

//  What a reload cannot change in a running monitor: the store is open,
//  and bind/cert/agents/replay/max-services/hosts are wired into sockets and zb_auth.
int zb_monitor_config_reloadable(const zb_monitor_config_t *old, const zb_monitor_config_t *fresh,
                                 char *err, size_t errsize)
{
    static const struct {
        const char *key;
        size_t offset;
    } fixed[] = {
        {"db", offsetof(zb_monitor_config_t, db)},
        {"bind", offsetof(zb_monitor_config_t, bind)},
        {"cert", offsetof(zb_monitor_config_t, cert)},
        {"agents", offsetof(zb_monitor_config_t, agents)},
        {"replay", offsetof(zb_monitor_config_t, replay)},
        //  The subscriptions are made once, before the socket binds.
        {"hosts", offsetof(zb_monitor_config_t, hosts)},
        {"udp", offsetof(zb_monitor_config_t, udp)},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp((const char *)old + fixed[i].offset, (const char *)fresh + fixed[i].offset)) {
            snprintf(err, errsize, "monitor/%s: cannot change on reload; restart", fixed[i].key);
            return -1;
        }
    //  The frame limit is a socket option, set before binding.
    if (old->max_services != fresh->max_services) {
        snprintf(err, errsize, "monitor/max-services: cannot change on reload; restart");
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Self-test

static int s_load_text(zb_monitor_config_t *config, const char *text, char *err, size_t errsize)
{
    char path[] = "/tmp/zb_monitor_config_test.XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    zb_monitor_config_defaults(config);
    int rc = zb_monitor_config_load(config, path, err, errsize);
    //  Messages name the file; make them comparable.
    if (rc != 0 && strncmp(err, path, strlen(path)) == 0)
        memmove(err, err + strlen(path), strlen(err + strlen(path)) + 1);
    unlink(path);
    return rc;
}

void zb_monitor_config_test(bool verbose)
{
    zb_monitor_config_t config;
    char err[512];

    assert(s_load_text(&config,
                       "monitor\n    bind = tcp://127.0.0.1:7411\n    db = /tmp/x.db\n"
                       "    liveness = 5\n    retention = 30d\n",
                       err, sizeof(err)) == 0);
    assert(strcmp(config.bind, "tcp://127.0.0.1:7411") == 0);
    assert(strcmp(config.db, "/tmp/x.db") == 0);
    assert(config.liveness == 5);
    assert(config.retention_ms == 30LL * 86400 * 1000);
    assert(s_load_text(&config, "monitor\n    stopped-alert = 0\n", err, sizeof(err)) == 0);
    assert(config.stopped_alert_ms == 0);
    assert(s_load_text(&config, "monitor\n    stopped-alert = 2s\n", err, sizeof(err)) == 0);
    assert(config.stopped_alert_ms == 2000);
    assert(config.tls_warn_ms == 14LL * 86400 * 1000); // the default
    assert(s_load_text(&config, "monitor\n    tls-warn = 30d\n", err, sizeof(err)) == 0);
    assert(config.tls_warn_ms == 30LL * 86400 * 1000);
    assert(s_load_text(&config, "monitor\n    tls-warn = 0\n", err, sizeof(err)) == 0);
    assert(config.tls_warn_ms == 0);
    //  Shards: prefixes with a trailing * only.
    assert(s_load_text(&config, "monitor\n    hosts = \"web-*, db-*\"\n", err, sizeof(err)) == 0);
    assert(strcmp(config.hosts, "web-*, db-*") == 0);
    assert(s_load_text(&config, "monitor\n    hosts = web-*-eu\n", err, sizeof(err)) == -1);
    assert(strstr(err, "monitor/hosts") && strstr(err, "only a trailing *"));
    assert(s_load_text(&config, "monitor\n    hosts = \"\"\n", err, sizeof(err)) == -1);
    assert(strstr(err, "monitor/hosts"));

    //  Alerting: publish, flapping, reminders, channels.
    assert(s_load_text(&config,
                       "monitor\n    publish = tcp://*:7402\n    flap-threshold = 4\n"
                       "    flap-window = 2m\n    repeat = 1h\n"
                       "alert\n    oncall\n        exec = /usr/local/bin/page --now\n"
                       "        timeout = 5s\n"
                       "    chat\n        webhook = https://hooks.example.com/T0/B0\n"
                       "        template = slack\n        hosts = web-*\n"
                       "        services = redis,db-*\n        retry-for = 1h\n"
                       "        backoff-max = 30s\n        after = 5s\n",
                       err, sizeof(err)) == 0);
    assert(strcmp(config.publish, "tcp://*:7402") == 0);
    assert(config.flap_threshold == 4 && config.flap_window_ms == 120000);
    assert(config.flap_quiet_ms == 120000); // the window, unless given
    assert(config.repeat_ms == 3600000);
    assert(config.stopped_alert_ms == 3600000); // the default
    assert(config.channel_count == 2);
    assert(strcmp(config.channels[0].name, "oncall") == 0);
    assert(strcmp(config.channels[0].exec, "/usr/local/bin/page --now") == 0);
    assert(config.channels[0].timeout_ms == 5000);
    assert(config.channels[0].retry_for_ms == ZB_CHANNEL_RETRY_FOR_DEFAULT_MS);
    assert(strcmp(config.channels[1].webhook, "https://hooks.example.com/T0/B0") == 0);
    assert(config.channels[1].template == ZB_TEMPLATE_SLACK);
    assert(strcmp(config.channels[1].hosts, "web-*") == 0);
    assert(strcmp(config.channels[1].services, "redis,db-*") == 0);
    assert(config.channels[1].timeout_ms == ZB_CHANNEL_TIMEOUT_DEFAULT_MS);
    assert(config.channels[1].retry_for_ms == 3600000);
    assert(config.channels[1].backoff_max_ms == 30000);
    assert(config.channels[0].after_ms == 0 && config.channels[1].after_ms == 5000);
    assert(s_load_text(&config,
                       "alert\n    am\n        alertmanager = http://a:9093,https://b:9093/\n"
                       "        resend = 30s\n        monitor-name = dc-1\n"
                       "    am2\n        alertmanager = http://c:9093\n",
                       err, sizeof(err)) == 0);
    assert(strcmp(config.channels[0].alertmanager, "http://a:9093,https://b:9093/") == 0);
    assert(config.channels[0].resend_ms == 30000);
    assert(strcmp(config.channels[0].monitor_name, "dc-1") == 0);
    assert(config.channels[1].resend_ms == 60000);
    assert(strcmp(config.channels[1].monitor_name, "zbeat") == 0);

    //  Email: recipients, the server (a password from the environment).
    setenv("ZB_TEST_TOKEN", "pw", 1);
    assert(s_load_text(&config,
                       "alert\n    mail\n        email = a@x.org,b@y.org\n"
                       "        smtp = \"smtp://zb:${ZB_TEST_TOKEN}@mx:587\"\n"
                       "        from = mon@x.org\n    mail2\n        email = a@x.org\n"
                       "        smtp = smtp://mx\n",
                       err, sizeof(err)) == 0);
    assert(strcmp(config.channels[0].email, "a@x.org,b@y.org") == 0);
    assert(strcmp(config.channels[0].smtp, "smtp://zb:pw@mx:587") == 0);
    assert(strcmp(config.channels[0].from, "mon@x.org") == 0);
    assert(strncmp(config.channels[1].from, "zbeat@", 6) == 0);

    //  Headers: repeated, secrets from the environment and from files.
    setenv("ZB_TEST_TOKEN", "s3cret", 1);
    char secret[] = "/tmp/zb_monitor_config_secret.XXXXXX";
    int fd = mkstemp(secret);
    assert(fd >= 0 && write(fd, "from-file\n", 10) == 10);
    close(fd);
    char text[512];
    snprintf(text, sizeof(text),
             "alert\n    h\n        webhook = http://h/\n"
             "        header = \"Authorization: Bearer ${ZB_TEST_TOKEN}\"\n"
             "        header = \"X-Key: @%s\"\n        header = \"X-Plain: a@b c\"\n",
             secret);
    assert(s_load_text(&config, text, err, sizeof(err)) == 0);
    assert(strcmp(config.channels[0].headers, "Authorization: Bearer s3cret\nX-Key: from-file\n"
                                              "X-Plain: a@b c\n") == 0);
    unlink(secret);
    snprintf(text, sizeof(text),
             "alert\n    h\n        webhook = http://h/\n"
             "        header = \"X-Key: @%s\"\n",
             secret);
    assert(s_load_text(&config, text, err, sizeof(err)) == -1);
    assert(strstr(err, ": alert/h/header: @/tmp/zb_monitor_config_secret."));
    assert(strstr(err, ": cannot read it (No such file or directory)"));
    unsetenv("ZB_TEST_TOKEN");

    //  An empty file keeps every default.
    assert(s_load_text(&config, "", err, sizeof(err)) == 0);
    assert(strcmp(config.bind, ZB_MONITOR_BIND_DEFAULT) == 0);
    assert(config.liveness == ZB_MONITOR_LIVENESS_DEFAULT);
    assert(config.liveness_min_ms == 1000 && config.liveness_max_ms == 10000 && config.phi == 8);
    assert(config.udp[0] == '\0');
    assert(s_load_text(&config,
                       "monitor\n    udp = *:7403\n    liveness-min = 500ms\n"
                       "    liveness-max = 30s\n    phi = 12\n",
                       err, sizeof(err)) == 0);
    assert(strcmp(config.udp, "*:7403") == 0 && config.liveness_min_ms == 500 &&
           config.liveness_max_ms == 30000 && config.phi == 12);
    assert(s_load_text(&config, "", err, sizeof(err)) == 0);
    assert(config.channel_count == 0 && config.publish[0] == '\0' && config.repeat_ms == 0);
    assert(config.flap_threshold == ZB_MONITOR_FLAP_THRESHOLD_DEFAULT);

    static const struct {
        const char *text;
        const char *expect;
    } bad[] = {
        {"monitor\n    liveness = 0\n", ": monitor/liveness: 0 is out of range"},
        {"monitor\n    liveness-min = 2s\n    liveness-max = 1s\n",
         ": monitor/liveness-max: is below liveness-min"},
        {"monitor\n    liveness-min = 20s\n", ": monitor/liveness-min: is above liveness-max"},
        {"monitor\n    phi = 0\n", ": monitor/phi: 0 is out of range"},
        {"monitor\n    udp = nowhere\n", ": monitor/udp: "},
        {"monitor\n    liveness = x\n", ": monitor/liveness: \"x\" is not a whole number"},
        {"monitor\n    retention = 5\n", ": monitor/retention: \"5\" is not a duration"},
        {"monitor\n    retention = 1s\n", ": monitor/retention: \"1s\" is out of range"},
        {"monitor\n    bind = localhost\n", ": monitor/bind: \"localhost\" is not an endpoint"},
        {"monitor\n    bind = udp://x:1\n", ": monitor/bind: \"udp://x:1\" has an unknown"},
        {"monitor\n    colour = blue\n", ": monitor/colour: unknown key"},
        {"monitor\n    db = a\n    db = b\n", ": monitor/db: given twice"},
        {"agent\n    name = x\n", ": agent: unknown key"},
        {"monitor\n        bind = x\n", ":2: "},
        {"monitor\n    publish = 7402\n", ": monitor/publish: \"7402\" is not an endpoint"},
        //  Ports: plain digits from 1 to 65535, never one the kernel picks.
        {"monitor\n    bind = tcp://*:99999\n", ": monitor/bind: \"tcp://*:99999\" needs a port"},
        {"monitor\n    bind = tcp://*:-5\n", ": monitor/bind: \"tcp://*:-5\" needs a port"},
        {"monitor\n    bind = tcp://*:7400x\n", ": monitor/bind: \"tcp://*:7400x\" needs a port"},
        {"monitor\n    bind = tcp://*:0\n", ": monitor/bind: \"tcp://*:0\" needs a port"},
        {"monitor\n    bind = tcp://*:*\n", ": monitor/bind: \"tcp://*:*\" needs a port"},
        {"monitor\n    bind = tcp://127.0.0.1\n",
         ": monitor/bind: \"tcp://127.0.0.1\" needs a port"},
        {"monitor\n    bind = tcp://:7400\n", ": monitor/bind: \"tcp://:7400\" needs a port"},
        {"monitor\n    bind = tcp://*:7400,tcp://*:65536\n", ": monitor/bind: \"tcp://*:7400,tcp"},
        {"monitor\n    publish = tcp://*:0\n", ": monitor/publish: \"tcp://*:0\" needs a port"},
        {"monitor\n    replay = tcp://*:99999\n", ": monitor/replay: \"tcp://*:99999\" needs a"},
        {"monitor\n    db = \"\"\n", ": monitor/db: is empty"},
        {"monitor\n    db =\n", ": monitor/db: is empty"},
        {"monitor\n    bind = \"\"\n", ": monitor/bind: \"\" is empty"},
        {"monitor\n    flap-threshold = -1\n", ": monitor/flap-threshold: -1 is out of range"},
        {"monitor\n    repeat = 0\n", ": monitor/repeat: \"0\" is not a duration"},
        {"monitor\n    stopped-alert = -1s\n", ": monitor/stopped-alert: "},
        {"monitor\n    tls-warn = soon\n", ": monitor/tls-warn: "},
        {"alert\n    x\n        timeout = 1s\n", ": alert/x: needs exactly one of exec, webhook"},
        {"alert\n    x\n        exec = a\n        webhook = http://h/\n",
         ": alert/x: needs exactly one of exec, webhook, alertmanager and email"},
        {"alert\n    x\n        webhook = http://h/\n        header = \"A: ${ZB_NOT_SET_X}\"\n",
         ": alert/x/header: ${ZB_NOT_SET_X} is not set"},
        {"alert\n    x\n        webhook = http://h/\n        header = NoColon\n",
         ": alert/x/header: \"NoColon\" is not \"Name: value\""},
        {"alert\n    x\n        exec = a\n        header = \"A: b\"\n",
         ": alert/x/header: is for webhook and alertmanager channels only"},
        {"alert\n    x\n        email = oncall\n        smtp = smtp://h\n",
         ": alert/x/email: \"oncall\" is not a list of addresses"},
        {"alert\n    x\n        email = a@b\n", ": alert/x: email needs smtp"},
        {"alert\n    x\n        email = a@b\n        smtp = http://h\n",
         ": alert/x/smtp: \"http://h\" is not an smtp:// or smtps:// URL"},
        {"alert\n    x\n        exec = a\n        smtp = smtp://h\n",
         ": alert/x/smtp: is for email channels only"},
        {"alert\n    x\n        alertmanager = 127.0.0.1:9093\n",
         ": alert/x/alertmanager: \"127.0.0.1:9093\" is not a list of http"},
        {"alert\n    x\n        alertmanager = http://a:9093,\n",
         ": alert/x/alertmanager: \"http://a:9093,\" has an empty URL"},
        {"alert\n    x\n        exec = a\n        resend = 1m\n",
         ": alert/x/resend: is for alertmanager channels only"},
        {"alert\n    x\n        alertmanager = http://a\n        resend = 2h\n",
         ": alert/x/resend: \"2h\" is out"},
        {"alert\n    x\n        alertmanager = http://a\n        monitor-name = a b\n",
         ": alert/x/monitor-name: \"a b\" is not a valid name"},
        {"alert\n    x = 1\n", ": alert/x: is not a channel"},
        {"alert\n    x\n        webhook = ftp://h/\n", ": alert/x/webhook: \"ftp://h/\" is not"},
        {"alert\n    x\n        exec = a\n        template = slack\n",
         ": alert/x/template: is for webhooks only"},
        {"alert\n    x\n        webhook = http://h/\n        template = teams\n",
         ": alert/x/template: \"teams\" is not one of"},
        {"alert\n    x\n        exec = a\n        hosts = web-*,\n",
         ": alert/x/hosts: \"web-*,\" has an empty pattern"},
        {"alert\n    x\n        exec = a\n        services = a b\n", ": alert/x/services: "},
        {"alert\n    x\n        exec = a\n        colour = 1\n", ": alert/x/colour: unknown key"},
        {"alert\n    x\n        exec = a\n        timeout = 2h\n",
         ": alert/x/timeout: \"2h\" is out"},
        {"alert\n    x\n        exec = a\n        after = 2h\n", ": alert/x/after: \"2h\" is out"},
        {"alert\n    x\n        exec = a\n    x\n        exec = b\n", ": alert/x: given twice"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert(s_load_text(&config, bad[i].text, err, sizeof(err)) == -1);
        if (verbose)
            printf("\n    %s", err);
        if (strncmp(err, bad[i].expect, strlen(bad[i].expect)) != 0) {
            fprintf(stderr, "got '%s', expected '%s'\n", err, bad[i].expect);
            assert(false);
        }
    }

    zb_monitor_config_defaults(&config);
    assert(zb_monitor_config_set_liveness(&config, "7", "--liveness", err, sizeof(err)) == 0);
    assert(config.liveness == 7);
    assert(zb_monitor_config_set_liveness(&config, "101", "--liveness", err, sizeof(err)) == -1);
    assert(strstr(err, "--liveness: \"101\""));
    assert(zb_monitor_config_set_bind(&config, "tcp://*:1,ipc:///tmp/x", "ZBEAT_BIND", err,
                                      sizeof(err)) == 0);
    assert(zb_monitor_config_set_bind(&config, "tcp://*:1,", "ZBEAT_BIND", err, sizeof(err)) == -1);
    assert(zb_monitor_config_set_bind(&config, "tcp://[::1]:65535", "--bind", err, sizeof(err)) ==
           0);
    assert(zb_monitor_config_set_bind(&config, "tcp://*:0", "--bind", err, sizeof(err)) == -1);
    assert(strstr(err, "--bind: \"tcp://*:0\" needs a port from 1 to 65535"));
    assert(zb_monitor_config_set_db(&config, "", "ZBEAT_DB", err, sizeof(err)) == -1);
}
