/*  zb_agent: the agent daemon. See zb_agent.h. */
#include "zb_agent.h"
#include "zb_listener.h"
#include "zb_log.h"
#include "zb_loop.h"
#include "zb_probe.h"
#include "zb_push.h"
#include "zb_time.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

//  First checks are spread, 2 ms apart, over at most this long (or the
//  probe's interval if shorter), so many probes never hit one target in the
//  same instant, and stay spread afterwards.
#define ZB_AGENT_SPREAD_MS 1000
//  File descriptors kept out of the push listener's reach: ZeroMQ's
//  sockets and pipes, the loop's epoll and signalfd, a log file, ...
#define ZB_AGENT_FD_RESERVE 64

//  One configured service: exactly one of the two is set.
typedef struct {
    zb_probe_t *probe; // the agent probes it
    zb_push_t *push;   // it heartbeats the agent (push, ttl)
} s_service_t;

struct _zb_agent_t {
    const zb_agent_config_t *config;    // not owned
    zb_loop_t *loop;                    // everything runs here
    zsock_t *pub;                       // connected to every monitor
    s_service_t *services;              // config order
    size_t service_count;               // services made
    size_t probe_count;                 // of which probed
    zhashx_t *pushes;                   // name -> zb_push_t, for the listener
    zb_listener_t *listener;            // when there are push or ttl services
    zb_timer_t beat_timer;              // next beat
    int64_t next_beat;                  // monotonic ms
    char instance[ZB_INSTANCE_LEN + 1]; // random per start
    uint64_t seq;                       // last sequence number used
    uint64_t dropped;                   // messages refused at the HWM
    uint64_t dropped_logged;            // dropped when last logged
    zb_msg_t *beat;                     // reused for every beat
    zb_msg_t *event;                    // reused for every event
};

static void s_make_instance(char *buf)
{
    uint8_t bytes[ZB_INSTANCE_LEN / 2];
    if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != (ssize_t)sizeof(bytes)) {
        //  Early boot without entropy: uniqueness is all we need.
        uint64_t mix = (uint64_t)zb_time_wall_ms() * 1000003u ^ (uint64_t)zb_time_mono_us() ^
                       ((uint64_t)getpid() << 32);
        memcpy(bytes, &mix, sizeof(bytes));
    }
    for (size_t i = 0; i < sizeof(bytes); i++)
        snprintf(buf + 2 * i, 3, "%02x", bytes[i]);
}

//  Stamps and sends a message. Every message takes a sequence number, sent
//  or not, so a monitor sees the gap where one was dropped.
static void s_publish(zb_agent_t *self, zb_msg_t *msg)
{
    snprintf(msg->host, sizeof(msg->host), "%s", self->config->name);
    memcpy(msg->instance, self->instance, sizeof(msg->instance));
    msg->seq = ++self->seq;
    msg->time_ms = zb_time_wall_ms();
    if (zb_msg_send(msg, self->pub) == -1)
        self->dropped++;
}

static const zb_service_status_t *s_service_status(s_service_t *service)
{
    return service->probe ? zb_probe_status(service->probe) : zb_push_status(service->push);
}

static void s_on_beat(zb_loop_t *loop, zb_timer_t *timer, void *arg)
{
    zb_agent_t *self = arg;
    if (self->dropped > self->dropped_logged) {
        zb_log_warning("%" PRIu64 " messages dropped (%" PRIu64 " in all): monitor slow or "
                       "unreachable",
                       self->dropped - self->dropped_logged, self->dropped);
        self->dropped_logged = self->dropped;
    }
    zb_msg_t *beat = self->beat;
    beat->interval_ms = self->config->beat_ms;
    beat->dropped = self->dropped;
    beat->service_count = 0;
    for (size_t i = 0; i < self->service_count; i++)
        if (zb_msg_add_service(beat, s_service_status(&self->services[i])) == -1) {
            zb_log_error("beat: cannot add service %zu (out of memory)", i);
            break;
        }
    s_publish(self, beat);
    //  Beats keep their cadence; after a stall the next is one beat away,
    //  not a burst of catch-up beats.
    int64_t now = zb_loop_now(loop);
    self->next_beat += self->config->beat_ms;
    if (self->next_beat <= now)
        self->next_beat = now + self->config->beat_ms;
    zb_loop_timer_set(loop, timer, self->next_beat);
}

