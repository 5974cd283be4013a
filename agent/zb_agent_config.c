/*  zb_agent_config: the agent's configuration file. See zb_agent_config.h. */
#include "zb_agent_config.h"
#include "zb_alive.h"
#include "zb_config.h"
#include "zb_docker_check.h"
#include "zb_listener.h"
#include "zb_time.h"
#include <strings.h>

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <czmq.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZB_INTERVAL_MIN_MS 50
#define ZB_INTERVAL_MAX_MS (3600 * 1000)
#define ZB_INTERVAL_DEFAULT_MS 1000
#define ZB_TIMEOUT_DEFAULT_MS 500
#define ZB_BEAT_MIN_MS 100
#define ZB_BEAT_MAX_MS (3600 * 1000)
#define ZB_PUSH_MIN_MS 100
#define ZB_PUSH_MAX_MS (3600 * 1000)
#define ZB_PUSH_TIMEOUT_MAX_MS (2 * ZB_PUSH_MAX_MS)
#define ZB_TTL_MIN_MS 100
#define ZB_TTL_MAX_MS (400LL * 24 * 3600 * 1000)
#define ZB_RESOLVE_MIN_MS 1000
#define ZB_RESOLVE_MAX_MS (24 * 3600 * 1000)

static const char *const s_root_keys[] = {"agent", "service", NULL};
static const char *const s_agent_keys[] = {
    "name",   "monitor", "beat",     "listen",   "cert",   "monitor-cert",    "journal",
    "replay", "udp",     "udp-beat", "discover", "docker", "discover-filter", "full-every",
    NULL};
static const char *const s_service_keys[] = {"probe",        "check",
                                             "send",         "expect",
                                             "interval",     "timeout",
                                             "fails",        "resolve",
                                             "hold",         "listener-check",
                                             "tls",          "tls-ca",
                                             "tls-name",     "tls-verify",
                                             "http",         "http-host",
                                             "http-header*", "expect-status",
                                             "expect-body",  "push",
                                             "ttl",          NULL};
static const char *const s_push_keys[] = {"push", "timeout", NULL};
static const char *const s_ttl_keys[] = {"ttl", NULL};

//  The probes' texts are packed one after the other into slabs that the
//  config owns (self->texts, a list): sized to their content, without a
//  malloc header each, and in one place rather than scattered among the
//  parser's temporary blocks, which would leave holes when freed.
#define ZB_TEXT_SLAB 65536

typedef struct s_text_slab_t {
    struct s_text_slab_t *next;
    size_t used;
    size_t size;
    char data[];
} s_text_slab_t;

//  Returns size bytes from self's slabs, NULL when out of memory.
static char *s_text_alloc(zb_agent_config_t *self, size_t size)
{
    s_text_slab_t *slab = self->texts;
    if (!slab || slab->size - slab->used < size) {
        size_t want = size > ZB_TEXT_SLAB ? size : ZB_TEXT_SLAB;
        slab = malloc(sizeof(*slab) + want);
        if (!slab)
            return NULL;
        slab->next = self->texts;
        slab->used = 0;
        slab->size = want;
        self->texts = slab;
    }
    char *text = slab->data + slab->used;
    slab->used += size;
    return text;
}

//  `check = NAME`: a protocol's exchange, so nobody has to get its escapes
//  right (docs/config-agent.md gives each one and the versions tested).
//  An explicit send replaces the pair; an explicit expect only the expect.
typedef struct {
    const char *name;
    const char *send; // NULL: connection-only
    size_t send_len;
    const char *expect;
    size_t expect_len;
    zb_probe_reply_t reply;
    bool fixed; // the exchange is the protocol's: no send, expect or hold = yes
    bool tls;   // tls = yes unless told otherwise
} s_preset_t;

static const s_preset_t s_presets[] = {
    {"tcp", NULL, 0, NULL, 0, ZB_PROBE_REPLY_PREFIX, false, false},
    {"redis", "PING\r\n", 6, "+PONG", 5, ZB_PROBE_REPLY_PREFIX, false, false},
    {"memcached", "version\r\n", 9, "VERSION ", 8, ZB_PROBE_REPLY_PREFIX, false, false},
    //  An SSLRequest (length 8, code 80877103), answered by one byte, S or
    //  N, once per connection: a second one is a protocol violation that
    //  PostgreSQL logs as FATAL. Closing after the answer logs nothing.
    {"postgres", "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8, NULL, 0, ZB_PROBE_REPLY_PG_SSL, true,
     false},
    //  HTTP: the request is made from http (default GET /), http-host and
    //  http-header; send and expect are not taken.
    {"http", NULL, 0, NULL, 0, ZB_PROBE_REPLY_HTTP, false, false},
    {"https", NULL, 0, NULL, 0, ZB_PROBE_REPLY_HTTP, false, true},
    //  The server speaks first. smtp: read the greeting, QUIT, close. ssh:
    //  read it, give ours (sshd then logs one line, "Connection closed by
    //  ... [preauth]", rather than two with kex_exchange_identification),
    //  close. mysql: read it, close.
    {"ssh", "SSH-2.0-zbeat\r\n", 15, "SSH-", 4, ZB_PROBE_REPLY_GREETING, true, false},
    {"smtp", "QUIT\r\n", 6, "220", 3, ZB_PROBE_REPLY_GREETING, true, false},
    {"mysql", NULL, 0, NULL, 0, ZB_PROBE_REPLY_MYSQL, true, false},
};

#define S_CHECKS "tcp, redis, memcached, postgres, http, https, ssh, smtp, mysql"

#define ZB_NAME_RULE "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"

void zb_agent_config_destroy(zb_agent_config_t **self_p)
{
    assert(self_p);
    zb_agent_config_t *self = *self_p;
    if (!self)
        return;
    free(self->monitor);
    free(self->listen);
    free(self->journal);
    free(self->replay);
    free(self->udp);
    free(self->docker);
    free(self->discover_filter);
    while (self->texts) {
        s_text_slab_t *slab = self->texts;
        self->texts = slab->next;
        free(slab);
    }
    free(self->services);
    free(self);
    *self_p = NULL;
}

//  A yes/no key: *value keeps the default when the key is absent.
static int s_yes_no(zb_config_t *config, zconfig_t *node, const char *key, bool *value)
{
    const char *text = zb_config_string(config, node, key, NULL);
    if (zb_config_error(config))
        return -1;
    if (!text)
        return 0;
    if (strcmp(text, "yes") == 0 || strcmp(text, "true") == 0 || strcmp(text, "on") == 0)
        *value = true;
    else if (strcmp(text, "no") == 0 || strcmp(text, "false") == 0 || strcmp(text, "off") == 0)
        *value = false;
    else
        return zb_config_fail(config, zconfig_locate(node, key), "\"%s\" is not yes or no", text);
    return 0;
}

