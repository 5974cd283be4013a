/*  zb_line: the heartbeat line protocol (docs/push.md). */
#include "zb_line.h"
#include "zb_time.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define S_HELLO "HELLO "
#define S_INTERVAL "interval="

static int s_fail(const char **reason_p, const char *reason)
{
    *reason_p = reason;
    return -1;
}

int zb_line_parse(const char *line, zb_line_cmd_t *cmd, const char **reason_p)
{
    assert(line);
    assert(cmd);
    assert(reason_p);
    memset(cmd, 0, sizeof(*cmd));
    *reason_p = NULL;

    //  Exact matches only: "PING " or "ping" is a client bug that should be
    //  seen at once, not tolerated until some other agent is stricter.
    if (strcmp(line, "PING") == 0)
        cmd->type = ZB_LINE_PING;
    else if (strcmp(line, "CHECKIN") == 0)
        cmd->type = ZB_LINE_CHECKIN;
    else if (strcmp(line, "BYE") == 0)
        cmd->type = ZB_LINE_BYE;
    if (cmd->type)
        return 0;
    if (strncmp(line, S_HELLO, strlen(S_HELLO)) != 0)
        return s_fail(reason_p, "bad-command");

    const char *name = line + strlen(S_HELLO);
    size_t name_len = strcspn(name, " ");
    if (name_len == 0)
        return s_fail(reason_p, "bad-command"); // "HELLO " or two spaces
    if (name_len > ZB_NAME_MAX)
        return s_fail(reason_p, "bad-name");
    memcpy(cmd->service, name, name_len);
    cmd->service[name_len] = '\0';
    if (!zb_name_valid(cmd->service)) {
        cmd->service[0] = '\0';
        return s_fail(reason_p, "bad-name");
    }
    const char *option = name + name_len;
    if (*option == ' ') {
        option++;
        if (strncmp(option, S_INTERVAL, strlen(S_INTERVAL)) != 0 || strchr(option, ' ') != NULL) {
            cmd->service[0] = '\0';
            return s_fail(reason_p, "bad-command");
        }
        int64_t interval_ms = 0;
        if (zb_time_parse_duration(option + strlen(S_INTERVAL), &interval_ms) != 0 ||
            interval_ms <= 0) {
            cmd->service[0] = '\0';
            return s_fail(reason_p, "bad-interval");
        }
        cmd->interval_ms = interval_ms;
    }
    cmd->type = ZB_LINE_HELLO;
    return 0;
}

const char *zb_line_type_name(zb_line_type_t type)
{
    switch (type) {
    case ZB_LINE_HELLO:
        return "HELLO";
    case ZB_LINE_PING:
        return "PING";
    case ZB_LINE_CHECKIN:
        return "CHECKIN";
    case ZB_LINE_BYE:
        return "BYE";
    }
    return "?";
}

//  Parses line and checks the outcome: expected_reason NULL means success.
static void s_expect(const char *line, zb_line_type_t type, const char *service,
                     int64_t interval_ms, const char *expected_reason, bool verbose)
{
    zb_line_cmd_t cmd;
    const char *reason = "unset";
    int rc = zb_line_parse(line, &cmd, &reason);
    if (verbose)
        printf("\n   '%s' -> %d %s", line, rc, reason ? reason : "(ok)");
    if (expected_reason) {
        assert(rc == -1);
        assert(reason && strcmp(reason, expected_reason) == 0);
        assert(cmd.service[0] == '\0');
    } else {
        assert(rc == 0);
        assert(reason == NULL);
        assert(cmd.type == type);
        assert(strcmp(cmd.service, service) == 0);
        assert(cmd.interval_ms == interval_ms);
    }
}

