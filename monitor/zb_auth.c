/*  zb_auth: who may report to this monitor. See zb_auth.h.

    Why not czmq's zauth for ZAP: its certificate store (czmq 4.2.1)
    asserts when two files in the directory hold the same key, so a
    `cp web-1.cert web-1.cert.bak` would abort the monitor at the next
    handshake; it detects changes by whole seconds, file count and total
    size (a same-size rewrite within a second goes unseen); and it logs
    through zsys, every request or none. The ZAP handler here is the same
    RFC 27 exchange, answered from one allow-list (read by zb_allowlist)
    that the message check shares, so the two can never disagree: a key
    admitted at a handshake is known to the check at once, and a file
    removed is gone for both.

    Threads: the ZAP handler runs in its own actor, so a handshake never
    waits for the monitor's loop (a slow commit); the allow-list is shared
    under a mutex. Everything else runs in the monitor's loop.
*/
#include "zb_auth.h"
#include "zb_allowlist.h"
#include "zb_hostset.h"
#include "zb_log.h"
#include "zb_proto.h"
#include "zb_text.h"
#include "zb_time.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_NO_SECRET "0000000000000000000000000000000000000000" // Z85 of 32 zero bytes
//  A handshake re-reads the directory (when it changed) at most this often:
//  a flood of handshakes must not turn into a flood of directory scans.
#define S_ZAP_RESCAN_MIN_MS 100

//  Warnings that hostile peers could repeat at will: the first at once, then
//  at most one per ZB_AUTH_LOG_MS with the count of those held back.
typedef struct {
    int64_t logged_mono; // 0 before the first
    uint64_t held;       // refusals since the last line
} s_limit_t;

//  The allow-list, shared by the ZAP actor and the loop.
typedef struct {
    pthread_mutex_t lock;
    char *dir;              // monitor/agents
    zhashx_t *keys;         // Z85 key -> zb_allowlist_key_t
    uint64_t signature;     // of the directory as last read
    bool read;              // read at least once
    int64_t scanned_mono;   // last look at the directory
    zb_auth_stats_t stats;  // both threads count here (not handshake_errors)
    s_limit_t refused_log;  // ZAP refusals (ZAP thread)
    s_limit_t admitted_log; // ZAP admissions (ZAP thread)
} s_list_t;

//  A socket whose failed handshakes are counted: a socket monitor's PAIR.
typedef struct {
    zsock_t *sock;   // watched, not owned; NULL when the slot is free
    zsock_t *events; // PAIR: its failed handshakes
} s_watch_t;

struct _zb_auth_t {
    bool curve;                             // monitor/cert given
    zcert_t *server;                        // the monitor's key pair, when curve
    s_list_t *list;                         // when curve
    zactor_t *zap;                          // the ZAP handler, when curve
    s_watch_t watches[ZB_AUTH_SOCKETS_MAX]; // the agents' socket first
    zloop_t *loop;                          // once attached
    s_limit_t forged_log;                   // loop thread from here on
    s_limit_t revoked_log;
    s_limit_t handshake_log;
    uint64_t handshake_errors; // counted here, in the loop
};

//  --------------------------------------------------------------------------
//  Helpers

//  True when the line may go out now, with a note of how many were held
//  back in note ("" or "; 12 more not logged"); otherwise it is counted.
static bool s_limit_pass(s_limit_t *limit, char *note, size_t size)
{
    int64_t now = zb_time_mono_ms();
    if (limit->logged_mono && now - limit->logged_mono < ZB_AUTH_LOG_MS) {
        limit->held++;
        return false;
    }
    if (limit->held)
        snprintf(note, size, "; %" PRIu64 " more not logged", limit->held);
    else
        note[0] = '\0';
    limit->held = 0;
    limit->logged_mono = now;
    return true;
}

//  --------------------------------------------------------------------------
//  The allow-list, shared

