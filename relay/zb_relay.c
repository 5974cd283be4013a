/*  zb_relay: the relay's sockets and its two loops. See zb_relay.h. */
#include "zb_relay.h"
#include "zb_auth.h"
#include "zb_log.h"
#include "zb_pace.h"
#include "zb_proto.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define S_KEEPALIVE_IDLE_S 30 // TCP keepalive, as the monitor's: half-open peers go
#define S_KEEPALIVE_INTVL_S 5
#define S_KEEPALIVE_CNT 3

struct _zb_relay_t {
    zb_relay_config_t config; // a copy
    zsock_t *xsub;            // agents connect here
    zsock_t *xpub;            // connects to the monitors
    zb_auth_t *auth;          // with CURVE: admits agents, checks every message
    int sigfd;                // SIGINT, SIGTERM
    zb_relay_stats_t stats;
    int64_t malformed_log_mono; // when a malformed message was last logged
    zb_pace_t pace;             // agents' input in rounds while it comes fast
};

void zb_relay_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void s_keepalive(zsock_t *sock)
{
    zsock_set_tcp_keepalive(sock, 1);
    zsock_set_tcp_keepalive_idle(sock, S_KEEPALIVE_IDLE_S);
    zsock_set_tcp_keepalive_intvl(sock, S_KEEPALIVE_INTVL_S);
    zsock_set_tcp_keepalive_cnt(sock, S_KEEPALIVE_CNT);
}

//  Binds (bind true) or connects sock to every endpoint of list.
static int s_attach(zsock_t *sock, const char *list, bool bind, char *err, size_t errsize)
{
    char *endpoints = strdup(list);
    int rc = endpoints ? 0 : -1;
    char *save = NULL;
    for (char *ep = endpoints ? strtok_r(endpoints, ",", &save) : NULL; ep && rc == 0;
         ep = strtok_r(NULL, ",", &save)) {
        while (*ep == ' ')
            ep++;
        rc = bind ? zsock_bind(sock, "%s", ep) : zsock_connect(sock, "%s", ep);
        if (rc == -1)
            snprintf(err, errsize, "cannot %s %s: %s", bind ? "bind" : "connect to", ep,
                     zmq_strerror(zmq_errno()));
        else {
            rc = 0;
            zb_log_info("%s %s", bind ? "agents connect on" : "relaying to",
                        bind ? zsock_endpoint(sock) : ep);
        }
    }
    if (!endpoints)
        snprintf(err, errsize, "out of memory");
    free(endpoints);
    return rc;
}

//  CURVE towards the monitors: the relay is their client, with its own key
//  (relay/cert) and their public key (relay/monitor-cert).
static int s_curve_client(zb_relay_t *self, char *err, size_t errsize)
{
    zcert_t *mine = zcert_load(self->config.cert);
    zcert_t *monitor = zcert_load(self->config.monitor_cert);
    int rc = -1;
    if (!mine || !monitor)
        snprintf(err, errsize, "relay/%s: cannot be read as a certificate",
                 mine ? "monitor-cert" : "cert");
    else {
        zcert_apply(mine, self->xpub);
        zsock_set_curve_serverkey(self->xpub, zcert_public_txt(monitor));
        rc = 0;
    }
    zcert_destroy(&mine);
    zcert_destroy(&monitor);
    return rc;
}

