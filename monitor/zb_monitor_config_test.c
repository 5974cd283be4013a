/*  zb_monitor_config's self-test (the module is zb_monitor_config.c). */
#include "zb_monitor_config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        //  A key of another kind of channel, even given empty (the table's
        //  `only`).
        {"alert\n    x\n        exec = a\n        from = a@b\n",
         ": alert/x/from: is for email channels only"},
        {"alert\n    x\n        webhook = http://h/\n        monitor-name = m\n",
         ": alert/x/monitor-name: is for alertmanager channels only"},
        {"alert\n    x\n        exec = a\n        template = \"\"\n",
         ": alert/x/template: is for webhooks only"},
        {"alert\n    x\n        exec = a\n        header = a\n        header = b\n",
         ": alert/x/header: is for webhook and alertmanager channels only"},
        {"alert\n    x\n        email = a@b\n        smtp = smtp://h\n        from = nobody\n",
         ": alert/x/from: \"nobody\" is not an address"},
        {"alert\n    x\n        exec = a\n        after = -1s\n", ": alert/x/after: "},
        {"alert\n    x\n        exec = a\n        timeout\n            y = 1\n",
         ": alert/x/timeout: expected a value, not a section"},
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

    //  A value longer than its field is an error, never cut short.
    char long_text[1400] = "alert\n    x\n        exec = a\n        hosts = web-1";
    for (int i = 0; i < 100; i++)
        strcat(long_text, ",web-1"); // 605 bytes of short patterns: valid, but too many
    strcat(long_text, "\n");
    assert(s_load_text(&config, long_text, err, sizeof(err)) == -1);
    assert(strcmp(err, ": alert/x/hosts: is too long") == 0);
    snprintf(long_text, sizeof(long_text), "alert\n    x\n        exec = %01100d\n", 0);
    assert(s_load_text(&config, long_text, err, sizeof(err)) == -1);
    assert(strcmp(err, ": alert/x/exec: is too long") == 0);

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
