/*  zb_monitor_config: the monitor's settings. See zb_monitor_config.h. */
#include "zb_monitor_config.h"
#include "zb_monitor_config_internal.h"
#include "zb_address.h"
#include "zb_config.h"
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

int zb_monitor_config_load(zb_monitor_config_t *self, const char *path, char *err, size_t errsize)
{
    assert(self && path && err);
    static const char *const sections[] = {"monitor", "alert", NULL};
    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        return -1;
    zconfig_t *root = zb_config_root(config);
    zb_config_check_known(config, root, sections);
    zconfig_t *section = zconfig_locate(root, "monitor");
    if (section && zconfig_value(section) && *zconfig_value(section))
        zb_config_fail(config, section, "is a section: it takes no value");
    zb_monitor_config_read_monitor(self, config, section);
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