//  tls, tls-ca, tls-name, tls-verify. The CA file is read by the running
//  probe, but one that cannot be read is a mistake to report now.
static int s_load_tls(zb_config_t *config, zconfig_t *node, const char *check, bool dflt,
                      zb_probe_config_t *probe, const char **ca, const char **name)
{
    probe->tls = dflt;
    probe->tls_verify = true;
    if (s_yes_no(config, node, "tls", &probe->tls) == -1 ||
        s_yes_no(config, node, "tls-verify", &probe->tls_verify) == -1)
        return -1;
    *ca = zb_config_string(config, node, "tls-ca", NULL);
    *name = zb_config_string(config, node, "tls-name", NULL);
    if (zb_config_error(config))
        return -1;
    const char *keys[] = {"tls-ca", "tls-name", "tls-verify"};
    for (size_t i = 0; !probe->tls && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (zconfig_locate(node, keys[i]))
            return zb_config_fail(config, zconfig_locate(node, keys[i]), "needs tls = yes");
    if (probe->tls && check && strcmp(check, "postgres") == 0)
        return zb_config_fail(config, zconfig_locate(node, "tls"),
                              "does not go with check = postgres (which never starts TLS)");
    if (*ca && !probe->tls_verify)
        return zb_config_fail(config, zconfig_locate(node, "tls-ca"),
                              "does not go with tls-verify = no");
    if (*ca && access(*ca, R_OK) == -1)
        return zb_config_fail(config, zconfig_locate(node, "tls-ca"), "cannot read %s: %s", *ca,
                              strerror(errno));
    if (*name && (!**name || strlen(*name) > 253 || strpbrk(*name, " /:")))
        return zb_config_fail(config, zconfig_locate(node, "tls-name"), "\"%s\" is not a host name",
                              *name);
    return 0;
}

//  Whether text is all visible ASCII or spaces (what a request line and
//  header may hold here).
static bool s_visible(const char *text)
{
    for (; *text; text++)
        if (*text < 0x20 || *text > 0x7e)
            return false;
    return true;
}

//  http = METHOD PATH, http-host, http-header (repeated), expect-status,
//  expect-body: the request is made here, once, into send; expect-body
//  goes into expect. Without http (and check = http or https) these keys
//  are refused.
static int s_load_http(zb_config_t *config, zconfig_t *node, bool http, const char *host,
                       const char *tls_name, zb_probe_config_t *probe, char *send_buf,
                       char *expect_buf, const char **expect_status)
{
    const char *keys[] = {"http-host", "http-header", "expect-status", "expect-body"};
    for (size_t i = 0; !http && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (zconfig_locate(node, keys[i]))
            return zb_config_fail(config, zconfig_locate(node, keys[i]),
                                  "needs http = METHOD PATH (or check = http or https)");
    if (!http)
        return 0;
    const char *keys_not[] = {"send", "expect"};
    for (size_t i = 0; i < 2; i++)
        if (zconfig_locate(node, keys_not[i]))
            return zb_config_fail(config, zconfig_locate(node, keys_not[i]),
                                  "does not go with http (the request is made from http, "
                                  "http-host and http-header; expect-body checks the body)");
    zconfig_t *where = zconfig_locate(node, "http");
    const char *line = zb_config_string(config, node, "http", "GET /");
    char method[17], path[513];
    int n = 0;
    if (zb_config_error(config))
        return -1;
    if (sscanf(line, "%16[A-Z] %512[^ \t]%n", method, path, &n) != 2 || line[n] ||
        (path[0] != '/' && strcmp(path, "*") != 0) || strpbrk(path, "\"<>\\^`{|}") ||
        !s_visible(path))
        return zb_config_fail(config, where,
                              "\"%s\" is not METHOD PATH (GET /healthz, HEAD /, OPTIONS *)", line);
    probe->http_head = strcmp(method, "HEAD") == 0;
    //  Host: http-host, else the name verified, else the probe's host (with
    //  the port when it is not the scheme's).
    const char *host_header = zb_config_string(config, node, "http-host", NULL);
    char host_buf[ZB_PROBE_TARGET_MAX + 16];
    if (zb_config_error(config))
        return -1;
    if (host_header && (strpbrk(host_header, " \t/") || !s_visible(host_header)))
        return zb_config_fail(config, zconfig_locate(node, "http-host"),
                              "\"%s\" is not a host name", host_header);
    if (!host_header) {
        const char *name = tls_name[0] ? tls_name : host;
        bool v6 = strchr(name, ':') != NULL;
        bool usual = probe->port == (probe->tls ? 443 : 80);
        if (usual)
            snprintf(host_buf, sizeof(host_buf), "%s%s%s", v6 ? "[" : "", name, v6 ? "]" : "");
        else
            snprintf(host_buf, sizeof(host_buf), "%s%s%s:%d", v6 ? "[" : "", name, v6 ? "]" : "",
                     probe->port);
        host_header = host_buf;
    }
    size_t at = 0, size = ZB_PROBE_SEND_MAX;
    int w = snprintf(send_buf, size, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: zbeat-agent/%s\r\n",
                     method, path, host_header, ZB_VERSION);
    at = w > 0 && (size_t)w < size ? (size_t)w : size;
    for (zconfig_t *child = zconfig_child(node); child && at < size; child = zconfig_next(child)) {
        if (strcmp(zconfig_name(child), "http-header") != 0)
            continue;
        const char *header = zconfig_value(child);
        const char *colon = header ? strchr(header, ':') : NULL;
        size_t name_len = colon ? (size_t)(colon - header) : 0;
        static const char *const reserved[] = {
            "host", "content-length", "connection", "transfer-encoding", "user-agent", NULL};
        bool bad = !colon || name_len == 0 ||
                   strspn(header, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789!#$%&'*+-.^_`|~") != name_len ||
                   !s_visible(header);
        if (bad)
            return zb_config_fail(config, child, "\"%s\" is not Name: value", header ? header : "");
        for (size_t i = 0; reserved[i]; i++)
            if (strlen(reserved[i]) == name_len && strncasecmp(header, reserved[i], name_len) == 0)
                return zb_config_fail(config, child, "%.*s is the agent's to send%s", (int)name_len,
                                      header, i == 0 ? " (set http-host)" : "");
        w = snprintf(send_buf + at, size - at, "%s\r\n", header);
        at = w > 0 && (size_t)w < size - at ? at + (size_t)w : size;
    }
    if (at + 2 >= size)
        return zb_config_fail(config, where ? where : node, "the request is longer than %d bytes",
                              ZB_PROBE_SEND_MAX);
    memcpy(send_buf + at, "\r\n", 2);
    probe->send_len = at + 2;
    probe->reply = ZB_PROBE_REPLY_HTTP;
    //  The body text, and the statuses that are up.
    zconfig_t *body = zconfig_locate(node, "expect-body");
    if (zb_config_bytes(config, node, "expect-body", expect_buf, ZB_HTTP_EXPECT_BODY_MAX + 1,
                        &probe->expect_len) == -1)
        return -1;
    if (body && (probe->expect_len == 0 || probe->expect_len > ZB_HTTP_EXPECT_BODY_MAX))
        return zb_config_fail(config, body, "must be 1 to %d bytes", ZB_HTTP_EXPECT_BODY_MAX);
    *expect_status = zb_config_string(config, node, "expect-status", "200-399");
    const char *why;
    if (zb_config_error(config))
        return -1;
    if (zb_http_status_check(*expect_status, &why) == -1)
        return zb_config_fail(config, zconfig_locate(node, "expect-status"), "%s", why);
    return 0;
}

//  A probed service: `probe = host:port` and how to check it.
static int s_load_probe(zb_config_t *config, zconfig_t *node, zb_agent_config_t *self,
                        zb_probe_config_t *probe)
{
    zconfig_t *target = zconfig_locate(node, "probe");
    const char *text = zb_config_string(config, node, "probe", NULL);
    if (zb_config_error(config))
        return -1;
    if (!text)
        return zb_config_fail(config, target, "is empty (expected host:port)");
    char why[300], host[ZB_PROBE_TARGET_MAX + 1];
    if (strlen(text) > ZB_PROBE_TARGET_MAX)
        return zb_config_fail(config, target, "is too long");
    //  A name is only checked for its form here: it is resolved by the
    //  running probe, and one that does not resolve (yet) is a service
    //  that is down, not a configuration error.
    if (zb_net_parse(text, host, sizeof(host), &probe->port, &probe->addr, &probe->literal, why,
                     sizeof(why)) == -1)
        return zb_config_fail(config, target, "%s", why);

    int64_t value;
    if (zb_config_duration(config, node, "interval", ZB_INTERVAL_DEFAULT_MS, ZB_INTERVAL_MIN_MS,
                           ZB_INTERVAL_MAX_MS, &value) == -1)
        return -1;
    probe->interval_ms = value;
    //  The default timeout fits short intervals too.
    int64_t timeout_default = ZB_TIMEOUT_DEFAULT_MS < probe->interval_ms / 2
                                  ? ZB_TIMEOUT_DEFAULT_MS
                                  : probe->interval_ms / 2;
    if (zb_config_duration(config, node, "timeout", timeout_default, 1, ZB_INTERVAL_MAX_MS,
                           &value) == -1)
        return -1;
    probe->timeout_ms = value;
    if (probe->timeout_ms >= probe->interval_ms) {
        char timeout[32], interval[32];
        zb_time_format_duration(probe->timeout_ms, timeout, sizeof(timeout));
        zb_time_format_duration(probe->interval_ms, interval, sizeof(interval));
        zconfig_t *where = zconfig_locate(node, "timeout");
        return zb_config_fail(config, where ? where : node,
                              "timeout %s must be shorter than interval %s", timeout, interval);
    }
    if (zb_config_int(config, node, "fails", 3, 1, 100, &value) == -1)
        return -1;
    probe->fails = (int)value;

    zconfig_t *send = zconfig_locate(node, "send");
    zconfig_t *expect = zconfig_locate(node, "expect");
    const char *check = zb_config_string(config, node, "check", NULL);
    if (zb_config_error(config))
        return -1;
    const s_preset_t *preset = NULL;
    for (size_t i = 0; check && i < sizeof(s_presets) / sizeof(s_presets[0]); i++)
        if (strcmp(check, s_presets[i].name) == 0)
            preset = &s_presets[i];
    if (check && !preset)
        return zb_config_fail(config, zconfig_locate(node, "check"),
                              "\"%s\" is not a check (" S_CHECKS ")", check);
    if (preset && preset->fixed && (send || expect))
        return zb_config_fail(config, send ? send : expect,
                              "does not go with check = %s (its exchange is the protocol's)",
                              check);
    char send_buf[ZB_PROBE_SEND_MAX], expect_buf[ZB_PROBE_EXPECT_MAX];
    if (zb_config_bytes(config, node, "send", send_buf, sizeof(send_buf), &probe->send_len) == -1 ||
        zb_config_bytes(config, node, "expect", expect_buf, sizeof(expect_buf),
                        &probe->expect_len) == -1)
        return -1;
    if (send && probe->send_len == 0)
        return zb_config_fail(config, send,
                              "is empty (leave send out for a connection-only check)");
    if (expect && probe->expect_len == 0)
        return zb_config_fail(config, expect, "is empty (leave expect out to accept any reply)");
    bool preset_send = preset && preset->send && !send;
    bool http = zconfig_locate(node, "http") || (preset && preset->reply == ZB_PROBE_REPLY_HTTP);
    if (expect && !send && !preset_send && !http)
        return zb_config_fail(config, expect, "needs send (a reply is only read after a ping)");
    probe->reply = ZB_PROBE_REPLY_PREFIX;
    if (preset && !send) {
        //  Presets without a ping (tcp, https) have no text at all.
        if (preset->send_len)
            memcpy(send_buf, preset->send, preset->send_len);
        probe->send_len = preset->send_len;
        probe->reply = preset->reply;
        if (!expect && preset->expect_len) {
            memcpy(expect_buf, preset->expect, preset->expect_len);
            probe->expect_len = preset->expect_len;
        }
    }
    const char *tls_ca = NULL, *tls_name = NULL, *expect_status = "";
    if (s_load_tls(config, node, check, preset && preset->tls, probe, &tls_ca, &tls_name) == -1)
        return -1;
    if (!tls_ca)
        tls_ca = "";
    if (!tls_name)
        tls_name = "";
    if (s_load_http(config, node, http, host, tls_name, probe, send_buf, expect_buf,
                    &expect_status) == -1)
        return -1;
    //  Held only where the connection carries a real ping: an idle
    //  connection proves little more than a new one, and servers wait for
    //  it on a graceful shutdown.
    probe->hold = probe->send_len > 0 && !(preset && preset->fixed);
    if (s_yes_no(config, node, "hold", &probe->hold) == -1)
        return -1;
    if (probe->hold && preset && preset->fixed)
        return zb_config_fail(config, zconfig_locate(node, "hold"),
                              "check = %s takes one exchange per connection: hold = no", check);
    //  A held connection says nothing about the listener: a bare connect
    //  beside each ping does (zb_probe.h).
    probe->listener_check = probe->hold && probe->send_len > 0;
    if (s_yes_no(config, node, "listener-check", &probe->listener_check) == -1)
        return -1;
    if (probe->listener_check && !(probe->hold && probe->send_len > 0))
        return zb_config_fail(config, zconfig_locate(node, "listener-check"),
                              "applies to a held connection with a ping (hold = yes and send, "
                              "or a check that pings)");
    zconfig_t *resolve = zconfig_locate(node, "resolve");
    if (resolve && probe->literal)
        return zb_config_fail(config, resolve, "applies to names; %s is an address", host);
    if (zb_config_duration(config, node, "resolve", 0, ZB_RESOLVE_MIN_MS, ZB_RESOLVE_MAX_MS,
                           &value) == -1)
        return -1;
    probe->resolve_ms = value;
    //  The texts at their real size (fixed buffers for the longest ping
    //  would cost 1.6 KB per service), in the config's slabs.
    const char *name = zconfig_name(node);
    size_t name_len = strlen(name), target_len = strlen(text), host_len = strlen(host);
    size_t ca_len = strlen(tls_ca), tls_name_len = strlen(tls_name);
    size_t status_len = strlen(expect_status);
    size_t fail_len = probe->reply == ZB_PROBE_REPLY_HTTP ? probe->expect_len : 0;
    char *block = s_text_alloc(self, name_len + 1 + target_len + 1 + host_len + 1 +
                                         probe->send_len + 1 + probe->expect_len + 1 + ca_len + 1 +
                                         tls_name_len + 1 + status_len + 1 + fail_len);
    if (!block)
        return zb_config_fail(config, NULL, "out of memory");
    char *target_text = block + name_len + 1;
    char *host_text = target_text + target_len + 1;
    char *send_text = host_text + host_len + 1;
    char *expect_text = send_text + probe->send_len + 1;
    memcpy(block, name, name_len + 1);
    memcpy(target_text, text, target_len + 1);
    memcpy(host_text, host, host_len + 1);
    memcpy(send_text, send_buf, probe->send_len);
    send_text[probe->send_len] = '\0';
    memcpy(expect_text, expect_buf, probe->expect_len);
    expect_text[probe->expect_len] = '\0';
    probe->name = block;
    probe->target = target_text;
    probe->host = host_text;
    probe->send = send_text;
    probe->expect = expect_text;
    char *ca_text = expect_text + probe->expect_len + 1;
    char *tls_name_text = ca_text + ca_len + 1;
    memcpy(ca_text, tls_ca, ca_len + 1);
    memcpy(tls_name_text, tls_name, tls_name_len + 1);
    probe->tls_ca = ca_text;
    probe->tls_name = tls_name_text;
    char *status_text = tls_name_text + tls_name_len + 1;
    memcpy(status_text, expect_status, status_len + 1);
    probe->expect_status = status_text;
    probe->expect_fail = NULL;
    if (fail_len) {
        uint8_t *fail = (uint8_t *)(status_text + status_len + 1);
        zb_http_body_table(probe->expect, probe->expect_len, fail);
        probe->expect_fail = fail;
    }
    return 0;
}

//  A service that heartbeats the agent: `push = DURATION` (and maybe
//  `timeout`), or `ttl = DURATION`.
static int s_load_push(zb_config_t *config, zconfig_t *node, zb_push_kind_t kind,
                       zb_push_config_t *push)
{
    const char *key = kind == ZB_PUSH_PUSH ? "push" : "ttl";
    //  Probe keys mean nothing here; saying so beats ignoring them.
    const char *const *allowed = kind == ZB_PUSH_PUSH ? s_push_keys : s_ttl_keys;
    for (zconfig_t *child = zconfig_child(node); child; child = zconfig_next(child)) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || strcmp(zconfig_name(child), allowed[i]) == 0;
        if (!ok)
            return zb_config_fail(config, child, "does not apply to %s services (%s)", key,
                                  kind == ZB_PUSH_PUSH ? "they take push and timeout"
                                                       : "they take ttl only");
    }
    snprintf(push->name, sizeof(push->name), "%s", zconfig_name(node));
    push->kind = kind;
    int64_t value;
    if (kind == ZB_PUSH_TTL) {
        if (zb_config_duration(config, node, "ttl", 0, ZB_TTL_MIN_MS, ZB_TTL_MAX_MS, &value) == -1)
            return -1;
        push->period_ms = push->deadline_ms = value;
        return 0;
    }
    if (zb_config_duration(config, node, "push", 0, ZB_PUSH_MIN_MS, ZB_PUSH_MAX_MS, &value) == -1)
        return -1;
    push->period_ms = value;
    //  Half a period of slack: a heartbeat a little late is not an outage.
    if (zb_config_duration(config, node, "timeout", value + value / 2, 1, ZB_PUSH_TIMEOUT_MAX_MS,
                           &value) == -1)
        return -1;
    push->deadline_ms = value;
    if (push->deadline_ms < push->period_ms) {
        char timeout[32], period[32];
        zb_time_format_duration(push->deadline_ms, timeout, sizeof(timeout));
        zb_time_format_duration(push->period_ms, period, sizeof(period));
        return zb_config_fail(config, zconfig_locate(node, "timeout"),
                              "timeout %s must not be shorter than push %s", timeout, period);
    }
    return 0;
}

static int s_load_service(zb_config_t *config, zconfig_t *node, zb_agent_config_t *self,
                          zb_service_config_t *service)
{
    const char *name = zconfig_name(node);
    if (!zb_name_valid(name))
        return zb_config_fail(config, node, "\"%s\" is not a valid service name (" ZB_NAME_RULE ")",
                              name);
    if (zb_config_check_known(config, node, s_service_keys) == -1)
        return -1;
    //  Exactly one of probe, push, ttl says what kind of service this is.
    zconfig_t *kinds[] = {zconfig_locate(node, "probe"), zconfig_locate(node, "push"),
                          zconfig_locate(node, "ttl")};
    zconfig_t *first = NULL;
    for (size_t i = 0; i < 3; i++) {
        if (kinds[i] && first)
            return zb_config_fail(config, kinds[i],
                                  "a service takes exactly one of probe, push, ttl (%s is set)",
                                  zconfig_name(first));
        if (kinds[i])
            first = kinds[i];
    }
    if (!first)
        return zb_config_fail(config, node,
                              "one of probe = host:port, push = DURATION, ttl = DURATION is "
                              "required");
    service->probed = kinds[0] != NULL;
    if (service->probed)
        return s_load_probe(config, node, self, &service->probe);
    return s_load_push(config, node, kinds[1] ? ZB_PUSH_PUSH : ZB_PUSH_TTL, &service->push);
}

static int s_load_services(zb_config_t *config, zconfig_t *section, zb_agent_config_t *self)
{
    size_t count = 0;
    for (zconfig_t *node = zconfig_child(section); node; node = zconfig_next(node))
        count++;
    if (count > ZB_AGENT_MAX_SERVICES)
        return zb_config_fail(config, section, "%zu services; at most %d are supported", count,
                              ZB_AGENT_MAX_SERVICES);
    if (count == 0)
        return 0;
    self->services = calloc(count, sizeof(*self->services));
    zhashx_t *seen = zhashx_new();
    int rc = -1;
    if (!self->services || !seen) {
        zb_config_fail(config, NULL, "out of memory");
        goto done;
    }
    for (zconfig_t *node = zconfig_child(section); node; node = zconfig_next(node)) {
        if (zhashx_insert(seen, zconfig_name(node), node) == -1) {
            zb_config_fail(config, node, "service given twice");
            goto done;
        }
        if (s_load_service(config, node, self, &self->services[self->service_count]) == -1)
            goto done;
        if (!self->services[self->service_count].probed)
            self->push_count++;
        self->service_count++;
    }
    rc = 0;
done:
    zhashx_destroy(&seen);
    return rc;
}

//  The journal's directory must exist and be a directory. Returns 0, or -1
//  with a reason in err.
static int s_journal_dir_check(const char *path, char *err, size_t errsize)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(err, errsize, "directory %.200s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errsize, "%.200s is not a directory", dir);
        return -1;
    }
    return 0;
}

static int s_load_agent(zb_config_t *config, zconfig_t *section, zb_agent_config_t *self,
                        bool name_overridden)
{
    if (zb_config_check_known(config, section, s_agent_keys) == -1)
        return -1;
    const char *name = zb_config_string(config, section, "name", NULL);
    const char *monitor = zb_config_string(config, section, "monitor", ZB_AGENT_MONITOR_DEFAULT);
    const char *listen = zb_config_string(config, section, "listen", ZB_LISTENER_ENDPOINT);
    if (zb_config_error(config))
        return -1;
    char why[300];
    if (name && !zb_name_valid(name))
        return zb_config_fail(config, zconfig_locate(section, "name"),
                              "\"%s\" is not a valid host name (" ZB_NAME_RULE ")", name);
    if (name)
        snprintf(self->name, sizeof(self->name), "%s", name);
    else if (!name_overridden) {
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) == -1 || !zb_name_valid(host))
            return zb_config_fail(
                config, NULL,
                "the machine's host name \"%s\" is not a valid name (" ZB_NAME_RULE
                "); set agent/name",
                host);
        snprintf(self->name, sizeof(self->name), "%.*s", ZB_NAME_MAX, host); // valid: fits
    }
    if (zb_net_endpoints_check(monitor, false, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, "monitor"), "%s", why);
    if (zb_listener_endpoint_check(listen, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, "listen"), "%s", why);
    int64_t beat;
    if (zb_config_duration(config, section, "beat", ZB_AGENT_BEAT_DEFAULT_MS, ZB_BEAT_MIN_MS,
                           ZB_BEAT_MAX_MS, &beat) == -1)
        return -1;
    self->beat_ms = beat;
    //  1: every beat full, the v1 wire (the default: v1 monitors read it).
    int64_t full_every;
    if (zb_config_int(config, section, "full-every", 1, 1, ZB_AGENT_FULL_EVERY_MAX, &full_every) ==
        -1)
        return -1;
    self->full_every = full_every;
    //  CURVE: both keys or neither.
    const char *cert = zb_config_string(config, section, "cert", NULL);
    const char *monitor_cert = zb_config_string(config, section, "monitor-cert", NULL);
    if (zb_config_error(config))
        return -1;
    if (cert && !monitor_cert)
        return zb_config_fail(config, zconfig_locate(section, "cert"),
                              "needs agent/monitor-cert (the monitor's public certificate)");
    if (monitor_cert && !cert)
        return zb_config_fail(config, zconfig_locate(section, "monitor-cert"),
                              "needs agent/cert (this agent's secret certificate)");
    int which;
    if (cert && zb_curve_load(cert, monitor_cert, &self->curve, &which, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, which ? "monitor-cert" : "cert"),
                              "%s", why);
    //  Journal and replay (docs/operations.md, "Nothing lost").
    const char *journal = zb_config_string(config, section, "journal", NULL);
    const char *replay = zb_config_string(config, section, "replay", NULL);
    if (zb_config_error(config))
        return -1;
    if (replay && zb_net_endpoints_check(replay, false, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, "replay"), "%s", why);
    //  Liveness datagrams (docs/config-agent.md, "Liveness datagrams").
    const char *udp = zb_config_string(config, section, "udp", NULL);
    zb_config_duration(config, section, "udp-beat", ZB_ALIVE_BEAT_DEFAULT_MS, ZB_ALIVE_BEAT_MIN_MS,
                       ZB_ALIVE_BEAT_MAX_MS, &self->udp_beat_ms);
    if (zb_config_error(config))
        return -1;
    if (udp && zb_alive_check(udp, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, "udp"), "%s", why);
    self->udp = udp ? strdup(udp) : NULL;
    if (udp && !self->udp)
        return zb_config_fail(config, NULL, "out of memory");
    zconfig_t *journal_node = section ? zconfig_locate(section, "journal") : NULL;
    if (journal_node && !journal)
        return zb_config_fail(config, journal_node, "is empty");
    //  The journal file is created at start, its directory is not: a
    //  missing one must fail --check-config, not the agent's first start.
    if (journal && s_journal_dir_check(journal, why, sizeof(why)) == -1)
        return zb_config_fail(config, journal_node, "%s", why);
    //  discover = docker (docs/config-agent.md, "Docker").
    const char *discover = zb_config_string(config, section, "discover", NULL);
    const char *docker = zb_config_string(config, section, "docker", ZB_DOCKER_SOCKET_DEFAULT);
    const char *filter = zb_config_string(config, section, "discover-filter", NULL);
    if (zb_config_error(config))
        return -1;
    if (discover && strcmp(discover, "docker") != 0)
        return zb_config_fail(config, zconfig_locate(section, "discover"),
                              "\"%s\" is not a source of services (docker)", discover);
    if (zb_docker_url_check(docker, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, "docker"), "%s", why);
    if (filter && zb_docker_filter_check(filter, why, sizeof(why)) == -1)
        return zb_config_fail(config, zconfig_locate(section, "discover-filter"), "%s", why);
    self->discover_docker = discover != NULL;
    self->docker = strdup(docker);
    self->discover_filter = filter ? strdup(filter) : NULL;
    if (!self->docker || (filter && !self->discover_filter))
        return zb_config_fail(config, NULL, "out of memory");
    self->journal = journal ? strdup(journal) : NULL;
    self->replay = replay ? strdup(replay) : NULL;
    self->monitor = strdup(monitor);
    self->listen = strdup(listen);
    if (!self->monitor || !self->listen || (journal && !self->journal) || (replay && !self->replay))
        return zb_config_fail(config, NULL, "out of memory");
    return 0;
}