zb_relay_t *zb_relay_new(const zb_relay_config_t *config, char *err, size_t errsize)
{
    assert(config && err);
    zb_relay_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->sigfd = -1;
    //  Signals come through the signalfd: czmq's handler would swallow them.
    zsys_handler_set(NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    self->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    self->xsub = zsock_new(ZMQ_XSUB);
    self->xpub = zsock_new(ZMQ_XPUB);
    if (self->sigfd < 0 || !self->xsub || !self->xpub) {
        snprintf(err, errsize, "cannot create the sockets: %s", strerror(errno));
        goto failed;
    }
    //  A beat fleet is many small messages: deep queues each way, so a
    //  burst (every agent's beat at once) is not dropped at the default 1000.
    zsock_set_rcvhwm(self->xsub, ZB_RELAY_HWM);
    zsock_set_sndhwm(self->xsub, ZB_RELAY_HWM);
    zsock_set_rcvhwm(self->xpub, ZB_RELAY_HWM);
    zsock_set_sndhwm(self->xpub, ZB_RELAY_HWM);
    //  Frames larger than any monitor accepts: a peer sending them is not an agent.
    zsock_set_maxmsgsize(self->xsub, ZB_PROTO_MAX_BYTES + ZB_PROTO_MAX_TOPIC);
    s_keepalive(self->xsub);
    s_keepalive(self->xpub);
    if (config->cert[0]) {
        //  Before binding: bound without it, the relay would admit anyone.
        self->auth =
            zb_auth_new(self->xsub, config->cert, config->agents, config->bind, err, errsize);
        if (!self->auth || s_curve_client(self, err, errsize) != 0)
            goto failed;
    } else {
        char *list = strdup(config->bind), *save = NULL;
        for (char *ep = list ? strtok_r(list, ",", &save) : NULL; ep;
             ep = strtok_r(NULL, ",", &save))
            if (!zb_auth_endpoint_local(ep))
                zb_log_warning("NO AUTHENTICATION: listening on %s in plaintext: anyone who "
                               "can reach it can report any host up or down. Set relay/cert, "
                               "relay/agents and relay/monitor-cert (docs/security.md)",
                               ep);
        free(list);
    }
    if (s_attach(self->xsub, config->bind, true, err, errsize) != 0 ||
        s_attach(self->xpub, config->monitor, false, err, errsize) != 0)
        goto failed;
    return self;
failed:
    zb_relay_destroy(&self);
    return NULL;
}

void zb_relay_destroy(zb_relay_t **self_p)
{
    assert(self_p);
    zb_relay_t *self = *self_p;
    if (!self)
        return;
    zb_auth_destroy(&self->auth); // stops watching the socket: before it goes
    zsock_destroy(&self->xsub);
    zsock_destroy(&self->xpub);
    if (self->sigfd >= 0)
        close(self->sigfd);
    free(self);
    *self_p = NULL;
}

void zb_relay_stats(zb_relay_t *self, zb_relay_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
}

//  --------------------------------------------------------------------------
//  The loop: messages down, subscriptions up, each message's host checked
//  against the sender's key under CURVE.

//  The host of a topic "<kind>.<host>", into host; false when there is none.
static bool s_topic_host(zmq_msg_t *topic, char *host)
{
    const char *data = zmq_msg_data(topic);
    size_t size = zmq_msg_size(topic);
    const char *dot = size <= ZB_PROTO_MAX_TOPIC ? memchr(data, '.', size) : NULL;
    size_t len = dot ? size - (size_t)(dot + 1 - data) : 0;
    if (!dot || len == 0 || len > ZB_NAME_MAX)
        return false;
    memcpy(host, dot + 1, len);
    host[len] = '\0';
    return zb_name_valid(host);
}

static void s_malformed(zb_relay_t *self, int count)
{
    self->stats.malformed++;
    int64_t now = zclock_mono();
    if (self->malformed_log_mono && now - self->malformed_log_mono < ZB_RELAY_LOG_MS)
        return;
    self->malformed_log_mono = now;
    zb_log_warning("dropped a malformed message (%d frames, or no valid host in its topic): "
                   "%" PRIu64 " in all",
                   count, self->stats.malformed);
}

//  Under CURVE: whether the topic's host is the one the sender's key is
//  bound to (zb_auth counts and logs a refusal).
static bool s_sender_owns(zb_relay_t *self, zmq_msg_t *frames)
{
    char host[ZB_NAME_MAX + 1];
    if (!s_topic_host(&frames[0], host)) {
        s_malformed(self, 2);
        return false;
    }
    const char *user_id = zmq_msg_gets(&frames[0], "User-Id");
    if (zb_auth_check(self->auth, user_id ? user_id : "", host) != 0) {
        self->stats.refused++;
        return false;
    }
    return true;
}

//  One message from an agent: passed on when it has the two frames of one,
//  and under CURVE when its topic's host is its key's.
static void s_agent_message(zb_relay_t *self, zmq_msg_t *frames, int count)
{
    if (count != 2) {
        s_malformed(self, count);
        return;
    }
    if (self->auth && !s_sender_owns(self, frames))
        return;
    void *xpub = zsock_resolve(self->xpub);
    //  XPUB never blocks: a monitor whose queue is full loses the message,
    //  as it would behind zmq_proxy.
    if (zmq_msg_send(&frames[0], xpub, ZMQ_SNDMORE) >= 0 && zmq_msg_send(&frames[1], xpub, 0) >= 0)
        self->stats.forwarded++;
}

//  Agents' messages, in rounds while they come fast (zb_pace): the
//  monitors' connections then carry a round's messages in one write each,
//  and their readers wake once a round, not once a message.
static int s_on_agents(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zb_relay_t *self = arg;
    void *sock = zsock_resolve(reader);
    int64_t round_start = zb_time_mono_us();
    int taken = 0;
    for (; taken < ZB_RELAY_BATCH; taken++) {
        zmq_msg_t frames[2];
        int count = zb_msg_recv_frames(sock, ZMQ_DONTWAIT, frames);
        if (count == 0)
            break;
        s_agent_message(self, frames, count);
        for (int f = 0; f < count && f < 2; f++)
            zmq_msg_close(&frames[f]);
    }
    zb_pace_round(&self->pace, taken, round_start);
    return 0;
}

//  Subscriptions from the monitors, up to the agents.
static int s_on_monitors(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zb_relay_t *self = arg;
    void *sock = zsock_resolve(reader);
    void *xsub = zsock_resolve(self->xsub);
    for (int i = 0; i < ZB_RELAY_BATCH; i++) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            break;
        }
        int more = zmq_msg_more(&frame);
        if (zmq_msg_send(&frame, xsub, more ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&frame);
        else if (!more)
            self->stats.subscriptions++;
    }
    return 0;
}

