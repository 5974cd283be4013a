/*  zb_relay_config: zbeat-relay's settings. See zb_relay_config.h. */
#include "zb_relay_config.h"
#include "zb_auth.h"
#include "zb_config.h"
#include "zb_monitor_config.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

//  The relay section's keys, for unknown keys and for the cells of
//  docs/config-relay.md's table (`zbeat-relay --config-table`). Every key
//  needs more than a value check, so the code below reads them all.
#define S_DOC(type, dflt, bounds) .doc_type = (type), .doc_default = (dflt), .doc_bounds = (bounds)
static const zb_config_directive_t s_directives[] = {
    {"bind", ZB_CONFIG_CODE,
     S_DOC("endpoint(s)", "`" ZB_RELAY_BIND_DEFAULT "`", "comma-separated, like `monitor/bind`")},
    {"monitor", ZB_CONFIG_CODE,
     S_DOC("endpoint(s)", "none: **required**", "comma-separated, like `monitor/bind`")},
    {"cert", ZB_CONFIG_CODE,
     S_DOC("file", "none (plaintext)",
           "a secret certificate (`zbeat keygen --relay PATTERNS`); needs `agents` and "
           "`monitor-cert`")},
    {"agents", ZB_CONFIG_CODE, S_DOC("directory", NULL, "an existing directory; needs `cert`")},
    {"monitor-cert", ZB_CONFIG_CODE, S_DOC("file", NULL, "a certificate; needs `cert`")},
};
#define S_DIRECTIVES (sizeof(s_directives) / sizeof(s_directives[0]))

void zb_relay_config_defaults(zb_relay_config_t *self)
{
    assert(self);
    memset(self, 0, sizeof(*self));
    snprintf(self->bind, sizeof(self->bind), "%s", ZB_RELAY_BIND_DEFAULT);
}

int zb_relay_config_set_bind(zb_relay_config_t *self, const char *value, const char *what,
                             char *err, size_t errsize)
{
    assert(self && value && what && err);
    return zb_monitor_config_endpoints_set(self->bind, sizeof(self->bind), value, what, err,
                                           errsize);
}

int zb_relay_config_set_monitor(zb_relay_config_t *self, const char *value, const char *what,
                                char *err, size_t errsize)
{
    assert(self && value && what && err);
    return zb_monitor_config_endpoints_set(self->monitor, sizeof(self->monitor), value, what, err,
                                           errsize);
}

//  relay/monitor-cert: the monitors' public certificate, needed with
//  relay/cert (the relay is a CURVE client of every monitor) and useless
//  without it.
static void s_monitor_cert_load(zb_relay_config_t *self, zb_config_t *config, zconfig_t *section)
{
    const char *value = zb_config_string(config, section, "monitor-cert", NULL);
    zconfig_t *node = section ? zconfig_locate(section, "monitor-cert") : NULL;
    if (!value && !self->cert[0])
        return;
    if (!value || !*value) {
        zb_config_fail(config, zconfig_locate(section, "cert"),
                       "needs relay/monitor-cert (the monitors' public certificate): the relay "
                       "is their CURVE client");
        return;
    }
    if (!self->cert[0]) {
        zb_config_fail(config, node, "needs relay/cert and relay/agents (CURVE on both sides)");
        return;
    }
    zcert_t *cert = zcert_load(value);
    if (!cert)
        zb_config_fail(config, node, "\"%.200s\" cannot be read as a certificate", value);
    else if (strlen(value) >= sizeof(self->monitor_cert))
        zb_config_fail(config, node, "is too long");
    else
        snprintf(self->monitor_cert, sizeof(self->monitor_cert), "%s", value);
    zcert_destroy(&cert);
}

int zb_relay_config_load(zb_relay_config_t *self, const char *path, char *err, size_t errsize)
{
    assert(self && path && err);
    static const char *const sections[] = {"relay", NULL};
    const char *keys[S_DIRECTIVES + 1];
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        keys[i] = s_directives[i].key;
    keys[S_DIRECTIVES] = NULL;
    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        return -1;
    zconfig_t *section = zb_config_section(config, sections, "relay");
    zb_config_check_known(config, section, keys);
    char why[512];
    const char *names[] = {"bind", "monitor"};
    for (int i = 0; i < 2; i++) {
        zconfig_t *node = section ? zconfig_locate(section, names[i]) : NULL;
        const char *value = zb_config_string(config, section, names[i], NULL);
        if (node && !zconfig_child(node) && !value)
            value = ""; // given empty: refused, not the default
        int rc = 0;
        if (value && i == 0)
            rc = zb_relay_config_set_bind(self, value, names[i], why, sizeof(why));
        else if (value)
            rc = zb_relay_config_set_monitor(self, value, names[i], why, sizeof(why));
        if (rc != 0)
            zb_config_fail(config, node, "%s", why + strlen(names[i]) + 2);
    }
    //  The agents' side is admitted exactly as a monitor admits them.
    zb_auth_config_load(config, section, self->cert, sizeof(self->cert), self->agents,
                        sizeof(self->agents));
    s_monitor_cert_load(self, config, section);
    return zb_config_close(&config, err, errsize);
}