//  Re-reads the directory if anything in it changed. Lock held.
static void s_list_rescan(s_list_t *list)
{
    list->scanned_mono = zb_time_mono_ms();
    uint64_t signature = zb_allowlist_signature(list->dir);
    if (list->read && signature == list->signature)
        return;
    zhashx_t *keys = zb_allowlist_read(list->dir);
    if (!keys) {
        zb_log_error("allow-list: out of memory, keeping the previous one");
        return;
    }
    zb_allowlist_diff(list->dir, list->read ? list->keys : NULL, keys);
    zhashx_destroy(&list->keys);
    list->keys = keys;
    list->signature = signature;
    list->read = true;
    list->stats.keys = zhashx_size(keys);
}

static s_list_t *s_list_new(const char *dir)
{
    s_list_t *list = calloc(1, sizeof(*list));
    if (!list)
        return NULL;
    pthread_mutex_init(&list->lock, NULL);
    list->dir = strdup(dir);
    if (list->dir)
        s_list_rescan(list);
    if (!list->keys) {
        pthread_mutex_destroy(&list->lock);
        free(list->dir);
        free(list);
        return NULL;
    }
    return list;
}

static void s_list_destroy(s_list_t **list_p)
{
    s_list_t *list = *list_p;
    if (!list)
        return;
    zhashx_destroy(&list->keys);
    pthread_mutex_destroy(&list->lock);
    free(list->dir);
    free(list);
    *list_p = NULL;
}

//  --------------------------------------------------------------------------
//  The ZAP handler (RFC 27), in its own thread

//  ZAP metadata: the ZMTP property format, one "host" property.
static zframe_t *s_metadata(const char *host)
{
    size_t len = strlen(host);
    unsigned char buf[1 + 4 + 4 + ZB_NAME_MAX];
    buf[0] = 4;
    memcpy(buf + 1, "host", 4);
    buf[5] = 0;
    buf[6] = 0;
    buf[7] = 0;
    buf[8] = (unsigned char)len;
    memcpy(buf + 9, host, len);
    return zframe_new(buf, 9 + len);
}

//  Answers one request. Only CURVE from a listed key bound to a host is
//  admitted; NULL (sockets of this process without security) passes, as
//  with zauth, since a NULL handshake cannot reach a CURVE server socket.
static void s_zap_answer(zsock_t *handler, s_list_t *list)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request);
    char *sequence = zmsg_popstr(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *credential = zmsg_pop(request);
    const char *status = "400", *text = "No access";
    char key[ZB_AUTH_KEY_LEN + 1] = "";
    char host[ZB_NAME_MAX + 1] = "";
    if (!version || strcmp(version, "1.0") != 0 || !sequence || !mechanism || !address) {
        status = "500";
        text = "Bad request";
    } else if (strcmp(mechanism, "NULL") == 0) {
        status = "200";
        text = "OK";
    } else if (strcmp(mechanism, "CURVE") == 0 && credential && zframe_size(credential) == 32 &&
               zmq_z85_encode(key, zframe_data(credential), 32)) {
        pthread_mutex_lock(&list->lock);
        if (zb_time_mono_ms() - list->scanned_mono >= S_ZAP_RESCAN_MIN_MS)
            s_list_rescan(list);
        zb_allowlist_key_t *entry = zhashx_lookup(list->keys, key);
        if (entry) {
            status = "200";
            text = "OK";
            snprintf(host, sizeof(host), "%s", entry->host);
        } else
            list->stats.refused++;
        char from[256];
        zb_text_printable(address, strlen(address), from, sizeof(from), 0);
        char note[64];
        if (!entry && s_limit_pass(&list->refused_log, note, sizeof(note)))
            zb_log_warning("refused a connection from %s: key %s is not in the allow-list %s "
                           "(%" PRIu64 " refused in all%s)",
                           from, key, list->dir, list->stats.refused, note);
        else if (entry && s_limit_pass(&list->admitted_log, note, sizeof(note)))
            zb_log_info("admitted %s (key %.*s...) from %s%s", zb_allowlist_label(entry),
                        ZB_ALLOWLIST_LOG_KEY, key, from, note);
        else if (entry)
            zb_log_debug("admitted %s (key %.*s...) from %s", entry->host, ZB_ALLOWLIST_LOG_KEY,
                         key, from);
        pthread_mutex_unlock(&list->lock);
    }
    zmsg_t *reply = zmsg_new();
    if (reply) {
        zmsg_addstr(reply, "1.0");
        zmsg_addstr(reply, sequence ? sequence : "");
        zmsg_addstr(reply, status);
        zmsg_addstr(reply, text);
        //  User-Id: the key, which every message of the connection carries.
        zmsg_addstr(reply, *status == '2' ? key : "");
        zframe_t *metadata = host[0] ? s_metadata(host) : zframe_new_empty();
        if (metadata)
            zmsg_append(reply, &metadata);
        zmsg_send(&reply, handler);
    }
    zmsg_destroy(&reply);
    zframe_destroy(&credential);
    free(version);
    free(sequence);
    free(domain);
    free(address);
    free(identity);
    free(mechanism);
    zmsg_destroy(&request);
}

