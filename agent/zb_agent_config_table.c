/*  zb_agent_config_table: the agent's directive tables (zb_config.h), for
    zb_agent_config (declared in zb_agent_config_internal.h) and for
    `zbeat-agent --config-table`, which docs/config-agent.md's tables are
    checked against (scripts/config_docs.py).

    Every key of a section, in the order it is read, with its type, bounds,
    default and where its value goes. zb_agent_config reads the plain keys
    (strings, durations, numbers) from here; ZB_CONFIG_CODE keys need more
    than a value check (addresses, presets, certificates, yes/no with
    defaults that depend on other keys) and are read by its code, but are
    listed here too: a table is its section's key list, for unknown keys and
    for the docs. Bounds and defaults in milliseconds for durations.
*/
#include "zb_agent_config_internal.h"
#include "zb_alive.h"
#include "zb_docker_check.h"
#include "zb_http_reply.h"
#include "zb_listener.h"
#include "zb_msg.h"

#include <assert.h>
#include <stddef.h>

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

#define S_TO(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define S_DOC(type, dflt, bounds) .doc_type = (type), .doc_default = (dflt), .doc_bounds = (bounds)
#define S_COUNT(table) (sizeof(table) / sizeof((table)[0]))

static int s_endpoints_check(const char *list, char *why, size_t size)
{
    return zb_net_endpoints_check(list, false, why, size);
}

//  The default timeout fits short intervals too.
static int64_t s_timeout_default(const void *probe)
{
    int64_t interval = ((const zb_probe_config_t *)probe)->interval_ms;
    return ZB_TIMEOUT_DEFAULT_MS < interval / 2 ? ZB_TIMEOUT_DEFAULT_MS : interval / 2;
}

//  Half a period of slack: a heartbeat a little late is not an outage.
static int64_t s_deadline_default(const void *push)
{
    int64_t period = ((const zb_push_config_t *)push)->period_ms;
    return period + period / 2;
}

#define S_AGENT(field) S_TO(zb_agent_config_t, field)
static const zb_agent_directive_t s_agent_table[] = {
    {.d = {"monitor", ZB_CONFIG_STRING, .text = ZB_AGENT_MONITOR_DEFAULT, S_AGENT(monitor),
           S_DOC("endpoint list", NULL,
                 "comma-separated `tcp://host:port` (host a name, IPv4, or `[IPv6]`) or "
                 "`ipc://path`")},
     .check = s_endpoints_check},
    {.d = {"listen", ZB_CONFIG_STRING, .text = ZB_LISTENER_ENDPOINT, S_AGENT(listen),
           S_DOC(
               "endpoint", NULL,
               "`tcp://HOST:PORT` or `HOST:PORT`; HOST an IPv4 address, `[IPv6]`, a name (resolved "
               "at start-up) or `*` (every IPv4 interface)")},
     .check = zb_listener_endpoint_check},
    {.d = {"beat", ZB_CONFIG_DURATION, ZB_BEAT_MIN_MS, ZB_BEAT_MAX_MS, ZB_AGENT_BEAT_DEFAULT_MS,
           S_AGENT(beat_ms)}},
    //  1: every beat full, the v1 wire (the default: v1 monitors read it).
    {.d = {"full-every", ZB_CONFIG_INT, 1, ZB_AGENT_FULL_EVERY_MAX, 1, S_AGENT(full_every)}},
    //  Journal and replay (docs/operations.md, "Nothing lost"). The journal
    //  file is created at start, its directory is not: a missing one must
    //  fail --check-config, not the agent's first start.
    {.d = {"journal", ZB_CONFIG_STRING, S_AGENT(journal),
           S_DOC(
               "path", NULL,
               "a writable file whose directory exists (`--check-config` and start-up fail "
               "otherwise: `agent/journal: directory /var/lib/zbeat: No such file or directory`)")},
     .check = zb_agent_config_journal_check,
     .nonempty = true},
    {.d = {"replay", ZB_CONFIG_STRING, S_AGENT(replay),
           S_DOC("endpoint list", NULL, "like `monitor`")},
     .check = s_endpoints_check},
    //  Liveness datagrams (docs/config-agent.md, "Liveness datagrams").
    {.d = {"udp", ZB_CONFIG_STRING, .max = ZB_ALIVE_TARGETS_MAX, S_AGENT(udp),
           S_DOC("`host:port` list", NULL,
                 "comma-separated `host:port` (a name, IPv4 or `[IPv6]`), at most {max}")},
     .check = zb_alive_check},
    {.d = {"udp-beat", ZB_CONFIG_DURATION, ZB_ALIVE_BEAT_MIN_MS, ZB_ALIVE_BEAT_MAX_MS,
           ZB_ALIVE_BEAT_DEFAULT_MS, S_AGENT(udp_beat_ms)}},
    //  discover = docker (docs/config-agent.md, "Docker").
    {.d = {"docker", ZB_CONFIG_STRING, .text = ZB_DOCKER_SOCKET_DEFAULT, S_AGENT(docker),
           S_DOC("`unix:///path`", NULL, "a unix socket")},
     .check = zb_docker_url_check},
    {.d = {"discover-filter", ZB_CONFIG_STRING, S_AGENT(discover_filter),
           S_DOC("Docker filters", "none (every container)",
                 "`label=KEY` or `label=KEY=VALUE`, several separated by spaces (all must match)")},
     .check = zb_docker_filter_check},
    {.d = {"name", ZB_CONFIG_CODE, 1, ZB_NAME_MAX,
           S_DOC("name", "the machine's hostname",
                 "{min} .. {max} of `A-Z a-z 0-9 . _ -`, first a letter or digit")}},
    {.d = {"cert", ZB_CONFIG_CODE,
           S_DOC("path", "none (plaintext)",
                 "a secret certificate (`zbeat keygen --host NAME`); needs `monitor-cert`")}},
    {.d = {"monitor-cert", ZB_CONFIG_CODE, S_DOC("path", NULL, "a certificate; needs `cert`")}},
    {.d = {"discover", ZB_CONFIG_CODE, S_DOC("`docker`", NULL, "")}},
};