void zb_relay_config_print_table(FILE *out)
{
    for (size_t i = 0; i < S_DIRECTIVES; i++)
        zb_config_directive_print(out, "relay", &s_directives[i]);
}

int zb_relay_config_check(const zb_relay_config_t *self, char *err, size_t errsize)
{
    assert(self && err);
    if (!self->monitor[0]) {
        snprintf(err, errsize,
                 "relay/monitor: no monitor to relay to (give monitor = "
                 "tcp://shard-1:7400,... in the relay section, or --monitor)");
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Self-test

static int s_load_text(zb_relay_config_t *config, const char *text, char *err, size_t errsize)
{
    char path[] = "/tmp/zb_relay_config_test.XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    zb_relay_config_defaults(config);
    int rc = zb_relay_config_load(config, path, err, errsize);
    unlink(path);
    return rc;
}

void zb_relay_config_test(bool verbose)
{
    (void)verbose;
    zb_relay_config_t config;
    char err[1024];
    zb_relay_config_defaults(&config);
    assert(strcmp(config.bind, ZB_RELAY_BIND_DEFAULT) == 0);
    assert(zb_relay_config_check(&config, err, sizeof(err)) == -1);
    assert(strstr(err, "relay/monitor"));
    assert(s_load_text(&config,
                       "relay\n    bind = tcp://127.0.0.1:7410\n"
                       "    monitor = \"tcp://127.0.0.1:7400,tcp://127.0.0.1:7401\"\n",
                       err, sizeof(err)) == 0);
    assert(strcmp(config.monitor, "tcp://127.0.0.1:7400,tcp://127.0.0.1:7401") == 0);
    assert(zb_relay_config_check(&config, err, sizeof(err)) == 0);
    assert(s_load_text(&config, "relay\n    monitor = localhost\n", err, sizeof(err)) == -1);
    assert(strstr(err, "relay/monitor") && strstr(err, "not an endpoint"));
    assert(s_load_text(&config, "relay\n    bind = tcp://*:99999\n", err, sizeof(err)) == -1);
    assert(strstr(err, "relay/bind") && strstr(err, "port"));
    assert(s_load_text(&config, "relay\n    bind =\n", err, sizeof(err)) == -1);
    assert(strstr(err, "relay/bind") && strstr(err, "empty"));
    assert(s_load_text(&config, "relay\n    hosts = web-*\n", err, sizeof(err)) == -1);
    assert(strstr(err, "relay/hosts") && strstr(err, "unknown key"));
    assert(s_load_text(&config, "monitor\n    bind = tcp://*:7400\n", err, sizeof(err)) == -1);
    assert(s_load_text(&config, "relay\n    agents = /tmp\n", err, sizeof(err)) == -1);
    assert(strstr(err, "relay/agents: needs relay/cert"));
    assert(s_load_text(&config, "relay\n    monitor-cert = /nonexistent\n", err, sizeof(err)) ==
           -1);
    assert(strstr(err, "relay/monitor-cert: needs relay/cert"));

    //  CURVE: a real key pair, and the monitors' public certificate.
    char dir[] = "/tmp/zb_relay_keys.XXXXXX";
    assert(mkdtemp(dir));
    char secret[128], public_path[128], text[1024];
    snprintf(public_path, sizeof(public_path), "%s/relay.cert", dir);
    snprintf(secret, sizeof(secret), "%s/relay.cert_secret", dir);
    zcert_t *cert = zcert_new();
    assert(cert && zcert_save(cert, public_path) == 0);
    zcert_destroy(&cert);
    snprintf(text, sizeof(text),
             "relay\n    monitor = tcp://127.0.0.1:7400\n    cert = %s\n"
             "    agents = %s\n",
             secret, dir);
    assert(s_load_text(&config, text, err, sizeof(err)) == -1);
    assert(strstr(err, "relay/cert: needs relay/monitor-cert"));
    snprintf(text, sizeof(text),
             "relay\n    monitor = tcp://127.0.0.1:7400\n    cert = %s\n"
             "    agents = %s\n    monitor-cert = %s\n",
             secret, dir, public_path);
    assert(s_load_text(&config, text, err, sizeof(err)) == 0);
    assert(strcmp(config.monitor_cert, public_path) == 0 && strcmp(config.cert, secret) == 0);
    unlink(public_path);
    unlink(secret);
    rmdir(dir);
}