//  The actor: binds the ZAP endpoint, tells zb_auth_new "" or why not,
//  answers until $TERM.
static void s_zap_actor(zsock_t *pipe, void *arg)
{
    s_list_t *list = arg;
    zsock_t *handler = zsock_new(ZMQ_REP);
    zpoller_t *poller = NULL;
    zsock_signal(pipe, 0);
    if (!handler || zsock_bind(handler, S_ZAP_ENDPOINT) != 0) {
        zstr_sendf(pipe, "cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    poller = zpoller_new(pipe, handler, NULL);
    if (!poller) {
        zstr_send(pipe, "out of memory");
        goto done;
    }
    zstr_send(pipe, "");
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which == handler)
            s_zap_answer(handler, list);
        else if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool stop = !command || strcmp(command, "$TERM") == 0;
            free(command);
            if (stop)
                break;
        } else if (zpoller_terminated(poller))
            break;
    }
done:
    zpoller_destroy(&poller);
    if (handler)
        zsock_unbind(handler, S_ZAP_ENDPOINT);
    zsock_destroy(&handler);
}

//  --------------------------------------------------------------------------
//  Configuration

void zb_auth_config_load(zb_config_t *config, zconfig_t *section, char *cert, size_t cert_size,
                         char *agents, size_t agents_size)
{
    assert(config && cert && agents);
    const char *cert_value = zb_config_string(config, section, "cert", NULL);
    const char *agents_value = zb_config_string(config, section, "agents", NULL);
    zconfig_t *cert_node = section ? zconfig_locate(section, "cert") : NULL;
    zconfig_t *agents_node = section ? zconfig_locate(section, "agents") : NULL;
    if (!cert_value && !agents_value)
        return;
    //  The monitor's section, or a relay's (zbeat-relay admits agents alike).
    const char *side = section ? zconfig_name(section) : "monitor";
    if (!cert_value || !*cert_value) {
        zb_config_fail(config, agents_node,
                       "needs %s/cert (the %s's secret certificate): an allow-list "
                       "alone would check nothing",
                       side, side);
        return;
    }
    if (!agents_value || !*agents_value) {
        zb_config_fail(config, cert_node,
                       "needs %s/agents (the directory of admitted agents' certificates): "
                       "without it CURVE would encrypt but admit anyone",
                       side);
        return;
    }
    if (strlen(cert_value) >= cert_size || strlen(agents_value) >= agents_size) {
        zb_config_fail(config, strlen(cert_value) >= cert_size ? cert_node : agents_node,
                       "is too long");
        return;
    }
    zcert_t *server = zcert_load(cert_value);
    if (!server)
        zb_config_fail(config, cert_node, "\"%.200s\" cannot be read as a certificate", cert_value);
    else if (strcmp(zcert_secret_txt(server), S_NO_SECRET) == 0)
        zb_config_fail(config, cert_node,
                       "\"%.200s\" holds no secret key (give the .cert_secret file)", cert_value);
    zcert_destroy(&server);
    struct stat st;
    if (stat(agents_value, &st) != 0)
        zb_config_fail(config, agents_node, "\"%.200s\": %s", agents_value, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        zb_config_fail(config, agents_node, "\"%.200s\" is not a directory", agents_value);
    snprintf(cert, cert_size, "%s", cert_value);
    snprintf(agents, agents_size, "%s", agents_value);
}

bool zb_auth_endpoint_local(const char *endpoint)
{
    assert(endpoint);
    while (*endpoint == ' ')
        endpoint++;
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]:", 6) == 0 ||
           strncmp(host, "localhost:", 10) == 0;
}

