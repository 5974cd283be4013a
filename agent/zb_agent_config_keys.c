/*  zb_agent_config_keys: the keys that need more than a value check (a
    probe's yes/no, TLS and HTTP keys; the journal's directory), for
    zb_agent_config (declared in zb_agent_config_internal.h).
*/
#include "zb_agent_config_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

//  A yes/no key: *value keeps the default when the key is absent.
int zb_agent_config_yes_no(zb_config_t *config, zconfig_t *node, const char *key, bool *value)
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
int zb_agent_config_tls(zb_config_t *config, zconfig_t *node, const char *check, bool dflt,
                        zb_probe_config_t *probe, const char **ca, const char **name)
{
    probe->tls = dflt;
    probe->tls_verify = true;
    if (zb_agent_config_yes_no(config, node, "tls", &probe->tls) == -1 ||
        zb_agent_config_yes_no(config, node, "tls-verify", &probe->tls_verify) == -1)
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
int zb_agent_config_http(zb_config_t *config, zconfig_t *node, bool http, const char *host,
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

//  The journal's directory must exist and be a directory. Returns 0, or -1
//  with a reason in err.
int zb_agent_config_journal_check(const char *path, char *err, size_t errsize)
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
