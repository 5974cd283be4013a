/*  zb_monitor_config: the monitor's settings. See zb_monitor_config.h. */
#include "zb_monitor_config.h"
#include "zb_monitor_config_internal.h"
#include "zb_address.h"
#include "zb_config.h"
#include "zb_log.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int zb_monitor_config_endpoints_set(char *buf, size_t size, const char *value, const char *what,
                                    char *err, size_t errsize)
{
    assert(buf && value && what && err);
    const char *problem = s_bind_problem(value);
    if (problem) {
        snprintf(err, errsize, "%s: \"%.200s\" %s", what, value, problem);
        return -1;
    }
    return s_set_text(buf, size, value, what, err, errsize);
}

int zb_monitor_config_set_bind(zb_monitor_config_t *self, const char *value, const char *what,
                               char *err, size_t errsize)
{
    assert(self);
    return zb_monitor_config_endpoints_set(self->bind, sizeof(self->bind), value, what, err,
                                           errsize);
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

int zb_monitor_config_load(zb_monitor_config_t *self, const char *path, char *err, size_t errsize)
{
    assert(self && path && err);
    static const char *const sections[] = {"monitor", "alert", NULL};
    zb_config_t *config = zb_config_load(path, err, errsize);
    if (!config)
        return -1;
    zconfig_t *section = zb_config_section(config, sections, "monitor");
    zb_monitor_config_read_monitor(self, config, section);
    zconfig_t *alert = zconfig_locate(zb_config_root(config), "alert");
    if (alert)
        zb_monitor_config_read_alert(self, config, alert);

    return zb_config_close(&config, err, errsize);
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