static void s_publish_change(zb_agent_t *self, const zb_service_status_t *status, zb_state_t from)
{
    zb_msg_t *event = self->event;
    snprintf(event->service, sizeof(event->service), "%s", status->name);
    event->from = from;
    event->to = status->state;
    event->at_ms = status->since_ms;
    snprintf(event->reason, sizeof(event->reason), "%s", status->reason);
    snprintf(event->error, sizeof(event->error), "%s", status->error);
    s_publish(self, event);
}

static void s_on_probe_change(zb_probe_t *probe, zb_state_t from, void *arg)
{
    s_publish_change(arg, zb_probe_status(probe), from);
}

static void s_on_push_change(zb_push_t *push, zb_state_t from, void *arg)
{
    zb_agent_t *self = arg;
    const zb_service_status_t *status = zb_push_status(push);
    s_publish_change(self, status, from);
    //  A push deadline leaves the connection open (a silent client, a
    //  half-open socket): close it, so that the service comes back only
    //  through a fresh HELLO. A ttl job's connection is left alone: one in
    //  the middle of a late check-in must be able to finish it (and a
    //  newer HELLO replaces a stale one anyway).
    if (status->state == ZB_STATE_DOWN && strcmp(status->reason, "timeout") == 0 && self->listener)
        zb_listener_drop(self->listener, status->name, "timeout");
}

//  The push listener's callbacks: lines from push and ttl services.

static int s_on_hello(void *arg, const char *service, int64_t interval_ms)
{
    zb_agent_t *self = arg;
    zb_push_t *push = zhashx_lookup(self->pushes, service);
    if (!push) {
        zb_log_debug("push listener: HELLO for %s, which is no push or ttl service", service);
        return -1;
    }
    const zb_push_config_t *config = zb_push_config(push);
    if (config->kind == ZB_PUSH_PUSH && interval_ms > config->deadline_ms) {
        char announced[32], deadline[32];
        zb_time_format_duration(interval_ms, announced, sizeof(announced));
        zb_time_format_duration(config->deadline_ms, deadline, sizeof(deadline));
        zb_log_warning("%s: the client announces a PING every %s, but the deadline is %s: it "
                       "will time out",
                       service, announced, deadline);
    }
    zb_push_hello(push);
    return 0;
}

static void s_on_ping(void *arg, const char *service)
{
    zb_agent_t *self = arg;
    zb_push_t *push = zhashx_lookup(self->pushes, service);
    if (push)
        zb_push_ping(push);
}

static void s_on_checkin(void *arg, const char *service)
{
    zb_agent_t *self = arg;
    zb_push_t *push = zhashx_lookup(self->pushes, service);
    if (push)
        zb_push_checkin(push);
}

static void s_on_bye(void *arg, const char *service)
{
    zb_agent_t *self = arg;
    zb_push_t *push = zhashx_lookup(self->pushes, service);
    if (push)
        zb_push_bye(push);
}

static void s_on_closed(void *arg, const char *service, const char *error)
{
    zb_agent_t *self = arg;
    zb_push_t *push = zhashx_lookup(self->pushes, service);
    if (push)
        zb_push_closed(push, error);
}

//  The listener may hold only the descriptors that probes and ZeroMQ leave
//  over: a flood of connections must never make a probe's connect fail
//  with EMFILE. Real push services always fit, idle strangers may not.
static size_t s_listener_max_conns(const zb_agent_t *self)
{
    size_t want = ZB_LISTENER_MAX_CONNS;
    if (want < 2 * self->config->push_count)
        want = 2 * self->config->push_count;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == -1 || limit.rlim_cur == RLIM_INFINITY)
        return want;
    size_t reserved = self->probe_count + ZB_AGENT_FD_RESERVE;
    size_t budget = limit.rlim_cur > reserved ? (size_t)limit.rlim_cur - reserved : 0;
    if (budget < want) {
        zb_log_warning("push listener: the open file limit %lu leaves room for %zu connections",
                       (unsigned long)limit.rlim_cur, budget);
        want = budget;
    }
    return want;
}

