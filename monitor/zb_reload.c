/*  zb_reload: settings layers and live reload on SIGHUP. See zb_reload.h. */
#include "zb_reload.h"
#include "zb_http.h"
#include "zb_log.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct _zb_reload_t {
    zb_reload_args_t args;       // where the settings come from
    zb_monitor_t *monitor;       // not owned
    zb_monitor_config_t *config; // in force (heap: the struct is large)
    zb_http_t *http;             // the HTTP server, when config->http is set
    int fd;                      // signalfd reading SIGHUP, or -1
};

int zb_reload_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

int zb_reload_config(const zb_reload_args_t *args, zb_monitor_config_t *config, char *err,
                     size_t errsize)
{
    assert(args && config && err);
    zb_monitor_config_defaults(config);
    if (args->file && zb_monitor_config_load(config, args->file, err, errsize) != 0)
        return -1;
    const char *env_db = getenv("ZBEAT_DB");
    const char *env_bind = getenv("ZBEAT_BIND");
    if (env_db && *env_db && zb_monitor_config_set_db(config, env_db, "ZBEAT_DB", err, errsize))
        return -1;
    if (env_bind && *env_bind &&
        zb_monitor_config_set_bind(config, env_bind, "ZBEAT_BIND", err, errsize))
        return -1;
    if (args->db && zb_monitor_config_set_db(config, args->db, "--db", err, errsize))
        return -1;
    if (args->bind && zb_monitor_config_set_bind(config, args->bind, "--bind", err, errsize))
        return -1;
    if (args->liveness &&
        zb_monitor_config_set_liveness(config, args->liveness, "--liveness", err, errsize))
        return -1;
    if (args->http && zb_monitor_config_set_http(config, args->http, "--http", err, errsize))
        return -1;
    return 0;
}

//  The HTTP server's TLS, users and /metrics settings.
static zb_http_options_t s_http_options(const zb_monitor_config_t *config)
{
    int detail = zb_http_detail_parse(config->metrics_detail); // checked on reading
    return (zb_http_options_t){config->http_tls_cert, config->http_tls_key, config->http_users,
                               config->http_metrics_auth,
                               detail < 0 ? ZB_HTTP_DETAIL_ALL : (zb_http_detail_t)detail};
}

static void s_on_hangup(void *arg)
{
    zb_reload_t *self = arg;
    //  Every queued SIGHUP at once: one reload covers them all.
    struct signalfd_siginfo info;
    bool got = false;
    while (read(self->fd, &info, sizeof(info)) == (ssize_t)sizeof(info))
        got = true;
    if (got)
        zb_reload_now(self);
}

zb_reload_t *zb_reload_new(const zb_reload_args_t *args, zb_monitor_t *monitor,
                           const zb_monitor_config_t *config, char *err, size_t errsize)
{
    assert(args && monitor && config && err);
    zb_reload_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->config = malloc(sizeof(*self->config)))) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    self->args = *args;
    self->monitor = monitor;
    *self->config = *config;
    self->fd = -1;
    if (config->http[0]) {
        zb_http_options_t options = s_http_options(config);
        self->http = zb_http_new(config->http, config->db, monitor, &options, err, errsize);
        if (!self->http)
            goto failed;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    self->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->fd == -1) {
        snprintf(err, errsize, "signalfd: %s", strerror(errno));
        goto failed;
    }
    zb_monitor_set_hangup(monitor, self->fd, s_on_hangup, self);
    return self;

failed:
    zb_reload_destroy(&self);
    return NULL;
}

void zb_reload_destroy(zb_reload_t **self_p)
{
    assert(self_p);
    zb_reload_t *self = *self_p;
    if (!self)
        return;
    zb_http_destroy(&self->http);
    if (self->fd != -1)
        close(self->fd);
    free(self->config);
    free(self);
    *self_p = NULL;
}