static int s_apply_overrides(zb_agent_config_t *self, const zb_agent_overrides_t *overrides,
                             char *err, size_t errsize)
{
    char why[300];
    if (overrides->name) {
        if (!zb_name_valid(overrides->name)) {
            snprintf(err, errsize, "%s: \"%s\" is not a valid host name (" ZB_NAME_RULE ")",
                     overrides->name_source, overrides->name);
            return -1;
        }
        snprintf(self->name, sizeof(self->name), "%s", overrides->name);
    }
    if (overrides->monitor) {
        if (zb_net_endpoints_check(overrides->monitor, false, why, sizeof(why)) == -1) {
            snprintf(err, errsize, "%s: %s", overrides->monitor_source, why);
            return -1;
        }
        char *monitor = strdup(overrides->monitor);
        if (!monitor) {
            snprintf(err, errsize, "%s: out of memory", overrides->monitor_source);
            return -1;
        }
        free(self->monitor);
        self->monitor = monitor;
    }
    return 0;
}

zb_agent_config_t *zb_agent_config_load(const char *path, const zb_agent_overrides_t *overrides,
                                        char *err, size_t errsize)
{
    assert(path && err);
    zb_agent_overrides_t none = {NULL, NULL, NULL, NULL};
    if (!overrides)
        overrides = &none;
    zb_agent_config_t *self = NULL;
    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        goto failed;
    self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "%s: out of memory", path);
        goto failed;
    }
    zconfig_t *root = zb_config_root(config);
    if (zb_config_check_known(config, root, s_root_keys) == 0 &&
        s_load_agent(config, zconfig_locate(root, "agent"), self, overrides->name != NULL) == 0) {
        zconfig_t *services = zconfig_locate(root, "service");
        if (services)
            s_load_services(config, services, self);
    }
    if (zb_config_error(config)) {
        snprintf(err, errsize, "%s", zb_config_error(config));
        goto failed;
    }
    if (s_apply_overrides(self, overrides, err, errsize) == -1)
        goto failed;
    //  The monitor refuses every message for another host than the one its
    //  allow-list binds to this key: say so now rather than be ignored.
    if (self->curve.on && self->curve.host[0] && strcmp(self->curve.host, self->name) != 0) {
        snprintf(err, errsize,
                 "%s: agent/cert: the certificate is for host %s, but this agent is %s%s%s%s", path,
                 self->curve.host, self->name, overrides->name ? " (" : "",
                 overrides->name ? overrides->name_source : "", overrides->name ? ")" : "");
        goto failed;
    }
    zb_config_destroy(&config);
    //  The parse tree was thousands of small blocks, which free() leaves
    //  in malloc's fast bins, unmerged: coalesce them now, so that what the
    //  agent allocates next reuses them, and give whole pages back.
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return self;
failed:
    zb_agent_config_destroy(&self);
    zb_config_destroy(&config);
    return NULL;
}

