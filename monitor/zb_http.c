/*  zb_http: the monitor's HTTP server. See zb_http.h.

    This file serves: addresses, TLS, who may ask (zb_http_users), and the
    routing of a request to its file: zb_http_api.c (JSON), zb_http_metrics.c
    (/healthz, /metrics), zb_http_page.c (the status page); zb_http_answer.c
    builds the answers.
*/
#include "zb_http_internal.h"
#include "zb_address.h"
#include "zb_log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define S_PEM_MAX (1024 * 1024) // a certificate chain or key file, at most

//  --------------------------------------------------------------------------
//  Addresses

int zb_http_address_check(const char *address, char *err, size_t errsize)
{
    assert(address && err);
    struct sockaddr_storage addr;
    socklen_t len;
    return zb_address_parse(address, &addr, &len, err, errsize);
}

//  --------------------------------------------------------------------------
//  Who asks

//  A users set shared by the requests that check against it: a reload swaps
//  in a new one, and the last request done with the old one frees it.
typedef struct {
    zb_http_users_t *users;
    int refs; // under the server's lock
} s_users_ref_t;

static s_users_ref_t *s_users_take(zb_http_t *self)
{
    pthread_mutex_lock(&self->lock);
    s_users_ref_t *ref = self->users_ref;
    if (ref)
        ref->refs++;
    pthread_mutex_unlock(&self->lock);
    return ref;
}

static void s_users_drop(zb_http_t *self, s_users_ref_t *ref)
{
    if (!ref)
        return;
    pthread_mutex_lock(&self->lock);
    bool last = --ref->refs == 0;
    pthread_mutex_unlock(&self->lock);
    if (last) {
        zb_http_users_destroy(&ref->users);
        free(ref);
    }
}

//  Whether the request may go on: 0 when it may, else the status to
//  answer (401: who are you; 403: not allowed to). With no users file,
//  everyone may read (the docs say: loopback only).
static unsigned int s_refusal(zb_http_t *self, struct MHD_Connection *conn, const char *url,
                              bool changes)
{
    if (strcmp(url, "/healthz") == 0 || (strcmp(url, "/metrics") == 0 && !self->metrics_auth))
        return 0;
    s_users_ref_t *ref = s_users_take(self);
    if (!ref)
        return 0;
    zb_http_role_t role = ZB_HTTP_ROLE_NONE;
#if MHD_VERSION >= 0x00097701
    //  Newer libmicrohttpd: the old call is deprecated (-Werror).
    struct MHD_BasicAuthInfo *auth = MHD_basic_auth_get_username_password3(conn);
    if (auth && auth->password && strlen(auth->username) == auth->username_len &&
        strlen(auth->password) == auth->password_len)
        role = zb_http_users_check(ref->users, auth->username, auth->password);
    if (auth && auth->password)
        explicit_bzero(auth->password, auth->password_len);
    if (auth)
        MHD_free(auth);
#else
    char *password = NULL;
    char *name = MHD_basic_auth_get_username_password(conn, &password);
    if (name && password)
        role = zb_http_users_check(ref->users, name, password);
    if (password) {
        //  Not left in freed memory.
        explicit_bzero(password, strlen(password));
        MHD_free(password);
    }
    if (name)
        MHD_free(name);
#endif
    s_users_drop(self, ref);
    if (role == ZB_HTTP_ROLE_NONE)
        return MHD_HTTP_UNAUTHORIZED;
    if (changes && role != ZB_HTTP_ROLE_ADMIN)
        return MHD_HTTP_FORBIDDEN;
    return 0;
}

int zb_http_users_reload(zb_http_t *self, const char *path, char *err, size_t errsize)
{
    assert(self && path && err);
    s_users_ref_t *ref = calloc(1, sizeof(*ref));
    if (!ref) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    ref->users = zb_http_users_load(path, err, errsize);
    if (!ref->users) {
        free(ref);
        return -1;
    }
    ref->refs = 1; // the server's own
    pthread_mutex_lock(&self->lock);
    s_users_ref_t *old = self->users_ref;
    self->users_ref = ref;
    pthread_mutex_unlock(&self->lock);
    s_users_drop(self, old);
    return 0;
}