//  --------------------------------------------------------------------------
//  The object

static void s_warn_plaintext(const char *bind)
{
    char *list = strdup(bind);
    char *save = NULL;
    for (char *ep = list ? strtok_r(list, ",", &save) : NULL; ep; ep = strtok_r(NULL, ",", &save))
        if (!zb_auth_endpoint_local(ep))
            zb_log_warning("NO AUTHENTICATION: listening on %s in plaintext: anyone who can "
                           "reach it can report any host up or down. Set monitor/cert and "
                           "monitor/agents (docs/security.md)",
                           ep);
    free(list);
}

static int s_on_event(zloop_t *loop, zsock_t *reader, void *arg);

//  Failed handshakes are reported through a socket monitor: a peer that is
//  not ZeroMQ, or an agent with the wrong monitor key. ZAP refusals are
//  counted by the ZAP handler itself.
static int s_watch_add(zb_auth_t *self, zsock_t *sock, char *err, size_t errsize)
{
    s_watch_t *watch = NULL;
    for (size_t i = 0; i < ZB_AUTH_SOCKETS_MAX && !watch; i++)
        if (!self->watches[i].sock)
            watch = &self->watches[i];
    if (!watch) {
        snprintf(err, errsize, "more than %d sockets to secure", ZB_AUTH_SOCKETS_MAX);
        return -1;
    }
    //  Unique per watch: a closed monitor endpoint may linger a while.
    static unsigned s_count = 0;
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "inproc://zb-auth-%u",
             __atomic_fetch_add(&s_count, 1, __ATOMIC_RELAXED));
    if (zmq_socket_monitor(zsock_resolve(sock), endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
        snprintf(err, errsize, "cannot watch handshakes: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    watch->events = zsock_new_pair(endpoint);
    if (!watch->events) {
        snprintf(err, errsize, "cannot watch handshakes: %s", zmq_strerror(zmq_errno()));
        zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
        return -1;
    }
    watch->sock = sock;
    if (self->loop && zloop_reader(self->loop, watch->events, s_on_event, self) != 0) {
        snprintf(err, errsize, "cannot watch handshakes: out of memory");
        zb_auth_forget(self, sock);
        return -1;
    }
    return 0;
}

zb_auth_t *zb_auth_new(zsock_t *sock, const char *cert, const char *agents, const char *bind,
                       char *err, size_t errsize)
{
    assert(sock && cert && agents && bind && err);
    zcert_t *server = NULL;
    zb_auth_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    //  Any peer that stalls its handshake (a port scanner, a half-open
    //  connection) holds a file descriptor only this long.
    zsock_set_handshake_ivl(sock, ZB_AUTH_HANDSHAKE_MS);
    if (s_watch_add(self, sock, err, errsize) != 0)
        goto failed;
    if (!*cert) {
        s_warn_plaintext(bind);
        return self;
    }
    self->curve = true;
    server = zcert_load(cert);
    if (!server || strcmp(zcert_secret_txt(server), S_NO_SECRET) == 0) {
        snprintf(err, errsize, "monitor/cert: \"%.200s\" is not a secret certificate", cert);
        goto failed;
    }
    struct stat st;
    if (stat(cert, &st) == 0 && (st.st_mode & 077))
        zb_log_warning("monitor/cert: %s is readable by other users: chmod 600 it", cert);
    self->list = s_list_new(agents);
    if (!self->list) {
        snprintf(err, errsize, "out of memory");
        goto failed;
    }
    //  The handler must be bound before the socket is: a CURVE server that
    //  finds no ZAP handler admits every client that knows its public key.
    self->zap = zactor_new(s_zap_actor, self->list);
    char *status = self->zap ? zstr_recv(self->zap) : NULL;
    if (!status || *status) {
        snprintf(err, errsize, "%s", status ? status : "cannot start the ZAP handler");
        free(status);
        goto failed;
    }
    free(status);
    self->server = server;
    server = NULL;
    zcert_apply(self->server, sock);
    zsock_set_curve_server(sock, 1);
    zb_log_info("CURVE on: server key %.*s..., agents admitted from %s", ZB_ALLOWLIST_LOG_KEY,
                zcert_public_txt(self->server), agents);
    return self;
failed:
    zcert_destroy(&server);
    zb_auth_destroy(&self);
    return NULL;
}

void zb_auth_destroy(zb_auth_t **self_p)
{
    assert(self_p);
    zb_auth_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->zap); // before the list it reads
    s_list_destroy(&self->list);
    //  The loop it was attached to is gone by now (zb_auth.h).
    self->loop = NULL;
    for (size_t i = 0; i < ZB_AUTH_SOCKETS_MAX; i++)
        if (self->watches[i].sock)
            zb_auth_forget(self, self->watches[i].sock);
    zcert_destroy(&self->server);
    free(self);
    *self_p = NULL;
}

int zb_auth_secure(zb_auth_t *self, zsock_t *sock, const char *bind, char *err, size_t errsize)
{
    assert(self && sock && bind && err);
    zsock_set_handshake_ivl(sock, ZB_AUTH_HANDSHAKE_MS);
    if (s_watch_add(self, sock, err, errsize) != 0)
        return -1;
    if (!self->curve) {
        s_warn_plaintext(bind);
        return 0;
    }
    //  The ZAP handler serves every CURVE server socket of the process, so
    //  this one is admitted from the same allow-list.
    zcert_apply(self->server, sock);
    zsock_set_curve_server(sock, 1);
    return 0;
}

void zb_auth_forget(zb_auth_t *self, zsock_t *sock)
{
    assert(self && sock);
    for (size_t i = 0; i < ZB_AUTH_SOCKETS_MAX; i++) {
        s_watch_t *watch = &self->watches[i];
        if (watch->sock != sock)
            continue;
        if (self->loop)
            zloop_reader_end(self->loop, watch->events);
        zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
        zsock_destroy(&watch->events);
        watch->sock = NULL;
    }
}

bool zb_auth_enabled(zb_auth_t *self)
{
    assert(self);
    return self->curve;
}

bool zb_auth_key_bound(zb_auth_t *self, const uint8_t *key, const char *host)
{
    assert(self && key && host);
    if (!self->curve)
        return false;
    char text[ZB_AUTH_KEY_LEN + 1];
    if (!zmq_z85_encode(text, key, 32))
        return false;
    pthread_mutex_lock(&self->list->lock);
    zb_allowlist_key_t *entry = zhashx_lookup(self->list->keys, text);
    bool ok = entry && entry->host[0] && strcmp(entry->host, host) == 0;
    pthread_mutex_unlock(&self->list->lock);
    return ok;
}

const uint8_t *zb_auth_secret(zb_auth_t *self)
{
    assert(self);
    return self->curve ? zcert_secret_key(self->server) : NULL;
}

static const char *s_handshake_error(int event, uint32_t value)
{
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        return "the peer went away or sent something that is not ZeroMQ";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "cryptographic error: an agent with the wrong monitor-cert?";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "security mismatch: a plaintext agent and a CURVE monitor, or the reverse?";
    return "ZeroMQ protocol error";
}

static int s_on_event(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zb_auth_t *self = arg;
    //  A socket monitor blocks libzmq's I/O thread when its queue is full:
    //  take everything there is.
    for (int i = 0; i < 10000 && (zsock_events(reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(reader);
        zframe_t *head = msg ? zmsg_first(msg) : NULL;
        if (!head || zframe_size(head) != 6) {
            zmsg_destroy(&msg);
            continue;
        }
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(head), 2);
        memcpy(&value, zframe_data(head) + 2, 4);
        zmsg_destroy(&msg);
        const char *why = s_handshake_error(event, value);
        self->handshake_errors++;
        zb_log_debug("failed handshake: %s (event %u, value 0x%x)", why, event, value);
        char note[64];
        if (s_limit_pass(&self->handshake_log, note, sizeof(note)))
            zb_log_warning("dropped a connection that failed the handshake: %s (%" PRIu64
                           " in all%s)",
                           why, self->handshake_errors, note);
    }
    return 0;
}

static int s_on_rescan(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zb_auth_t *self = arg;
    pthread_mutex_lock(&self->list->lock);
    s_list_rescan(self->list);
    pthread_mutex_unlock(&self->list->lock);
    return 0;
}

int zb_auth_attach(zb_auth_t *self, zloop_t *loop)
{
    assert(self && loop && !self->loop);
    self->loop = loop;
    for (size_t i = 0; i < ZB_AUTH_SOCKETS_MAX; i++)
        if (self->watches[i].sock &&
            zloop_reader(loop, self->watches[i].events, s_on_event, self) != 0)
            return -1;
    if (self->curve && zloop_timer(loop, ZB_AUTH_RESCAN_MS, 0, s_on_rescan, self) == -1)
        return -1;
    return 0;
}

int zb_auth_check(zb_auth_t *self, const char *user_id, const char *host)
{
    assert(self && user_id && host);
    if (!self->curve)
        return 0;
    s_list_t *list = self->list;
    pthread_mutex_lock(&list->lock);
    zb_allowlist_key_t *key = *user_id ? zhashx_lookup(list->keys, user_id) : NULL;
    char bound[ZB_NAME_MAX + 1] = "";
    if (key)
        snprintf(bound, sizeof(bound), "%s", key->relay[0] ? "a relay" : key->host);
    //  A relay's key: any host of its patterns (the relay checked the
    //  agent's own key against the host before it passed the message on).
    bool ok = key && (key->relay[0] ? zb_hostset_match(key->relay, host)
                                    : bound[0] && strcmp(bound, host) == 0);
    uint64_t count = 0;
    if (!ok)
        count = key ? ++list->stats.forged : ++list->stats.revoked;
    pthread_mutex_unlock(&list->lock);
    if (ok)
        return 0;
    char id[4 * ZB_AUTH_KEY_LEN + 8];
    zb_text_printable(user_id, strnlen(user_id, ZB_AUTH_KEY_LEN), id, sizeof(id), 0);
    char note[64];
    if (key && s_limit_pass(&self->forged_log, note, sizeof(note)))
        zb_log_warning("refused a message for host %s from the key of %s (%.*s...): an agent "
                       "reports only for the host its certificate names (%" PRIu64
                       " forged in all%s)",
                       host, bound[0] ? bound : "no host", ZB_ALLOWLIST_LOG_KEY, id, count, note);
    else if (!key && s_limit_pass(&self->revoked_log, note, sizeof(note)))
        zb_log_warning("refused a message for host %s: its key %s is not in the allow-list "
                       "(revoked while connected) (%" PRIu64 " in all%s)",
                       host, *id ? id : "(none)", count, note);
    return -1;
}

void zb_auth_stats(zb_auth_t *self, zb_auth_stats_t *stats)
{
    assert(self && stats);
    memset(stats, 0, sizeof(*stats));
    if (self->list) {
        pthread_mutex_lock(&self->list->lock);
        *stats = self->list->stats;
        pthread_mutex_unlock(&self->list->lock);
    }
    stats->handshake_errors = self->handshake_errors;
}

void zb_auth_rescan(zb_auth_t *self)
{
    assert(self);
    pthread_mutex_lock(&self->list->lock);
    s_list_rescan(self->list);
    pthread_mutex_unlock(&self->list->lock);
}
