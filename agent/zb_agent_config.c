/*  zb_agent_config: the agent's configuration file. See zb_agent_config.h. */
#include "zb_agent_config.h"
#include "zb_agent_config_internal.h"
#include "zb_config.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <czmq.h>
#include <stddef.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const s_root_keys[] = {"agent", "service", NULL};
#define S_KEYS_MAX 32

//  Reads and checks a table's plain keys from section into target (the
//  ZB_CONFIG_CODE keys are read by the code after it).
static int s_apply(zb_config_t *config, zconfig_t *section, zb_agent_table_t which, void *target)
{
    char why[300];
    size_t count;
    const zb_agent_directive_t *table = zb_agent_config_table(which, &count);
    for (size_t i = 0; i < count; i++) {
        const zb_agent_directive_t *a = &table[i];
        const zb_config_directive_t *d = &a->d;
        zconfig_t *node = section ? zconfig_locate(section, d->key) : NULL;
        int rc = 0;
        if (d->type == ZB_CONFIG_DURATION || d->type == ZB_CONFIG_INT)
            rc = zb_config_read_number(config, section, d,
                                       a->dflt_of ? a->dflt_of(target) : d->dflt, target);
        else if (d->type == ZB_CONFIG_STRING) {
            const char *value = zb_config_string(config, section, d->key, d->text);
            if (zb_config_error(config))
                return -1;
            if (a->nonempty && node && !value)
                return zb_config_fail(config, node, "is empty");
            if (value && a->check && a->check(value, why, sizeof(why)) == -1)
                return zb_config_fail(config, node, "%s", why);
            char *copy = value ? strdup(value) : NULL;
            if (value && !copy)
                return zb_config_fail(config, NULL, "out of memory");
            memcpy((char *)target + d->offset, &copy, sizeof(copy));
        }
        if (rc == -1 || zb_config_error(config))
            return -1;
    }
    return 0;
}