//  One probed service from keys and values; errors name a key as
//  key_word + KEY ("label zbeat.interval", "--interval").
static zb_agent_config_t *s_service_from(const char *source, const char *name,
                                         const char *const *keys, const char *const *values,
                                         size_t count, const char *key_word, char *err,
                                         size_t errsize)
{
    zb_config_t *config = zb_config_new_empty(source);
    zb_agent_config_t *self = calloc(1, sizeof(*self));
    zconfig_t *section = config ? zconfig_new("service", zb_config_root(config)) : NULL;
    zconfig_t *node = section ? zconfig_new(name, section) : NULL;
    if (!self || !node) {
        snprintf(err, errsize, "%s: out of memory", source);
        goto failed;
    }
    for (size_t i = 0; i < count; i++) {
        //  http-header may be given more than once; any other key once,
        //  the last value winning.
        zconfig_t *key = strcmp(keys[i], "http-header") == 0 ? NULL : zconfig_locate(node, keys[i]);
        if (!key)
            key = zconfig_new(keys[i], node);
        if (!key) {
            snprintf(err, errsize, "%s: out of memory", source);
            goto failed;
        }
        zconfig_set_value(key, "%s", values[i]);
    }
    if (s_load_services(config, section, self) == -1 || zb_config_error(config)) {
        //  "SOURCE: service/NAME/KEY: why" -> "SOURCE: label zbeat.KEY: why"
        const char *text = zb_config_error(config);
        char prefix[ZB_NAME_MAX + 16];
        snprintf(prefix, sizeof(prefix), "service/%s/", name);
        const char *at = strstr(text, prefix);
        if (at)
            snprintf(err, errsize, "%.*s%s%s", (int)(at - text), text, key_word,
                     at + strlen(prefix));
        else
            snprintf(err, errsize, "%s", text);
        goto failed;
    }
    if (!self->services[0].probed) {
        snprintf(err, errsize, "%s: a discovered service is probed (no push or ttl)", source);
        goto failed;
    }
    zb_config_destroy(&config);
    return self;
failed:
    zb_agent_config_destroy(&self);
    zb_config_destroy(&config);
    return NULL;
}

