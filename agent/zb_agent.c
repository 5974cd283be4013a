/*  zb_agent: the agent daemon. See zb_agent.h. */
#include "zb_agent.h"
#include "zb_agent_internal.h"
#include "zb_discover.h"
#include "zb_endpoints.h"
#include "zb_listener.h"
#include "zb_log.h"
#include "zb_loop.h"
#include "zb_plan.h"
#include "zb_probe.h"
#include "zb_push.h"
#include "zb_time.h"
#include "zb_tls.h"
#include "zb_journal.h"
#include "zb_replay.h"
#include "zb_alive.h"
#include "zb_resolver.h"
#include "zb_watch.h"

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
static void s_stamp(zb_agent_t *self, zb_msg_t *msg)
{
    snprintf(msg->host, sizeof(msg->host), "%s", self->config->name);
    memcpy(msg->instance, self->instance, sizeof(msg->instance));
    msg->seq = ++self->seq;
    msg->time_ms = zb_time_wall_ms();
}

static void s_publish(zb_agent_t *self, zb_msg_t *msg)
{
    s_stamp(self, msg);
    if (zb_msg_send(msg, self->pub) == -1)
        self->dropped++;
    //  Transitions also go to the journal, and from there to every monitor
    //  until it acknowledges them (PUB/SUB alone loses what a monitor misses).
    if (msg->type == ZB_MSG_EVENT)
        zb_alive_changed(self->alive);
    if (msg->type == ZB_MSG_EVENT && self->journal) {
        zb_journal_append(self->journal, msg);
        if (self->replay)
            zb_replay_kick(self->replay);
    }
}

//  The beat reads every status where it lives (zb_msg_send_beat), instead
//  of copying them all into a message first.
static const zb_service_status_t *s_beat_service(void *arg, size_t index)
{
    zb_agent_t *self = arg;
    if (index >= self->service_count)
        return zb_discover_status(self->discover, index - self->service_count);
    return zb_agent_service_status(&self->services[index]);
}

