/*  zb_monitor_config_alert: the `alert` section, one channel per child,
    read through a directive table (zb_config.h) as the `monitor` section
    is (zb_monitor_config_table.c). Defaults, bounds, the known keys, which
    keys belong to which kind of channel and the cells of the channel table
    in docs/config-monitor.md (`zbeat-monitor --config-table`, checked by
    scripts/config_docs.py) all come from here. See zb_monitor_config.h.

    A channel is of one kind, given by exactly one of its kind keys (exec,
    webhook, alertmanager, email). The table lists every key in the order
    it is read, which is part of the messages: the first error wins.
*/
#include "zb_config.h"
#include "zb_monitor_config.h"
#include "zb_monitor_config_internal.h"
#include "zb_msg.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The kinds of channel, as a set.
#define S_EXEC 1u
#define S_WEBHOOK 2u
#define S_ALERTMANAGER 4u
#define S_EMAIL 8u

//  Why a value is wrong, or NULL.
typedef const char *(s_problem_fn)(const char *value);
//  Reads a ZB_CONFIG_CODE key, of a channel whose kinds are `kinds`.
typedef void(s_read_fn)(zb_channel_config_t *channel, zb_config_t *config, zconfig_t *section,
                        unsigned kinds);

//  The facts (ZB_CONFIG_STRING into a char array, checked by `problem`;
//  ZB_CONFIG_DURATION into an int64_t; ZB_CONFIG_CODE read by `read`) and
//  what a channel does with them.
typedef struct {
    zb_config_directive_t d;
    unsigned kind;         // the key makes the channel this kind (given non-empty)
    unsigned only;         // the kinds the key is for (0: every kind), else `only_text`
    const char *only_text; // the error for a key given to a channel of another kind
    s_problem_fn *problem; // STRING: "\"VALUE\" problem"
    s_read_fn *read;       // CODE
} s_directive_t;

#define S_FIELD(f)                                                                                 \
    .offset = offsetof(zb_channel_config_t, f), .size = sizeof(((zb_channel_config_t *)0)->f)
#define S_BOUNDS(low, high) .min = (low), .max = (high)
#define S_DOC(type, dflt, bounds) .doc_type = (type), .doc_default = (dflt), .doc_bounds = (bounds)
#define S_ONLY(kinds, text) .only = (kinds), .only_text = (text)