//  --------------------------------------------------------------------------
//  The server

//  A request that changes state, its body being read (at most
//  ZB_HTTP_BODY_MAX bytes: more is refused once the body is in).
typedef struct {
    size_t len;
    bool too_big;
    char data[ZB_HTTP_BODY_MAX];
} s_upload_t;

static int s_answered; // the state of a request already answered (no body kept)

//  Whether a state-changing request may go on: a users file with an admin
//  in it (without one the port is read-only, as before), and a JSON body
//  type, which a browser cannot send to another site without asking it
//  first (CORS preflight, never granted here): a page elsewhere cannot
//  make an admin's browser silence alerts (CSRF). 0, or the status.
static unsigned int s_change_refusal(zb_http_t *self, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&self->lock);
    bool users = self->users_ref != NULL;
    pthread_mutex_unlock(&self->lock);
    if (!users)
        return MHD_HTTP_FORBIDDEN;
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!type || strncasecmp(type, ZB_HTTP_TYPE_JSON, strlen(ZB_HTTP_TYPE_JSON)) != 0 ||
        (type[strlen(ZB_HTTP_TYPE_JSON)] != '\0' && type[strlen(ZB_HTTP_TYPE_JSON)] != ';'))
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    return 0;
}

//  Answers that may be megabytes (a gigabyte for /metrics of 100,000 hosts)
//  are built a few at a time, so that many greedy clients cannot make the
//  monitor's memory balloon: one more is 503 at once.
static enum MHD_Result s_limited(zb_http_req_t *req, atomic_int *building, int max,
                                 enum MHD_Result (*answer)(zb_http_req_t *req))
{
    enum MHD_Result rc;
    if (atomic_fetch_add(building, 1) >= max)
        rc = zb_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "busy: %d large answers in progress, try again", max);
    else
        rc = answer(req);
    atomic_fetch_sub(building, 1);
    return rc;
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size, void **state)
{
    (void)version;
    zb_http_req_t req = {.self = cls, .conn = conn};
    if (*state == &s_answered) {
        //  A GET with a body, or a refused one: the body is read and ignored.
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*state) {
        s_upload_t *upload = *state;
        if (*upload_data_size) {
            size_t take = *upload_data_size;
            if (upload->len + take > sizeof(upload->data))
                upload->too_big = true;
            else
                memcpy(upload->data + upload->len, upload_data, take);
            if (!upload->too_big)
                upload->len += take;
            *upload_data_size = 0;
            return MHD_YES;
        }
        //  The whole body is in (s_on_completed frees it).
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, zb_http_on_arg, &req);
        if (upload->too_big)
            return zb_http_error(&req, MHD_HTTP_CONTENT_TOO_LARGE, "a body of at most %d bytes",
                                 ZB_HTTP_BODY_MAX);
        return zb_http_admin(&req, method, url, upload->data, upload->len);
    }
    *state = &s_answered;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    zb_http_guard_headers(req.self->guard, info ? info->socket_context : NULL);
    zb_log_debug("http: %s %s", method, url);
    bool reads =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    //  Who asks comes first: a stranger learns nothing, not even which
    //  routes exist. Anything but GET and HEAD would change state: admin.
    unsigned int refused = s_refusal(req.self, conn, url, !reads);
    if (refused == MHD_HTTP_UNAUTHORIZED)
        return zb_http_error(&req, refused, "who are you? (HTTP Basic credentials)");
    if (refused)
        return zb_http_error(&req, refused, "the admin role is needed for this");
    if (!reads) {
        //  Only the admin routes change anything; without a users file the
        //  port stays read-only, as it was.
        bool changes = (strcmp(method, MHD_HTTP_METHOD_POST) == 0 ||
                        strcmp(method, MHD_HTTP_METHOD_DELETE) == 0) &&
                       zb_http_admin_route(url);
        refused = changes ? s_change_refusal(req.self, conn) : MHD_HTTP_METHOD_NOT_ALLOWED;
        if (refused == MHD_HTTP_FORBIDDEN)
            return zb_http_error(&req, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "read only: changes need a users file with an admin "
                                 "(docs/http.md)");
        if (refused == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE)
            return zb_http_error(&req, refused, "changes want Content-Type: " ZB_HTTP_TYPE_JSON);
        if (refused)
            return zb_http_error(&req, refused,
                                 "read only: GET and HEAD (POST and DELETE on silences and "
                                 "forgetting hosts, for admins: docs/http.md)");
        s_upload_t *upload = calloc(1, sizeof(*upload));
        if (!upload)
            return zb_http_error(&req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        *state = upload; // the body comes in the next calls
        return MHD_YES;
    }
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, zb_http_on_arg, &req);
    if (req.too_many)
        return zb_http_error(&req, MHD_HTTP_BAD_REQUEST, "more than %d parameters",
                             ZB_HTTP_ARGS_MAX);
    if (strcmp(url, "/healthz") == 0)
        return zb_http_healthz(&req);
    //  Every host and service, unless filtered: a gigabyte at 100,000 hosts.
    if (strcmp(url, "/metrics") == 0)
        return s_limited(&req, &req.self->fleet, ZB_HTTP_FLEET_MAX, zb_http_metrics);
    if (strcmp(url, "/api/v1/status") == 0)
        return s_limited(&req, &req.self->fleet, ZB_HTTP_FLEET_MAX, zb_http_api_status);
    if (strcmp(url, "/api/v1/summary") == 0)
        return zb_http_api_summary(&req);
    if (strcmp(url, "/api/v1/monitor") == 0)
        return zb_http_api_monitor(&req);
    if (strcmp(url, "/api/v1/latency") == 0)
        return zb_http_api_latency(&req);
    if (strcmp(url, "/api/v1/hosts") == 0)
        return zb_http_api_hosts(&req);
    if (strcmp(url, "/api/v1/silences") == 0)
        return zb_http_api_silences(&req);
    bool outages = strcmp(url, "/api/v1/outages") == 0;
    bool alerts = strcmp(url, "/api/v1/alerts") == 0;
    if (outages || alerts || strcmp(url, "/api/v1/report") == 0)
        return s_limited(&req, &req.self->heavy, ZB_HTTP_HEAVY_MAX,
                         outages  ? zb_http_api_outages
                         : alerts ? zb_http_api_alerts
                                  : zb_http_api_report);
    const zb_http_asset_t *asset = zb_http_page_find(url);
    if (asset)
        return zb_http_page_asset(&req, asset);
    return zb_http_error(&req, MHD_HTTP_NOT_FOUND, "no such page");
}