zb_agent_config_t *zb_agent_config_service(const char *source, const char *name,
                                           const char *const *keys, const char *const *values,
                                           size_t count, char *err, size_t errsize)
{
    return s_service_from(source, name, keys, values, count, "label zbeat.", err, errsize);
}

zb_agent_config_t *zb_agent_config_flags(const char *target, const char *const *keys,
                                         const char *const *values, size_t count, char *err,
                                         size_t errsize)
{
    //  probe, and a long interval: the flags have no interval, and a
    //  service's timeout must be shorter than its interval.
    const char *all_keys[ZB_AGENT_FLAGS_MAX + 2], *all_values[ZB_AGENT_FLAGS_MAX + 2];
    const char *interval = "1h"; // ZB_INTERVAL_MAX_MS
    if (count > ZB_AGENT_FLAGS_MAX) {
        snprintf(err, errsize, "more than %d options", ZB_AGENT_FLAGS_MAX);
        return NULL;
    }
    all_keys[0] = "probe";
    all_values[0] = target;
    all_keys[1] = "interval";
    all_values[1] = interval;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(keys[i], "probe") == 0 || strcmp(keys[i], "interval") == 0 ||
            strcmp(keys[i], "push") == 0 || strcmp(keys[i], "ttl") == 0) {
            snprintf(err, errsize, "--%s: not an option of --probe-once", keys[i]);
            return NULL;
        }
        all_keys[i + 2] = keys[i];
        all_values[i + 2] = values[i];
    }
    char inner[1024];
    zb_agent_config_t *self =
        s_service_from("", "once", all_keys, all_values, count + 2, "--", inner, sizeof(inner));
    if (!self) {
        //  ": --KEY: why"; the probe's own key is the target.
        const char *text = strncmp(inner, ": ", 2) == 0 ? inner + 2 : inner;
        if (strncmp(text, "--probe: ", 9) == 0)
            snprintf(err, errsize, "--probe-once: %s", text + 9);
        else
            snprintf(err, errsize, "%s", text);
        return NULL;
    }
    self->services[0].probe.name = ""; // a probe of no service
    return self;
}