//  The HTTP server on its new address. The new one starts first, so that
//  a failure leaves the old one serving; only when the new address collides
//  with the old (same port) does the old one stop first, and it comes back
//  if the new one still fails. config->http ends up naming what serves.
static void s_http_restart(zb_reload_t *self, zb_monitor_config_t *config)
{
    const char *old = self->config->http;
    char err[600] = "";
    zb_http_t *fresh = NULL;
    zb_http_options_t options = s_http_options(config), old_options = s_http_options(self->config);
    if (config->http[0]) {
        fresh = zb_http_new(config->http, config->db, self->monitor, &options, err, sizeof(err));
        if (!fresh && self->http) {
            zb_http_destroy(&self->http);
            fresh =
                zb_http_new(config->http, config->db, self->monitor, &options, err, sizeof(err));
            if (!fresh) {
                char again[600];
                self->http =
                    zb_http_new(old, config->db, self->monitor, &old_options, again, sizeof(again));
            }
        }
        if (!fresh) {
            zb_log_error("reload: monitor/http: %s; %s%s", err,
                         self->http ? "the HTTP server stays on " : "the HTTP server is off",
                         self->http ? old : "");
            snprintf(config->http, sizeof(config->http), "%s", self->http ? old : "");
            //  What serves keeps its old security settings: say so next time.
            snprintf(config->http_tls_cert, sizeof(config->http_tls_cert), "%s",
                     self->config->http_tls_cert);
            snprintf(config->http_tls_key, sizeof(config->http_tls_key), "%s",
                     self->config->http_tls_key);
            snprintf(config->http_users, sizeof(config->http_users), "%s",
                     self->config->http_users);
            config->http_metrics_auth = self->config->http_metrics_auth;
            snprintf(config->metrics_detail, sizeof(config->metrics_detail), "%s",
                     self->config->metrics_detail);
            return;
        }
    }
    zb_http_destroy(&self->http);
    self->http = fresh;
    if (fresh)
        zb_log_info("reload: HTTP server on %s", config->http);
    else
        zb_log_info("reload: HTTP server stopped");
}

int zb_reload_now(zb_reload_t *self)
{
    assert(self);
    if (!self->args.file) {
        zb_log_info("reload: no configuration file (-c) to re-read; nothing changed");
        return 0;
    }
    int rc = -1;
    char err[1024];
    zb_monitor_config_t *config = malloc(sizeof(*config));
    if (!config) {
        zb_log_error("reload rejected: out of memory; carrying on with the previous configuration");
        return -1;
    }
    //  The same one-line error as at start-up, inside one log line (like the
    //  agent's): an operator greps for "reload rejected".
    if (zb_reload_config(&self->args, config, err, sizeof(err)) != 0 ||
        zb_monitor_apply(self->monitor, config, err, sizeof(err)) != 0) {
        zb_log_error("reload rejected: %s; carrying on with the previous configuration", err);
        goto done;
    }
    //  The database cannot differ (apply refused that): the address, TLS
    //  and the other http keys restart the server (TLS: a renewed
    //  certificate file is read again); a users file is re-read in place.
    bool tls = config->http[0] && config->http_tls_cert[0];
    if (strcmp(config->http, self->config->http) != 0 || tls ||
        strcmp(config->http_tls_cert, self->config->http_tls_cert) != 0 ||
        strcmp(config->http_tls_key, self->config->http_tls_key) != 0 ||
        strcmp(config->http_users, self->config->http_users) != 0 ||
        config->http_metrics_auth != self->config->http_metrics_auth ||
        strcmp(config->metrics_detail, self->config->metrics_detail) != 0)
        s_http_restart(self, config);
    else if (self->http && config->http_users[0] &&
             zb_http_users_reload(self->http, config->http_users, err, sizeof(err)) != 0)
        zb_log_error("reload: monitor/http-users: %s; the previous users stay", err);
    *self->config = *config;
    zb_log_info("reloaded %s", self->args.file);
    rc = 0;
done:
    free(config);
    return rc;
}