//  Reads a whole PEM file into memory (libmicrohttpd wants the text).
static char *s_pem_read(const char *path, const char *what, char *err, size_t errsize)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        snprintf(err, errsize, "http: %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *text = malloc(S_PEM_MAX + 1);
    size_t len = text ? fread(text, 1, S_PEM_MAX + 1, file) : 0;
    fclose(file);
    if (text && len > 0 && len <= S_PEM_MAX) {
        text[len] = '\0';
        if (strstr(text, "-----BEGIN "))
            return text;
    }
    snprintf(err, errsize, "http: %s %s: %s", what, path,
             text ? "not a PEM file (-----BEGIN ...)" : "out of memory");
    free(text);
    return NULL;
}

//  The guard follows every connection from accept to close (libmicrohttpd
//  calls CLOSED before it closes the socket).
static void s_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    zb_http_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? zb_http_guard_open(self->guard, info->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        zb_http_guard_close(self->guard, *socket_context);
        *socket_context = NULL;
    }
}

//  A request is over (answered, or its connection failed): the next one's
//  headers are awaited.
static void s_on_completed(void *cls, struct MHD_Connection *conn, void **state,
                           enum MHD_RequestTerminationCode code)
{
    (void)code;
    if (*state && *state != &s_answered)
        free(*state); // a body read for a change
    *state = NULL;
    zb_http_t *self = cls;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    zb_http_guard_done(self->guard, info ? info->socket_context : NULL);
}

static void s_on_log(void *cls, const char *format, va_list args)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), format, args);
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    //  Debug only: MHD speaks of every client that goes away early, and a
    //  client must not be able to fill the monitor's log.
    zb_log_debug("http: %s", text);
}