void zb_line_test(bool verbose)
{
    s_expect("PING", ZB_LINE_PING, "", 0, NULL, verbose);
    s_expect("CHECKIN", ZB_LINE_CHECKIN, "", 0, NULL, verbose);
    s_expect("BYE", ZB_LINE_BYE, "", 0, NULL, verbose);
    s_expect("HELLO worker", ZB_LINE_HELLO, "worker", 0, NULL, verbose);
    s_expect("HELLO a", ZB_LINE_HELLO, "a", 0, NULL, verbose);
    s_expect("HELLO nightly-backup.v2_x interval=10s", ZB_LINE_HELLO, "nightly-backup.v2_x", 10000,
             NULL, verbose);
    s_expect("HELLO w interval=1.5s", ZB_LINE_HELLO, "w", 1500, NULL, verbose);
    s_expect("HELLO w interval=250ms", ZB_LINE_HELLO, "w", 250, NULL, verbose);

    //  Verbs: exact and case-sensitive, no trailing text.
    s_expect("", 0, "", 0, "bad-command", verbose);
    s_expect("ping", 0, "", 0, "bad-command", verbose);
    s_expect("PING ", 0, "", 0, "bad-command", verbose);
    s_expect(" PING", 0, "", 0, "bad-command", verbose);
    s_expect("PINGPONG", 0, "", 0, "bad-command", verbose);
    s_expect("BYE now", 0, "", 0, "bad-command", verbose);
    s_expect("CHECKIN x", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO ", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO  worker", 0, "", 0, "bad-command", verbose);
    s_expect("hello worker", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO\tworker", 0, "", 0, "bad-command", verbose);
    s_expect("\x01\xff garbage", 0, "", 0, "bad-command", verbose);

    //  Names.
    s_expect("HELLO -worker", 0, "", 0, "bad-name", verbose);
    s_expect("HELLO wo/rker", 0, "", 0, "bad-name", verbose);
    s_expect("HELLO w\xc3\xa9", 0, "", 0, "bad-name", verbose);
    char line[ZB_LINE_MAX];
    char name[ZB_NAME_MAX + 2];
    memset(name, 'n', ZB_NAME_MAX);
    name[ZB_NAME_MAX] = '\0';
    snprintf(line, sizeof(line), "HELLO %s", name);
    s_expect(line, ZB_LINE_HELLO, name, 0, NULL, verbose);
    name[ZB_NAME_MAX] = 'n';
    name[ZB_NAME_MAX + 1] = '\0';
    snprintf(line, sizeof(line), "HELLO %s", name);
    s_expect(line, 0, "", 0, "bad-name", verbose);
    snprintf(line, sizeof(line), "HELLO %s interval=1s", name);
    s_expect(line, 0, "", 0, "bad-name", verbose);

    //  Options.
    s_expect("HELLO w ", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO w  interval=1s", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO w timeout=1s", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO w interval=1s extra", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO w interval=1s ", 0, "", 0, "bad-command", verbose);
    s_expect("HELLO w interval=", 0, "", 0, "bad-interval", verbose);
    s_expect("HELLO w interval=10", 0, "", 0, "bad-interval", verbose);
    s_expect("HELLO w interval=0s", 0, "", 0, "bad-interval", verbose);
    s_expect("HELLO w interval=-1s", 0, "", 0, "bad-interval", verbose);
    s_expect("HELLO w interval=1x", 0, "", 0, "bad-interval", verbose);
    s_expect("HELLO w interval=99999d", 0, "", 0, "bad-interval", verbose);

    assert(strcmp(zb_line_type_name(ZB_LINE_HELLO), "HELLO") == 0);
    assert(strcmp(zb_line_type_name(ZB_LINE_PING), "PING") == 0);
    assert(strcmp(zb_line_type_name(ZB_LINE_CHECKIN), "CHECKIN") == 0);
    assert(strcmp(zb_line_type_name(ZB_LINE_BYE), "BYE") == 0);
    assert(strcmp(zb_line_type_name((zb_line_type_t)0), "?") == 0);
    if (verbose)
        printf("\n");
}