//  Thin or full (protocol v2, agent/full-every): full when the table
//  changed since the last full beat, or after full-every - 1 thin ones, so
//  that a monitor which missed a change, or has just started, has the
//  table within full-every beats. With full-every = 1 every beat is full
//  and carries no digest: the v1 wire, byte for byte.
static void s_beat_shape(zb_agent_t *self, zb_msg_t *beat, size_t count)
{
    int64_t every = self->config->full_every;
    beat->thin = false;
    beat->has_digest = every > 1;
    if (!beat->has_digest)
        return;
    uint64_t digest = ZB_MSG_DIGEST_INIT;
    for (size_t i = 0; i < count; i++)
        digest = zb_msg_digest_add(digest, s_beat_service(self, i));
    beat->digest = digest;
    beat->thin = self->thin_run >= 0 && digest == self->full_digest && self->thin_run < every - 1;
    if (beat->thin)
        self->thin_run++;
    else {
        self->full_digest = digest;
        self->thin_run = 0;
    }
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
    if (self->journal)
        zb_journal_sync(self->journal);
    zb_tls_trim(); // after a burst of handshakes, their holes in the heap
    zb_msg_t *beat = self->beat;
    beat->interval_ms = self->config->beat_ms;
    beat->dropped = self->dropped;
    s_stamp(self, beat);
    size_t count = self->service_count + (self->discover ? zb_discover_count(self->discover) : 0);
    s_beat_shape(self, beat, count);
    if (zb_msg_send_beat(beat, count, s_beat_service, self, self->pub) == -1) {
        self->dropped++;
        //  A full beat the socket refused reached nobody: the next is full too.
        if (!beat->thin)
            self->thin_run = -1;
    }
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
    zb_log_state(self->config->name, status->name, zb_state_name(from),
                 zb_state_name(status->state), status->reason, status->error);
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

//  Publishes that a service is no longer watched.
void zb_agent_publish_removed(zb_agent_t *self, const zb_service_status_t *status)
{
    zb_msg_t *event = self->event;
    snprintf(event->service, sizeof(event->service), "%s", status->name);
    event->from = status->state;
    event->to = ZB_STATE_REMOVED;
    event->at_ms = zb_time_wall_ms();
    snprintf(event->reason, sizeof(event->reason), "removed");
    event->error[0] = '\0';
    zb_log_state(self->config->name, status->name, zb_state_name(status->state),
                 zb_state_name(ZB_STATE_REMOVED), "removed", NULL);
    s_publish(self, event);
}

//  zb_discover's callbacks: services from Docker labels.

static void s_on_discovered_change(void *arg, const zb_service_status_t *status, zb_state_t from)
{
    s_publish_change(arg, status, from);
}

static void s_on_discovered_removed(void *arg, const zb_service_status_t *status)
{
    zb_agent_publish_removed(arg, status);
}

static bool s_on_discovered_taken(void *arg, const char *name)
{
    zb_agent_t *self = arg;
    for (size_t i = 0; i < self->service_count; i++)
        if (strcmp(zb_agent_service_status(&self->services[i])->name, name) == 0)
            return true;
    return false;
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
size_t zb_agent_listener_max_conns(const zb_agent_config_t *config, size_t probe_count)
{
    size_t want = ZB_LISTENER_MAX_CONNS;
    if (want < 2 * config->push_count)
        want = 2 * config->push_count;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == -1 || limit.rlim_cur == RLIM_INFINITY)
        return want;
    size_t reserved = probe_count + ZB_AGENT_FD_RESERVE;
    size_t budget = limit.rlim_cur > reserved ? (size_t)limit.rlim_cur - reserved : 0;
    if (budget < want) {
        zb_log_warning("push listener: the open file limit %lu leaves room for %zu connections",
                       (unsigned long)limit.rlim_cur, budget);
        want = budget;
    }
    return want;
}

//  Binds the listener for config (which declares push or ttl services).
zb_listener_t *zb_agent_listener_new(zb_agent_t *self, const zb_agent_config_t *config,
                                     size_t probe_count, char *err, size_t errsize)
{
    zb_listener_callbacks_t callbacks = {s_on_hello, s_on_ping, s_on_checkin, s_on_bye,
                                         s_on_closed};
    zb_listener_t *listener =
        zb_listener_new(self->loop, config->listen, &callbacks, self, err, errsize);
    if (listener)
        zb_listener_set_max_conns(listener, zb_agent_listener_max_conns(config, probe_count));
    return listener;
}

//  The listener's name -> zb_push_t index over services.
zhashx_t *zb_agent_pushes_new(const zb_agent_service_t *services, size_t count)
{
    zhashx_t *pushes = zhashx_new();
    if (!pushes)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (services[i].push &&
            zhashx_insert(pushes, zb_push_config(services[i].push)->name, services[i].push) == -1) {
            zhashx_destroy(&pushes);
            return NULL;
        }
    return pushes;
}

//  Services

const zb_service_status_t *zb_agent_service_status(const zb_agent_service_t *service)
{
    return service->probe ? zb_probe_status(service->probe) : zb_push_status(service->push);
}

int zb_agent_service_make(zb_agent_t *self, const zb_service_config_t *config,
                          zb_agent_service_t *service)
{
    if (config->probed)
        service->probe =
            zb_probe_new(self->loop, self->resolver, &config->probe, s_on_probe_change, self);
    else
        service->push = zb_push_new(self->loop, &config->push, s_on_push_change, self);
    return service->probe || service->push ? 0 : -1;
}

void zb_agent_service_destroy(zb_agent_service_t *service)
{
    zb_probe_destroy(&service->probe);
    zb_push_destroy(&service->push);
}

//  The first checks of new probes are spread, 2 ms apart, over at most
//  ZB_AGENT_SPREAD_MS (or the probe's interval if shorter).
void zb_agent_service_start(const zb_agent_service_t *service, size_t index, size_t count)
{
    if (service->push) {
        zb_push_start(service->push);
        return;
    }
    const zb_probe_config_t *probe = zb_probe_config(service->probe);
    int64_t spread = (int64_t)count * 2;
    if (spread > ZB_AGENT_SPREAD_MS)
        spread = ZB_AGENT_SPREAD_MS;
    if (spread > probe->interval_ms)
        spread = probe->interval_ms;
    zb_probe_start(service->probe, count ? (int64_t)index * spread / (int64_t)count : 0);
    zb_log_debug("%s: probing %s every %" PRId64 "ms%s", probe->name, probe->target,
                 probe->interval_ms, probe->send_len ? "" : " (connection only)");
}

//  Signals

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
    zb_agent_reload(arg);
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
    //  Before connecting: keys, like heartbeats, apply to new connections,
    //  and the watch must see the first connection's events.
    zb_curve_apply(&self->config->curve, self->pub);
    zb_watch_heartbeats(self->pub, self->config->beat_ms);
    self->watch = zb_watch_new(self->loop, self->pub);
    if (!self->watch)
        return -1;
    return zb_endpoints_connect(self->pub, self->config->monitor, NULL);
}

static char *s_strdup_or_null(const char *text, bool *failed)
{
    if (!text)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        *failed = true;
    return copy;
}