//  A probed service's keys; resolve applies to names only (checked first).
#define S_PROBE(field) S_TO(zb_probe_config_t, field)
#define S_YES_NO "`yes` / `no`"
static const zb_agent_directive_t s_probe_table[] = {
    {.d = {"interval", ZB_CONFIG_DURATION, ZB_INTERVAL_MIN_MS, ZB_INTERVAL_MAX_MS,
           ZB_INTERVAL_DEFAULT_MS, S_PROBE(interval_ms)}},
    {.d = {"timeout", ZB_CONFIG_DURATION, 1, ZB_INTERVAL_MAX_MS, ZB_TIMEOUT_DEFAULT_MS,
           S_PROBE(timeout_ms),
           S_DOC(NULL, "{default} (or `interval/2` if shorter)", "{min} .. below `interval`")},
     .dflt_of = s_timeout_default},
    {.d = {"fails", ZB_CONFIG_INT, 1, 100, 3, S_PROBE(fails)}},
    {.d = {"resolve", ZB_CONFIG_DURATION, ZB_RESOLVE_MIN_MS, ZB_RESOLVE_MAX_MS, 0,
           S_PROBE(resolve_ms),
           S_DOC(NULL, "the answer's TTL (at least 5s, at most 1h)",
                 "{min} .. {max}; names only")}},
    {.d = {"probe", ZB_CONFIG_CODE, 1, 65535,
           S_DOC("`host:port`", "**required**", "port {min} .. {max}; IPv6 as `[addr]:port`")}},
    {.d = {"check", ZB_CONFIG_CODE,
           S_DOC("`tcp`, `redis`, `memcached`, `postgres`, `http`, `https`, `ssh`, `smtp`, `mysql`",
                 NULL, "")}},
    {.d = {"send", ZB_CONFIG_CODE, 1, ZB_PROBE_SEND_MAX,
           S_DOC("bytes (C escapes)", NULL, "{min} .. {max} bytes")}},
    {.d = {"expect", ZB_CONFIG_CODE, 1, ZB_PROBE_EXPECT_MAX,
           S_DOC("bytes (C escapes)", NULL, "{min} .. {max} bytes; needs `send`")}},
    {.d = {"hold", ZB_CONFIG_CODE, S_DOC(S_YES_NO, "`yes` with `send`, `no` without", "")}},
    {.d = {"listener-check", ZB_CONFIG_CODE, S_DOC(S_YES_NO, "`yes` when held with a ping", "")}},
    {.d = {"tls", ZB_CONFIG_CODE, S_DOC(S_YES_NO, "`no` (`yes` with `check = https`)", "")}},
    {.d = {"tls-ca", ZB_CONFIG_CODE,
           S_DOC("file", "the system's store (`/etc/ssl/certs`)",
                 "needs `tls = yes` and verification; must be readable")}},
    {.d = {"tls-name", ZB_CONFIG_CODE,
           S_DOC("host name", "the `probe` host", "needs `tls = yes`")}},
    {.d = {"tls-verify", ZB_CONFIG_CODE, S_DOC(S_YES_NO, "`yes`", "needs `tls = yes`")}},
    {.d = {"http", ZB_CONFIG_CODE,
           S_DOC("`METHOD PATH`", "`GET /` with `check = http` or `https`",
                 "method A-Z, path from `/` (or `*`)")}},
    {.d = {"http-host", ZB_CONFIG_CODE,
           S_DOC("host",
                 "`tls-name`, else the `probe` host (with `:port` unless 80, or 443 with TLS)",
                 "needs `http`")}},
    {.d = {"http-header*", ZB_CONFIG_CODE,
           S_DOC("`Name: value`", NULL, "repeatable; needs `http`")}},
    {.d = {"expect-status", ZB_CONFIG_CODE, 100, 599,
           S_DOC("codes, ranges, classes", "`200-399`",
                 "{min} .. {max}, e.g. `200,204,3xx`; needs `http`")}},
    {.d = {"expect-body", ZB_CONFIG_CODE, 1, ZB_HTTP_EXPECT_BODY_MAX,
           S_DOC("bytes (C escapes)", NULL, "{min} .. {max} bytes; needs `http`")}},
};