zb_http_t *zb_http_new(const char *address, const char *db, zb_monitor_t *monitor,
                       const zb_http_options_t *options, char *err, size_t errsize)
{
    assert(address && db && err);
    static const zb_http_options_t none = {0};
    if (!options)
        options = &none;
    struct sockaddr_storage addr;
    socklen_t len;
    if (zb_address_parse(address, &addr, &len, err, errsize) != 0)
        return NULL;
    zb_http_t *self = calloc(1, sizeof(*self));
    if (self)
        pthread_mutex_init(&self->lock, NULL);
    if (!self || !(self->db = strdup(db))) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    self->monitor = monitor;
    atomic_init(&self->heavy, 0);
    atomic_init(&self->fleet, 0);
    self->metrics_auth = options->metrics_auth;
    self->metrics_detail = options->metrics_detail;
    if (options->users && *options->users &&
        zb_http_users_reload(self, options->users, err, errsize) != 0)
        goto failed;
    bool tls = options->tls_cert && *options->tls_cert;
    if (tls && !MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(err, errsize, "http: this libmicrohttpd was built without TLS");
        goto failed;
    }
    if (tls && (!(self->tls_cert = s_pem_read(options->tls_cert, "http-tls-cert", err, errsize)) ||
                !(self->tls_key = s_pem_read(options->tls_key ? options->tls_key : "",
                                             "http-tls-key", err, errsize))))
        goto failed;
    self->guard = zb_http_guard_new(ZB_HTTP_CONNECTIONS_MAX, ZB_HTTP_CONNECTIONS_FREE,
                                    ZB_HTTP_HEADERS_S * 1000LL, ZB_HTTP_ANSWER_S * 1000LL);
    if (!self->guard) {
        snprintf(err, errsize, "http: cannot start its watchdog thread");
        goto failed;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    //  The certificate and key, or nothing (an empty array item ends the list).
    struct MHD_OptionItem tls_options[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, self->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, self->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    //  The server's threads inherit this mask: signals meant for the
    //  monitor (SIGINT, SIGTERM stop its loop) go to its own thread.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    //  The logger first, so that MHD's own complaints about the options
    //  come through it as well. The guard keeps ZB_HTTP_CONNECTIONS_MAX
    //  connections at most (but answers being sent); MHD counts a cut one
    //  until its accepting thread reaps it, after its next accept, so its
    //  own limit leaves room for those.
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_on_request, self, MHD_OPTION_EXTERNAL_LOGGER, s_on_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)(ZB_HTTP_CONNECTIONS_MAX + ZB_HTTP_CONNECTIONS_CLOSING),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)ZB_HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ZB_HTTP_REQUEST_BYTES,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self, MHD_OPTION_NOTIFY_COMPLETED,
        s_on_completed, self, MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
    int error = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!self->daemon) {
        snprintf(err, errsize, "http: cannot serve on %s: %s", address,
                 error ? strerror(error) : "libmicrohttpd refused to start");
        goto failed;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    zb_log_info("http on %s (port %d, %s, %s)", address, self->port, tls ? "TLS" : "plain HTTP",
                self->users_ref ? "users file" : "no users file: anyone who can connect may read");
    return self;

failed:
    zb_http_destroy(&self);
    return NULL;
}

void zb_http_destroy(zb_http_t **self_p)
{
    assert(self_p);
    zb_http_t *self = *self_p;
    if (!self)
        return;
    //  The server first: closing its connections forgets them in the guard.
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    zb_http_guard_destroy(&self->guard);
    s_users_ref_t *ref = self->users_ref;
    if (ref) {
        zb_http_users_destroy(&ref->users);
        free(ref);
    }
    pthread_mutex_destroy(&self->lock);
    if (self->tls_key)
        explicit_bzero(self->tls_key, strlen(self->tls_key));
    free(self->tls_key);
    free(self->tls_cert);
    free(self->db);
    free(self);
    *self_p = NULL;
}

int zb_http_port(zb_http_t *self)
{
    assert(self);
    return self->port;
}