static int s_make_listener(zb_agent_t *self)
{
    const zb_agent_config_t *config = self->config;
    self->pushes = zhashx_new();
    if (!self->pushes) {
        zb_log_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < self->service_count; i++)
        if (self->services[i].push)
            zhashx_insert(self->pushes, zb_push_config(self->services[i].push)->name,
                          self->services[i].push);
    if (config->push_count == 0)
        return 0; // nothing would be accepted: keep the port free
    zb_listener_callbacks_t callbacks = {s_on_hello, s_on_ping, s_on_checkin, s_on_bye,
                                         s_on_closed};
    char err[512];
    self->listener =
        zb_listener_new(self->loop, config->listen, &callbacks, self, err, sizeof(err));
    if (!self->listener) {
        zb_log_error("push listener: %s", err);
        return -1;
    }
    zb_listener_set_max_conns(self->listener, s_listener_max_conns(self));
    return 0;
}

static void s_on_stop(zb_loop_t *loop, int signum, void *arg)
{
    zb_agent_t *self = arg;
    zb_log_info("stopping on %s", strsignal(signum));
    zb_msg_t *event = self->event;
    event->service[0] = '\0'; // a host event
    event->from = ZB_STATE_UP;
    event->to = ZB_STATE_STOPPED;
    event->at_ms = zb_time_wall_ms();
    snprintf(event->reason, sizeof(event->reason), "planned-stop");
    event->error[0] = '\0';
    s_publish(self, event);
    zb_loop_stop(loop);
}

static void s_on_hup(zb_loop_t *loop, int signum, void *arg)
{
    (void)loop;
    (void)signum;
    (void)arg;
    zb_log_info("SIGHUP ignored: configuration reload is not supported yet");
}

static int s_connect_monitors(zb_agent_t *self)
{
    int rc = -1;
    char *list = strdup(self->config->monitor);
    if (!list)
        return -1;
    char *save = NULL;
    for (char *item = strtok_r(list, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save))
        if (zsock_connect(self->pub, "%s", item) == -1) {
            zb_log_error("cannot connect to monitor %s: %s", item, zmq_strerror(zmq_errno()));
            goto done;
        }
    rc = 0;
done:
    free(list);
    return rc;
}