//  push and ttl services take these keys only.
#define S_PUSH(field) S_TO(zb_push_config_t, field)
static const zb_agent_directive_t s_push_table[] = {
    {.d = {"push", ZB_CONFIG_DURATION, ZB_PUSH_MIN_MS, ZB_PUSH_MAX_MS, 0, S_PUSH(period_ms),
           S_DOC(NULL, "**required**", NULL)}},
    {.d = {"timeout", ZB_CONFIG_DURATION, 1, ZB_PUSH_TIMEOUT_MAX_MS, S_PUSH(deadline_ms),
           S_DOC(NULL, "`push` × 1.5", "`push` .. {max}")},
     .dflt_of = s_deadline_default},
};
static const zb_agent_directive_t s_ttl_table[] = {
    {.d = {"ttl", ZB_CONFIG_DURATION, ZB_TTL_MIN_MS, ZB_TTL_MAX_MS, 0, S_PUSH(period_ms),
           S_DOC(NULL, "**required**", NULL)}},
};

const zb_agent_directive_t *zb_agent_config_table(zb_agent_table_t which, size_t *count)
{
    static const struct {
        const zb_agent_directive_t *table;
        size_t count;
    } tables[] = {
        [ZB_AGENT_TABLE_AGENT] = {s_agent_table, S_COUNT(s_agent_table)},
        [ZB_AGENT_TABLE_PROBE] = {s_probe_table, S_COUNT(s_probe_table)},
        [ZB_AGENT_TABLE_PUSH] = {s_push_table, S_COUNT(s_push_table)},
        [ZB_AGENT_TABLE_TTL] = {s_ttl_table, S_COUNT(s_ttl_table)},
    };
    assert((size_t)which < S_COUNT(tables));
    *count = tables[which].count;
    return tables[which].table;
}

void zb_agent_config_print_table(FILE *out)
{
    //  The docs' names: a probed service's keys are the `service` table.
    static const char *const sections[] = {
        [ZB_AGENT_TABLE_AGENT] = "agent",
        [ZB_AGENT_TABLE_PROBE] = "service",
        [ZB_AGENT_TABLE_PUSH] = "push",
        [ZB_AGENT_TABLE_TTL] = "ttl",
    };
    for (size_t t = 0; t < S_COUNT(sections); t++) {
        size_t count;
        const zb_agent_directive_t *table = zb_agent_config_table((zb_agent_table_t)t, &count);
        for (size_t i = 0; i < count; i++)
            zb_config_directive_print(out, sections[t], &table[i].d);
    }
}