//  A filter: comma-separated glob patterns of name characters and * ? [ ] !
static const char *s_patterns_problem(const char *value)
{
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

static const char *s_url_problem(const char *value)
{
    return strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0
               ? NULL
               : "is not an http:// or https:// URL";
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

//  Recipients: user@host, comma-separated.
static const char *s_addresses_problem(const char *value)
{
    for (const char *start = value;; start += strcspn(start, ",") + 1) {
        size_t len = strcspn(start, ",");
        const char *at = memchr(start, '@', len);
        if (len == 0 || !at || at == start || at == start + len - 1 ||
            strcspn(start, " \t<>\"") < len)
            return "is not a list of addresses (user@host, comma-separated)";
        if (!start[len])
            return NULL;
    }
}

static const char *s_name_problem(const char *value)
{
    return zb_name_valid(value) ? NULL : "is not a valid name (letters, digits, . _ -)";
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

//  smtp = smtp://host:25, ${VAR} expanded (for a password); an email
//  channel needs it.
static void s_smtp_read(zb_channel_config_t *channel, zb_config_t *config, zconfig_t *section,
                        unsigned kinds)
{
    const char *smtp = zb_config_string(config, section, "smtp", NULL);
    zconfig_t *node = zconfig_locate(section, "smtp");
    if (!(kinds & S_EMAIL))
        return;
    if (!smtp)
        zb_config_fail(config, section, "email needs smtp (smtp://host:25 or smtps://host:465)");
    else if (strncmp(smtp, "smtp://", 7) != 0 && strncmp(smtp, "smtps://", 8) != 0)
        zb_config_fail(config, node, "\"%.200s\" is not an smtp:// or smtps:// URL", smtp);
    else
        s_expand(config, node, smtp, NULL, channel->smtp, sizeof(channel->smtp));
}

//  The sender: zbeat@this-host unless given.
static void s_from_read(zb_channel_config_t *channel, zb_config_t *config, zconfig_t *section,
                        unsigned kinds)
{
    const char *from = zb_config_string(config, section, "from", NULL);
    if (!(kinds & S_EMAIL))
        return;
    if (from && (!strchr(from, '@') || strcspn(from, " \t<>\",") < strlen(from)))
        zb_config_fail(config, zconfig_locate(section, "from"), "\"%.200s\" is not an address",
                       from);
    else if (from && strlen(from) >= sizeof(channel->from))
        zb_config_fail(config, zconfig_locate(section, "from"), "is too long");
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

//  Each header line ("Name: value") with its secrets resolved (s_expand),
//  appended to headers.
static void s_header_read(zb_channel_config_t *channel, zb_config_t *config, zconfig_t *section,
                          unsigned kinds)
{
    if (!(kinds & (S_WEBHOOK | S_ALERTMANAGER)))
        return;
    for (zconfig_t *node = zconfig_locate(section, "header"); node; node = zconfig_next(node)) {
        if (strcmp(zconfig_name(node), "header") != 0)
            continue;
        const char *text = zconfig_value(node) ? zconfig_value(node) : "";
        const char *colon = strchr(text, ':');
        size_t name_len = colon ? (size_t)(colon - text) : 0;
        if (!colon || name_len == 0 || strcspn(text, " \t") < name_len) {
            zb_config_fail(config, node, "\"%.100s\" is not \"Name: value\"", text);
            continue;
        }
        char line[2048];
        if (s_expand(config, node, text, colon, line, sizeof(line) - 1) != 0)
            continue;
        if (s_append(line, sizeof(line), "\n", 1) != 0 ||
            s_append(channel->headers, sizeof(channel->headers), line, strlen(line)) != 0)
            zb_config_fail(config, node, "too many headers");
    }
}

static const char *const s_templates[] = {[ZB_TEMPLATE_JSON] = "json",
                                          [ZB_TEMPLATE_SLACK] = "slack",
                                          [ZB_TEMPLATE_MATTERMOST] = "mattermost"};

static void s_template_read(zb_channel_config_t *channel, zb_config_t *config, zconfig_t *section,
                            unsigned kinds)
{
    const char *template = zb_config_string(config, section, "template", NULL);
    if (!template || !(kinds & S_WEBHOOK))
        return;
    for (size_t i = 0; i < sizeof(s_templates) / sizeof(s_templates[0]); i++)
        if (strcmp(template, s_templates[i]) == 0) {
            channel->template = (zb_template_t)i;
            return;
        }
    zb_config_fail(config, zconfig_locate(section, "template"),
                   "\"%.50s\" is not one of json, slack, mattermost", template);
}

#define S_AM "is for alertmanager channels only"
#define S_MAIL "is for email channels only"
static const s_directive_t s_directives[] = {
    {.d = {"email", ZB_CONFIG_STRING, S_FIELD(email),
           S_DOC("address list", NULL, "`user@host`, comma-separated")},
     .kind = S_EMAIL,
     .problem = s_addresses_problem},
    {.d = {"smtp", ZB_CONFIG_CODE, S_FIELD(smtp),
           S_DOC("URL", NULL, "`smtp://` or `smtps://`; needs `email`")},
     S_ONLY(S_EMAIL, S_MAIL),
     .read = s_smtp_read},
    {.d = {"from", ZB_CONFIG_CODE, S_FIELD(from),
           S_DOC("address", "`zbeat@<host>`", "`user@host`")},
     S_ONLY(S_EMAIL, S_MAIL),
     .read = s_from_read},
    {.d = {"alertmanager", ZB_CONFIG_STRING, S_FIELD(alertmanager),
           S_DOC("URL list", NULL, "`http://` or `https://`, comma-separated")},
     .kind = S_ALERTMANAGER,
     .problem = s_urls_problem},
    {.d = {"header*", ZB_CONFIG_CODE, S_FIELD(headers),
           S_DOC("text, repeatable", NULL, "`Name: value`")},
     S_ONLY(S_WEBHOOK | S_ALERTMANAGER, "is for webhook and alertmanager channels only"),
     .read = s_header_read},
    {.d = {"monitor-name", ZB_CONFIG_STRING, S_BOUNDS(1, ZB_NAME_MAX), .text = "zbeat",
           S_FIELD(monitor_name),
           S_DOC("name", NULL, "{min} .. {max} of `A-Z a-z 0-9 . _ -`, first a letter or digit")},
     S_ONLY(S_ALERTMANAGER, S_AM),
     .problem = s_name_problem},
    {.d = {"exec", ZB_CONFIG_STRING, S_FIELD(exec), S_DOC("command", NULL, "non-empty")},
     .kind = S_EXEC},
    {.d = {"webhook", ZB_CONFIG_STRING, S_FIELD(webhook),
           S_DOC("URL", NULL, "`http://` or `https://`")},
     .kind = S_WEBHOOK,
     .problem = s_url_problem},
    {.d = {"template", ZB_CONFIG_CODE, S_FIELD(template),
           S_DOC("word", "`json`", "`json`, `slack`, `mattermost`")},
     S_ONLY(S_WEBHOOK, "is for webhooks only"),
     .read = s_template_read},
    {.d = {"hosts", ZB_CONFIG_STRING, S_FIELD(hosts),
           S_DOC("glob list", "every host",
                 "patterns of name characters and `* ? [ ] !`, comma-separated")},
     .problem = s_patterns_problem},
    {.d = {"services", ZB_CONFIG_STRING, S_FIELD(services),
           S_DOC("glob list", "every service", "as `hosts`")},
     .problem = s_patterns_problem},
    {.d = {"timeout", ZB_CONFIG_DURATION, S_BOUNDS(100, 3600 * 1000),
           .dflt = ZB_CHANNEL_TIMEOUT_DEFAULT_MS, S_FIELD(timeout_ms)}},
    {.d = {"retry-for", ZB_CONFIG_DURATION, S_BOUNDS(1000, 30LL * 86400 * 1000),
           .dflt = ZB_CHANNEL_RETRY_FOR_DEFAULT_MS, S_FIELD(retry_for_ms)}},
    {.d = {"backoff-max", ZB_CONFIG_DURATION, S_BOUNDS(100, 86400 * 1000),
           .dflt = ZB_CHANNEL_BACKOFF_MAX_DEFAULT_MS, S_FIELD(backoff_max_ms)}},
    {.d = {"after", ZB_CONFIG_DURATION, S_BOUNDS(0, 3600 * 1000), .dflt = 0, S_FIELD(after_ms),
           S_DOC(NULL, "none", NULL)}},
    {.d = {"resend", ZB_CONFIG_DURATION, S_BOUNDS(1000, 3600 * 1000), .dflt = 60 * 1000,
           S_FIELD(resend_ms)},
     S_ONLY(S_ALERTMANAGER, S_AM)},
};
#define S_DIRECTIVES (sizeof(s_directives) / sizeof(s_directives[0]))

static void s_directive_read(zb_channel_config_t *channel, zb_config_t *config, zconfig_t *section,
                             const s_directive_t *directive, unsigned kinds)
{
    const zb_config_directive_t *d = &directive->d;
    char key[64];
    snprintf(key, sizeof(key), "%.*s", (int)strcspn(d->key, "*"), d->key);
    zconfig_t *node = zconfig_locate(section, key);
    if (node && directive->only && !(kinds & directive->only)) {
        zb_config_fail(config, node, "%s", directive->only_text);
        return;
    }
    if (d->type == ZB_CONFIG_DURATION) {
        assert(d->size == sizeof(int64_t));
        zb_config_read_number(config, section, d, d->dflt, channel);
    } else if (d->type == ZB_CONFIG_CODE)
        directive->read(channel, config, section, kinds);
    else {
        assert(d->type == ZB_CONFIG_STRING);
        const char *text = zb_config_string(config, section, key, NULL);
        const char *problem = text && directive->problem ? directive->problem(text) : NULL;
        if (problem)
            zb_config_fail(config, node, "\"%.200s\" %s", text, problem);
        else if (text && strlen(text) >= d->size)
            zb_config_fail(config, node, "is too long");
        else if (text)
            snprintf((char *)channel + d->offset, d->size, "%s", text);
    }
}

//  One child of `alert`: which kind it is, then every key in the table's
//  order.
static void s_channel_load(zb_monitor_config_t *self, zb_config_t *config, zconfig_t *section)
{
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
    const char *keys[S_DIRECTIVES + 1];
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        keys[i] = s_directives[i].d.key;
    keys[S_DIRECTIVES] = NULL;
    zb_config_check_known(config, section, keys);

    zb_channel_config_t *channel = &self->channels[self->channel_count];
    memset(channel, 0, sizeof(*channel));
    snprintf(channel->name, sizeof(channel->name), "%s", name);
    unsigned kinds = 0, count = 0;
    for (size_t i = 0; i < S_DIRECTIVES; i++) {
        const s_directive_t *directive = &s_directives[i];
        const zb_config_directive_t *d = &directive->d;
        if (d->type == ZB_CONFIG_DURATION)
            *(int64_t *)((char *)channel + d->offset) = d->dflt;
        else if (d->type == ZB_CONFIG_STRING && d->text)
            snprintf((char *)channel + d->offset, d->size, "%s", d->text);
        if (directive->kind && zb_config_string(config, section, d->key, NULL))
            kinds |= directive->kind, count++;
    }
    if (count != 1)
        zb_config_fail(config, section,
                       "needs exactly one of exec, webhook, alertmanager and email");
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        s_directive_read(channel, config, section, &s_directives[i], kinds);
    self->channel_count++;
}

void zb_monitor_config_read_alert(zb_monitor_config_t *self, zb_config_t *config,
                                  zconfig_t *section)
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

void zb_monitor_config_print_alert(FILE *out)
{
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        zb_config_directive_print(out, "alert", &s_directives[i].d);
}