static int s_make_pub(zb_agent_t *self)
{
    //  Signals reach us through the loop's signalfd; czmq must not install
    //  handlers of its own.
    zsys_handler_set(NULL);
    self->pub = zsock_new(ZMQ_PUB);
    if (!self->pub) {
        zb_log_error("cannot create the PUB socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    zsock_set_sndhwm(self->pub, ZB_AGENT_SNDHWM);
    zsock_set_linger(self->pub, ZB_AGENT_LINGER_MS);
    //  At the HWM a PUB drops silently; with NODROP it says EAGAIN instead,
    //  which lets us count drops and report them in beats.
    int one = 1;
    if (zmq_setsockopt(zsock_resolve(self->pub), ZMQ_XPUB_NODROP, &one, sizeof(one)) == -1)
        zb_log_warning("ZMQ_XPUB_NODROP not supported: drops cannot be counted");
    return s_connect_monitors(self);
}

zb_agent_t *zb_agent_new(const zb_agent_config_t *config)
{
    assert(config);
    zb_agent_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->config = config;
    //  First: zb_agent_destroy cancels it on every failure path.
    zb_timer_init(&self->beat_timer, s_on_beat, self);
    s_make_instance(self->instance);
    self->loop = zb_loop_new();
    self->beat = zb_msg_new(ZB_MSG_BEAT);
    self->event = zb_msg_new(ZB_MSG_EVENT);
    self->services =
        config->service_count ? calloc(config->service_count, sizeof(*self->services)) : NULL;
    if (!self->loop || !self->beat || !self->event || (config->service_count && !self->services)) {
        zb_log_error("out of memory");
        goto failed;
    }
    //  Before the ZeroMQ context exists: its threads inherit the blocked
    //  signal mask, so the signals can only arrive through the loop.
    if (zb_loop_add_signal(self->loop, SIGINT, s_on_stop, self) == -1 ||
        zb_loop_add_signal(self->loop, SIGTERM, s_on_stop, self) == -1 ||
        zb_loop_add_signal(self->loop, SIGHUP, s_on_hup, self) == -1) {
        zb_log_error("cannot set up signals: %s", strerror(errno));
        goto failed;
    }
    if (s_make_pub(self) == -1)
        goto failed;
    for (size_t i = 0; i < config->service_count; i++) {
        const zb_service_config_t *service = &config->services[i];
        if (service->probed)
            self->services[i].probe =
                zb_probe_new(self->loop, &service->probe, s_on_probe_change, self);
        else
            self->services[i].push =
                zb_push_new(self->loop, &service->push, s_on_push_change, self);
        if (!self->services[i].probe && !self->services[i].push) {
            zb_log_error("out of memory");
            goto failed;
        }
        self->service_count++;
        if (service->probed)
            self->probe_count++;
    }
    if (s_make_listener(self) == -1)
        goto failed;
    return self;
failed:
    zb_agent_destroy(&self);
    return NULL;
}

void zb_agent_destroy(zb_agent_t **self_p)
{
    assert(self_p);
    zb_agent_t *self = *self_p;
    if (!self)
        return;
    //  The listener first: it makes no callbacks once destroyed.
    zb_listener_destroy(&self->listener);
    zhashx_destroy(&self->pushes);
    for (size_t i = 0; i < self->service_count; i++) {
        zb_probe_destroy(&self->services[i].probe);
        zb_push_destroy(&self->services[i].push);
    }
    free(self->services);
    if (self->loop)
        zb_loop_timer_cancel(self->loop, &self->beat_timer);
    zsock_destroy(&self->pub);
    zb_msg_destroy(&self->beat);
    zb_msg_destroy(&self->event);
    zb_loop_destroy(&self->loop);
    free(self);
    *self_p = NULL;
}

int zb_agent_run(zb_agent_t *self)
{
    assert(self);
    const zb_agent_config_t *config = self->config;
    char beat[32];
    zb_time_format_duration(config->beat_ms, beat, sizeof(beat));
    zb_log_info("zbeat-agent %s: host %s, instance %s, %zu services, beat %s, monitor %s",
                ZB_VERSION, config->name, self->instance, config->service_count, beat,
                config->monitor);
    if (self->listener)
        zb_log_info("push listener on %s (port %d): %zu push and ttl services", config->listen,
                    zb_listener_port(self->listener), config->push_count);
    size_t probe_index = 0;
    for (size_t i = 0; i < self->service_count; i++) {
        if (self->services[i].push) {
            zb_push_start(self->services[i].push);
            continue;
        }
        const zb_probe_config_t *probe = &config->services[i].probe;
        int64_t spread = (int64_t)self->probe_count * 2;
        if (spread > ZB_AGENT_SPREAD_MS)
            spread = ZB_AGENT_SPREAD_MS;
        if (spread > probe->interval_ms)
            spread = probe->interval_ms;
        zb_probe_start(self->services[i].probe,
                       (int64_t)probe_index++ * spread / (int64_t)self->probe_count);
        zb_log_debug("%s: probing %s every %" PRId64 "ms%s", probe->name, probe->target,
                     probe->interval_ms, probe->send_len ? "" : " (connection only)");
    }
    //  The first beat goes out at once; it is usually lost while the
    //  monitor's subscription is on its way, and the next one repairs that.
    self->next_beat = zb_time_mono_ms();
    zb_loop_timer_set(self->loop, &self->beat_timer, self->next_beat);
    if (zb_loop_run(self->loop) == -1) {
        zb_log_error("event loop failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}
