/*  zb_agent_config's self-test: files with good and bad configurations,
    every error message compared in full.
*/
#include "zb_agent_config.h"
#include "zb_docker_check.h"
#include "zb_listener.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
                   ": service/a/check: \"mongo\" is not a check (" ZB_AGENT_CHECKS ")");
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
    //  expect-status compiled at load: its ranges, aligned in the slab.
    assert(p->expect_ranges == 2 &&
           (uintptr_t)p->expect_codes % _Alignof(zb_http_status_range_t) == 0);
    assert(p->expect_codes[0].lo == 200 && p->expect_codes[0].hi == 299);
    assert(p->expect_codes[1].lo == 301 && p->expect_codes[1].hi == 301);
    assert(zb_http_status_in(p->expect_codes, p->expect_ranges, 301) &&
           !zb_http_status_in(p->expect_codes, p->expect_ranges, 302));
    p = &self->services[1].probe;
    assert(strstr(p->send, "\r\nHost: 10.0.0.1\r\n") && !p->tls && p->expect_len == 0);
    assert(strcmp(p->expect_status, "200-399") == 0 && !p->http_head);
    assert(p->expect_ranges == 1 && p->expect_codes[0].lo == 200 && p->expect_codes[0].hi == 399);
    p = &self->services[2].probe;
    assert(p->expect_ranges == 0 && !p->expect_codes); // not HTTP
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