//  The keys of tables (duplicates once) into known, NULL-terminated, for
//  zb_config_check_known.
static void s_keys(const zb_agent_table_t which[], size_t n, const char *known[S_KEYS_MAX + 1])
{
    size_t k = 0;
    for (size_t t = 0; t < n; t++) {
        size_t count;
        const zb_agent_directive_t *table = zb_agent_config_table(which[t], &count);
        for (size_t i = 0; i < count; i++) {
            bool seen = false;
            for (size_t j = 0; j < k; j++)
                seen = seen || strcmp(known[j], table[i].d.key) == 0;
            if (!seen && k < S_KEYS_MAX)
                known[k++] = table[i].d.key;
        }
    }
    known[k] = NULL;
}

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
    //  Each block starts aligned for the compiled expect-status that may
    //  open it (zb_http_status_range_t), as the slab's data does.
    size_t align = _Alignof(zb_http_status_range_t);
    size = (size + align - 1) & ~(align - 1);
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

    zconfig_t *resolve = zconfig_locate(node, "resolve");
    if (resolve && probe->literal)
        return zb_config_fail(config, resolve, "applies to names; %s is an address", host);
    if (s_apply(config, node, ZB_AGENT_TABLE_PROBE, probe) == -1)
        return -1;
    if (probe->timeout_ms >= probe->interval_ms) {
        char timeout[32], interval[32];
        zb_time_format_duration(probe->timeout_ms, timeout, sizeof(timeout));
        zb_time_format_duration(probe->interval_ms, interval, sizeof(interval));
        zconfig_t *where = zconfig_locate(node, "timeout");
        return zb_config_fail(config, where ? where : node,
                              "timeout %s must be shorter than interval %s", timeout, interval);
    }

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
                              "\"%s\" is not a check (" ZB_AGENT_CHECKS ")", check);
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
    if (zb_agent_config_tls(config, node, check, preset && preset->tls, probe, &tls_ca,
                            &tls_name) == -1)
        return -1;
    if (!tls_ca)
        tls_ca = "";
    if (!tls_name)
        tls_name = "";
    if (zb_agent_config_http(config, node, http, host, tls_name, probe, send_buf, expect_buf,
                             &expect_status) == -1)
        return -1;
    //  Held only where the connection carries a real ping: an idle
    //  connection proves little more than a new one, and servers wait for
    //  it on a graceful shutdown.
    probe->hold = probe->send_len > 0 && !(preset && preset->fixed);
    if (zb_agent_config_yes_no(config, node, "hold", &probe->hold) == -1)
        return -1;
    if (probe->hold && preset && preset->fixed)
        return zb_config_fail(config, zconfig_locate(node, "hold"),
                              "check = %s takes one exchange per connection: hold = no", check);
    //  A held connection says nothing about the listener: a bare connect
    //  beside each ping does (zb_probe.h).
    probe->listener_check = probe->hold && probe->send_len > 0;
    if (zb_agent_config_yes_no(config, node, "listener-check", &probe->listener_check) == -1)
        return -1;
    if (probe->listener_check && !(probe->hold && probe->send_len > 0))
        return zb_config_fail(config, zconfig_locate(node, "listener-check"),
                              "applies to a held connection with a ping (hold = yes and send, "
                              "or a check that pings)");
    //  The texts at their real size (fixed buffers for the longest ping
    //  would cost 1.6 KB per service), in the config's slabs.
    const char *name = zconfig_name(node);
    size_t name_len = strlen(name), target_len = strlen(text), host_len = strlen(host);
    size_t ca_len = strlen(tls_ca), tls_name_len = strlen(tls_name);
    size_t status_len = strlen(expect_status);
    size_t fail_len = probe->reply == ZB_PROBE_REPLY_HTTP ? probe->expect_len : 0;
    //  expect-status compiled once, here, rather than read at every
    //  response (zb_agent_config_http has checked it).
    zb_http_status_range_t ranges[ZB_HTTP_STATUS_RANGES_MAX];
    const char *unused;
    int count = probe->reply == ZB_PROBE_REPLY_HTTP
                    ? zb_http_status_compile(expect_status, ranges, &unused)
                    : 0;
    assert(count >= 0);
    size_t codes_size = (size_t)count * sizeof(ranges[0]);
    //  The ranges open the block (it starts aligned for them).
    char *codes_block =
        s_text_alloc(self, codes_size + name_len + 1 + target_len + 1 + host_len + 1 +
                               probe->send_len + 1 + probe->expect_len + 1 + ca_len + 1 +
                               tls_name_len + 1 + status_len + 1 + fail_len);
    if (!codes_block)
        return zb_config_fail(config, NULL, "out of memory");
    zb_http_status_range_t *codes = count ? (zb_http_status_range_t *)(void *)codes_block : NULL;
    if (count)
        memcpy(codes, ranges, codes_size);
    probe->expect_codes = codes;
    probe->expect_ranges = (uint8_t)count;
    char *block = codes_block + codes_size;
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
    zb_agent_table_t which = kind == ZB_PUSH_PUSH ? ZB_AGENT_TABLE_PUSH : ZB_AGENT_TABLE_TTL;
    size_t count;
    const zb_agent_directive_t *table = zb_agent_config_table(which, &count);
    for (zconfig_t *child = zconfig_child(node); child; child = zconfig_next(child)) {
        bool ok = false;
        for (size_t i = 0; i < count; i++)
            ok = ok || strcmp(zconfig_name(child), table[i].d.key) == 0;
        if (!ok)
            return zb_config_fail(config, child, "does not apply to %s services (%s)", key,
                                  kind == ZB_PUSH_PUSH ? "they take push and timeout"
                                                       : "they take ttl only");
    }
    snprintf(push->name, sizeof(push->name), "%s", zconfig_name(node));
    push->kind = kind;
    if (s_apply(config, node, which, push) == -1)
        return -1;
    if (kind == ZB_PUSH_TTL)
        push->deadline_ms = push->period_ms;
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
    const zb_agent_table_t tables[] = {ZB_AGENT_TABLE_PROBE, ZB_AGENT_TABLE_PUSH,
                                       ZB_AGENT_TABLE_TTL};
    const char *known[S_KEYS_MAX + 1];
    s_keys(tables, 3, known);
    if (zb_config_check_known(config, node, known) == -1)
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

static int s_load_agent(zb_config_t *config, zconfig_t *section, zb_agent_config_t *self,
                        bool name_overridden)
{
    const zb_agent_table_t tables[] = {ZB_AGENT_TABLE_AGENT};
    const char *known[S_KEYS_MAX + 1];
    s_keys(tables, 1, known);
    if (zb_config_check_known(config, section, known) == -1 ||
        s_apply(config, section, ZB_AGENT_TABLE_AGENT, self) == -1)
        return -1;
    const char *name = zb_config_string(config, section, "name", NULL);
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
    const char *discover = zb_config_string(config, section, "discover", NULL);
    if (zb_config_error(config))
        return -1;
    if (discover && strcmp(discover, "docker") != 0)
        return zb_config_fail(config, zconfig_locate(section, "discover"),
                              "\"%s\" is not a source of services (docker)", discover);
    self->discover_docker = discover != NULL;
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
    const char *interval = "1h"; // the longest (zb_agent_config_table.c)
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