zb_agent_t *zb_agent_new(zb_agent_config_t **config_p, const char *path,
                         const zb_agent_overrides_t *overrides)
{
    assert(config_p && *config_p && path);
    zb_agent_t *self = calloc(1, sizeof(*self));
    if (!self) {
        zb_agent_config_destroy(config_p);
        return NULL;
    }
    self->config = *config_p;
    *config_p = NULL;
    const zb_agent_config_t *config = self->config;
    //  First: zb_agent_destroy cancels it on every failure path.
    zb_timer_init(&self->beat_timer, s_on_beat, self);
    s_make_instance(self->instance);
    self->thin_run = -1; // the first beat is full
    bool failed = false;
    self->path = s_strdup_or_null(path, &failed);
    if (overrides) {
        self->overrides.name = s_strdup_or_null(overrides->name, &failed);
        self->overrides.name_source = s_strdup_or_null(overrides->name_source, &failed);
        self->overrides.monitor = s_strdup_or_null(overrides->monitor, &failed);
        self->overrides.monitor_source = s_strdup_or_null(overrides->monitor_source, &failed);
    }
    self->loop = zb_loop_new();
    self->beat = zb_msg_new(ZB_MSG_BEAT);
    self->event = zb_msg_new(ZB_MSG_EVENT);
    self->services =
        config->service_count ? calloc(config->service_count, sizeof(*self->services)) : NULL;
    if (failed || !self->loop || !self->beat || !self->event ||
        (config->service_count && !self->services)) {
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
    char why[256];
    self->resolver = zb_resolver_new(self->loop, why, sizeof(why));
    if (!self->resolver) {
        zb_log_error("resolver: %s", why);
        goto failed;
    }
    if (s_make_pub(self) == -1)
        goto failed;
    if (config->journal || config->replay) {
        char err[512];
        self->journal = zb_journal_new(config->journal, 0, err, sizeof(err));
        if (!self->journal) {
            zb_log_error("journal: %s", err);
            goto failed;
        }
    }
    if (config->replay) {
        self->replay = zb_replay_new(self->loop, self->journal, config->replay, config->beat_ms,
                                     &config->curve, config->name, self->instance);
        if (!self->replay)
            goto failed;
    }
    if (config->udp) {
        self->alive = zb_alive_new(self->loop, self->resolver, config->udp, config->udp_beat_ms,
                                   &config->curve, config->name, self->instance);
        if (!self->alive)
            goto failed;
    }
    for (size_t i = 0; i < config->service_count; i++) {
        if (zb_agent_service_make(self, &config->services[i], &self->services[i]) == -1) {
            zb_log_error("out of memory");
            goto failed;
        }
        self->service_count++;
        if (config->services[i].probed)
            self->probe_count++;
    }
    self->pushes = zb_agent_pushes_new(self->services, self->service_count);
    if (!self->pushes) {
        zb_log_error("out of memory");
        goto failed;
    }
    //  No push or ttl services: nothing would be accepted, keep the port free.
    if (config->push_count > 0) {
        char err[512];
        self->listener = zb_agent_listener_new(self, config, self->probe_count, err, sizeof(err));
        if (!self->listener) {
            zb_log_error("push listener: %s", err);
            goto failed;
        }
    }
    if (config->discover_docker) {
        char err[512];
        zb_discover_callbacks_t callbacks = {s_on_discovered_change, s_on_discovered_removed,
                                             s_on_discovered_taken};
        self->discover = zb_discover_new(
            self->loop, self->resolver, config->docker, config->discover_filter,
            ZB_AGENT_MAX_SERVICES - config->service_count, &callbacks, self, err, sizeof(err));
        if (!self->discover) {
            zb_log_error("discover = docker: %s", err);
            goto failed;
        }
    }
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
    zb_discover_destroy(&self->discover); // its thread first, then its probes
    zhashx_destroy(&self->pushes);
    for (size_t i = 0; i < self->service_count; i++)
        zb_agent_service_destroy(&self->services[i]);
    free(self->services);
    zb_alive_destroy(&self->alive);       // cancels its lookups
    zb_resolver_destroy(&self->resolver); // after the probes, which cancel their lookups
    if (self->loop)
        zb_loop_timer_cancel(self->loop, &self->beat_timer);
    zb_watch_destroy(&self->watch); // before the socket it watches
    zb_replay_destroy(&self->replay);
    zb_journal_destroy(&self->journal);
    zsock_destroy(&self->pub);
    zb_msg_destroy(&self->beat);
    zb_msg_destroy(&self->event);
    zb_loop_destroy(&self->loop);
    zb_agent_config_destroy(&self->config);
    free(self->path);
    free((char *)self->overrides.name);
    free((char *)self->overrides.name_source);
    free((char *)self->overrides.monitor);
    free((char *)self->overrides.monitor_source);
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
    if (config->curve.on)
        zb_log_info(
            "CURVE on: key %.12s... (host %s), monitor key %.12s...", config->curve.public_key,
            config->curve.host[0] ? config->curve.host : "not named", config->curve.server_key);
    else
        zb_log_info("CURVE off: messages go in plaintext (agent/cert, docs/security.md)");
    if (self->listener)
        zb_log_info("push listener on %s (port %d): %zu push and ttl services", config->listen,
                    zb_listener_port(self->listener), config->push_count);
    if (self->discover)
        zb_log_info("discovering services from Docker labels at %s%s%s", config->docker,
                    config->discover_filter ? ", filter " : "",
                    config->discover_filter ? config->discover_filter : "");
    size_t probe_index = 0;
    for (size_t i = 0; i < self->service_count; i++)
        zb_agent_service_start(&self->services[i], self->services[i].probe ? probe_index++ : 0,
                               self->probe_count);
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