static int s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)arg;
    struct signalfd_siginfo info;
    if (read(item->fd, &info, sizeof(info)) == sizeof(info))
        zb_log_info("relay stopping (signal %u)", info.ssi_signo);
    return -1; // ends the loop
}

int zb_relay_run(zb_relay_t *self)
{
    assert(self);
    zloop_t *loop = zloop_new();
    zmq_pollitem_t signals = {NULL, self->sigfd, ZMQ_POLLIN, 0};
    int rc = -1;
    if (!loop || zloop_reader(loop, self->xsub, s_on_agents, self) != 0 ||
        zloop_reader(loop, self->xpub, s_on_monitors, self) != 0 ||
        zloop_poller(loop, &signals, s_on_signal, self) != 0 ||
        (self->auth && zb_auth_attach(self->auth, loop) != 0))
        zb_log_error("cannot start the relay's loop");
    else {
        zb_log_info("relay started (%s)",
                    self->auth ? "CURVE: every message's host checked against its key"
                               : "plaintext");
        zb_pace_init(&self->pace);
        zloop_start(loop);
        rc = 0;
    }
    zloop_destroy(&loop);
    zb_auth_stats_t auth = {0};
    if (self->auth)
        zb_auth_stats(self->auth, &auth);
    zb_log_info("relay stopped: forwarded=%" PRIu64 " refused=%" PRIu64 " malformed=%" PRIu64
                " subscriptions=%" PRIu64 " handshakes_refused=%" PRIu64,
                self->stats.forwarded, self->stats.refused, self->stats.malformed,
                self->stats.subscriptions, auth.refused);
    return rc;
}