//  Self-test

static zb_agent_config_t *s_load_text(const char *text, const zb_agent_overrides_t *overrides,
                                      char *err, size_t errsize)
{
    char path[] = "/tmp/zb-agent-config-test-XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    zb_agent_config_t *self = zb_agent_config_load(path, overrides, err, errsize);
    //  Errors start with the file name; drop it to compare the rest.
    size_t len = strlen(path);
    if (!self && strncmp(err, path, len) == 0)
        memmove(err, err + len, strlen(err + len) + 1);
    unlink(path);
    return self;
}

static void s_expect_error(const char *text, const char *expect)
{
    char err[512];
    zb_agent_config_t *self = s_load_text(text, NULL, err, sizeof(err));
    if (self || strcmp(err, expect) != 0) {
        fprintf(stderr, "\nconfig:\n%s\nwanted: '%s'\ngot:    '%s'\n", text, expect,
                self ? "(loaded)" : err);
        assert(false);
    }
}

void zb_agent_config_test(bool verbose)
{
    (void)verbose;
    char err[512];
    zb_agent_config_t *self = s_load_text("agent\n"
                                          "    name = web-1\n"
                                          "    monitor = tcp://10.0.0.1:7400, tcp://[::1]:7400\n"
                                          "    beat = 200ms\n"
                                          "service\n"
                                          "    redis\n"
                                          "        probe = 127.0.0.1:6379\n"
                                          "        send = \"PING\\r\\n\"\n"
                                          "        expect = \"+PONG\"\n"
                                          "        interval = 2s\n"
                                          "        timeout = 1s\n"
                                          "        fails = 5\n"
                                          "    ssh\n"
                                          "        probe = [::1]:22\n"
                                          "        interval = 200ms\n",
                                          NULL, err, sizeof(err));
    assert(self);
    assert(strcmp(self->name, "web-1") == 0);
    assert(strcmp(self->monitor, "tcp://10.0.0.1:7400, tcp://[::1]:7400") == 0);
    assert(self->beat_ms == 200 && strcmp(self->listen, ZB_LISTENER_ENDPOINT) == 0);
    assert(self->service_count == 2 && self->push_count == 0);
    assert(self->services[0].probed && self->services[1].probed);
    zb_probe_config_t *redis = &self->services[0].probe, *ssh = &self->services[1].probe;
    assert(strcmp(redis->name, "redis") == 0 && strcmp(redis->target, "127.0.0.1:6379") == 0);
    assert(redis->send_len == 6 && memcmp(redis->send, "PING\r\n", 6) == 0);
    assert(redis->expect_len == 5 && memcmp(redis->expect, "+PONG", 5) == 0);
    assert(redis->interval_ms == 2000 && redis->timeout_ms == 1000 && redis->fails == 5);
    assert(ssh->send_len == 0 && ssh->expect_len == 0);
    assert(ssh->send && ssh->expect && strcmp(ssh->target, "[::1]:22") == 0);
    assert(ssh->interval_ms == 200 && ssh->timeout_ms == 100 && ssh->fails == 3);
    assert(ssh->literal && ssh->addr.addr.sa.sa_family == AF_INET6 && ssh->port == 22);
    assert(redis->hold && !ssh->hold); // held where there is a ping
    assert(redis->resolve_ms == 0 && strcmp(redis->host, "127.0.0.1") == 0);
    zb_agent_config_destroy(&self);

    //  Names are resolved by the running probe: one that does not resolve
    //  is no configuration error. hold and resolve.
    self = s_load_text("service\n"
                       "    cache\n"
                       "        probe = no-such-host.invalid:6379\n"
                       "        resolve = 30s\n"
                       "        hold = yes\n"
                       "    db\n"
                       "        probe = db.internal:5432\n"
                       "        send = x\n"
                       "        hold = no\n",
                       NULL, err, sizeof(err));
    assert(self);
    zb_probe_config_t *cache = &self->services[0].probe, *db = &self->services[1].probe;
    assert(!cache->literal && strcmp(cache->host, "no-such-host.invalid") == 0);
    assert(cache->port == 6379 && cache->resolve_ms == 30000 && cache->hold);
    assert(!db->literal && db->port == 5432 && db->resolve_ms == 0 && !db->hold);
    assert(strcmp(db->target, "db.internal:5432") == 0 && db->send_len == 1);
    zb_agent_config_destroy(&self);
    //  check = NAME presets, and explicit keys over them.
    self = s_load_text("service\n"
                       "    r\n        probe = 127.0.0.1:1\n        check = redis\n"
                       "    m\n        probe = 127.0.0.1:1\n        check = memcached\n"
                       "    p\n        probe = 127.0.0.1:1\n        check = postgres\n"
                       "    t\n        probe = 127.0.0.1:1\n        check = tcp\n"
                       "    e\n        probe = 127.0.0.1:1\n        check = redis\n"
                       "        expect = \"+PON\"\n"
                       "    s\n        probe = 127.0.0.1:1\n        check = redis\n"
                       "        send = \"ECHO x\\r\\n\"\n        hold = no\n",
                       NULL, err, sizeof(err));
    assert(self && self->service_count == 6);
    zb_probe_config_t *p = &self->services[0].probe;
    assert(p->send_len == 6 && memcmp(p->send, "PING\r\n", 6) == 0 && p->hold);
    assert(p->expect_len == 5 && memcmp(p->expect, "+PONG", 5) == 0);
    p = &self->services[1].probe;
    assert(p->send_len == 9 && p->expect_len == 8 && memcmp(p->expect, "VERSION ", 8) == 0);
    p = &self->services[2].probe;
    assert(p->send_len == 8 && memcmp(p->send, "\0\0\0\x08\x04\xd2\x16\x2f", 8) == 0);
    assert(p->expect_len == 0 && p->reply == ZB_PROBE_REPLY_PG_SSL && !p->hold);
    p = &self->services[3].probe;
    assert(p->send_len == 0 && !p->hold && p->reply == ZB_PROBE_REPLY_PREFIX);
    p = &self->services[4].probe;
    assert(p->send_len == 6 && p->expect_len == 4 && memcmp(p->expect, "+PON", 4) == 0);
    p = &self->services[5].probe;
    assert(p->send_len == 8 && p->expect_len == 0 && !p->hold);
    zb_agent_config_destroy(&self);
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = mongo\n",
                   ": service/a/check: \"mongo\" is not a check (" S_CHECKS ")");
    //  HTTP: the request made from http, http-host and http-header.
    self = s_load_text("service\n"
                       "    web\n        probe = example.org:8443\n        check = https\n"
                       "        http = HEAD /healthz\n        http-header = X-A: 1\n"
                       "        http-header = X-B: two words\n        expect-status = 2xx,301\n"
                       "        expect-body = \"ok\"\n"
                       "    plain\n        probe = 10.0.0.1:80\n        http = GET /\n"
                       "    ssh\n        probe = 10.0.0.1:22\n        check = ssh\n"
                       "    smtp\n        probe = 10.0.0.1:25\n        check = smtp\n",
                       NULL, err, sizeof(err));
    assert(self);
    p = &self->services[0].probe;
    const char *request = "HEAD /healthz HTTP/1.1\r\nHost: example.org:8443\r\nUser-Agent: "
                          "zbeat-agent/" ZB_VERSION "\r\nX-A: 1\r\nX-B: two words\r\n\r\n";
    assert(p->send_len == strlen(request) && memcmp(p->send, request, p->send_len) == 0);
    assert(p->reply == ZB_PROBE_REPLY_HTTP && p->tls && p->tls_verify && p->hold && p->http_head);
    assert(strcmp(p->expect_status, "2xx,301") == 0 && p->expect_len == 2 && p->expect_fail);
    p = &self->services[1].probe;
    assert(strstr(p->send, "\r\nHost: 10.0.0.1\r\n") && !p->tls && p->expect_len == 0);
    assert(strcmp(p->expect_status, "200-399") == 0 && !p->http_head);
    p = &self->services[2].probe;
    assert(p->reply == ZB_PROBE_REPLY_GREETING && !p->hold && p->send_len == 15);
    assert(p->expect_len == 4 && memcmp(p->expect, "SSH-", 4) == 0);
    p = &self->services[3].probe;
    assert(p->reply == ZB_PROBE_REPLY_GREETING && p->send_len == 6 && p->expect_len == 3);
    zb_agent_config_destroy(&self);
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        expect-body = x\n",
                   ": service/a/expect-body: needs http = METHOD PATH (or check = http or https)");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        http = get /\n",
                   ": service/a/http: \"get /\" is not METHOD PATH (GET /healthz, HEAD /, "
                   "OPTIONS *)");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = http\n"
                   "        send = x\n",
                   ": service/a/send: does not go with http (the request is made from http, "
                   "http-host and http-header; expect-body checks the body)");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = http\n"
                   "        http-header = Host: x\n",
                   ": service/a/http-header: Host is the agent's to send (set http-host)");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = http\n"
                   "        expect-status = 2xx-3xx\n",
                   ": service/a/expect-status: is not a list of codes (200), ranges (200-399) "
                   "and classes (3xx), from 100 to 599");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = ssh\n"
                   "        hold = yes\n",
                   ": service/a/hold: check = ssh takes one exchange per connection: hold = no");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = postgres\n"
                   "        hold = yes\n",
                   ": service/a/hold: check = postgres takes one exchange per connection: hold = "
                   "no");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        check = postgres\n"
                   "        send = x\n",
                   ": service/a/send: does not go with check = postgres (its exchange is the "
                   "protocol's)");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        hold = maybe\n",
                   ": service/a/hold: \"maybe\" is not yes or no");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        resolve = 5s\n",
                   ": service/a/resolve: applies to names; 127.0.0.1 is an address");
    s_expect_error("service\n    a\n        probe = a.b:1\n        resolve = 10ms\n",
                   ": service/a/resolve: \"10ms\" is out of range (1.0s to 1d00h)");
    assert(self == NULL);
    zb_agent_config_destroy(&self);

    //  Defaults, and overrides winning over the file.
    zb_agent_overrides_t overrides = {"db-2", "--name", "tcp://127.0.0.1:9", "ZBEAT_MONITOR"};
    self = s_load_text("agent\n    name = web-1\n", &overrides, err, sizeof(err));
    assert(self);
    assert(strcmp(self->name, "db-2") == 0 && strcmp(self->monitor, "tcp://127.0.0.1:9") == 0);
    assert(self->beat_ms == 1000 && self->service_count == 0 && self->full_every == 1);
    zb_agent_config_destroy(&self);
    overrides.name = "bad name";
    self = s_load_text("", &overrides, err, sizeof(err));
    assert(!self && strncmp(err, "--name: \"bad name\" is not a valid host name", 43) == 0);
    overrides.name = NULL;
    overrides.monitor = "tcp://x";
    self = s_load_text("", &overrides, err, sizeof(err));
    assert(!self && strncmp(err, "ZBEAT_MONITOR: \"tcp://x\"", 24) == 0);

    //  Push and ttl services, next to a probed one.
    self = s_load_text("agent\n"
                       "    listen = tcp://*:7411\n"
                       "service\n"
                       "    worker\n"
                       "        push = 10s\n"
                       "    importer\n"
                       "        push = 30s\n"
                       "        timeout = 1m\n"
                       "    redis\n"
                       "        probe = 127.0.0.1:6379\n"
                       "    backup\n"
                       "        ttl = 25h\n",
                       NULL, err, sizeof(err));
    assert(self);
    assert(strcmp(self->listen, "tcp://*:7411") == 0);
    assert(self->service_count == 4 && self->push_count == 3);
    zb_push_config_t *worker = &self->services[0].push, *importer = &self->services[1].push,
                     *backup = &self->services[3].push;
    assert(!self->services[0].probed && self->services[2].probed && !self->services[3].probed);
    assert(strcmp(worker->name, "worker") == 0 && worker->kind == ZB_PUSH_PUSH);
    assert(worker->period_ms == 10000 && worker->deadline_ms == 15000);
    assert(importer->period_ms == 30000 && importer->deadline_ms == 60000);
    assert(strcmp(backup->name, "backup") == 0 && backup->kind == ZB_PUSH_TTL);
    assert(backup->period_ms == 25 * 3600 * 1000 && backup->deadline_ms == backup->period_ms);
    assert(strcmp(self->services[2].probe.name, "redis") == 0);
    zb_agent_config_destroy(&self);

    s_expect_error("service\n    w\n        push = 10s\n        ttl = 1h\n",
                   ": service/w/ttl: a service takes exactly one of probe, push, ttl (push is "
                   "set)");
    s_expect_error("service\n    w\n        probe = 127.0.0.1:1\n        push = 1s\n",
                   ": service/w/push: a service takes exactly one of probe, push, ttl (probe is "
                   "set)");
    s_expect_error("service\n    w\n        push = 10s\n        send = x\n",
                   ": service/w/send: does not apply to push services (they take push and "
                   "timeout)");
    s_expect_error("service\n    w\n        ttl = 1h\n        timeout = 2h\n",
                   ": service/w/timeout: does not apply to ttl services (they take ttl only)");
    s_expect_error("service\n    w\n        push = 10s\n        timeout = 5s\n",
                   ": service/w/timeout: timeout 5.0s must not be shorter than push 10.0s");
    s_expect_error("service\n    w\n        push = 10\n",
                   ": service/w/push: \"10\" is not a duration (e.g. 500ms, 2s, 1m, 1h, 7d)");
    s_expect_error("service\n    w\n        push = 10ms\n",
                   ": service/w/push: \"10ms\" is out of range (100ms to 1h00m)");
    s_expect_error("service\n    w\n        ttl = 0s\n",
                   ": service/w/ttl: \"0s\" is out of range (100ms to 400d00h)");
    s_expect_error("agent\n    listen = tcp://127.0.0.1\n",
                   ": agent/listen: \"tcp://127.0.0.1\": expected HOST:PORT");
    s_expect_error("agent\n    listen = ipc:///tmp/x\n",
                   ": agent/listen: \"ipc:///tmp/x\": only tcp:// is supported");

    s_expect_error("agent\n    beat = 5x\n",
                   ": agent/beat: \"5x\" is not a duration (e.g. 500ms, 2s, 1m, 1h, 7d)");
    s_expect_error("agent\n    beat = 10ms\n",
                   ": agent/beat: \"10ms\" is out of range (100ms to 1h00m)");
    s_expect_error("agent\n    full-every = 0\n",
                   ": agent/full-every: 0 is out of range (1 to 3600)");
    s_expect_error("agent\n    full-every = x\n",
                   ": agent/full-every: \"x\" is not a whole number");
    s_expect_error("agent\n    nmae = x\n", ": agent/nmae: unknown key");
    s_expect_error("agnet\n    name = x\n", ": agnet: unknown key");
    s_expect_error("agent\n    monitor = 127.0.0.1:7400\n",
                   ": agent/monitor: \"127.0.0.1:7400\" is not an endpoint (tcp://host:port or "
                   "ipc://path)");
    s_expect_error("agent\n    listen = tcp://*:x\n", ": agent/listen: \"tcp://*:x\": bad port");
    s_expect_error("service\n    _redis\n        probe = 127.0.0.1:1\n",
                   ": service/_redis: \"_redis\" is not a valid service name (" ZB_NAME_RULE ")");
    s_expect_error("service\n    redis\n        send = x\n",
                   ": service/redis: one of probe = host:port, push = DURATION, ttl = DURATION "
                   "is required");
    s_expect_error("service\n    redis\n        probe = 127.0.0.1:99999\n",
                   ": service/redis/probe: \"127.0.0.1:99999\" is not host:port (port must be "
                   "1..65535)");
    s_expect_error("service\n    redis\n        probe = 127.0.0.1:1\n        timeout = 1s\n",
                   ": service/redis/timeout: timeout 1.0s must be shorter than interval 1.0s");
    s_expect_error("service\n    redis\n        probe = 127.0.0.1:1\n        interval = 1s\n"
                   "        prbe = 1\n",
                   ": service/redis/prbe: unknown key");
    s_expect_error("service\n    redis\n        probe = 127.0.0.1:1\n        expect = x\n",
                   ": service/redis/expect: needs send (a reply is only read after a ping)");
    s_expect_error("service\n    redis\n        probe = 127.0.0.1:1\n        send = \"\"\n",
                   ": service/redis/send: is empty (leave send out for a connection-only check)");
    s_expect_error("service\n    redis\n        probe = 127.0.0.1:1\n        send = \"\\q\"\n",
                   ": service/redis/send: unknown escape \\q");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n    a\n        probe = "
                   "127.0.0.1:2\n",
                   ": service/a: service given twice");
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        fails = 0\n",
                   ": service/a/fails: 0 is out of range (1 to 100)");
    //  The journal's directory must exist (the file itself is created).
    s_expect_error("agent\n    journal = /nonexistent-zb/journal\n",
                   ": agent/journal: directory /nonexistent-zb: No such file or directory");
    s_expect_error("agent\n    journal = /dev/null/journal\n",
                   ": agent/journal: /dev/null is not a directory");
    s_expect_error("agent\n    journal = \"\"\n", ": agent/journal: is empty");
    self = s_load_text("agent\n    journal = /tmp/zb-journal-test\n", NULL, err, sizeof(err));
    assert(self && strcmp(self->journal, "/tmp/zb-journal-test") == 0);
    zb_agent_config_destroy(&self);
    //  discover = docker, and a discovered service's keys checked as a file's.
    self = s_load_text("agent\n    discover = docker\n    discover-filter = label=a=b label=c\n",
                       NULL, err, sizeof(err));
    assert(self && self->discover_docker && strcmp(self->docker, ZB_DOCKER_SOCKET_DEFAULT) == 0);
    assert(strcmp(self->discover_filter, "label=a=b label=c") == 0);
    zb_agent_config_destroy(&self);
    s_expect_error("agent\n    discover = k8s\n",
                   ": agent/discover: \"k8s\" is not a source of services (docker)");
    s_expect_error("agent\n    docker = /var/run/docker.sock\n",
                   ": agent/docker: \"/var/run/docker.sock\" is not unix:///path/to/docker.sock");
    const char *keys[] = {"probe", "check", "interval"};
    const char *values[] = {"10.0.0.2:6379", "redis", "2s"};
    self =
        zb_agent_config_service("docker container c", "cache", keys, values, 3, err, sizeof(err));
    assert(self && self->service_count == 1 && self->services[0].probed);
    assert(self->services[0].probe.interval_ms == 2000 && self->services[0].probe.send_len == 6);
    assert(strcmp(self->services[0].probe.name, "cache") == 0);
    zb_agent_config_destroy(&self);
    values[2] = "5x";
    self =
        zb_agent_config_service("docker container c", "cache", keys, values, 3, err, sizeof(err));
    assert(!self && strcmp(err, "docker container c: label zbeat.interval: \"5x\" is not a "
                                "duration (e.g. 500ms, 2s, 1m, 1h, 7d)") == 0);
    //  listener-check: on for a held ping, refused where nothing is held.
    s_expect_error("service\n    a\n        probe = 127.0.0.1:1\n        listener-check = yes\n",
                   ": service/a/listener-check: applies to a held connection with a ping "
                   "(hold = yes and send, or a check that pings)");
    self = s_load_text("service\n    a\n        probe = 127.0.0.1:1\n        check = redis\n"
                       "    b\n        probe = 127.0.0.1:1\n        check = redis\n"
                       "        listener-check = no\n    c\n        probe = 127.0.0.1:1\n"
                       "        hold = yes\n",
                       NULL, err, sizeof(err));
    assert(self && self->services[0].probe.listener_check);
    assert(!self->services[1].probe.listener_check && !self->services[2].probe.listener_check);
    zb_agent_config_destroy(&self);
    //  --probe-once HOST:PORT's flags, checked as a service's keys.
    const char *flags[] = {"check", "tls-verify", "http-header", "http-header"};
    const char *flag_values[] = {"https", "no", "A: 1", "B: 2"};
    self = zb_agent_config_flags("127.0.0.1:8443", flags, flag_values, 4, err, sizeof(err));
    assert(self && self->services[0].probe.tls && !self->services[0].probe.tls_verify);
    assert(self->services[0].probe.reply == ZB_PROBE_REPLY_HTTP);
    assert(strstr(self->services[0].probe.send, "\r\nA: 1\r\nB: 2\r\n"));
    assert(self->services[0].probe.timeout_ms == 500 && self->services[0].probe.name[0] == '\0');
    zb_agent_config_destroy(&self);
    flag_values[1] = "maybe";
    self = zb_agent_config_flags("127.0.0.1:8443", flags, flag_values, 2, err, sizeof(err));
    assert(!self && strcmp(err, "--tls-verify: \"maybe\" is not yes or no") == 0);
    self = zb_agent_config_flags("127.0.0.1", flags, flag_values, 0, err, sizeof(err));
    assert(!self && strncmp(err, "--probe-once: ", 14) == 0);
}
